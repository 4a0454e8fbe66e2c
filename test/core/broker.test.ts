/**
 * The approval broker's queue shares (issue 16: "64 requests fill the approval queue for
 * everyone"): each requester holds at most MAX_PENDING_PER_REQUESTER distinct pending
 * approvals, the global cap still holds, and when the queue is full a newcomer takes the
 * newest slot of the requester holding the most.
 */
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { describe, it } from 'node:test';
import { isAkcError } from '../../src/shared/errors.js';
import {
  ApprovalBroker,
  MAX_PENDING_APPROVALS,
  MAX_PENDING_PER_REQUESTER,
  MAX_WITHDRAWN,
  REMEMBER_WITHDRAWN,
  WITHDRAWN_REASON,
} from '../../src/core/approvals/broker.js';
import type { ApprovalOutcome, Approver, PendingApproval } from '../../src/core/approvals/types.js';
import type { Requester } from '../../src/core/policy/requester.js';
import { program } from '../helpers/lifecycle.js';

const EXTRA = { badge: 'new', needsUnlock: false, coveredByGrant: false } as const;

function setup(): { broker: ApprovalBroker; shown: PendingApproval[]; ended: { id: string; outcome: ApprovalOutcome }[] } {
  let t = 1_000_000;
  const shown: PendingApproval[] = [];
  const ended: { id: string; outcome: ApprovalOutcome }[] = [];
  const approver: Approver = {
    show: (p) => shown.push(p),
    ended: (id, outcome) => ended.push({ id, outcome }),
  };
  // Every request gets its own instant, so "newest" is well defined.
  const broker = new ApprovalBroker({ clock: { now: () => t++ }, approver, timeoutMs: 60_000 });
  return { broker, shown, ended };
}

function ask(broker: ApprovalBroker, r: Requester, secret: string, purpose: string | null = null): Promise<ApprovalOutcome> {
  const p = broker.request({ requester: r, secrets: [secret], purpose }, EXTRA);
  p.catch(() => undefined); // asserted where it matters
  return p;
}

function rateLimited(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => isAkcError(err) && err.code === 'RATE_LIMITED');
}

describe('approval broker: per-requester share', () => {
  it('the defaults are a share of 4 out of 64', () => {
    assert.equal(MAX_PENDING_PER_REQUESTER, 4);
    assert.equal(MAX_PENDING_APPROVALS, 64);
  });

  it('one requester gets RATE_LIMITED past its share; others still get a prompt', () => {
    const { broker, shown } = setup();
    const a = program('/home/me/flood.js');
    const b = program('/home/me/other.js', 5000);
    for (let i = 0; i < MAX_PENDING_PER_REQUESTER; i++) ask(broker, a, `S${i}`);
    // Distinct secrets and distinct purposes are distinct approvals: both refused past the share.
    rateLimited(() => broker.request({ requester: a, secrets: ['S9'], purpose: null }, EXTRA));
    rateLimited(() => broker.request({ requester: a, secrets: ['S0'], purpose: 'another story' }, EXTRA));
    // An identical request joins the pending one: no new slot, no refusal.
    ask(broker, a, 'S0');
    assert.equal(broker.list().find((p) => p.secrets[0] === 'S0')!.count, 2);
    ask(broker, b, 'OTHER');
    assert.equal(broker.list().length, MAX_PENDING_PER_REQUESTER + 1);
    assert.ok(
      shown.some((p) => p.requester.fingerprint === b.fingerprint),
      'B was shown to the human',
    );
  });

  it('a decided request frees a slot of the share', async () => {
    const { broker } = setup();
    const a = program('/home/me/flood.js');
    const first = ask(broker, a, 'S0');
    for (let i = 1; i < MAX_PENDING_PER_REQUESTER; i++) ask(broker, a, `S${i}`);
    rateLimited(() => broker.request({ requester: a, secrets: ['S9'], purpose: null }, EXTRA));
    broker.decide(broker.list()[0]!.id, { allow: false, scope: 'once', block: false, by: 'test' });
    assert.equal((await first).kind, 'decided');
    ask(broker, a, 'S9');
  });
});

