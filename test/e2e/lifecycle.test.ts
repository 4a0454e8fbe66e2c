/**
 * Secret lifecycle end to end: the real `akc` CLI (secret policy, rotate, prune,
 * revoke-grants, guard, alerts, status), a real `akc daemon` serving `akc get` and raw
 * socket clients (expiry refused with EXPIRED -32007, version pinning across a rotation,
 * a canary that locks the vault), and kill -9 in the middle of rotations (of `akc rotate`
 * and of the daemon's scheduler), checked with SQLite afterwards: exactly one current
 * version, never both or neither.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { akc, AKC_BIN, PASSWORD, tempDir, type AkcEnv } from '../helpers/env.js';
import { Daemon, initVault, ok, rpc, vaultDb, type Json } from '../helpers/daemon.js';

const PW = `${PASSWORD}\n`;

async function json(env: AkcEnv, args: string[], input = ''): Promise<Json> {
  return JSON.parse(ok(await akc(env, [...args, '--json'], input), `akc ${args.join(' ')}`).stdout);
}

/** The version rows of a secret, straight from vault.db (the writer must be stopped or idle). */
function versions(env: AkcEnv, name: string): { current: number; rows: { version: number; state: string }[] } {
  const db = new Database(vaultDb(env));
  try {
    const s = db.prepare('SELECT id, current_version FROM secrets WHERE name = ?').get(name) as { id: string; current_version: number };
    const rows = db.prepare('SELECT version, state FROM secret_versions WHERE secret_id = ? ORDER BY version').all(s.id) as {
      version: number;
      state: string;
    }[];
    assert.equal(db.pragma('integrity_check', { simple: true }) as string, 'ok');
    return { current: s.current_version, rows };
  } finally {
    db.close();
  }
}

/** Exactly one current version, and it is the one `secrets.current_version` names. */
function assertOneCurrent(env: AkcEnv, name: string): number {
  const v = versions(env, name);
  const current = v.rows.filter((r) => r.state === 'current');
  assert.equal(current.length, 1, `exactly one current version: ${JSON.stringify(v)}`);
  assert.equal(current[0]!.version, v.current, `secrets.current_version matches: ${JSON.stringify(v)}`);
  assert.equal(Math.max(...v.rows.map((r) => r.version)), v.current, `no version beyond the current one: ${JSON.stringify(v)}`);
  return v.current;
}

function sql(env: AkcEnv, statement: string, ...params: unknown[]): void {
  const db = new Database(vaultDb(env));
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
}

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function killGroup(pidFile: string): void {
  try {
    process.kill(-Number(fs.readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
  } catch {
    // already gone
  }
}

function rotatorScript(dir: string, body: string): string {
  const file = path.join(dir, `rotator-${Math.random().toString(36).slice(2)}.sh`);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o700 });
  return file;
}

