/**
 * The anomaly guard on a real vault and Host with an injected clock and hour of day:
 * each rule (canary, burst, denial spike, first request outside active hours) fires,
 * locks the vault or blocks only the requester per its action setting, is audited as
 * `guard.fired` with evidence (never a value) and raised as an alert and host event.
 * A normal workload of 1 000 requests from 3 agents fires none.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAkcError, type ErrorCode } from '../../src/shared/errors.js';
import { normalizeGuardKey, parseActiveHours, readGuardConfig, setGuardValue, withinActiveHours } from '../../src/core/guard/config.js';
import { applyPolicy } from '../../src/core/lifecycle/policy.js';
import { listAlerts } from '../../src/core/lifecycle/alerts.js';
import { agent, auditOf, get, grant, hostFixture, program, type Fixture } from '../helpers/lifecycle.js';
import type { Requester } from '../../src/core/policy/requester.js';

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAkcError(e, code), `expected ${code}, got ${String(e)}`);
    if (message) assert.match(e.message, message);
    return true;
  });
}

function secrets(n: number, prefix = 'S'): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i + 1}`, `value-of-${prefix}${i + 1}-0123456789`]));
}

/** The guard.fired entries; asserts that none carries a stored value. */
function fired(f: Fixture, values: Record<string, string>): ReturnType<typeof auditOf> {
  const entries = auditOf(f.host, 'guard.fired');
  const text = JSON.stringify(entries);
  for (const v of Object.values(values)) assert.equal(text.includes(v), false, 'no value in guard entries');
  return entries;
}

function assertBlocked(f: Fixture, r: Requester): void {
  const blocks = f.host.listGrants().filter((g) => g.effect === 'deny' && g.secretPattern === '**');
  assert.equal(blocks.length, 1);
  assert.equal(r.agent ? blocks[0]!.agentId : blocks[0]!.fingerprint, r.agent ? r.agent.id : r.fingerprint);
  assert.match(blocks[0]!.createdBy, /^guard/);
}

describe('guard settings', () => {
  test('defaults, parsing and validation', async () => {
    const f = await hostFixture({});
    const cfg = readGuardConfig(f.host.vault.db);
    assert.deepEqual(cfg.burst, { enabled: true, limit: 8, windowSeconds: 60, action: 'lock' });
    assert.deepEqual(cfg.denials, { enabled: true, limit: 10, windowSeconds: 60, action: 'lock' });
    assert.deepEqual(cfg.offHours, { activeHours: null, action: 'lock' });
    assert.deepEqual(cfg.canary, { action: 'lock' });
    setGuardValue(f.host.vault, 'burst.limit', '12', 'test');
    setGuardValue(f.host.vault, 'guard.activeHours', '22-06', 'test');
    setGuardValue(f.host.vault, 'canary.action', 'block', 'test');
    setGuardValue(f.host.vault, 'denials.enabled', 'off', 'test');
    const after = readGuardConfig(f.host.vault.db);
    assert.equal(after.burst.limit, 12);
    assert.deepEqual(after.offHours.activeHours, { from: 22, to: 6 });
    assert.equal(after.canary.action, 'block');
    assert.equal(after.denials.enabled, false);
    assert.deepEqual(
      auditOf(f.host, 'guard.set').map((e) => e.reason),
      [
        'guard.burst.limit=12 by test',
        'guard.activeHours=22-06 by test',
        'guard.canary.action=block by test',
        'guard.denials.enabled=off by test',
      ],
    );
    for (const [k, v, why] of [
      ['burst.limit', '0', /integer from 1/],
      ['burst.action', 'explode', /lock .* or block/],
      ['activeHours', '8am-5pm', /hours like 08-20/],
      ['activeHours', '10-10', /not equal/],
    ] as const) {
      assert.throws(
        () => setGuardValue(f.host.vault, k, v, 'test'),
        (e: unknown) => isAkcError(e, 'INVALID_ARGUMENT') && why.test(e.message),
      );
    }
    assert.throws(() => normalizeGuardKey('nope'), /unknown guard setting/);
    // A hand-edited row falls back to the default.
    f.host.vault.db.prepare("UPDATE settings SET value = '\"many\"' WHERE key = 'guard.burst.limit'").run();
    assert.equal(readGuardConfig(f.host.vault.db).burst.limit, 8);
    assert.ok(withinActiveHours(parseActiveHours('08-20')!, 8));
    assert.ok(!withinActiveHours(parseActiveHours('08-20')!, 20));
    assert.ok(withinActiveHours(parseActiveHours('22-06')!, 23));
    assert.ok(withinActiveHours(parseActiveHours('22-06')!, 5));
    assert.ok(!withinActiveHours(parseActiveHours('22-06')!, 12));
    f.host.close();
  });
});

