/**
 * Issue 16: the master password never crosses the socket. The attack as the red team ran
 * it: an agent running as the user renames the live socket, listens in its place, and
 * reads what `akc approve` / `akc unlock` send, then puts the socket back. Here the fake
 * listener even relays the real host's challenge, so the CLI produces a proof the real
 * host would check, and the test replays and edits the captured frame against the real
 * host. Also: failed proofs are audited and rate-limited, a host that was never unlocked
 * cannot be unlocked over the socket, and the CLI refuses a server of another uid.
 * Real `akc daemon`, real `akc` child processes, real sockets, real Argon2id.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { akc, PASSWORD, type AkcEnv } from '../helpers/env.js';
import { approve, Child, Daemon, initVault, ok, pendingApprovals, RawClient, startAgent, vaultDb, type Json } from '../helpers/daemon.js';
import { deriveKek, type KdfParams } from '../../src/core/crypto/kdf.js';

const PW = `${PASSWORD}\n`;

/** Every form of a secret we look for in captured bytes. */
function forms(secret: Buffer): string[] {
  return [secret.toString('utf8'), secret.toString('base64'), secret.toString('hex'), secret.toString('base64url')];
}

function assertNoneIn(captured: string, secret: Buffer, what: string): void {
  for (const f of forms(secret)) assert.ok(!captured.includes(f), `the captured bytes contain the ${what}`);
}

/** The KEK the CLI derives: what must not cross the socket in the clear either. */
async function kekOf(env: AkcEnv): Promise<Buffer> {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    const row = db.prepare('SELECT kdf, salt FROM vault').get() as { kdf: string; salt: Buffer };
    return await deriveKek(Buffer.from(PASSWORD), row.salt, JSON.parse(row.kdf) as KdfParams);
  } finally {
    db.close();
  }
}

/** admin.auth audit entries, read from vault.db while the daemon runs. */
function adminAuthEntries(env: AkcEnv): Json[] {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    return db
      .prepare("SELECT event, agent, pid, decision, reason, detail FROM audit WHERE event = 'admin.auth' ORDER BY seq")
      .all()
      .map((r) => ({ ...(r as Json), detail: JSON.parse((r as Json).detail ?? 'null') }));
  } finally {
    db.close();
  }
}

/**
 * What an agent does: moves the live socket aside and listens on its path. Each line the
 * CLI sends is recorded; `answer` decides the reply (relay to the real host, or not).
 */
class FakeListener {
  readonly lines: string[] = [];
  /** Connections the fake opened to the real host, one per CLI connection. */
  readonly upstreams: RawClient[] = [];
  private readonly server: net.Server;

  private constructor(
    readonly path: string,
    readonly realPath: string,
    server: net.Server,
  ) {
    this.server = server;
  }

