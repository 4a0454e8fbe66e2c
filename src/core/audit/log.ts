/**
 * The tamper-evident activity log: append, checkpoint, query, verify.
 *
 * Several processes may append to one vault.db (the host and offline admin commands),
 * so the chain head is always read inside the writing transaction, never cached.
 *
 * Rollback: a same-user process can delete the tail of the log and put back an
 * older, validly signed checkpoint; the chain and that checkpoint then agree. Two things
 * catch it (enabled by `AuditLogOptions`, i.e. for a Vault's log):
 * - the head this process last appended or saw, kept in a TEMP table of its own
 *   connection (no other process can reach it, and it rolls back with our own
 *   transactions, so a failed transaction never leaves it ahead of the log). Every append
 *   compares the log's tail with it (O(1): the head row, or one lookup by seq); the host
 *   also checks whenever another connection committed (`checkHead`).
 * - the anchor file outside the database (anchor.ts), checked at every unlock.
 * A mismatch raises an alert, appends an `audit.rollback` entry, and this process never
 * signs a checkpoint (nor moves the anchor) again, so the evidence stays.
 */
import type { Database, Statement } from 'better-sqlite3';
import { cachedStatement } from '../store/database.js';
import { constantTimeEqual } from '../crypto/keys.js';
import { hmac } from '../crypto/vault-keys.js';
import { insertAlert, type Alert } from '../lifecycle/alerts.js';
import { ANCHOR_MIN_INTERVAL_MS, anchorMacValid, readAnchor, sealAnchor, writeAnchor, type SealedAnchor } from './anchor.js';
import {
  checkpointMacValid,
  checkpointMessage,
  entryHash,
  GENESIS_HASH,
  HASH_BYTES,
  type AuditEntry,
  type AuditFields,
  type AuditRow,
} from './chain.js';

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

/** Turns on the rollback defences (see the file comment): the vault's data dir holds the anchor. */
export interface AuditLogOptions {
  dataDir: string;
}

/** What an alarm entry and its alert say; `expectedSeq`/`foundSeq` are entry numbers. */
export interface RollbackFinding {
  source: 'head' | 'anchor';
  problem: string;
  expectedSeq: number;
  foundSeq: number;
}

/** The alert rule of a detected rollback (alerts of kind guard.fired: the audit head guard). */
export const ROLLBACK_RULE = 'audit.rollback';
export const ROLLBACK_EVENT = 'audit.rollback';
/** A vault with entries but no anchor file: reported, and a new anchor is started. */
export const ANCHOR_MISSING_EVENT = 'audit.anchor';
const ANCHOR_MISSING_RULE = 'audit.anchor';

/**
 * Where the log disagrees with an anchor, or null. `latestCheckpointSeq` is the newest
 * checkpoint row (0 for none). The anchor is a lower bound (it may lag): the log must
 * reach its entry with the same hash, and a signed checkpoint must cover it.
 */
