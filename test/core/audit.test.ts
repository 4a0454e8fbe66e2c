/**
 * The audit hash chain on a real vault.db: appends, tampering done with SQL straight on
 * the file (as an attacker with disk access would), and verification.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { AuditLog, type VerifyResult } from '../../src/core/audit/log.js';
import { entryHash, GENESIS_HASH, type AuditFields, type AuditRow } from '../../src/core/audit/chain.js';
import { openDatabase, vaultPath } from '../../src/core/store/database.js';
import { tempDir } from '../helpers/env.js';

const T0 = 1_750_000_000_000;

interface Fixture {
  dir: string;
  db: Db;
  log: AuditLog;
  macKey: Buffer;
}

/** A vault.db with `n` entries appended one by one (each checkpointed, like an unlocked vault does). */
function withLog(n: number): Fixture {
  const dir = tempDir();
  const db = openDatabase(dir, { create: true })!;
  const log = new AuditLog(db);
  const macKey = randomBytes(32);
  for (let i = 1; i <= n; i++) log.append(sampleFields(i), T0 + i * 1000, macKey);
  return { dir, db, log, macKey };
}

function sampleFields(i: number): AuditFields {
  return {
    event: i % 3 === 0 ? 'secret.get' : 'secret.update',
    agent: i % 2 === 0 ? 'claude' : 'cursor',
    pid: 1000 + i,
    exe: '/usr/bin/agent',
    secret: `svc/key-${i % 4}`,
    version: i,
    decision: i % 5 === 0 ? 'denied' : 'allow',
    purpose: `Deploy step ${i}`,
    reason: null,
    detail: { i },
  };
}

/** Another connection to the same file: the tamperer. */
function tamper(f: Fixture, fn: (db: Db) => void): void {
  const db = new Database(vaultPath(f.dir));
  try {
    fn(db);
  } finally {
    db.close();
  }
}

function assertBad(r: VerifyResult, seq: number, problem: RegExp): void {
  assert.equal(r.ok, false, `expected a failed verification, got ${JSON.stringify(r)}`);
  if (r.ok) return;
  assert.equal(r.firstBadSeq, seq, r.problem);
  assert.match(r.problem, problem);
}

/** Recomputes hashes from entry `from` on with the product's own algorithm, as a careful attacker would. */
function rehashFrom(db: Db, from: number): void {
  const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(from) as AuditRow[];
  let prev = from === 1 ? GENESIS_HASH : (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(from - 1) as { hash: Buffer }).hash;
  const update = db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const row of rows) {
    const hash = entryHash(prev, row);
    update.run(prev, hash, row.seq);
    prev = hash;
  }
}