  static async take(socketPath: string, answer: (line: Json, up: RawClient) => Promise<Json>): Promise<FakeListener> {
    const realPath = `${socketPath}.real`;
    fs.renameSync(socketPath, realPath);
    const holder: { fake?: FakeListener } = {};
    const server = net.createServer((socket) => {
      const decoder = new StringDecoder('utf8');
      let buffer = '';
      const upstream = RawClient.connect(realPath);
      void upstream.then((up) => holder.fake!.upstreams.push(up));
      socket.on('error', () => undefined);
      socket.on('data', (d: Buffer) => {
        buffer += decoder.write(d);
        let nl;
        while ((nl = buffer.indexOf('\n')) !== -1) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          holder.fake!.lines.push(line);
          void upstream.then((up) => answer(JSON.parse(line), up)).then((reply) => socket.write(JSON.stringify(reply) + '\n'));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    holder.fake = new FakeListener(socketPath, realPath, server);
    return holder.fake;
  }

  get text(): string {
    return this.lines.join('\n');
  }

  frame(method: string): Json | undefined {
    return this.lines.map((l) => JSON.parse(l) as Json).find((m) => m.method === method);
  }

  /** Puts the real socket back, as the attacker did. */
  async restore(): Promise<void> {
    for (const up of this.upstreams) up.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.path, { force: true });
    fs.renameSync(this.realPath, this.path);
  }
}

/** Forwards a request to the real host on the fake's own connection and returns the answer. */
async function relay(line: Json, up: RawClient): Promise<Json> {
  const r = await up.request(line.method, line.params);
  return { ...r, id: line.id };
}

const refuse = (line: Json): Json => ({ jsonrpc: '2.0', id: line.id, error: { code: -32603, message: 'internal error' } });

describe('the master password never crosses the socket', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ KEY_A: 'value-a-1', KEY_B: 'value-b-2', KEY_C: 'value-c-3', KEY_D: 'value-d-4' });
    daemon = await Daemon.start(env, { approvalTimeout: 120 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('a fake listener learns nothing the real host accepts from `akc approve`: replayed or edited, the proof is refused', async () => {
    const agentA = startAgent(env, ['KEY_A']);
    const agentB = startAgent(env, ['KEY_B']);
    const idA = (await agentA.pending()).approvalId!;
    const idB = (await agentB.pending()).approvalId!;

    // The agent's listener relays the challenge (so the CLI proves over a real nonce) and
    // keeps the decision for itself.
    const fake = await FakeListener.take(env.socket, async (line, up) =>
      line.method === 'approval.decide' ? refuse(line) : relay(line, up),
    );
    let captured: Json;
    try {
      const r = await approve(env, idA);
      assert.notEqual(r.code, 0, 'the fake did not let it through');
      captured = fake.frame('approval.decide');
      assert.ok(captured, `the CLI sent its decision to the fake: ${fake.text}`);
      assert.match(captured.params.proof, /^[0-9a-f]{64}$/);
      assert.equal(captured.params.password, undefined);
      assertNoneIn(fake.text, Buffer.from(PASSWORD), 'password');
      const kek = await kekOf(env);
      assertNoneIn(fake.text, kek, 'KEK');
      kek.fill(0);

      // Replayed to the real host on a connection of its own: that nonce was never issued there.
      const replay = await RawClient.connect(fake.realPath);
      const r1 = await replay.request('approval.decide', captured.params);
      replay.close();
      assert.equal(r1.error?.data?.code, 'WRONG_PASSWORD', JSON.stringify(r1));
      assert.match(r1.error.message, /challenge is unknown, used or expired/);

      // On the fake's own connection, where the nonce is valid and unused, edited to approve
      // the other request: the proof covers the approval id.
      const up = fake.upstreams[0]!;
      const r2 = await up.request('approval.decide', { ...captured.params, approvalId: idB });
      assert.equal(r2.error?.data?.code, 'WRONG_PASSWORD', JSON.stringify(r2));
      assert.match(r2.error.message, /did not verify/);
      // …and the original frame afterwards: the nonce is single-use, consumed by that attempt.
      const r3 = await up.request('approval.decide', captured.params);
      assert.equal(r3.error?.data?.code, 'WRONG_PASSWORD', JSON.stringify(r3));
      assert.match(r3.error.message, /challenge is unknown, used or expired/);
    } finally {
      await fake.restore();
    }

    assert.deepEqual((await pendingApprovals(env)).map((a) => a.id).sort(), [idA, idB].sort(), 'nothing was decided');
    assert.equal(agentA.events().some((e) => e.ev === 'value') || agentB.events().some((e) => e.ev === 'value'), false);
    const failed = adminAuthEntries(env).filter((e) => e.decision === 'failed');
    assert.deepEqual(
      failed.map((e) => e.detail.why),
      ['nonce', 'proof', 'nonce'],
      'each refused attempt is audited',
    );
    assert.ok(!JSON.stringify(adminAuthEntries(env)).includes(captured.params.proof), 'the audit never holds a proof');

    // With the real socket back, the human's approval goes through.
    ok(await approve(env, idA), 'akc approve');
    ok(await approve(env, idB), 'akc approve');
    assert.equal((await agentA.done()).find((e) => e.ev === 'value')?.value, 'value-a-1');
    assert.equal((await agentB.done()).find((e) => e.ev === 'value')?.value, 'value-b-2');
    const oks = adminAuthEntries(env).filter((e) => e.decision === 'ok');
    assert.ok(oks.length >= 2 && oks.every((e) => e.reason === 'approval.decide' && e.detail.method === 'approval.decide'));
  });

  it('a fake listener that asks for cheap key derivation parameters gets nothing', async () => {
    const fake = await FakeListener.take(env.socket, async (line, up) => {
      if (line.method !== 'admin.challenge') return refuse(line);
      const real = await relay(line, up);
      return { ...real, result: { ...real.result, kdf: { m: 8192, t: 1, p: 1 } } };
    });
    try {
      const strict = { ...env, env: { ...env.env, AKC_DANGEROUS_TEST_WEAK_KDF: '0' } };
      const r = await akc(strict, ['approve', 'a_0123456789abcdef', '--password-stdin'], PW);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /akc: error: refusing the host’s key derivation parameters .*weaker than the defaults/);
      assert.deepEqual(
        fake.lines.map((l) => JSON.parse(l).method),
        ['admin.challenge'],
        'nothing after the challenge',
      );
    } finally {
      await fake.restore();
    }
  });

  it('`akc unlock` of a host that was unlocked before sends a proof and a sealed key, never the password or the KEK', async () => {
    ok(await akc(env, ['lock']), 'akc lock');
    const fake = await FakeListener.take(env.socket, relay);
    try {
      ok(await akc(env, ['unlock', '--password-stdin'], PW), 'akc unlock through a relay');
      const frame = fake.frame('host.unlock');
      assert.ok(frame, fake.text);
      assert.deepEqual(Object.keys(frame.params).sort(), ['nonce', 'proof', 'sealedKek']);
      assertNoneIn(fake.text, Buffer.from(PASSWORD), 'password');
      const kek = await kekOf(env);
      assertNoneIn(fake.text, kek, 'KEK');
      kek.fill(0);

      // What the relay kept does not unlock the host again.
      ok(await akc(env, ['lock']), 'akc lock');
      const replay = await RawClient.connect(fake.realPath);
      const r = await replay.request('host.unlock', frame.params);
      replay.close();
      assert.equal(r.error?.data?.code, 'WRONG_PASSWORD', JSON.stringify(r));
      assert.equal(
        (await RawClient.connect(fake.realPath).then((c) => c.request('status').finally(() => c.close()))).result.vault,
        'locked',
      );
    } finally {
      await fake.restore();
    }
    ok(await akc(env, ['unlock', '--password-stdin'], PW), 'akc unlock');
    assert.equal(JSON.parse(ok(await akc(env, ['status', '--json']), 'status').stdout).vault, 'unlocked');
  });

  it('`akc approve` of a request that needs an unlock unlocks a host that was unlocked before', async () => {
    ok(await akc(env, ['lock']), 'akc lock');
    const agent = startAgent(env, ['KEY_C']);
    const id = (await agent.pending()).approvalId!;
    assert.equal((await pendingApprovals(env)).find((a) => a.id === id)?.needsUnlock, true);
    ok(await approve(env, id), 'akc approve');
    assert.equal((await agent.done()).find((e) => e.ev === 'value')?.value, 'value-c-3');
    assert.equal(JSON.parse(ok(await akc(env, ['status', '--json']), 'status').stdout).vault, 'unlocked');
  });

  it('a wrong password decides nothing and is audited', async () => {
    const agent = startAgent(env, ['KEY_D']);
    const id = (await agent.pending()).approvalId!;
    const before = adminAuthEntries(env).length;
    const r = await approve(env, id, 'once', 'not the password');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /akc: error: .*wrong master password/);
    const added = adminAuthEntries(env).slice(before);
    assert.equal(added.length, 1, JSON.stringify(added));
    assert.equal(added[0].decision, 'failed');
    assert.equal(added[0].reason, 'approval.decide');
    assert.deepEqual(Object.keys(added[0].detail).sort(), ['method', 'outcome', 'why']);
    assert.equal(typeof added[0].pid, 'number', 'the CLI’s pid');
    assert.deepEqual(
      (await pendingApprovals(env)).map((a) => a.id),
      [id],
    );
    ok(await approve(env, id), 'akc approve');
    await agent.done();
  });
});

