/**
 * End-to-end fixtures: a vault on disk, `akc daemon` as a real child process on a real
 * socket, agent processes (the SDK client in agent-client.ts, or `akc get`), raw socket
 * clients, and audit verification. Waits are on output and messages, never on sleeps.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StringDecoder } from 'node:string_decoder';
import { akc, akcEnv, AKC_BIN, PASSWORD, tempDir, type AkcEnv, type RunResult } from './env.js';
import { Vault } from '../../src/core/vault/vault.js';
import type { AuditEntry } from '../../src/core/audit/chain.js';
import type { VerifyResult } from '../../src/core/audit/log.js';
import Database from 'better-sqlite3';
import { AuditLog } from '../../src/core/audit/log.js';
import { noKeychain } from './keychain.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The compiled SDK agent (test/helpers/agent-client.ts). */
export const AGENT_CLIENT = path.join(HERE, 'agent-client.js');
/** The compiled bare peer (test/helpers/raw-peer.ts); needs nothing but node. */
export const RAW_PEER = path.join(HERE, 'raw-peer.js');

export const DEFAULT_WAIT_MS = 20_000;

// Children we started die with the test process, even when a test fails half-way.
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
});

// ------------------------------------------------------------------------ waiting

interface Waiter {
  check: () => boolean;
}

/** Something that grows (text, messages) and may end; waits re-check on every change. */
class Waitable {
  protected ended = false;
  private waiters = new Set<Waiter>();

  protected changed(): void {
    for (const w of [...this.waiters]) w.check();
  }

  protected end(): void {
    this.ended = true;
    this.changed();
  }

