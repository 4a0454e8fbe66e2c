/**
 * `npm run bench`: the agent channel end to end, with real parts — a vault with the
 * default Argon2id parameters, the real Host and AgentServer on a temp Unix socket, SDK
 * clients in a worker thread (their own event loop, like an agent process), the real
 * `akc get` CLI — next to the OS keychain read directly and a bare NDJSON echo server
 * (the floor). Prints a table and writes bench-results/latest.json.
 *
 * Run it as `bash scripts/with-keyring.sh npm run bench` for the keychain rows.
 */
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Server } from 'node:net';
import { DEFAULT_KDF } from '../src/core/crypto/kdf.js';
import { Host } from '../src/core/host/host.js';
import { NapiKeychain } from '../src/core/keychain/napi-keychain.js';
import { silentLogger } from '../src/core/logger.js';
import { AgentServer } from '../src/core/server/server.js';
import { SecretStore } from '../src/core/vault/secrets.js';
import { Vault } from '../src/core/vault/vault.js';
import type { Approver } from '../src/core/approvals/types.js';
import { keyringDirect, type KeyringDirect } from './keychain.js';
import { openClients, sequentialGets, startEchoServer } from './load.js';
import { formatDuration, formatRate, median, now, since, summarize, type Summary } from './stats.js';
import type { WorkerCommand, WorkerReply, WorkerResult } from './worker-protocol.js';
import { benchProxy, type ProxyBenchResult } from './proxy.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const AKC_BIN = path.join(ROOT, 'bin/akc.js');
const RESULTS_FILE = path.join(ROOT, 'bench-results/latest.json');

const SECRET = 'BENCH_TOKEN';
const PASSWORD = 'bench: correct horse battery staple';

const SEQUENTIAL_GETS = 10_000;
const SEQUENTIAL_WARMUP = 2_000;
const SAME_THREAD_GETS = 5_000;
const THROUGHPUT_CLIENTS = [1, 8, 32];
const THROUGHPUT_MS = 2_000;
const THROUGHPUT_WARMUP_MS = 300;
const CLI_RUNS = 20;
const UNLOCK_RUNS = 5;
const KEYRING_CALLS = 2_000;
const ECHO_CALLS = 10_000;

interface Row {
  metric: string;
  value: string;
  target: string;
  /** true: meets the target; false: misses it; null: no target. */
  ok: boolean | null;
}

function password(): Buffer {
  return Buffer.from(PASSWORD, 'utf8');
}

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Sends commands to the load worker and waits for each answer. */
class LoadWorker {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: WorkerResult) => void; reject: (e: Error) => void }>();

  constructor() {
    this.worker = new Worker(new URL('./load-worker.js', import.meta.url));
    this.worker.on('message', (reply: WorkerReply) => {
      const w = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (reply.ok) w?.resolve(reply.result);
      else w?.reject(new Error(`load worker: ${reply.error}`));
    });
    this.worker.on('error', (err) => {
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    });
  }

  run(cmd: WorkerCommand): Promise<WorkerResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, cmd });
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/** Runs `node bin/akc.js get NAME` and returns its wall time (ns) after checking its output. */
function akcGet(env: NodeJS.ProcessEnv, expected: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = now();
    const child = spawn(process.execPath, [AKC_BIN, 'get', SECRET, '--no-newline'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const elapsed = since(start);
      if (code !== 0) return reject(new Error(`akc get exited with ${code}: ${stderr.trim()}`));
      if (stdout !== expected) return reject(new Error('akc get printed a different value'));
      resolve(elapsed);
    });
  });
}

/** Microseconds of this thread's CPU (user + system) per operation. */
function cpuPerOp(used: NodeJS.CpuUsage, ops: number): number {
  return (used.user + used.system) / Math.max(1, ops);
}

async function timeRuns(n: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await fn();
    out.push(since(t) / 1000);
  }
  return out;
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

function printTable(rows: Row[]): void {
  const head = { metric: 'metric', value: 'value', target: 'target', status: '' };
  const status = (r: Row): string => (r.ok === null ? '' : r.ok ? 'ok' : 'MISS');
  const w = {
    metric: Math.max(head.metric.length, ...rows.map((r) => r.metric.length)),
    value: Math.max(head.value.length, ...rows.map((r) => r.value.length)),
    target: Math.max(head.target.length, ...rows.map((r) => r.target.length)),
  };
  const line = (m: string, v: string, t: string, s: string): string =>
    `${m.padEnd(w.metric)}  ${v.padStart(w.value)}  ${t.padEnd(w.target)}  ${s}`.trimEnd();
  console.log(line(head.metric, head.value, head.target, head.status));
  console.log(line('-'.repeat(w.metric), '-'.repeat(w.value), '-'.repeat(w.target), ''));
  for (const r of rows) console.log(line(r.metric, r.value, r.target, status(r)));
}