export function anchorProblem(db: Database, anchor: SealedAnchor, latestCheckpointSeq: number): { seq: number; problem: string } | null {
  const head = (cachedStatement(db, 'SELECT max(seq) AS s FROM audit').get() as { s: number | null }).s ?? 0;
  if (head < anchor.seq) {
    return {
      seq: head + 1,
      problem: `the log was rolled back or truncated: it ends at entry ${head} but its anchor records entry ${anchor.seq}`,
    };
  }
  const at = cachedStatement(db, 'SELECT hash AS plucked_hash FROM audit WHERE seq = ?').pluck().get(anchor.seq) as Buffer | undefined;
  if (!Buffer.isBuffer(at) || at.length !== HASH_BYTES || !constantTimeEqual(at, anchor.hash)) {
    return { seq: anchor.seq, problem: `entry ${anchor.seq} does not match the audit anchor (the log was rolled back or rewritten)` };
  }
  if (latestCheckpointSeq < anchor.seq) {
    return {
      seq: anchor.seq,
      problem: `checkpoints were deleted: the newest signed checkpoint is ${latestCheckpointSeq ? `at entry ${latestCheckpointSeq}` : 'gone'}, but the anchor records one at entry ${anchor.seq}`,
    };
  }
  return null;
}

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

  // ---- rollback defences (only with options)
  /** The TEMP head table exists on this connection (it is never created inside a transaction). */
  private headTracked = false;
  private readHead: Statement | null = null;
  private writeHead: Statement | null = null;
  private readonly dataVersion: Statement;
  private seenDataVersion: number | null = null;
  /** Set once a rollback was found: this process signs nothing and moves no anchor after that. */
  private rollback: RollbackFinding | null = null;
  /** The MAC key (by reference) the anchor file was last checked with: once per unlock. */
  private anchorCheckedFor: Buffer | null = null;
  private pendingAnchor: SealedAnchor | null = null;
  private anchorTimer: NodeJS.Timeout | null = null;
  private lastAnchorWrite = 0;
  private lastAnchorSeq = 0;
  private cachedVaultId: string | null = null;
  private readonly alarmListeners = new Set<(alert: Alert) => void>();

  constructor(
    private readonly db: Database,
    private readonly opts: AuditLogOptions | null = null,
  ) {
    this.insert = db.prepare(
      `INSERT INTO audit (seq, ts, event, agent, pid, exe, secret, version, decision, purpose, reason, detail, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.head = db.prepare('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1');
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
    this.trackHead();
  }

  /** The rollback this process found (it then signs nothing), or null. */
  get rollbackFound(): RollbackFinding | null {
    return this.rollback;
  }

  /** Called (after the commit) with the alert of each rollback or missing anchor this log found. */
  onAlarm(listener: (alert: Alert) => void): () => void {
    this.alarmListeners.add(listener);
    return () => this.alarmListeners.delete(listener);
  }

  /**
   * Starts keeping the head in this connection's TEMP table, adopting the log's current
   * tail as the last one seen. Outside a transaction only: a TEMP table created inside one
   * would vanish with its rollback. Returns whether the head is tracked.
   */
  private trackHead(): boolean {
    if (this.headTracked) return true;
    if (!this.opts || this.db.inTransaction) return false;
    this.db.exec(
      'CREATE TEMP TABLE IF NOT EXISTS akc_audit_head (k INTEGER PRIMARY KEY CHECK (k = 1), seq INTEGER NOT NULL, hash BLOB NOT NULL)',
    );
    this.readHead = this.db.prepare('SELECT seq, hash FROM temp.akc_audit_head WHERE k = 1');
    this.writeHead = this.db.prepare(
      'INSERT INTO temp.akc_audit_head (k, seq, hash) VALUES (1, ?, ?) ON CONFLICT (k) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
    );
    if (this.readHead.get() === undefined) {
      const last = this.head.get() as { seq: number; hash: Buffer } | undefined;
      if (last) this.writeHead.run(last.seq, last.hash);
    }
    this.seenDataVersion = this.dataVersion.get() as number;
    this.headTracked = true;
    return true;
  }

  /** Whether the log's tail still holds the head this process last appended or saw; O(1). */
  private headProblem(last: { seq: number; hash: Buffer } | undefined): RollbackFinding | null {
    if (!this.headTracked) return null;
    const seen = this.readHead!.get() as { seq: number; hash: Buffer } | undefined;
    if (!seen) return null;
    const found = last?.seq ?? 0;
    if (found < seen.seq) {
      return {
        source: 'head',
        expectedSeq: seen.seq,
        foundSeq: found,
        problem: `the log was rolled back or truncated while the vault was open: it ends at entry ${found}, but entry ${seen.seq} was already written`,
      };
    }
    const at =
      found === seen.seq
        ? last!.hash
        : (cachedStatement(this.db, 'SELECT hash AS plucked_hash FROM audit WHERE seq = ?').pluck().get(seen.seq) as Buffer);
    if (!Buffer.isBuffer(at) || !constantTimeEqual(at, seen.hash)) {
      return {
        source: 'head',
        expectedSeq: seen.seq,
        foundSeq: found,
        problem: `the log was rolled back and rewritten while the vault was open: entry ${seen.seq} is not the one written`,
      };
    }
    return null;
  }

  /**
   * The anchor file against the log, once per unlock (the MAC key proves the anchor is
   * ours). Returns a rollback finding, 'missing' for a log with entries but no anchor, or
   * null when they agree.
   */
  private anchorFinding(last: { seq: number; hash: Buffer } | undefined, macKey: Buffer): RollbackFinding | 'missing' | null {
    if (!this.opts || this.anchorCheckedFor === macKey) return null;
    this.anchorCheckedFor = macKey;
    const read = readAnchor(this.opts.dataDir);
    const found = last?.seq ?? 0;
    const finding = (expectedSeq: number, problem: string): RollbackFinding => ({
      source: 'anchor',
      expectedSeq,
      foundSeq: found,
      problem,
    });
    if (read.kind === 'missing') return last ? 'missing' : null;
    if (read.kind === 'malformed') return finding(0, `the audit anchor file is malformed (${read.reason})`);
    const a = read.anchor;
    if (a.vaultId !== this.vaultId()) return finding(a.seq, 'the audit anchor file belongs to another vault');
    if (!anchorMacValid(macKey, a)) return finding(a.seq, 'the audit anchor file has an invalid MAC (forged or altered)');
    const latest = this.latestCheckpoint()?.seq ?? 0;
    const p = anchorProblem(this.db, a, latest);
    return p ? finding(a.seq, p.problem) : null;
  }

  /**
   * The alarm entries to write before `entries`, in the caller's transaction (the alert
   * row commits with its entry). A rollback stops all signing for the rest of this process.
   */
  private alarms(last: { seq: number; hash: Buffer } | undefined, macKey: Buffer | null, ts: number): AuditFields[] {
    if (!this.opts) return [];
    // Every later rollback is recorded too; the anchor, once found wrong, stays wrong.
    const head = this.headProblem(last);
    const anchor = head || this.rollback || !macKey ? null : this.anchorFinding(last, macKey);
    if (anchor === 'missing') {
      const alert = this.raiseAlert(
        ANCHOR_MISSING_RULE,
        `the audit anchor file was missing for a log of ${last!.seq} entries (deleted, or a vault from before anchors); a new anchor was started`,
        { seq: last!.seq },
        ts,
      );
      return [
        {
          event: ANCHOR_MISSING_EVENT,
          decision: 'alert',
          reason: `the audit anchor file was missing; a new anchor starts at entry ${last!.seq + 1}`,
          detail: { foundSeq: last!.seq, alert: alert.id },
        },
      ];
    }
    const finding = head ?? anchor;
    if (!finding) return [];
    this.rollback = finding;
    // The anchor stays wrong until someone looks: one open alert for it is enough (every
    // unlock would find it again). A rollback seen by the running host is always new.
    if (finding.source === 'anchor' && this.openAlert(ROLLBACK_RULE)) return [];
    const detail = { source: finding.source, expectedSeq: finding.expectedSeq, foundSeq: finding.foundSeq };
    const alert = this.raiseAlert(ROLLBACK_RULE, `audit log tampering detected: ${finding.problem}`, detail, ts);
    // Found at unlock against the anchor: the alert only. An entry appended after the cut
    // would sit where the deleted entries were and blur what verify reports; the anchor
    // keeps failing verify on its own, and nothing is signed from here on.
    if (finding.source === 'anchor') return [];
    return [{ event: ROLLBACK_EVENT, decision: 'alert', reason: finding.problem, detail: { ...detail, alert: alert.id } }];
  }

  private openAlert(rule: string): boolean {
    return (
      cachedStatement(this.db, "SELECT 1 FROM alerts WHERE kind = 'guard.fired' AND rule = ? AND cleared_at IS NULL LIMIT 1").get(rule) !==
      undefined
    );
  }

  private raiseAlert(rule: string, message: string, detail: Record<string, unknown>, ts: number): Alert {
    const alert = insertAlert(this.db, { kind: 'guard.fired', rule, message, detail }, ts);
    // Listeners hear of it only once it committed (the caller's transaction may roll back).
    queueMicrotask(() => {
      try {
        if (!this.db.open || cachedStatement(this.db, 'SELECT 1 FROM alerts WHERE id = ?').get(alert.id) === undefined) return;
      } catch {
        return;
      }
      for (const l of this.alarmListeners) l(alert);
    });
    return alert;
  }

  private vaultId(): string {
    this.cachedVaultId ??=
      (cachedStatement(this.db, 'SELECT id AS plucked_id FROM vault WHERE singleton = 1').pluck().get() as string | undefined) ?? '';
    return this.cachedVaultId;
  }

  /**
   * The host's cheap periodic check: when another connection committed since the last
   * look (`PRAGMA data_version`), compares the tail with the head; on a rollback appends
   * the alarm (unsigned). Returns the entries it appended.
   */
  checkHead(ts: number, macKey: Buffer | null): AuditEntry[] {
    if (!this.trackHead()) return [];
    const version = this.dataVersion.get() as number;
    if (version === this.seenDataVersion) return [];
    this.seenDataVersion = version;
    if (!this.headProblem(this.head.get() as { seq: number; hash: Buffer } | undefined)) return [];
    return this.db.transaction(() => this.appendInTransaction([], ts, macKey)).immediate();
  }

  // ---- the anchor file

  /** Seals the anchor for a checkpoint just written; it is written once the commit is visible. */
  private stageAnchor(seq: number, hash: Buffer, macKey: Buffer): void {
    if (!this.opts) return;
    this.pendingAnchor = sealAnchor(macKey, { vaultId: this.vaultId(), seq, hash });
    if (this.anchorTimer) return;
    const wait = Math.max(0, this.lastAnchorWrite + ANCHOR_MIN_INTERVAL_MS - Date.now());
    this.anchorTimer = setTimeout(() => {
      this.anchorTimer = null;
      this.flushAnchor();
    }, wait);
    this.anchorTimer.unref();
  }

  /** Writes the staged anchor if its entry committed (a rolled-back one is dropped). Best effort. */
  flushAnchor(): void {
    const a = this.pendingAnchor;
    if (!a || !this.opts) return;
    if (this.db.inTransaction) {
      // Not knowable yet whether it commits: try again soon.
      this.anchorTimer ??= setTimeout(() => {
        this.anchorTimer = null;
        this.flushAnchor();
      }, ANCHOR_MIN_INTERVAL_MS).unref();
      return;
    }
    this.pendingAnchor = null;
    if (this.rollback || a.seq <= this.lastAnchorSeq || !this.db.open) return;
    try {
      const at = cachedStatement(this.db, 'SELECT hash AS plucked_hash FROM audit WHERE seq = ?').pluck().get(a.seq) as Buffer | undefined;
      if (!Buffer.isBuffer(at) || !constantTimeEqual(at, a.hash)) return;
      writeAnchor(this.opts.dataDir, a);
      this.lastAnchorSeq = a.seq;
    } catch {
      // Best effort: the anchor is a lower bound, the next checkpoint writes a newer one.
    } finally {
      this.lastAnchorWrite = Date.now();
    }
  }

  /** Flushes the anchor; call before closing the database. */
  close(): void {
    if (this.anchorTimer) clearTimeout(this.anchorTimer);
    this.anchorTimer = null;
    this.flushAnchor();
  }

  /**
   * Appends entries. Must run inside a write transaction the caller owns (so the entry
   * commits atomically with the change it records). With `macKey`, the new head is
   * checkpointed.
   */
  appendInTransaction(entries: readonly AuditFields[], ts: number, macKey: Buffer | null): AuditEntry[] {
    if (!this.db.inTransaction) throw new Error('audit append outside a transaction');
    return this.appendChecked(entries, ts, macKey, false);
  }

  /** Appends (after any alarm entries); with `signHead`, signs the head even with nothing new. */
  private appendChecked(entries: readonly AuditFields[], ts: number, macKey: Buffer | null, signHead: boolean): AuditEntry[] {
    const last = this.head.get() as { seq: number; hash: Buffer } | undefined;
    const alarms = this.alarms(last, macKey, ts);
    const all = alarms.length > 0 ? [...alarms, ...entries] : entries;
    let seq = last?.seq ?? 0;
    let prev: Buffer = last?.hash ?? GENESIS_HASH;
    // Only extend the signature over a head that still links to the last signed
    // checkpoint: otherwise re-signing would bless a chain someone rewrote meanwhile. And
    // never after a rollback: the restored old checkpoint is valid, the chain on it is not.
    const wanted = macKey !== null && this.rollback === null && (all.length > 0 || (signHead && last !== undefined));
    const cp = wanted ? this.latestCheckpoint() : undefined;
    const sign = wanted && this.headLinksToCheckpoint(last, cp, macKey!);
    const out: AuditEntry[] = [];
    for (const fields of all) {
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
    if (out.length > 0 && this.writeHead) this.writeHead.run(seq, prev);
    if (sign) {
      this.checkpoint(seq, prev, ts, macKey!, out.length > 0 ? cp : undefined);
      this.stageAnchor(seq, prev, macKey!);
    }
    return out;
  }

  /** Appends in its own transaction. */
  append(fields: AuditFields, ts: number, macKey: Buffer | null): AuditEntry {
    // The last entry: alarm entries, if any, come before it.
    return this.db.transaction(() => this.appendInTransaction([fields], ts, macKey).at(-1)!).immediate();
  }

  /**
   * Checkpoints the current head (e.g. right after unlock), after checking the log against
   * the head this process saw and against the anchor file. Returns the alarm entries it
   * appended (none when all agree).
   */
  checkpointHead(ts: number, macKey: Buffer): AuditEntry[] {
    this.trackHead();
    return this.db.transaction(() => this.appendChecked([], ts, macKey, true)).immediate();
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
    return checkpointMacValid(macKey, cp);
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
   * This is the log's own check; a vault's log is judged by `verifyAudit` (verify.ts),
   * which builds on this walk and adds the anchor and the recorded alarms: every product
   * path (`akc audit verify`, the hardened host, the desktop app) uses that one.
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
        if (!checkpointMacValid(macKey, cp)) {
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
      if (!macKey || checkpointMacValid(macKey, beyond)) {
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
