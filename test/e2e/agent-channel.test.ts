/**
 * The agent channel end to end (DESIGN §5, §6, §8): a real `akc daemon`, real agent
 * processes (`akc get` and the SDK client), decisions through the real CLI (`akc approve` /
 * `akc deny` with the master password on stdin) or on the daemon's own terminal.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { akc, AKC_BIN, PASSWORD, type AkcEnv } from '../helpers/env.js';
import {
  akcGet,
  approve,
  Child,
  Daemon,
  deny,
  initVault,
  ok,
  pendingApprovals,
  pendingIdOf,
  rpc,
  startAgent,
  type AgentEvent,
} from '../helpers/daemon.js';

function assertValue(e: AgentEvent | undefined, value: string): void {
  assert.ok(e, 'no event');
  assert.equal(e.ev, 'value', `expected a value, got ${JSON.stringify(e)}`);
  assert.equal(e.value, value);
  assert.match(e.lease!.id, /\S/);
}

function assertError(e: AgentEvent | undefined, reason: string, rpcCode: number): void {
  assert.ok(e, 'no event');
  assert.equal(e.ev, 'error', `expected an error, got ${JSON.stringify(e)}`);
  assert.equal(e.reason, reason, JSON.stringify(e));
  assert.equal(e.code, reason, JSON.stringify(e));
  assert.equal(e.rpcCode, rpcCode, JSON.stringify(e));
}

/** The get events of a finished agent, in order (hello and done left out). */
function outcomes(events: AgentEvent[]): AgentEvent[] {
  return events.filter((e) => e.ev === 'pending' || e.ev === 'value' || e.ev === 'error');
}