describe('approval broker: a full queue', () => {
  it('many programs filling it with their shares cannot keep a newcomer out', async () => {
    const { broker, ended } = setup();
    const floods = Array.from({ length: MAX_PENDING_APPROVALS / MAX_PENDING_PER_REQUESTER }, (_, i) => program(`/tmp/flood-${i}.js`));
    const waits = new Map<string, Promise<ApprovalOutcome>>();
    for (const f of floods) for (let i = 0; i < MAX_PENDING_PER_REQUESTER; i++) waits.set(`${f.fingerprint}/${i}`, ask(broker, f, `S${i}`));
    assert.equal(broker.list().length, MAX_PENDING_APPROVALS);
    const newestOfLast = broker.list().at(-1)!;

    // The old broker refused everyone from here on ("too many approval requests are already waiting").
    const b = program('/home/me/honest.js', 5000);
    ask(broker, b, 'OTHER');
    const queue = broker.list();
    assert.equal(queue.length, MAX_PENDING_APPROVALS, 'the global cap still holds');
    assert.ok(
      queue.some((p) => p.requester.fingerprint === b.fingerprint),
      'the newcomer is queued',
    );
    // The heaviest holder's newest request made room; its waiter is told RATE_LIMITED.
    assert.equal(
      queue.some((p) => p.id === newestOfLast.id),
      false,
    );
    assert.deepEqual(
      ended.map((e) => e.id),
      [newestOfLast.id],
    );
    assert.equal(ended[0]!.outcome.kind, 'cancelled');
    const last = floods.at(-1)!;
    await assert.rejects(
      waits.get(`${last.fingerprint}/${MAX_PENDING_PER_REQUESTER - 1}`)!,
      (err: unknown) => isAkcError(err) && err.code === 'RATE_LIMITED',
    );
  });

  it('equal holders never displace each other, and the newcomer keeps its one slot', () => {
    const { broker } = setup();
    const one = Array.from({ length: MAX_PENDING_APPROVALS }, (_, i) => program(`/tmp/one-${i}.js`));
    for (const r of one) ask(broker, r, 'S');
    // Everybody holds one: a newcomer would only trade places, so it is refused.
    rateLimited(() => broker.request({ requester: program('/tmp/newcomer.js'), secrets: ['S'], purpose: null }, EXTRA));
    assert.equal(broker.list().length, MAX_PENDING_APPROVALS);
  });

  it('a requester that already holds slots cannot displace a lighter one', () => {
    const { broker } = setup();
    const heavy = program('/tmp/heavy.js');
    for (let i = 0; i < 3; i++) ask(broker, heavy, `H${i}`);
    const light = Array.from({ length: MAX_PENDING_APPROVALS - 3 }, (_, i) => program(`/tmp/light-${i}.js`));
    for (const r of light) ask(broker, r, 'S');
    assert.equal(broker.list().length, MAX_PENDING_APPROVALS);
    // heavy (3 held) asking again would only take from itself or a lighter holder: refused.
    rateLimited(() => broker.request({ requester: heavy, secrets: ['H9'], purpose: null }, EXTRA));
    // A fresh program takes heavy's newest slot (3 > 0 + 1).
    const fresh = program('/tmp/fresh.js');
    ask(broker, fresh, 'S');
    const mine = broker.list().filter((p) => p.requester.fingerprint === heavy.fingerprint);
    assert.deepEqual(mine.map((p) => p.secrets[0]).sort(), ['H0', 'H1']);
    assert.equal(broker.list().filter((p) => light.some((l) => l.fingerprint === p.requester.fingerprint)).length, light.length);
  });
});

/** A request whose caller can go away (`gone.abort()`, as a closed connection does). */
function askFrom(broker: ApprovalBroker, r: Requester, secret: string): { outcome: Promise<ApprovalOutcome>; gone: AbortController } {
  const gone = new AbortController();
  const outcome = broker.request({ requester: r, secrets: [secret], purpose: null }, EXTRA, undefined, gone.signal);
  return { outcome, gone };
}

const ALLOW = { allow: true, scope: 'once', block: false, by: 'test' } as const;

