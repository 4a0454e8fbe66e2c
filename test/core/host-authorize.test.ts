/**
 * The one authorization path (src/core/host/authorize.ts), walked through all three ways a
 * value leaves the vault — `secret.get`, `secret.getMany` and the brokering proxy — on a
 * real vault with an injected clock: what changes while a human decides (expiry, a block,
 * the lock) is checked again after the decision on every path; a request refused past its
 * program's share of the approval queue is audited the same way on every path; and the
 * grant a decision creates reaches exactly the request it answered.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isAkcError, type AkcError, type ErrorCode } from '../../src/shared/errors.js';
import type { ApprovalDecision, PendingApproval } from '../../src/core/approvals/types.js';
import { MAX_PENDING_PER_REQUESTER } from '../../src/core/approvals/broker.js';
import { applyPolicy } from '../../src/core/lifecycle/policy.js';
import type { Requester } from '../../src/core/policy/requester.js';
import { auditOf, grant, hostFixture, program, type Fixture } from '../helpers/lifecycle.js';
import { PASSWORD, ROOT } from '../helpers/env.js';

type Path = 'get' | 'getMany' | 'proxy';
const PATHS: readonly Path[] = ['get', 'getMany', 'proxy'];
const DENY_EVENT: Record<Path, string> = { get: 'secret.deny', getMany: 'secret.deny', proxy: 'proxy.deny' };

const allow = (scope: ApprovalDecision['scope'] = 'once'): ApprovalDecision => ({ allow: true, scope, block: false, by: 'test' });
const deny: ApprovalDecision = { allow: false, scope: 'once', block: false, by: 'test' };

interface Asked {
  pending: Promise<PendingApproval>;
  /** The released value (as text), or the refusal. */
  result: Promise<string>;
}

/** One request for `name` on `path`; resolves `pending` when it waits for a human. */
function ask(f: Fixture, path: Path, r: Requester, name: string, purpose?: string): Asked {
  let onPending!: (p: PendingApproval) => void;
  const pending = new Promise<PendingApproval>((res) => (onPending = res));
  const opts = purpose ? { purpose } : {};
  const values: Promise<Buffer[]> =
    path === 'get'
      ? f.host.getSecret(r, { name, ...opts }, onPending).then((d) => [d.value])
      : path === 'getMany'
        ? f.host.getSecrets(r, { names: [name], ...opts }, onPending).then((ds) => ds.map((d) => d.value))
        : f.host
            .authorizeProxy(
              r,
              { secret: name, http: { method: 'GET', host: 'api.example.com', path: '/v1' }, ...opts, detail: { binding: 'example' } },
              onPending,
            )
            .then((a) => [a.value]);
  const result = values.then((bufs) => {
    const text = bufs.map((b) => b.toString('utf8')).join(',');
    for (const b of bufs) b.fill(0);
    return text;
  });
  result.catch(() => undefined);
  return { pending, result };
}