describe('failed proofs are rate-limited', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ LIMIT_KEY: 'limit-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 120 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('after 5 wrong passwords the 6th attempt is RATE_LIMITED, even with the right password', async () => {
    const agent = startAgent(env, ['LIMIT_KEY']);
    const id = (await agent.pending()).approvalId!;
    for (let i = 1; i <= 5; i++) {
      const r = await approve(env, id, 'once', `wrong password ${i}`);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /wrong master password/, `attempt ${i}`);
    }
    const sixth = await approve(env, id, 'once', 'wrong password 6');
    assert.notEqual(sixth.code, 0);
    assert.match(sixth.stderr, /akc: error: .*too many failed admin proofs/);
    const right = await approve(env, id);
    assert.notEqual(right.code, 0, 'a cool-down holds for the right password too');
    assert.match(right.stderr, /too many failed admin proofs/);

    const entries = adminAuthEntries(env);
    assert.equal(entries.filter((e) => e.decision === 'failed').length, 5);
    assert.equal(entries.filter((e) => e.detail.coolDown === true).length, 1);
    assert.ok(entries.some((e) => e.decision === 'rate_limited'));
    assert.deepEqual(
      (await pendingApprovals(env)).map((a) => a.id),
      [id],
      'still pending: the human can decide at the daemon',
    );
    agent.proc.kill();
  });
});

