/**
 * The host: one vault served to agents. Composes the vault, secrets, policy (agents,
 * grants, leases), the approval broker, the audit log and the socket server. The
 * headless daemon and the Electron main both run this unchanged; they differ only in
 * the Approver they plug in.
 */
import { EventEmitter } from 'node:events';
import { AkcError, isAkcError } from '../../shared/errors.js';
import type { AuditEntry, AuditFields } from '../audit/chain.js';
import { ApprovalBroker } from '../approvals/broker.js';
import type { ApprovalDecision, ApprovalOutcome, ApprovalScope, ApprovalSubject, Approver, PendingApproval } from '../approvals/types.js';
import { silentApprover } from '../approvals/types.js';
import { systemClock, type Clock } from '../clock.js';
import type { PeerIdentity } from '../identity/index.js';
import type { KeychainPort } from '../keychain/port.js';
import { AgentRegistry } from '../policy/agents.js';
import { GrantStore, type Grant, type GrantInput } from '../policy/grants.js';
import { DEFAULT_LEASE_MS, LeaseStore, newLeaseId, type Lease } from '../policy/leases.js';
import { agentFingerprint, akcSubcommand, programFingerprint, programLabel, viaProgram, type Requester } from '../policy/requester.js';
import { acceptCommand, commandAuditDetail, runUse, type ApprovedCommand } from '../policy/run-command.js';
import type { RunCommand } from '../../shared/protocol.js';
import { hashExecutable } from '../identity/exe-hash.js';
import { hashScript, readInjectedCode } from '../identity/code-check.js';
import { readStartTime } from '../identity/process-info.js';
import type { ProcessSummary } from '../identity/index.js';
import { SecretStore, type SecretMeta } from '../vault/secrets.js';
import { Vault, type VaultState } from '../vault/vault.js';
import { DeliveryWriter } from './delivery-writer.js';
import { WalCheckpointer } from './wal-checkpointer.js';
import { durableTransaction } from '../store/database.js';
import { HostLifecycle, type HostLifecycleOptions } from '../lifecycle/host-lifecycle.js';
import type { Alert } from '../lifecycle/alerts.js';

export const HOST_VERSION = '0.1.0';
export const DEFAULT_APPROVAL_TIMEOUT_MS = 60_000;
/** How often the host looks for another process's commit that rolled the audit log back. */
const AUDIT_HEAD_CHECK_MS = 1000;

export interface HostOptions {
  dataDir: string;
  keychain: KeychainPort;
  approver?: Approver;
  clock?: Clock;
  approvalTimeoutMs?: number;
  /** Rotation scheduler and anomaly guard tuning (src/core/lifecycle). */
  lifecycle?: HostLifecycleOptions;
}

/**
 * A decision authorised over the admin channel: the caller (server/admin-handlers.ts)
 * verified the CLI's challenge–response proof; `kek` (the password's KEK, wiped by the
 * caller) unlocks a locked vault.
 */
export interface ProvenAdmin {
  kind: 'admin-proof';
  kek: Buffer | null;
}

/** One agent connection's view: what the kernel said, and the agent hint from `hello`. */
export interface Session {
  identity: PeerIdentity;
  agentHint?: string;
}

export interface DeliveredSecret {
  name: string;
  version: number;
  type: SecretMeta['type'];
  /** Plaintext; the caller zeroes it after sending. */
  value: Buffer;
  lease: { id: string; expiresAt: number };
}

export interface HostEvents {
  state: [VaultState];
  approvals: [PendingApproval[]];
  audit: [AuditEntry[]];
  /** A rotation failed for good, a manual rotation is due, or an anomaly guard rule fired. */
  alert: [Alert];
}

const SCOPE_MS: Partial<Record<ApprovalScope, number>> = { '15m': 15 * 60_000, '1h': 60 * 60_000 };

export class Host extends EventEmitter<HostEvents> {
  readonly vault: Vault;
  readonly secrets: SecretStore;
  readonly agents: AgentRegistry;
  readonly grants: GrantStore;
  readonly leases: LeaseStore;
  readonly broker: ApprovalBroker;
  readonly clock: Clock;
  private readonly writer: DeliveryWriter;
  /** Moves WAL checkpoints (the fsyncs) off the event loop once the host is busy. */
  private readonly checkpointer: WalCheckpointer;
  /** Expiry, pinning, rotation scheduler and anomaly guard (src/core/lifecycle). */
  readonly lifecycle: HostLifecycle;
  /** Mirrors vault.state === 'unlocked' (kept by the state listener): vault.state reads the database. */
  private unlocked: boolean;