describe('approval broker: a client that goes away withdraws its request (issue 15)', () => {
  it('the approval ends as withdrawn: off the queue, the approver told, and it cannot be decided', async () => {
    const { broker, ended } = setup();
    const { outcome, gone } = askFrom(broker, program('/home/me/agent.js'), 'KEY');
    const id = broker.list()[0]!.id;
    gone.abort();
    assert.deepEqual(await outcome, { kind: 'withdrawn', reason: WITHDRAWN_REASON, last: true });
    assert.deepEqual(broker.list(), []);
    assert.equal(broker.get(id), null);
    assert.deepEqual(ended, [{ id, outcome: { kind: 'withdrawn', reason: WITHDRAWN_REASON, last: true } }]);
    assert.throws(
      () => broker.decide(id, ALLOW),
      (err: unknown) =>
        isAkcError(err, 'NOT_FOUND') &&
        err.message === `approval ${id} was withdrawn: its client disconnected` &&
        /nothing was delivered/.test(err.hint!),
    );
    // An id that was never withdrawn keeps the plain message.
    assert.match(broker.notPending('a_000000000000').message, /^no pending approval a_000000000000$/);
  });

  it('identical requests: one caller leaving keeps the approval for the others, the last one withdraws it', async () => {
    const { broker, shown, ended } = setup();
    const r = program('/home/me/agent.js');
    const a = askFrom(broker, r, 'KEY');
    const b = askFrom(broker, r, 'KEY');
    const c = askFrom(broker, r, 'KEY');
    const id = broker.list()[0]!.id;
    assert.equal(broker.get(id)!.count, 3);
    const shownBefore = shown.length;
    a.gone.abort();
    assert.deepEqual(await a.outcome, { kind: 'withdrawn', reason: WITHDRAWN_REASON, last: false });
    assert.equal(broker.get(id)!.count, 2, 'the prompt counts the callers still waiting');
    assert.equal(shown.length, shownBefore + 1, 'the prompt is shown again with the new count');
    assert.equal(ended.length, 0, 'the approval did not end');
    b.gone.abort();
    assert.equal((await b.outcome).kind, 'withdrawn');
    assert.equal(broker.get(id)!.count, 1);
    broker.decide(id, ALLOW);
    assert.deepEqual(await c.outcome, { kind: 'decided', decision: ALLOW, grants: [] });
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.outcome.kind, 'decided');
  });

  it('a caller without a signal never leaves: the approval stays pending when the others go', async () => {
    const { broker } = setup();
    const r = program('/home/me/agent.js');
    const fixed = ask(broker, r, 'KEY');
    const leaving = askFrom(broker, r, 'KEY');
    leaving.gone.abort();
    assert.equal((await leaving.outcome).kind, 'withdrawn');
    assert.equal(broker.list().length, 1);
    broker.decide(broker.list()[0]!.id, ALLOW);
    assert.equal((await fixed).kind, 'decided');
  });

  it('a caller already gone is never queued nor shown', async () => {
    const { broker, shown, ended } = setup();
    const gone = new AbortController();
    gone.abort();
    let queued = 0;
    const outcome = await broker.request(
      { requester: program('/home/me/agent.js'), secrets: ['KEY'], purpose: null },
      EXTRA,
      () => (queued += 1),
      gone.signal,
    );
    assert.deepEqual(outcome, { kind: 'withdrawn', reason: WITHDRAWN_REASON, last: false });
    assert.equal(queued, 0);
    assert.deepEqual(broker.list(), []);
    assert.deepEqual(shown, []);
    assert.deepEqual(ended, []);
  });

  it('a caller gone before the decision reached it gets withdrawn, not the decision; the approval counts as decided', async () => {
    const { broker } = setup();
    const { outcome, gone } = askFrom(broker, program('/home/me/agent.js'), 'KEY');
    const id = broker.list()[0]!.id;
    broker.decide(id, ALLOW);
    gone.abort(); // same tick: the decision is still on its way to the caller
    assert.deepEqual(await outcome, { kind: 'withdrawn', reason: WITHDRAWN_REASON, last: false });
    assert.match(broker.notPending(id).message, /^no pending approval /);
  });

  it('after the outcome, the caller stops listening to its signal', async () => {
    const { broker } = setup();
    const { outcome, gone } = askFrom(broker, program('/home/me/agent.js'), 'KEY');
    assert.equal(getEventListeners(gone.signal, 'abort').length, 1);
    broker.decide(broker.list()[0]!.id, ALLOW);
    assert.equal((await outcome).kind, 'decided');
    assert.equal(getEventListeners(gone.signal, 'abort').length, 0);
    gone.abort(); // later: nothing happens
  });

  it('a displaced request still fails its caller with RATE_LIMITED (signal or not)', async () => {
    const { broker } = setup();
    const floods = Array.from({ length: MAX_PENDING_APPROVALS / MAX_PENDING_PER_REQUESTER }, (_, i) => program(`/tmp/flood-${i}.js`));
    const waits: ReturnType<typeof askFrom>[] = [];
    for (const f of floods) for (let i = 0; i < MAX_PENDING_PER_REQUESTER; i++) waits.push(askFrom(broker, f, `S${i}`));
    ask(broker, program('/home/me/honest.js', 5000), 'OTHER');
    await assert.rejects(waits.at(-1)!.outcome, (err: unknown) => isAkcError(err, 'RATE_LIMITED'));
  });

  it(`asking and hanging up again and again earns the cool-down after ${MAX_WITHDRAWN} (a few Ctrl-Cs do not)`, async () => {
    const { broker } = setup();
    const r = program('/home/me/flasher.js');
    for (let i = 0; i < MAX_WITHDRAWN; i++) {
      const { outcome, gone } = askFrom(broker, r, 'KEY');
      gone.abort();
      assert.equal((await outcome).kind, 'withdrawn', `withdrawal ${i + 1} is still asked`);
    }
    rateLimited(() => broker.request({ requester: r, secrets: ['KEY'], purpose: null }, EXTRA));
    // Another program is not affected.
    ask(broker, program('/home/me/other.js', 5000), 'KEY');
  });

  it(`remembers the last ${REMEMBER_WITHDRAWN} withdrawn ids only`, async () => {
    const { broker } = setup();
    const ids: string[] = [];
    for (let i = 0; i <= REMEMBER_WITHDRAWN; i++) {
      const { outcome, gone } = askFrom(broker, program(`/tmp/p-${i}.js`), 'KEY');
      ids.push(broker.list()[0]!.id);
      gone.abort();
      await outcome;
    }
    assert.match(broker.notPending(ids[0]!).message, /^no pending approval /, 'the oldest is forgotten');
    assert.match(broker.notPending(ids[1]!).message, /was withdrawn/);
    assert.match(broker.notPending(ids.at(-1)!).message, /was withdrawn/);
  });
});
