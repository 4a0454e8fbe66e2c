/**
 * `akc audit verify` for a whole vault: the hash chain, the signed checkpoints (with the
 * MAC key), the audit anchor outside the database, and the alarms the host recorded.
 *
 * Take the `AuditSnapshot` BEFORE unlocking: unlocking checkpoints the head (and may
 * append an alarm), and the log must be judged against the signatures and the anchor as
 * they were. The anchor is read first, so a host appending meanwhile only makes the log
 * longer than its anchor, which is fine (the anchor is a lower bound).
 *
 * This is the one verification of a vault's log: the offline `akc audit verify`
 * (verifyOpenedVault), the hardened host's `audit.verify` and the desktop app's "verify"
 * (verifyAuditNow, on a host that is already unlocked) all report what it reports.
 */
import type { Database } from 'better-sqlite3';
import { constantTimeEqual } from '../crypto/keys.js';
import { ANCHOR_FILE, anchorMacValid, readAnchor, type AnchorRead } from './anchor.js';
import { checkpointMacValid } from './chain.js';
import { ANCHOR_MISSING_EVENT, anchorProblem, AuditLog, ROLLBACK_EVENT } from './log.js';

export interface StoredCheckpoint {
  seq: number;
  hash: Buffer;
  mac: Buffer;
  ts: number;
}

export interface AuditSnapshot {
  anchor: AnchorRead;
  checkpoints: StoredCheckpoint[];
  /** The last entry before unlocking (an unlock may append an alarm entry after it). */
  headSeq: number;
}

export interface AuditProblem {
  seq: number;
  problem: string;
}

export interface AuditVerifyReport {
  ok: boolean;
  entries: number;
  checkpointsChecked: boolean;
  /** Checkpoints whose MAC and hash were checked (null without the key). */
  checkpoints: number | null;
  /** The first problem; `problems` lists all that were found (the chain walk stops at its first). */
  first: AuditProblem | null;
  problems: AuditProblem[];
  anchor: { state: 'missing' | 'malformed' | 'ok'; seq: number | null; macChecked: boolean };
  /** Recorded events worth a look that are not failures (a missing anchor replaced). */
  warnings: string[];
}

export function snapshotAudit(db: Database, dataDir: string): AuditSnapshot {
  const anchor = readAnchor(dataDir);
  const checkpoints = db.prepare('SELECT seq, hash, mac, ts FROM audit_checkpoints ORDER BY seq').all() as StoredCheckpoint[];
  const headSeq = (db.prepare('SELECT max(seq) FROM audit').pluck().get() as number | null) ?? 0;
  return { anchor, checkpoints, headSeq };
}

export function verifyAudit(db: Database, vaultId: string, snap: AuditSnapshot, macKey: Buffer | null): AuditVerifyReport {
  const chain = new AuditLog(db).verify(null);
  const entries = chain.entries;
  const problems: AuditProblem[] = [];
  if (!chain.ok) problems.push({ seq: chain.firstBadSeq, problem: chain.problem });
  else if (entries === 0) problems.push({ seq: 1, problem: 'the log is empty, but every vault records its creation (the log was wiped)' });
  const chainBad = chain.ok ? null : chain.firstBadSeq;

  // Where the log really ended: before any rollback alarm (an unlock writes one after the cut).
  const firstAlarm = db.prepare('SELECT min(seq) FROM audit WHERE event = ?').pluck().get(ROLLBACK_EVENT) as number | null;
  const realEnd = Math.min(entries, snap.headSeq, firstAlarm !== null ? firstAlarm - 1 : entries);

  // The signed checkpoints, as they were before unlocking.
  let checkpoints = 0;
  if (macKey) {
    const hashAt = db.prepare('SELECT hash FROM audit WHERE seq = ?').pluck();
    for (const cp of snap.checkpoints) {
      if (chainBad !== null && cp.seq >= chainBad) break;
      let problem: string | null = null;
      let at = cp.seq;
      if (!checkpointMacValid(macKey, cp)) {
        problem = `checkpoint at entry ${cp.seq} has an invalid MAC (forged or altered)`;
      } else if (cp.seq > realEnd && (cp.seq > entries || firstAlarm !== null)) {
        at = realEnd + 1;
        problem = `entries ${at}…${cp.seq} are missing (the log was truncated)`;
      } else {
        const stored = hashAt.get(cp.seq) as Buffer | undefined;
        if (!stored || !constantTimeEqual(stored, cp.hash)) {
          problem = `the chain was rewritten: entries up to ${cp.seq} do not match the signed checkpoint`;
        }
      }
      if (problem) {
        problems.push({ seq: at, problem });
        break;
      }
      checkpoints += 1;
    }
    // Every unlocked session signs the head and a vault is created unlocked: a log with
    // entries and no checkpoint had its checkpoints deleted.
    if (entries > 0 && snap.checkpoints.length === 0) {
      problems.push({ seq: 1, problem: 'no signed checkpoint remains (checkpoints were deleted)' });
    }
  }

  // The anchor outside the database.
  const a = snap.anchor;
  if (a.kind === 'missing') {
    if (entries > 0) {
      problems.push({
        seq: entries,
        problem: `the audit anchor file (${ANCHOR_FILE}) is missing, so a rollback or truncation of the log cannot be ruled out`,
      });
    }
  } else if (a.kind === 'malformed') {
    problems.push({ seq: entries, problem: `the audit anchor file (${ANCHOR_FILE}) is malformed: ${a.reason}` });
  } else if (a.anchor.vaultId !== vaultId) {
    problems.push({ seq: a.anchor.seq, problem: `the audit anchor file (${ANCHOR_FILE}) belongs to another vault` });
  } else if (macKey && !anchorMacValid(macKey, a.anchor)) {
    problems.push({ seq: a.anchor.seq, problem: `the audit anchor file (${ANCHOR_FILE}) has an invalid MAC (forged or altered)` });
  } else {
    const latest = snap.checkpoints.length > 0 ? snap.checkpoints[snap.checkpoints.length - 1]!.seq : 0;
    const p = anchorProblem(db, a.anchor, latest);
    if (p) problems.push(p);
  }

  // What the host (or an unlock) detected and wrote down.
  const warnings: string[] = [];
  for (const e of db
    .prepare('SELECT seq, event, reason FROM audit WHERE event IN (?, ?) ORDER BY seq')
    .iterate(ROLLBACK_EVENT, ANCHOR_MISSING_EVENT) as IterableIterator<{ seq: number; event: string; reason: string | null }>) {
    if (e.event === ROLLBACK_EVENT)
      problems.push({ seq: e.seq, problem: `a rollback was detected and recorded at entry ${e.seq}: ${e.reason ?? ''}` });
    else warnings.push(`entry ${e.seq}: ${e.reason ?? 'the audit anchor file was missing'}`);
  }

  return {
    ok: problems.length === 0,
    entries,
    checkpointsChecked: macKey !== null,
    checkpoints: macKey ? checkpoints : null,
    first: problems[0] ?? null,
    problems,
    anchor: { state: a.kind, seq: a.kind === 'ok' ? a.anchor.seq : null, macChecked: a.kind === 'ok' && macKey !== null },
    warnings,
  };
}

