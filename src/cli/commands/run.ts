/**
 * `akc run --env VAR=NAME… [--purpose P] [--no-redact] -- CMD ARGS…`: gets
 * every secret under one approval (`secret.getMany`, naming CMD ARGS… and the executable
 * CMD resolves to, so the human sees what gets the values and the grant covers only that
 * command), starts CMD without a shell with the values only in its environment, passes
 * stdin through, and relays its stdout/stderr through the streaming redactor so no
 * delivered value (in any form core/redact/encodings.ts lists: encoded, escaped, line by
 * line) reaches our output. The exit status is passed through (a signal death is
 * re-raised on ourselves, else 128+n); SIGINT, SIGTERM and SIGHUP are forwarded to the
 * child; the leases end when the child does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { connect, type KeychainClient } from '../../sdk/index.js';
import { MAX_GET_MANY_NAMES, MAX_PURPOSE_LENGTH, type RunCommand, type SecretGetResult } from '../../shared/protocol.js';
import { secretNameProblem } from '../../shared/secrets.js';
import { AkcError } from '../../shared/errors.js';
import { RedactionSet, type RedactStream } from '../../core/redact/redactor.js';
import { flag, option, options, shellWord, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { printError } from '../io.js';
import { readEnvFiles, type EnvFileEntries } from '../env-file.js';

const CLI_CLIENT = { name: 'akc', version: '0.1.0' };
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Marks a request whose output will not be redacted; shown in the approval and the audit log. */
export const NO_REDACT_MARK = '[no-redact]';

export interface EnvBinding {
  variable: string;
  secret: string;
}