  private constructor(vault: Vault, opts: HostOptions) {
    super();
    this.vault = vault;
    this.clock = opts.clock ?? systemClock;
    this.secrets = new SecretStore(vault);
    this.agents = new AgentRegistry(vault.db);
    this.grants = new GrantStore(vault.db);
    this.leases = new LeaseStore(vault.db);
    this.broker = new ApprovalBroker({
      clock: this.clock,
      approver: opts.approver ?? silentApprover,
      timeoutMs: opts.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
    });
    this.checkpointer = new WalCheckpointer(vault.db);
    this.writer = new DeliveryWriter(
      vault.db,
      vault.audit,
      this.leases,
      () => this.clock.now(),
      () => vault.auditKey,
      (entries) => {
        this.checkpointer.committed();
        this.emit('audit', entries);
      },
    );
    this.unlocked = vault.state === 'unlocked';
    vault.onStateChange((state) => (this.unlocked = state === 'unlocked'));
    vault.onStateChange((state) => {
      this.emit('state', state);
      if (state === 'unlocked') this.releaseCoveredRequests();
    });
    this.lifecycle = new HostLifecycle(this, opts.lifecycle);
    // Audit rollback (audit/log.ts): what the log finds is an alert here; and the tail is
    // checked whenever another process committed, not only at this host's next append.
    vault.audit.onAlarm((alert) => this.emit('alert', alert));
    this.auditWatch = setInterval(() => this.checkAuditHead(), AUDIT_HEAD_CHECK_MS);
    this.auditWatch.unref();
  }

  private readonly auditWatch: NodeJS.Timeout;

  private checkAuditHead(): void {
    try {
      const entries = this.vault.audit.checkHead(this.clock.now(), this.vault.auditKey);
      if (entries.length > 0) this.emit('audit', entries);
    } catch {
      // Busy or closing: the next append checks the tail anyway.
    }
  }

  /** Requests that waited only for the unlock (a grant covers them) go ahead once it comes. */
  private releaseCoveredRequests(): void {
    for (const p of this.broker.list()) {
      if (p.coveredByGrant) this.broker.decide(p.id, { allow: true, scope: 'once', block: false, by: 'unlock' });
    }
  }

  /** Opens the vault in `dataDir` (locked). NOT_INITIALIZED when there is none. */
  static open(opts: HostOptions): Host {
    const vault = Vault.open({ dataDir: opts.dataDir, keychain: opts.keychain, ...(opts.clock ? { clock: opts.clock } : {}) });
    if (vault.state === 'uninitialized') {
      vault.close();
      throw new AkcError('NOT_INITIALIZED', `no vault in ${opts.dataDir}`, { hint: 'run `akc init` first' });
    }
    return new Host(vault, opts);
  }

  get state(): VaultState {
    return this.vault.state;
  }

  setApprover(approver: Approver): void {
    const wrapped: Approver = {
      show: (p, q) => {
        approver.show(p, q);
        this.emit('approvals', q.slice());
      },
      ended: (id, o, q) => {
        approver.ended(id, o, q);
        this.emit('approvals', q.slice());
      },
    };
    this.broker.setApprover(wrapped);
  }

  // ---------------------------------------------------------------- lock state

  async unlockWithPassword(password: Buffer, by = 'host'): Promise<void> {
    if (this.vault.state === 'unlocked') return;
    await this.vault.unlockWithPassword(password);
    this.record({ event: 'vault.unlock', decision: 'ok', reason: `password (${by})` });
  }

  async unlockWithKeychain(by = 'host'): Promise<void> {
    if (this.vault.state === 'unlocked') return;
    await this.vault.unlockWithKeychain();
    this.record({ event: 'vault.unlock', decision: 'ok', reason: `keychain (${by})` });
  }

  /** Locks: zeroes keys and ends until-lock grants. */
  lock(by = 'host'): void {
    if (this.vault.state !== 'unlocked') return;
    const ended = this.grants.revokeUntilLock(this.clock.now());
    this.vault.lock(by, ended ? { untilLockGrantsEnded: ended } : null);
  }