async function refusedWith(p: Promise<unknown>, code: ErrorCode): Promise<AkcError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ${code}, got a value`),
    (e: unknown) => (caught = e),
  );
  assert.ok(isAkcError(caught, code), `expected ${code}, got ${String(caught)}`);
  return caught;
}

function denials(f: Fixture, path: Path): { secret: string | null; reason: string | null; pid: number | null }[] {
  return auditOf(f.host, DENY_EVENT[path]).map((e) => ({ secret: e.secret, reason: e.reason, pid: e.pid }));
}

describe('authorize: checked again after the human decides', () => {
  for (const path of PATHS) {
    test(`${path}: a secret that expires while the human decides is refused (EXPIRED, audited), and the once grant ends`, async () => {
      const f = await hostFixture({ TOKEN: 'tok-value' });
      applyPolicy(f.host.vault, 'TOKEN', { expiresInMs: 60_000 }, 'test');
      const me = program('/home/me/agent.js');
      const a = ask(f, path, me, 'TOKEN');
      const p = await a.pending;
      f.clock.advance(61_000);
      await f.host.decide(p.id, allow('once'));
      await refusedWith(a.result, 'EXPIRED');
      assert.deepEqual(
        denials(f, path).map((d) => d.reason),
        ['expired'],
      );
      // The approval was for that request only: nothing is left for the next one to use.
      assert.equal(f.host.listGrants().filter((g) => g.effect === 'allow').length, 0, 'no live allow grant is left behind');
      f.host.close();
    });

    test(`${path}: a block made while the human decides wins over the approval`, async () => {
      const f = await hostFixture({ TOKEN: 'tok-value', OTHER: 'other-value' });
      const me = program('/home/me/agent.js');
      const a = ask(f, path, me, 'TOKEN');
      const pa = await a.pending;
      // Another request of the same program: the human answers it "deny & block" first.
      const b = ask(f, 'get', me, 'OTHER');
      const pb = await b.pending;
      await f.host.decide(pb.id, { ...deny, block: true });
      await refusedWith(b.result, 'DENIED');
      await f.host.decide(pa.id, allow('15m'));
      const err = await refusedWith(a.result, 'DENIED');
      assert.match(err.message, /blocked/);
      assert.match(denials(f, path).find((d) => d.secret === 'TOKEN')?.reason ?? '', /^blocked by grant g_/);
      f.host.close();
    });

    test(`${path}: the vault locked between the decision and the release is refused (LOCKED)`, async () => {
      const f = await hostFixture({ TOKEN: 'tok-value' });
      const me = program('/home/me/agent.js');
      const a = ask(f, path, me, 'TOKEN');
      const p = await a.pending;
      const decided = f.host.decide(p.id, allow('15m'));
      // decide() resolves the waiter; the lock lands before the waiter's continuation runs.
      f.host.lock('test');
      await decided;
      await refusedWith(a.result, 'LOCKED');
      assert.deepEqual(
        denials(f, path).map((d) => d.reason),
        ['locked'],
      );
      f.host.close();
    });
  }
});

describe('authorize: refusals past the queue share are audited on every path', () => {
  for (const path of PATHS) {
    test(`${path}: request ${MAX_PENDING_PER_REQUESTER + 1} of one program is RATE_LIMITED with a deny entry`, async () => {
      const names = Array.from({ length: MAX_PENDING_PER_REQUESTER + 1 }, (_, i) => `S${i}`);
      const f = await hostFixture(Object.fromEntries(names.map((n) => [n, `value-${n}`])));
      const me = program('/home/me/agent.js');
      const asks = names.slice(0, MAX_PENDING_PER_REQUESTER).map((n) => ask(f, path, me, n));
      for (const a of asks) await a.pending;
      const last = ask(f, path, me, names.at(-1)!);
      await refusedWith(last.result, 'RATE_LIMITED');
      const rows = denials(f, path);
      assert.deepEqual(rows, [{ secret: names.at(-1)!, reason: 'rate limited', pid: me.identity.pid }]);
      assert.equal(f.host.pendingCount(), MAX_PENDING_PER_REQUESTER, 'the refused request took no slot');
      f.host.close();
      for (const a of asks) await assert.rejects(a.result);
    });

    test(`${path}: a program cooling down after unanswered prompts is RATE_LIMITED with a deny entry`, async () => {
      const f = await hostFixture({ A: 'a', B: 'b', C: 'c', D: 'd' }, { approvalTimeoutMs: 10 });
      const me = program('/home/me/agent.js');
      // The broker's timeout timer is unref'd: keep the test's event loop alive meanwhile.
      const alive = setInterval(() => undefined, 1000);
      for (const n of ['A', 'B', 'C']) await refusedWith(ask(f, path, me, n).result, 'APPROVAL_TIMEOUT');
      clearInterval(alive);
      await refusedWith(ask(f, path, me, 'D').result, 'RATE_LIMITED');
      assert.deepEqual(
        denials(f, path)
          .filter((d) => d.reason === 'rate limited')
          .map((d) => d.secret),
        ['D'],
      );
      f.host.close();
    });
  }
});

describe('authorize: a decision hands its grant to the request it answered', () => {
  for (const path of PATHS) {
    test(`${path}: two concurrent requests of one program, one allowed once and one denied, each get their own answer`, async () => {
      const f = await hostFixture({ TOKEN: 'tok-value' });
      const me = program('/home/me/agent.js');
      const a = ask(f, path, me, 'TOKEN', 'deploy');
      const b = ask(f, path, me, 'TOKEN', 'something else');
      const [pa, pb] = await Promise.all([a.pending, b.pending]);
      assert.notEqual(pa.id, pb.id, 'two prompts (different purposes)');
      await Promise.all([f.host.decide(pa.id, allow('once')), f.host.decide(pb.id, deny)]);
      assert.equal(await a.result, 'tok-value');
      await refusedWith(b.result, 'DENIED');
      f.host.close();
    });

    test(`${path}: answered "once" and "15 min" in the same tick, each request uses the grant its own answer made`, async () => {
      const f = await hostFixture({ TOKEN: 'tok-value' });
      const me = program('/home/me/agent.js');
      const a = ask(f, path, me, 'TOKEN', 'deploy');
      const b = ask(f, path, me, 'TOKEN', 'something else');
      const [pa, pb] = await Promise.all([a.pending, b.pending]);
      // Both decisions land before either waiting request resumes.
      await Promise.all([f.host.decide(pa.id, allow('once')), f.host.decide(pb.id, allow('15m'))]);
      assert.equal(await a.result, 'tok-value');
      assert.equal(await b.result, 'tok-value');
      const made = f.host.listGrants({ includeEnded: true }).filter((g) => g.effect === 'allow');
      const once = made.find((g) => g.scope === 'once')!;
      const timed = made.find((g) => g.scope === 'duration')!;
      assert.equal(once.usesLeft, 0, 'the once grant was used by the request it answered, not left over');
      if (path !== 'proxy') {
        const delivered = auditOf(f.host, 'secret.deliver').map((e) => [e.purpose, e.reason]);
        assert.deepEqual(delivered.sort(), [
          ['deploy', `grant ${once.id}`],
          ['something else', `grant ${timed.id}`],
        ]);
      }
      f.host.close();
    });
  }

  test('a decision that arrives after its request was withdrawn during the password check makes no grant', async () => {
    const f = await hostFixture({ TOKEN: 'tok-value' });
    const me = program('/home/me/agent.js');
    const gone = new AbortController();
    let onPending!: (p: PendingApproval) => void;
    const pending = new Promise<PendingApproval>((res) => (onPending = res));
    const got = f.host.getSecret(me, { name: 'TOKEN' }, onPending, gone.signal);
    got.catch(() => undefined);
    const p = await pending;
    // "Always" needs the password: the request goes away while it is checked.
    const decided = f.host.decide(p.id, allow('always'), Buffer.from(PASSWORD));
    gone.abort();
    await decided.catch(() => undefined);
    await refusedWith(got, 'DENIED');
    assert.equal(f.host.listGrants().length, 0, 'no grant for a request nobody waits for');
    f.host.close();
  });

  test('without a wait, a grant still applies the same way (the fast path consumes it once)', async () => {
    const f = await hostFixture({ TOKEN: 'tok-value' });
    const me = program('/home/me/agent.js');
    grant(f.host, me, 'TOKEN', { scope: 'once', usesLeft: 1 });
    assert.equal(await ask(f, 'get', me, 'TOKEN').result, 'tok-value');
    const next = ask(f, 'get', me, 'TOKEN');
    const p = await next.pending;
    assert.equal(f.host.pendingCount(), 1, 'the used-up grant no longer covers it');
    await f.host.decide(p.id, deny);
    await refusedWith(next.result, 'DENIED');
    f.host.close();
  });
});

test('the proxy, secret.get and getMany share one authorization path (no per-path copies in host.ts)', () => {
  // Behaviour is covered above; this guards against a copy of the policy creeping back.
  const src = readFileSync(`${ROOT}/src/core/host/host.ts`, 'utf8');
  assert.equal((src.match(/this\.authorizer\.authorize\(/g) ?? []).length, 3, 'getSecret, getSecrets, authorizeProxy');
  for (const copy of ['checkRateLimit', 'askHuman', 'decidedGrants', '.screen(', '.consume(']) {
    assert.ok(!src.includes(copy), `host.ts no longer has its own ${copy}`);
  }
});
