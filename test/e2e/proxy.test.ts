/**
 * The brokering proxy end to end (issue 6): a real `akc daemon`, real bindings made with
 * `akc proxy add`, a real upstream HTTP server on loopback, and real caller processes.
 * The upstream sees the binding's credential and never the caller's own; the caller never
 * sees the value (echoed in headers, in the body, split across chunks, encoded); an
 * unapproved caller gets a JSON 403 and nothing reaches the upstream; every request is
 * audited with method, host, path and status; callers of another uid are refused.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { akc, PASSWORD, type AkcEnv } from '../helpers/env.js';
import { approve, Child, Daemon, deny, initVault, ok, pendingApprovals, vaultDb, type Json } from '../helpers/daemon.js';
import { proxyEnvFor } from '../../src/core/proxy/env.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLIENT = path.join(HERE, '../helpers/proxy-client.js');

const VALUE = 'sk-proxy-Zq8v1LmN3pX7rT2wY9';
const SECRET = 'OPENAI_KEY';
const REDACTED = `[REDACTED:${SECRET}]`;
const encodings = (v: string): Record<string, string> => ({
  raw: v,
  base64: Buffer.from(v).toString('base64'),
  base64url: Buffer.from(v).toString('base64url'),
  hex: Buffer.from(v).toString('hex'),
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

interface Hit {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/** The upstream: records every request; a few routes misbehave on purpose. */
async function startUpstream(): Promise<{ server: http.Server; port: number; hits: Hit[] }> {
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      hits.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      const auth = req.headers.authorization ?? '';
      const token = auth.replace(/^Bearer /, '');
      const route = req.url!.split('?')[0];
      switch (route) {
        case '/v1/echo':
          // Echo the credential back everywhere it could leak.
          res.writeHead(200, {
            'content-type': 'application/json',
            'x-echo-auth': auth,
            'x-echo-token-b64': Buffer.from(token).toString('base64'),
            'set-cookie': [`session=${token}`, 'other=1'],
          });
          res.end(JSON.stringify({ seenAuthorization: auth, token, headers: req.headers, query: req.url, body }));
          return;
        case '/v1/split': {
          // The value split across writes with pauses, raw and encoded.
          res.writeHead(200, { 'content-type': 'text/plain' });
          const parts = Object.values(encodings(token)).flatMap((e) => [e.slice(0, 7), e.slice(7)]);
          let i = 0;
          const next = (): void => {
            if (i >= parts.length) return void res.end('\nend\n');
            res.write(`${i % 2 === 0 ? `\nform ${i / 2}: ` : ''}${parts[i++]}`);
            setTimeout(next, 30);
          };
          next();
          return;
        }
        case '/v1/big': {
          // 2 MiB streamed in 4 KiB chunks, the value straddling a chunk boundary every 64 KiB.
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          let sent = 0;
          const pump = (): void => {
            while (sent < 2 * 1024 * 1024) {
              const chunk = Buffer.alloc(4096, 'x');
              if ((sent / 4096) % 16 === 15) Buffer.from(token.slice(0, 5)).copy(chunk, 4096 - 5);
              if ((sent / 4096) % 16 === 0 && sent > 0) Buffer.from(token.slice(5)).copy(chunk, 0);
              sent += 4096;
              if (!res.write(chunk)) return void res.once('drain', pump);
            }
            res.end();
          };
          pump();
          return;
        }
        case '/v1/redirect-cross':
          res.writeHead(302, { location: `https://elsewhere.example/callback?token=${token}` });
          res.end();
          return;
        case '/v1/redirect-same':
          res.writeHead(301, { location: '/v1/echo?from=redirect' });
          res.end();
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('no such route');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, hits };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  raw: string;
}