  // ---------------------------------------------------------------- agent methods

  /** Per connection: its Requester, valid while the agents table is unchanged (AgentRegistry.generation). */
  private readonly requesters = new WeakMap<Session, { generation: string; hint: string | undefined; requester: Requester }>();

  async requesterFor(session: Session): Promise<Requester> {
    const generation = this.agents.generation();
    const hint = session.agentHint;
    const known = this.requesters.get(session);
    if (known && known.generation === generation && known.hint === hint) return known.requester;
    const identity = await codeIdentity(session.identity);
    const inputs = { hashedFile: false };
    let agent = await this.agents.match(identity, session.agentHint, inputs);
    // `akc get` run by a registered agent counts as that agent (see requester.ts).
    const viaSummary = akcSubcommand(identity) !== null ? viaProgram(identity) : null;
    const via = viaSummary ? await viaIdentity(identity, viaSummary) : null;
    if (!agent && via) agent = await this.agents.match(via, session.agentHint);
    const requester: Requester = {
      identity,
      agent: agent ? { id: agent.id, name: agent.name } : null,
      fingerprint: agent ? agentFingerprint(agent.id) : programFingerprint(identity, via),
      label: agent ? agent.name : programLabel(identity),
    };
    // Kept only when it depends on nothing but the agents table and the connection's
    // identity: a rule on a script's hash, or an `akc` peer's program, is checked every time.
    // A script's content is hashed per request (replacing it voids its grants), so a script's requester is never kept.
    if (!via && !inputs.hashedFile && !identity.script) this.requesters.set(session, { generation, hint, requester });
    return requester;
  }

  pendingCount(): number {
    return this.broker.list().length;
  }

  listSecrets(): SecretMeta[] {
    return this.secrets.list();
  }

  listLeases(requester: Requester): Lease[] {
    return this.leases.list(this.clock.now(), requester.agent ? { agentId: requester.agent.id } : { fingerprint: requester.fingerprint });
  }

  /** An agent revokes one of its own leases. */
  revokeOwnLease(requester: Requester, id: string): boolean {
    const lease = this.leases.get(id);
    const mine = lease && (requester.agent ? lease.agentId === requester.agent.id : lease.fingerprint === requester.fingerprint);
    if (!lease || !mine) throw new AkcError('NOT_FOUND', `no lease ${id}`);
    const revoked = this.leases.revoke(id, this.clock.now());
    if (revoked)
      this.record({ ...this.who(requester), event: 'lease.revoke', secret: lease.secretName, version: lease.version, reason: id });
    return revoked;
  }