/** Parses `--env VAR=NAME` values (VAR a portable variable name, NAME a secret name). */
export function parseEnvBindings(specs: readonly string[]): EnvBinding[] {
  if (specs.length === 0) throw new UsageError('give at least one --env VAR=NAME');
  const seen = new Set<string>();
  const bindings = specs.map((spec) => {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env takes VAR=NAME (got ${JSON.stringify(spec.slice(0, 64))})`);
    const variable = spec.slice(0, eq);
    const secret = spec.slice(eq + 1);
    if (!ENV_NAME.test(variable)) throw new UsageError(`--env: ${JSON.stringify(variable.slice(0, 64))} is not a valid variable name`);
    const problem = secretNameProblem(secret);
    if (problem !== null) throw new UsageError(`--env ${variable}: ${problem}`);
    if (seen.has(variable)) throw new UsageError(`--env ${variable} given twice`);
    seen.add(variable);
    return { variable, secret };
  });
  if (new Set(bindings.map((b) => b.secret)).size > MAX_GET_MANY_NAMES) {
    throw new UsageError(`at most ${MAX_GET_MANY_NAMES} different secrets per run`);
  }
  return bindings;
}

/** The purpose sent to the host; `--no-redact` is appended so the approval and audit show it. */
export function purposeWith(purpose: string | undefined, noRedact: boolean): string | undefined {
  if (!noRedact) return purpose;
  if (purpose === undefined || purpose === '') return NO_REDACT_MARK;
  const room = MAX_PURPOSE_LENGTH - NO_REDACT_MARK.length - 1;
  return `${purpose.slice(0, room)} ${NO_REDACT_MARK}`;
}

/** Connects as the CLI (with the --agent hint if given). */
export function connectCli(ctx: CommandContext): Promise<KeychainClient> {
  const agent = option(ctx.args, 'agent');
  return connect({ socketPath: ctx.paths.socket, client: CLI_CLIENT, ...(agent ? { agent } : {}) });
}

/**
 * Gets the secrets under one approval, printing "waiting for approval" while it waits.
 * `command` (akc run): the command that will hold them, shown in the approval.
 */
export async function fetchSecrets(
  ctx: CommandContext,
  names: string[],
  purpose: string | undefined,
  command?: RunCommand,
): Promise<SecretGetResult[]> {
  const client = await connectCli(ctx);
  try {
    return await client.getSecrets(names, {
      ...(purpose !== undefined ? { purpose } : {}),
      ...(command !== undefined ? { command } : {}),
      onPending: (p) => {
        const secs = Math.max(0, Math.round((Date.parse(p.expiresAt) - Date.now()) / 1000));
        ctx.note(
          `waiting for approval of ${names.length === 1 ? names[0] : `${names.length} secrets (${names.join(', ')})`} in the Agent Keychain app or daemon (request ${p.approvalId}, ${secs} s)…`,
        );
      },
    });
  } finally {
    await client.close();
  }
}

/** Ends the leases (best effort: the host may be gone; they expire anyway). */
export async function revokeLeases(ctx: CommandContext, leases: readonly string[]): Promise<void> {
  if (leases.length === 0) return;
  let client: KeychainClient | null = null;
  try {
    client = await connectCli(ctx);
    for (const id of leases) await client.revokeLease(id);
  } catch (err) {
    ctx.note(`warning: failed to end the leases (${err instanceof Error ? err.message : String(err)}); they expire on their own`);
  } finally {
    await client?.close();
  }
}

export async function run(ctx: CommandContext): Promise<number> {
  const envSpecs = options(ctx.args, 'env');
  const envFiles = options(ctx.args, 'env-file');
  const bindings = envSpecs.length || (options(ctx.args, 'proxy').length === 0 && envFiles.length === 0) ? parseEnvBindings(envSpecs) : [];
  // `--env-file FILE` (env-file.ts): its akc:// references join --env's; other lines go to the child as they are.
  const fromFiles = envFiles.length ? readEnvFiles(envFiles) : null;
  if (fromFiles) mergeEnvFile(bindings, fromFiles);
  if (ctx.args.positionals.length > 0) {
    throw new UsageError(
      'put the command after --: akc run --env VAR=NAME -- CMD ARGS…',
      `akc run … -- ${[...ctx.args.positionals, ...ctx.args.rest].map(shellWord).join(' ')}`,
    );
  }
  const [cmd, ...cmdArgs] = ctx.args.rest;
  if (!ctx.args.restGiven || cmd === undefined || cmd === '') throw new UsageError('no command: akc run --env VAR=NAME -- CMD ARGS…');
  // Before any approval is asked: a typo must not cost the user a prompt (nor a lease).
  const found = findCommand(cmd, process.env.PATH ?? '');
  if (!found.ok) {
    printError(ctx.io, new AkcError('INVALID_ARGUMENT', `failed to start ${cmd}: ${found.reason}`, { hint: found.hint }));
    return found.exitCode;
  }
  // What the human approves: this command line and the executable it resolves to. A grant
  // made from the approval covers this command only. `akc mcp` adds --agent-chosen.
  const command: RunCommand = {
    argv: [cmd, ...cmdArgs],
    ...(found.exe !== null ? { exe: found.exe } : {}),
    ...(flag(ctx.args, 'agent-chosen') ? { agentChosen: true } : {}),
  };
  const noRedact = flag(ctx.args, 'no-redact');
  const names = [...new Set(bindings.map((b) => b.secret))];
  const proxyNames = options(ctx.args, 'proxy');
  if (names.length === 0 && proxyNames.length === 0) {
    throw new UsageError(
      envFiles.length
        ? `nothing to inject: ${envFiles.join(', ')} has no KEY=akc://SECRET_NAME line`
        : 'nothing to inject: give --env VAR=NAME and/or --proxy BINDING',
    );
  }
  const proxyEnv = proxyNames.length ? await proxyEnvironment(ctx, proxyNames) : {};

  const secrets = names.length ? await fetchSecrets(ctx, names, purposeWith(option(ctx.args, 'purpose'), noRedact), command) : [];
  const byName = new Map(secrets.map((s) => [s.name, s]));
  const leases = secrets.map((s) => s.lease.id);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...Object.fromEntries(fromFiles?.literals ?? []), ...proxyEnv };
  for (const b of bindings) childEnv[b.variable] = byName.get(b.secret)!.value;
  let redaction: RedactionSet | null = null;
  if (!noRedact) {
    const values = secrets.map((s) => ({ label: s.name, value: Buffer.from(s.value, 'utf8') }));
    redaction = new RedactionSet(values);
    for (const v of values) v.value.fill(0);
  }
  if (noRedact) ctx.note('warning: --no-redact: the output is not redacted (this is recorded in the audit log)');

  // Our stdout and stderr are one file (a terminal, `2>&1`): the child gets one channel
  // for both, so its lines keep their order (two pipes are read in whatever order).
  const shared = !noRedact && sameFile(ctx.io.stdout, ctx.io.stderr) ? await sharedOutputChannel() : null;
  let child: ChildProcess;
  try {
    child = spawn(cmd, cmdArgs, {
      env: childEnv,
      stdio: noRedact ? 'inherit' : shared ? ['inherit', shared.childEnd, shared.childEnd] : ['inherit', 'pipe', 'pipe'],
    });
  } catch (err) {
    shared?.close();
    redaction?.destroy();
    await revokeLeases(ctx, leases);
    printError(ctx.io, new AkcError('INVALID_ARGUMENT', `failed to start ${cmd}: ${(err as Error).message}`));
    return 126;
  }
  // Our references to the values go now; the child has its own copy of the environment.
  for (const b of bindings) delete childEnv[b.variable];
  secrets.length = 0;
  byName.clear();

  const forwarders = FORWARDED_SIGNALS.map((signal) => {
    const handler = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    process.on(signal, handler);
    return () => process.off(signal, handler);
  });

  const relays: Promise<void>[] = [];
  if (redaction && shared) {
    // The child holds its own copies of the channel; ours would keep the stream open.
    shared.childEnd.destroy();
    relays.push(relay(shared.ourEnd, redaction.stream(), ctx.io.stdout as Writable));
  } else if (redaction) {
    relays.push(relay(child.stdout!, redaction.stream(), ctx.io.stdout as Writable));
    relays.push(relay(child.stderr!, redaction.stream(), ctx.io.stderr as Writable));
  }

  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  await Promise.all(relays);
  for (const off of forwarders) off();
  redaction?.destroy();
  await revokeLeases(ctx, leases);

  if (outcome.error) {
    // As shells do: 127 for a command that is not there, 126 for one that cannot run.
    const notFound = outcome.error.code === 'ENOENT';
    printError(
      ctx.io,
      new AkcError('INVALID_ARGUMENT', `failed to start ${cmd}: ${notFound ? 'command not found' : outcome.error.message}`),
    );
    return notFound ? 127 : 126;
  }
  if (outcome.signal) {
    await drained(ctx.io.stdout as Writable);
    await drained(ctx.io.stderr as Writable);
    return reraise(outcome.signal);
  }
  return outcome.code ?? 1;
}

