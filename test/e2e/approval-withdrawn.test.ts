/**
 * Issue 15, high item 3: a request whose client went away stayed pending, and approving it
 * recorded a delivery and a lease for a process that no longer existed. Now the client's
 * connection closing withdraws its approval. Replayed for real: a real `akc daemon`, real
 * clients (`akc get`, `akc run`, the SDK agent, an HTTP caller of the brokering proxy)
 * killed with SIGKILL while they wait, and the real `akc approve` afterwards.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { akc, AKC_BIN, PASSWORD, type AkcEnv } from '../helpers/env.js';
import {
  akcGet,
  approve,
  Child,
  Daemon,
  initVault,
  ok,
  pendingApprovals,
  pendingIdOf,
  startAgent,
  vaultDb,
  verifyAudit,
  type Json,
} from '../helpers/daemon.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROXY_CLIENT = path.join(HERE, '../helpers/proxy-client.js');

const VALUES = {
  GONE_KEY: 'sk-gone-4f1d9c2b7a6e5d3c',
  RUN_KEY: 'sk-run-8e7d6c5b4a3f2e1d',
  SHARED_KEY: 'sk-shared-1a2b3c4d5e6f7a8b',
  PROXY_KEY: 'sk-proxy-9z8y7x6w5v4u3t2s',
};

interface AuditRow {
  seq: number;
  event: string;
  agent: string | null;
  pid: number | null;
  secret: string | null;
  decision: string | null;
  reason: string | null;
  detail: Json;
}

/** The audit log as the running daemon wrote it (read-only; WAL readers see committed rows). */
function auditRows(env: AkcEnv): AuditRow[] {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    const rows = db.prepare('SELECT seq, event, agent, pid, secret, decision, reason, detail FROM audit ORDER BY seq').all() as (Omit<
      AuditRow,
      'detail'
    > & { detail: string | null })[];
    return rows.map((r) => ({ ...r, detail: r.detail ? JSON.parse(r.detail) : null }));
  } finally {
    db.close();
  }
}

function leasesFor(env: AkcEnv, secret: string): number {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM leases WHERE secret_name = ?').get(secret) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Kills a waiting client with SIGKILL: no goodbye, the kernel closes its sockets. */
async function kill9(child: Child): Promise<void> {
  child.proc.kill('SIGKILL');
  const r = await child.exited;
  assert.equal(r.signal, 'SIGKILL');
}

/**
 * After the client died: the daemon says the request was withdrawn, `akc approvals` no
 * longer lists it, `akc approve` fails with NOT_FOUND and says why, and the audit log has
 * approval.withdrawn (id, pid, fingerprint, names) with no delivery, no lease, no value.
 */
async function assertWithdrawn(env: AkcEnv, daemon: Daemon, id: string, pid: number, secrets: string[], logFrom: number): Promise<void> {
  await daemon.log.waitFor(new RegExp(`request ${id} ended: withdrawn \\(its client disconnected\\)`), { from: logFrom });
  assert.deepEqual(
    (await pendingApprovals(env)).filter((a: Json) => a.id === id),
    [],
  );

  const r = await approve(env, id);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`^akc: error: failed to approve ${id}: approval ${id} was withdrawn: its client disconnected$`, 'm'));

  const rows = auditRows(env);
  const withdrawn = rows.filter((e) => e.event === 'approval.withdrawn' && e.detail?.approval === id);
  assert.equal(withdrawn.length, 1, 'one approval.withdrawn entry');
  const w = withdrawn[0]!;
  assert.equal(w.pid, pid);
  assert.equal(w.secret, secrets.join(','));
  assert.equal(w.decision, 'deny');
  assert.equal(w.reason, 'its client disconnected');
  assert.match(w.detail.fingerprint, /\S/);
  const request = rows.find((e) => e.event === 'approval.request' && e.reason === id);
  assert.ok(request && request.seq < w.seq, 'requested before it was withdrawn');
  for (const s of secrets) {
    assert.equal(rows.filter((e) => e.event === 'secret.deliver' && e.secret === s).length, 0, `no delivery of ${s}`);
    assert.equal(leasesFor(env, s), 0, `no lease for ${s}`);
  }
  assert.equal(rows.filter((e) => e.event === 'approval.decide' && e.detail?.approval === id).length, 0, 'nothing was decided');
  const text = JSON.stringify(rows);
  for (const v of Object.values(VALUES)) assert.ok(!text.includes(v), 'no value in the audit log');
}