  /**
   * An agent asks for a secret. Applies policy; waits for a human when no grant covers
   * it (or for an unlock when the vault is locked); audits before releasing the value.
   */
  async getSecret(
    requester: Requester,
    params: { name: string; purpose?: string; version?: number },
    onPending: (p: PendingApproval) => void,
    /** Aborts when the client goes away: its pending approval is withdrawn (askHuman). */
    signal?: AbortSignal,
  ): Promise<DeliveredSecret> {
    const who = this.who(requester);
    const purpose = params.purpose ?? null;
    const deny = async (reason: string, err: AkcError): Promise<never> => {
      await this.writer.write([{ ...who, event: 'secret.deny', secret: params.name, decision: 'deny', purpose, reason }]);
      throw err;
    };
    try {
      this.broker.checkRateLimit(requester.fingerprint);
    } catch (err) {
      return deny('rate limited', err as AkcError);
    }
    const meta = this.secrets.find(params.name);
    if (!meta) return deny('not found', new AkcError('NOT_FOUND', `no secret named ${params.name}`));
    const refused = this.lifecycle.screen(requester, [meta], params.version);
    if (refused) return deny(refused.reason, refused.error);

    let grant = this.lifecycle.unlessRotated(this.grants.decide(requester, params.name, this.clock.now()), params.name);
    if (grant?.effect === 'deny') return deny(`blocked by grant ${grant.id}`, new AkcError('DENIED', 'denied: this program is blocked'));

    const askFirst = !this.unlocked || !grant;
    if (askFirst) {
      let outcome: ApprovalOutcome;
      try {
        outcome = await this.askHuman(requester, [params.name], purpose, Boolean(grant), onPending, null, signal);
      } catch (err) {
        // The approval queue is full or this program used up its share (broker): audited too.
        if (isAkcError(err) && err.code === 'RATE_LIMITED') return deny('rate limited', err);
        throw err;
      }
      if (outcome.kind !== 'decided') {
        const locked = this.vault.state !== 'unlocked';
        if (outcome.kind === 'cancelled') return deny(outcome.reason, new AkcError('DENIED', `denied: ${outcome.reason}`));
        if (locked) return deny('locked', new AkcError('LOCKED', 'the vault is locked and nobody unlocked it in time'));
        return deny('approval timeout', new AkcError('APPROVAL_TIMEOUT', 'nobody answered the approval request in time'));
      }
      const d = outcome.decision;
      if (!d.allow) return deny(d.block ? 'denied and blocked' : `denied by ${d.by}`, new AkcError('DENIED', 'denied by the user'));
      if (this.vault.state !== 'unlocked') return deny('locked', new AkcError('LOCKED', 'the vault is locked'));
      if (!grant) grant = this.grants.get(this.lastGrantFor(requester, params.name, 'secret')) ?? null;
      // While a human decided, the secret may have expired or its pinned version retired.
      const stale = this.lifecycle.recheck([meta], params.version);
      if (stale) return deny(stale.reason, stale.error);
    }
    if (grant && !this.grants.consume(grant)) {
      return deny('grant used up', new AkcError('DENIED', 'denied: the grant was used up'));
    }
    // Without a wait for a human, `meta` was read in this same tick: reveal reuses it.
    return this.deliver(requester, meta, params.version, purpose, grant, !askFirst);
  }

  /**
   * An agent asks for several secrets at once (`secret.getMany`, used by `akc run` and
   * `akc inject`): ONE approval covers every name no grant covers (or all of them while
   * the vault is locked); a refusal, a timeout or a missing name fails the whole call.
   * Each value is delivered with its own lease and `secret.deliver` audit entry.
   */
  async getSecrets(
    requester: Requester,
    params: { names: string[]; purpose?: string; command?: RunCommand },
    onPending: (p: PendingApproval) => void,
    signal?: AbortSignal,
  ): Promise<DeliveredSecret[]> {
    const who = this.who(requester);
    const purpose = params.purpose ?? null;
    const names = [...new Set(params.names)];
    let command: ApprovedCommand | null = null;
    const deny = async (reason: string, err: AkcError, secrets = names): Promise<never> => {
      const detail = command ? { detail: commandAuditDetail(command) } : {};
      await this.writer.write([{ ...who, event: 'secret.deny', secret: secrets.join(','), decision: 'deny', purpose, reason, ...detail }]);
      throw err;
    };
    // `akc run` names the command that will hold the values (run-command.ts): accepted from
    // akc's own run/mcp processes only, shown in the approval, and grants are bound to it.
    try {
      command = acceptCommand(requester.identity, params.command);
    } catch (err) {
      return deny('refused a command claim from a program that is not akc run', err as AkcError);
    }
    const run = command ? runUse(command) : null;
    try {
      this.broker.checkRateLimit(requester.fingerprint);
    } catch (err) {
      return deny('rate limited', err as AkcError);
    }
    const metas: SecretMeta[] = [];
    for (const name of names) {
      const meta = this.secrets.find(name);
      if (!meta) return deny('not found', new AkcError('NOT_FOUND', `no secret named ${name}`), [name]);
      metas.push(meta);
    }
    const refused = this.lifecycle.screen(requester, metas);
    if (refused) return deny(refused.reason, refused.error);
    const now = this.clock.now();
    const grants = new Map<string, Grant | null>();
    for (const name of names) {
      const g = this.lifecycle.unlessRotated(this.grants.decide(requester, name, now, undefined, run), name);
      if (g?.effect === 'deny') return deny(`blocked by grant ${g.id}`, new AkcError('DENIED', 'denied: this program is blocked'));
      grants.set(name, g);
    }
    const uncovered = names.filter((n) => !grants.get(n));
    if (this.vault.state !== 'unlocked' || uncovered.length > 0) {
      const asked = uncovered.length > 0 ? uncovered : names;
      let outcome: ApprovalOutcome;
      try {
        outcome = await this.askHuman(requester, asked, purpose, uncovered.length === 0, onPending, null, signal, command);
      } catch (err) {
        // The approval queue is full or this program used up its share (broker): audited too.
        if (isAkcError(err) && err.code === 'RATE_LIMITED') return deny('rate limited', err);
        throw err;
      }
      if (outcome.kind !== 'decided') {
        if (outcome.kind === 'cancelled') return deny(outcome.reason, new AkcError('DENIED', `denied: ${outcome.reason}`));
        if (this.vault.state !== 'unlocked')
          return deny('locked', new AkcError('LOCKED', 'the vault is locked and nobody unlocked it in time'));
        return deny('approval timeout', new AkcError('APPROVAL_TIMEOUT', 'nobody answered the approval request in time'));
      }
      const d = outcome.decision;
      if (!d.allow) return deny(d.block ? 'denied and blocked' : `denied by ${d.by}`, new AkcError('DENIED', 'denied by the user'));
      if (this.vault.state !== 'unlocked') return deny('locked', new AkcError('LOCKED', 'the vault is locked'));
      for (const name of uncovered) grants.set(name, this.grants.get(this.lastGrantFor(requester, name, 'secret', command)) ?? null);
    }
    for (const name of names) {
      const g = grants.get(name) ?? null;
      if (g && !this.grants.consume(g)) return deny('grant used up', new AkcError('DENIED', 'denied: the grant was used up'));
    }
    // Queued together, the deliveries share one audit/lease transaction (DeliveryWriter).
    const settled = await Promise.allSettled(
      metas.map((m) => this.deliver(requester, m, undefined, purpose, grants.get(m.name) ?? null, false, command)),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      for (const r of settled) if (r.status === 'fulfilled') r.value.value.fill(0);
      throw failed.reason;
    }
    return settled.map((r) => (r as PromiseFulfilledResult<DeliveredSecret>).value);
  }