describe('canary rule', () => {
  test('any request for a canary locks the vault, denies, audits and alerts', async () => {
    const values = { BAIT: 'bait-value-0123456789', REAL: 'real-value-0123456789' };
    const f = await hostFixture(values);
    applyPolicy(f.host.vault, 'BAIT', { canary: true }, 'test');
    const bot = agent(f.host, 'bot');
    grant(f.host, bot, '*');
    assert.equal((await get(f.host, bot, 'REAL')).value, values.REAL);
    await rejectsWith(
      f.host.getSecret(bot, { name: 'BAIT' }, () => undefined),
      'DENIED',
      /anomaly guard locked the vault \(rule canary\)/,
    );
    assert.equal(f.host.state, 'locked');
    const e = fired(f, values);
    assert.equal(e.length, 1);
    assert.equal(e[0]!.agent, 'bot');
    assert.equal(e[0]!.secret, 'BAIT');
    assert.equal(e[0]!.decision, 'lock');
    assert.deepEqual(e[0]!.detail, { rule: 'canary', action: 'lock', canaries: ['BAIT'], alert: 1 });
    assert.equal(f.alerts.length, 1);
    assert.equal(f.alerts[0]!.rule, 'canary');
    assert.equal(listAlerts(f.host.vault.db, { kind: 'guard.fired' }).length, 1);
    const deny = auditOf(f.host, 'secret.deny').at(-1)!;
    assert.equal(deny.reason, 'guard: canary');
    const lock = auditOf(f.host, 'vault.lock').at(-1)!;
    assert.equal(lock.reason, 'guard: canary');
    // Through getMany (akc run) too.
    await f.host.unlockWithPassword(Buffer.from('correct horse battery'));
    await rejectsWith(
      f.host.getSecrets(bot, { names: ['REAL', 'BAIT'] }, () => undefined),
      'DENIED',
    );
    assert.equal(f.host.state, 'locked');
    assert.equal(fired(f, values).length, 2);
    f.host.close();
  });

  test('with action block: only the requester is blocked; the vault stays unlocked for others', async () => {
    const values = { BAIT: 'bait-value-0123456789', REAL: 'real-value-0123456789' };
    const f = await hostFixture(values);
    applyPolicy(f.host.vault, 'BAIT', { canary: true }, 'test');
    setGuardValue(f.host.vault, 'canary.action', 'block', 'test');
    const snoop = program('/tmp/snoop.js', 6000);
    const good = agent(f.host, 'good');
    grant(f.host, snoop, '*');
    grant(f.host, good, '*');
    await rejectsWith(
      f.host.getSecret(snoop, { name: 'BAIT' }, () => undefined),
      'DENIED',
      /blocked this program \(rule canary\)/,
    );
    assert.equal(f.host.state, 'unlocked');
    assertBlocked(f, snoop);
    assert.equal(auditOf(f.host, 'agent.block').length, 1);
    await rejectsWith(
      f.host.getSecret(snoop, { name: 'REAL' }, () => undefined),
      'DENIED',
      /blocked/,
    );
    assert.equal((await get(f.host, good, 'REAL')).value, values.REAL);
    const e = fired(f, values);
    assert.equal(e[0]!.decision, 'block');
    assert.equal(e[0]!.agent, 'node snoop.js');
    f.host.close();
  });
});

