import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeRequestLine } from '../../src/shared/protocol-schemas.js';
import { connect, defaultSocketPath, isKeychainError, KeychainError } from '../../src/sdk/index.js';
import type { KeychainClient, PendingInfo } from '../../src/sdk/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const FIXTURES = new URL('../../../test/fixtures/protocol-v1/', import.meta.url);
const SDK_ENTRY = new URL('../../src/sdk/index.js', import.meta.url);

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
}

/** One connection to the fake host, as the test script sees it. */
interface Peer {
  send(message: unknown): void;
  sendRaw(text: string): void;
  sendBytes(bytes: Uint8Array): void;
  destroy(): void;
}

type Handler = (msg: Json, peer: Peer) => void;

interface FakeHost {
  path: string;
  /** Every line received, verbatim, in arrival order. */
  received: string[];
  /** Resolves once `n` lines have been received in total. */
  receivedCount(n: number): Promise<void>;
  close(): Promise<void>;
}

let tmp: string;
let hostCounter = 0;

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'akc-sdk-'));
});
after(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * A real NDJSON server on a real Unix socket. hello is answered from the golden fixture
 * (with the request's id); everything else goes to `handler`.
 */
async function startFakeHost(handler: Handler = () => {}): Promise<FakeHost> {
  const socketPath = path.join(tmp, `host-${++hostCounter}.sock`);
  const received: string[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const peer: Peer = {
      send: (message) => socket.write(`${JSON.stringify(message)}\n`),
      sendRaw: (text) => socket.write(text),
      sendBytes: (bytes) => socket.write(bytes),
      destroy: () => socket.destroy(),
    };
    createInterface({ input: socket }).on('line', (line) => {
      received.push(line);
      for (const w of waiters.filter((w) => received.length >= w.n)) w.resolve();
      const msg = JSON.parse(line);
      if (msg.method === 'hello') {
        peer.send({ ...fixture('hello.response.json'), id: msg.id });
      } else {
        handler(msg, peer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    path: socketPath,
    received,
    receivedCount: (n) => (received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const ok = (id: unknown, result: unknown) => ({ jsonrpc: '2.0', id, result });
const fail = (id: unknown, code: number, message: string, reason?: string) => ({
  jsonrpc: '2.0',
  id,
  error: { code, message, ...(reason === undefined ? {} : { data: { reason } }) },
});
const secretResult = (name: string, value: string) => ({
  name,
  version: 1,
  type: 'api_key',
  value,
  lease: { id: `lse_${name}`, expiresAt: '2025-06-01T12:15:00.000Z' },
});

/** Runs `fn` with a connected client and always cleans up. */
async function withClient(handler: Handler, fn: (client: KeychainClient, host: FakeHost) => Promise<void>): Promise<void> {
  const host = await startFakeHost(handler);
  const client = await connect({ socketPath: host.path });
  try {
    await fn(client, host);
  } finally {
    await client.close();
    await host.close();
  }
}

describe('SDK against the golden vectors', () => {
  it('sends byte-identical requests and returns the results', async () => {
    const pendings: PendingInfo[] = [];
    const host = await startFakeHost((msg, peer) => {
      const file = {
        status: 'status',
        'secret.list': 'secret-list',
        'secret.get': 'secret-get',
        'lease.list': 'lease-list',
        'lease.revoke': 'lease-revoke',
      }[msg.method as string];
      assert.ok(file !== undefined, `unexpected method ${msg.method}`);
      if (msg.method === 'secret.get') peer.send(fixture('approval-pending.json'));
      peer.send(fixture(`${file}.response.json`));
    });
    const client = await connect({
      socketPath: host.path,
      agent: 'deploy-bot',
      client: { name: 'agent-keychain-sdk', version: '0.1.0' },
    });
    try {
      assert.deepEqual(client.session, fixture('hello.response.json').result);
      assert.deepEqual(await client.status(), fixture('status.response.json').result);
      assert.deepEqual(await client.listSecrets(), fixture('secret-list.response.json').result.secrets);
      const secret = await client.getSecret('GITHUB_TOKEN', {
        purpose: 'open a pull request',
        version: 3,
        onPending: (info) => pendings.push(info),
      });
      assert.deepEqual(secret, fixture('secret-get.response.json').result);
      assert.deepEqual(pendings, [{ approvalId: 'apr_01J9Z', expiresAt: '2025-06-01T12:01:00.000Z' }]);
      assert.deepEqual(await client.listLeases(), fixture('lease-list.response.json').result.leases);
      assert.deepEqual(await client.revokeLease('lse_01J9Z'), fixture('lease-revoke.response.json').result);

      const expected = ['hello', 'status', 'secret-list', 'secret-get', 'lease-list', 'lease-revoke'].map((f) =>
        JSON.stringify(fixture(`${f}.request.json`)),
      );
      assert.deepEqual(host.received, expected);
      // And the receiver's schemas accept everything the SDK sent.
      for (const line of host.received) assert.ok(decodeRequestLine(line).ok, line);
    } finally {
      await client.close();
      await host.close();
    }
  });

  it('the default hello identifies the SDK and omits the agent hint', async () => {
    await withClient(
      () => {},
      async (_client, host) => {
        assert.equal(
          host.received[0],
          '{"jsonrpc":"2.0","id":1,"method":"hello","params":{"client":{"name":"agent-keychain-sdk","version":"0.1.0"}}}',
        );
      },
    );
  });
});

describe('SDK concurrency', () => {
  it('matches out-of-order responses and routes approval.pending to its request', async () => {
    const held: Json[] = [];
    await withClient(
      (msg, peer) => {
        held.push(msg);
        if (held.length < 3) return;
        // The middle request waits for a human; then answer newest first.
        peer.send({
          jsonrpc: '2.0',
          method: 'approval.pending',
          params: { id: held[1].id, approvalId: 'apr_b', expiresAt: '2025-06-01T12:01:00Z' },
        });
        for (const m of [...held].reverse()) peer.send(ok(m.id, secretResult(m.params.name, `value-of-${m.params.name}`)));
      },
      async (client) => {
        const seen: Record<string, PendingInfo[]> = { A: [], B: [], C: [] };
        const results = await Promise.all(
          ['A', 'B', 'C'].map((name) => client.getSecret(name, { onPending: (info) => seen[name]?.push(info) })),
        );
        assert.deepEqual(
          results.map((r) => r.value),
          ['value-of-A', 'value-of-B', 'value-of-C'],
        );
        assert.deepEqual(seen, { A: [], B: [{ approvalId: 'apr_b', expiresAt: '2025-06-01T12:01:00Z' }], C: [] });
      },
    );
  });

  it('ignores notifications for unknown requests and unknown notification methods', async () => {
    await withClient(
      (msg, peer) => {
        peer.send({ jsonrpc: '2.0', method: 'approval.pending', params: { id: 999, approvalId: 'x', expiresAt: 'y' } });
        peer.send({ jsonrpc: '2.0', method: 'something.new', params: {} });
        peer.send({ jsonrpc: '2.0', method: 'approval.pending', params: 'garbage' });
        peer.send(ok(msg.id, { vault: 'locked', pendingApprovals: 2, version: '0.1.0' }));
      },
      async (client) => {
        assert.deepEqual(await client.status(), { vault: 'locked', pendingApprovals: 2, version: '0.1.0' });
      },
    );
  });

  it('a throwing onPending callback does not break the request', async () => {
    await withClient(
      (msg, peer) => {
        peer.send({ jsonrpc: '2.0', method: 'approval.pending', params: { id: msg.id, approvalId: 'a', expiresAt: 'b' } });
        peer.send(ok(msg.id, secretResult('A', 'v')));
      },
      async (client) => {
        const r = await client.getSecret('A', {
          onPending: () => {
            throw new Error('caller bug');
          },
        });
        assert.equal(r.value, 'v');
      },
    );
  });
});

describe('SDK errors', () => {
  const cases: [string, Json, { code: string; rpcCode: number; reason?: string; message: string }][] = [
    [
      'DENIED',
      fixture('error-denied.json').error,
      { code: 'DENIED', rpcCode: -32002, reason: 'DENIED', message: 'failed to get secret S: denied by the user' },
    ],
    [
      'APPROVAL_TIMEOUT',
      fixture('error-approval-timeout.json').error,
      { code: 'APPROVAL_TIMEOUT', rpcCode: -32004, reason: 'APPROVAL_TIMEOUT', message: 'failed to get secret S: no decision within 60 s' },
    ],
    [
      'LOCKED',
      { code: -32001, message: 'the vault is locked', data: { reason: 'LOCKED' } },
      { code: 'LOCKED', rpcCode: -32001, reason: 'LOCKED', message: 'failed to get secret S: the vault is locked' },
    ],
    [
      'NOT_FOUND',
      { code: -32003, message: 'no such secret', data: { reason: 'NOT_FOUND' } },
      { code: 'NOT_FOUND', rpcCode: -32003, reason: 'NOT_FOUND', message: 'failed to get secret S: no such secret' },
    ],
    [
      'RATE_LIMITED',
      { code: -32005, message: 'too many unanswered prompts', data: { reason: 'RATE_LIMITED' } },
      { code: 'RATE_LIMITED', rpcCode: -32005, reason: 'RATE_LIMITED', message: 'failed to get secret S: too many unanswered prompts' },
    ],
    [
      'REVOKED',
      { code: -32006, message: 'agent revoked', data: { reason: 'REVOKED' } },
      { code: 'REVOKED', rpcCode: -32006, reason: 'REVOKED', message: 'failed to get secret S: agent revoked' },
    ],
    [
      'EXPIRED',
      { code: -32007, message: 'grant expired', data: { reason: 'EXPIRED' } },
      { code: 'EXPIRED', rpcCode: -32007, reason: 'EXPIRED', message: 'failed to get secret S: grant expired' },
    ],
    [
      'INTERNAL',
      { code: -32603, message: 'internal error', data: { reason: 'INTERNAL' } },
      { code: 'INTERNAL', rpcCode: -32603, reason: 'INTERNAL', message: 'failed to get secret S: internal error' },
    ],
    [
      'invalid params',
      { code: -32602, message: 'malformed secret.get params: x' },
      { code: 'INVALID_ARGUMENT', rpcCode: -32602, message: 'failed to get secret S: malformed secret.get params: x' },
    ],
    [
      'unknown method',
      { code: -32601, message: 'unknown method: secret.get' },
      { code: 'PROTOCOL', rpcCode: -32601, message: 'failed to get secret S: unknown method: secret.get' },
    ],
    [
      'unknown code',
      { code: -32050, message: 'new\nthing' },
      { code: 'INTERNAL', rpcCode: -32050, message: 'failed to get secret S: new thing' },
    ],
  ];

  for (const [label, error, want] of cases) {
    it(`maps ${label}`, async () => {
      await withClient(
        (msg, peer) => peer.send({ jsonrpc: '2.0', id: msg.id, error }),
        async (client) => {
          const err = await client.getSecret('S').then(
            () => assert.fail('expected an error'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof KeychainError);
          assert.ok(isKeychainError(err, want.code as KeychainError['code']));
          assert.equal(err.code, want.code);
          assert.equal(err.rpcCode, want.rpcCode);
          assert.equal(err.reason, want.reason);
          assert.equal(err.message, want.message);
          // The connection survives a per-request error.
          assert.ok(!client.closed);
        },
      );
    });
  }

  it('reports HOST_NOT_RUNNING when there is no socket', async () => {
    const missing = path.join(tmp, 'nobody-here.sock');
    const err = await connect({ socketPath: missing }).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(isKeychainError(err, 'HOST_NOT_RUNNING'));
    assert.equal(err.message, `failed to connect to agent keychain at ${missing}: no host is running`);
    assert.equal(err.rpcCode, undefined);
    assert.ok(err.hint?.includes('akc daemon'));
  });

  it('reports HOST_NOT_RUNNING for a stale socket file nobody listens on', async () => {
    const stale = path.join(tmp, 'stale.sock');
    // A host that dies without cleaning up (kill -9) leaves its socket file behind.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    assert.ok(readdirSync(tmp).includes('stale.sock'));
    const err = await connect({ socketPath: stale }).then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );
    assert.ok(isKeychainError(err, 'HOST_NOT_RUNNING'), String(err));
  });

  it('times out when the host accepts but never says hello', async () => {
    const socketPath = path.join(tmp, 'silent.sock');
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const err = await connect({ socketPath, timeoutMs: 200 }).then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(isKeychainError(err, 'IO'), String(err));
      assert.equal(err.message, `failed to connect to agent keychain at ${socketPath}: no answer within 200 ms`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('fails connect when hello is answered with an error', async () => {
    const socketPath = path.join(tmp, 'hello-err.sock');
    const server = net.createServer((s) => {
      createInterface({ input: s }).on('line', (line) => {
        s.write(`${JSON.stringify(fail(JSON.parse(line).id, -32603, 'internal error', 'INTERNAL'))}\n`);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const err = await connect({ socketPath }).then(
        () => assert.fail('expected an error'),
        (e: unknown) => e,
      );
      assert.ok(isKeychainError(err, 'INTERNAL'));
      assert.equal(err.message, `failed to connect to agent keychain at ${socketPath}: internal error`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('checks arguments before sending', async () => {
    await withClient(
      () => assert.fail('nothing should be sent'),
      async (client, host) => {
        for (const [name, opts] of [
          ['bad name', {}],
          ['', {}],
          ['A', { purpose: 'p'.repeat(501) }],
          ['A', { version: 0 }],
          ['A', { version: 1.5 }],
        ] as const) {
          await assert.rejects(client.getSecret(name, opts), (e: unknown) => isKeychainError(e, 'INVALID_ARGUMENT'));
        }
        assert.equal(host.received.length, 1); // hello only
      },
    );
  });

  it('refuses to send a request larger than a frame', async () => {
    const host = await startFakeHost();
    try {
      await assert.rejects(
        connect({ socketPath: host.path, client: { name: 'x'.repeat(70_000), version: '1' } }),
        (e: unknown) => isKeychainError(e, 'INVALID_ARGUMENT') && /larger than 65536 bytes/.test(e.message),
      );
      assert.equal(host.received.length, 0);
    } finally {
      await host.close();
    }
  });

  it('rejects a malformed result without closing the connection', async () => {
    let n = 0;
    await withClient(
      (msg, peer) => {
        n++;
        const r = secretResult('A', 'v');
        peer.send(ok(msg.id, n === 1 ? { ...r, value: 42 } : r));
      },
      async (client) => {
        await assert.rejects(client.getSecret('A'), (e: unknown) => {
          assert.ok(isKeychainError(e, 'PROTOCOL'));
          assert.equal(e.message, 'failed to get secret A: the host sent a malformed result (value: expected string)');
          return true;
        });
        assert.equal((await client.getSecret('A')).value, 'v');
      },
    );
  });
});

describe('SDK connection lifecycle', () => {
  it('close() rejects requests in flight, and later calls', async () => {
    await withClient(
      () => {}, // never answers
      async (client, host) => {
        // Catch at once: the rejections happen inside close(), before we await them.
        const a = client.getSecret('A').catch((e: unknown) => e);
        const b = client.listSecrets().catch((e: unknown) => e);
        await host.receivedCount(3);
        await client.close();
        for (const [p, action] of [
          [a, 'get secret A'],
          [b, 'list secrets'],
        ] as const) {
          const e = await p;
          assert.ok(isKeychainError(e, 'IO'));
          assert.equal(e.message, `failed to ${action}: the connection was closed`);
        }
        assert.ok(client.closed);
        await assert.rejects(client.status(), /failed to get the status: the connection is closed/);
        await client.close(); // idempotent
      },
    );
  });

  it('rejects in-flight requests when the host goes away', async () => {
    await withClient(
      (_msg, peer) => peer.destroy(),
      async (client) => {
        await assert.rejects(client.getSecret('A'), (e: unknown) => {
          assert.ok(isKeychainError(e, 'IO'));
          assert.equal(e.message, 'failed to get secret A: the agent keychain closed the connection');
          return true;
        });
        assert.ok(client.closed);
      },
    );
  });

  it('an abort signal stops waiting; the late answer is dropped', async () => {
    const held: Json[] = [];
    await withClient(
      (msg, peer) => {
        if (msg.method === 'secret.get') held.push(msg);
        else {
          // Answer the aborted request late, then the status.
          for (const m of held) peer.send(ok(m.id, secretResult('A', 'late')));
          peer.send(ok(msg.id, { vault: 'unlocked', pendingApprovals: 0, version: '0.1.0' }));
        }
      },
      async (client, host) => {
        const controller = new AbortController();
        const p = client.getSecret('A', { signal: controller.signal });
        await host.receivedCount(2);
        controller.abort();
        await assert.rejects(p, { name: 'AbortError' });
        assert.equal((await client.status()).vault, 'unlocked');
        // Already aborted: nothing is sent.
        await assert.rejects(client.getSecret('A', { signal: controller.signal }), { name: 'AbortError' });
        assert.equal(host.received.length, 3);
      },
    );
  });

  it('enforces the frame limit on what it receives', async () => {
    await withClient(
      (msg, peer) => peer.send(ok(msg.id, secretResult('A', 'v'.repeat(70_000)))),
      async (client) => {
        await assert.rejects(client.getSecret('A'), (e: unknown) => {
          assert.ok(isKeychainError(e, 'PROTOCOL'));
          assert.equal(e.message, 'failed to get secret A: the host sent a message larger than 65536 bytes');
          return true;
        });
        assert.ok(client.closed);
      },
    );
  });

  it('a frame limit error from the host (id null) fails everything in flight', async () => {
    await withClient(
      (_msg, peer) => peer.send(fixture('error-frame-too-large.json')),
      async (client) => {
        await assert.rejects(client.getSecret('A'), (e: unknown) => {
          assert.ok(isKeychainError(e, 'PROTOCOL'));
          assert.equal(e.reason, 'FRAME_TOO_LARGE');
          assert.equal(e.rpcCode, -32600);
          return true;
        });
        assert.ok(client.closed);
      },
    );
  });

  it('closes on garbage from the host', async () => {
    for (const garbage of ['not json\n', '[1,2]\n', '{"jsonrpc":"1.0","id":2,"result":{}}\n', '{"jsonrpc":"2.0","id":2}\n']) {
      await withClient(
        (_msg, peer) => peer.sendRaw(garbage),
        async (client) => {
          await assert.rejects(client.status(), (e: unknown) => isKeychainError(e, 'PROTOCOL'), garbage);
          assert.ok(client.closed);
        },
      );
    }
  });

  it('handles responses split across writes and several in one write', async () => {
    await withClient(
      (msg, peer) => {
        if (msg.params.name !== 'B') return;
        const a = JSON.stringify(ok(msg.id - 1, secretResult('A', 'ä🔑')));
        const b = JSON.stringify(ok(msg.id, secretResult('B', 'b')));
        const bytes = Buffer.from(`${a}\r\n${b}\n`);
        // Cut inside the 4-byte key emoji, and send the halves in separate turns.
        const cut = bytes.indexOf(Buffer.from('🔑')) + 2;
        peer.sendBytes(bytes.subarray(0, cut));
        setTimeout(() => peer.sendBytes(bytes.subarray(cut)), 20);
      },
      async (client) => {
        const [a, b] = await Promise.all([client.getSecret('A'), client.getSecret('B')]);
        assert.equal(a.value, 'ä🔑');
        assert.equal(b.value, 'b');
      },
    );
  });

  it('does not keep the process alive while idle', async () => {
    const host = await startFakeHost((msg, peer) => peer.send(ok(msg.id, { vault: 'unlocked', pendingApprovals: 0, version: '0.1.0' })));
    try {
      const script = path.join(tmp, 'idle.mjs');
      writeFileSync(
        script,
        `import { connect } from ${JSON.stringify(SDK_ENTRY.href)};
         const kc = await connect({ socketPath: ${JSON.stringify(host.path)} });
         const s = await kc.status();
         console.log(s.vault); // no close(): the process must still exit`,
      );
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
      clearTimeout(timer);
      assert.equal(signal, null, 'the child had to be killed: an idle client kept it alive');
      assert.equal(code, 0);
      assert.equal(out.trim(), 'unlocked');
    } finally {
      await host.close();
    }
  });
});

describe('SDK packaging', () => {
  it('uses AKC_SOCKET for the default path', () => {
    assert.equal(defaultSocketPath({ AKC_SOCKET: '/tmp/x.sock' }), '/tmp/x.sock');
  });

  it('has no runtime dependency beyond node: (no zod)', () => {
    // Walk the compiled import graph from the SDK entry point.
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      for (const m of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/gm)) {
        const spec = m[1] ?? '';
        if (spec.startsWith('.')) visit(path.resolve(path.dirname(file), spec));
        else assert.ok(spec.startsWith('node:'), `${path.basename(file)} imports ${spec}`);
      }
    };
    visit(fileURLToPath(SDK_ENTRY));
    assert.ok([...seen].some((f) => f.endsWith('/shared/protocol.js')));
    assert.ok(![...seen].some((f) => f.endsWith('protocol-schemas.js')));
  });
});