  /**
   * The brokering proxy asks to use a secret for ONE outbound HTTP request on behalf of
   * `requester` (src/core/proxy). Same policy as `getSecret` (grants per secret name,
   * deny-by-default, approval, unlock), but the prompt shows the request's method, host
   * and path, and the value never leaves the host: it is returned to the proxy (which
   * zeroes it) instead of to the agent, so there is no lease. Refusals are audited here as
   * `proxy.deny` (with `detail` plus method/host/path); the proxy audits the request
   * itself (`proxy.request`, with status, bytes and latency) once it has completed.
   */
  async authorizeProxy(
    requester: Requester,
    params: {
      secret: string;
      http: { method: string; host: string; path: string };
      purpose?: string | null;
      detail?: Record<string, unknown>;
    },
    onPending: (p: PendingApproval) => void,
    signal?: AbortSignal,
  ): Promise<{ value: Buffer; version: number; grantId: string | null }> {
    const who = this.who(requester);
    const purpose = params.purpose ?? null;
    // Proxy grants are per binding (channel 'proxy'): they never serve secret.get.
    const binding = typeof params.detail?.binding === 'string' ? params.detail.binding : '';
    const http = { method: params.http.method, host: params.http.host, path: params.http.path, binding };
    const detail = { ...params.detail, ...http };
    const deny = async (reason: string, err: AkcError): Promise<never> => {
      await this.writer.write([{ ...who, event: 'proxy.deny', secret: params.secret, decision: 'deny', purpose, reason, detail }]);
      throw err;
    };
    try {
      this.broker.checkRateLimit(requester.fingerprint);
    } catch (err) {
      return deny('rate limited', err as AkcError);
    }
    const meta = this.secrets.find(params.secret);
    if (!meta) return deny('not found', new AkcError('NOT_FOUND', `no secret named ${params.secret}`));
    const refused = this.lifecycle.screen(requester, [meta]);
    if (refused) return deny(refused.reason, refused.error);
    const use = { binding, method: http.method, path: http.path };
    let grant = this.lifecycle.unlessRotated(this.grants.decide(requester, params.secret, this.clock.now(), use), params.secret);
    if (grant?.effect === 'deny') return deny(`blocked by grant ${grant.id}`, new AkcError('DENIED', 'denied: this program is blocked'));
    if (this.vault.state !== 'unlocked' || !grant) {
      let outcome: ApprovalOutcome;
      try {
        outcome = await this.askHuman(requester, [params.secret], purpose, Boolean(grant), onPending, http, signal);
      } catch (err) {
        // Withdrawn (the caller hung up): askHuman audited it as approval.withdrawn.
        if (isAkcError(err) && !signal?.aborted) return deny(err.code === 'RATE_LIMITED' ? 'rate limited' : err.message, err);
        throw err;
      }
      if (outcome.kind !== 'decided') {
        if (outcome.kind === 'cancelled') return deny(outcome.reason, new AkcError('DENIED', `denied: ${outcome.reason}`));
        if (this.vault.state !== 'unlocked')
          return deny('locked', new AkcError('LOCKED', 'the vault is locked and nobody unlocked it in time'));
        return deny('approval timeout', new AkcError('APPROVAL_TIMEOUT', 'nobody answered the approval request in time'));
      }
      const d = outcome.decision;
      if (!d.allow) return deny(d.block ? 'denied and blocked' : `denied by ${d.by}`, new AkcError('DENIED', 'denied by the user'));
      if (this.vault.state !== 'unlocked') return deny('locked', new AkcError('LOCKED', 'the vault is locked'));
      if (!grant) grant = this.grants.get(this.lastGrantFor(requester, params.secret, 'proxy')) ?? null;
    }
    if (grant && !this.grants.consume(grant)) return deny('grant used up', new AkcError('DENIED', 'denied: the grant was used up'));
    const revealed = this.secrets.reveal(meta.name);
    return { value: revealed.value, version: revealed.version, grantId: grant?.id ?? null };
  }