/** Where a vault's log lives: its database, id and data dir (the anchor file's folder). */
export interface AuditLocation {
  db: Database;
  id: string;
  dataDir: string;
  /** The open log, whose anchor write may still be pending (written at most every 200 ms). */
  audit?: { flushAnchor(): void };
}

/**
 * The log of a vault a running host holds open (and, when unlocked, signs as it goes):
 * judged as it is now, with the MAC key when the host has it.
 */
export function verifyAuditNow(v: AuditLocation, macKey: Buffer | null): AuditVerifyReport {
  v.audit?.flushAnchor();
  return verifyAudit(v.db, v.id, snapshotAudit(v.db, v.dataDir), macKey);
}

/**
 * The log of a vault this process just opened (`akc audit verify`): takes the snapshot,
 * then `unlock` (returns the MAC key, or null to check the chain only; unlocking signs the
 * head), then judges the log against the snapshot. When the log is bad, the checkpoints
 * the unlock replaced are put back, so the evidence of the alteration stays.
 */
export async function verifyOpenedVault(v: AuditLocation, unlock: () => Promise<Buffer | null>): Promise<AuditVerifyReport> {
  const before = snapshotAudit(v.db, v.dataDir);
  const macKey = await unlock();
  const report = verifyAudit(v.db, v.id, before, macKey);
  if (!report.ok && macKey) restoreCheckpoints(v.db, before.checkpoints);
  return report;
}

function restoreCheckpoints(db: Database, before: StoredCheckpoint[]): void {
  const put = db.prepare('INSERT OR REPLACE INTO audit_checkpoints (seq, hash, mac, ts) VALUES (?, ?, ?, ?)');
  try {
    db.transaction(() => {
      for (const cp of before) put.run(cp.seq, cp.hash, cp.mac, cp.ts);
    })();
  } catch {
    // Best effort: the report stands either way.
  }
}

/** What to tell the human about a failed verification (the same words in every mode). */
export function verifyHint(r: { anchor?: { state: string }; problem?: string }): string {
  return r.anchor?.state === 'missing' && r.problem?.includes('anchor file')
    ? 'a vault last opened by a version without audit anchors gets one at its next unlock (with an alert); otherwise keep a copy of vault.db for investigation'
    : 'keep a copy of vault.db (and audit-anchor) for investigation; `akc audit export` shows the entries';
}

/** The report as `akc audit verify --json` prints it, offline and from the hardened host alike. */
export function verifyReportJson(r: AuditVerifyReport): {
  ok: boolean;
  entries: number;
  checkpointsChecked: boolean;
  checkpoints: number | null;
  firstBadSeq?: number;
  problem?: string;
  problems?: AuditProblem[];
  anchor?: AuditVerifyReport['anchor'];
  warnings?: string[];
} {
  return {
    ok: r.ok,
    entries: r.entries,
    checkpointsChecked: r.checkpointsChecked,
    checkpoints: r.checkpoints,
    ...(r.first ? { firstBadSeq: r.first.seq, problem: r.first.problem, problems: r.problems, anchor: r.anchor } : {}),
    ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}),
  };
}
