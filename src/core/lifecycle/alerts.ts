/**
 * Alerts: things that wait for a human — a scheduled rotation that failed for good, a
 * manual rotation that is due, an anomaly guard rule that fired. Stored in the `alerts`
 * table (metadata only, never a value), listed by `akc status` / `akc alerts` and the
 * app, cleared by `akc alerts clear` (or, for rotation alerts, by the next rotation).
 */
import type { Database } from 'better-sqlite3';
import { durableTransaction } from '../store/database.js';
import type { AuditFields } from '../audit/chain.js';
import type { Clock } from '../clock.js';

/**
 * What clearing alerts needs of the vault (a Vault is one). Not the Vault type itself: the
 * audit log and the row-integrity checks raise alerts, and the vault composes both.
 */
export interface AuditedDatabase {
  readonly db: Database;
  readonly clock: Clock;
  auditInTransaction(entries: readonly AuditFields[]): void;
}

export type AlertKind = 'rotation.failed' | 'rotation.due' | 'guard.fired' | 'tamper.row';

export interface Alert {
  id: number;
  ts: number;
  kind: AlertKind;
  secret: string | null;
  rule: string | null;
  agent: string | null;
  message: string;
  detail: Record<string, unknown> | null;
  clearedAt: number | null;
  clearedBy: string | null;
}

export interface AlertInput {
  kind: AlertKind;
  secret?: string | null;
  rule?: string | null;
  agent?: string | null;
  message: string;
  detail?: Record<string, unknown> | null;
}

interface Row {
  id: number;
  ts: number;
  kind: AlertKind;
  secret: string | null;
  rule: string | null;
  agent: string | null;
  message: string;
  detail: string | null;
  cleared_at: number | null;
  cleared_by: string | null;
}

function toAlert(r: Row): Alert {
  let detail: Record<string, unknown> | null = null;
  if (r.detail) {
    try {
      detail = JSON.parse(r.detail) as Record<string, unknown>;
    } catch {
      detail = null;
    }
  }
  return {
    id: r.id,
    ts: r.ts,
    kind: r.kind,
    secret: r.secret,
    rule: r.rule,
    agent: r.agent,
    message: r.message,
    detail,
    clearedAt: r.cleared_at,
    clearedBy: r.cleared_by,
  };
}

/** Inserts an alert. Call inside the transaction that audits it. */
export function insertAlert(db: Database, input: AlertInput, now: number): Alert {
  const info = db
    .prepare('INSERT INTO alerts (ts, kind, secret, rule, agent, message, detail) VALUES (?, ?, ?, ?, ?, ?, ?)')
    .run(
      now,
      input.kind,
      input.secret ?? null,
      input.rule ?? null,
      input.agent ?? null,
      input.message,
      input.detail ? JSON.stringify(input.detail) : null,
    );
  return toAlert(db.prepare('SELECT * FROM alerts WHERE id = ?').get(info.lastInsertRowid) as Row);
}

export function listAlerts(db: Database, opts: { all?: boolean; kind?: AlertKind; limit?: number } = {}): Alert[] {
  const where: string[] = [];
  if (!opts.all) where.push('cleared_at IS NULL');
  if (opts.kind) where.push('kind = @kind');
  const sql = `SELECT * FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT @limit`;
  return (db.prepare(sql).all({ kind: opts.kind ?? null, limit: opts.limit ?? 500 }) as Row[]).map(toAlert);
}

export function hasOpenAlert(db: Database, kind: AlertKind, secret: string): boolean {
  return db.prepare('SELECT 1 FROM alerts WHERE kind = ? AND secret = ? AND cleared_at IS NULL LIMIT 1').get(kind, secret) !== undefined;
}

/** Clears one alert (by id) or all open ones; audited. Returns how many were cleared. */
export function clearAlerts(vault: AuditedDatabase, which: { id: number } | { all: true }, by: string): number {
  const now = vault.clock.now();
  return durableTransaction(vault.db, () => {
    const r =
      'id' in which
        ? vault.db.prepare('UPDATE alerts SET cleared_at = ?, cleared_by = ? WHERE id = ? AND cleared_at IS NULL').run(now, by, which.id)
        : vault.db.prepare('UPDATE alerts SET cleared_at = ?, cleared_by = ? WHERE cleared_at IS NULL').run(now, by);
    if (r.changes > 0) {
      vault.auditInTransaction([
        { event: 'alert.clear', reason: `${'id' in which ? `alert ${which.id}` : `${r.changes} alert(s)`} cleared by ${by}` },
      ]);
    }
    return r.changes;
  });
}
