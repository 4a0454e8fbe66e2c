/**
 * Brokering-proxy overhead: the latency a request gains by going through the proxy
 * instead of straight to the same upstream. Real parts: a vault on disk, the real Host
 * (policy, grant lookup, audit append per request), the real proxy on loopback TCP and on
 * its Unix socket, a real upstream HTTP server on 127.0.0.1. The client is this process
 * with a keep-alive agent (as SDKs use); the upstream answers a small JSON body.
 *
 * `benchProxy()` returns p50s in microseconds; `node dist/bench/proxy.js` prints them.
 * "new connection" requests pay the caller identification (/proc/net/tcp + /proc scan)
 * every time; keep-alive requests pay it once per connection.
 */
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DANGEROUS_TEST_WEAK_KDF } from '../src/core/crypto/kdf.js';
import { Host } from '../src/core/host/host.js';
import type { KeychainPort } from '../src/core/keychain/port.js';
import { BindingStore } from '../src/core/proxy/bindings.js';
import { startProxy } from '../src/core/proxy/index.js';
import { SecretStore } from '../src/core/vault/secrets.js';
import { Vault } from '../src/core/vault/vault.js';
import { now, since, summarize } from './stats.js';

export interface ProxyBenchResult {
  /** Requests per measured series. */
  n: number;
  directP50Us: number;
  proxyP50Us: number;
  /** Same, over the proxy's Unix socket (peer credentials instead of the /proc scan). */
  proxyUnixP50Us: number;
  /** A fresh TCP connection per request: identification every time. */
  directNewConnectionP50Us: number;
  proxyNewConnectionP50Us: number;
  proxyP99Us: number;
  directP99Us: number;
}

const noKeychain: KeychainPort = {
  description: 'none (benchmark)',
  get: async () => null,
  set: async () => {
    throw new Error('no keychain in the benchmark');
  },
  delete: async () => false,
};

function get(agent: http.Agent, opts: http.RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ ...opts, agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function series(n: number, warmup: number, fn: () => Promise<number>): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    const status = await fn();
    samples.push(since(t));
    if (status !== 200) throw new Error(`benchmark request failed with status ${status}`);
  }
  return samples;
}

export async function benchProxy(opts: { n?: number; warmup?: number } = {}): Promise<ProxyBenchResult> {
  const n = opts.n ?? 500;
  const warmup = opts.warmup ?? 100;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-bench-proxy-'));
  const password = Buffer.from('bench: correct horse battery staple');
  const upstream = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"object":"list","data":[{"id":"model-a"},{"id":"model-b"}]}');
  });
  let host: Host | null = null;
  let proxy: Awaited<ReturnType<typeof startProxy>> | null = null;
  try {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upPort = (upstream.address() as net.AddressInfo).port;

    // Setup (not measured): a vault with one secret and one binding.
    const vault = Vault.open({ dataDir: dir, keychain: noKeychain });
    await vault.init(password, { keychain: false, kdf: { ...DANGEROUS_TEST_WEAK_KDF } });
    await vault.unlockWithPassword(password);
    new SecretStore(vault).set('BENCH_KEY', Buffer.from('sk-bench-0123456789abcdef'), { type: 'api_key' });
    new BindingStore(vault.db).put(
      {
        name: 'bench',
        upstream: `http://127.0.0.1:${upPort}`,
        secret: 'BENCH_KEY',
        auth: { kind: 'header', header: 'Authorization', template: 'Bearer {{secret}}' },
        allow: [],
        allowPrivate: true,
        baseUrlEnv: null,
      },
      Date.now(),
    );
    vault.close();

    host = Host.open({ dataDir: dir, keychain: noKeychain });
    await host.unlockWithPassword(password, 'bench');
    // The first request asks for approval; allow it for an hour (as a human would).
    const h = host;
    h.setApprover({
      show: (p) => setImmediate(() => void h.decide(p.id, { allow: true, scope: '1h', block: false, by: 'bench' })),
      ended: () => undefined,
    });
    proxy = await startProxy(host, { socketPath: path.join(dir, 'proxy.sock'), port: 0 });
    const proxyPort = new URL(proxy.url!).port;

    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const fresh = new http.Agent({ keepAlive: false });
    const direct = (agent: http.Agent) => () => get(agent, { host: '127.0.0.1', port: upPort, path: '/v1/models' });
    const viaProxy = (agent: http.Agent) => () => get(agent, { host: '127.0.0.1', port: Number(proxyPort), path: '/bench/v1/models' });
    const viaUnix = () => get(keepAlive, { socketPath: proxy!.socketPath!, path: '/bench/v1/models' });

    const d = summarize(await series(n, warmup, direct(keepAlive)));
    const p = summarize(await series(n, warmup, viaProxy(keepAlive)));
    const u = summarize(await series(n, warmup, viaUnix));
    const dn = summarize(await series(Math.min(n, 200), 20, direct(fresh)));
    const pn = summarize(await series(Math.min(n, 200), 20, viaProxy(fresh)));
    keepAlive.destroy();
    fresh.destroy();
    return {
      n,
      directP50Us: d.p50,
      proxyP50Us: p.p50,
      proxyUnixP50Us: u.p50,
      directNewConnectionP50Us: dn.p50,
      proxyNewConnectionP50Us: pn.p50,
      directP99Us: d.p99,
      proxyP99Us: p.p99,
    };
  } finally {
    await proxy?.close();
    host?.close();
    upstream.close();
    password.fill(0);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await benchProxy();
  const row = (label: string, us: number): string => `${label.padEnd(44)} ${us.toFixed(0).padStart(7)} µs`;
  process.stdout.write(
    [
      `proxy overhead, p50 over ${r.n} sequential requests (keep-alive) to a local upstream`,
      row('direct', r.directP50Us),
      row('through the proxy (TCP)', r.proxyP50Us),
      row('through the proxy (Unix socket)', r.proxyUnixP50Us),
      row('added by the proxy (TCP)', r.proxyP50Us - r.directP50Us),
      row('direct, new connection each time', r.directNewConnectionP50Us),
      row('proxy, new connection each time', r.proxyNewConnectionP50Us),
      row('p99 direct / proxy', r.directP99Us),
      row('', r.proxyP99Us),
    ].join('\n') + '\n',
  );
}
