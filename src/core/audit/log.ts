/**
 * The tamper-evident activity log (DESIGN §7): append, checkpoint, query, verify.
 *
 * Several processes may append to one vault.db (the host and offline admin commands),
 * so the chain head is always read inside the writing transaction, never cached.
 */
import type { Database, Statement } from 'better-sqlite3';
import { cachedStatement } from '../store/database.js';
import { constantTimeEqual } from '../crypto/keys.js';
import { hmac } from '../crypto/vault-keys.js';
import { checkpointMessage, entryHash, GENESIS_HASH, HASH_BYTES, type AuditEntry, type AuditFields, type AuditRow } from './chain.js';

/** Keep every Nth checkpoint forever; the head checkpoint is replaced as the log grows. */
const CHECKPOINT_EVERY = 1024;
const MAX_TEXT = 2000;

export interface AuditQuery {
  agent?: string;
  secret?: string;
  event?: string;
  decision?: string;
  sinceTs?: number;
  untilTs?: number;
  afterSeq?: number;
  beforeSeq?: number;
  text?: string;
  limit?: number;
  order?: 'asc' | 'desc';
}

interface StoredCheckpoint {
  seq: number;
  hash: Buffer;
  mac: Buffer;
}

/**
 * The WHERE clause for an audit filter (shared by the CLI's queries and the desktop's
 * activity pages). Values are bound, never spliced; unset or empty fields are ignored.
 */
export function auditWhere(q: Omit<AuditQuery, 'limit' | 'order'>): { sql: string; args: Record<string, unknown> } {
  const parts: string[] = [];
  const args: Record<string, unknown> = {};
  const add = (cond: string, key: string, v: unknown): void => {
    if (v === undefined || v === '') return;
    parts.push(cond);
    args[key] = v;
  };
  add('agent = @agent', 'agent', q.agent);
  add('secret = @secret', 'secret', q.secret);
  add('event = @event', 'event', q.event);
  add('decision = @decision', 'decision', q.decision);
  add('ts >= @sinceTs', 'sinceTs', q.sinceTs);
  add('ts <= @untilTs', 'untilTs', q.untilTs);
  add('seq > @afterSeq', 'afterSeq', q.afterSeq);
  add('seq < @beforeSeq', 'beforeSeq', q.beforeSeq);
  add(
    "instr(lower(coalesce(agent,'') || ' ' || event || ' ' || coalesce(secret,'') || ' ' || coalesce(exe,'') || ' ' || " +
      "coalesce(purpose,'') || ' ' || coalesce(reason,'') || ' ' || coalesce(decision,'') || ' ' || coalesce(pid,'')), lower(@text)) > 0",
    'text',
    q.text,
  );
  return { sql: parts.length ? 'WHERE ' + parts.join(' AND ') : '', args };
}

export type VerifyResult =
  | { ok: true; entries: number; checkpointsVerified: number; macChecked: boolean }
  | { ok: false; entries: number; firstBadSeq: number; problem: string; macChecked: boolean };

/** A checkpoint this AuditLog signed: its MAC is known for (seq, hash) under `key`. */
interface SignedCheckpoint {
  seq: number;
  hash: Buffer;
  mac: Buffer;
  /** The MAC key by reference (the vault zeroes it in place on lock; no copy is kept). */
  key: Buffer;
}

export class AuditLog {
  private readonly insert: Statement;
  private readonly head: Statement;
  /**
   * The last checkpoint this connection wrote. Only a cache of hmac(key, seq‖hash): every
   * check still reads the checkpoint row and the head from the database in the writing
   * transaction, so another process's writes (or a rolled-back transaction) are seen.
   */
  private signed: SignedCheckpoint | null = null;