describe('lifecycle through the CLI and a running daemon', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ PIN: 'pin-v1', EXP: 'exp-value', GEN: 'gen-v1', HOOK: 'hook-v1', OTHER: 'other-value' });
    ok(await akc(env, ['agent', 'add', 'getter', '--exe', AKC_BIN, '--password-stdin'], PW), 'agent add');
    ok(await akc(env, ['grant', 'getter', 'PIN', '--until-lock', '--keep-on-rotate', '--password-stdin'], PW), 'grant PIN');
    ok(await akc(env, ['grant', 'getter', 'EXP', '--always', '--keep-on-rotate', '--password-stdin'], PW), 'grant EXP');
    ok(await akc(env, ['grant', 'getter', 'OTHER', '--until-lock', '--password-stdin'], PW), 'grant OTHER');
    daemon = await Daemon.start(env, { approvalTimeout: 30 });
  });
  after(async () => {
    await daemon?.stop();
  });

  const get = (name: string, args: string[] = []) => akc(env, ['get', name, '--agent', 'getter', ...args]);

  it('secret policy sets and shows lifecycle metadata (password, audited); secret show / list print it', async () => {
    const bad = await akc(env, ['secret', 'policy', 'GEN', '--owner', 'ops', '--password-stdin'], 'wrong password\n');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /wrong master password/);
    const before = Date.now();
    const p = await json(
      env,
      [
        'secret',
        'policy',
        'GEN',
        '--owner',
        'ops',
        '--purpose',
        'internal token',
        '--rotate-every',
        '30d',
        '--grace',
        '1h',
        '--rotator',
        'generate:length=40,charset=hex,prefix=tok_',
        '--password-stdin',
      ],
      PW,
    );
    assert.equal(p.owner, 'ops');
    assert.equal(p.rotator, 'generate:length=40,charset=hex,prefix=tok_');
    const show = await json(env, ['secret', 'show', 'GEN']);
    assert.equal(show.owner, 'ops');
    assert.equal(show.purpose, 'internal token');
    assert.equal(show.rotateEvery, '30d');
    assert.equal(show.grace, '1h');
    assert.equal(show.lastRotatedAt, null);
    assert.equal(show.expiresAt, null);
    const next = Date.parse(show.nextRotationAt);
    assert.ok(next >= before + 30 * 86_400_000 && next <= Date.now() + 30 * 86_400_000);
    const list = await json(env, ['secret', 'list']);
    assert.equal(list.secrets.find((s: Json) => s.name === 'GEN').nextRotationAt, show.nextRotationAt);
    const text = ok(await akc(env, ['secret', 'show', 'GEN']), 'secret show').stdout;
    assert.match(text, /rotator +generate:length=40,charset=hex,prefix=tok_/);
    assert.match(text, /rotation +every 30d · grace 1h/);
    // Usage errors come before the password.
    const usage = await akc(env, ['secret', 'policy', 'GEN', '--rotator', 'command:relative.sh', '--password-stdin'], PW);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /must be absolute/);
    const both = await akc(env, ['secret', 'policy', 'GEN', '--expires-in', '1d', '--no-expiry']);
    assert.equal(both.code, 2);

    // akc rotate uses the generator and prints only the version number.
    const r = ok(await akc(env, ['rotate', 'GEN', '--password-stdin'], PW), 'akc rotate GEN');
    assert.equal(r.stdout, '2\n');
    const after = await json(env, ['secret', 'show', 'GEN']);
    assert.ok(after.lastRotatedAt);
    assert.deepEqual(
      after.versions.map((v: Json) => [v.version, v.state]),
      [
        [2, 'current'],
        [1, 'previous'],
      ],
    );
    assert.ok(after.versions[1].retireAt);
    const audit = await json(env, ['audit', '--secret', 'GEN']);
    const events = (audit.entries ?? audit).map((e: Json) => e.event);
    assert.ok(events.includes('secret.policy') && events.includes('secret.rotate'), JSON.stringify(events));
  });

  it('a webhook rotator prints its signing key once, on stderr only', async () => {
    const r = ok(
      await akc(env, ['secret', 'policy', 'HOOK', '--rotator', 'webhook:http://127.0.0.1:9/rotate', '--password-stdin'], PW),
      'policy HOOK',
    );
    const key = /akcwh_[A-Za-z0-9_-]{43}/.exec(r.stderr)?.[0];
    assert.ok(key, r.stderr);
    assert.doesNotMatch(r.stdout, /akcwh_/);
    assert.match(r.stderr, /X-AKC-Signature: sha256=/);
    const again = ok(await akc(env, ['secret', 'policy', 'HOOK', '--grace', '10m', '--password-stdin'], PW), 'policy HOOK again');
    assert.doesNotMatch(again.stderr, /akcwh_/, 'shown once');
    const renewed = ok(await akc(env, ['secret', 'policy', 'HOOK', '--new-webhook-key', '--password-stdin'], PW), 'new key');
    const key2 = /akcwh_[A-Za-z0-9_-]{43}/.exec(renewed.stderr)?.[0];
    assert.ok(key2 && key2 !== key);
    // Nothing listens on port 9: the rotation fails, is audited, and nothing changes.
    const failed = await akc(env, ['rotate', 'HOOK', '--password-stdin'], PW);
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /rotation webhook http:\/\/127\.0\.0\.1:9\/rotate could not be reached/);
    assert.equal(failed.stdout, '');
    assert.equal(assertOneCurrent(env, 'HOOK'), 1);
    const raw = fs.readFileSync(vaultDb(env));
    assert.equal(raw.includes(Buffer.from(key2!)), false, 'the signing key is sealed');
  });

  it('version pinning: the previous version stays readable through the grace period, then EXPIRED', async () => {
    assert.equal(ok(await get('PIN'), 'get PIN').stdout, 'pin-v1\n');
    assert.equal(ok(await akc(env, ['rotate', 'PIN', '--value-stdin', '--password-stdin'], `${PW}pin-v2`), 'rotate PIN').stdout, '2\n');
    assert.equal(ok(await get('PIN'), 'get PIN v2').stdout, 'pin-v2\n', 'the keep-on-rotate until-lock grant still applies');
    assert.equal(ok(await get('PIN', ['--version', '1']), 'get PIN --version 1').stdout, 'pin-v1\n');
    const pinned = JSON.parse(ok(await get('PIN', ['--version', '2', '--json']), 'get --json').stdout);
    assert.equal(pinned.version, 2);
    // With no grace, the next rotation retires the old version at once.
    ok(await akc(env, ['secret', 'policy', 'PIN', '--grace', '0s', '--password-stdin'], PW), 'grace 0');
    assert.equal(ok(await akc(env, ['rotate', 'PIN', '--value-stdin', '--password-stdin'], `${PW}pin-v3`), 'rotate PIN').stdout, '3\n');
    const old = await get('PIN', ['--version', '2']);
    assert.equal(old.code, 1);
    assert.match(old.stderr, /version 2 of PIN was retired/);
    const raw = await rpc(env.socket, 'secret.get', { name: 'PIN', version: 1 });
    assert.equal(raw.error.code, -32007);
    assert.equal(raw.error.data.reason, 'EXPIRED');
    const missing = await rpc(env.socket, 'secret.get', { name: 'PIN', version: 99 });
    assert.equal(missing.error.data.reason, 'NOT_FOUND');
    assert.equal(ok(await get('PIN'), 'get PIN v3').stdout, 'pin-v3\n');
  });

  it('an expired secret is refused with EXPIRED (-32007); status warns; a rotation revives it', async () => {
    assert.equal(ok(await get('EXP'), 'get EXP').stdout, 'exp-value\n');
    ok(await akc(env, ['secret', 'policy', 'EXP', '--expires-in', '2s', '--password-stdin'], PW), 'expires-in 2s');
    const soon = await json(env, ['status']);
    assert.deepEqual(
      soon.expiring.map((e: Json) => [e.name, e.expired]),
      [['EXP', false]],
    );
    const expiresAt = Date.parse((await json(env, ['secret', 'show', 'EXP'])).expiresAt);
    // Wall-clock expiry: wait until it has passed.
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 50)));
    const r = await get('EXP');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^akc: error: .*secret EXP expired at \d{4}-/);
    assert.equal(r.stdout, '');
    const raw = await rpc(env.socket, 'secret.get', { name: 'EXP' });
    assert.equal(raw.error.code, -32007);
    assert.equal(raw.error.data.reason, 'EXPIRED');
    const st = await json(env, ['status']);
    assert.deepEqual(
      st.expiring.map((e: Json) => [e.name, e.expired]),
      [['EXP', true]],
    );
    assert.match(ok(await akc(env, ['status']), 'status').stdout, /warning +EXP EXPIRED .* \(refused to agents\)/);
    ok(await akc(env, ['rotate', 'EXP', '--value-stdin', '--password-stdin'], `${PW}exp-value-2`), 'rotate EXP');
    assert.equal(ok(await get('EXP'), 'get EXP again').stdout, 'exp-value-2\n');
  });

  it('prune keeps the newest versions; revoke-grants ends every grant and lease for a secret', async () => {
    const pruned = await json(env, ['secret', 'prune', 'PIN', '--keep', '1', '--password-stdin'], PW);
    assert.deepEqual(pruned.deleted, [2, 1]);
    assert.deepEqual(
      versions(env, 'PIN').rows.map((r) => r.version),
      [3],
    );
    const bad = await akc(env, ['secret', 'prune', 'PIN', '--keep', '0']);
    assert.equal(bad.code, 2);
    const revoked = await json(env, ['secret', 'revoke-grants', 'EXP', '--password-stdin'], PW);
    assert.equal(revoked.grants.length, 1);
    assert.ok(revoked.leases >= 1);
    const grants = await json(env, ['grants']);
    assert.equal((grants.grants ?? grants).filter((g: Json) => g.secret === 'EXP' || g.secretPattern === 'EXP').length, 0);
  });

  it('guard settings: show, set with the password, refuse bad values', async () => {
    const shown = await json(env, ['guard', 'show']);
    assert.equal(shown.settings['guard.burst.limit'], 8);
    assert.equal(shown.settings['guard.activeHours'], null);
    const bad = await akc(env, ['guard', 'set', 'burst.limit', '12', '--password-stdin'], 'wrong password\n');
    assert.equal(bad.code, 1);
    ok(await akc(env, ['guard', 'set', 'burst.limit', '12', '--password-stdin'], PW), 'guard set');
    assert.equal((await json(env, ['guard', 'show'])).settings['guard.burst.limit'], 12);
    const invalid = await akc(env, ['guard', 'set', 'activeHours', 'noon', '--password-stdin'], PW);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /hours like 08-20/);
    const unknown = await akc(env, ['guard', 'set', 'nope', '1', '--password-stdin'], PW);
    assert.match(unknown.stderr, /unknown guard setting/);
  });

  it('a canary request locks the vault at once; audited, alerted, in status; cleared with the password', async () => {
    ok(await akc(env, ['secret', 'set', 'BAIT', '--canary', '--password-stdin', '--value-stdin'], `${PW}bait-value-xyz`), 'set --canary');
    assert.equal((await json(env, ['secret', 'show', 'BAIT'])).canary, true);
    const r = await akc(env, ['get', 'BAIT']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /denied: the anomaly guard locked the vault \(rule canary\)/);
    await daemon.log.waitFor(/ALERT guard\.fired \(canary\)/);
    const st = await json(env, ['status']);
    assert.equal(st.vault, 'locked');
    const alert = st.alerts.find((a: Json) => a.rule === 'canary');
    assert.ok(alert, JSON.stringify(st.alerts));
    assert.equal(alert.secret, 'BAIT');
    const audit = await json(env, ['audit', '--secret', 'BAIT']);
    const entries: Json[] = audit.entries ?? audit;
    const firedEntry = entries.find((e) => e.event === 'guard.fired');
    assert.ok(firedEntry);
    assert.equal(firedEntry.decision, 'lock');
    assert.doesNotMatch(JSON.stringify(entries), /bait-value-xyz/);
    // The until-lock grant without keep-on-rotate ended with the lock.
    const alerts = await json(env, ['alerts']);
    assert.equal(alerts.alerts.length, 1);
    ok(await akc(env, ['alerts', 'clear', String(alerts.alerts[0].id), '--password-stdin'], PW), 'alerts clear');
    assert.equal((await json(env, ['alerts'])).alerts.length, 0);
    ok(await akc(env, ['unlock', '--password-stdin'], PW), 'unlock');
    const grants = await json(env, ['grants']);
    assert.equal(JSON.stringify(grants).includes('until_lock'), false, 'until-lock grants ended at the lock');
    // A setting changed by the CLI applies to the running daemon at once: now only the requester is blocked.
    ok(await akc(env, ['guard', 'set', 'canary.action', 'block', '--password-stdin'], PW), 'guard set canary.action');
    const again = await akc(env, ['get', 'BAIT']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /denied: the anomaly guard blocked this program \(rule canary\)/);
    assert.equal((await json(env, ['status'])).vault, 'unlocked');
    const blocks = (await json(env, ['grants'])).grants.filter((g: Json) => g.effect === 'deny');
    assert.equal(blocks.length, 1, JSON.stringify(blocks));
    assert.equal(blocks[0].agent, 'getter', '`akc get` runs as the registered agent getter here');
    assert.match(blocks[0].createdBy, /^guard \(canary\)/);
    ok(await akc(env, ['unblock', 'getter', '--password-stdin'], PW), 'unblock getter');
  });

  it('lock --revoke-all revokes every lease and ends until-lock grants', async () => {
    ok(await akc(env, ['grant', 'getter', 'OTHER', '--until-lock', '--password-stdin'], PW), 'grant OTHER');
    assert.equal(ok(await get('OTHER'), 'get OTHER').stdout, 'other-value\n');
    assert.ok((await json(env, ['leases'])).leases.length >= 1);
    const r = await json(env, ['lock', '--revoke-all']);
    assert.ok(r.revokedLeases >= 1);
    assert.equal((await json(env, ['leases'])).leases.length, 0);
    assert.equal(JSON.stringify(await json(env, ['grants'])).includes('until_lock'), false);
    ok(await akc(env, ['unlock', '--password-stdin'], PW), 'unlock');
  });
});

