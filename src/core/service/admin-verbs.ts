/**
 * The hardened host's administration verbs (shared/service-protocol.ts). In service mode
 * the desktop user cannot open vault.db, so `akc init`, `akc secret set`, `akc grant`, …
 * ask the host instead. Each verb calls the same core functions as the offline commands
 * (SecretStore, PolicyAdmin, AuditLog): no policy logic lives here, only the checks that
 * the caller is the human (the master password, verified with Argon2 here, never stored)
 * and the mapping to plain JSON. Changes are audited by those core functions, with
 * `by` naming the CLI process; a wrong password is audited too.
 */
import { AkcError, isAkcError } from '../../shared/errors.js';
import { describeIssues } from '../../shared/protocol-schemas.js';
import { isSecretType, secretNameProblem } from '../../shared/secrets.js';
import {
  isServiceMethod,
  serviceParamsSchemas,
  type JsonRecord,
  type ServiceConfig,
  type ServiceMethod,
  type ServiceResults,
} from '../../shared/service-protocol.js';
import { HOST_VERSION, type Host, type Session } from '../host/host.js';
import { PolicyAdmin, grantState } from '../policy/admin.js';
import type { AgentRecord } from '../policy/agents.js';
import type { Grant } from '../policy/grants.js';
import { applyPolicy } from '../lifecycle/policy.js';
import type { ExtraMethods } from '../server/server.js';

const EXPORT_PAGE = 200;

export interface ServiceVerbDeps {
  config: ServiceConfig;
  /** The host, once a vault exists. */
  host(): Host | null;
  /** Creates the vault with this password and starts serving it (the host is left unlocked). */
  initVault(password: Buffer, by: string): Promise<Host>;
}

export class ServiceVerbs implements ExtraMethods {
  constructor(private readonly deps: ServiceVerbDeps) {}

  has(method: string): boolean {
    return isServiceMethod(method);
  }

  async call(session: Session, method: string, raw: Record<string, unknown>): Promise<unknown> {
    if (!isServiceMethod(method)) throw new AkcError('INVALID_ARGUMENT', `unknown method ${method}`);
    const parsed = serviceParamsSchemas[method].safeParse(raw);
    if (!parsed.success) throw new AkcError('INVALID_ARGUMENT', `malformed ${method} params: ${describeIssues(parsed.error.issues)}`);
    return this.run(session, method, parsed.data as Record<string, unknown>);
  }

  /** `p` was checked against serviceParamsSchemas[method]. */
  private async run(session: Session, method: ServiceMethod, p: Record<string, unknown>): Promise<unknown> {
    const by = `cli pid ${session.identity.pid} via service`;
    if (method === 'service.info') return this.info();
    if (method === 'vault.init') {
      if (this.deps.host()) throw new AkcError('ALREADY_INITIALIZED', 'the service already has a vault', { hint: 'use `akc passwd`' });
      const password = passwordOf(p);
      try {
        const host = await this.deps.initVault(password, by);
        return { vault: 'created', id: host.vault.id };
      } finally {
        password.fill(0);
      }
    }
    const host = this.deps.host();
    if (!host) throw new AkcError('NOT_INITIALIZED', 'the service has no vault yet', { hint: 'run `akc init`' });
    // Reads need no password, as offline (names, rules and the log are not secret values).
    switch (method) {
      case 'secret.show':
        return secretShow(host, p.name as string);
      case 'grants.list': {
        const now = host.clock.now();
        return { grants: host.grants.list(now, { includeEnded: p.all === true }).map((g) => grantJson(g, now)) };
      }
      case 'audit.verify': {
        const r = host.vault.audit.verify(host.vault.auditKey);
        return { ...r };
      }
      case 'audit.export': {
        const limit = (p.limit as number | undefined) ?? EXPORT_PAGE;
        const entries = host.vault.audit.query({
          afterSeq: (p.afterSeq as number | undefined) ?? 0,
          ...(p.since !== undefined ? { sinceTs: p.since as number } : {}),
          limit,
          order: 'asc',
        });
        const next = entries.length === limit ? entries[entries.length - 1]!.seq : null;
        return { entries: entries.map((e) => ({ ...e, time: new Date(e.ts).toISOString() })), next };
      }
      default:
        break;
    }
    await this.proveHuman(host, p, method, by);
    const admin = new PolicyAdmin(host.vault, by);
    switch (method) {
      case 'secret.set': {
        const name = checkedName(p.name as string);
        const type = p.type as string | undefined;
        if (type !== undefined && !isSecretType(type)) throw new AkcError('INVALID_ARGUMENT', `unknown type ${type}`);
        const value = Buffer.from(p.value as string, 'utf8');
        try {
          const r = host.secrets.set(
            name,
            value,
            {
              ...(type !== undefined && isSecretType(type) ? { type } : {}),
              ...(p.description !== undefined ? { description: p.description as string } : {}),
              ...(p.owner !== undefined ? { owner: p.owner as string } : {}),
              ...(p.tags !== undefined ? { tags: p.tags as string[] } : {}),
            },
            { agent: 'cli', reason: by },
          );
          if (p.canary === true) applyPolicy(host.vault, name, { canary: true }, by);
          return { name, version: r.version, created: r.created };
        } finally {
          value.fill(0);
        }
      }
      case 'secret.rm': {
        const name = p.name as string;
        host.secrets.get(name); // NOT_FOUND
        host.secrets.remove(name, { agent: 'cli', reason: by });
        return { name, deleted: true };
      }
      case 'agent.add': {
        // The host resolves and hashes the executable itself: it must be able to read it
        // (the unit's ProtectHome=read-only, see unit.ts).
        const r = await admin.addAgent(
          {
            name: p.name as string,
            exePath: p.exe as string,
            ...(p.sha256 !== undefined ? { sha256: p.sha256 as string } : {}),
            ...(p.argPattern !== undefined ? { argPattern: p.argPattern as string } : {}),
            ...(p.cwd !== undefined ? { cwdPattern: p.cwd as string } : {}),
          },
          { replace: p.replace === true },
        );
        return { agent: agentJson(r.agent), status: r.status };
      }
      case 'agent.revoke': {
        const r = admin.revokeAgent(p.name as string);
        return { agent: r.agent.name, grants: r.grants, leases: r.leases };
      }
      case 'grant.add': {
        const g = admin.grant({
          agent: p.agent as string,
          secretPattern: p.secret as string,
          scope: p.scope as 'duration' | 'until_lock' | 'always',
          ...(p.durationMs !== undefined ? { durationMs: p.durationMs as number } : {}),
          uses: (p.uses as number | null | undefined) ?? null,
          keepOnRotate: p.keepOnRotate === true,
        });
        return { grant: grantJson(g, admin.now()) };
      }
      case 'grant.rm': {
        const g = admin.ungrant(p.id as string);
        return { grant: grantJson(g, admin.now()) };
      }
    }
    throw new AkcError('INTERNAL', `unhandled ${method}`);
  }

