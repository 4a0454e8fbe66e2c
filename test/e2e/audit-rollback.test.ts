/**
 * Audit rollback (issue 16): a same-user process deletes the log's tail and puts back an
 * older, validly signed checkpoint while the daemon runs, or deletes checkpoints, wipes,
 * truncates or re-hashes the log. The running host keeps the head it wrote and refuses to
 * sign over a rolled-back tail; `akc audit verify` compares the log with the anchor file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { akc, PASSWORD, type AkcEnv } from '../helpers/env.js';
import { approve, cloneVault, Daemon, initVault, ok, setSecret, startAgent, vaultDb, type Json } from '../helpers/daemon.js';
import { entryHash, type AuditRow } from '../../src/core/audit/chain.js';
import { ANCHOR_FILE, readAnchor } from '../../src/core/audit/anchor.js';

async function verify(env: AkcEnv): Promise<{ code: number | null; report: Json; stderr: string }> {
  const r = await akc(env, ['audit', 'verify', '--password-stdin', '--json'], `${PASSWORD}\n`);
  return { code: r.code, report: JSON.parse(r.stdout), stderr: r.stderr };
}

function withDb<T>(env: AkcEnv, fn: (db: Database.Database) => T): T {
  const db = new Database(vaultDb(env));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const maxSeq = (env: AkcEnv): number => withDb(env, (db) => db.prepare('SELECT max(seq) FROM audit').pluck().get() as number);
const maxCheckpoint = (env: AkcEnv): number =>
  withDb(env, (db) => (db.prepare('SELECT max(seq) FROM audit_checkpoints').pluck().get() as number | null) ?? 0);

/** Waits (bounded) until the anchor file records at least entry `seq`. */
async function anchorReaches(env: AkcEnv, seq: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const a = readAnchor(env.home);
    if (a.kind === 'ok' && a.anchor.seq >= seq) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the anchor never reached entry ${seq}: ${JSON.stringify(readAnchor(env.home))}`);
}

async function deliveries(env: AkcEnv, n: number): Promise<void> {
  const events = await startAgent(env, ['K'], { repeat: n }).done();
  assert.equal(events.filter((e) => e.ev === 'value' && e.value === 'v').length, n, JSON.stringify(events));
}

describe('a rollback while the daemon runs', () => {
  let daemon: Daemon | undefined;
  after(async () => {
    await daemon?.stop();
  });

  it('is detected: alert and audit.rollback entry, no checkpoint signed over it, and verify fails naming it', async () => {
    const env = await initVault({ K: 'v' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    const first = startAgent(env, ['K']);
    ok(await approve(env, (await first.pending()).approvalId!, 'always'), 'akc approve --always');
    await first.done();
    await deliveries(env, 3);
    const n = maxSeq(env);
    await anchorReaches(env, n);
    const saved = withDb(env, (db) => db.prepare('SELECT * FROM audit_checkpoints').all() as Json[]);
    assert.equal(Math.max(...saved.map((c) => c.seq)), n, 'the host signed its head');

    await deliveries(env, 3);
    const m = maxSeq(env);
    assert.ok(m > n);
    await anchorReaches(env, m);

    // The attack: delete the tail, put back the older (valid) checkpoint rows.
    withDb(env, (db) =>
      db.transaction(() => {
        db.prepare('DELETE FROM audit WHERE seq > ?').run(n);
        db.prepare('DELETE FROM audit_checkpoints').run();
        const put = db.prepare('INSERT INTO audit_checkpoints (seq, hash, mac, ts) VALUES (?, ?, ?, ?)');
        for (const c of saved) put.run(c.seq, c.hash, c.mac, c.ts);
      })(),
    );

    await deliveries(env, 2);
    await daemon.log.waitFor(/ALERT .*audit log tampering detected/);
    const rollback = withDb(env, (db) => db.prepare("SELECT * FROM audit WHERE event = 'audit.rollback'").all() as Json[]);
    assert.equal(rollback.length, 1);
    assert.equal(JSON.parse(rollback[0].detail).expectedSeq >= m, true, rollback[0].detail);
    assert.ok(maxSeq(env) > n + 2, 'the host went on recording');
    assert.equal(maxCheckpoint(env), n, 'no checkpoint was signed on top of the rolled-back chain');
    const alerts = withDb(env, (db) => db.prepare("SELECT * FROM alerts WHERE rule = 'audit.rollback'").all() as Json[]);
    assert.equal(alerts.length, 1);

    const v = await verify(env);
    assert.equal(v.code, 1, v.stderr);
    assert.equal(v.report.ok, false);
    assert.match(v.report.problem, /rolled back/);
    assert.match(v.stderr, /^akc: error: audit log altered at entry \d+: .*rolled back/);
    // And it keeps failing (verify's own unlock must not bless it).
    assert.equal((await verify(env)).code, 1);
  });
});

describe('verify with the password, against the anchor', () => {
  let base: AkcEnv;
  const fresh = async (): Promise<AkcEnv> => {
    base ??= await (async () => {
      const env = await initVault({ A: 'a', B: 'b' });
      await setSecret(env, 'C', 'c');
      await setSecret(env, 'D', 'd');
      return env;
    })();
    return cloneVault(base);
  };

  it('the untouched log passes, also on a second run', async () => {
    const env = await fresh();
    const v = await verify(env);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.report.ok, true);
    assert.equal((await verify(env)).code, 0);
  });

  it('all checkpoints deleted → fails', async () => {
    const env = await fresh();
    withDb(env, (db) => db.prepare('DELETE FROM audit_checkpoints').run());
    const v = await verify(env);
    assert.equal(v.code, 1);
    assert.match(JSON.stringify(v.report.problems), /checkpoints were deleted/);
    assert.equal((await verify(env)).code, 1, 'still failing after verify unlocked');
  });

  it('the audit table wiped → fails', async () => {
    const env = await fresh();
    withDb(env, (db) => db.prepare('DELETE FROM audit').run());
    const v = await verify(env);
    assert.equal(v.code, 1);
    assert.match(v.report.problem, /truncated|rolled back|wiped/);
    assert.match(JSON.stringify(v.report.problems), /its anchor records entry/);
  });

  it('truncated and re-hashed into a consistent chain (checkpoints deleted) → fails', async () => {
    const env = await fresh();
    withDb(env, (db) =>
      db.transaction(() => {
        const last = db.prepare('SELECT max(seq) FROM audit').pluck().get() as number;
        db.prepare('DELETE FROM audit WHERE seq >= ?').run(last - 1);
        db.prepare("UPDATE audit SET reason = 'forged' WHERE seq = 2").run();
        let prev = db.prepare('SELECT hash FROM audit WHERE seq = 1').pluck().get() as Buffer;
        for (const row of db.prepare('SELECT * FROM audit WHERE seq >= 2 ORDER BY seq').all() as AuditRow[]) {
          const hash = entryHash(prev, row);
          db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, row.seq);
          prev = hash;
        }
        db.prepare('DELETE FROM audit_checkpoints').run();
      })(),
    );
    const v = await verify(env);
    assert.equal(v.code, 1);
    assert.match(v.report.problem, /rolled back|anchor|checkpoint/);
  });

  it('the anchor file deleted → reported missing', async () => {
    const env = await fresh();
    fs.rmSync(path.join(env.home, ANCHOR_FILE));
    const v = await verify(env);
    assert.equal(v.code, 1);
    assert.match(v.report.problem, /audit anchor file \(audit-anchor\) is missing/);
    assert.match(v.stderr, /akc: error: .*anchor file \(audit-anchor\) is missing/);
  });

  it('an anchor with a forged MAC → fails', async () => {
    const env = await fresh();
    const file = path.join(env.home, ANCHOR_FILE);
    const a = JSON.parse(fs.readFileSync(file, 'utf8'));
    a.mac = '00'.repeat(32);
    fs.writeFileSync(file, JSON.stringify(a));
    const v = await verify(env);
    assert.equal(v.code, 1);
    assert.match(v.report.problem, /invalid MAC/);
  });
});

describe('the untouched log across lock, unlock and a daemon restart', () => {
  let daemon: Daemon | undefined;
  after(async () => {
    await daemon?.stop();
  });

  it('verifies each time', async () => {
    const env = await initVault({ K: 'v' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    const first = startAgent(env, ['K']);
    ok(await approve(env, (await first.pending()).approvalId!, 'always'), 'akc approve --always');
    await first.done();
    await deliveries(env, 2);
    ok(await akc(env, ['lock']), 'akc lock');
    ok(await akc(env, ['unlock', '--password-stdin'], `${PASSWORD}\n`), 'akc unlock');
    await deliveries(env, 2);
    await anchorReaches(env, maxSeq(env));
    let v = await verify(env);
    assert.equal(v.code, 0, v.stderr);
    await daemon.stop();
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    await deliveries(env, 1);
    await daemon.stop();
    daemon = undefined;
    v = await verify(env);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(
      withDb(env, (db) => db.prepare("SELECT count(*) FROM audit WHERE event LIKE 'audit.%'").pluck().get()),
      0,
    );
  });
});