describe('audit log', () => {
  test('append + verify ok, with and without the MAC key', () => {
    const f = withLog(10);
    try {
      assert.equal(f.log.count(), 10);
      assert.equal(f.log.headSeq(), 10);
      assert.deepEqual(f.log.verify(f.macKey), { ok: true, entries: 10, checkpointsVerified: 1, macChecked: true });
      assert.deepEqual(f.log.verify(null), { ok: true, entries: 10, checkpointsVerified: 0, macChecked: false });
      // Superseded head checkpoints are dropped: only the head stays.
      assert.deepEqual(f.db.prepare('SELECT seq FROM audit_checkpoints').all(), [{ seq: 10 }]);
      const [first] = f.log.query({ limit: 1 });
      assert.deepEqual(first, { seq: 1, ts: T0 + 1000, ...sampleFields(1), reason: null });
    } finally {
      f.db.close();
    }
  });

  test('an empty log verifies', () => {
    const f = withLog(0);
    try {
      assert.deepEqual(f.log.verify(f.macKey), { ok: true, entries: 0, checkpointsVerified: 0, macChecked: true });
    } finally {
      f.db.close();
    }
  });

  test('appendInTransaction refuses to run outside a transaction; batches commit atomically', () => {
    const f = withLog(2);
    try {
      assert.throws(() => f.log.appendInTransaction([{ event: 'x' }], T0, f.macKey), /outside a transaction/);
      assert.throws(() =>
        f.db
          .transaction(() => {
            f.log.appendInTransaction([{ event: 'a' }, { event: 'b' }], T0, f.macKey);
            throw new Error('the change it records failed');
          })
          .immediate(),
      );
      assert.equal(f.log.count(), 2, 'the entries rolled back with the change');
      const out = f.db.transaction(() => f.log.appendInTransaction([{ event: 'a' }, { event: 'b' }], T0, f.macKey)).immediate();
      assert.deepEqual(
        out.map((e) => e.seq),
        [3, 4],
      );
      assert.equal(f.log.verify(f.macKey).ok, true);
    } finally {
      f.db.close();
    }
  });

  test('long text fields are clipped, not refused', () => {
    const f = withLog(0);
    try {
      const e = f.log.append({ event: 'x', purpose: 'p'.repeat(5000) }, T0, f.macKey);
      assert.equal(e.purpose!.length, 2001);
      assert.equal(f.log.verify(f.macKey).ok, true);
    } finally {
      f.db.close();
    }
  });

  test("editing one field of a row → verify names that row's seq", () => {
    for (const [column, value] of [
      ['reason', 'nothing to see'],
      ['decision', 'allow'],
      ['agent', 'someone-else'],
      ['ts', T0],
      ['detail', '{"i":999}'],
      ['secret', null],
    ] as const) {
      const f = withLog(10);
      try {
        tamper(f, (db) => db.prepare(`UPDATE audit SET ${column} = ? WHERE seq = 5`).run(value));
        assertBad(f.log.verify(null), 5, /entry 5 was altered/);
        assertBad(f.log.verify(f.macKey), 5, /entry 5 was altered/);
      } finally {
        f.db.close();
      }
    }
  });

  test('a tampered stored hash → names the row', () => {
    const f = withLog(6);
    try {
      tamper(f, (db) => db.prepare('UPDATE audit SET hash = randomblob(32) WHERE seq = 3').run());
      assertBad(f.log.verify(null), 3, /entry 3 was altered/);
      tamper(f, (db) => db.prepare("UPDATE audit SET hash = x'00' WHERE seq = 3").run());
      assertBad(f.log.verify(null), 3, /entry 3 was altered/);
    } finally {
      f.db.close();
    }
  });

  test('deleting a middle row → names it', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => db.prepare('DELETE FROM audit WHERE seq = 4').run());
      assertBad(f.log.verify(null), 4, /entry 4 is missing \(deleted\)/);
      assertBad(f.log.verify(f.macKey), 4, /entry 4 is missing/);
    } finally {
      f.db.close();
    }
  });

  test('deleting the first row → names it', () => {
    const f = withLog(5);
    try {
      tamper(f, (db) => db.prepare('DELETE FROM audit WHERE seq = 1').run());
      assertBad(f.log.verify(null), 1, /entry 1 is missing/);
    } finally {
      f.db.close();
    }
  });

  test('deleting tail rows → detected through the checkpoint (truncation)', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => db.prepare('DELETE FROM audit WHERE seq > 7').run());
      assertBad(f.log.verify(null), 8, /entries 8…10 are missing \(the log was truncated\)/);
      assertBad(f.log.verify(f.macKey), 8, /truncated/);
    } finally {
      f.db.close();
    }
  });

  test('deleting tail rows and forging a checkpoint for the new head → detected with the MAC key', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => {
        db.prepare('DELETE FROM audit WHERE seq > 7').run();
        const head = db.prepare('SELECT hash FROM audit WHERE seq = 7').get() as { hash: Buffer };
        db.prepare('DELETE FROM audit_checkpoints').run();
        db.prepare('INSERT INTO audit_checkpoints (seq, hash, mac, ts) VALUES (7, ?, randomblob(32), 0)').run(head.hash);
      });
      assertBad(f.log.verify(f.macKey), 7, /checkpoint at entry 7 has an invalid MAC/);
    } finally {
      f.db.close();
    }
  });

  test("swapping two rows' contents (reorder) → detected", () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => {
        // Move rows 4 and 5 out of the way, then put each one's full content at the other's seq.
        db.prepare('UPDATE audit SET seq = seq + 1000 WHERE seq IN (4, 5)').run();
        db.prepare('UPDATE audit SET seq = 5 WHERE seq = 1004').run();
        db.prepare('UPDATE audit SET seq = 4 WHERE seq = 1005').run();
      });
      assertBad(f.log.verify(null), 4, /entry 4 does not follow entry 3/);
    } finally {
      f.db.close();
    }
  });

  test('swapping only the payload columns of two rows → detected', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => {
        const cols = ['ts', 'event', 'agent', 'pid', 'exe', 'secret', 'version', 'decision', 'purpose', 'reason', 'detail'];
        const a = db.prepare(`SELECT ${cols.join(', ')} FROM audit WHERE seq = 2`).get() as Record<string, unknown>;
        const b = db.prepare(`SELECT ${cols.join(', ')} FROM audit WHERE seq = 6`).get() as Record<string, unknown>;
        const set = db.prepare(`UPDATE audit SET ${cols.map((c) => `${c} = @${c}`).join(', ')} WHERE seq = @seq`);
        set.run({ ...b, seq: 2 });
        set.run({ ...a, seq: 6 });
      });
      assertBad(f.log.verify(null), 2, /entry 2 was altered/);
    } finally {
      f.db.close();
    }
  });

  test('an inserted row (renumbering the rest) → detected', () => {
    const f = withLog(6);
    try {
      tamper(f, (db) => {
        db.prepare('UPDATE audit SET seq = seq + 100 WHERE seq >= 4').run();
        db.prepare('UPDATE audit SET seq = seq - 99 WHERE seq >= 104').run();
        const prev = db.prepare('SELECT hash FROM audit WHERE seq = 3').get() as { hash: Buffer };
        const row = {
          seq: 4,
          ts: T0,
          event: 'secret.get',
          agent: 'x',
          pid: null,
          exe: null,
          secret: 's',
          version: 1,
          decision: 'allow',
          purpose: null,
          reason: null,
          detail: null,
        };
        db.prepare(
          'INSERT INTO audit (seq, ts, event, agent, pid, exe, secret, version, decision, purpose, reason, detail, prev_hash, hash) VALUES (@seq, @ts, @event, @agent, @pid, @exe, @secret, @version, @decision, @purpose, @reason, @detail, @prev_hash, @hash)',
        ).run({ ...row, prev_hash: prev.hash, hash: entryHash(prev.hash, row) });
      });
      // The forged entry itself hashes correctly; the original entry 4 (now 5) no longer follows it.
      assertBad(f.log.verify(null), 5, /entry 5 does not follow entry 4/);
    } finally {
      f.db.close();
    }
  });

  test('rewriting the whole chain consistently from entry k → detected only with the MAC key, naming the checkpoint', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => {
        db.prepare("UPDATE audit SET decision = 'allow', reason = 'rewritten' WHERE seq = 4").run();
        rehashFrom(db, 4);
      });
      // Without the key the rewritten chain is internally consistent.
      assert.equal(f.log.verify(null).ok, true);
      assertBad(f.log.verify(f.macKey), 10, /the chain was rewritten: entries up to 10 do not match the signed checkpoint/);
    } finally {
      f.db.close();
    }
  });

  test('a rewritten chain is not re-signed by a later unlock or append (the evidence survives)', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => {
        db.prepare("UPDATE audit SET reason = 'rewritten' WHERE seq = 4").run();
        rehashFrom(db, 4);
      });
      // What an unlock does (sign the head), then what a running host does (append + sign).
      f.log.checkpointHead(T0 + 20_000, f.macKey);
      f.log.append(sampleFields(11), T0 + 21_000, f.macKey);
      assertBad(f.log.verify(f.macKey), 10, /the chain was rewritten/);
    } finally {
      f.db.close();
    }
  });

  test('deleting every checkpoint (and the tail) → detected with the MAC key', () => {
    const f = withLog(6);
    try {
      tamper(f, (db) => {
        db.prepare('DELETE FROM audit WHERE seq > 4').run();
        db.prepare('DELETE FROM audit_checkpoints').run();
      });
      assertBad(f.log.verify(f.macKey), 1, /no signed checkpoint remains/);
    } finally {
      f.db.close();
    }
  });

  test('a rewrite that also replaces the checkpoint hash → invalid MAC', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => {
        db.prepare('UPDATE audit SET purpose = NULL WHERE seq = 2').run();
        rehashFrom(db, 2);
        const head = db.prepare('SELECT hash FROM audit WHERE seq = 10').get() as { hash: Buffer };
        db.prepare('UPDATE audit_checkpoints SET hash = ? WHERE seq = 10').run(head.hash);
      });
      assert.equal(f.log.verify(null).ok, true);
      assertBad(f.log.verify(f.macKey), 10, /checkpoint at entry 10 has an invalid MAC/);
    } finally {
      f.db.close();
    }
  });

  test('periodic checkpoints are kept, so a rewrite is caught at the first one after it', () => {
    const dir = tempDir();
    const db = openDatabase(dir, { create: true })!;
    const log = new AuditLog(db);
    const macKey = randomBytes(32);
    const f: Fixture = { dir, db, log, macKey };
    try {
      // One batch up to 1024 (a periodic checkpoint), then a few more appended one by one.
      db.transaction(() =>
        log.appendInTransaction(
          Array.from({ length: 1024 }, (_, i) => sampleFields(i + 1)),
          T0,
          macKey,
        ),
      ).immediate();
      for (let i = 1025; i <= 1030; i++) log.append(sampleFields(i), T0 + i, macKey);
      assert.deepEqual(db.prepare('SELECT seq FROM audit_checkpoints ORDER BY seq').all(), [{ seq: 1024 }, { seq: 1030 }]);
      assert.deepEqual(log.verify(macKey), { ok: true, entries: 1030, checkpointsVerified: 2, macChecked: true });
      tamper(f, (tdb) => {
        tdb.prepare("UPDATE audit SET reason = 'rewritten' WHERE seq = 10").run();
        rehashFrom(tdb, 10);
      });
      assertBad(log.verify(macKey), 1024, /entries up to 1024 do not match the signed checkpoint/);
    } finally {
      db.close();
    }
  });

  test('a forged checkpoint MAC → detected, naming the checkpoint', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => db.prepare('UPDATE audit_checkpoints SET mac = randomblob(32) WHERE seq = 10').run());
      assert.equal(f.log.verify(null).ok, true, 'the MAC is only checkable with the key');
      assertBad(f.log.verify(f.macKey), 10, /checkpoint at entry 10 has an invalid MAC \(forged or altered\)/);
    } finally {
      f.db.close();
    }
  });

  test('another key does not verify the checkpoints', () => {
    const f = withLog(3);
    try {
      assertBad(f.log.verify(randomBytes(32)), 3, /invalid MAC/);
    } finally {
      f.db.close();
    }
  });

  test('appends by another connection in between: still one head checkpoint, and it verifies', () => {
    const f = withLog(5);
    const other = new Database(vaultPath(f.dir));
    try {
      const otherLog = new AuditLog(other);
      otherLog.append(sampleFields(6), T0 + 6_000, f.macKey);
      f.log.append(sampleFields(7), T0 + 7_000, f.macKey);
      otherLog.append(sampleFields(8), T0 + 8_000, f.macKey);
      otherLog.append(sampleFields(9), T0 + 9_000, f.macKey);
      f.log.append(sampleFields(10), T0 + 10_000, f.macKey);
      f.log.append(sampleFields(11), T0 + 11_000, f.macKey);
      assert.deepEqual(f.db.prepare('SELECT seq FROM audit_checkpoints').all(), [{ seq: 11 }]);
      assert.deepEqual(f.log.verify(f.macKey), { ok: true, entries: 11, checkpointsVerified: 1, macChecked: true });
    } finally {
      other.close();
      f.db.close();
    }
  });

  test('a forged MAC on the checkpoint this log itself wrote stops the signing (no re-signing over it)', () => {
    const f = withLog(10);
    try {
      tamper(f, (db) => db.prepare('UPDATE audit_checkpoints SET mac = randomblob(32) WHERE seq = 10').run());
      f.log.append(sampleFields(11), T0 + 11_000, f.macKey);
      // Not extended: the forged checkpoint is still the latest, and verify names it.
      assert.deepEqual(f.db.prepare('SELECT seq FROM audit_checkpoints').all(), [{ seq: 10 }]);
      assertBad(f.log.verify(f.macKey), 10, /checkpoint at entry 10 has an invalid MAC/);
    } finally {
      f.db.close();
    }
  });

  test('a rolled-back append leaves nothing stale behind: the next appends sign and verify', () => {
    const f = withLog(3);
    try {
      assert.throws(
        () =>
          f.db
            .transaction(() => {
              f.log.appendInTransaction([sampleFields(4)], T0 + 4_000, f.macKey);
              throw new Error('rolled back');
            })
            .immediate(),
        /rolled back/,
      );
      assert.equal(f.log.headSeq(), 3);
      f.log.append(sampleFields(4), T0 + 5_000, f.macKey);
      f.log.append(sampleFields(5), T0 + 6_000, f.macKey);
      assert.deepEqual(f.db.prepare('SELECT seq FROM audit_checkpoints').all(), [{ seq: 5 }]);
      assert.deepEqual(f.log.verify(f.macKey), { ok: true, entries: 5, checkpointsVerified: 1, macChecked: true });
    } finally {
      f.db.close();
    }
  });

  test('another key: the previous checkpoint is checked with it, so nothing is signed', () => {
    const f = withLog(4);
    try {
      f.log.append(sampleFields(5), T0 + 5_000, randomBytes(32));
      // The entry is appended but not signed: the checkpoint this log wrote stays the head one.
      assert.deepEqual(f.db.prepare('SELECT seq FROM audit_checkpoints').all(), [{ seq: 4 }]);
      assert.deepEqual(f.log.verify(f.macKey), { ok: true, entries: 5, checkpointsVerified: 1, macChecked: true });
    } finally {
      f.db.close();
    }
  });

  test('checkpointHead re-signs the head after unsigned appends', () => {
    const f = withLog(3);
    try {
      f.log.append({ event: 'vault.unlock', decision: 'failed' }, T0, null);
      assert.deepEqual(f.db.prepare('SELECT seq FROM audit_checkpoints').all(), [{ seq: 3 }]);
      f.log.checkpointHead(T0, f.macKey);
      assert.deepEqual(f.db.prepare('SELECT seq FROM audit_checkpoints').all(), [{ seq: 4 }]);
      assert.deepEqual(f.log.verify(f.macKey), { ok: true, entries: 4, checkpointsVerified: 1, macChecked: true });
    } finally {
      f.db.close();
    }
  });

  test('query filters', () => {
    const f = withLog(20);
    try {
      const seqs = (q: Parameters<AuditLog['query']>[0]): number[] => f.log.query(q).map((e) => e.seq);
      const all = Array.from({ length: 20 }, (_, i) => i + 1);
      assert.deepEqual(seqs({}), all);
      assert.deepEqual(
        seqs({ agent: 'claude' }),
        all.filter((i) => i % 2 === 0),
      );
      assert.deepEqual(
        seqs({ secret: 'svc/key-1' }),
        all.filter((i) => i % 4 === 1),
      );
      assert.deepEqual(
        seqs({ event: 'secret.get' }),
        all.filter((i) => i % 3 === 0),
      );
      assert.deepEqual(seqs({ decision: 'denied' }), [5, 10, 15, 20]);
      assert.deepEqual(seqs({ agent: 'claude', decision: 'denied' }), [10, 20]);
      assert.deepEqual(seqs({ sinceTs: T0 + 5000, untilTs: T0 + 8000 }), [5, 6, 7, 8]);
      assert.deepEqual(seqs({ afterSeq: 17 }), [18, 19, 20]);
      assert.deepEqual(seqs({ beforeSeq: 3 }), [1, 2]);
      assert.deepEqual(seqs({ afterSeq: 2, beforeSeq: 6 }), [3, 4, 5]);
      assert.deepEqual(seqs({ order: 'desc', limit: 3 }), [20, 19, 18]);
      assert.deepEqual(seqs({ limit: 2 }), [1, 2]);
      assert.deepEqual(seqs({ limit: 0 }), [1], 'limit is at least 1');
      // Free text is case-insensitive and searches agent, event, secret, exe, purpose, reason, decision.
      assert.deepEqual(seqs({ text: 'DEPLOY STEP 1' }), [1, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      assert.deepEqual(
        seqs({ text: 'CLAUDE' }),
        all.filter((i) => i % 2 === 0),
      );
      assert.deepEqual(seqs({ text: 'no such thing' }), []);
      // Values are bound, never spliced into SQL.
      assert.deepEqual(seqs({ agent: "x' OR '1'='1" }), []);
      assert.deepEqual(seqs({ text: "%' OR 1=1 --" }), []);
      const [e] = f.log.query({ afterSeq: 6, limit: 1 });
      assert.deepEqual(e!.detail, { i: 7 });
    } finally {
      f.db.close();
    }
  });

  test('an unparsable detail does not break queries', () => {
    const f = withLog(2);
    try {
      tamper(f, (db) => db.prepare("UPDATE audit SET detail = '{not json' WHERE seq = 2").run());
      assert.deepEqual(f.log.query({ afterSeq: 1 })[0]!.detail, { unparsable: true });
    } finally {
      f.db.close();
    }
  });
});