  /** Resolves with the first non-undefined `probe()`; rejects on timeout or when the source ends first. */
  protected waitUntil<T>(probe: () => T | undefined, what: string, timeoutMs: number, context: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        check: () => {
          const v = probe();
          if (v !== undefined) {
            this.waiters.delete(w);
            clearTimeout(timer);
            resolve(v);
            return true;
          }
          if (this.ended) {
            this.waiters.delete(w);
            clearTimeout(timer);
            reject(new Error(`ended before ${what}\n--- so far:\n${context()}`));
            return true;
          }
          return false;
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n--- so far:\n${context()}`));
      }, timeoutMs);
      if (!w.check()) this.waiters.add(w);
    });
  }
}

/** A child's output stream as text, with waits for patterns. */
export class Output extends Waitable {
  text = '';

  constructor(stream: NodeJS.ReadableStream | null | undefined) {
    super();
    if (!stream) {
      this.end();
      return;
    }
    const decoder = new StringDecoder('utf8');
    stream.on('data', (d: Buffer) => {
      this.text += decoder.write(d);
      this.changed();
    });
    stream.on('end', () => {
      this.text += decoder.end();
      this.end();
    });
    stream.on('error', () => this.end());
  }

  /** Complete lines so far. */
  lines(): string[] {
    const parts = this.text.split('\n');
    parts.pop();
    return parts;
  }

  /** Resolves with the first non-undefined `probe()`, re-checked whenever output arrives. */
  until<T>(probe: () => T | undefined, what: string, timeoutMs = DEFAULT_WAIT_MS, extra: () => string = () => ''): Promise<T> {
    return this.waitUntil(probe, what, timeoutMs, () => this.text.slice(-3000) + extra());
  }

  waitFor(re: RegExp, opts: { timeoutMs?: number; from?: number } = {}): Promise<RegExpExecArray> {
    const from = opts.from ?? 0;
    return this.waitUntil(
      () => re.exec(this.text.slice(from)) ?? undefined,
      String(re),
      opts.timeoutMs ?? DEFAULT_WAIT_MS,
      () => this.text.slice(-4000),
    );
  }
}

/** A child process with its stdout and stderr captured. */
export class Child {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly exited: Promise<RunResult>;

  constructor(readonly proc: ChildProcess) {
    children.add(proc);
    this.stdout = new Output(proc.stdout);
    this.stderr = new Output(proc.stderr);
    this.exited = new Promise((resolve, reject) => {
      proc.on('error', reject);
      proc.on('close', (code, signal) => {
        children.delete(proc);
        resolve({ code, signal, stdout: this.stdout.text, stderr: this.stderr.text });
      });
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  static spawn(cmd: string, args: string[], env: AkcEnv, opts: SpawnOptions & { input?: string } = {}): Child {
    const { input, ...rest } = opts;
    const proc = spawn(cmd, args, { env: env.env, stdio: ['pipe', 'pipe', 'pipe'], ...rest });
    const child = new Child(proc);
    proc.stdin?.on('error', () => undefined);
    if (input !== undefined) proc.stdin?.end(input);
    return child;
  }
}

// ------------------------------------------------------------------------ vault and CLI

/** Fails with the CLI's own words when a command did not exit 0. */
export function ok(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}, signal ${r.signal}):\n${r.stderr}${r.stdout}`);
  return r;
}

/** A fresh isolated environment with a vault (keychain unlock off) holding `secrets`. */
export async function initVault(secrets: Record<string, string>, extraEnv: NodeJS.ProcessEnv = {}): Promise<AkcEnv> {
  const env = akcEnv(extraEnv);
  ok(await akc(env, ['init', '--password-stdin', '--no-keychain'], `${PASSWORD}\n`), 'akc init');
  for (const [name, value] of Object.entries(secrets)) await setSecret(env, name, value);
  return env;
}

/** Stores `value` under `name`: creates it, or adds a version (`--new-version`). */
export async function setSecret(env: AkcEnv, name: string, value: string): Promise<void> {
  ok(
    await akc(env, ['secret', 'set', name, '--new-version', '--password-stdin', '--value-stdin'], `${PASSWORD}\n${value}`),
    `akc secret set ${name}`,
  );
}

export type Scope = 'once' | '15m' | '1h' | 'until-lock' | 'always';

const SCOPE_FLAGS: Record<Scope, string[]> = {
  once: ['--once'],
  '15m': ['--for', '15m'],
  '1h': ['--for', '1h'],
  'until-lock': ['--until-lock'],
  always: ['--always'],
};

/** `akc approve ID [scope] --password-stdin`, the real CLI with the password on stdin. */
export function approve(env: AkcEnv, approvalId: string, scope: Scope = 'once', password = PASSWORD): Promise<RunResult> {
  return akc(env, ['approve', approvalId, ...SCOPE_FLAGS[scope], '--password-stdin'], `${password}\n`);
}

/** `akc deny ID [--block] --password-stdin`. */
export function deny(env: AkcEnv, approvalId: string, opts: { block?: boolean } = {}): Promise<RunResult> {
  return akc(env, ['deny', approvalId, ...(opts.block ? ['--block'] : []), '--password-stdin'], `${PASSWORD}\n`);
}

/** Pending approvals as `akc approvals --json` lists them. */
export async function pendingApprovals(env: AkcEnv): Promise<Json[]> {
  const r = ok(await akc(env, ['approvals', '--json']), 'akc approvals');
  return (JSON.parse(r.stdout) as { approvals: Json[] }).approvals;
}

/** A real `akc get` in the background; its stderr says "waiting for approval … (request ID, …)". */
export function akcGet(env: AkcEnv, name: string, args: string[] = []): Child {
  return Child.spawn(process.execPath, [AKC_BIN, 'get', name, ...args], env, { input: '' });
}

/** The approval id from a running `akc get`'s "waiting for approval" line. */
export async function pendingIdOf(get: Child): Promise<string> {
  const m = await get.stderr.waitFor(/request (a_[0-9a-f]+)/);
  return m[1]!;
}

// ------------------------------------------------------------------------ the daemon

export interface DaemonOptions {
  /** --approval-timeout in seconds (default 30). */
  approvalTimeout?: number;
  /** Unlock at start with --password-stdin (default true); else the vault stays locked. */
  unlock?: boolean;
}

/** `akc daemon` as a child process serving env.socket. */
export class Daemon {
  private constructor(
    readonly env: AkcEnv,
    readonly child: Child,
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  /** The daemon's stderr: its log. */
  get log(): Output {
    return this.child.stderr;
  }

  get running(): boolean {
    return this.child.running;
  }

  /**
   * Starts the daemon. --password-stdin reads stdin to its end, so the password line is
   * written and stdin closed. Resolves once the approver is set and the socket answers.
   */
  static async start(env: AkcEnv, opts: DaemonOptions = {}): Promise<Daemon> {
    const unlock = opts.unlock ?? true;
    const args = [AKC_BIN, 'daemon', '--approval-timeout', String(opts.approvalTimeout ?? 30), ...(unlock ? ['--password-stdin'] : [])];
    const child = Child.spawn(process.execPath, args, env, { input: unlock ? `${PASSWORD}\n` : '' });
    const daemon = new Daemon(env, child);
    await Promise.race([
      daemon.log.waitFor(/no terminal: approve requests with|approval requests will be asked here/),
      child.exited.then((r) => {
        throw new Error(`akc daemon exited early (code ${r.code}):\n${r.stderr}`);
      }),
    ]);
    const status = await rpc(env.socket, 'status');
    if (!status.result) throw new Error(`the daemon's socket did not answer status: ${JSON.stringify(status)}`);
    return daemon;
  }

  /** SIGTERM and wait for a clean exit. */
  async stop(): Promise<RunResult> {
    if (this.running) this.child.proc.kill('SIGTERM');
    return this.child.exited;
  }

  /** kill -9: no cleanup at all. */
  async crash(): Promise<RunResult> {
    if (this.running) this.child.proc.kill('SIGKILL');
    return this.child.exited;
  }
}

// ------------------------------------------------------------------------ agents

export interface AgentEvent {
  ev: 'hello' | 'pending' | 'value' | 'error' | 'done';
  conn: number;
  name?: string;
  approvalId?: string;
  expiresAt?: string;
  value?: string;
  version?: number;
  lease?: { id: string; expiresAt: string };
  code?: string;
  reason?: string | null;
  rpcCode?: number | null;
  message?: string;
  pid?: number;
  exe?: string | null;
}

export interface AgentOptions {
  purpose?: string;
  connections?: number;
  repeat?: number;
  loop?: boolean;
  socket?: string;
  /** The node binary to run the agent with (default: this one). */
  node?: string;
}

/** An agent process (the SDK client) printing one JSON event per line. */
export class Agent extends Child {
  private parsed: AgentEvent[] = [];
  private parsedUpTo = 0;

