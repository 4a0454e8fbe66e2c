/**
 * The wire protocol against a real daemon (DESIGN §8): malformed input gets the documented
 * error and never a crash, the host keeps serving everyone else, and it holds up under
 * pipelining and many concurrent clients.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AkcEnv } from '../helpers/env.js';
import { MAX_FRAME_BYTES } from '../../src/shared/protocol.js';
import { approve, Daemon, initVault, ok, RawClient, rpc, startAgent, type Json } from '../helpers/daemon.js';

const GRANTED_VALUE = 'granted-protocol-value';

describe('malformed input on a raw socket', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ GRANTED: GRANTED_VALUE });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  /** After every case: the daemon lives and a fresh client is served. */
  async function stillServing(): Promise<void> {
    assert.equal(daemon.running, true, 'the daemon is still running');
    const hello = await rpc(env.socket, 'hello', { client: { name: 'probe', version: '1' } });
    assert.equal(hello.result.protocol, 1);
    const list = await rpc(env.socket, 'secret.list');
    assert.deepEqual(
      list.result.secrets.map((s: Json) => s.name),
      ['GRANTED'],
    );
  }

  /** Sends lines, then a status request as a marker; returns what came before the marker's answer. */
  async function answersTo(c: RawClient, payload: string | Buffer): Promise<Json[]> {
    const before = c.messages.length;
    await c.write(payload);
    const marker = `marker-${randomBytes(4).toString('hex')}`;
    const status = await c.request('status', {}, marker);
    assert.equal(status.result.vault, 'unlocked', 'the same connection still works');
    return c.messages.slice(before, c.messages.indexOf(status));
  }

  function assertError(m: Json, code: number, reason: string, id: unknown = null): void {
    assert.equal(m.jsonrpc, '2.0', JSON.stringify(m));
    assert.deepEqual(m.id, id, JSON.stringify(m));
    assert.equal(m.error.code, code, JSON.stringify(m));
    assert.equal(m.error.data.reason, reason, JSON.stringify(m));
    assert.equal(typeof m.error.message, 'string');
  }

  it('random bytes: one parse or request error per line, no crash', async () => {
    const bytes = Buffer.concat([randomBytes(16384), Buffer.from('\n')]);
    // What the host counts as lines: split on \n, one trailing \r dropped, empty lines skipped.
    let expected = 0;
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl !== -1; start = nl + 1, nl = bytes.indexOf(0x0a, start)) {
      let end = nl;
      if (end > start && bytes[end - 1] === 0x0d) end -= 1;
      if (end > start) expected += 1;
    }
    const c = await RawClient.connect(env.socket);
    const answers = await answersTo(c, bytes);
    c.close();
    assert.equal(answers.length, expected);
    for (const m of answers) {
      assert.equal(m.id, null);
      // Nearly always invalid JSON; a short line like `7` is JSON but not a request.
      assert.ok(m.error.code === -32700 || m.error.code === -32600, JSON.stringify(m));
    }
    await stillServing();
  });

  it('invalid JSON: -32700 with id null', async () => {
    const lines = ['{"jsonrpc":"2.0","id":1,', "{'single':'quotes'}", 'nul', '{"jsonrpc":"2.0","id":1,"method":"status"}}', '\u00ff\u00fe'];
    const c = await RawClient.connect(env.socket);
    const answers = await answersTo(c, lines.join('\n') + '\n');
    c.close();
    assert.equal(answers.length, lines.length);
    for (const m of answers) assertError(m, -32700, 'PARSE_ERROR');
    await stillServing();
  });

  it('valid JSON that is not a request: -32600, with the id when it is readable', async () => {
    const cases: [unknown, unknown][] = [
      [[], null],
      [[{ jsonrpc: '2.0', id: 1, method: 'status' }], null],
      [42, null],
      ['status', null],
      [null, null],
      [{}, null],
      [{ jsonrpc: '2.0', id: 3 }, 3],
      [{ jsonrpc: '1.0', id: 4, method: 'status' }, 4],
      [{ jsonrpc: '2.0', id: { nested: true }, method: 'status' }, null],
      [{ jsonrpc: '2.0', id: 5.5, method: 'status' }, null],
      [{ jsonrpc: '2.0', id: 6, method: 'status', params: [1, 2] }, 6],
      [{ jsonrpc: '2.0', id: 7, method: 'status', extra: 1 }, 7],
      [{ jsonrpc: '2.0', method: 'status' }, null],
    ];
    const c = await RawClient.connect(env.socket);
    const answers = await answersTo(c, cases.map(([v]) => JSON.stringify(v)).join('\n') + '\n');
    c.close();
    assert.equal(answers.length, cases.length);
    cases.forEach(([, id], i) => assertError(answers[i], -32600, 'INVALID_REQUEST', id));
    await stillServing();
  });

  it('unknown method: -32601 with the id', async () => {
    const c = await RawClient.connect(env.socket);
    for (const [id, method] of [
      [1, 'secret.steal'],
      ['x', 'approval.decide.please'],
      [3, 'constructor'],
      [4, '__proto__'],
    ] as const) {
      assertError(await c.request(method, {}, id), -32601, 'METHOD_NOT_FOUND', id);
    }
    c.close();
    await stillServing();
  });

  it('wrong param types: -32602 with the id', async () => {
    const c = await RawClient.connect(env.socket);
    const cases: [string, unknown][] = [
      ['secret.get', { name: 42 }],
      ['secret.get', {}],
      ['secret.get', { name: 'GRANTED', version: '1' }],
      ['secret.get', { name: 'GRANTED', version: -1 }],
      ['secret.get', { name: 'GRANTED', purpose: 7 }],
      ['secret.get', { name: 'GRANTED', purpose: 'x'.repeat(10_000) }],
      ['secret.get', { name: 'GRANTED', surprise: true }],
      ['secret.get', { name: 'has space' }],
      ['hello', { client: 'me' }],
      ['hello', { agent: 12 }],
      ['status', { verbose: true }],
      ['lease.revoke', { id: 5 }],
      ['lease.revoke', {}],
    ];
    let id = 100;
    for (const [method, params] of cases) {
      const answer = await c.request(method, params, ++id);
      assertError(answer, -32602, 'INVALID_PARAMS', id);
      assert.ok(!JSON.stringify(answer).includes(GRANTED_VALUE));
    }
    c.close();
    await stillServing();
  });

  it('a 1 MiB line: -32600 FRAME_TOO_LARGE, and that connection is closed', async () => {
    const c = await RawClient.connect(env.socket);
    const other = await RawClient.connect(env.socket);
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'status', params: { pad: 'a'.repeat(1024 * 1024) } }) + '\n';
    void c.write(huge); // the host may close before it has read it all
    const answer = await c.waitMessage((m) => m.error?.data?.reason === 'FRAME_TOO_LARGE', 'FRAME_TOO_LARGE');
    assertError(answer, -32600, 'FRAME_TOO_LARGE');
    await c.waitHostEnd();
    assert.equal(
      c.messages.some((m) => 'result' in m),
      false,
      'the oversized request was not executed',
    );
    c.close();
    // Another connection opened before is not affected.
    assert.equal((await other.request('status')).result.vault, 'unlocked');
    other.close();
    await stillServing();
  });

  it('a line of exactly 65 536 bytes is still accepted', async () => {
    const c = await RawClient.connect(env.socket);
    const base = JSON.stringify({ jsonrpc: '2.0', id: 'edge', method: 'status', params: { pad: '' } });
    const line = JSON.stringify({ jsonrpc: '2.0', id: 'edge', method: 'status', params: { pad: 'b'.repeat(65536 - base.length) } });
    assert.equal(Buffer.byteLength(line), 65536);
    await c.write(line + '\n');
    // Accepted as a frame; `pad` is then an unknown param of status.
    assertError(await c.response('edge'), -32602, 'INVALID_PARAMS', 'edge');
    c.close();
    await stillServing();
  });

  it('10 000 requests pipelined on one connection: every one answered, ids matched', async () => {
    // A grant first, so secret.get answers at once.
    const c = await RawClient.connect(env.socket);
    const first = c.request('secret.get', { name: 'GRANTED' }, 'grant-me');
    const pending = await c.waitMessage((m) => m.method === 'approval.pending', 'approval.pending');
    assert.equal(pending.params.id, 'grant-me');
    ok(await approve(env, pending.params.approvalId, 'always'), 'akc approve --always');
    assert.equal((await first).result.value, GRANTED_VALUE);

    const methods = ['status', 'secret.get', 'secret.list', 'hello', 'secret.get', 'nope'];
    const expected = new Map<string | number, string>();
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const id = i % 3 === 0 ? `s-${i}` : i;
      // lease.list now and then: its answer grows with every delivery, up to the frame limit.
      const method = i % 1000 === 999 ? 'lease.list' : methods[i % methods.length]!;
      expected.set(id, method);
      lines.push(JSON.stringify({ jsonrpc: '2.0', id, method, params: method === 'secret.get' ? { name: 'GRANTED' } : {} }));
    }
    const expected0 = new Map(expected);
    const before = c.messages.length;
    await c.write(lines.join('\n') + '\n');
    await c.waitCount(before + 10_000, 60_000);
    const answers = c.messages.slice(before);
    assert.equal(answers.length, 10_000);
    const leases = new Set<string>();
    for (const m of answers) {
      assert.ok(expected.has(m.id), `unexpected id ${JSON.stringify(m.id)}`);
      const method = expected.get(m.id)!;
      expected.delete(m.id); // each id answered once
      if (method === 'nope') {
        assert.equal(m.error.code, -32601);
        continue;
      }
      assert.ok('result' in m, `${method} ${JSON.stringify(m)}`);
      if (method === 'status') assert.equal(m.result.vault, 'unlocked');
      if (method === 'lease.list') assert.ok(m.result.leases.length > 0);
      if (method === 'secret.get') {
        assert.equal(m.result.value, GRANTED_VALUE);
        leases.add(m.result.lease.id);
      }
    }
    assert.equal(expected.size, 0);
    assert.ok(c.longestLine <= MAX_FRAME_BYTES, `the host sent a ${c.longestLine}-byte line; clients accept ${MAX_FRAME_BYTES}`);
    assert.equal(leases.size, [...expected0.values()].filter((m) => m === 'secret.get').length, 'one lease per delivery');
    c.close();
    await stillServing();
  });
});

describe('many clients', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ SHARED: 'shared-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('200 concurrent SDK clients each get a granted secret', async () => {
    const first = startAgent(env, ['SHARED']);
    ok(await approve(env, (await first.pending()).approvalId!, 'always'), 'akc approve --always');
    await first.done();

    // 4 agent processes × 50 connections, all at once.
    const agents = Array.from({ length: 4 }, () => startAgent(env, ['SHARED'], { connections: 50 }));
    const results = await Promise.all(agents.map((a) => a.done(60_000)));
    const values = results.flat().filter((e) => e.ev === 'value');
    const problems = results.flat().filter((e) => e.ev === 'error' || e.ev === 'pending');
    assert.deepEqual(problems, []);
    assert.equal(values.length, 200);
    assert.ok(values.every((e) => e.value === 'shared-value'));
    assert.equal(new Set(values.map((e) => e.lease!.id)).size, 200, 'a lease each');
    assert.equal(
      new Set(
        results
          .flat()
          .filter((e) => e.ev === 'hello')
          .map((e) => e.pid),
      ).size,
      4,
      'the host saw 4 processes',
    );
    assert.equal(daemon.running, true);
  });
});