/** A request from this test process itself (a caller like any other). */
function request(opts: http.RequestOptions & { body?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent: false, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, body, raw: JSON.stringify(res.rawHeaders) + body });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A caller in its own process (another program: a new requester for policy). */
function clientProcess(args: string[], opts: { cmd?: string[]; cwd?: string; env?: AkcEnv } = {}): Child {
  const cmd = opts.cmd ?? [process.execPath, CLIENT];
  return Child.spawn(cmd[0]!, [...cmd.slice(1), ...args], opts.env ?? ({ env: process.env } as AkcEnv), {
    input: '',
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
}

async function clientResult(child: Child): Promise<Json> {
  const r = await child.exited;
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function assertNoValue(text: string, what: string): void {
  for (const [name, form] of Object.entries(encodings(VALUE))) assert.ok(!text.includes(form), `${what} contains the value (${name})`);
}

function auditRows(
  env: AkcEnv,
  event?: string,
): { event: string; agent: string; pid: number; secret: string; decision: string; reason: string; detail: Json }[] {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    const rows = db
      .prepare(`SELECT event, agent, pid, secret, decision, reason, detail FROM audit ${event ? 'WHERE event = ?' : ''} ORDER BY seq`)
      .all(...(event ? [event] : [])) as {
      event: string;
      agent: string;
      pid: number;
      secret: string;
      decision: string;
      reason: string;
      detail: string | null;
    }[];
    return rows.map((r) => ({ ...r, detail: r.detail ? JSON.parse(r.detail) : null }));
  } finally {
    db.close();
  }
}

/** The approval id the daemon logs for a proxy request matching `re` (after log offset `from`). */
async function pendingFor(daemon: Daemon, re: RegExp, from: number): Promise<string> {
  const m = await daemon.log.waitFor(new RegExp(`waits for approval (a_[0-9a-f]+): ${re.source}`), { from });
  return m[1]!;
}

/**
 * A proxy grant is bound to its binding: the 15-minute approval given for `up` does not
 * cover another binding of the same secret, so its first request asks again.
 */
async function firstApprovedRequest(env: AkcEnv, daemon: Daemon, opts: Parameters<typeof request>[0], re: RegExp): Promise<Reply> {
  const from = daemon.log.text.length;
  const reply = request(opts);
  const id = await pendingFor(daemon, re, from);
  ok(await approve(env, id, '15m'), 'akc approve');
  return reply;
}

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** An HTTPS server on 127.0.0.1 with a self-signed certificate (trusted by nobody). */
async function startSelfSignedUpstream(): Promise<{ server: https.Server; port: number; hits: number[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-proxy-tls-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const hits: number[] = [];
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (_req, res) => {
    hits.push(Date.now());
    res.end('reached');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port, hits };
}

describe('brokering proxy', () => {
  let env: AkcEnv;
  let tls: Awaited<ReturnType<typeof startSelfSignedUpstream>> | null = null;
  let daemon: Daemon;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let proxyPort: number;
  let proxyBase: string;
  let proxySock: string;

  before(async () => {
    upstream = await startUpstream();
    proxyPort = await freePort();
    // The host must verify upstream TLS even when its environment says not to.
    env = await initVault({ [SECRET]: VALUE }, { AKC_PROXY_PORT: String(proxyPort), NODE_TLS_REJECT_UNAUTHORIZED: '0' });
    const add = (args: string[]) => akc(env, ['proxy', 'add', ...args, '--password-stdin'], `${PASSWORD}\n`);
    ok(await add(['up', '--upstream', `http://127.0.0.1:${upstream.port}`, '--secret', SECRET, '--allow-private']), 'proxy add up');
    ok(
      await add([
        'rules',
        '--upstream',
        `http://127.0.0.1:${upstream.port}/v1`,
        '--secret',
        SECRET,
        '--allow-private',
        '--allow',
        'GET /v1/echo',
      ]),
      'proxy add rules',
    );
    // https:// needs no --allow-private to be added, but loopback is refused when used.
    ok(await add(['private-ip', '--upstream', `https://127.0.0.1:${upstream.port}`, '--secret', SECRET]), 'proxy add private-ip');
    ok(await add(['private-name', '--upstream', `https://localhost:${upstream.port}`, '--secret', SECRET]), 'proxy add private-name');
    ok(
      await add([
        'q',
        '--upstream',
        `http://127.0.0.1:${upstream.port}`,
        '--secret',
        SECRET,
        '--allow-private',
        '--query',
        'key={{secret}}',
      ]),
      'add q',
    );
    if (hasOpenssl) {
      tls = await startSelfSignedUpstream();
      ok(await add(['tls', '--upstream', `https://127.0.0.1:${tls.port}`, '--secret', SECRET, '--allow-private']), 'proxy add tls');
    }
    daemon = await Daemon.start(env, { approvalTimeout: 30 });
    proxyBase = `http://127.0.0.1:${proxyPort}`;
    proxySock = path.join(path.dirname(env.socket), 'proxy.sock');
  });

  after(async () => {
    await daemon?.stop();
    upstream?.server.close();
    tls?.server.close();
  });

  it('starts with the daemon on loopback TCP and a 0600 Unix socket; status --json reports both', async () => {
    await daemon.log.waitFor(new RegExp(`proxy on http://127\\.0\\.0\\.1:${proxyPort} and .*proxy\\.sock`));
    const st = fs.statSync(proxySock);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    const status = JSON.parse(ok(await akc(env, ['status', '--json']), 'status').stdout);
    assert.deepEqual(status.proxy, { url: proxyBase, socket: proxySock });
    const list = JSON.parse(ok(await akc(env, ['proxy', 'list', '--json']), 'proxy list').stdout);
    assert.deepEqual(
      list.bindings.map((b: Json) => b.name),
      ['private-ip', 'private-name', 'q', 'rules', ...(hasOpenssl ? ['tls'] : []), 'up'],
    );
    assertNoValue(JSON.stringify(list), 'proxy list');
  });

  it('an unapproved caller gets a JSON 403 and nothing reaches the upstream', async () => {
    const before = upstream.hits.length;
    const from = daemon.log.text.length;
    const caller = clientProcess(['--url', `${proxyBase}/up/v1/echo`, '--header', 'Authorization: Bearer caller-own']);
    const id = await pendingFor(daemon, /GET 127\.0\.0\.1:\d+\/v1\/echo/, from);
    const [p] = (await pendingApprovals(env)).filter((a) => a.id === id);
    assert.deepEqual(p.http, { method: 'GET', host: `127.0.0.1:${upstream.port}`, path: '/v1/echo', binding: 'up' });
    assert.equal(p.exe, fs.realpathSync(process.execPath));
    assert.deepEqual(p.secrets, [SECRET]);
    ok(await deny(env, id), 'akc deny');
    const r = await clientResult(caller);
    assert.equal(r.status, 403);
    assert.match(r.headers['content-type'], /application\/json/);
    assert.equal(r.headers['x-akc-proxy-error'], 'DENIED');
    const body = JSON.parse(r.body);
    assert.equal(body.error.reason, 'DENIED');
    assert.equal(typeof body.error.message, 'string');
    assert.equal(upstream.hits.length, before, 'nothing reached the upstream');
    const denial = auditRows(env, 'proxy.deny').at(-1)!;
    assert.equal(denial.decision, 'deny');
    assert.equal(denial.secret, SECRET);
    assert.equal(denial.pid, caller.pid);
    assert.deepEqual(
      { method: denial.detail.method, path: denial.detail.path, host: denial.detail.host, binding: denial.detail.binding },
      { method: 'GET', path: '/v1/echo', host: `127.0.0.1:${upstream.port}`, binding: 'up' },
    );
  });

  it('--allow rules refuse other methods and paths before anyone is asked', async () => {
    const before = upstream.hits.length;
    for (const [method, p] of [
      ['POST', '/rules/echo'],
      ['GET', '/rules/split'],
      ['GET', '/rules/echo/more'],
    ] as const) {
      const r = await request({ host: '127.0.0.1', port: proxyPort, method, path: p });
      assert.equal(r.status, 403, `${method} ${p}`);
      assert.equal(JSON.parse(r.body).error.reason, 'DENIED');
      assert.match(JSON.parse(r.body).error.message, new RegExp(`${method} /v1/\\S+ is not allowed by proxy binding rules`));
    }
    assert.deepEqual(await pendingApprovals(env), [], 'no prompt for a request the binding refuses');
    assert.equal(upstream.hits.length, before);
  });

  it('private and loopback upstream addresses are refused without --allow-private (after resolving names)', async () => {
    const before = upstream.hits.length;
    for (const name of ['private-ip', 'private-name']) {
      const r = await request({ host: '127.0.0.1', port: proxyPort, path: `/${name}/v1/echo` });
      assert.equal(r.status, 403, name);
      const err = JSON.parse(r.body).error;
      assert.equal(err.reason, 'DENIED');
      assert.match(err.message, /private or local address.*--allow-private/);
    }
    assert.deepEqual(await pendingApprovals(env), []);
    assert.equal(upstream.hits.length, before);
    const refusals = auditRows(env, 'proxy.deny').slice(-2);
    assert.ok(refusals.every((e) => /private upstream address/.test(e.reason)));
  });

  it('approved: the upstream sees the binding’s credential and never the caller’s own; the caller never sees the value', async () => {
    const before = upstream.hits.length;
    const from = daemon.log.text.length;
    const reply = request({
      host: '127.0.0.1',
      port: proxyPort,
      method: 'POST',
      path: '/up/v1/echo?x=1',
      headers: {
        authorization: 'Bearer caller-own-token',
        cookie: 'sid=caller-cookie',
        'x-api-key': 'caller-api-key',
        'proxy-authorization': 'Basic caller-proxy',
        'x-akc-purpose': 'e2e proxy test',
        'content-type': 'text/plain',
      },
      body: 'hello upstream',
    });
    const id = await pendingFor(daemon, /POST 127\.0\.0\.1:\d+\/v1\/echo/, from);
    const [p] = (await pendingApprovals(env)).filter((a) => a.id === id);
    assert.equal(p.purpose, 'e2e proxy test');
    ok(await approve(env, id, '15m'), 'akc approve');
    const r = await reply;
    assert.equal(r.status, 200, r.body);

    // Upstream side: exactly one request, with the binding's header only.
    assert.equal(upstream.hits.length, before + 1);
    const hit = upstream.hits.at(-1)!;
    assert.equal(hit.method, 'POST');
    assert.equal(hit.url, '/v1/echo?x=1');
    assert.equal(hit.body, 'hello upstream');
    assert.equal(hit.headers.authorization, `Bearer ${VALUE}`);
    assert.equal(hit.headers.cookie, undefined);
    assert.equal(hit.headers['x-api-key'], undefined);
    assert.equal(hit.headers['proxy-authorization'], undefined);
    assert.equal(hit.headers['x-akc-purpose'], undefined);
    const sent = JSON.stringify(hit.rawHeaders);
    for (const own of ['caller-own-token', 'caller-cookie', 'caller-api-key', 'caller-proxy']) assert.ok(!sent.includes(own), own);

    // Caller side: the echo everywhere, scrubbed; cookies stripped.
    assertNoValue(r.raw, 'the response');
    assert.equal(r.headers['x-echo-auth'], `Bearer ${REDACTED}`);
    assert.equal(r.headers['x-echo-token-b64'], REDACTED);
    assert.equal(r.headers['set-cookie'], undefined);
    const body = JSON.parse(r.body);
    assert.equal(body.seenAuthorization, `Bearer ${REDACTED}`);
    assert.equal(body.token, REDACTED);
  });

  it(
    'verifies upstream TLS against the system roots (even with NODE_TLS_REJECT_UNAUTHORIZED=0 in its environment)',
    { skip: !hasOpenssl && 'needs openssl' },
    async () => {
      const r = await firstApprovedRequest(
        env,
        daemon,
        { host: '127.0.0.1', port: proxyPort, path: '/tls/v1/echo' },
        /GET 127\.0\.0\.1:\d+\/v1\/echo/,
      );
      assert.equal(r.status, 502, r.body);
      const err = JSON.parse(r.body).error;
      assert.equal(err.reason, 'UPSTREAM_ERROR');
      assert.match(err.message, /SELF_SIGNED|self-signed|certificate/i);
      assert.deepEqual(tls!.hits, [], 'no request was sent over the untrusted connection');
      // The entry is written when the exchange ends, which may be just after the reply.
      let audited: ReturnType<typeof auditRows>[number] | undefined;
      for (let i = 0; i < 50 && !audited; i++) {
        audited = auditRows(env, 'proxy.request').find((e) => e.detail?.binding === 'tls');
        if (!audited) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(audited, 'the failed exchange is audited');
      assert.equal(audited.detail.status, 502);
    },
  );

  it('scrubs values split across chunks (raw, base64, base64url, hex) and in a 2 MiB stream', async () => {
    const split = await request({ host: '127.0.0.1', port: proxyPort, path: '/up/v1/split' });
    assert.equal(split.status, 200);
    assertNoValue(split.raw, 'the split response');
    assert.equal(split.body.split(REDACTED).length - 1, 4, split.body);
    assert.match(split.body, /end\n$/);

    const big = await request({ host: '127.0.0.1', port: proxyPort, path: '/up/v1/big' });
    assert.equal(big.status, 200);
    assertNoValue(big.body, 'the big response');
    const occurrences = big.body.split(REDACTED).length - 1;
    assert.equal(occurrences, (2 * 1024 * 1024) / 4096 / 16 - 1);
    assert.equal(big.body.length, 2 * 1024 * 1024 + occurrences * (REDACTED.length - VALUE.length));
  });

  it('the Unix socket serves the same bindings; redirects are never followed and stay on the proxy', async () => {
    const viaSocket = await request({ socketPath: proxySock, path: '/up/v1/echo' });
    assert.equal(viaSocket.status, 200);
    assertNoValue(viaSocket.raw, 'the socket response');

    const before = upstream.hits.length;
    const cross = await request({ socketPath: proxySock, path: '/up/v1/redirect-cross' });
    assert.equal(cross.status, 302);
    assert.equal(cross.headers.location, undefined, 'a cross-host Location is not passed on');
    assert.match(String(cross.headers['x-akc-redirect-blocked']), /https:\/\/elsewhere\.example/);
    assertNoValue(cross.raw, 'the redirect');
    const same = await request({ socketPath: proxySock, path: '/up/v1/redirect-same' });
    assert.equal(same.status, 301);
    assert.equal(same.headers.location, '/up/v1/echo?from=redirect', 'a same-host Location points back at the binding');
    assert.equal(upstream.hits.length, before + 2, 'no redirect was followed by the proxy');
  });

  it('a query-parameter binding replaces the caller’s own parameter and scrubs the echo', async () => {
    const r = await firstApprovedRequest(
      env,
      daemon,
      { host: '127.0.0.1', port: proxyPort, path: '/q/v1/echo?key=caller-key&a=1' },
      /GET 127\.0\.0\.1:\d+\/v1\/echo/,
    );
    assert.equal(r.status, 200);
    const hit = upstream.hits.at(-1)!;
    const params = new URL(hit.url, 'http://x').searchParams;
    assert.deepEqual(params.getAll('key'), [VALUE]);
    assert.equal(params.get('a'), '1');
    assertNoValue(r.raw, 'the query response');
  });

  it('bad paths and unknown bindings get JSON errors, not the upstream', async () => {
    const before = upstream.hits.length;
    const unknown = await request({ host: '127.0.0.1', port: proxyPort, path: '/nope/v1/echo' });
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body).error.reason, 'NOT_FOUND');
    for (const p of ['/up/v1/../../etc', '/up/v1/%2e%2e/x', '/up/v1/a%2Fb']) {
      const r = await request({ host: '127.0.0.1', port: proxyPort, path: p });
      assert.equal(r.status, 400, p);
      assert.equal(JSON.parse(r.body).error.reason, 'BAD_REQUEST');
    }
    assert.equal(upstream.hits.length, before);
  });

  it('every request is audited with method, host, path, status, bytes and latency — never a value', async () => {
    const requests = auditRows(env, 'proxy.request');
    assert.ok(requests.length >= 6, `${requests.length} proxy.request entries`);
    const post = requests.find((e) => e.detail.method === 'POST' && e.detail.path === '/v1/echo')!;
    assert.ok(post, 'the approved POST is audited');
    assert.equal(post.decision, 'allow');
    assert.equal(post.secret, SECRET);
    assert.equal(post.pid, process.pid);
    assert.equal(post.detail.host, `127.0.0.1:${upstream.port}`);
    assert.equal(post.detail.status, 200);
    assert.equal(post.detail.binding, 'up');
    assert.equal(post.detail.requestBytes, 'hello upstream'.length);
    assert.ok(post.detail.bytes > 0);
    assert.equal(typeof post.detail.latencyMs, 'number');
    assert.match(post.reason, /^grant g_/);
    const big = requests.find((e) => e.detail.path === '/v1/big')!;
    assert.ok(big.detail.bytes >= 2 * 1024 * 1024);
    const redirect = requests.find((e) => e.detail.path === '/v1/redirect-cross')!;
    assert.equal(redirect.detail.status, 302);
    const q = requests.find((e) => e.detail.binding === 'q')!;
    assert.equal(q.detail.path, '/v1/echo', 'the query (which carries the key) is never logged');

    assertNoValue(JSON.stringify(auditRows(env)), 'the audit log');
    // Nothing on disk holds the value in the clear.
    for (const f of fs.readdirSync(env.home)) assertNoValue(fs.readFileSync(path.join(env.home, f)).toString('latin1'), f);
    assertNoValue(daemon.log.text, 'the daemon log');
  });

  const NOBODY = 65534;
  const canSwitchUser = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
  it(
    'callers of another uid are refused on TCP and on the Unix socket',
    { skip: canSwitchUser ? false : 'needs root and setpriv' },
    async () => {
      // A directory and a node binary the other user can use.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-proxy-public-'));
      fs.chmodSync(dir, 0o755);
      process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
      const node = path.join(dir, 'node');
      try {
        fs.linkSync(process.execPath, node);
      } catch {
        fs.copyFileSync(process.execPath, node);
        fs.chmodSync(node, 0o755);
      }
      fs.copyFileSync(CLIENT, path.join(dir, 'client.js'));
      fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
      fs.chmodSync(path.join(dir, 'client.js'), 0o644);
      // The proxy socket lives in a 0700 dir as a 0600 file: a hard link in an open dir, made
      // 0666, lets the other user connect, so only the host's uid check is left.
      const link = path.join(dir, 'proxy.sock');
      fs.linkSync(proxySock, link);
      fs.chmodSync(link, 0o666);
      const asNobody = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', node, path.join(dir, 'client.js')];
      const before = upstream.hits.length;
      const from = daemon.log.text.length;

      const tcp = await clientResult(clientProcess(['--url', `${proxyBase}/up/v1/echo`], { cmd: asNobody, cwd: dir }));
      assert.equal(tcp.status, 403, JSON.stringify(tcp));
      assert.equal(JSON.parse(tcp.body).error.reason, 'DENIED');
      assert.match(JSON.parse(tcp.body).error.message, /another user/);

      const unix = await clientResult(clientProcess(['--socket', link, '--path', '/up/v1/echo'], { cmd: asNobody, cwd: dir }));
      assert.equal(unix.status, 403, JSON.stringify(unix));
      assert.match(JSON.parse(unix.body).error.message, /another user/);
      await daemon.log.waitFor(new RegExp(`proxy: refused pid \\d+: uid ${NOBODY} is not ours`), { from });

      assert.equal(upstream.hits.length, before, 'nothing reached the upstream');
      assert.deepEqual(await pendingApprovals(env), [], 'refused callers queue nothing');
      assertNoValue(JSON.stringify([tcp, unix]), 'the refusals');
    },
  );

  it('akc run --proxy gives the child the binding URL and a placeholder key, never the value', async () => {
    const from = daemon.log.text.length;
    // The child reads only what `akc run --proxy up` put in its environment.
    const script =
      "const u = process.env.AKC_PROXY_UP_URL + '/v1/echo';" +
      "fetch(u, { headers: { authorization: 'Bearer ' + (process.env.OPENAI_API_KEY || 'none') } })" +
      '.then(async (r) => console.log(JSON.stringify({ url: u, status: r.status, body: await r.text(), env: process.env })));';
    const run = Child.spawn(
      process.execPath,
      [path.join(HERE, '../../../bin/akc.js'), 'run', '--proxy', 'up', '--', process.execPath, '-e', script],
      env,
      {
        input: '',
      },
    );
    const id = await pendingFor(daemon, /GET 127\.0\.0\.1:\d+\/v1\/echo/, from);
    ok(await approve(env, id), 'akc approve');
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { url: string; status: number; body: string; env: Record<string, string> };
    assert.equal(out.url, `${proxyBase}/up/v1/echo`);
    assert.equal(out.status, 200);
    assert.match(out.body, /Bearer /, 'the upstream saw a credential');
    assertNoValue(r.stdout + r.stderr, 'the child and akc run');
    assert.equal(out.env.OPENAI_API_KEY, undefined, 'a binding to an unknown host gets no placeholder key variable');
  });

  it('any binding can name its placeholder variable (--placeholder-env): an SDK that insists on a key starts; the upstream sees only the real one', async () => {
    const added = ok(
      await akc(
        env,
        [
          'proxy',
          'add',
          'sdk',
          '--upstream',
          `http://127.0.0.1:${upstream.port}`,
          '--secret',
          SECRET,
          '--allow-private',
          '--placeholder-env',
          'MY_SDK_KEY',
          '--password-stdin',
        ],
        `${PASSWORD}\n`,
      ),
      'proxy add sdk',
    );
    assert.match(added.stdout, /^Added proxy binding sdk/);
    const listed = JSON.parse(ok(await akc(env, ['proxy', 'list', '--json']), 'proxy list').stdout) as { bindings: Json[] };
    const sdk = listed.bindings.find((b) => b.name === 'sdk');
    assert.equal(sdk.placeholderEnv, 'MY_SDK_KEY');
    assert.deepEqual(sdk.env, { AKC_PROXY_SDK_URL: `${proxyBase}/sdk`, MY_SDK_KEY: 'akc-proxy-placeholder' });
    const from = daemon.log.text.length;
    // Like the official SDKs: no key in the environment → "Missing credentials", exit 3.
    const script =
      "const k = process.env.MY_SDK_KEY; if (!k) { console.error('Missing credentials'); process.exit(3); }" +
      "fetch(process.env.AKC_PROXY_SDK_URL + '/v1/echo', { headers: { authorization: 'Bearer ' + k } })" +
      '.then(async (r) => console.log(JSON.stringify({ status: r.status, key: k, body: await r.text() })));';
    const run = Child.spawn(
      process.execPath,
      [path.join(HERE, '../../../bin/akc.js'), 'run', '--proxy', 'sdk', '--', process.execPath, '-e', script],
      env,
      {
        input: '',
      },
    );
    const id = await pendingFor(daemon, /GET 127\.0\.0\.1:\d+\/v1\/echo/, from);
    ok(await approve(env, id), 'akc approve');
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { status: number; key: string; body: string };
    assert.equal(out.status, 200);
    assert.equal(out.key, 'akc-proxy-placeholder');
    const hit = upstream.hits.at(-1)!;
    assert.equal(hit.headers.authorization, `Bearer ${VALUE}`, 'the proxy replaced the placeholder with the real credential');
    assert.ok(!JSON.stringify(hit.rawHeaders).includes('akc-proxy-placeholder'), 'the placeholder never reached the upstream');
    assertNoValue(r.stdout + r.stderr, 'the child and akc run');
    // A bad variable name is a usage error, before the password.
    const bad = await akc(env, [
      'proxy',
      'add',
      'bad',
      '--upstream',
      'https://api.github.com',
      '--secret',
      SECRET,
      '--placeholder-env',
      '1X',
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^akc: error: invalid --placeholder-env "1X": not a variable name$/m);
  });

  it('proxyEnvFor points SDKs at the binding with a placeholder key', () => {
    const env = proxyEnvFor({ name: 'openai', upstream: 'https://api.openai.com', baseUrlEnv: null }, proxyBase);
    assert.deepEqual(env, {
      AKC_PROXY_OPENAI_URL: `${proxyBase}/openai`,
      OPENAI_BASE_URL: `${proxyBase}/openai/v1`,
      OPENAI_API_KEY: 'akc-proxy-placeholder',
    });
    assert.deepEqual(proxyEnvFor({ name: 'claude', upstream: 'https://api.anthropic.com', baseUrlEnv: null }, proxyBase), {
      AKC_PROXY_CLAUDE_URL: `${proxyBase}/claude`,
      ANTHROPIC_BASE_URL: `${proxyBase}/claude`,
      ANTHROPIC_API_KEY: 'akc-proxy-placeholder',
    });
    assert.deepEqual(proxyEnvFor({ name: 'gh', upstream: 'https://api.github.com', baseUrlEnv: 'GH_API' }, proxyBase), {
      AKC_PROXY_GH_URL: `${proxyBase}/gh`,
      GH_API: `${proxyBase}/gh`,
    });
    // The binding's own placeholder variable, for any host; for a known host it replaces the default.
    assert.deepEqual(
      proxyEnvFor({ name: 'gh', upstream: 'https://api.github.com', baseUrlEnv: null, placeholderEnv: 'GITHUB_TOKEN' }, proxyBase),
      {
        AKC_PROXY_GH_URL: `${proxyBase}/gh`,
        GITHUB_TOKEN: 'akc-proxy-placeholder',
      },
    );
    assert.deepEqual(
      proxyEnvFor({ name: 'oa', upstream: 'https://api.openai.com', baseUrlEnv: null, placeholderEnv: 'OAI_KEY' }, proxyBase),
      {
        AKC_PROXY_OA_URL: `${proxyBase}/oa`,
        OPENAI_BASE_URL: `${proxyBase}/oa/v1`,
        OAI_KEY: 'akc-proxy-placeholder',
      },
    );
  });
});
