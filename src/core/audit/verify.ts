/**
 * `akc audit verify` for a whole vault: the hash chain, the signed checkpoints (with the
 * MAC key), the audit anchor outside the database, and the alarms the host recorded.
 *
 * Take the `AuditSnapshot` BEFORE unlocking: unlocking checkpoints the head (and may
 * append an alarm), and the log must be judged against the signatures and the anchor as
 * they were. The anchor is read first, so a host appending meanwhile only makes the log
 * longer than its anchor, which is fine (the anchor is a lower bound).
 */
import type { Database } from 'better-sqlite3';
import { constantTimeEqual } from '../crypto/keys.js';
import { hmac } from '../crypto/vault-keys.js';
import { ANCHOR_FILE, anchorMacValid, readAnchor, type AnchorRead } from './anchor.js';
import { checkpointMessage } from './chain.js';
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
      if (!constantTimeEqual(hmac(macKey, checkpointMessage(cp.seq, cp.hash)), cp.mac)) {
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