describe('approvals decided with the real CLI', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({
      CLI_KEY: 'cli-value-1',
      ONCE_KEY: 'once-value-2',
      DENY_KEY: 'deny-value-3',
      FIFTEEN_KEY: 'fifteen-value-4',
      ALWAYS_KEY: 'always-value-5',
      UNTIL_LOCK_KEY: 'until-lock-value-6',
      BLOCK_KEY: 'block-value-7',
    });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('`akc get` waits for approval, `akc approve` lets it through, and it prints the value', async () => {
    const get = akcGet(env, 'CLI_KEY', ['--purpose', 'run evals']);
    const id = await pendingIdOf(get);
    assert.match(get.stderr.text, /waiting for approval/);

    const listed = await pendingApprovals(env);
    assert.equal(listed.length, 1);
    assert.equal(listed[0].id, id);
    assert.deepEqual(listed[0].secrets, ['CLI_KEY']);
    assert.equal(listed[0].purpose, 'run evals');
    assert.equal(listed[0].pid, get.pid, 'the host names the real pid from the kernel');
    assert.equal(listed[0].script, AKC_BIN);
    assert.equal(listed[0].badge, 'new');
    assert.match(daemon.log.text, new RegExp(`decide with: akc approve ${id}`));

    const approved = ok(await approve(env, id), 'akc approve');
    assert.match(approved.stdout, new RegExp(`Approved ${id}`));
    const r = await get.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'cli-value-1\n');
    assert.deepEqual(await pendingApprovals(env), []);
  });

  it('an SDK agent receives approval.pending, then the value; "once" asks again next time', async () => {
    const first = startAgent(env, ['ONCE_KEY'], { purpose: 'first' });
    const pending = await first.pending('ONCE_KEY');
    assert.match(pending.approvalId!, /^a_/);
    assert.ok(Date.parse(pending.expiresAt!) > Date.now(), 'expiresAt is in the future');
    ok(await approve(env, pending.approvalId!, 'once'), 'akc approve --once');
    const events = outcomes(await first.done());
    assert.equal(events.length, 2);
    assertValue(events[1], 'once-value-2');

    // A new process of the same program: the single use is spent, so a human is asked again.
    const second = startAgent(env, ['ONCE_KEY'], { purpose: 'second' });
    const again = await second.pending('ONCE_KEY');
    assert.notEqual(again.approvalId, pending.approvalId);
    ok(await deny(env, again.approvalId!), 'akc deny');
    assertError(outcomes(await second.done())[1], 'DENIED', -32002);
  });

  it('`akc deny` answers the agent with DENIED', async () => {
    const agent = startAgent(env, ['DENY_KEY']);
    const pending = await agent.pending();
    const r = ok(await deny(env, pending.approvalId!), 'akc deny');
    assert.match(r.stdout, /Denied/);
    const events = outcomes(await agent.done());
    assert.equal(events.length, 2);
    assertError(events[1], 'DENIED', -32002);
    assert.doesNotMatch(agent.stdout.text, /deny-value-3/);
  });

  it('deciding needs the master password: a wrong one decides nothing', async () => {
    const agent = startAgent(env, ['DENY_KEY']);
    const pending = await agent.pending();
    const wrongAllow = await approve(env, pending.approvalId!, 'once', 'not the password');
    assert.notEqual(wrongAllow.code, 0);
    assert.match(wrongAllow.stderr, /akc: error: .*password/i);
    const wrongDeny = await akc(env, ['deny', pending.approvalId!, '--password-stdin'], 'not the password\n');
    assert.notEqual(wrongDeny.code, 0);
    assert.deepEqual(
      (await pendingApprovals(env)).map((a) => a.id),
      [pending.approvalId],
      'still pending',
    );
    ok(await deny(env, pending.approvalId!), 'akc deny');
    assertError(outcomes(await agent.done())[1], 'DENIED', -32002);
  });

  it('"15 min" lets the same program through again without asking', async () => {
    const first = startAgent(env, ['FIFTEEN_KEY'], { repeat: 2 });
    const pending = await first.pending();
    ok(await approve(env, pending.approvalId!, '15m'), 'akc approve --for 15m');
    const events = outcomes(await first.done());
    assert.deepEqual(
      events.map((e) => e.ev),
      ['pending', 'value', 'value'],
      'the second get on the same connection was not asked',
    );
    assertValue(events[2], 'fifteen-value-4');
    assert.notEqual(events[1]!.lease!.id, events[2]!.lease!.id, 'each delivery has its own lease');

    const second = startAgent(env, ['FIFTEEN_KEY']);
    const later = outcomes(await second.done());
    assert.deepEqual(
      later.map((e) => e.ev),
      ['value'],
      'a new process of the same program was not asked',
    );
    assertValue(later[0], 'fifteen-value-4');
  });

  it('"always" needs the password and survives a lock and unlock', async () => {
    const first = startAgent(env, ['ALWAYS_KEY']);
    const pending = await first.pending();
    const wrong = await approve(env, pending.approvalId!, 'always', 'wrong password!');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /password/i);
    ok(await approve(env, pending.approvalId!, 'always'), 'akc approve --always');
    assertValue(outcomes(await first.done())[1], 'always-value-5');

    ok(await akc(env, ['lock']), 'akc lock');
    assert.equal((await rpc(env.socket, 'status')).result.vault, 'locked');
    ok(await akc(env, ['unlock', '--password-stdin'], `${PASSWORD}\n`), 'akc unlock');

    const second = startAgent(env, ['ALWAYS_KEY']);
    const later = outcomes(await second.done());
    assert.deepEqual(
      later.map((e) => e.ev),
      ['value'],
    );
    assertValue(later[0], 'always-value-5');
  });

  it('"until lock" lasts until `akc lock`', async () => {
    const first = startAgent(env, ['UNTIL_LOCK_KEY']);
    ok(await approve(env, (await first.pending()).approvalId!, 'until-lock'), 'akc approve --until-lock');
    assertValue(outcomes(await first.done())[1], 'until-lock-value-6');

    const second = startAgent(env, ['UNTIL_LOCK_KEY']);
    const events = outcomes(await second.done());
    assert.deepEqual(
      events.map((e) => e.ev),
      ['value'],
      'no prompt before the lock',
    );

    ok(await akc(env, ['lock']), 'akc lock');
    ok(await akc(env, ['unlock', '--password-stdin'], `${PASSWORD}\n`), 'akc unlock');
    const third = startAgent(env, ['UNTIL_LOCK_KEY']);
    const pending = await third.pending();
    ok(await deny(env, pending.approvalId!), 'akc deny');
    assertError(outcomes(await third.done())[1], 'DENIED', -32002);
  });

  // Last in this group: the block applies to the SDK agent program for every secret.
  it('"deny & block" refuses the program at once from then on', async () => {
    const first = startAgent(env, ['BLOCK_KEY']);
    ok(await deny(env, (await first.pending()).approvalId!, { block: true }), 'akc deny --block');
    assertError(outcomes(await first.done())[1], 'DENIED', -32002);

    const second = startAgent(env, ['BLOCK_KEY', 'ALWAYS_KEY']);
    const events = outcomes(await second.done());
    assert.deepEqual(
      events.map((e) => e.ev),
      ['error', 'error'],
      'no prompt, even for a secret it had "always"',
    );
    assertError(events[0], 'DENIED', -32002);
    assertError(events[1], 'DENIED', -32002);
  });
});

