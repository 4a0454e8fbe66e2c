/**
 * The hardened host's administration verbs (shared/service-protocol.ts). In service mode
 * the desktop user cannot open vault.db, so `akc init`, `akc secret set`, `akc grant`, …
 * ask the host instead. Each verb calls the same core functions as the offline commands
 * (SecretStore, PolicyAdmin, policy-file, AuditLog, and the row builders in core/views),
 * so both modes change and show the same things: no policy logic lives here, only the
 * checks that the caller is the human (the master password, verified with Argon2 here,
 * never stored; failures rate-limited) and the mapping to plain JSON. Changes are audited
 * by those core functions, with `by` naming the CLI process; a wrong password is audited too.
 */
import { createHash } from 'node:crypto';
import { AkcError, isAkcError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/protocol-schemas.js';
import { isSecretType, secretNameProblem } from '../../shared/secrets.js';
import {
  isServiceMethod,
  POLICY_EXPORT_PAGE_CHARS,
  serviceParamsSchemas,
  type ServiceConfig,
  type ServiceMethod,
  type ServiceParams,
  type ServiceResults,
} from '../../shared/service-protocol.js';
import { HOST_VERSION, type Host, type Session } from '../host/host.js';
import { PolicyAdmin } from '../policy/admin.js';
import {
  applyPolicy as applyPolicyFile,
  buildPolicy,
  checkReferences,
  formatPolicy,
  parsePolicy,
  preparePolicy,
} from '../policy/policy-file.js';
import { applyPolicy } from '../lifecycle/policy.js';
import { AttemptLimiter } from '../server/admin-attempts.js';
import { verifyReportJson } from '../audit/verify.js';
import type { ExtraMethods } from '../server/server.js';
import { auditPage, exportPage } from '../views/audit.js';
import { pageRows, PAGE_BYTES } from '../views/page.js';
import { agentJson, agentRows, grantJson, grantRows, leaseRows } from '../views/policy.js';
import { secretRows, secretView } from '../views/secrets.js';
import { vaultStatusView } from '../views/status.js';

const EXPORT_PAGE = 200;

export interface ServiceVerbDeps {
  config: ServiceConfig;
  /** The host, once a vault exists. */
  host(): Host | null;
  /** Creates the vault with this password and starts serving it (the host is left unlocked). */
  initVault(password: Buffer, by: string): Promise<Host>;
}

type Params<M extends ServiceMethod> = ServiceParams<M>;

export class ServiceVerbs implements ExtraMethods {
  /** Wrong passwords per connection and per requester, as for admin proofs (admin-attempts.ts). */
  private readonly attempts = new AttemptLimiter();

  constructor(private readonly deps: ServiceVerbDeps) {}

  has(method: string): boolean {
    return isServiceMethod(method);
  }

  async call(session: Session, method: string, raw: Record<string, unknown>): Promise<unknown> {
    if (!isServiceMethod(method)) throw new AkcError('INVALID_ARGUMENT', `unknown method ${method}`);
    const parsed = serviceParamsSchemas[method].safeParse(raw);
    if (!parsed.success) throw new AkcError('INVALID_ARGUMENT', `malformed ${method} params: ${describeIssues(parsed.error.issues)}`);
    return this.run(session, method, parsed.data);
  }

  /** `p` was checked against serviceParamsSchemas[method]. */
  private async run(session: Session, method: ServiceMethod, p: unknown): Promise<unknown> {
    const by = `cli pid ${session.identity.pid} via service`;
    if (method === 'service.info') return this.info();
    if (method === 'vault.status') return this.status();
    if (method === 'vault.init') return this.init(p as Params<'vault.init'>, by);
    const host = this.deps.host();
    if (!host) throw new AkcError('NOT_INITIALIZED', 'the service has no vault yet', { hint: 'run `akc init`' });
    const read = readVerb(host, method, p);
    if (read !== undefined) return read;
    if (method === 'vault.passwd') return this.passwd(host, session, p as Params<'vault.passwd'>, by);
    // Parse a policy file before the password: its mistakes need no Argon2.
    const policyDoc = method === 'policy.import' ? parsePolicy((p as Params<'policy.import'>).text, 'policy.json') : null;
    await this.proveHuman(host, session, (p as { auth: { password: string } }).auth, method, by);
    const admin = new PolicyAdmin(host.vault, by);
    switch (method) {
      case 'secret.set':
        return secretSet(host, p as Params<'secret.set'>, by);
      case 'secret.rm': {
        const { name } = p as Params<'secret.rm'>;
        host.secretMeta(name); // NOT_FOUND
        host.removeSecret(name, { agent: 'cli', reason: by });
        return { name, deleted: true } satisfies ServiceResults['secret.rm'];
      }
      case 'agent.add': {
        const a = p as Params<'agent.add'>;
        // The host resolves and hashes the executable itself: it must be able to read it
        // (the unit's ProtectHome=read-only, see unit.ts).
        const r = await admin.addAgent(
          {
            name: a.name,
            exePath: a.exe,
            ...(a.sha256 !== undefined ? { sha256: a.sha256 } : {}),
            ...(a.argPattern !== undefined ? { argPattern: a.argPattern } : {}),
            ...(a.cwd !== undefined ? { cwdPattern: a.cwd } : {}),
          },
          { replace: a.replace === true },
        );
        return { agent: agentJson(r.agent, { blocked: false, grants: 0 }), status: r.status } satisfies ServiceResults['agent.add'];
      }
      case 'agent.revoke': {
        const r = admin.revokeAgent((p as Params<'agent.revoke'>).name);
        return { agent: r.agent.name, grants: r.grants, leases: r.leases } satisfies ServiceResults['agent.revoke'];
      }
      case 'agent.block': {
        const { name } = p as Params<'agent.block'>;
        const r = admin.block(name);
        return { agent: name, grant: r.grant.id, created: r.created } satisfies ServiceResults['agent.block'];
      }
      case 'agent.unblock': {
        const { name } = p as Params<'agent.unblock'>;
        return { agent: name, revokedGrants: admin.unblock(name).map((g) => g.id) } satisfies ServiceResults['agent.unblock'];
      }
      case 'grant.add': {
        const g = p as Params<'grant.add'>;
        const grant = admin.grant({
          agent: g.agent,
          secretPattern: g.secret,
          scope: g.scope,
          ...(g.durationMs !== undefined ? { durationMs: g.durationMs } : {}),
          uses: g.uses ?? null,
          keepOnRotate: g.keepOnRotate === true,
        });
        return { grant: grantJson(grant, admin.now()) } satisfies ServiceResults['grant.add'];
      }
      case 'grant.rm': {
        const g = admin.ungrant((p as Params<'grant.rm'>).id);
        return { grant: grantJson(g, admin.now()) } satisfies ServiceResults['grant.rm'];
      }
      case 'leases.revoke': {
        const l = admin.revokeLease((p as Params<'leases.revoke'>).id);
        return { id: l.id, secret: l.secretName, version: l.version } satisfies ServiceResults['leases.revoke'];
      }
      case 'policy.import': {
        const { replace, source } = p as Params<'policy.import'>;
        // After the password: preparing reads and hashes the files the policy names.
        const prepared = await preparePolicy(policyDoc!);
        checkReferences(host.vault, prepared);
        const summary = applyPolicyFile(host.vault, prepared, { replace: replace === true, by, ...(source ? { source } : {}) });
        return summary satisfies ServiceResults['policy.import'];
      }
    }
    throw new AkcError('INTERNAL', `unhandled ${method}`);
  }

  private info(): ServiceResults['service.info'] {
    const host = this.deps.host();
    return {
      mode: 'service',
      vault: vaultState(host),
      serviceUid: this.deps.config.serviceUid,
      allowUid: this.deps.config.allowUid,
      version: HOST_VERSION,
    };
  }

  private status(): ServiceResults['vault.status'] {
    const host = this.deps.host();
    const view = host ? vaultStatusView(host.vault.db, host.clock.now()) : null;
    return {
      vault: vaultState(host),
      pendingApprovals: host ? host.pendingCount() : 0,
      version: HOST_VERSION,
      secrets: view ? view.secrets : null,
      lifecycle: view ? { ...view.lifecycle } : null,
    };
  }

  private async init(p: Params<'vault.init'>, by: string): Promise<ServiceResults['vault.init']> {
    if (this.deps.host()) throw new AkcError('ALREADY_INITIALIZED', 'the service already has a vault', { hint: 'use `akc passwd`' });
    const password = Buffer.from(p.auth.password, 'utf8');
    try {
      const host = await this.deps.initVault(password, by);
      return { vault: 'created', id: host.vault.id };
    } finally {
      password.fill(0);
    }
  }

  /** Changing the password proves the old one itself (Vault.changePassword); it unlocks nothing. */
  private async passwd(host: Host, session: Session, p: Params<'vault.passwd'>, by: string): Promise<ServiceResults['vault.passwd']> {
    const who = await this.checkAttempts(host, session);
    const oldPassword = Buffer.from(p.auth.password, 'utf8');
    const newPassword = Buffer.from(p.newPassword, 'utf8');
    try {
      await host.vault.changePassword(oldPassword, newPassword);
      this.attempts.succeed(session, who);
      return { changed: true };
    } catch (err) {
      if (isAkcError(err, 'WRONG_PASSWORD')) this.refused(host, session, who, 'vault.passwd', by);
      throw err;
    } finally {
      oldPassword.fill(0);
      newPassword.fill(0);
    }
  }

  /**
   * The master password proves the human. It reaches this process only because the CLI
   * first checked (SO_PEERCRED) that the socket's server runs as the service uid. A locked
   * host is unlocked by it, as `akc unlock` would: the changes need the vault key.
   */
  private async proveHuman(host: Host, session: Session, auth: { password: string }, method: string, by: string): Promise<void> {
    const who = await this.checkAttempts(host, session);
    const password = Buffer.from(auth.password, 'utf8');
    try {
      if (host.state === 'unlocked') await host.vault.verifyPassword(password);
      else await host.unlockWithPassword(password, by);
      this.attempts.succeed(session, who);
    } catch (err) {
      if (isAkcError(err, 'WRONG_PASSWORD')) this.refused(host, session, who, method, by);
      throw err;
    } finally {
      password.fill(0);
    }
  }

  /** RATE_LIMITED while this connection or this program is cooling down; else its requester key. */
  private async checkAttempts(host: Host, session: Session): Promise<string> {
    const who = (await host.requesterFor(session)).fingerprint;
    this.attempts.check(session, who, host.clock.now());
    return who;
  }

  private refused(host: Host, session: Session, who: string, method: string, by: string): void {
    const coolDown = this.attempts.fail(session, who, host.clock.now());
    host.record({
      event: 'admin.refused',
      decision: 'deny',
      reason: `wrong password for ${method} (${by})${coolDown ? '; cooling down' : ''}`,
    });
  }
}

function vaultState(host: Host | null): 'absent' | 'locked' | 'unlocked' {
  return !host ? 'absent' : host.state === 'unlocked' ? 'unlocked' : 'locked';
}

/**
 * The verbs that only read, or undefined for the others. They need no password, as
 * offline (names, rules and the log are not secret values).
 */
function readVerb(host: Host, method: ServiceMethod, p: unknown): unknown {
  const admin = (): PolicyAdmin => new PolicyAdmin(host.vault, 'service');
  const offset = (p as { offset?: number }).offset ?? 0;
  switch (method) {
    case 'secret.show':
      return secretView(host.vault, (p as Params<'secret.show'>).name);
    case 'secrets.list':
      return pageRows(secretRows(host.vault), offset);
    case 'agents.list':
      return pageRows(agentRows(admin(), (p as Params<'agents.list'>).all === true), offset);
    case 'grants.list':
      return pageRows(grantRows(admin(), (p as Params<'grants.list'>).all === true), offset);
    case 'leases.list':
      return pageRows(leaseRows(admin()), offset);
    case 'policy.export': {
      const text = formatPolicy(buildPolicy(host.vault), (p as Params<'policy.export'>).format);
      const end = offset + POLICY_EXPORT_PAGE_CHARS;
      return {
        text: text.slice(offset, end),
        next: end < text.length ? end : null,
        digest: createHash('sha256').update(text).digest('hex'),
      } satisfies ServiceResults['policy.export'];
    }
    case 'audit.verify':
      // The offline command's check (chain, checkpoints, anchor, recorded alarms), on the live log.
      return verifyReportJson(host.verifyAudit());
    case 'audit.query': {
      const q = p as Params<'audit.query'>;
      return auditPage(
        host.vault.audit,
        {
          ...(q.agent !== undefined ? { agent: q.agent } : {}),
          ...(q.secret !== undefined ? { secret: q.secret } : {}),
          ...(q.since !== undefined ? { sinceTs: q.since } : {}),
          ...(q.afterSeq !== undefined ? { afterSeq: q.afterSeq } : {}),
          ...(q.beforeSeq !== undefined ? { beforeSeq: q.beforeSeq } : {}),
          limit: q.limit,
          order: q.order,
        },
        PAGE_BYTES,
      );
    }
    case 'audit.export': {
      const q = p as Params<'audit.export'>;
      const page = exportPage(host.vault.db, { afterSeq: q.afterSeq ?? 0, since: q.since ?? 0, limit: q.limit ?? EXPORT_PAGE }, PAGE_BYTES);
      return { entries: page.rows, next: page.next } satisfies ServiceResults['audit.export'];
    }
    default:
      return undefined;
  }
}

function secretSet(host: Host, p: Params<'secret.set'>, by: string): ServiceResults['secret.set'] {
  const problem = secretNameProblem(p.name);
  if (problem) throw new AkcError('INVALID_ARGUMENT', `invalid secret name: ${problem}`);
  if (p.type !== undefined && !isSecretType(p.type)) throw new AkcError('INVALID_ARGUMENT', `unknown type ${p.type}`);
  const value = Buffer.from(p.value, 'utf8');
  try {
    const r = host.setSecret(
      p.name,
      value,
      {
        ...(p.type !== undefined && isSecretType(p.type) ? { type: p.type } : {}),
        ...(p.description !== undefined ? { description: p.description } : {}),
        ...(p.owner !== undefined ? { owner: p.owner } : {}),
        ...(p.tags !== undefined ? { tags: p.tags } : {}),
      },
      { agent: 'cli', reason: by },
      { mustCreate: p.newVersion !== true },
    );
    if (p.canary === true) applyPolicy(host.vault, p.name, { canary: true }, by);
    return {
      name: p.name,
      version: r.version,
      created: r.created,
      ...(r.previous
        ? {
            previous: r.previous.version,
            previousState: r.previous.state,
            previousRetiresAt: new Date(r.previous.retireAt).toISOString(),
          }
        : {}),
    };
  } finally {
    value.fill(0);
  }
}
