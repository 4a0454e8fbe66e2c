/**
 * Secret lifecycle on a real vault and a real Host with an injected clock: rotator specs,
 * the command rotator with real scripts (ok, failing, hanging past its timeout, silent),
 * the webhook rotator against a real HTTP server on 127.0.0.1 that verifies the
 * signature, the rotation transaction, dual-credential rollover and version pinning,
 * re-prompting after rotation, expiry, pruning, break-glass revocation, and the
 * scheduler (due, not due, retry with backoff, failure alert) driven by a fake clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { isAkcError, type ErrorCode } from '../../src/shared/errors.js';
import { parseRotator, generateValue, describeRotator, splitWords } from '../../src/core/lifecycle/rotators.js';
import { runCommandRotator } from '../../src/core/lifecycle/command.js';
import { applyPolicy, readLifecycle } from '../../src/core/lifecycle/policy.js';
import { commitRotation, pruneVersions, revokeGrantsForSecret, rotateSecret, sweepRetired } from '../../src/core/lifecycle/rotation.js';
import { webhookKey, webhookSignature } from '../../src/core/lifecycle/webhook.js';
import { lifecycleSnapshot } from '../../src/core/lifecycle/status.js';
import { clearAlerts, listAlerts } from '../../src/core/lifecycle/alerts.js';
import { agent, auditOf, get, grant, hostFixture, program, script, versionRows, type Fixture } from '../helpers/lifecycle.js';
import { tempDir } from '../helpers/env.js';
import { secretsOf } from '../helpers/stores.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAkcError(e, code), `expected ${code}, got ${String(e)}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

function currentCount(f: Fixture, name: string): number {
  return versionRows(f.host, name).filter((v) => v.state === 'current').length;
}

describe('rotator specs', () => {
  test('generate, command, webhook and manual parse; bad specs are refused with the reason', () => {
    assert.deepEqual(parseRotator('generate'), { kind: 'generate', length: 32, charset: 'alnum', prefix: '' });
    assert.deepEqual(parseRotator('generate:length=48,charset=hex,prefix=whsec_'), {
      kind: 'generate',
      length: 48,
      charset: 'hex',
      prefix: 'whsec_',
    });
    assert.deepEqual(parseRotator('command:/opt/rotate "two words" --db prod'), {
      kind: 'command',
      path: '/opt/rotate',
      args: ['two words', '--db', 'prod'],
    });
    assert.equal(parseRotator('webhook:https://rot.example.com/akc?x=1').kind, 'webhook');
    assert.equal(parseRotator('webhook:http://127.0.0.1:8080/hook').kind, 'webhook');
    assert.deepEqual(parseRotator('manual'), { kind: 'manual' });
    assert.equal(describeRotator(parseRotator('webhook:https://rot.example.com/akc?token=abc')), 'webhook:https://rot.example.com/akc');
    assert.equal(describeRotator(parseRotator('command:/opt/rotate --secret-arg')), 'command:/opt/rotate …');
    for (const [spec, why] of [
      ['generate:length=4', /length must be/],
      ['generate:charset=emoji', /charset must be/],
      ['generate:prefix=a b', /prefix/],
      ['generate:size=10', /unknown generate option/],
      ['command:rotate.sh', /absolute/],
      ['command:', /needs a PATH/],
      ['command:/x "open', /unterminated/],
      ['webhook:http://rot.example.com/akc', /https/],
      ['webhook:https://user:pw@rot.example.com/', /credentials/],
      ['webhook:not a url', /absolute URL/],
      ['shell:rm -rf /', /unknown kind/],
      ['manual:now', /no options/],
    ] as const) {
      assert.throws(
        () => parseRotator(spec),
        (e: unknown) => isAkcError(e, 'INVALID_ARGUMENT') && why.test(e.message),
        spec,
      );
    }
    assert.deepEqual(splitWords(` a  'b c' "d'e" `), ['a', 'b c', "d'e"]);
  });

  test('generate: length, charset and prefix; values differ', () => {
    const hex = generateValue({ kind: 'generate', length: 40, charset: 'hex', prefix: 'tok_' });
    assert.match(hex.toString(), /^tok_[0-9a-f]{40}$/);
    const ascii = generateValue({ kind: 'generate', length: 64, charset: 'ascii', prefix: '' }).toString();
    assert.match(ascii, /^[!-~]{64}$/);
    const b64 = generateValue({ kind: 'generate', length: 64, charset: 'base64url', prefix: '' }).toString();
    assert.match(b64, /^[A-Za-z0-9_-]{64}$/);
    const a = generateValue({ kind: 'generate', length: 32, charset: 'alnum', prefix: '' }).toString();
    const b = generateValue({ kind: 'generate', length: 32, charset: 'alnum', prefix: '' }).toString();
    assert.match(a, /^[A-Za-z0-9]{32}$/);
    assert.notEqual(a, b);
  });
});

describe('command rotator', () => {
  const OLD = 'old-secret-value-123456';

  test('a real script: current value on stdin, new value from stdout, clean environment', async () => {
    process.env.AKC_TEST_LEAK = 'must-not-reach-the-rotator';
    try {
      const file = script(
        [
          'old=$(cat)',
          '[ -n "$AKC_TEST_LEAK" ] && { echo "environment leaked" >&2; exit 9; }',
          '[ -n "$AKC_HOME" ] && { echo "AKC_HOME leaked" >&2; exit 9; }',
          'printf "new-%s-for-%s-v%s\\n" "${#old}" "$AKC_SECRET_NAME" "$AKC_SECRET_VERSION"',
        ].join('\n'),
      );
      const value = await runCommandRotator({ path: file, args: [] }, Buffer.from(OLD), { name: 'DB_PASSWORD', version: 4 });
      assert.equal(value.toString(), `new-${OLD.length}-for-DB_PASSWORD-v4`, 'one trailing newline trimmed');
    } finally {
      delete process.env.AKC_TEST_LEAK;
    }
  });

  test('arguments are passed as words, never through a shell', async () => {
    const file = script('cat >/dev/null\nprintf "%s|" "$@"');
    const value = await runCommandRotator({ path: file, args: ['a b', '$(id)', ';', '*'] }, Buffer.from(OLD), { name: 'X', version: 1 });
    assert.equal(value.toString(), 'a b|$(id)|;|*|');
  });

  test('a failing script: non-zero exit is a failure; stderr kept with the old and new values scrubbed', async () => {
    const file = script(
      [
        'old=$(cat)',
        'echo "upstream refused key $old"  >&2',
        'echo "tried NEWVALUE-987654321" >&2',
        'echo NEWVALUE-987654321',
        'exit 3',
      ].join('\n'),
    );
    await assert.rejects(runCommandRotator({ path: file, args: [] }, Buffer.from(OLD), { name: 'X', version: 1 }), (e: unknown) => {
      assert.ok(isAkcError(e));
      assert.match(e.message, /exited with status 3/);
      assert.match(e.message, /upstream refused key \[REDACTED:current value\]/);
      assert.match(e.message, /tried \[REDACTED:new value\]/);
      assert.doesNotMatch(e.message, new RegExp(OLD));
      assert.doesNotMatch(e.message, /NEWVALUE-987654321/);
      return true;
    });
  });

  test('a script that hangs past its timeout is killed with its whole process group', async () => {
    const dir = tempDir();
    const pidFile = path.join(dir, 'sleep.pid');
    const file = script(`cat >/dev/null\nsleep 60 &\necho $! > ${pidFile}\nwait`);
    const started = Date.now();
    await rejectsWith(
      runCommandRotator({ path: file, args: [] }, Buffer.from(OLD), { name: 'X', version: 1, timeoutMs: 400 }),
      'IO',
      /timed out after 0.4 s/,
    );
    assert.ok(Date.now() - started < 10_000, 'returned promptly');
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    // The grandchild (sleep) died with the group.
    // Dead, or a zombie waiting for init to reap it (state Z).
    for (let i = 0; i < 100; i++) {
      let state: string | null;
      try {
        state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] ?? null;
      } catch {
        state = null;
      }
      if (state === null || state === 'Z' || state === 'X') return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`sleep ${pid} survived the timeout`);
  });

  test('a script that prints nothing is a failure; so is a missing program', async () => {
    await rejectsWith(
      runCommandRotator({ path: script('cat >/dev/null'), args: [] }, Buffer.from(OLD), { name: 'X', version: 1 }),
      'IO',
      /printed nothing/,
    );
    await rejectsWith(
      runCommandRotator({ path: script('cat >/dev/null; echo'), args: [] }, Buffer.from(OLD), { name: 'X', version: 1 }),
      'IO',
      /printed nothing/,
    );
    await rejectsWith(
      runCommandRotator({ path: '/no/such/rotator', args: [] }, Buffer.from(OLD), { name: 'X', version: 1 }),
      'IO',
      /could not be started \(ENOENT\)/,
    );
  });

  test('through rotateSecret: success commits a version; failure is audited without values and changes nothing', async () => {
    const f = await hostFixture({ DB: OLD });
    applyPolicy(f.host.vault, 'DB', { rotator: `command:${script('old=$(cat)\necho "rot-${#old}"')}` }, 'test');
    const r = await rotateSecret(f.host.vault, 'DB', { by: 'test' });
    assert.equal(r.kind, 'rotated');
    assert.equal((await get(f.host, agentWithGrant(f, 'DB'), 'DB')).value, `rot-${OLD.length}`);

    applyPolicy(f.host.vault, 'DB', { rotator: `command:${script('old=$(cat)\necho "bad $old" >&2\nexit 1')}` }, 'test');
    await rejectsWith(rotateSecret(f.host.vault, 'DB', { by: 'test' }), 'IO', /exited with status 1/);
    const failed = auditOf(f.host, 'rotation.failed');
    assert.equal(failed.length, 1);
    assert.match(failed[0]!.reason!, /bad \[REDACTED:current value\]/);
    assert.doesNotMatch(JSON.stringify(failed), new RegExp(`rot-${OLD.length}`));
    assert.deepEqual(
      versionRows(f.host, 'DB').map((v) => [v.version, v.state]),
      [
        [1, 'previous'],
        [2, 'current'],
      ],
    );
    f.host.close();
  });
});

function agentWithGrant(f: Fixture, secret: string, name = 'bot'): ReturnType<typeof agent> {
  const a = agent(f.host, name);
  grant(f.host, a, secret, { keepOnRotate: true });
  return a;
}

describe('webhook rotator', () => {
  interface Seen {
    headers: http.IncomingHttpHeaders;
    body: string;
    verified: boolean;
  }

  /** A receiver on 127.0.0.1 that checks X-AKC-Signature with `key` and answers `reply`. */
  async function receiver(key: () => string, reply: (seen: Seen) => { status: number; body?: unknown }) {
    const seen: Seen[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const ts = String(req.headers['x-akc-timestamp'] ?? '');
        const expected = 'sha256=' + createHmac('sha256', key()).update(`${ts}.${body}`).digest('hex');
        const got = String(req.headers['x-akc-signature'] ?? '');
        const verified = got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected));
        const s = { headers: req.headers, body, verified };
        seen.push(s);
        if (!verified) {
          res.writeHead(401).end('bad signature');
          return;
        }
        const r = reply(s);
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body === undefined ? '' : JSON.stringify(r.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rotate`;
    return { url, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  test('signed POST; 200 {value} becomes the new version; the receiver verifies the signature', async () => {
    const f = await hostFixture({ HOOK: 'old-hook-value' });
    let key = '';
    const rx = await receiver(
      () => key,
      () => ({ status: 200, body: { value: 'new-hook-value-from-receiver' } }),
    );
    try {
      applyPolicy(f.host.vault, 'HOOK', { rotator: `webhook:${rx.url}` }, 'test');
      const k = webhookKey(f.host.vault, 'HOOK', { create: true })!;
      assert.ok(k.created);
      key = k.key.toString();
      assert.match(key, /^akcwh_[A-Za-z0-9_-]{43}$/);
      assert.equal(webhookKey(f.host.vault, 'HOOK', { create: true })!.created, false, 'created once');
      // The key is sealed in the vault: never stored in the clear.
      const raw = fs.readFileSync(path.join(f.dataDir, 'vault.db'));
      assert.equal(raw.includes(Buffer.from(key)), false);

      const r = await rotateSecret(f.host.vault, 'HOOK', { by: 'test' });
      assert.equal(r.kind, 'rotated');
      assert.equal(rx.seen.length, 1);
      const s = rx.seen[0]!;
      assert.ok(s.verified);
      const body = JSON.parse(s.body) as { secret: string; version: number; timestamp: number };
      assert.deepEqual(Object.keys(body).sort(), ['secret', 'timestamp', 'version']);
      assert.equal(body.secret, 'HOOK');
      assert.equal(body.version, 1);
      assert.equal(String(body.timestamp), s.headers['x-akc-timestamp']);
      assert.equal(s.headers['x-akc-signature'], webhookSignature(Buffer.from(key), String(body.timestamp), s.body));
      assert.doesNotMatch(s.body, /old-hook-value/, 'the current value is not sent');
      assert.equal((await get(f.host, agentWithGrant(f, 'HOOK'), 'HOOK')).value, 'new-hook-value-from-receiver');
    } finally {
      await rx.close();
      f.host.close();
    }
  });

  test('a wrong signing key is refused by the receiver (401) and the rotation fails, audited', async () => {
    const f = await hostFixture({ HOOK: 'old-hook-value' });
    const rx = await receiver(
      () => 'akcwh_not-the-key',
      () => ({ status: 200, body: { value: 'x' } }),
    );
    try {
      applyPolicy(f.host.vault, 'HOOK', { rotator: `webhook:${rx.url}` }, 'test');
      webhookKey(f.host.vault, 'HOOK', { create: true })!.key.fill(0);
      await rejectsWith(rotateSecret(f.host.vault, 'HOOK', { by: 'test' }), 'IO', /answered HTTP 401/);
      assert.equal(rx.seen[0]!.verified, false);
      assert.equal(auditOf(f.host, 'rotation.failed').length, 1);
      assert.equal(readLifecycle(f.host.vault.db, 'HOOK')!.currentVersion, 1);
    } finally {
      await rx.close();
      f.host.close();
    }
  });

  test('202: the rotation is pending until the value comes (akc rotate NAME --value-stdin)', async () => {
    const f = await hostFixture({ HOOK: 'old-hook-value' });
    let key = '';
    const rx = await receiver(
      () => key,
      () => ({ status: 202 }),
    );
    try {
      applyPolicy(f.host.vault, 'HOOK', { rotator: `webhook:${rx.url}`, rotateEveryMs: DAY }, 'test');
      key = webhookKey(f.host.vault, 'HOOK', { create: true })!.key.toString();
      const r = await rotateSecret(f.host.vault, 'HOOK', { by: 'test' });
      assert.equal(r.kind, 'pending');
      assert.equal(readLifecycle(f.host.vault.db, 'HOOK')!.rotationPendingAt, f.clock.now());
      assert.deepEqual(lifecycleSnapshot(f.host.vault.db, f.clock.now()).pendingRotations, [{ secret: 'HOOK', since: f.clock.now() }]);
      const done = await rotateSecret(f.host.vault, 'HOOK', { by: 'test', value: Buffer.from('value-delivered-later') });
      assert.equal(done.kind, 'rotated');
      assert.equal(readLifecycle(f.host.vault.db, 'HOOK')!.rotationPendingAt, null);
      assert.equal((await get(f.host, agentWithGrant(f, 'HOOK'), 'HOOK')).value, 'value-delivered-later');
    } finally {
      await rx.close();
      f.host.close();
    }
  });

  test('without a signing key the webhook is not called', async () => {
    const f = await hostFixture({ HOOK: 'old-hook-value' });
    const rx = await receiver(
      () => '',
      () => ({ status: 200, body: { value: 'x' } }),
    );
    try {
      applyPolicy(f.host.vault, 'HOOK', { rotator: `webhook:${rx.url}` }, 'test');
      await rejectsWith(rotateSecret(f.host.vault, 'HOOK', { by: 'test' }), 'IO', /no webhook signing key/);
      assert.equal(rx.seen.length, 0);
    } finally {
      await rx.close();
      f.host.close();
    }
  });
});

describe('rotation, rollover and pinning', () => {
  test('one transaction: new current, old previous until grace, older previous retired; history kept until pruned', async () => {
    const f = await hostFixture({ K: 'value-1' });
    applyPolicy(f.host.vault, 'K', { graceMs: HOUR }, 'test');
    const c2 = commitRotation(f.host.vault, 'K', Buffer.from('value-2'), { by: 'test', how: 'test' });
    assert.deepEqual([c2.version, c2.previous, c2.retireAt], [2, 1, f.clock.now() + HOUR]);
    f.clock.advance(10 * 60_000);
    commitRotation(f.host.vault, 'K', Buffer.from('value-3'), { by: 'test', how: 'test' });
    assert.deepEqual(
      versionRows(f.host, 'K').map((v) => [v.version, v.state]),
      [
        [1, 'retired'],
        [2, 'previous'],
        [3, 'current'],
      ],
    );
    const rotations = auditOf(f.host, 'secret.rotate');
    assert.deepEqual(
      rotations.map((e) => e.version),
      [2, 3],
    );
    assert.equal(rotations[1]!.detail!.retiredNow, 1);
    const l = readLifecycle(f.host.vault.db, 'K')!;
    assert.equal(l.lastRotatedAt, f.clock.now());
    // A stale rotator result (made from an older version) is refused, nothing written.
    assert.throws(
      () => commitRotation(f.host.vault, 'K', Buffer.from('stale'), { by: 'test', how: 'test', expectVersion: 2 }),
      /changed while it was being rotated/,
    );
    assert.equal(currentCount(f, 'K'), 1);
    // Pruning keeps the newest N and never a live version.
    assert.deepEqual(pruneVersions(f.host.vault, 'K', 1, 'test'), [1]);
    assert.deepEqual(
      versionRows(f.host, 'K').map((v) => v.version),
      [2, 3],
      'previous (in grace) kept even with --keep 1',
    );
    f.clock.advance(2 * HOUR);
    assert.equal(sweepRetired(f.host.vault), 1);
    assert.deepEqual(pruneVersions(f.host.vault, 'K', 1, 'test'), [2]);
    assert.equal(auditOf(f.host, 'secret.prune').length, 2);
    f.host.close();
  });

  test('an agent with an until-lock grant keeps working across a rotation: pinned previous readable through grace, then refused', async () => {
    const f = await hostFixture({ API_KEY: 'api-v1' });
    applyPolicy(f.host.vault, 'API_KEY', { graceMs: HOUR, rotator: 'generate:length=24,prefix=k_' }, 'test');
    const bot = agent(f.host, 'bot');
    grant(f.host, bot, 'API_KEY', { scope: 'until_lock', keepOnRotate: true });
    assert.deepEqual(await get(f.host, bot, 'API_KEY'), { value: 'api-v1', version: 1 });

    f.clock.advance(1000);
    const r = await f.host.rotate('API_KEY', { by: 'test' });
    assert.equal(r.kind, 'rotated');
    const v2 = await get(f.host, bot, 'API_KEY');
    assert.equal(v2.version, 2);
    assert.match(v2.value, /^k_[A-Za-z0-9]{24}$/);
    // Still in grace: the pinned old version works (dual-credential rollover).
    f.clock.advance(HOUR - 1000);
    assert.deepEqual(await get(f.host, bot, 'API_KEY', 1), { value: 'api-v1', version: 1 });
    assert.deepEqual(await get(f.host, bot, 'API_KEY', 2), v2);
    assert.equal(f.shown.length, 0, 'no prompt: the grant was made with keep-on-rotate');
    // Grace over: refused, even before the sweep ran.
    f.clock.advance(1000);
    await rejectsWith(
      f.host.getSecret(bot, { name: 'API_KEY', version: 1 }, () => undefined),
      'EXPIRED',
      /version 1 of API_KEY was retired/,
    );
    await rejectsWith(
      f.host.getSecret(bot, { name: 'API_KEY', version: 9 }, () => undefined),
      'NOT_FOUND',
      /has no version 9/,
    );
    assert.equal((await get(f.host, bot, 'API_KEY')).version, 2);
    const denies = auditOf(f.host, 'secret.deny');
    assert.deepEqual(
      denies.map((d) => d.reason),
      ['version 1 retired', 'version 9 not found'],
    );
    assert.equal(sweepRetired(f.host.vault), 1);
    assert.equal(auditOf(f.host, 'secret.retire')[0]!.version, 1);
    f.host.close();
  });

  test('a value set by hand (secret set over an existing name) keeps the replaced version readable through grace, grants kept', async () => {
    const f = await hostFixture({ K: 'k1' });
    applyPolicy(f.host.vault, 'K', { graceMs: HOUR }, 'test');
    const bot = agent(f.host, 'bot');
    grant(f.host, bot, 'K', { scope: 'until_lock' });
    assert.deepEqual(await get(f.host, bot, 'K'), { value: 'k1', version: 1 });
    const t0 = f.clock.now();
    const r = secretsOf(f.host).set('K', Buffer.from('k2'), {}, { agent: 'cli' });
    assert.deepEqual(r, { version: 2, created: false, previous: { version: 1, state: 'previous', retireAt: t0 + HOUR } });
    // The grant still applies (no prompt), and version 1 stays readable to it.
    assert.deepEqual(await get(f.host, bot, 'K'), { value: 'k2', version: 2 });
    f.clock.advance(HOUR - 1);
    assert.deepEqual(await get(f.host, bot, 'K', 1), { value: 'k1', version: 1 });
    assert.equal(f.shown.length, 0);
    f.clock.advance(1);
    await rejectsWith(
      f.host.getSecret(bot, { name: 'K', version: 1 }, () => undefined),
      'EXPIRED',
      /^version 1 of K was retired at \S+ \(a newer version replaced it and its grace period is over\); ask for the current version$/,
    );
    // A third value retires the `previous` one at once; the audit says what became of it.
    secretsOf(f.host).set('K', Buffer.from('k3'));
    assert.deepEqual(
      versionRows(f.host, 'K').map((v) => [v.version, v.state]),
      [
        [1, 'retired'],
        [2, 'previous'],
        [3, 'current'],
      ],
    );
    const updates = auditOf(f.host, 'secret.update');
    assert.deepEqual(updates[0]!.detail, { previous: 1, previousState: 'previous', retireAt: new Date(t0 + HOUR).toISOString() });
    // mustCreate (no confirmed new version): refused, nothing written.
    assert.throws(
      () => secretsOf(f.host).set('K', Buffer.from('k4'), {}, {}, { mustCreate: true }),
      (err: unknown) => isAkcError(err, 'ALREADY_EXISTS') && /secret K already exists \(version 3\); nothing was stored/.test(err.message),
    );
    assert.equal(versionRows(f.host, 'K').length, 3);
    // A zero grace period retires the replaced version at once.
    applyPolicy(f.host.vault, 'K', { graceMs: 0 }, 'test');
    assert.equal(secretsOf(f.host).set('K', Buffer.from('k5')).previous!.state, 'retired');
    f.host.close();
  });

  test('a pinned version whose grace ends while a human decides is refused, not delivered', async () => {
    const f = await hostFixture({ K: 'k1' });
    applyPolicy(f.host.vault, 'K', { graceMs: 60_000 }, 'test');
    commitRotation(f.host.vault, 'K', Buffer.from('k2'), { by: 'test', how: 'test' });
    const prog = program('/home/me/slow.js');
    const asking = f.host.getSecret(prog, { name: 'K', version: 1 }, () => undefined);
    asking.catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(f.shown.length, 1);
    f.clock.advance(60_000);
    await f.host.decide(f.shown[0]!.id, { allow: true, scope: 'once', block: false, by: 'test' });
    await rejectsWith(asking, 'EXPIRED', /version 1 of K was retired/);
    f.host.close();
  });

  test('after a rotation, grants for the secret ask again unless made with --keep-on-rotate', async () => {
    const f = await hostFixture({ TOKEN: 'tok-v1', OTHER: 'other' });
    const kept = agent(f.host, 'kept');
    const plain = agent(f.host, 'plain', 5001);
    grant(f.host, kept, 'TOKEN', { scope: 'until_lock', keepOnRotate: true });
    grant(f.host, plain, 'TOKEN', { scope: 'until_lock' });
    grant(f.host, plain, 'OTHER', { scope: 'always' });
    assert.equal((await get(f.host, plain, 'TOKEN')).value, 'tok-v1');
    f.clock.advance(1000);
    commitRotation(f.host.vault, 'TOKEN', Buffer.from('tok-v2'), { by: 'test', how: 'test' });
    assert.equal((await get(f.host, kept, 'TOKEN')).value, 'tok-v2');
    assert.equal((await get(f.host, plain, 'OTHER')).value, 'other', 'grants for other secrets are untouched');
    assert.equal(auditOf(f.host, 'secret.rotate')[0]!.detail!.grantsEnded, 1, 'the plain TOKEN grant ended with the rotation');
    assert.deepEqual(
      f.host
        .listGrants()
        .map((g) => [g.agentName, g.secretPattern])
        .sort(),
      [
        ['kept', 'TOKEN'],
        ['plain', 'OTHER'],
      ],
    );
    // The plain grant no longer applies: a human is asked.
    const pending = f.host.getSecret(plain, { name: 'TOKEN' }, () => undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(f.shown.length, 1);
    assert.deepEqual(f.shown[0]!.secrets, ['TOKEN']);
    f.clock.advance(1000);
    await f.host.decide(f.shown[0]!.id, { allow: true, scope: 'until_lock', block: false, by: 'test' });
    const d = await pending;
    assert.equal(d.value.toString(), 'tok-v2');
    // The new grant covers it from now on.
    assert.equal((await get(f.host, plain, 'TOKEN')).value, 'tok-v2');
    assert.equal(f.shown.length, 1);
    // A glob grant made before the rotation stops applying to the rotated secret only.
    const globber = agent(f.host, 'globber', 5002);
    grant(f.host, globber, 'TOK*');
    grant(f.host, globber, 'OTHER');
    f.clock.advance(1000);
    commitRotation(f.host.vault, 'TOKEN', Buffer.from('tok-v3'), { by: 'test', how: 'test' });
    assert.equal((await get(f.host, globber, 'OTHER')).value, 'other');
    const asking = f.host.getSecret(globber, { name: 'TOKEN' }, () => undefined);
    asking.catch(() => undefined);
    await new Promise((r) => setImmediate(r));
    assert.equal(f.shown.length, 2, 'the stale glob grant asks again');
    f.host.close();
  });

  test('break-glass: revoke every grant covering a secret (exact and glob) and its leases', async () => {
    const f = await hostFixture({ 'prod/db': 'db-value', 'prod/api': 'api-value' });
    const a = agent(f.host, 'a');
    const b = agent(f.host, 'b', 5001);
    grant(f.host, a, 'prod/db');
    grant(f.host, b, 'prod/**');
    await get(f.host, a, 'prod/db');
    await get(f.host, b, 'prod/db');
    const r = revokeGrantsForSecret(f.host.vault, 'prod/db', 'test');
    assert.equal(r.grants.length, 2);
    assert.equal(r.leases, 2);
    assert.equal(f.host.allLeases().length, 0);
    assert.equal(auditOf(f.host, 'grant.revoke').length, 1);
    const asking = f.host.getSecret(a, { name: 'prod/db' }, () => undefined);
    asking.catch(() => undefined);
    await new Promise((res) => setImmediate(res));
    assert.equal(f.shown.length, 1, 'asks again');
    f.host.close();
  });
});

describe('expiry', () => {
  test('expired secrets are refused with EXPIRED; warnings 7 days ahead; a new version moves the expiry', async () => {
    const f = await hostFixture({ SOON: 'soon-value', LATER: 'later-value', NEVER: 'never-value' });
    const bot = agentWithGrant(f, '*');
    applyPolicy(f.host.vault, 'SOON', { expiresInMs: 2 * DAY, owner: 'ops', purpose: 'billing API' }, 'test');
    applyPolicy(f.host.vault, 'LATER', { expiresInMs: 30 * DAY }, 'test');
    const snap = lifecycleSnapshot(f.host.vault.db, f.clock.now());
    assert.deepEqual(
      snap.expiring.map((e) => [e.name, e.expired]),
      [['SOON', false]],
    );
    assert.equal((await get(f.host, bot, 'SOON')).value, 'soon-value');
    f.clock.advance(2 * DAY);
    await rejectsWith(
      f.host.getSecret(bot, { name: 'SOON' }, () => undefined),
      'EXPIRED',
      /secret SOON expired at/,
    );
    await rejectsWith(
      f.host.getSecrets(bot, { names: ['NEVER', 'SOON'] }, () => undefined),
      'EXPIRED',
    );
    assert.equal((await get(f.host, bot, 'NEVER')).value, 'never-value');
    assert.deepEqual(
      lifecycleSnapshot(f.host.vault.db, f.clock.now()).expiring.map((e) => [e.name, e.expired]),
      [['SOON', true]],
    );
    const denies = auditOf(f.host, 'secret.deny').filter((d) => d.reason === 'expired');
    assert.equal(denies.length, 2);
    // Rotation gives a fresh expiry (expires-in counts from the new version).
    commitRotation(f.host.vault, 'SOON', Buffer.from('soon-value-2'), { by: 'test', how: 'test' });
    assert.equal((await get(f.host, bot, 'SOON')).value, 'soon-value-2');
    assert.equal(readLifecycle(f.host.vault.db, 'SOON')!.expiresAt, f.clock.now() + 2 * DAY);
    // --no-expiry clears it.
    applyPolicy(f.host.vault, 'LATER', { expiresInMs: null }, 'test');
    assert.equal(readLifecycle(f.host.vault.db, 'LATER')!.expiresAt, null);
    const policyEntries = auditOf(f.host, 'secret.policy');
    assert.equal(policyEntries.length, 3);
    assert.match(policyEntries[0]!.reason!, /owner="ops", purpose="billing API", expires in/);
    f.host.close();
  });
});

describe('scheduler (injected clock and timers)', () => {
  const fast = { maxAttempts: 3, backoffBaseMs: 10_000, backoffMaxMs: 60_000, pollMs: 60_000 };

  test('due and not due: rotates exactly when the schedule says, then reschedules', async () => {
    const f = await hostFixture({ GEN: 'gen-v1' }, { lifecycle: { scheduler: fast } });
    const s = f.host.scheduler!;
    assert.ok(s.isStarted, 'started on unlock');
    assert.equal(f.timers.last!.ms, 0, 'first tick right away');
    applyPolicy(f.host.vault, 'GEN', { rotateEveryMs: DAY, rotator: 'generate:length=16,charset=hex' }, 'test');
    await s.tick();
    assert.equal(readLifecycle(f.host.vault.db, 'GEN')!.currentVersion, 1, 'not due yet');
    assert.equal(f.timers.last!.ms, 60_000, 'sleeps one poll (the rotation is further away)');
    f.clock.advance(DAY - 1);
    await s.tick();
    assert.equal(readLifecycle(f.host.vault.db, 'GEN')!.currentVersion, 1, 'one millisecond early: not due');
    assert.equal(f.timers.last!.ms, 1, 'wakes exactly when it falls due');
    f.clock.advance(1);
    await s.tick();
    const l = readLifecycle(f.host.vault.db, 'GEN')!;
    assert.equal(l.currentVersion, 2);
    assert.equal(l.lastRotatedAt, f.clock.now());
    assert.equal(l.nextRotationAt, f.clock.now() + DAY);
    assert.match(auditOf(f.host, 'secret.rotate')[0]!.reason!, /generate:length=16,charset=hex by scheduler/);
    await s.tick();
    assert.equal(readLifecycle(f.host.vault.db, 'GEN')!.currentVersion, 2, 'not twice');
    // Locking stops it; unlocking starts it again.
    f.host.lock('test');
    assert.equal(s.isStarted, false);
    f.host.close();
  });

  test('retry with exponential backoff, then a failure alert (audit, event, status); paused until cleared', async () => {
    const f = await hostFixture({ CMD: 'cmd-v1' }, { lifecycle: { scheduler: fast } });
    const s = f.host.scheduler!;
    applyPolicy(
      f.host.vault,
      'CMD',
      { rotateEveryMs: HOUR, rotator: `command:${script('cat >/dev/null\necho "provider down" >&2\nexit 1')}` },
      'test',
    );
    f.clock.advance(HOUR);
    await s.tick();
    assert.deepEqual(s.retryState('CMD'), { attempts: 1, nextAt: f.clock.now() + 10_000 });
    assert.equal(f.timers.last!.ms, 10_000, 'wakes for the retry');
    f.clock.advance(5_000);
    await s.tick();
    assert.equal(auditOf(f.host, 'rotation.failed').length, 1, 'no attempt before the backoff ends');
    f.clock.advance(5_000);
    await s.tick();
    assert.deepEqual(s.retryState('CMD'), { attempts: 2, nextAt: f.clock.now() + 20_000 }, 'backoff doubles');
    assert.equal(f.alerts.length, 0);
    f.clock.advance(20_000);
    await s.tick();
    assert.equal(s.retryState('CMD'), null);
    const failed = auditOf(f.host, 'rotation.failed');
    assert.equal(failed.length, 4, 'three attempts and the final alert');
    assert.deepEqual(
      failed.slice(0, 3).map((e) => e.detail!.attempt),
      [1, 2, 3],
    );
    assert.match(failed[0]!.reason!, /provider down/);
    assert.equal(failed[3]!.decision, 'alert');
    assert.equal(f.alerts.length, 1, 'host event');
    assert.equal(f.alerts[0]!.kind, 'rotation.failed');
    assert.match(f.alerts[0]!.message, /failed 3 time\(s\).*provider down/);
    assert.deepEqual(
      lifecycleSnapshot(f.host.vault.db, f.clock.now()).rotationFailures.map((r) => r.secret),
      ['CMD'],
    );
    // Paused: nothing more until a human acts.
    f.clock.advance(HOUR);
    await s.tick();
    assert.equal(auditOf(f.host, 'rotation.failed').length, 4);
    assert.equal(readLifecycle(f.host.vault.db, 'CMD')!.currentVersion, 1, 'still exactly the old version');
    // Fixing the rotator (a policy change) clears the alert; the next tick rotates.
    applyPolicy(f.host.vault, 'CMD', { rotator: `command:${script('cat >/dev/null\necho fixed-value')}` }, 'test');
    f.clock.advance(HOUR);
    assert.equal(listAlerts(f.host.vault.db).length, 0);
    await s.tick();
    assert.equal(readLifecycle(f.host.vault.db, 'CMD')!.currentVersion, 2);
    f.host.close();
  });

  test('a manual rotator that falls due raises one alert; a rotation clears it', async () => {
    const f = await hostFixture({ MAN: 'man-v1' }, { lifecycle: { scheduler: fast } });
    const s = f.host.scheduler!;
    applyPolicy(f.host.vault, 'MAN', { rotateEveryMs: HOUR, rotator: 'manual' }, 'test');
    f.clock.advance(HOUR);
    await s.tick();
    await s.tick();
    assert.equal(f.alerts.length, 1);
    assert.equal(f.alerts[0]!.kind, 'rotation.due');
    assert.equal(auditOf(f.host, 'rotation.due').length, 1);
    await rejectsWith(rotateSecret(f.host.vault, 'MAN', { by: 'test' }), 'INVALID_ARGUMENT', /rotated by hand/);
    await rotateSecret(f.host.vault, 'MAN', { by: 'test', askValue: async () => Buffer.from('typed-by-human') });
    assert.equal(listAlerts(f.host.vault.db).length, 0, 'the rotation cleared the alert');
    assert.equal(clearAlerts(f.host.vault, { all: true }, 'test'), 0);
    f.host.close();
  });

  test('the sweep retires previous versions past grace on each tick', async () => {
    const f = await hostFixture({ G: 'g1' }, { lifecycle: { scheduler: fast } });
    applyPolicy(f.host.vault, 'G', { graceMs: 5 * 60_000 }, 'test');
    commitRotation(f.host.vault, 'G', Buffer.from('g2'), { by: 'test', how: 'test' });
    await f.host.scheduler!.tick();
    assert.equal(versionRows(f.host, 'G')[0]!.state, 'previous');
    f.clock.advance(5 * 60_000);
    await f.host.scheduler!.tick();
    assert.equal(versionRows(f.host, 'G')[0]!.state, 'retired');
    f.host.close();
  });
});

describe('programs (unregistered) are covered too', () => {
  test('pinning works for a program with an approved until-lock grant', async () => {
    const f = await hostFixture({ P: 'p1' });
    const prog = program('/home/me/job.js');
    grant(f.host, prog, 'P', { scope: 'until_lock', keepOnRotate: true });
    commitRotation(f.host.vault, 'P', Buffer.from('p2'), { by: 'test', how: 'test' });
    assert.equal((await get(f.host, prog, 'P', 1)).value, 'p1');
    assert.equal((await get(f.host, prog, 'P')).value, 'p2');
    f.host.close();
  });
});

describe('desktop data (src/core/lifecycle/desktop.ts)', () => {
  test('badges, schedules, alerts and guard settings for the app; rotate and clear from the UI', async () => {
    const f = await hostFixture({ EXP: 'e', SOON: 's', BAIT: 'b', GEN: 'g', PLAIN: 'p' });
    applyPolicy(f.host.vault, 'EXP', { expiresInMs: HOUR }, 'test');
    applyPolicy(f.host.vault, 'SOON', { expiresInMs: 3 * DAY }, 'test');
    applyPolicy(f.host.vault, 'BAIT', { canary: true }, 'test');
    applyPolicy(f.host.vault, 'GEN', { rotator: 'generate', rotateEveryMs: DAY }, 'test');
    f.clock.advance(2 * HOUR);
    const { lifecycleView, rotateFromUi, clearAlertFromUi, setGuardFromUi } = await import('../../src/core/lifecycle/desktop.js');
    const view = lifecycleView(f.host);
    assert.deepEqual(Object.fromEntries(view.secrets.map((s) => [s.name, s.badge])), {
      BAIT: 'canary',
      EXP: 'expired',
      GEN: null,
      PLAIN: null,
      SOON: 'expiring',
    });
    const gen = view.secrets.find((s) => s.name === 'GEN')!;
    assert.equal(gen.rotatorKind, 'generate');
    assert.equal(gen.nextRotationAt, f.clock.now() - 2 * HOUR + DAY);
    assert.equal(view.guard.find((g) => g.key === 'guard.burst.limit')!.value, 8);
    assert.doesNotMatch(JSON.stringify(view), /"[esbgp]"/, 'no values');
    const r = await rotateFromUi(f.host, 'GEN', undefined, 'ui');
    assert.equal(r.kind === 'rotated' && r.version, 2);
    await rotateFromUi(f.host, 'EXP', 'typed-in-the-app', 'ui');
    assert.equal(
      lifecycleView(f.host).secrets.find((s) => s.name === 'EXP')!.badge,
      'expiring',
      'a new version revived it (expiring again within the hour)',
    );
    await assert.rejects(setGuardFromUi(f.host, 'burst.limit', '20', Buffer.from('wrong password'), 'ui'), /wrong master password/);
    await setGuardFromUi(f.host, 'burst.limit', '20', Buffer.from('correct horse battery'), 'ui');
    assert.equal(lifecycleView(f.host).guard.find((g) => g.key === 'guard.burst.limit')!.value, 20);
    assert.equal(clearAlertFromUi(f.host, { all: true }, 'ui'), 0);
    f.host.close();
  });
});