  private who(r: Requester): Pick<AuditFields, 'agent' | 'pid' | 'exe'> {
    return { agent: r.label, pid: r.identity.pid, exe: r.identity.exe };
  }

  private async deliver(
    requester: Requester,
    meta: SecretMeta,
    version: number | undefined,
    purpose: string | null,
    grant: Grant | null,
    metaIsCurrent = false,
    command: ApprovedCommand | null = null,
  ): Promise<DeliveredSecret> {
    const revealed = metaIsCurrent ? this.secrets.revealMeta(meta, version) : this.secrets.reveal(meta.name, version);
    const now = this.clock.now();
    const expiresAt = Math.min(now + DEFAULT_LEASE_MS, grant?.expiresAt ?? Infinity);
    const leaseId = newLeaseId();
    try {
      await this.writer.write(
        [
          {
            ...this.who(requester),
            event: 'secret.deliver',
            secret: meta.name,
            version: revealed.version,
            decision: 'allow',
            purpose,
            reason: grant ? `grant ${grant.id}` : 'approved',
            // Which command holds the value (akc run): the command line, never the environment.
            detail: { lease: leaseId, ...(command ? commandAuditDetail(command) : {}) },
          },
        ],
        {
          id: leaseId,
          agentId: requester.agent?.id ?? null,
          fingerprint: requester.fingerprint,
          pid: requester.identity.pid,
          secretId: meta.id,
          secretName: meta.name,
          version: revealed.version,
          issuedAt: now,
          expiresAt,
        },
      );
    } catch (err) {
      revealed.value.fill(0);
      throw new AkcError('INTERNAL', 'failed to record the delivery in the audit log', { cause: err });
    }
    return { name: meta.name, version: revealed.version, type: meta.type, value: revealed.value, lease: { id: leaseId, expiresAt } };
  }

  /** Grants created by decisions are remembered per request so getSecret can consume them. */
  private readonly decidedGrants = new Map<string, string>();
  private lastGrantFor(requester: Requester, secret: string, channel: Grant['channel'], command: ApprovedCommand | null = null): string {
    return this.decidedGrants.get(decidedKey(requester, secret, channel, command)) ?? '';
  }

