/**
 * Reading the activity log a page at a time, for `akc audit` (and --follow) and
 * `akc audit export`. The offline CLI reads vault.db with these functions and the hardened
 * host answers the desktop user's CLI with them, so both modes page, filter and export
 * alike. Entries hold names, decisions and ids, never a value.
 */
import type { Database } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import type { AuditEntry, AuditRow } from '../audit/chain.js';
import type { AuditLog, AuditQuery } from '../audit/log.js';
import { fittingCount } from './page.js';
import type { JsonRow } from './secrets.js';

export interface AuditPage {
  /** In the query's order. */
  entries: AuditEntry[];
  /** The seq to continue from (afterSeq when ascending, beforeSeq when descending), or null: nothing more. */
  next: number | null;
  /** The newest seq in the log when the page was read. */
  head: number;
}

/** One page of `q` (its limit, cut further to `budget` bytes of JSON). */
export function auditPage(log: AuditLog, q: AuditQuery & { limit: number }, budget = Infinity): AuditPage {
  const head = log.headSeq();
  // Nothing newer than the head reported with it (another process may append meanwhile).
  const found = log.query({ ...q, beforeSeq: Math.min(q.beforeSeq ?? head + 1, head + 1) });
  const n = fittingCount(found, budget);
  const entries = found.slice(0, n);
  const more = n < found.length || found.length === q.limit;
  return { entries, next: more && entries.length > 0 ? entries[entries.length - 1]!.seq : null, head };
}

/** An entry as `akc audit export` prints it: with its chain hashes. */
export function exportRowJson(r: AuditRow): JsonRow {
  let detail: unknown = null;
  if (r.detail !== null) {
    try {
      detail = JSON.parse(r.detail);
    } catch {
      detail = { unparsable: true };
    }
  }
  return {
    seq: r.seq,
    ts: r.ts,
    time: new Date(r.ts).toISOString(),
    event: r.event,
    agent: r.agent,
    pid: r.pid,
    exe: r.exe,
    secret: r.secret,
    version: r.version,
    decision: r.decision,
    purpose: r.purpose,
    reason: r.reason,
    detail,
    prevHash: Buffer.isBuffer(r.prev_hash) ? r.prev_hash.toString('hex') : null,
    hash: Buffer.isBuffer(r.hash) ? r.hash.toString('hex') : null,
  };
}

/**
 * Entries with seq > afterSeq (and ts >= since, when since is set), oldest first, at most
 * `limit` (cut to `budget`). Without `since` every row goes, whatever its time says: an
 * export of a tampered log must show the tampered rows too.
 */
export function exportPage(
  db: Database,
  opts: { afterSeq: number; since: number; limit: number },
  budget = Infinity,
): { rows: JsonRow[]; next: number | null } {
  const found = (
    opts.since
      ? db.prepare('SELECT * FROM audit WHERE seq > ? AND ts >= ? ORDER BY seq LIMIT ?').all(opts.afterSeq, opts.since, opts.limit)
      : db.prepare('SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?').all(opts.afterSeq, opts.limit)
  ).map((r) => exportRowJson(r as AuditRow));
  const n = fittingCount(found, budget);
  const rows = found.slice(0, n);
  const more = n < found.length || found.length === opts.limit;
  return { rows, next: more && rows.length > 0 ? (rows[rows.length - 1]!.seq as number) : null };
}

/** Rows as JSON Lines: one object per line, each line ending in a newline. */
export function exportLines(rows: readonly JsonRow[]): string {
  return rows.length ? rows.map((r) => JSON.stringify(r)).join('\n') + '\n' : '';
}

/** A source of export pages: read here from vault.db, or asked of the hardened host. */
export type ExportPager = (afterSeq: number) => Promise<{ rows: JsonRow[]; next: number | null }>;

/** Pages of vault.db itself (every entry, or those since `since`). */
export function localExportPager(db: Database, since = 0, pageSize = 1000): ExportPager {
  return (afterSeq) => Promise.resolve(exportPage(db, { afterSeq, since, limit: pageSize }));
}

/**
 * The JSON Lines export (`akc audit export`, the desktop's "Export log", the hardened
 * host's pages): every page's rows through `write`, oldest first. The one exporter, so
 * every mode writes the same bytes for the same log. Returns the number of entries.
 */
export async function writeAuditExport(pages: ExportPager, write: (text: string) => Promise<void>): Promise<number> {
  let afterSeq = 0;
  let count = 0;
  for (;;) {
    const p = await pages(afterSeq);
    if (p.rows.length) await write(exportLines(p.rows));
    count += p.rows.length;
    if (p.next === null) return count;
    if (p.next <= afterSeq) throw new AkcError('PROTOCOL', 'failed to export the audit log: a page did not advance');
    afterSeq = p.next;
  }
}