describe('kill -9 in the middle of a rotation', () => {
  it('killing `akc rotate` while its command rotator runs leaves the old version current', async () => {
    const env = await initVault({ CMD: 'cmd-v1' });
    const dir = tempDir();
    const started = path.join(dir, 'started');
    const pidFile = path.join(dir, 'pid');
    const file = rotatorScript(dir, `cat >/dev/null\necho $$ > ${pidFile}\ntouch ${started}\nsleep 30\necho cmd-v2`);
    ok(await akc(env, ['secret', 'policy', 'CMD', '--rotator', `command:${file}`, '--password-stdin'], PW), 'policy CMD');
    const child = spawn(process.execPath, [AKC_BIN, 'rotate', 'CMD', '--password-stdin'], {
      env: env.env,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.stdin.end(PW);
    const exited = new Promise((r) => child.on('close', r));
    await until(() => (fs.existsSync(started) ? true : undefined), 'the rotator to start');
    child.kill('SIGKILL');
    await exited;
    killGroup(pidFile);
    assert.equal(assertOneCurrent(env, 'CMD'), 1);
    // The next rotation works normally.
    ok(
      await akc(
        env,
        ['secret', 'policy', 'CMD', '--rotator', `command:${rotatorScript(dir, 'cat >/dev/null\necho cmd-v2')}`, '--password-stdin'],
        PW,
      ),
      'fix',
    );
    assert.equal(ok(await akc(env, ['rotate', 'CMD', '--password-stdin'], PW), 'rotate').stdout, '2\n');
    assert.equal(assertOneCurrent(env, 'CMD'), 2);
  });

  it('killing `akc rotate` at points spread over its whole run always leaves exactly one current version', async (t) => {
    const env = await initVault({ GEN: 'gen-v1' });
    ok(await akc(env, ['secret', 'policy', 'GEN', '--rotator', 'generate', '--password-stdin'], PW), 'policy GEN');
    // How long an uninterrupted run takes here.
    const t0 = Date.now();
    ok(await akc(env, ['rotate', 'GEN', '--password-stdin'], PW), 'rotate');
    const runMs = Date.now() - t0;
    let expected = assertOneCurrent(env, 'GEN');
    const outcomes = { completed: 0, interrupted: 0 };
    const steps = 24;
    for (let i = 0; i < steps; i++) {
      const child = spawn(process.execPath, [AKC_BIN, 'rotate', 'GEN', '--password-stdin'], {
        env: env.env,
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(PW);
      const exited = new Promise((r) => child.on('close', r));
      // From well before the commit to well after it (a loaded machine runs slower).
      const delay = Math.round(runMs * (0.3 + (2.7 * i) / steps));
      const timer = setTimeout(() => child.kill('SIGKILL'), delay);
      await exited;
      clearTimeout(timer);
      const now = assertOneCurrent(env, 'GEN');
      assert.ok(now === expected || now === expected + 1, `old or new, never anything else (${expected} → ${now})`);
      if (now === expected + 1) outcomes.completed += 1;
      else outcomes.interrupted += 1;
      expected = now;
    }
    assert.equal(outcomes.completed + outcomes.interrupted, steps);
    assert.ok(outcomes.completed > 0 && outcomes.interrupted > 0, JSON.stringify(outcomes));
    t.diagnostic(`uninterrupted run ${runMs} ms; ${outcomes.completed} kills came after the commit, ${outcomes.interrupted} before`);
    // Values still open: the vault is consistent, the history intact.
    const show = await json(env, ['secret', 'show', 'GEN']);
    assert.equal(show.versions.filter((v: Json) => v.state === 'current').length, 1);
  });

  it('killing the daemon during a scheduled rotation leaves the old version; after a restart the rotation completes', async () => {
    const env = await initVault({ SCHED: 'sched-v1' });
    const dir = tempDir();
    const started = path.join(dir, 'started');
    const pidFile = path.join(dir, 'pid');
    // First run: hang (we kill the daemon meanwhile). Later runs: answer at once.
    const file = rotatorScript(
      dir,
      `cat >/dev/null\nif [ -f ${started} ]; then echo sched-v2; exit 0; fi\necho $$ > ${pidFile}\ntouch ${started}\nsleep 30\necho never`,
    );
    ok(
      await akc(env, ['secret', 'policy', 'SCHED', '--rotate-every', '1d', '--rotator', `command:${file}`, '--password-stdin'], PW),
      'policy SCHED',
    );
    sql(env, 'UPDATE secrets SET next_rotation_at = ? WHERE name = ?', Date.now() - 1000, 'SCHED'); // due now
    const d1 = await Daemon.start(env);
    await until(() => (fs.existsSync(started) ? true : undefined), 'the scheduled rotation to start');
    await d1.crash();
    killGroup(pidFile);
    assert.equal(assertOneCurrent(env, 'SCHED'), 1);
    const d2 = await Daemon.start(env);
    try {
      await until(() => {
        const db = new Database(vaultDb(env), { readonly: true });
        try {
          const r = db.prepare("SELECT current_version AS v FROM secrets WHERE name = 'SCHED'").get() as { v: number };
          return r.v === 2 ? true : undefined;
        } finally {
          db.close();
        }
      }, 'the restarted daemon to rotate');
    } finally {
      await d2.stop();
    }
    assert.equal(assertOneCurrent(env, 'SCHED'), 2);
    const show = await json(env, ['secret', 'show', 'SCHED']);
    assert.ok(Date.parse(show.nextRotationAt) > Date.now() + 86_000_000, 'rescheduled a day ahead');
  });
});