  private info(): ServiceResults['service.info'] {
    const host = this.deps.host();
    return {
      mode: 'service',
      vault: !host ? 'absent' : host.state === 'unlocked' ? 'unlocked' : 'locked',
      serviceUid: this.deps.config.serviceUid,
      allowUid: this.deps.config.allowUid,
      version: HOST_VERSION,
    };
  }

  /**
   * The master password proves the human. It reaches this process only because the CLI
   * first checked (SO_PEERCRED) that the socket's server runs as the service uid. A locked
   * host is unlocked by it, as `akc unlock` would: the changes need the vault key.
   */
  private async proveHuman(host: Host, p: Record<string, unknown>, method: string, by: string): Promise<void> {
    const password = passwordOf(p);
    try {
      if (host.state === 'unlocked') await host.vault.verifyPassword(password);
      else await host.unlockWithPassword(password, by);
    } catch (err) {
      if (isAkcError(err, 'WRONG_PASSWORD'))
        host.record({ event: 'admin.refused', decision: 'deny', reason: `wrong password for ${method} (${by})` });
      throw err;
    } finally {
      password.fill(0);
    }
  }
}

function passwordOf(p: Record<string, unknown>): Buffer {
  const auth = p.auth as { password: string };
  return Buffer.from(auth.password, 'utf8');
}

function checkedName(name: string): string {
  const problem = secretNameProblem(name);
  if (problem) throw new AkcError('INVALID_ARGUMENT', `invalid secret name: ${problem}`);
  return name;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function secretShow(host: Host, name: string): JsonRecord {
  const meta = host.secrets.get(name);
  return {
    name: meta.name,
    type: meta.type,
    description: meta.description,
    owner: meta.owner,
    tags: meta.tags,
    currentVersion: meta.currentVersion,
    createdAt: iso(meta.createdAt),
    updatedAt: iso(meta.updatedAt),
    versions: host.secrets
      .versions(name)
      .map((v) => ({ version: v.version, state: v.state, createdAt: iso(v.createdAt), retireAt: iso(v.retireAt) })),
  };
}

function agentJson(a: AgentRecord): JsonRecord {
  return {
    name: a.name,
    id: a.id,
    exe: a.exePath,
    sha256: a.exeSha256,
    argPattern: a.argPattern,
    cwdPattern: a.cwdPattern,
    createdAt: iso(a.createdAt),
    revokedAt: iso(a.revokedAt),
  };
}

/** The same fields as `akc grants --json` offline. */
function grantJson(g: Grant, now: number): JsonRecord {
  return {
    id: g.id,
    agent: g.agentName,
    program: g.agentId ? null : g.fingerprint,
    exe: g.exePath,
    exeSha256: g.exeSha256,
    secret: g.secretPattern,
    effect: g.effect,
    scope: g.scope,
    expiresAt: iso(g.expiresAt),
    usesLeft: g.usesLeft,
    keepOnRotate: g.keepOnRotate,
    state: grantState(g, now),
    createdAt: iso(g.createdAt),
    createdBy: g.createdBy,
    revokedAt: iso(g.revokedAt),
  };
}