describe('burst rule', () => {
  test('more than 8 distinct secrets within 60 s locks the vault; the evidence names them', async () => {
    const values = secrets(12);
    const f = await hostFixture(values);
    const bot = agent(f.host, 'bot');
    grant(f.host, bot, '*');
    for (let i = 1; i <= 8; i++) {
      await get(f.host, bot, `S${i}`);
      f.clock.advance(5_000);
    }
    // Asking the same ones again is not a burst.
    for (let i = 1; i <= 8; i++) await get(f.host, bot, `S${i}`);
    await rejectsWith(
      f.host.getSecret(bot, { name: 'S9' }, () => undefined),
      'DENIED',
      /rule burst/,
    );
    assert.equal(f.host.state, 'locked');
    const e = fired(f, values);
    assert.equal(e.length, 1);
    assert.equal(e[0]!.detail!.distinctSecrets, 9);
    assert.equal(e[0]!.detail!.limit, 8);
    assert.equal(e[0]!.detail!.windowSeconds, 60);
    assert.deepEqual(e[0]!.detail!.secrets, ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8', 'S9']);
    assert.equal(f.alerts[0]!.rule, 'burst');
    f.host.close();
  });

  test('spread over time it does not fire; with action block only that agent is blocked', async () => {
    const values = secrets(12);
    const f = await hostFixture(values);
    const slow = agent(f.host, 'slow');
    const fast = agent(f.host, 'fast', 5001);
    grant(f.host, slow, '*');
    grant(f.host, fast, '*');
    for (let i = 1; i <= 12; i++) {
      await get(f.host, slow, `S${i}`);
      f.clock.advance(10_000); // 6 per minute
    }
    assert.equal(fired(f, values).length, 0);
    setGuardValue(f.host.vault, 'burst.action', 'block', 'test');
    setGuardValue(f.host.vault, 'burst.limit', '3', 'test');
    for (let i = 1; i <= 3; i++) await get(f.host, fast, `S${i}`);
    await rejectsWith(
      f.host.getSecret(fast, { name: 'S4' }, () => undefined),
      'DENIED',
      /blocked this program \(rule burst\)/,
    );
    assert.equal(f.host.state, 'unlocked');
    assertBlocked(f, fast);
    await rejectsWith(
      f.host.getSecret(fast, { name: 'S1' }, () => undefined),
      'DENIED',
    );
    f.clock.advance(61_000);
    assert.equal((await get(f.host, slow, 'S1')).value, values.S1);
    assert.equal(fired(f, values)[0]!.decision, 'block');
    f.host.close();
  });
});

describe('denial spike rule', () => {
  test('more than 10 denials from one requester within 60 s locks the vault', async () => {
    const values = { OK: 'ok-value-0123456789', NO: 'no-value-0123456789' };
    const f = await hostFixture(values);
    const bot = agent(f.host, 'bot');
    grant(f.host, bot, 'OK');
    grant(f.host, bot, 'NO', { effect: 'deny' });
    for (let i = 0; i < 10; i++) {
      await rejectsWith(
        f.host.getSecret(bot, { name: 'NO' }, () => undefined),
        'DENIED',
      );
      f.clock.advance(1000);
    }
    assert.equal(f.host.state, 'unlocked', '10 denials are within the limit');
    // Not found is not a denial.
    await rejectsWith(
      f.host.getSecret(bot, { name: 'MISSING' }, () => undefined),
      'NOT_FOUND',
    );
    assert.equal(f.host.state, 'unlocked');
    await rejectsWith(
      f.host.getSecret(bot, { name: 'NO' }, () => undefined),
      'DENIED',
    );
    assert.equal(f.host.state, 'locked');
    const e = fired(f, values);
    assert.equal(e.length, 1);
    assert.equal(e[0]!.agent, 'bot');
    assert.equal(e[0]!.detail!.rule, 'denials');
    assert.equal(e[0]!.detail!.denials, 11);
    assert.match(String(e[0]!.detail!.lastReason), /blocked by grant/);
    assert.equal(f.alerts[0]!.rule, 'denials');
    f.host.close();
  });

  test('timed-out approvals count too; with action block the requester is blocked', async (t) => {
    const values = { A: 'a-value-0123456789' };
    const f = await hostFixture(values, { approvalTimeoutMs: 30 });
    setGuardValue(f.host.vault, 'denials.limit', '2', 'test');
    setGuardValue(f.host.vault, 'denials.action', 'block', 'test');
    const prog = program('/home/me/pushy.js', 7000);
    // The broker's approval timers do not keep the process alive; this does while we wait.
    const keepAlive = setInterval(() => undefined, 1000);
    t.after(() => clearInterval(keepAlive));
    for (let i = 0; i < 2; i++)
      await rejectsWith(
        f.host.getSecret(prog, { name: 'A' }, () => undefined),
        'APPROVAL_TIMEOUT',
      );
    assert.equal(auditOf(f.host, 'guard.fired').length, 0);
    // The third unanswered prompt (or the rate limit that replaces it) tips it over.
    await assert.rejects(f.host.getSecret(prog, { name: 'A' }, () => undefined));
    assert.equal(f.host.state, 'unlocked');
    assertBlocked(f, prog);
    assert.equal(fired(f, values)[0]!.decision, 'block');
    f.host.close();
  });
});

describe('off-hours rule', () => {
  test('a first request for a secret outside active hours fires; known pairs and working hours do not', async () => {
    const values = { DB: 'db-value-0123456789', API: 'api-value-0123456789' };
    let hour = 10;
    const f = await hostFixture(values, { lifecycle: { hourOf: () => hour } });
    setGuardValue(f.host.vault, 'activeHours', '08-20', 'test');
    const bot = agent(f.host, 'bot');
    grant(f.host, bot, '*');
    assert.equal((await get(f.host, bot, 'DB')).value, values.DB, 'inside active hours');
    hour = 3;
    assert.equal((await get(f.host, bot, 'DB')).value, values.DB, 'at 3 h, but not the first time');
    await rejectsWith(
      f.host.getSecret(bot, { name: 'API' }, () => undefined),
      'DENIED',
      /rule offHours/,
    );
    assert.equal(f.host.state, 'locked');
    const e = fired(f, values);
    assert.deepEqual(e[0]!.detail, { rule: 'offHours', action: 'lock', hour: 3, activeHours: '08-20', firstTime: ['API'], alert: 1 });
    f.host.close();
  });

  test('off by default: nothing fires at night', async () => {
    const values = { DB: 'db-value-0123456789' };
    const f = await hostFixture(values, { lifecycle: { hourOf: () => 3 } });
    const bot = agent(f.host, 'bot');
    grant(f.host, bot, '*');
    assert.equal((await get(f.host, bot, 'DB')).value, values.DB);
    assert.equal(fired(f, values).length, 0);
    f.host.close();
  });
});

describe('a normal workload', () => {
  test('1 000 requests from 3 agents over their own secrets fire no rule', async () => {
    const values = { ...secrets(5, 'A'), ...secrets(6, 'B'), ...secrets(4, 'C') };
    const f = await hostFixture(values, { lifecycle: { hourOf: () => 14 } });
    setGuardValue(f.host.vault, 'activeHours', '08-20', 'test');
    const agents = [
      { r: agent(f.host, 'coder', 5001), names: Object.keys(secrets(5, 'A')) },
      { r: agent(f.host, 'deployer', 5002), names: Object.keys(secrets(6, 'B')) },
      { r: agent(f.host, 'reviewer', 5003), names: Object.keys(secrets(4, 'C')) },
    ];
    for (const a of agents) grant(f.host, a.r, a.names[0]!.slice(0, 1) + '*');
    let delivered = 0;
    for (let i = 0; i < 1000; i++) {
      const a = agents[i % 3]!;
      const name = a.names[(i * 7) % a.names.length]!;
      // Bursts of concurrent requests now and then, like an agent starting a task.
      if (i % 50 === 0) {
        const batch = await Promise.all(a.names.map((n) => get(f.host, a.r, n)));
        delivered += batch.length;
      }
      const got = await get(f.host, a.r, name);
      assert.equal(got.value, values[name]);
      delivered += 1;
      f.clock.advance(200);
    }
    assert.ok(delivered >= 1000);
    assert.equal(auditOf(f.host, 'guard.fired').length, 0);
    assert.equal(listAlerts(f.host.vault.db).length, 0);
    assert.equal(f.alerts.length, 0);
    assert.equal(f.host.state, 'unlocked');
    assert.equal(auditOf(f.host, 'secret.deny').length, 0);
    f.host.close();
  });
});