/** Re-reads `akc approvals` until `pred` holds (a deadline only, no sleep as an assertion). */
async function untilListed(env: AkcEnv, pred: (list: Json[]) => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const list = await pendingApprovals(env);
    if (pred(list)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A loopback upstream that counts the requests reaching it. */
async function startUpstream(): Promise<{ server: http.Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, hits };
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('a client that goes away withdraws its approval (issue 15)', () => {
  let env: AkcEnv;
  let daemon: Daemon;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let proxyPort: number;

  before(async () => {
    upstream = await startUpstream();
    proxyPort = await freePort();
    env = await initVault(VALUES, { AKC_PROXY_PORT: String(proxyPort) });
    ok(
      await akc(
        env,
        [
          'proxy',
          'add',
          'up',
          '--upstream',
          `http://127.0.0.1:${upstream.port}`,
          '--secret',
          'PROXY_KEY',
          '--allow-private',
          '--password-stdin',
        ],
        `${PASSWORD}\n`,
      ),
      'akc proxy add',
    );
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });

  after(async () => {
    await daemon?.stop();
    upstream?.server.close();
  });

  it('akc get killed while it waits: withdrawn, cannot be approved, nothing delivered', async () => {
    const from = daemon.log.text.length;
    const get = akcGet(env, 'GONE_KEY');
    const id = await pendingIdOf(get);
    assert.deepEqual(
      (await pendingApprovals(env)).map((a: Json) => a.id),
      [id],
    );
    await kill9(get);
    await assertWithdrawn(env, daemon, id, get.pid, ['GONE_KEY'], from);
  });

  it('akc run killed while it waits (one approval for several secrets): withdrawn the same way', async () => {
    const from = daemon.log.text.length;
    const run = Child.spawn(
      process.execPath,
      [AKC_BIN, 'run', '--env', 'A=RUN_KEY', '--env', 'B=GONE_KEY', '--', process.execPath, '-e', 'process.exit(0)'],
      env,
    );
    const m = await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    await kill9(run);
    await assertWithdrawn(env, daemon, m[1]!, run.pid, ['RUN_KEY', 'GONE_KEY'], from);
  });

  it('identical requests: the one that dies leaves, the approval stays for the other, which gets the value', async () => {
    const first = startAgent(env, ['SHARED_KEY'], { purpose: 'same' });
    const id = (await first.pending()).approvalId!;
    const second = startAgent(env, ['SHARED_KEY'], { purpose: 'same' });
    assert.equal((await second.pending()).approvalId, id, 'collapsed into one approval');
    assert.equal((await pendingApprovals(env)).find((a: Json) => a.id === id)?.count, 2);
    await kill9(first);
    // Still pending, for the one client left: approving it now serves that client.
    await untilListed(env, (list) => list.find((a: Json) => a.id === id)?.count === 1, 'the count to drop to 1');
    ok(await approve(env, id), 'akc approve');
    const events = await second.done();
    const value = events.find((e) => e.ev === 'value');
    assert.equal(value?.value, VALUES.SHARED_KEY);
    const rows = auditRows(env);
    assert.equal(rows.filter((e) => e.event === 'approval.withdrawn' && e.detail?.approval === id).length, 0);
    const deliveries = rows.filter((e) => e.event === 'secret.deliver' && e.secret === 'SHARED_KEY');
    assert.deepEqual(
      deliveries.map((e) => e.pid),
      [second.pid],
      'delivered once, to the live client only',
    );
    assert.equal(leasesFor(env, 'SHARED_KEY'), 1);
  });

  it('a proxy caller that hangs up withdraws its approval; nothing reaches the upstream', async () => {
    const from = daemon.log.text.length;
    const caller = Child.spawn(process.execPath, [PROXY_CLIENT, '--url', `http://127.0.0.1:${proxyPort}/up/v1/thing`], env, {
      input: '',
    });
    const m = await daemon.log.waitFor(/waits for approval (a_[0-9a-f]+): GET 127\.0\.0\.1:\d+\/v1\/thing/, { from });
    const id = m[1]!;
    await kill9(caller);
    await assertWithdrawn(env, daemon, id, caller.pid, ['PROXY_KEY'], from);
    assert.deepEqual(upstream.hits, []);
    const rows = auditRows(env);
    assert.equal(rows.filter((e) => e.event === 'proxy.request').length, 0, 'no proxied request');
    assert.equal(rows.filter((e) => e.event === 'proxy.deny').length, 0, 'withdrawn, not denied twice');
  });

  it('a proxy caller that closes its HTTP connection (process still alive) withdraws too', async () => {
    const from = daemon.log.text.length;
    const req = http.request({ host: '127.0.0.1', port: proxyPort, path: '/up/v1/closed', agent: false });
    req.on('error', () => undefined);
    req.end();
    const m = await daemon.log.waitFor(/waits for approval (a_[0-9a-f]+): GET 127\.0\.0\.1:\d+\/v1\/closed/, { from });
    req.destroy();
    await assertWithdrawn(env, daemon, m[1]!, process.pid, ['PROXY_KEY'], from);
    assert.deepEqual(upstream.hits, []);
  });

  it('the audit chain still verifies', async () => {
    await daemon.stop();
    const check = await verifyAudit(env);
    assert.equal(check.result.ok, true, JSON.stringify(check.result));
  });
});

const haveScript = spawnSync('script', ['--version']).status === 0;

describe(
  "the daemon's terminal prompt moves on when its request is withdrawn",
  { skip: haveScript ? false : 'no `script` (util-linux) to give the daemon a terminal' },
  () => {
    let env: AkcEnv;
    let tty: Child;

    before(async () => {
      env = await initVault({ TTY_GONE: 'tty-gone-value', TTY_NEXT: 'tty-next-value' });
      // `script` gives the daemon a pseudo-terminal; what we write to its stdin is typed on it.
      const cmd = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(AKC_BIN)} daemon --approval-timeout 60`;
      tty = Child.spawn('script', ['-qfec', cmd, '/dev/null'], env);
      await tty.stdout.waitFor(/Master password to unlock the vault: /);
      tty.proc.stdin!.write(`${PASSWORD}\r`);
      await tty.stdout.waitFor(/approval requests will be asked here/);
    });
    after(async () => {
      if (tty?.running) tty.proc.stdin!.write('\x03');
      await tty?.exited;
    });

    it('the prompt for a killed client closes and the next request is asked', async () => {
      const from = tty.stdout.text.length;
      const gone = startAgent(env, ['TTY_GONE']);
      const goneId = (await gone.pending()).approvalId!;
      await tty.stdout.waitFor(new RegExp(`wants TTY_GONE .*\\[${goneId}\\]`), { from });
      const next = startAgent(env, ['TTY_NEXT']);
      const nextId = (await next.pending()).approvalId!;
      await tty.stdout.waitFor(/1 more request\(s\) waiting/, { from });

      await kill9(gone);
      const withdrawnAt = (await tty.stdout.waitFor(/✕ withdrawn: its client disconnected; nothing was delivered/, { from })).index;
      await tty.stdout.waitFor(new RegExp(`wants TTY_NEXT .*\\[${nextId}\\][\\s\\S]*\\(Esc = deny\\)`), { from: from + withdrawnAt });

      // The key answers the request now shown, not the withdrawn one.
      tty.proc.stdin!.write('o');
      const value = (await next.done()).find((e) => e.ev === 'value');
      assert.equal(value?.value, 'tty-next-value');
      await tty.stdout.waitFor(/allowed once/, { from: from + withdrawnAt });
      assert.deepEqual(await pendingApprovals(env), []);
    });
  },
);