describe('approval timeouts', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ SLOW_KEY: 'slow-value', R1: 'r1', R2: 'r2', R3: 'r3', R4: 'r4' });
    daemon = await Daemon.start(env, { approvalTimeout: 1 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('no answer in time: APPROVAL_TIMEOUT, and the request is gone', async () => {
    const agent = startAgent(env, ['SLOW_KEY']);
    const pending = await agent.pending();
    const events = outcomes(await agent.done());
    assert.equal(events.length, 2);
    assertError(events[1], 'APPROVAL_TIMEOUT', -32004);
    assert.match(daemon.log.text, new RegExp(`request ${pending.approvalId} ended: timeout`));
    assert.deepEqual(await pendingApprovals(env), []);
    const late = await approve(env, pending.approvalId!);
    assert.notEqual(late.code, 0, 'approving after the timeout decides nothing');
    assert.match(late.stderr, /no pending approval/);
  });

  it('after repeated unanswered prompts the program is RATE_LIMITED without a prompt', async () => {
    // `akc get` is another program than the SDK agent above: its own count.
    const gets = ['R1', 'R2', 'R3'].map((n) => akcGet(env, n));
    for (const g of gets) {
      const r = await g.exited;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /nobody answered the approval request in time/);
    }
    const limited = akcGet(env, 'R4');
    const r = await limited.exited;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /too many unanswered approval requests/);
    assert.doesNotMatch(r.stderr, /waiting for approval/);
  });
});

describe('a locked vault', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ GRANTED: 'granted-value', OTHER: 'other-value', NEVER: 'never-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    const agent = startAgent(env, ['GRANTED']);
    ok(await approve(env, (await agent.pending()).approvalId!, 'always'), 'akc approve --always');
    assertValue(outcomes(await agent.done())[1], 'granted-value');
  });
  after(async () => {
    await daemon?.stop();
  });

  it('a request covered by a grant waits for `akc unlock` and then gets the value', async () => {
    ok(await akc(env, ['lock']), 'akc lock');
    const agent = startAgent(env, ['GRANTED']);
    const pending = await agent.pending();
    const [listed] = await pendingApprovals(env);
    assert.equal(listed.id, pending.approvalId);
    assert.equal(listed.needsUnlock, true);
    ok(await akc(env, ['unlock', '--password-stdin'], `${PASSWORD}\n`), 'akc unlock');
    const events = outcomes(await agent.done());
    assert.deepEqual(
      events.map((e) => e.ev),
      ['pending', 'value'],
    );
    assertValue(events[1], 'granted-value');
    assert.deepEqual(await pendingApprovals(env), []);
  });

  it('a request without a grant asks for unlock and approval at once: `akc approve` does both', async () => {
    ok(await akc(env, ['lock']), 'akc lock');
    const agent = startAgent(env, ['OTHER']);
    const pending = await agent.pending();
    ok(await approve(env, pending.approvalId!), 'akc approve (unlocks too)');
    assertValue(outcomes(await agent.done())[1], 'other-value');
    assert.equal((await rpc(env.socket, 'status')).result.vault, 'unlocked');
  });

  it('nobody unlocks in time: LOCKED', async () => {
    await daemon.stop();
    daemon = await Daemon.start(env, { approvalTimeout: 1 });
    ok(await akc(env, ['lock']), 'akc lock');
    const agent = startAgent(env, ['GRANTED', 'NEVER']);
    const events = outcomes(await agent.done());
    assert.deepEqual(
      events.map((e) => e.ev),
      ['pending', 'error', 'pending', 'error'],
    );
    assertError(events[1], 'LOCKED', -32001);
    assertError(events[3], 'LOCKED', -32001);
    assert.doesNotMatch(agent.stdout.text, /granted-value|never-value/);
  });
});

