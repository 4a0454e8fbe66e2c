/**
 * Grants: (requester, secret or glob, scope, expiry). Deny by default; a deny grant
 * ("deny & block") always wins over an allow. Read from the database on every request,
 * so changes made by `akc grant` in another process apply at once.
 */
import { randomBytes } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import { globMatch } from './glob.js';
import type { Requester } from './requester.js';

export type GrantScope = 'once' | 'duration' | 'until_lock' | 'always';
export type GrantEffect = 'allow' | 'deny';

export interface Grant {
  id: string;
  agentId: string | null;
  agentName: string | null;
  fingerprint: string | null;
  exePath: string | null;
  exeSha256: string | null;
  secretPattern: string;
  effect: GrantEffect;
  scope: GrantScope;
  expiresAt: number | null;
  usesLeft: number | null;
  keepOnRotate: boolean;
  createdAt: number;
  createdBy: string;
  revokedAt: number | null;
}

export interface GrantInput {
  agentId?: string | null;
  fingerprint?: string | null;
  exePath?: string | null;
  exeSha256?: string | null;
  secretPattern: string;
  effect: GrantEffect;
  scope: GrantScope;
  expiresAt?: number | null;
  usesLeft?: number | null;
  keepOnRotate?: boolean;
  createdBy: string;
}

interface GrantRow {
  id: string;
  agent_id: string | null;
  agent_name: string | null;
  fingerprint: string | null;
  exe_path: string | null;
  exe_sha256: string | null;
  secret_pattern: string;
  effect: GrantEffect;
  scope: GrantScope;
  expires_at: number | null;
  uses_left: number | null;
  keep_on_rotate: number;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
}

function toGrant(r: GrantRow): Grant {
  return {
    id: r.id,
    agentId: r.agent_id,
    agentName: r.agent_name,
    fingerprint: r.fingerprint,
    exePath: r.exe_path,
    exeSha256: r.exe_sha256,
    secretPattern: r.secret_pattern,
    effect: r.effect,
    scope: r.scope,
    expiresAt: r.expires_at,
    usesLeft: r.uses_left,
    keepOnRotate: r.keep_on_rotate === 1,
    createdAt: r.created_at,
    createdBy: r.created_by,
    revokedAt: r.revoked_at,
  };
}

// The agent name as a scalar subquery rather than a LEFT JOIN (agents.id is the primary key,
// so the result is the same): with a bound parameter in the WHERE clause SQLite (STAT4)
// re-plans the join on every call, which made decide() ~8x slower.
const SELECT = 'SELECT g.*, (SELECT a.name FROM agents a WHERE a.id = g.agent_id) AS agent_name FROM grants g';

export function newGrantId(): string {
  return 'g_' + randomBytes(6).toString('hex');
}

export class GrantStore {
  /** Prepared once: decide() runs on every secret.get, and preparing costs more than the query. */
  private decideStmt: Statement | null = null;
  private consumeStmt: Statement | null = null;

  constructor(private readonly db: Database) {}

  /** Inserts a grant. Call inside the caller's (durable) transaction. */
  create(input: GrantInput, now: number): Grant {
    if (!input.agentId && !input.fingerprint) throw new AkcError('INVALID_ARGUMENT', 'a grant needs an agent or a program');
    const id = newGrantId();
    this.db
      .prepare(
        `INSERT INTO grants (id, agent_id, fingerprint, exe_path, exe_sha256, secret_pattern, effect, scope, expires_at, uses_left, keep_on_rotate, created_at, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        input.agentId ?? null,
        input.agentId ? null : (input.fingerprint ?? null),
        input.exePath ?? null,
        input.exeSha256 ?? null,
        input.secretPattern,
        input.effect,
        input.scope,
        input.expiresAt ?? null,
        input.usesLeft ?? null,
        input.keepOnRotate ? 1 : 0,
        now,
        input.createdBy,
      );
    return this.get(id)!;
  }

  get(id: string): Grant | null {
    const row = this.db.prepare(`${SELECT} WHERE g.id = ?`).get(id) as GrantRow | undefined;
    return row ? toGrant(row) : null;
  }

  /** Live grants (not revoked, not expired, uses left). */
  list(now: number, opts: { includeEnded?: boolean } = {}): Grant[] {
    const rows = opts.includeEnded
      ? (this.db.prepare(`${SELECT} ORDER BY g.created_at`).all() as GrantRow[])
      : (this.db
          .prepare(
            `${SELECT} WHERE g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > ?) AND (g.uses_left IS NULL OR g.uses_left > 0) ORDER BY g.created_at`,
          )
          .all(now) as GrantRow[]);
    return rows.map(toGrant);
  }

  /** Returns whether a live grant was revoked. */
  revoke(id: string, now: number): boolean {
    return this.db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(now, id).changes > 0;
  }

  revokeForAgent(agentId: string, now: number): number {
    return this.db.prepare('UPDATE grants SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL').run(now, agentId).changes;
  }

  /** Until-lock grants end when the vault locks. */
  revokeUntilLock(now: number): number {
    return this.db.prepare("UPDATE grants SET revoked_at = ? WHERE scope = 'until_lock' AND revoked_at IS NULL").run(now).changes;
  }

  /**
   * The grant that decides this request, if any: a matching deny wins; else the most
   * specific matching allow (exact name before globs). A grant recorded with an
   * executable hash stops applying when the requester's hash differs.
   */
  decide(requester: Requester, secretName: string, now: number): Grant | null {
    this.decideStmt ??= this.db.prepare(
      `${SELECT} WHERE g.revoked_at IS NULL AND (g.expires_at IS NULL OR g.expires_at > @now) AND (g.uses_left IS NULL OR g.uses_left > 0)
           AND (g.agent_id = @agentId OR g.fingerprint = @fingerprint)`,
    );
    const rows = this.decideStmt.all({ now, agentId: requester.agent?.id ?? null, fingerprint: requester.fingerprint }) as GrantRow[];
    let allow: GrantRow | null = null;
    for (const row of rows) {
      if (!globMatch(row.secret_pattern, secretName)) continue;
      if (row.exe_sha256 && row.exe_sha256 !== requester.identity.exeSha256) continue;
      if (row.effect === 'deny') return toGrant(row);
      if (!allow || (allow.secret_pattern !== secretName && row.secret_pattern === secretName)) allow = row;
    }
    return allow ? toGrant(allow) : null;
  }

  /** Uses up one use of a counted grant. Returns false when none was left (raced). */
  consume(grant: Grant): boolean {
    if (grant.usesLeft === null) return true;
    this.consumeStmt ??= this.db.prepare('UPDATE grants SET uses_left = uses_left - 1 WHERE id = ? AND uses_left > 0');
    return this.consumeStmt.run(grant.id).changes > 0;
  }

  /** Whether this program was approved before, and whether with the same executable hash. */
  history(exePath: string | null, exeSha256: string | null): 'known' | 'changed' | 'new' {
    if (!exePath) return 'new';
    const rows = this.db.prepare("SELECT DISTINCT exe_sha256 FROM grants WHERE exe_path = ? AND effect = 'allow'").all(exePath) as {
      exe_sha256: string | null;
    }[];
    if (rows.length === 0) return 'new';
    return rows.some((r) => r.exe_sha256 === exeSha256) ? 'known' : 'changed';
  }
}