  /** Every event so far (parsed once, as lines complete). */
  events(): AgentEvent[] {
    const text = this.stdout.text;
    let nl;
    while ((nl = text.indexOf('\n', this.parsedUpTo)) !== -1) {
      this.parsed.push(JSON.parse(text.slice(this.parsedUpTo, nl)) as AgentEvent);
      this.parsedUpTo = nl + 1;
    }
    return this.parsed;
  }

  waitEvent(pred: (e: AgentEvent) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<AgentEvent> {
    return this.stdout.until(
      () => this.events().find(pred),
      `${what} from the agent`,
      timeoutMs,
      () => this.stderr.text.slice(-1000),
    );
  }

  /** The first approval.pending this agent received (optionally for `name`). */
  pending(name?: string): Promise<AgentEvent> {
    return this.waitEvent(
      (e) => e.ev === 'pending' && (name === undefined || e.name === name),
      `approval.pending${name ? ' for ' + name : ''}`,
    );
  }

  /** Waits for the agent to finish and returns every event. */
  async done(timeoutMs = DEFAULT_WAIT_MS): Promise<AgentEvent[]> {
    await this.waitEvent((e) => e.ev === 'done', 'done', timeoutMs);
    const r = await this.exited;
    if (r.code !== 0) throw new Error(`agent exited ${r.code}: ${r.stderr}`);
    return this.events();
  }
}

/** Starts the SDK agent getting `names` from env.socket. */
export function startAgent(env: AkcEnv, names: string[], opts: AgentOptions = {}): Agent {
  const args = [
    AGENT_CLIENT,
    ...(opts.socket ? ['--socket', opts.socket] : []),
    ...(opts.purpose !== undefined ? ['--purpose', opts.purpose] : []),
    ...(opts.connections ? ['--connections', String(opts.connections)] : []),
    ...(opts.repeat ? ['--repeat', String(opts.repeat)] : []),
    ...(opts.loop ? ['--loop'] : []),
    ...names,
  ];
  const proc = spawn(opts.node ?? process.execPath, args, { env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Agent(proc);
}

// ------------------------------------------------------------------------ raw sockets

/** A bare NDJSON connection to the host: write anything, read every message. */
export class RawClient extends Waitable {
  readonly messages: Json[] = [];
  /** Bytes in the longest line the host sent (without its newline). */
  longestLine = 0;
  /** The host half-closed or closed the connection. */
  hostEnded = false;
  closed = false;
  private buffer = '';
  private nextId = 1;

  private constructor(readonly socket: net.Socket) {
    super();
    const decoder = new StringDecoder('utf8');
    socket.on('data', (d: Buffer) => {
      this.buffer += decoder.write(d);
      let nl;
      let added = false;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.longestLine = Math.max(this.longestLine, Buffer.byteLength(line));
        try {
          this.messages.push(JSON.parse(line));
        } catch {
          this.messages.push({ unparsable: line });
        }
        added = true;
      }
      if (added) this.changed();
    });
    socket.on('end', () => {
      this.hostEnded = true;
      this.changed();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.end();
    });
  }

  static connect(socketPath: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ path: socketPath });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  /** Writes raw bytes; resolves when flushed to the kernel (or the socket failed). */
  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  /** Sends a request and waits for the response with its id. */
  async request(method: string, params?: unknown, id: string | number = this.nextId++): Promise<Json> {
    await this.write(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }) + '\n');
    return this.response(id);
  }