describe('a host never unlocked in this process', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ FRESH_KEY: 'fresh-value' });
    daemon = await Daemon.start(env, { unlock: false, approvalTimeout: 120 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('`akc unlock` refuses with a hint to unlock at the host, before sending anything derived', async () => {
    const r = await akc(env, ['unlock', '--password-stdin'], PW);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /akc: error: failed to unlock the vault: the host has not been unlocked with the master password since it started/,
    );
    assert.match(r.stderr, /akc: hint: unlock it at the host: the daemon's terminal or the desktop window/);
    assert.equal(JSON.parse(ok(await akc(env, ['status', '--json']), 'status').stdout).vault, 'locked');
  });

  it('so does `akc approve`, and the request stays pending', async () => {
    const agent = startAgent(env, ['FRESH_KEY']);
    const id = (await agent.pending()).approvalId!;
    const r = await approve(env, id);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unlock it at the host/);
    assert.deepEqual(
      (await pendingApprovals(env)).map((a) => a.id),
      [id],
    );
    agent.proc.kill();
  });
});

// ---------------------------------------------------------------- a server of another uid

const NOBODY = 65534;
const canSwitchUser = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

/** A listener that records what it receives and answers every line with an error. */
const FAKE_SERVER = `
const net = require('node:net');
const server = net.createServer((s) => {
  process.stdout.write('connected\\n');
  s.on('error', () => {});
  s.on('data', (d) => {
    process.stdout.write('data ' + d.toString('base64') + '\\n');
    for (const line of d.toString().split('\\n').filter(Boolean)) {
      let id = null;
      try { id = JSON.parse(line).id; } catch {}
      s.write(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32603, message: 'fake' } }) + '\\n');
    }
  });
});
server.listen(process.argv[1], () => process.stdout.write('listening\\n'));
`;

describe(
  'the CLI checks who is listening',
  { skip: canSwitchUser ? false : 'needs root and setpriv to run a server as another uid' },
  () => {
    let dir: string;
    let server: Child;
    let sock: string;

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-e2e-public-'));
      fs.chmodSync(dir, 0o777);
      process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
      const node = path.join(dir, 'node');
      try {
        fs.linkSync(process.execPath, node);
      } catch {
        fs.copyFileSync(process.execPath, node);
        fs.chmodSync(node, 0o755);
      }
      sock = path.join(dir, 'other.sock');
      server = Child.spawn(
        'setpriv',
        [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', node, '-e', FAKE_SERVER, sock],
        { home: dir, socket: sock, env: { PATH: '/usr/bin:/bin' } },
        { cwd: dir },
      );
      await server.stdout.waitFor(/listening/);
    });
    after(async () => {
      server?.proc.kill();
      await server?.exited;
    });

    it('a server running as another uid gets not a byte from `akc approve`', async () => {
      const env = await initVault({});
      const other = { ...env, env: { ...env.env, AKC_SOCKET: sock } };
      const from = server.stdout.text.length;
      const r = await akc(other, ['approve', 'a_0123456789abcdef', '--password-stdin'], PW);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`akc: error: refusing the host at .*: it runs as uid ${NOBODY}, not as you \\(uid 0\\)`));
      await server.stdout.waitFor(/connected/, { from });
      assert.doesNotMatch(server.stdout.text.slice(from), /data /, 'nothing was written to it');
    });

    it('unless it is the configured service user (hardened mode): then the CLI talks to it, still without the password', async () => {
      const env = await initVault({});
      const hardened = { ...env, env: { ...env.env, AKC_SOCKET: sock, AKC_SERVICE_UID: String(NOBODY) } };
      const from = server.stdout.text.length;
      const r = await akc(hardened, ['approve', 'a_0123456789abcdef', '--password-stdin'], PW);
      assert.notEqual(r.code, 0);
      assert.doesNotMatch(r.stderr, /refusing the host/);
      await server.stdout.waitFor(/data /, { from });
      const sent = server.stdout.text
        .slice(from)
        .split('\n')
        .filter((l) => l.startsWith('data '))
        .map((l) => Buffer.from(l.slice(5), 'base64').toString('utf8'))
        .join('');
      assert.match(sent, /"method":"admin\.challenge"/);
      assert.ok(!sent.includes(PASSWORD));
    });
  },
);