  constructor(private readonly db: Database) {
    this.insert = db.prepare(
      `INSERT INTO audit (seq, ts, event, agent, pid, exe, secret, version, decision, purpose, reason, detail, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.head = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
  }

  /**
   * Appends entries. Must run inside a write transaction the caller owns (so the entry
   * commits atomically with the change it records). With `macKey`, the new head is
   * checkpointed.
   */
  appendInTransaction(entries: readonly AuditFields[], ts: number, macKey: Buffer | null): AuditEntry[] {
    if (!this.db.inTransaction) throw new Error('audit append outside a transaction');
    const last = this.head.get() as { seq: number; hash: Buffer } | undefined;
    let seq = last?.seq ?? 0;
    let prev: Buffer = last?.hash ?? GENESIS_HASH;
    // Only extend the signature over a head that still links to the last signed
    // checkpoint: otherwise re-signing would bless a chain someone rewrote meanwhile.
    const cp = macKey !== null && entries.length > 0 ? this.latestCheckpoint() : undefined;
    const sign = macKey !== null && entries.length > 0 && this.headLinksToCheckpoint(last, cp, macKey);
    const out: AuditEntry[] = [];
    for (const fields of entries) {
      seq += 1;
      const row = toRow(seq, ts, fields) as AuditRow;
      const hash = entryHash(prev, row);
      row.prev_hash = prev;
      row.hash = hash;
      // Positional: binding 14 columns by name costs a lookup each.
      this.insert.run(
        row.seq,
        row.ts,
        row.event,
        row.agent,
        row.pid,
        row.exe,
        row.secret,
        row.version,
        row.decision,
        row.purpose,
        row.reason,
        row.detail,
        row.prev_hash,
        row.hash,
      );
      out.push(fromRow(row));
      prev = hash;
    }
    if (sign && out.length > 0) this.checkpoint(seq, prev, ts, macKey!, cp);
    return out;
  }

  /** Appends in its own transaction. */
  append(fields: AuditFields, ts: number, macKey: Buffer | null): AuditEntry {
    return this.db.transaction(() => this.appendInTransaction([fields], ts, macKey)[0]!).immediate();
  }

  /** Checkpoints the current head (e.g. right after unlock). */
  checkpointHead(ts: number, macKey: Buffer): void {
    this.db
      .transaction(() => {
        const last = this.head.get() as { seq: number; hash: Buffer } | undefined;
        if (last && this.headLinksToCheckpoint(last, this.latestCheckpoint(), macKey)) this.checkpoint(last.seq, last.hash, ts, macKey);
      })
      .immediate();
  }

  /**
   * Whether the chain from the latest signed checkpoint to `head` is intact: the
   * checkpoint's MAC is valid, its entry still has the signed hash, and every entry after
   * it links and hashes correctly. Costs only the entries appended since the checkpoint
   * (none, in a host that checkpoints every append).
   */
  private headLinksToCheckpoint(
    head: { seq: number; hash: Buffer } | undefined,
    cp: StoredCheckpoint | undefined,
    macKey: Buffer,
  ): boolean {
    if (!cp) return head === undefined || this.chainValidFrom(0, GENESIS_HASH, head.seq);
    if (!this.macIsValid(cp, macKey)) return false;
    if (!head || head.seq < cp.seq) return false;
    // The head row is the row at cp.seq when they coincide (a host checkpoints every append).
    const at =
      head.seq === cp.seq
        ? head
        : (cachedStatement(this.db, 'SELECT hash FROM audit WHERE seq = ?').get(cp.seq) as { hash: Buffer } | undefined);
    if (!at || !constantTimeEqual(at.hash, cp.hash)) return false;
    return head.seq === cp.seq || this.chainValidFrom(cp.seq, cp.hash, head.seq);
  }

  private latestCheckpoint(): StoredCheckpoint | undefined {
    return cachedStatement(this.db, 'SELECT seq, hash, mac FROM audit_checkpoints ORDER BY seq DESC LIMIT 1').get() as
      StoredCheckpoint | undefined;
  }

  /** Whether cp.mac is hmac(macKey, seq‖hash): recomputed unless it is the MAC this log computed itself. */
  private macIsValid(cp: StoredCheckpoint, macKey: Buffer): boolean {
    if (this.isOwnCheckpoint(cp, macKey)) return true;
    return constantTimeEqual(hmac(macKey, checkpointMessage(cp.seq, cp.hash)), cp.mac);
  }

  /** cp is, byte for byte, the checkpoint this log last signed with this very key. */
  private isOwnCheckpoint(cp: StoredCheckpoint, macKey: Buffer): boolean {
    const s = this.signed;
    return s !== null && s.key === macKey && s.seq === cp.seq && constantTimeEqual(s.hash, cp.hash) && constantTimeEqual(s.mac, cp.mac);
  }

  /** Re-walks entries (afterSeq, untilSeq] starting from `prevHash`. */
  private chainValidFrom(afterSeq: number, prevHash: Buffer, untilSeq: number): boolean {
    let expected = afterSeq + 1;
    let prev = prevHash;
    for (const row of this.db
      .prepare('SELECT * FROM audit WHERE seq > ? AND seq <= ? ORDER BY seq')
      .iterate(afterSeq, untilSeq) as IterableIterator<AuditRow>) {
      if (row.seq !== expected || !constantTimeEqual(row.prev_hash, prev)) return false;
      const h = entryHash(prev, row);
      if (!constantTimeEqual(h, row.hash)) return false;
      prev = h;
      expected += 1;
    }
    return expected === untilSeq + 1;
  }

  /**
   * Signs (seq, hash) and drops superseded head checkpoints, keeping the periodic ones.
   * `previous` is the latest checkpoint read earlier in this transaction.
   */
  private checkpoint(seq: number, hash: Buffer, ts: number, macKey: Buffer, previous?: StoredCheckpoint): void {
    const mac = hmac(macKey, checkpointMessage(seq, hash));
    if (previous && previous.seq < seq && this.isOwnCheckpoint(previous, macKey)) {
      // The latest checkpoint is the one this log wrote, and that write dropped every
      // superseded one below it: only `previous` itself can be superseded now, so the new
      // head replaces it (a lookup by key, not a scan of every periodic checkpoint).
      if (previous.seq % CHECKPOINT_EVERY !== 0) {
        cachedStatement(this.db, 'UPDATE audit_checkpoints SET seq = ?, hash = ?, mac = ?, ts = ? WHERE seq = ?').run(
          seq,
          hash,
          mac,
          ts,
          previous.seq,
        );
      } else {
        cachedStatement(this.db, 'INSERT OR REPLACE INTO audit_checkpoints (seq, hash, mac, ts) VALUES (?, ?, ?, ?)').run(
          seq,
          hash,
          mac,
          ts,
        );
      }
    } else {
      cachedStatement(this.db, 'INSERT OR REPLACE INTO audit_checkpoints (seq, hash, mac, ts) VALUES (?, ?, ?, ?)').run(seq, hash, mac, ts);
      cachedStatement(this.db, 'DELETE FROM audit_checkpoints WHERE seq < ? AND seq % ? != 0').run(seq, CHECKPOINT_EVERY);
    }
    this.signed = { seq, hash, mac, key: macKey };
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM audit').get() as { n: number }).n;
  }

  headSeq(): number {
    return (this.head.get() as { seq: number } | undefined)?.seq ?? 0;
  }

  query(q: AuditQuery = {}): AuditEntry[] {
    const w = auditWhere(q);
    const order = q.order === 'desc' ? 'DESC' : 'ASC';
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 100_000);
    const sql = `SELECT * FROM audit ${w.sql} ORDER BY seq ${order} LIMIT ${limit}`;
    return (this.db.prepare(sql).all(w.args) as AuditRow[]).map(fromRow);
  }

  /**
   * Walks the whole chain. Reports the first entry that was altered, inserted, deleted or
   * reordered; with `macKey`, also checks every checkpoint, which catches a chain that was
   * rewritten consistently from some entry on (only the vault key can make a valid MAC).
   */
  verify(macKey: Buffer | null): VerifyResult {
    const checkpoints = this.db.prepare('SELECT seq, hash, mac FROM audit_checkpoints ORDER BY seq').all() as {
      seq: number;
      hash: Buffer;
      mac: Buffer;
    }[];
    const cpBySeq = new Map(checkpoints.map((c) => [c.seq, c]));
    let expectedSeq = 1;
    let prev: Buffer = GENESIS_HASH;
    let entries = 0;
    let checkpointsVerified = 0;
    const macChecked = macKey !== null;
    const fail = (firstBadSeq: number, problem: string): VerifyResult => ({ ok: false, entries, firstBadSeq, problem, macChecked });

    for (const row of this.db.prepare('SELECT * FROM audit ORDER BY seq').iterate() as IterableIterator<AuditRow>) {
      if (row.seq !== expectedSeq) {
        return fail(expectedSeq, row.seq > expectedSeq ? `entry ${expectedSeq} is missing (deleted)` : `entry ${row.seq} is out of order`);
      }
      if (!Buffer.isBuffer(row.prev_hash) || row.prev_hash.length !== HASH_BYTES || !constantTimeEqual(row.prev_hash, prev)) {
        return fail(row.seq, `entry ${row.seq} does not follow entry ${row.seq - 1} (inserted, reordered or its predecessor was deleted)`);
      }
      const computed = entryHash(prev, row);
      if (!Buffer.isBuffer(row.hash) || row.hash.length !== HASH_BYTES || !constantTimeEqual(row.hash, computed)) {
        return fail(row.seq, `entry ${row.seq} was altered (its content does not match its hash)`);
      }
      const cp = cpBySeq.get(row.seq);
      if (cp && macKey) {
        if (!constantTimeEqual(hmac(macKey, checkpointMessage(cp.seq, cp.hash)), cp.mac)) {
          return fail(row.seq, `checkpoint at entry ${row.seq} has an invalid MAC (forged or altered)`);
        }
        if (!constantTimeEqual(cp.hash, computed)) {
          return fail(row.seq, `the chain was rewritten: entries up to ${row.seq} do not match the signed checkpoint`);
        }
        checkpointsVerified += 1;
      }
      prev = computed;
      entries += 1;
      expectedSeq += 1;
    }
    const beyond = checkpoints.find((c) => c.seq >= expectedSeq);
    if (beyond) {
      if (!macKey || constantTimeEqual(hmac(macKey, checkpointMessage(beyond.seq, beyond.hash)), beyond.mac)) {
        return fail(expectedSeq, `entries ${expectedSeq}…${beyond.seq} are missing (the log was truncated)`);
      }
      return fail(beyond.seq, `checkpoint at entry ${beyond.seq} has an invalid MAC (forged or altered)`);
    }
    // Every unlocked session signs the head, and the vault is created unlocked: a log
    // with entries but no signed checkpoint had its checkpoints deleted.
    if (macKey && entries > 0 && checkpointsVerified === 0) {
      return fail(1, 'no signed checkpoint remains (checkpoints were deleted)');
    }
    return { ok: true, entries, checkpointsVerified, macChecked };
  }
}

function clip(s: string | null | undefined): string | null {
  if (s === undefined || s === null) return null;
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) + '…' : s;
}

function toRow(seq: number, ts: number, f: AuditFields): Omit<AuditRow, 'prev_hash' | 'hash'> {
  return {
    seq,
    ts,
    event: f.event,
    agent: clip(f.agent),
    pid: f.pid ?? null,
    exe: clip(f.exe),
    secret: clip(f.secret),
    version: f.version ?? null,
    decision: f.decision ?? null,
    purpose: clip(f.purpose),
    reason: clip(f.reason),
    detail: f.detail ? JSON.stringify(f.detail) : null,
  };
}

function fromRow(row: AuditRow): AuditEntry {
  let detail: Record<string, unknown> | null = null;
  if (row.detail) {
    try {
      detail = JSON.parse(row.detail) as Record<string, unknown>;
    } catch {
      detail = { unparsable: true };
    }
  }
  return {
    seq: row.seq,
    ts: row.ts,
    event: row.event,
    agent: row.agent,
    pid: row.pid,
    exe: row.exe,
    secret: row.secret,
    version: row.version,
    decision: row.decision,
    purpose: row.purpose,
    reason: row.reason,
    detail,
  };
}