/** Adds an env file's references to the --env bindings; a variable set both ways is an error. */
function mergeEnvFile(bindings: EnvBinding[], file: EnvFileEntries): void {
  const byFlag = new Set(bindings.map((b) => b.variable));
  for (const variable of file.literals.keys()) {
    if (byFlag.has(variable)) throw new UsageError(`${variable} is set by --env and in --env-file`);
  }
  for (const r of file.references) {
    if (byFlag.has(r.variable)) throw new UsageError(`${r.variable} is set by --env and in --env-file (${r.where})`);
    bindings.push({ variable: r.variable, secret: r.secret });
  }
  if (new Set(bindings.map((b) => b.secret)).size > MAX_GET_MANY_NAMES) {
    throw new UsageError(`at most ${MAX_GET_MANY_NAMES} different secrets per run`);
  }
}

type CommandProblem = { reason: string; hint?: string; exitCode: number };

/**
 * Whether CMD can be started, and the executable it starts: a path must name an executable
 * file; a bare name must be found as one on PATH (as execvp looks it up). On success `exe`
 * is that file with symlinks resolved (what the approval shows and a grant is bound to),
 * null where the lookup is left to spawn (Windows); else what to say and the shell's exit
 * code (127 not found, 126 not executable).
 */
export function findCommand(cmd: string, searchPath: string): { ok: true; exe: string | null } | ({ ok: false } & CommandProblem) {
  const found = lookUp(cmd, searchPath);
  if (found === null) return { ok: true, exe: null };
  if (typeof found !== 'string') return { ok: false, ...found };
  try {
    return { ok: true, exe: fs.realpathSync(found) };
  } catch {
    return { ok: true, exe: path.resolve(found) };
  }
}

/** The file execvp would run, a problem, or null (not looked up: Windows). */
function lookUp(cmd: string, searchPath: string): string | CommandProblem | null {
  if (process.platform === 'win32') return null; // PATHEXT lookup: left to spawn
  const executable = (file: string): 'ok' | 'missing' | 'not-executable' => {
    try {
      if (!fs.statSync(file).isFile()) return 'not-executable';
      fs.accessSync(file, fs.constants.X_OK);
      return 'ok';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR'
        ? 'missing'
        : 'not-executable';
    }
  };
  if (cmd.includes('/')) {
    const state = executable(cmd);
    if (state === 'ok') return cmd;
    return state === 'missing' ? { reason: 'no such file', exitCode: 127 } : { reason: 'not an executable file', exitCode: 126 };
  }
  let sawNonExecutable = false;
  for (const dir of searchPath.split(path.delimiter)) {
    const file = path.join(dir || '.', cmd);
    const state = executable(file);
    if (state === 'ok') return file;
    if (state === 'not-executable') sawNonExecutable = true;
  }
  return sawNonExecutable
    ? { reason: 'not an executable file', exitCode: 126 }
    : { reason: 'command not found', hint: 'check the name, or give its path (PATH is searched as a shell does)', exitCode: 127 };
}

