/**
 * The one authorization path. Every way a value leaves the vault — `secret.get`,
 * `secret.getMany`, the brokering proxy, and whatever comes later (minted tokens, SSH
 * signatures, git credentials) — asks `Authorizer.authorize`, which runs the same steps in
 * the same order:
 *
 *   rate limit → find the secrets → anomaly guard → expiry / pinned version → a grant, or a
 *   human → after a human, the same checks again (lock state, the secrets still there,
 *   expiry, pin, a block made meanwhile) → consume the grants.
 *
 * Every refusal is audited by `refuse`, one way for every path: one deny entry, durable
 * before the error is thrown. The grant a human's decision created reaches the waiting
 * request inside the approval outcome (broker), never through shared state, so two
 * concurrent requests with different answers each get their own.
 *
 * What it does not do: release the value. The caller does that after authorize returns
 * (Host.deliver: lease and audit entry durable first; the proxy: uses it and audits the call).
 */
import { AkcError, isAkcError } from '../../shared/errors.js';
import type { AuditFields } from '../audit/chain.js';
import type { ApprovalBroker } from '../approvals/broker.js';
import type { ApprovalOutcome, ApprovalSubject, PendingApproval } from '../approvals/types.js';
import type { Clock } from '../clock.js';
import type { Refusal } from '../lifecycle/host-lifecycle.js';
import type { Grant, GrantStore, ProxyUse } from '../policy/grants.js';
import type { Requester } from '../policy/requester.js';
import { commandAuditDetail, runUse, type ApprovedCommand, type RunUse } from '../policy/run-command.js';
import type { SecretMeta, SecretStore } from '../vault/secrets.js';
import type { DeliveryWriter } from './delivery-writer.js';

/** Lifecycle checks a request passes (HostLifecycle): guard + liveness, liveness again, rotation. */
export interface RequestScreen {
  screen(requester: Requester, metas: readonly SecretMeta[], version?: number): Refusal | null;
  recheck(metas: readonly SecretMeta[], version?: number): Refusal | null;
  unlessRotated(grant: Grant | null, secretName: string): Grant | null;
}

export interface AuthorizerDeps {
  clock: Clock;
  broker: ApprovalBroker;
  secrets: Pick<SecretStore, 'find'>;
  grants: Pick<GrantStore, 'decide' | 'consume' | 'history' | 'revoke'>;
  screen: RequestScreen;
  /** Durable audit writes (refusals, withdrawals): committed before the request ends. */
  writer: Pick<DeliveryWriter, 'write'>;
  /** Best-effort audit of informational events (approval.request, approval.timeout). */
  record(fields: AuditFields): void;
  unlocked(): boolean;
}

export interface AuthorizeRequest {
  requester: Requester;
  /** The secrets asked for, each once (one for `secret.get` and the proxy). */
  names: readonly string[];
  /** What the agent says it needs them for (*claimed*). */
  purpose: string | null;
  /** A pinned version (single-secret requests only). */
  version?: number | undefined;
  /** The brokering proxy: grants of the proxy channel for this binding and call; the prompt shows the call. */
  proxy?: { use: ProxyUse; http: NonNullable<ApprovalSubject['http']> } | undefined;
  /** `akc run`: the accepted command that will hold the values (grants are bound to it). */
  command?: ApprovedCommand | null | undefined;
  /** How a refusal is audited: `secret.deny` (agent channel) or `proxy.deny`, with this detail. */
  denyEvent: 'secret.deny' | 'proxy.deny';
  detail?: Record<string, unknown> | undefined;
  /** Gets the pending approval at once when the request waits for a human. */
  onPending: (p: PendingApproval) => void;
  /** Aborts when the client goes away: its pending approval is withdrawn. */
  signal?: AbortSignal | undefined;
}

export interface Authorization {
  /** Per name, in the request's order. */
  metas: SecretMeta[];
  /** The grant each value is released under, already consumed (every path ends with one today; null is kept for a path that approves without a grant). */
  grants: (Grant | null)[];
  /** No wait happened: `metas` were read in this same tick, so a reveal may reuse them. */
  fresh: boolean;
}

type Decided = Extract<ApprovalOutcome, { kind: 'decided' }>;

export class Authorizer {
  constructor(private readonly d: AuthorizerDeps) {}