const haveScript = spawnSync('script', ['--version']).status === 0;

describe(
  'the daemon asks on its own terminal',
  { skip: haveScript ? false : 'no `script` (util-linux) to give the daemon a terminal' },
  () => {
    let env: AkcEnv;
    let tty: Child;

    before(async () => {
      env = await initVault({ TTY_KEY: 'tty-value', TTY_ALWAYS: 'tty-always-value', TTY_DENY: 'tty-deny-value' });
      // `script` gives the daemon a pseudo-terminal; what we write to its stdin is typed on it.
      const cmd = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(AKC_BIN)} daemon --approval-timeout 60`;
      tty = Child.spawn('script', ['-qfec', cmd, '/dev/null'], env);
      await tty.stdout.waitFor(/Master password to unlock the vault: /);
      tty.proc.stdin!.write(`${PASSWORD}\r`);
      await tty.stdout.waitFor(/approval requests will be asked here/);
    });
    after(async () => {
      // Ctrl-C on the daemon's terminal stops it cleanly (and `script` with it).
      if (tty?.running) tty.proc.stdin!.write('\x03');
      await tty?.exited;
    });

    it('shows who asks, and [o] allows once', async () => {
      const from = tty.stdout.text.length;
      const agent = startAgent(env, ['TTY_KEY'], { purpose: 'tty check' });
      const pending = await agent.pending();
      await tty.stdout.waitFor(/\[o\] once .*\(Esc = deny\)/, { from });
      const prompt = tty.stdout.text.slice(from);
      assert.match(prompt, new RegExp(`wants TTY_KEY .*\\[${pending.approvalId}\\]`));
      assert.match(prompt, /"tty check" {2}\(claimed by the agent\)/);
      assert.match(prompt, new RegExp(`pid ${agent.pid}`));
      tty.proc.stdin!.write('o');
      assertValue(outcomes(await agent.done())[1], 'tty-value');
      await tty.stdout.waitFor(/allowed once/, { from });
    });

    it('[a] asks for the master password without echoing it', async () => {
      const from = tty.stdout.text.length;
      const agent = startAgent(env, ['TTY_ALWAYS']);
      await agent.pending();
      await tty.stdout.waitFor(/\(Esc = deny\)/, { from });
      tty.proc.stdin!.write('a');
      await tty.stdout.waitFor(/master password \(not echoed\): /, { from });
      tty.proc.stdin!.write(`${PASSWORD}\r`);
      assertValue(outcomes(await agent.done())[1], 'tty-always-value');
      await tty.stdout.waitFor(/allowed always/, { from });
      assert.ok(!tty.stdout.text.slice(from).includes(PASSWORD), 'the password was not echoed');
    });

    it('Esc denies', async () => {
      const from = tty.stdout.text.length;
      const agent = startAgent(env, ['TTY_DENY']);
      await agent.pending();
      await tty.stdout.waitFor(/\(Esc = deny\)/, { from });
      tty.proc.stdin!.write('\x1b');
      assertError(outcomes(await agent.done())[1], 'DENIED', -32002);
    });

    it('Ctrl-C on its terminal stops the daemon and removes the socket', async () => {
      tty.proc.stdin!.write('\x03');
      const r = await tty.exited;
      assert.equal(r.code, 0);
      assert.match(r.stdout, /stopping \(SIGINT\)/);
      assert.equal(fs.existsSync(env.socket), false);
    });
  },
);