/** Whether two of our output streams are the same open file (dev and inode). */
function sameFile(a: NodeJS.WritableStream, b: NodeJS.WritableStream): boolean {
  const fdA = (a as { fd?: unknown }).fd;
  const fdB = (b as { fd?: unknown }).fd;
  if (typeof fdA !== 'number' || typeof fdB !== 'number') return false;
  try {
    const [x, y] = [fs.fstatSync(fdA), fs.fstatSync(fdB)];
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

const CHANNEL_TOKEN_BYTES = 16;

/**
 * One connected Unix socket pair (Node has no socketpair/pipe): the child gets one end as
 * both stdout and stderr, we read the other. The listening path lives in a fresh 0700
 * directory and is removed once connected; the accepted peer must echo a random token our
 * end wrote, so a same-user process that raced to connect is never taken for the child.
 * Null (two pipes instead) when anything fails.
 */
async function sharedOutputChannel(): Promise<{ childEnd: net.Socket; ourEnd: net.Socket; close(): void } | null> {
  if (process.platform === 'win32') return null;
  let dir: string | null = null;
  let server: net.Server | null = null;
  let childEnd: net.Socket | null = null;
  let ourEnd: net.Socket | null = null;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-run-'));
    const socketPath = path.join(dir, 'out.sock');
    server = net.createServer();
    const srv = server;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(socketPath, resolve);
    });
    const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve));
    const token = randomBytes(CHANNEL_TOKEN_BYTES);
    childEnd = net.connect(socketPath);
    const connecting = childEnd;
    await new Promise<void>((resolve, reject) => {
      connecting.once('connect', resolve);
      connecting.once('error', reject);
    });
    ourEnd = await accepted;
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
    dir = null;
    connecting.write(token);
    const got = await readExactly(ourEnd, CHANNEL_TOKEN_BYTES);
    if (!timingSafeEqual(got, token)) throw new Error('unexpected peer');
    const a = childEnd;
    const b = ourEnd;
    return {
      childEnd: a,
      ourEnd: b,
      close: () => {
        a.destroy();
        b.destroy();
      },
    };
  } catch {
    childEnd?.destroy();
    ourEnd?.destroy();
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    return null;
  }
}

function readExactly(socket: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), 2000);
    const onReadable = (): void => {
      const chunk = socket.read(n) as Buffer | null;
      if (chunk === null) return;
      clearTimeout(timer);
      socket.off('readable', onReadable);
      resolve(chunk);
    };
    socket.on('readable', onReadable);
  });
}

/** Copies `src` through the redactor to `dest` (without ending dest); resolves at the end. */
function relay(src: Readable, redactor: RedactStream, dest: Writable): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      dest.off('error', onDestError);
      resolve();
    };
    // Our output went away (EPIPE): stop reading, so the child sees a closed pipe too.
    const onDestError = (): void => {
      src.destroy();
      redactor.destroy();
      finish();
    };
    dest.on('error', onDestError);
    // A source that closes without an 'end' (failed spawn, error) still ends the redactor.
    const endRedactor = (): void => {
      if (!redactor.writableEnded) redactor.end();
    };
    src.on('error', endRedactor);
    src.on('close', endRedactor);
    redactor.on('error', finish);
    redactor.on('end', finish);
    redactor.on('close', finish);
    src.pipe(redactor).pipe(dest, { end: false });
  });
}

function drained(stream: Writable): Promise<void> {
  if (!stream.writableLength || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('drain', resolve);
    stream.once('error', () => resolve());
  });
}

/**
 * Dies of the child's signal (so our parent sees the same thing), or, for a signal that
 * does not kill us by default (SIGPIPE is ignored by Node), exits 128+n.
 */
async function reraise(signal: NodeJS.Signals): Promise<number> {
  const n = os.constants.signals[signal] ?? 0;
  try {
    process.kill(process.pid, signal);
  } catch {
    return 128 + n;
  }
  // Still alive (the signal is ignored or handled): give it a moment, then exit 128+n.
  await new Promise((r) => setTimeout(r, 200));
  return 128 + n;
}

/**
 * `--proxy BINDING`: the child reaches the upstream through the brokering proxy, so it
 * gets the binding's base URL and a placeholder key, never the credential. Binding names
 * and the proxy port are metadata: no unlock is needed.
 */
async function proxyEnvironment(ctx: CommandContext, names: string[]): Promise<Record<string, string>> {
  const [{ openVault }, { BindingStore }, { configuredProxyPort, proxyUrl }, { proxyEnvFor }] = await Promise.all([
    import('../context.js'),
    import('../../core/proxy/bindings.js'),
    import('../../core/proxy/config.js'),
    import('../../core/proxy/env.js'),
  ]);
  const vault = await openVault(ctx);
  try {
    const port = configuredProxyPort(vault.db);
    if (port === null) {
      throw new AkcError('HOST_NOT_RUNNING', 'the brokering proxy has no port yet', {
        hint: 'start the app or `akc daemon` once; it picks the proxy port',
      });
    }
    const store = new BindingStore(vault.db);
    const env: Record<string, string> = {};
    for (const name of names) {
      const binding = store.get(name);
      if (!binding) throw new AkcError('NOT_FOUND', `no proxy binding named ${name}`, { hint: 'see `akc proxy list`' });
      Object.assign(env, proxyEnvFor(binding, proxyUrl(port)));
    }
    return env;
  } finally {
    vault.close();
  }
}