  private async askHuman(
    requester: Requester,
    secrets: string[],
    purpose: string | null,
    coveredByGrant: boolean,
    onPending: (p: PendingApproval) => void,
    http: ApprovalSubject['http'] = null,
    signal?: AbortSignal,
    command: ApprovedCommand | null = null,
  ): Promise<Exclude<ApprovalOutcome, { kind: 'withdrawn' }>> {
    const needsUnlock = this.vault.state !== 'unlocked';
    let announced = false;
    let approvalId = '';
    const outcome = await this.broker.request(
      { requester, secrets, purpose, ...(http ? { http } : {}), ...(command ? { command } : {}) },
      { badge: this.grants.history(requester.identity.exe, requester.identity.exeSha256), needsUnlock, coveredByGrant },
      (p) => {
        approvalId = p.id;
        onPending(p);
        if (!announced && p.count === 1) {
          announced = true;
          const detail = command ? { detail: commandAuditDetail(command) } : {};
          this.record({ ...this.who(requester), event: 'approval.request', secret: secrets.join(','), purpose, reason: p.id, ...detail });
        }
      },
      signal,
    );
    if (outcome.kind === 'timeout') {
      this.record({ ...this.who(requester), event: 'approval.timeout', secret: secrets.join(','), decision: 'deny', purpose });
    }
    if (outcome.kind === 'withdrawn') {
      // The client went away: nothing is delivered and no lease is made. Audited once, by
      // the caller that withdrew the approval (identical requests may still wait for it).
      if (outcome.last) {
        await this.writer.write([
          {
            ...this.who(requester),
            event: 'approval.withdrawn',
            secret: secrets.join(','),
            decision: 'deny',
            purpose,
            reason: outcome.reason,
            detail: { approval: approvalId, fingerprint: requester.fingerprint },
          },
        ]);
      }
      throw new AkcError('DENIED', `denied: the request was withdrawn: ${outcome.reason}`);
    }
    return outcome;
  }

  // ---------------------------------------------------------------- human decisions

  /**
   * A human decides a pending request. Allowing a request that needs an unlock, or
   * allowing "always", needs the master password (`password`), checked here.
   */
  async decide(approvalId: string, decision: ApprovalDecision, password?: Buffer | ProvenAdmin): Promise<PendingApproval> {
    const pending = this.broker.get(approvalId);
    if (!pending) throw this.broker.notPending(approvalId);
    if (decision.allow && (decision.scope === 'always' || pending.needsUnlock || this.vault.state !== 'unlocked')) {
      if (!password) throw new AkcError('WRONG_PASSWORD', 'this decision needs the master password');
      if (!Buffer.isBuffer(password)) {
        // A verified admin proof (server/admin-handlers.ts); a locked vault needs its KEK too.
        if (this.vault.state !== 'unlocked') {
          if (!password.kek) throw new AkcError('LOCKED', 'the vault is locked', { hint: 'unlock it first (`akc unlock`)' });
          this.vault.unlockWithKek(password.kek);
          this.record({ event: 'vault.unlock', decision: 'ok', reason: `password (${decision.by})` });
        }
      } else if (this.vault.state !== 'unlocked') await this.unlockWithPassword(password, decision.by);
      else await this.vault.verifyPassword(password);
      // The unlock itself releases requests a grant already covers: nothing is left to decide.
      if (!this.broker.get(approvalId)) return pending;
    }
    const r = pending.requester;
    const now = this.clock.now();
    durableTransaction(this.vault.db, () => {
      if (decision.allow && !pending.coveredByGrant) {
        for (const secret of pending.secrets) {
          const command = pending.command ?? null;
          const g = this.grants.create(this.grantFromDecision(r, secret, decision.scope, decision.by, now, pending.http, command), now);
          this.decidedGrants.set(decidedKey(r, secret, g.channel, command), g.id);
        }
      }
      if (!decision.allow && decision.block) {
        this.grants.create(
          {
            agentId: r.agent?.id ?? null,
            fingerprint: r.agent ? null : r.fingerprint,
            exePath: r.identity.exe,
            exeSha256: null,
            secretPattern: '**',
            effect: 'deny',
            scope: 'always',
            createdBy: decision.by,
          },
          now,
        );
      }
      this.vault.auditInTransaction([
        {
          ...this.who(r),
          event: 'approval.decide',
          secret: pending.secrets.join(','),
          decision: decision.allow ? 'allow' : decision.block ? 'block' : 'deny',
          purpose: pending.purpose,
          reason: `${decision.allow ? decision.scope : 'deny'} by ${decision.by}`,
          detail: { approval: approvalId, count: pending.count, ...(pending.command ? commandAuditDetail(pending.command) : {}) },
        },
      ]);
    });
    this.broker.decide(approvalId, decision);
    return pending;
  }