  response(id: string | number, timeoutMs = DEFAULT_WAIT_MS): Promise<Json> {
    return this.waitMessage((m) => m.id === id && ('result' in m || 'error' in m), `the response to id ${JSON.stringify(id)}`, timeoutMs);
  }

  waitMessage(pred: (m: Json) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Json> {
    return this.waitUntil(
      () => this.messages.find(pred),
      what,
      timeoutMs,
      () => this.tail(),
    );
  }

  /** Waits until `count` messages arrived. */
  waitCount(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return this.waitUntil(
      () => (this.messages.length >= count ? true : undefined),
      `${count} messages`,
      timeoutMs,
      () => this.tail(),
    ).then(() => undefined);
  }

  /** Waits until the host ended or closed the connection. */
  waitHostEnd(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.hostEnded || this.closed) return resolve();
      const timer = setTimeout(() => reject(new Error('the host did not close the connection')), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.once('end', done);
      this.socket.once('close', done);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private tail(): string {
    return JSON.stringify(this.messages.slice(-5)).slice(0, 2000);
  }
}

/** One request on a fresh connection: proves the host still serves new clients. */
export async function rpc(socketPath: string, method: string, params?: unknown): Promise<Json> {
  const c = await RawClient.connect(socketPath);
  try {
    return await c.request(method, params);
  } finally {
    c.close();
  }
}

// ------------------------------------------------------------------------ audit

export interface AuditCheck {
  result: VerifyResult;
  /** secret.deliver entries by lease id. */
  deliveries: Map<string, AuditEntry>;
  entries: AuditEntry[];
}

/**
 * The audit MAC key, from a scratch copy of the vault: unlocking checkpoints the current
 * head, which must not happen to the log under test (it would sign a rewritten chain).
 */
export async function auditMacKey(env: AkcEnv): Promise<Buffer> {
  const scratch = cloneVault(env);
  const vault = Vault.open({ dataDir: scratch.home, keychain: noKeychain });
  try {
    await vault.unlockWithPassword(Buffer.from(PASSWORD));
    return Buffer.from(vault.auditKey!);
  } finally {
    vault.close();
    fs.rmSync(path.dirname(scratch.home), { recursive: true, force: true });
  }
}

/**
 * Verifies the audit log on disk (the host must be stopped): the whole hash chain and
 * every MAC checkpoint, without writing to the database.
 */
export async function verifyAudit(env: AkcEnv): Promise<AuditCheck> {
  const key = await auditMacKey(env);
  const db = new Database(vaultDb(env));
  try {
    const log = new AuditLog(db);
    const result = log.verify(key);
    const entries = log.query({ limit: 100_000 });
    const deliveries = new Map<string, AuditEntry>();
    for (const e of entries) {
      if (e.event === 'secret.deliver' && typeof e.detail?.lease === 'string') deliveries.set(e.detail.lease, e);
    }
    return { result, deliveries, entries };
  } finally {
    db.close();
    key.fill(0);
  }
}

/** The vault's database file. */
export function vaultDb(env: AkcEnv): string {
  return path.join(env.home, 'vault.db');
}

let scratchRoot: string | undefined;
/** An environment like akcEnv() under one shared temp root (one exit hook for them all). */
function scratchEnv(): AkcEnv {
  scratchRoot ??= tempDir('akc-e2e-scratch-');
  const base = fs.mkdtempSync(path.join(scratchRoot, 'v-'));
  return {
    home: path.join(base, 'home'),
    socket: path.join(base, 'run', 'agent.sock'),
    env: {
      ...process.env,
      AKC_HOME: path.join(base, 'home'),
      AKC_SOCKET: path.join(base, 'run', 'agent.sock'),
      AKC_KEYCHAIN_SERVICE: `agent-keychain-test-${path.basename(base)}`,
      AKC_DANGEROUS_TEST_WEAK_KDF: '1',
    },
  };
}

/** Copies the data dir (vault.db and any WAL files) to a fresh environment. */
export function cloneVault(env: AkcEnv): AkcEnv {
  const copy = scratchEnv();
  fs.mkdirSync(copy.home, { recursive: true, mode: 0o700 });
  for (const f of fs.readdirSync(env.home)) fs.copyFileSync(path.join(env.home, f), path.join(copy.home, f));
  return copy;
}