  /** Authorizes the request or throws its (audited) refusal. */
  async authorize(req: AuthorizeRequest): Promise<Authorization> {
    const { requester, names } = req;
    try {
      this.d.broker.checkRateLimit(requester.fingerprint);
    } catch (err) {
      return this.refuse(req, 'rate limited', err as AkcError);
    }
    const metas = this.find(req.names);
    if (typeof metas === 'string') return this.refuse(req, 'not found', notFound(metas), [metas]);
    const refused = this.d.screen.screen(requester, metas, req.version);
    if (refused) return this.refuse(req, refused.reason, refused.error);

    const now = this.d.clock.now();
    const run = req.command ? runUse(req.command) : null;
    const grants: (Grant | null)[] = [];
    let uncovered = 0;
    for (const name of names) {
      const g = this.d.screen.unlessRotated(this.d.grants.decide(requester, name, now, req.proxy?.use, run), name);
      if (g?.effect === 'deny') return this.refuse(req, `blocked by grant ${g.id}`, blocked());
      if (!g) uncovered += 1;
      grants.push(g);
    }
    if (uncovered === 0 && this.d.unlocked()) {
      const used = this.consume(grants);
      if (used) return this.refuse(req, used.reason, used.error);
      return { metas, grants, fresh: true };
    }
    const decided = await this.askHuman(req, grants, uncovered);
    try {
      // The human took time: what was true before may not be now.
      const after = await this.recheck(req, run, grants, decided);
      const used = this.consume(after.grants);
      if (used) return await this.refuse(req, used.reason, used.error);
      return { ...after, fresh: false };
    } catch (err) {
      // "Once" was an answer for this request alone: refused after all, it must not be left
      // for the next request to use without asking (longer scopes stay, as the human chose).
      for (const g of decided.grants) if (g.scope === 'once') this.d.grants.revoke(g.id, this.d.clock.now());
      throw err;
    }
  }

  /**
   * Audits a refusal (durably) and throws `err`. Exposed for the checks a caller makes
   * before authorize (a refused `akc run` command claim), so they are audited the same way.
   */
  async refuse(req: AuthorizeRequest, reason: string, err: AkcError, secrets: readonly string[] = req.names): Promise<never> {
    const r = req.requester;
    await this.d.writer.write([
      {
        agent: r.label,
        pid: r.identity.pid,
        exe: r.identity.exe,
        event: req.denyEvent,
        secret: secrets.join(','),
        decision: 'deny',
        purpose: req.purpose,
        reason,
        ...(req.detail ? { detail: req.detail } : {}),
      },
    ]);
    throw err;
  }

  /** The secrets' metadata, or the first name that does not exist. */
  private find(names: readonly string[]): SecretMeta[] | string {
    const metas: SecretMeta[] = [];
    for (const name of names) {
      const meta = this.d.secrets.find(name);
      if (!meta) return name;
      metas.push(meta);
    }
    return metas;
  }

