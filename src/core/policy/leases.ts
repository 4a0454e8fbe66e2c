/**
 * Leases: one per delivered value (id, requester, secret, version, issued, expires).
 * A lease records who holds which version until when, so it can be listed and revoked;
 * revoking tells the holder to stop using the value and lets the guard and the UI act on it.
 */
import { randomFillSync } from 'node:crypto';
import type { Database } from 'better-sqlite3';

export const DEFAULT_LEASE_MS = 60 * 60 * 1000;

export interface Lease {
  id: string;
  agentId: string | null;
  fingerprint: string;
  pid: number | null;
  secretId: string;
  secretName: string;
  version: number;
  issuedAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

interface LeaseRow {
  id: string;
  agent_id: string | null;
  fingerprint: string;
  pid: number | null;
  secret_id: string;
  secret_name: string;
  version: number;
  issued_at: number;
  expires_at: number;
  revoked_at: number | null;
}

function toLease(r: LeaseRow): Lease {
  return {
    id: r.id,
    agentId: r.agent_id,
    fingerprint: r.fingerprint,
    pid: r.pid,
    secretId: r.secret_id,
    secretName: r.secret_name,
    version: r.version,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}

const LEASE_ID_BYTES = 9;
/** CSPRNG bytes for lease ids, drawn in bulk: one randomFillSync per 455 ids instead of one per id. */
const idPool = Buffer.alloc(LEASE_ID_BYTES * 455);
let idPoolAt = idPool.length;

export function newLeaseId(): string {
  if (idPoolAt + LEASE_ID_BYTES > idPool.length) {
    randomFillSync(idPool);
    idPoolAt = 0;
  }
  const id = 'l_' + idPool.toString('base64url', idPoolAt, idPoolAt + LEASE_ID_BYTES);
  // Used bytes are not kept around.
  idPool.fill(0, idPoolAt, idPoolAt + LEASE_ID_BYTES);
  idPoolAt += LEASE_ID_BYTES;
  return id;
}

export class LeaseStore {
  private readonly insertStmt;

  constructor(private readonly db: Database) {
    // Positional parameters: binding by name costs a property lookup per column on every delivery.
    this.insertStmt = db.prepare(
      `INSERT INTO leases (id, agent_id, fingerprint, pid, secret_id, secret_name, version, issued_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Inserts a lease. Call inside the transaction that also writes the delivery's audit entry. */
  insert(l: Omit<Lease, 'revokedAt'>): void {
    this.insertStmt.run(l.id, l.agentId, l.fingerprint, l.pid, l.secretId, l.secretName, l.version, l.issuedAt, l.expiresAt);
  }

  get(id: string): Lease | null {
    const row = this.db.prepare('SELECT * FROM leases WHERE id = ?').get(id) as LeaseRow | undefined;
    return row ? toLease(row) : null;
  }

  /** Live leases, optionally only a requester's. */
  list(now: number, filter: { fingerprint?: string; agentId?: string | null } = {}): Lease[] {
    let sql = 'SELECT * FROM leases WHERE revoked_at IS NULL AND expires_at > @now';
    if (filter.agentId) sql += ' AND agent_id = @agentId';
    else if (filter.fingerprint) sql += ' AND fingerprint = @fingerprint';
    sql += ' ORDER BY issued_at DESC LIMIT 1000';
    return (this.db.prepare(sql).all({ now, agentId: filter.agentId ?? null, fingerprint: filter.fingerprint ?? null }) as LeaseRow[]).map(
      toLease,
    );
  }

  revoke(id: string, now: number): boolean {
    return (
      this.db.prepare('UPDATE leases SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ?').run(now, id, now).changes >
      0
    );
  }

  revokeForAgent(agentId: string, now: number): number {
    return this.db
      .prepare('UPDATE leases SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL AND expires_at > ?')
      .run(now, agentId, now).changes;
  }

  /** Revokes every live lease on a secret (break-glass for one secret). */
  revokeForSecret(secretName: string, now: number): number {
    return this.db
      .prepare('UPDATE leases SET revoked_at = ? WHERE secret_name = ? AND revoked_at IS NULL AND expires_at > ?')
      .run(now, secretName, now).changes;
  }

  revokeAll(now: number): number {
    return this.db.prepare('UPDATE leases SET revoked_at = ? WHERE revoked_at IS NULL AND expires_at > ?').run(now, now).changes;
  }
}