  private grantFromDecision(
    r: Requester,
    secret: string,
    scope: ApprovalScope,
    by: string,
    now: number,
    http: ApprovalSubject['http'] = null,
    command: ApprovedCommand | null = null,
  ): GrantInput {
    const ms = SCOPE_MS[scope];
    // An approved proxy call makes a proxy-channel grant for its binding: "once" covers
    // exactly that method and path, longer scopes whatever the binding itself allows.
    const proxy: Partial<GrantInput> = http
      ? {
          channel: 'proxy',
          proxyBinding: http.binding ?? '',
          proxyRule: scope === 'once' ? `${http.method.toUpperCase()} ${http.path}` : '* /**',
        }
      : {};
    return {
      ...proxy,
      agentId: r.agent?.id ?? null,
      fingerprint: r.agent ? null : r.fingerprint,
      exePath: r.identity.exe,
      exeSha256: r.identity.exeSha256,
      secretPattern: secret,
      effect: 'allow',
      scope: scope === 'once' ? 'once' : ms ? 'duration' : scope === 'until_lock' ? 'until_lock' : 'always',
      expiresAt: ms ? now + ms : null,
      // "Once" is a grant with one use, so the approval is on record for known/new badges.
      usesLeft: scope === 'once' ? 1 : null,
      // Approved for one `akc run` command: the grant covers that command only (grants.ts).
      ...(command && !http ? { runCommand: runUse(command) } : {}),
      createdBy: by,
    };
  }

  // ---------------------------------------------------------------- audit

  /** Appends an entry now (best effort for informational events; throws if the log fails). */
  record(fields: AuditFields): void {
    const entry = this.vault.audit.append(fields, this.clock.now(), this.vault.auditKey);
    this.emit('audit', [entry]);
  }

  close(): void {
    this.broker.cancelAll('the host is shutting down');
    try {
      this.lock('host stopped');
    } catch (err) {
      if (!isAkcError(err)) throw err;
    }
    clearInterval(this.auditWatch);
    this.checkpointer.close();
    this.vault.close();
  }
}

/** Where decide() leaves the grant it made for the request that waits (per command for `akc run`). */
function decidedKey(r: Requester, secret: string, channel: Grant['channel'], command: ApprovedCommand | null): string {
  return `${r.fingerprint}\0${secret}\0${channel}\0${command?.argvSha256 ?? ''}`;
}

/** The identity of the program an akc CLI peer runs for, for agent matching (hash included). */
async function viaIdentity(peer: PeerIdentity, via: ProcessSummary): Promise<PeerIdentity> {
  const exeSha256 = via.exe ? await hashExecutable(via.exe).catch(() => null) : null;
  // The launching program's own environment and flags count too (an unread one is null: no match).
  const injectedCode = via.injectedCode === undefined ? readInjectedCode(via) : via.injectedCode;
  return { ...peer, ...via, uid: peer.uid, exeSha256, scriptSha256: await hashScript(via.script), injectedCode, parents: [] };
}

/**
 * The peer as policy sees it for this request: refused when it could not be identified
 * (every such peer would otherwise share one fingerprint), its script's content hashed now,
 * and its injected code read if nobody has (identities made outside identifyPeer).
 */
async function codeIdentity(identity: PeerIdentity): Promise<PeerIdentity> {
  let injectedCode = identity.injectedCode;
  let unidentified = identity.pidCheck === 'vanished' ? 'it exited before it could be identified' : (identity.unidentified ?? null);
  if (unidentified === null && injectedCode === undefined) {
    const before = readStartTime(identity.pid);
    injectedCode = readInjectedCode(identity);
    if (before === null || readStartTime(identity.pid) !== before) unidentified = 'it exited before it could be identified';
  }
  if (unidentified === null && injectedCode === null) unidentified = 'its environment could not be read';
  if (unidentified === null && identity.exe === null && process.platform === 'linux') unidentified = 'its executable could not be read';
  if (unidentified !== null) {
    throw new AkcError('DENIED', `denied: the calling process (pid ${identity.pid}) could not be identified: ${unidentified}`);
  }
  return { ...identity, injectedCode, scriptSha256: await hashScript(identity.script) };
}