  /**
   * Waits for a human (or only for the unlock, when grants cover everything): ONE approval
   * for every name no grant covers, or for all of them while the vault is locked. Returns
   * an allowing decision; every other outcome is refused here.
   */
  private async askHuman(req: AuthorizeRequest, grants: readonly (Grant | null)[], uncovered: number): Promise<Decided> {
    const { requester, purpose } = req;
    const asked = uncovered > 0 ? req.names.filter((_, i) => !grants[i]) : req.names.slice();
    const secret = asked.join(',');
    const command = req.command ?? null;
    const who = { agent: requester.label, pid: requester.identity.pid, exe: requester.identity.exe };
    const needsUnlock = !this.d.unlocked();
    let approvalId = '';
    let announced = false;
    let outcome: ApprovalOutcome;
    try {
      outcome = await this.d.broker.request(
        { requester, secrets: asked, purpose, ...(req.proxy ? { http: req.proxy.http } : {}), ...(command ? { command } : {}) },
        {
          badge: this.d.grants.history(requester),
          needsUnlock,
          coveredByGrant: uncovered === 0,
        },
        (p) => {
          approvalId = p.id;
          req.onPending(p);
          if (!announced && p.count === 1) {
            announced = true;
            const detail = command ? { detail: commandAuditDetail(command) } : {};
            this.d.record({ ...who, event: 'approval.request', secret, purpose, reason: p.id, ...detail });
          }
        },
        req.signal,
      );
    } catch (err) {
      // The queue is full or this program used up its share (broker): audited like any refusal.
      if (isAkcError(err)) return this.refuse(req, err.code === 'RATE_LIMITED' ? 'rate limited' : err.message, err);
      throw err;
    }
    switch (outcome.kind) {
      case 'withdrawn':
        // The client went away: nothing is delivered and no lease is made. Audited once, by
        // the caller that withdrew the approval (identical requests may still wait for it).
        if (outcome.last) {
          await this.d.writer.write([
            {
              ...who,
              event: 'approval.withdrawn',
              secret,
              decision: 'deny',
              purpose,
              reason: outcome.reason,
              detail: { approval: approvalId, fingerprint: requester.fingerprint },
            },
          ]);
        }
        throw new AkcError('DENIED', `denied: the request was withdrawn: ${outcome.reason}`);
      case 'timeout':
        this.d.record({ ...who, event: 'approval.timeout', secret, decision: 'deny', purpose });
        if (!this.d.unlocked())
          return this.refuse(req, 'locked', new AkcError('LOCKED', 'the vault is locked and nobody unlocked it in time'));
        return this.refuse(req, 'approval timeout', new AkcError('APPROVAL_TIMEOUT', 'nobody answered the approval request in time'));
      case 'cancelled':
        return this.refuse(req, outcome.reason, new AkcError('DENIED', `denied: ${outcome.reason}`));
      case 'decided': {
        const d = outcome.decision;
        if (!d.allow)
          return this.refuse(req, d.block ? 'denied and blocked' : `denied by ${d.by}`, new AkcError('DENIED', 'denied by the user'));
        return outcome;
      }
    }
  }

  /**
   * After an allowing decision: the vault must still be unlocked, every secret still there
   * (re-read: it may have been removed or replaced), live (not expired, the pinned version
   * not retired) and not blocked for this requester meanwhile. Each name not covered before
   * takes the grant THIS decision created; a name the decision did not cover is refused.
   */
  private async recheck(
    req: AuthorizeRequest,
    run: RunUse | null,
    before: readonly (Grant | null)[],
    decided: Decided,
  ): Promise<{ metas: SecretMeta[]; grants: (Grant | null)[] }> {
    if (!this.d.unlocked()) return this.refuse(req, 'locked', new AkcError('LOCKED', 'the vault is locked'));
    const metas = this.find(req.names);
    if (typeof metas === 'string') return this.refuse(req, 'not found', notFound(metas), [metas]);
    const stale = this.d.screen.recheck(metas, req.version);
    if (stale) return this.refuse(req, stale.reason, stale.error);
    const now = this.d.clock.now();
    const grants: (Grant | null)[] = [];
    for (let i = 0; i < req.names.length; i++) {
      const name = req.names[i]!;
      const current = this.d.grants.decide(req.requester, name, now, req.proxy?.use, run);
      if (current?.effect === 'deny') return this.refuse(req, `blocked by grant ${current.id}`, blocked());
      const g = before[i] ?? decided.grants.find((c) => c.secretPattern === name) ?? null;
      if (!g) return this.refuse(req, 'not approved', new AkcError('DENIED', `denied: the approval did not cover ${name}`));
      grants.push(g);
    }
    return { metas, grants };
  }

  /**
   * Uses up one use of each grant, re-verified (it may have ended, run out or been tampered
   * with since it was read). Returns the refusal, or null.
   */
  private consume(grants: readonly (Grant | null)[]): Refusal | null {
    const now = this.d.clock.now();
    for (const g of grants) {
      if (!g) continue;
      let ok: boolean;
      try {
        ok = this.d.grants.consume(g, now);
      } catch (err) {
        if (isAkcError(err)) return { reason: `grant ${g.id} failed its integrity check`, error: err };
        throw err;
      }
      if (!ok) return { reason: 'grant used up', error: new AkcError('DENIED', 'denied: the grant was used up') };
    }
    return null;
  }
}

function notFound(name: string): AkcError {
  return new AkcError('NOT_FOUND', `no secret named ${name}`);
}

function blocked(): AkcError {
  return new AkcError('DENIED', 'denied: this program is blocked');
}
