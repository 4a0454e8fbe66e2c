/**
 * Reading the activity log for the desktop UI: newest-first pages with filters and a
 * total, the rows appended since the last look (for live updates), and per-secret usage
 * (last delivery, who got it). Everything reads the `audit` table directly and stays
 * cheap on large logs: pages walk the primary key (or the agent/secret index) backwards,
 * totals are counted once per filter and then only over new rows, and usage is kept in
 * memory and advanced over new rows only.
 */
import fs from 'node:fs';
import type { Database } from 'better-sqlite3';
import type { ActivityEntry, ActivityPage, VerbInput } from '../../shared/contract.js';
import type { AuditRow } from '../audit/chain.js';
import { auditWhere } from '../audit/log.js';
import { localExportPager, writeAuditExport } from '../views/audit.js';
import { activityEntry, activityRecord } from './views.js';

export type ActivityFilter = Omit<VerbInput<'queryActivity'>, 'beforeSeq' | 'limit'>;

export const DEFAULT_PAGE = 200;
const MAX_TOTAL_CACHE = 32;
const USED_BY_MAX = 10;

interface Where {
  sql: string;
  args: Record<string, unknown>;
}

function whereFor(f: ActivityFilter, extra: { beforeSeq?: number; afterSeq?: number } = {}): Where {
  const { sinceMs, untilMs, ...rest } = f;
  return auditWhere({
    ...rest,
    ...(sinceMs !== undefined ? { sinceTs: sinceMs } : {}),
    ...(untilMs !== undefined ? { untilTs: untilMs } : {}),
    ...extra,
  });
}

interface Usage {
  lastUsedAt: number;
  /** agent label → last delivery time */
  agents: Map<string, number>;
}

export class ActivityReader {
  private readonly totals = new Map<string, { total: number; head: number }>();
  private readonly usage = new Map<string, Usage>();
  private usageSeq = 0;

  constructor(private readonly db: Database) {}

  headSeq(): number {
    return (this.db.prepare('SELECT max(seq) AS s FROM audit').get() as { s: number | null }).s ?? 0;
  }

  page(q: VerbInput<'queryActivity'>): ActivityPage {
    const limit = q.limit ?? DEFAULT_PAGE;
    const { beforeSeq, limit: _limit, ...filter } = q;
    const w = whereFor(filter, beforeSeq !== undefined ? { beforeSeq } : {});
    const rows = this.db.prepare(`SELECT * FROM audit ${w.sql} ORDER BY seq DESC LIMIT ${limit + 1}`).all(w.args) as AuditRow[];
    const more = rows.length > limit;
    const entries = rows.slice(0, limit).map(activityEntry);
    return { entries, total: this.total(filter), nextBeforeSeq: more && entries.length ? entries[entries.length - 1]!.seq : null };
  }

  /** Entries matching `filter`: counted once, then only over rows appended since. */
  total(filter: ActivityFilter): number {
    const key = JSON.stringify(filter, Object.keys(filter).sort());
    const head = this.headSeq();
    const cached = this.totals.get(key);
    if (cached && cached.head === head) return cached.total;
    let total: number;
    if (cached && cached.head < head) {
      const w = whereFor(filter, { afterSeq: cached.head });
      total = cached.total + (this.db.prepare(`SELECT count(*) AS n FROM audit ${w.sql}`).get(w.args) as { n: number }).n;
    } else {
      const w = whereFor(filter);
      total = (this.db.prepare(`SELECT count(*) AS n FROM audit ${w.sql}`).get(w.args) as { n: number }).n;
    }
    if (this.totals.size >= MAX_TOTAL_CACHE) this.totals.delete(this.totals.keys().next().value!);
    this.totals.delete(key);
    this.totals.set(key, { total, head });
    return total;
  }

  /** Rows after `seq`, oldest first, at most `limit`. */
  since(seq: number, limit = 500): ActivityEntry[] {
    return (this.db.prepare(`SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ${limit}`).all(seq) as AuditRow[]).map(activityEntry);
  }

  entry(seq: number): (ActivityEntry & { detail: Record<string, unknown> | null }) | null {
    const row = this.db.prepare('SELECT * FROM audit WHERE seq = ?').get(seq) as AuditRow | undefined;
    if (!row) return null;
    // Raw fields: the service matches them against agents and executables (never shown as is).
    return { ...activityRecord(row), detail: parseDetail(row.detail) };
  }

  /** When this requester (an agent name or program label) last asked for something. */
  lastSeen(label: string): number | null {
    const row = this.db
      .prepare(
        "SELECT ts FROM audit WHERE agent = ? AND event IN ('secret.deliver', 'secret.deny', 'approval.request', 'approval.timeout') ORDER BY seq DESC LIMIT 1",
      )
      .get(label) as { ts: number } | undefined;
    return row?.ts ?? null;
  }

  /** Last delivery and recent recipients of a secret (a deletion resets them). */
  usageOf(secret: string): { lastUsedAt: number | null; usedBy: string[] } {
    this.catchUpUsage();
    const u = this.usage.get(secret);
    if (!u) return { lastUsedAt: null, usedBy: [] };
    const usedBy = [...u.agents.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, USED_BY_MAX)
      .map(([agent]) => agent);
    return { lastUsedAt: u.lastUsedAt, usedBy };
  }

  private catchUpUsage(): void {
    // The first call scans the log once (no event index: one pass); later calls read only new rows.
    const rows = this.db
      .prepare(
        "SELECT seq, ts, event, secret, agent FROM audit WHERE seq > ? AND event IN ('secret.deliver', 'secret.delete') ORDER BY seq",
      )
      .all(this.usageSeq) as { seq: number; ts: number; event: string; secret: string | null; agent: string | null }[];
    for (const r of rows) {
      this.usageSeq = r.seq;
      if (!r.secret) continue;
      if (r.event === 'secret.delete') {
        this.usage.delete(r.secret);
        continue;
      }
      let u = this.usage.get(r.secret);
      if (!u) this.usage.set(r.secret, (u = { lastUsedAt: r.ts, agents: new Map() }));
      u.lastUsedAt = Math.max(u.lastUsedAt, r.ts);
      if (r.agent) u.agents.set(r.agent, r.ts);
    }
    this.usageSeq = Math.max(this.usageSeq, rows.length ? rows[rows.length - 1]!.seq : 0);
  }

  /**
   * Writes the whole log as JSON Lines (oldest first) to `file`, created 0600. Each line
   * carries the chain hashes so the export can be checked independently. Returns the count.
   */
  async exportJsonl(file: string): Promise<number> {
    const out = fs.createWriteStream(file, { mode: 0o600, flags: 'w' });
    const done = new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.once('finish', resolve);
    });
    done.catch(() => undefined);
    const write = (text: string): Promise<void> =>
      out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
    try {
      // The exporter `akc audit export` uses (core/views/audit.ts): the same bytes. Pages,
      // never an open iterator across an await: the host keeps using this connection meanwhile.
      const count = await writeAuditExport(localExportPager(this.db), write);
      out.end();
      await done;
      return count;
    } catch (err) {
      out.destroy();
      throw err;
    }
  }
}

function parseDetail(text: string | null): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