async function main(): Promise<number> {
  const started = now();
  const loadBefore = os.loadavg()[0]!;
  // The benchmark measures the real KDF: never the test-only weak parameters.
  const weakKdfWasSet = process.env.AKC_DANGEROUS_TEST_WEAK_KDF !== undefined;
  delete process.env.AKC_DANGEROUS_TEST_WEAK_KDF;
  process.umask(0o077);

  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-bench-'));
  const home = path.join(base, 'home');
  const socketPath = path.join(base, 'agent.sock');
  const echoPath = path.join(base, 'echo.sock');
  const service = `agent-keychain-bench-${randomBytes(6).toString('hex')}`;
  const keychain = new NapiKeychain(service);
  const value = `sk-bench-${randomBytes(24).toString('hex')}`;
  const notes: string[] = [];
  if (weakKdfWasSet) notes.push('AKC_DANGEROUS_TEST_WEAK_KDF was set in the environment; the benchmark unset it');

  let host: Host | null = null;
  let server: AgentServer | null = null;
  let echo: Server | null = null;
  let worker: LoadWorker | null = null;
  let vaultId: string | null = null;
  let keychainOk = false;

  try {
    // ------------------------------------------------------------ the OS keychain
    const keyringReady = process.env.AKC_TEST_KEYRING === 'ready';
    try {
      await keychain.set('probe', 'x');
      keychainOk = (await keychain.get('probe')) === 'x';
      await keychain.delete('probe');
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      notes.push(
        `keychain rows skipped: no OS keychain (${why})${keyringReady ? '' : '; run `bash scripts/with-keyring.sh npm run bench`'}`,
      );
    }

    // ------------------------------------------------------------ a vault with default KDF parameters
    log(
      `creating a vault in ${home} (Argon2id m=${DEFAULT_KDF.memoryKiB / 1024} MiB t=${DEFAULT_KDF.timeCost} p=${DEFAULT_KDF.parallelism})`,
    );
    const setupVault = Vault.open({ dataDir: home, keychain });
    const initStart = now();
    await setupVault.init(password(), { keychain: keychainOk, kdf: { ...DEFAULT_KDF } });
    const initUs = since(initStart) / 1000;
    vaultId = setupVault.id;
    const kdf = setupVault.kdfParams;
    if (JSON.stringify(kdf) !== JSON.stringify(DEFAULT_KDF)) throw new Error(`the vault has KDF ${JSON.stringify(kdf)}, not the default`);
    new SecretStore(setupVault).set(SECRET, Buffer.from(value, 'utf8'), { description: 'benchmark secret' });
    setupVault.close();

    // ------------------------------------------------------------ the host, serving the socket
    host = Host.open({ dataDir: home, keychain });
    const h = host;
    let approvals = 0;
    const deciding = new Set<string>();
    // Stands in for the human: every pending request is allowed "always" (with the master
    // password, as `akc approve --always` needs), so the benchmark clients hold grants.
    const autoApprover: Approver = {
      show(p) {
        if (deciding.has(p.id)) return;
        deciding.add(p.id);
        h.decide(p.id, { allow: true, scope: 'always', block: false, by: 'bench' }, password()).then(
          () => (approvals += 1),
          (err: unknown) => log(`auto-approve failed: ${err instanceof Error ? err.message : String(err)}`),
        );
      },
      ended() {},
    };
    host.setApprover(autoApprover);
    await host.unlockWithPassword(password(), 'bench');
    server = new AgentServer({ socketPath, host, logger: silentLogger });
    await server.listen();
    log(`host serving ${socketPath}`);

    const target = { socketPath, name: SECRET, expected: value };
    worker = new LoadWorker();
    const auditStartSeq = host.vault.audit.headSeq();
    let deliveries = 0;
    let wrongValues = 0;
    let errors = 0;
    const tally = (r: WorkerResult): void => {
      deliveries += r.ops + r.extraOps;
      wrongValues += r.wrongValues;
      errors += r.errors;
    };

    // First request: no grant yet, so it goes pending and the auto-approver allows it "always".
    const first = await worker.run({ kind: 'first-get', ...target });
    tally(first);
    if (!first.pendingSeen) notes.push('the first get did not go pending (a grant already existed?)');

    log(`sequential secret.get: ${SEQUENTIAL_WARMUP} warm-up + ${SEQUENTIAL_GETS} measured`);
    let cpu = process.threadCpuUsage();
    const seq = await worker.run({ kind: 'sequential', n: SEQUENTIAL_GETS, warmup: SEQUENTIAL_WARMUP, ...target });
    tally(seq);
    const seqHostCpuUs = cpuPerOp(process.threadCpuUsage(cpu), seq.ops + seq.extraOps);
    const seqSummary = summarize(seq.latenciesNs);

    // For comparison: the SDK client on the host's own thread (client and host share one event loop).
    log(`sequential secret.get with the client on the host's thread: ${SAME_THREAD_GETS}`);
    const [local] = await openClients(socketPath, 1);
    await sequentialGets(local!, SECRET, value, 1000);
    const sameThread = await sequentialGets(local!, SECRET, value, SAME_THREAD_GETS);
    await local!.close();
    deliveries += 1000 + sameThread.ops;
    wrongValues += sameThread.wrongValues;
    const sameThreadSummary = summarize(sameThread.latenciesNs);

    const throughput: { clients: number; getsPerSecond: number; ops: number; latency: Summary; hostCpuUsPerGet: number }[] = [];
    for (const clients of THROUGHPUT_CLIENTS) {
      log(`throughput with ${clients} client(s) for ${THROUGHPUT_MS / 1000} s`);
      cpu = process.threadCpuUsage();
      const r = await worker.run({ kind: 'concurrent', clients, ms: THROUGHPUT_MS, warmupMs: THROUGHPUT_WARMUP_MS, ...target });
      tally(r);
      throughput.push({
        clients,
        getsPerSecond: r.ops / (r.elapsedNs / 1e9),
        ops: r.ops,
        latency: summarize(r.latenciesNs),
        hostCpuUsPerGet: cpuPerOp(process.threadCpuUsage(cpu), r.ops + r.extraOps),
      });
    }

    // Over-all load on the host thread during the 32-client run is what limits throughput;
    // the CLI is a fresh process per call, dominated by Node's start-up.
    log(`akc get: 1 + ${CLI_RUNS} runs`);
    const cliEnv: NodeJS.ProcessEnv = { ...process.env, AKC_HOME: home, AKC_SOCKET: socketPath, AKC_KEYCHAIN_SERVICE: service };
    await akcGet(cliEnv, value); // a new program: pending, then approved "always"
    deliveries += 1;
    const cliNs: number[] = [];
    for (let i = 0; i < CLI_RUNS; i++) {
      cliNs.push(await akcGet(cliEnv, value));
      deliveries += 1;
    }
    const cliSummary = summarize(cliNs);

    // Every delivery must have its audit entry (written before the value was released).
    const auditRows = host.vault.db
      .prepare(
        "SELECT sum(event = 'secret.deliver') AS delivered, sum(event = 'secret.deny') AS denied, count(*) AS total FROM audit WHERE seq > ?",
      )
      .get(auditStartSeq) as { delivered: number | null; denied: number | null; total: number };
    const audited = auditRows.delivered ?? 0;
    log('verifying the audit chain');
    const verifyStart = now();
    const verify = host.vault.audit.verify(host.vault.auditKey);
    const verifyUs = since(verifyStart) / 1000;

    await server.close();
    server = null;
    host.close();
    host = null;

    // ------------------------------------------------------------ the floor: bare NDJSON echo
    log(`bare NDJSON echo: ${ECHO_CALLS} sequential, then 32 clients for ${THROUGHPUT_MS / 1000} s`);
    echo = await startEchoServer(echoPath);
    const echoSeq = await worker.run({ kind: 'echo-sequential', path: echoPath, n: ECHO_CALLS, warmup: 2000 });
    const echoSeqSummary = summarize(echoSeq.latenciesNs);
    const echo32 = await worker.run({ kind: 'echo-concurrent', path: echoPath, clients: 32, ms: THROUGHPUT_MS });
    const echo32Rate = echo32.ops / (echo32.elapsedNs / 1e9);
    await new Promise<void>((resolve) => echo!.close(() => resolve()));
    echo = null;
    await worker.stop();
    worker = null;

    // ------------------------------------------------------------ the OS keychain directly
    let direct: KeyringDirect | null = null;
    if (keychainOk) {
      log(`OS keychain getPassword: ${KEYRING_CALLS} sync + ${KEYRING_CALLS} async`);
      direct = await keyringDirect(service, 'bench-direct', value, KEYRING_CALLS, 50);
    }

    // ------------------------------------------------------------ unlock times
    log(`unlock: ${UNLOCK_RUNS} x password${keychainOk ? `, ${UNLOCK_RUNS} x keychain` : ''}`);
    const unlockVault = Vault.open({ dataDir: home, keychain });
    let pwUnlockUs: number[] = [];
    let kcUnlockUs: number[] = [];
    try {
      pwUnlockUs = await timeRuns(UNLOCK_RUNS, () => unlockVault.unlockWithPassword(password()));
      if (keychainOk) kcUnlockUs = await timeRuns(UNLOCK_RUNS, () => unlockVault.unlockWithKeychain());
    } finally {
      unlockVault.close();
    }

    // ------------------------------------------------------------ report
    const t32 = throughput.find((t) => t.clients === 32)!;
    const expectedDeliveries = deliveries;
    console.error('bench: brokering proxy: 500 requests direct vs through the proxy (keep-alive)');
    let proxy: ProxyBenchResult | null = null;
    try {
      proxy = await benchProxy({ n: 500, warmup: 100 });
    } catch (err) {
      notes.push(`proxy benchmark failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    const proxyRows: Row[] = proxy
      ? [
          {
            metric: 'proxy: direct / through proxy p50 (TCP)',
            value: `${formatDuration(proxy.directP50Us)} / ${formatDuration(proxy.proxyP50Us)}`,
            target: '',
            ok: null,
          },
          {
            metric: 'proxy: added latency per request (p50)',
            value: formatDuration(proxy.proxyP50Us - proxy.directP50Us),
            target: '',
            ok: null,
          },
          { metric: 'proxy: Unix socket p50', value: formatDuration(proxy.proxyUnixP50Us), target: '', ok: null },
        ]
      : [];
    const rows: Row[] = [
      {
        metric: 'secret.get p50 (SDK, sequential)',
        value: formatDuration(seqSummary.p50),
        target: '≤ 100 µs',
        ok: seqSummary.p50 <= 100,
      },
      { metric: 'secret.get p99 (SDK, sequential)', value: formatDuration(seqSummary.p99), target: '≤ 1 ms', ok: seqSummary.p99 <= 1000 },
      { metric: 'secret.get mean (SDK, sequential)', value: formatDuration(seqSummary.mean), target: '', ok: null },
      {
        metric: "secret.get p50 / p99 (client on host's thread)",
        value: `${formatDuration(sameThreadSummary.p50)} / ${formatDuration(sameThreadSummary.p99)}`,
        target: '',
        ok: null,
      },
      ...throughput.map((t) => ({
        metric: `throughput, ${t.clients} client${t.clients === 1 ? '' : 's'}`,
        value: formatRate(t.getsPerSecond),
        target: t.clients === 32 ? '≥ 10,000 /s' : '',
        ok: t.clients === 32 ? t.getsPerSecond >= 10_000 : null,
      })),
      {
        metric: 'secret.get p50 / p99 under 32 clients',
        value: `${formatDuration(t32.latency.p50)} / ${formatDuration(t32.latency.p99)}`,
        target: '',
        ok: null,
      },
      {
        metric: 'host-thread CPU per get: sequential / 32 clients',
        value: `${formatDuration(seqHostCpuUs)} / ${formatDuration(t32.hostCpuUsPerGet)}`,
        target: '',
        ok: null,
      },
      { metric: '`akc get` wall time p50', value: formatDuration(cliSummary.p50), target: '', ok: null },
      {
        metric: 'password unlock (Argon2id 64 MiB/3/4), median',
        value: formatDuration(median(pwUnlockUs)),
        target: '',
        ok: null,
      },
      {
        metric: 'keychain unlock, median',
        value: keychainOk ? formatDuration(median(kcUnlockUs)) : 'skipped',
        target: '',
        ok: null,
      },
      {
        metric: 'OS keychain getPassword p50 / p99 (sync)',
        value: direct ? `${formatDuration(direct.sync.p50)} / ${formatDuration(direct.sync.p99)}` : 'skipped',
        target: '',
        ok: null,
      },
      {
        metric: 'OS keychain getPassword p50 / p99 (async)',
        value: direct ? `${formatDuration(direct.async.p50)} / ${formatDuration(direct.async.p99)}` : 'skipped',
        target: '',
        ok: null,
      },
      {
        metric: 'NDJSON echo p50 / p99 (floor)',
        value: `${formatDuration(echoSeqSummary.p50)} / ${formatDuration(echoSeqSummary.p99)}`,
        target: '',
        ok: null,
      },
      { metric: 'NDJSON echo throughput, 32 clients (floor)', value: formatRate(echo32Rate), target: '', ok: null },
      ...proxyRows,
      {
        metric: 'audited deliveries',
        value: `${audited} of ${expectedDeliveries}`,
        target: 'all',
        ok: audited === expectedDeliveries && wrongValues === 0 && errors === 0,
      },
      {
        metric: 'audit verify',
        value: verify.ok ? `ok (${verify.entries} entries)` : `FAILED at ${verify.firstBadSeq}`,
        target: 'ok',
        ok: verify.ok,
      },
    ];

    const usage = process.memoryUsage();
    const peakRssKiB = process.resourceUsage().maxRSS;
    const elapsedS = since(started) / 1e9;
    const loadAfter = os.loadavg()[0]!;
    if (Math.max(loadBefore, loadAfter) > os.cpus().length) {
      notes.push(
        `the machine was busy (1-min load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${os.cpus().length} CPUs): the numbers are pessimistic`,
      );
    }

    console.log('');
    console.log(`Agent Keychain benchmark — ${new Date().toISOString()}`);
    console.log(
      `node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${os.platform()} ${os.release()}, load ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}`,
    );
    console.log('');
    printTable(rows);
    console.log('');
    console.log(`audited: ${audited} of ${expectedDeliveries} deliveries (wrong values: ${wrongValues}, errors: ${errors})`);
    console.log(
      `vault init (Argon2id + setup): ${formatDuration(initUs)}; audit verify: ${formatDuration(verifyUs)}; approvals: ${approvals}`,
    );
    console.log(
      `RSS at end: ${(usage.rss / 2 ** 20).toFixed(1)} MiB (peak ${(peakRssKiB / 1024).toFixed(1)} MiB); total run ${elapsedS.toFixed(1)} s`,
    );
    for (const n of notes) console.log(`note: ${n}`);

    const json = {
      date: new Date().toISOString(),
      commit: gitCommit(),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? null,
      loadAverage: { before: loadBefore, after: loadAfter },
      kdf,
      targets: { getP50Us: 100, getP99Us: 1000, getsPerSecond32: 10_000 },
      results: {
        sequential: { ...seqSummary, hostCpuUsPerGet: seqHostCpuUs },
        sequentialSameThread: sameThreadSummary,
        throughput,
        akcGet: cliSummary,
        unlock: {
          passwordMsMedian: median(pwUnlockUs) / 1000,
          passwordMs: pwUnlockUs.map((u) => u / 1000),
          keychainMsMedian: keychainOk ? median(kcUnlockUs) / 1000 : null,
          keychainMs: kcUnlockUs.map((u) => u / 1000),
        },
        keyringDirect: direct,
        echo: { sequential: echoSeqSummary, getsPerSecond32: echo32Rate },
        audit: {
          deliveries: expectedDeliveries,
          audited,
          denied: auditRows.denied ?? 0,
          entriesWritten: auditRows.total,
          verify,
          verifyMs: verifyUs / 1000,
        },
        proxy,
        wrongValues,
        errors,
        vaultInitMs: initUs / 1000,
        rssBytes: usage.rss,
        peakRssBytes: peakRssKiB * 1024,
        totalSeconds: elapsedS,
      },
      table: rows,
      notes,
    };
    fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
    fs.writeFileSync(RESULTS_FILE, JSON.stringify(json, null, 2) + '\n');
    console.log(`wrote ${path.relative(process.cwd(), RESULTS_FILE) || RESULTS_FILE}`);
    return rows.some((r) => r.ok === false && (r.metric === 'audited deliveries' || r.metric === 'audit verify')) ? 1 : 0;
  } finally {
    await server?.close().catch(() => undefined);
    try {
      host?.close();
    } catch {
      // best effort
    }
    echo?.close();
    await worker?.stop().catch(() => undefined);
    if (keychainOk && vaultId) await keychain.delete(vaultId).catch(() => false);
    if (keychainOk) await keychain.delete('probe').catch(() => false);
    fs.rmSync(base, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
