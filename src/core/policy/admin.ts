/**
 * Policy administration on an unlocked vault: agents, grants, blocks and leases. Every
 * change runs in one durable transaction together with its audit entry, so a change and
 * its record commit (or fail) together. The caller proves the human is present (the CLI
 * asks for the master password every time); these functions refuse a locked vault.
 *
 * Nothing here caches: a running host reads agents and grants from the database on every
 * request, so a change made here applies there at once.
 */
import { AkcError } from '../../shared/errors.js';
import { secretNameProblem } from '../../shared/secrets.js';
import type { AuditFields } from '../audit/chain.js';
import { durableTransaction } from '../store/database.js';
import type { Vault } from '../vault/vault.js';
import { AgentRegistry, prepareAgent, type AgentInput, type AgentRecord } from './agents.js';
import { globMatch, isGlob } from './glob.js';
import { GrantStore, type Grant, type GrantScope } from './grants.js';
import { LeaseStore, type Lease } from './leases.js';
import { blockInTransaction, liveBlocks, unblockRequester } from './block.js';

// Blocks have one rule, in block.ts; re-exported for the callers that import them from here.
export { BLOCK_PATTERN, isBlock } from './block.js';

const SECRET_PATTERN_CHARS = /^[A-Za-z0-9_.\-/*?]{1,128}$/;

/** Returns a reason when `pattern` is not a valid secret name or glob, else null. */
export function secretPatternProblem(pattern: string): string | null {
  if (!isGlob(pattern)) return secretNameProblem(pattern);
  if (!SECRET_PATTERN_CHARS.test(pattern)) return 'a pattern may only contain A-Z a-z 0-9 _ . - / and the wildcards * ** ?';
  return null;
}

export function validateSecretPattern(pattern: string): void {
  const problem = secretPatternProblem(pattern);
  if (problem) throw new AkcError('INVALID_ARGUMENT', `invalid secret or pattern ${JSON.stringify(pattern)}: ${problem}`);
}

/** What `prepareAgent` returns: a validated agent definition with its resolved path. */
export type PreparedAgent = Omit<AgentRecord, 'id' | 'createdAt' | 'revokedAt'>;

export interface AddedAgent {
  agent: AgentRecord;
  status: 'added' | 'replaced' | 'restored';
}

export interface GrantRequest {
  agent: string;
  secretPattern: string;
  scope: Extract<GrantScope, 'duration' | 'until_lock' | 'always'>;
  /** For scope 'duration'. */
  durationMs?: number;
  uses?: number | null;
  keepOnRotate?: boolean;
}

export class PolicyAdmin {
  readonly agents: AgentRegistry;
  readonly grants: GrantStore;
  readonly leases: LeaseStore;

  constructor(
    readonly vault: Vault,
    /** Who makes the changes, for the audit log ("cli"). */
    private readonly by: string,
  ) {
    this.agents = new AgentRegistry(vault.db);
    this.grants = new GrantStore(vault.db);
    this.leases = new LeaseStore(vault.db);
  }

  now(): number {
    return this.vault.clock.now();
  }

  /** A live (not revoked) agent, or NOT_FOUND. */
  liveAgent(name: string): AgentRecord {
    const agent = this.agents.find(name);
    if (!agent) throw new AkcError('NOT_FOUND', `no agent named ${name}`, { hint: 'see `akc agent list`, or add it with `akc agent add`' });
    if (agent.revokedAt !== null) {
      throw new AkcError('NOT_FOUND', `agent ${name} was revoked`, { hint: `add it again with \`akc agent add ${name} --exe PATH\`` });
    }
    return agent;
  }

  /** The live block grants of an agent. */
  blocksOf(agentId: string): Grant[] {
    return liveBlocks(this.vault, { kind: 'agent', agentId });
  }

  /**
   * Registers an agent. A live agent of that name is an error unless `replace` is set
   * (then its rules change and its grants stay); a revoked one is brought back, without
   * its old grants.
   */
  async addAgent(input: AgentInput, opts: { replace?: boolean } = {}): Promise<AddedAgent> {
    return this.addPreparedAgent(await prepareAgent(input), opts);
  }

  /** `addAgent` for a definition already resolved with `prepareAgent` (so its errors come first). */
  addPreparedAgent(prepared: PreparedAgent, opts: { replace?: boolean } = {}): AddedAgent {
    this.vault.requireKey();
    return this.change(() => {
      const existing = this.agents.find(prepared.name);
      if (existing && existing.revokedAt === null && !opts.replace) {
        throw new AkcError('ALREADY_EXISTS', `agent ${prepared.name} already exists`, {
          hint: 'pass --replace to change its rules (its grants stay), or pick another name',
        });
      }
      const status = !existing ? 'added' : existing.revokedAt === null ? 'replaced' : 'restored';
      const agent = this.agents.upsert(prepared, this.now());
      this.audit({
        event: 'agent.add',
        agent: agent.name,
        exe: agent.exePath,
        reason: `${status} by ${this.by}`,
        detail: { agentId: agent.id, sha256: agent.exeSha256 ? 'pinned' : 'not pinned' },
      });
      return { agent, status };
    });
  }

  /** Revokes an agent with all its grants and leases, in one transaction. */
  revokeAgent(name: string): { agent: AgentRecord; grants: number; leases: number } {
    this.vault.requireKey();
    return this.change(() => {
      const agent = this.liveAgent(name);
      const now = this.now();
      const grants = this.grants.revokeForAgent(agent.id, now);
      const leases = this.leases.revokeForAgent(agent.id, now);
      this.agents.revoke(agent.id, now);
      this.audit({
        event: 'agent.revoke',
        agent: agent.name,
        exe: agent.exePath,
        reason: `by ${this.by}`,
        detail: { agentId: agent.id, grantsRevoked: grants, leasesRevoked: leases },
      });
      return { agent: this.agents.get(name), grants, leases };
    });
  }

  /** Grants an agent a secret (or glob). Records the agent's pinned executable hash, if any. */
  grant(req: GrantRequest): Grant {
    validateSecretPattern(req.secretPattern);
    if (req.scope === 'duration' && !(req.durationMs && req.durationMs > 0)) {
      throw new AkcError('INVALID_ARGUMENT', 'a duration grant needs a positive duration');
    }
    this.vault.requireKey();
    return this.change(() => {
      const agent = this.liveAgent(req.agent);
      const now = this.now();
      const g = this.grants.create(
        {
          agentId: agent.id,
          exePath: agent.exePath,
          exeSha256: agent.exeSha256,
          secretPattern: req.secretPattern,
          effect: 'allow',
          scope: req.scope,
          expiresAt: req.scope === 'duration' ? now + req.durationMs! : null,
          usesLeft: req.uses ?? null,
          keepOnRotate: req.keepOnRotate ?? false,
          createdBy: this.by,
        },
        now,
      );
      this.audit({
        event: 'grant.add',
        agent: agent.name,
        secret: g.secretPattern,
        decision: 'allow',
        reason: `${describeScope(g)} by ${this.by}`,
        detail: grantDetail(g),
      });
      return g;
    });
  }

  /** A grant that still applies: NOT_FOUND when there is none, an error when it ended. */
  liveGrant(id: string): Grant {
    const g = this.grants.get(id);
    if (!g) throw new AkcError('NOT_FOUND', `no grant ${id}`, { hint: 'see `akc grants`' });
    const state = grantState(g, this.now());
    if (state !== 'live') throw new AkcError('INVALID_ARGUMENT', `grant ${id} already ended (${state})`);
    return g;
  }

  /** Names of stored secrets a pattern matches (to warn about grants that match nothing yet). */
  secretsMatching(pattern: string): string[] {
    const names = this.vault.db.prepare('SELECT name FROM secrets ORDER BY name').pluck().all() as string[];
    return names.filter((n) => globMatch(pattern, n));
  }

  /** Revokes one grant. NOT_FOUND when there is none; an error when it already ended. */
  ungrant(id: string): Grant {
    this.vault.requireKey();
    return this.change(() => {
      const g = this.liveGrant(id);
      this.grants.revoke(id, this.now());
      this.audit({
        event: 'grant.revoke',
        agent: g.agentName ?? g.fingerprint,
        exe: g.exePath,
        secret: g.secretPattern,
        decision: g.effect,
        reason: `by ${this.by}`,
        detail: { grant: g.id },
      });
      return this.grants.get(id)!;
    });
  }

  /** Blocks an agent (block.ts: a deny grant on every secret). Returns the existing block when there is one. */
  block(name: string): { grant: Grant; created: boolean } {
    this.vault.requireKey();
    return this.change(() => {
      const agent = this.liveAgent(name);
      const r = blockInTransaction(this.vault, { kind: 'agent', agentId: agent.id }, this.by);
      return { grant: r.grant, created: r.created };
    });
  }

  /** Lifts an agent's blocks. Returns the revoked block grants (none when it was not blocked). */
  unblock(name: string): Grant[] {
    this.vault.requireKey();
    const agent = this.liveAgent(name);
    return unblockRequester(this.vault, { kind: 'agent', agentId: agent.id }, this.by).grants;
  }

  /** A lease that is still live: NOT_FOUND when there is none, an error when it ended. */
  liveLease(id: string): Lease {
    const lease = this.leases.get(id);
    if (!lease) throw new AkcError('NOT_FOUND', `no lease ${id}`, { hint: 'see `akc leases`' });
    if (lease.revokedAt !== null) throw new AkcError('INVALID_ARGUMENT', `lease ${id} already ended (revoked)`);
    if (lease.expiresAt <= this.now()) throw new AkcError('INVALID_ARGUMENT', `lease ${id} already ended (expired)`);
    return lease;
  }

  /** Revokes a live lease. */
  revokeLease(id: string): Lease {
    this.vault.requireKey();
    return this.change(() => {
      const lease = this.liveLease(id);
      const now = this.now();
      this.leases.revoke(id, now);
      const agent = lease.agentId ? this.agents.byId(lease.agentId) : null;
      this.audit({
        event: 'lease.revoke',
        agent: agent?.name ?? lease.fingerprint,
        pid: lease.pid,
        secret: lease.secretName,
        version: lease.version,
        reason: `by ${this.by}`,
        detail: { lease: lease.id },
      });
      return this.leases.get(id)!;
    });
  }

  private change<T>(fn: () => T): T {
    return durableTransaction(this.vault.db, fn);
  }

  private audit(fields: AuditFields): void {
    this.vault.auditInTransaction([fields]);
  }
}

export type GrantState = 'live' | 'revoked' | 'expired' | 'used up';

export function grantState(g: Pick<Grant, 'revokedAt' | 'expiresAt' | 'usesLeft'>, now: number): GrantState {
  if (g.revokedAt !== null) return 'revoked';
  if (g.expiresAt !== null && g.expiresAt <= now) return 'expired';
  if (g.usesLeft !== null && g.usesLeft <= 0) return 'used up';
  return 'live';
}

export function describeScope(g: Pick<Grant, 'scope' | 'expiresAt'>): string {
  switch (g.scope) {
    case 'duration':
      return `until ${new Date(g.expiresAt ?? 0).toISOString()}`;
    case 'until_lock':
      return 'until lock';
    case 'always':
      return 'always';
    case 'once':
      return 'once';
  }
}

function grantDetail(g: Grant): Record<string, unknown> {
  return {
    grant: g.id,
    scope: g.scope,
    ...(g.expiresAt !== null ? { expiresAt: new Date(g.expiresAt).toISOString() } : {}),
    ...(g.usesLeft !== null ? { uses: g.usesLeft } : {}),
    ...(g.keepOnRotate ? { keepOnRotate: true } : {}),
    ...(g.exeSha256 ? { exeSha256: g.exeSha256 } : {}),
  };
}
