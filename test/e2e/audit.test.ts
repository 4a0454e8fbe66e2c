/**
 * The audit log and the value's footprint, end to end (DESIGN §7): a host killed with -9
 * in the middle of deliveries leaves a valid chain with an entry for every value a client
 * received; rows altered with the sqlite3 CLI are named by verify; and the value never
 * shows in `ps`, the daemon's environment, the audit table or the daemon's log.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { akc, PASSWORD, type AkcEnv } from '../helpers/env.js';
import {
  akcGet,
  approve,
  cloneVault,
  Daemon,
  initVault,
  ok,
  pendingIdOf,
  rpc,
  startAgent,
  vaultDb,
  verifyAudit,
  type Agent,
} from '../helpers/daemon.js';
import { entryHash } from '../../src/core/audit/chain.js';
import type { AuditRow } from '../../src/core/audit/chain.js';

const run = promisify(execFile);
const haveSqlite = spawnSync('sqlite3', ['-version']).status === 0;

/** `akc audit verify --password-stdin --json`: its exit code and report (a run that prints no report fails here). */
async function cliVerify(env: AkcEnv): Promise<{ code: number | null; report: { ok: boolean; firstBadSeq?: number } }> {
  const r = await akc(env, ['audit', 'verify', '--password-stdin', '--json'], `${PASSWORD}\n`);
  let report: { ok: boolean; firstBadSeq?: number };
  try {
    report = JSON.parse(r.stdout) as typeof report;
  } catch {
    assert.fail(`akc audit verify printed no JSON report (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  assert.equal(typeof report.ok, 'boolean', r.stdout);
  return { code: r.code, report };
}

describe('kill -9 of the host during a burst of gets', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ BURST_KEY: 'burst-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('after a restart the chain verifies and every value a client received has its secret.deliver entry', async () => {
    const first = startAgent(env, ['BURST_KEY']);
    ok(await approve(env, (await first.pending()).approvalId!, 'always'), 'akc approve --always');
    const firstValue = (await first.done()).find((e) => e.ev === 'value')!;

    // 3 processes × 4 connections, each getting in a loop until the host goes away.
    const agents: Agent[] = Array.from({ length: 3 }, () => startAgent(env, ['BURST_KEY'], { connections: 4, loop: true }));
    const received = (): number => agents.reduce((n, a) => n + a.events().filter((e) => e.ev === 'value').length, 0);
    await Promise.race(agents.map((a) => a.stdout.until(() => (received() >= 600 ? true : undefined), '600 values in all', 30_000)));
    const crashed = await daemon.crash();
    assert.equal(crashed.signal, 'SIGKILL');
    const events = (await Promise.all(agents.map((a) => a.done()))).flat();

    const values = events.filter((e) => e.ev === 'value');
    assert.ok(values.length >= 600);
    assert.ok(
      values.every((e) => e.value === 'burst-value'),
      'no corrupted value',
    );
    const errors = events.filter((e) => e.ev === 'error');
    assert.equal(errors.length, 12, 'every connection ended with an error');
    assert.ok(
      // IO for connections the kill cut; HOST_NOT_RUNNING for one that was still connecting.
      errors.every((e) => e.code === 'IO' || e.code === 'HOST_NOT_RUNNING'),
      JSON.stringify(errors.slice(0, 3)),
    );

    // Restart on the same data dir and socket (the stale socket is replaced).
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    const after = await startAgent(env, ['BURST_KEY']).done();
    assert.deepEqual(
      after.filter((e) => e.ev === 'value' || e.ev === 'error' || e.ev === 'pending').map((e) => e.ev),
      ['value'],
      'the grant survived the crash',
    );
    await daemon.stop();

    const check = await verifyAudit(env);
    assert.deepEqual(check.result.ok, true, JSON.stringify(check.result));
    assert.ok(check.result.ok && check.result.checkpointsVerified > 0);
    for (const e of [firstValue, ...values]) {
      const entry = check.deliveries.get(e.lease!.id);
      assert.ok(entry, `no secret.deliver entry for lease ${e.lease!.id}`);
      assert.equal(entry.secret, 'BURST_KEY');
      assert.equal(entry.decision, 'allow');
    }
    const cli = await cliVerify(env);
    assert.equal(cli.code, 0, JSON.stringify(cli.report));
    assert.equal(cli.report.ok, true);
  });
});

describe('audit rows changed with the sqlite3 CLI', { skip: haveSqlite ? false : 'no sqlite3 CLI' }, () => {
  let env: AkcEnv;
  /** A secret.deliver entry in the middle of the log. */
  let target: number;

  before(async () => {
    env = await initVault({ AUDITED: 'audited-value' });
    const daemon = await Daemon.start(env, { approvalTimeout: 60 });
    try {
      const agent = startAgent(env, ['AUDITED'], { repeat: 5 });
      ok(await approve(env, (await agent.pending()).approvalId!, '15m'), 'akc approve --for 15m');
      await agent.done();
      ok(await akc(env, ['lock']), 'akc lock');
    } finally {
      await daemon.stop();
    }
    const check = await verifyAudit(env);
    assert.equal(check.result.ok, true, JSON.stringify(check.result));
    const deliveries = check.entries.filter((e) => e.event === 'secret.deliver');
    assert.equal(deliveries.length, 5);
    target = deliveries[2]!.seq;
    assert.ok(target < check.entries.length - 1, 'entries follow the target');
  });

  async function tampered(sql: string): Promise<AkcEnv> {
    const copy = cloneVault(env);
    await run('sqlite3', [vaultDb(copy), sql]);
    return copy;
  }

  async function assertNamed(copy: AkcEnv, seq: number, problem: RegExp): Promise<void> {
    const { result } = await verifyAudit(copy);
    assert.equal(result.ok, false, 'verify noticed');
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, seq, result.problem);
    assert.match(result.problem, problem);
    const cli = await cliVerify(copy);
    assert.equal(cli.code, 1);
    assert.equal(cli.report.ok, false);
    assert.equal(cli.report.firstBadSeq, seq);
  }

  it('the untouched copy verifies', async () => {
    const copy = cloneVault(env);
    assert.equal((await verifyAudit(copy)).result.ok, true);
    assert.equal((await cliVerify(copy)).code, 0);
  });

  it('an edited row', async () => {
    const copy = await tampered(`UPDATE audit SET purpose = 'nothing to see' WHERE seq = ${target};`);
    await assertNamed(copy, target, new RegExp(`entry ${target} was altered`));
  });

  it('a deleted row', async () => {
    const copy = await tampered(`DELETE FROM audit WHERE seq = ${target};`);
    await assertNamed(copy, target, new RegExp(`entry ${target} is missing`));
  });

  it('two rows swapped', async () => {
    const copy = await tampered(
      `BEGIN; UPDATE audit SET seq = -1 WHERE seq = ${target}; UPDATE audit SET seq = ${target} WHERE seq = ${target + 1};` +
        ` UPDATE audit SET seq = ${target + 1} WHERE seq = -1; COMMIT;`,
    );
    await assertNamed(copy, target, new RegExp(`entry ${target} does not follow`));
  });

  it('the last rows deleted (a truncated log)', async () => {
    const copy = await tampered(`DELETE FROM audit WHERE seq > ${target};`);
    await assertNamed(copy, target + 1, /missing \(the log was truncated\)/);
  });

  it('a chain rewritten consistently after an edit is caught by the signed checkpoint', async () => {
    const copy = cloneVault(env);
    await run('sqlite3', [vaultDb(copy), `UPDATE audit SET reason = 'rewritten' WHERE seq = ${target};`]);
    // Recompute every hash from the edited row on, as an attacker without the vault key can.
    const db = new Database(vaultDb(copy));
    const rows = db.prepare('SELECT * FROM audit WHERE seq >= ? ORDER BY seq').all(target) as AuditRow[];
    let prev = (db.prepare('SELECT hash FROM audit WHERE seq = ?').get(target - 1) as { hash: Buffer }).hash;
    const update = db.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?');
    for (const row of rows) {
      const hash = entryHash(prev, row);
      update.run(prev, hash, row.seq);
      prev = hash;
    }
    const head = rows.at(-1)!.seq;
    db.close();
    const { result } = await verifyAudit(copy);
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.match(result.problem, /rewritten|checkpoint/);
    assert.ok(result.firstBadSeq >= target && result.firstBadSeq <= head, result.problem);
    assert.equal((await cliVerify(copy)).code, 1);
  });
});

describe('the value leaves no trace outside the agent', () => {
  // Unique, so any hit is a leak and not a coincidence.
  const value = `LEAKCHECK-${randomBytes(12).toString('hex')}`;
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ LEAKY: value });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  async function psArgs(): Promise<string> {
    return (await run('ps', ['-eo', 'pid,args'], { maxBuffer: 16 * 1024 * 1024 })).stdout;
  }

  it('not in `ps` output while gets run, nor in the daemon’s environment or command line', async () => {
    // A get that waits for approval is caught by ps for sure.
    const waiting = akcGet(env, 'LEAKY', ['--purpose', 'leak check']);
    const id = await pendingIdOf(waiting);
    const during = await psArgs();
    assert.match(during, new RegExp(`${waiting.pid} .*akc.js get LEAKY --purpose leak check`));
    ok(await approve(env, id, 'always'), 'akc approve --always');
    const r = await waiting.exited;
    assert.equal(r.stdout, `${value}\n`, 'the value reached the agent, on stdout only');
    assert.ok(!r.stderr.includes(value));

    // Then snapshots while a burst of `akc get` (4 lanes of 5) is delivering values.
    let lanesDone = false;
    const lanes = Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 5; i++) {
          const get = await akcGet(env, 'LEAKY').exited;
          assert.equal(get.code, 0, get.stderr);
          assert.equal(get.stdout, `${value}\n`);
          assert.doesNotMatch(get.stderr, /waiting for approval/, 'granted: no prompt');
        }
      }),
    ).finally(() => (lanesDone = true));
    const snapshots: string[] = [];
    while (!lanesDone) snapshots.push(await psArgs());
    await lanes;
    assert.ok(
      snapshots.some((s) => /akc\.js get LEAKY/.test(s)),
      'ps saw a get running',
    );
    for (const s of [during, ...snapshots]) assert.ok(!s.includes(value), 'value in ps output');

    const environ = fs.readFileSync(`/proc/${daemon.pid}/environ`);
    const cmdline = fs.readFileSync(`/proc/${daemon.pid}/cmdline`);
    assert.ok(environ.length > 0);
    assert.ok(!environ.includes(value), 'value in the daemon’s environment');
    assert.ok(!cmdline.includes(value), 'value in the daemon’s command line');
  });

  it('not in the audit table, the database files or the daemon’s log', async () => {
    assert.ok(!daemon.log.text.includes(value), 'value in the daemon’s log');
    await daemon.stop();
    assert.ok(!daemon.log.text.includes(value), 'value in the daemon’s log (after stop)');
    assert.match(daemon.log.text, /LEAKY/, 'the log does name the secret');

    const check = await verifyAudit(env);
    assert.equal(check.deliveries.size, 21, 'the deliveries were audited');
    if (haveSqlite) {
      const dump = (await run('sqlite3', [vaultDb(env), '.dump audit'], { maxBuffer: 64 * 1024 * 1024 })).stdout;
      assert.match(dump, /secret\.deliver/);
      assert.ok(!dump.includes(value), 'value in the audit table');
    }
    for (const f of fs.readdirSync(env.home)) {
      const bytes = fs.readFileSync(path.join(env.home, f));
      assert.ok(!bytes.includes(value), `value in plaintext in ${f}`);
    }
    // Restart for after(): it stops whatever runs.
    daemon = await Daemon.start(env);
    assert.equal((await rpc(env.socket, 'status')).result.vault, 'unlocked');
  });
});
