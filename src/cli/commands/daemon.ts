/**
 * `akc daemon`: the headless host. Unlocks (keychain, terminal prompt, or
 * --password-stdin), serves the agent socket, and asks approvals on its own terminal.
 * It marks itself non-dumpable first (core/host/harden-process.ts), and every log line
 * passes through sanitizeLine: the log shows program names and paths agents chose.
 */
import { AkcError, isAkcError } from '../../shared/errors.js';
import { flag, option, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import type { Host } from '../../core/host/host.js';
import { startHostRuntime, type HostRuntime } from '../../core/host/runtime.js';
import { NapiKeychain } from '../../core/keychain/napi-keychain.js';
import { streamLogger, type Logger } from '../../core/logger.js';
import { hardenProcess } from '../../core/host/harden-process.js';
import { assertHostPlatform } from '../../core/host/platform.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import { loggingApprover, TtyApprover } from '../daemon/tty-approver.js';
import { createVaultOnFirstRun } from '../daemon/first-run.js';

/** Log lines quote program names, paths and alerts built from them: keep them inert on a terminal. */
function sanitizingLogger(log: Logger): Logger {
  const clean = (m: string): string => sanitizeLine(m, 4096);
  return { info: (m) => log.info(clean(m)), warn: (m) => log.warn(clean(m)), error: (m) => log.error(clean(m)) };
}

export async function daemon(ctx: CommandContext): Promise<number> {
  // Before anything else: on a platform where peers cannot be identified, say so and stop.
  assertHostPlatform();
  if (ctx.paths.service && !flag(ctx.args, 'service')) {
    // Hardened mode: the service is this user's host; a daemon as the user would be a second one.
    throw new AkcError(
      'HOST_RUNNING',
      `the hardened host (${ctx.paths.service.serviceUser}) is this user's host: \`akc daemon\` would be a second one`,
      {
        hint: 'see `akc service status`; a separate daemon needs its own AKC_HOME and AKC_SOCKET',
      },
    );
  }
  // Before the vault key exists in this process: no ptrace, no core dump, no /proc/<pid>/mem.
  const hardened = hardenProcess();
  const timeoutText = option(ctx.args, 'approval-timeout');
  let approvalTimeoutMs: number | undefined;
  if (timeoutText !== undefined) {
    const secs = Number(timeoutText);
    if (!Number.isFinite(secs) || secs < 1 || secs > 3600) throw new UsageError('--approval-timeout takes seconds between 1 and 3600');
    approvalTimeoutMs = Math.round(secs * 1000);
  }
  const log = sanitizingLogger(streamLogger(ctx.io.stderr));
  if (hardened.applied) log.info(`process hardened: ${hardened.method}`);
  else log.warn(`the host's memory is readable by your other processes: ${hardened.method}`);
  // The hardened host (`akc service install`): another user, no terminal, no keychain.
  if (flag(ctx.args, 'service')) return (await import('./service.js')).serviceDaemon(ctx, log, approvalTimeoutMs);
  const approveWithPassword = flag(ctx.args, 'approve-with-password');
  // First run on a terminal: offer to create the vault (the README's one-command start).
  const created = await createVaultOnFirstRun(ctx);
  // The same runtime as the desktop app (core/host/runtime.ts): host, agent socket, proxy.
  let runtime: HostRuntime;
  try {
    runtime = await startHostRuntime({
      dataDir: ctx.paths.dataDir,
      socketPath: ctx.paths.socket,
      keychain: new NapiKeychain(ctx.paths.keychainService),
      logger: log,
      ...(approvalTimeoutMs ? { approvalTimeoutMs } : {}),
    });
  } catch (err) {
    created?.fill(0);
    throw err;
  }
  const host = runtime.host;

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`stopping (${signal})`);
    void runtime.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));

  if (created) {
    // The password the human just chose twice: no third prompt.
    try {
      await host.unlockWithPassword(created, 'daemon start');
    } finally {
      created.fill(0);
    }
  } else {
    await unlockAtStart(ctx, host, log.info, log.warn);
  }
  log.info(`serving ${ctx.paths.socket} (vault ${host.state}, approvals time out after ${host.approvalTimeoutMs / 1000} s)`);
  host.on('state', (s) => log.info(`vault ${s}`));
  host.on('alert', (a) => log.warn(`ALERT ${a.kind}${a.rule ? ` (${a.rule})` : ''}: ${a.message} — see \`akc alerts\``));

  const stdin = process.stdin;
  if (stdin.isTTY && !flag(ctx.args, 'password-stdin')) {
    host.setApprover(new TtyApprover(host, stdin, process.stderr, { requirePassword: approveWithPassword }));
    log.info(
      approveWithPassword
        ? 'approval requests will be asked here; allowing needs the master password'
        : 'approval requests will be asked here',
    );
  } else {
    host.setApprover(
      loggingApprover(
        (l) => log.info(l),
        () => host.clock.now(),
      ),
    );
    log.info('no terminal: approve requests with `akc approvals` / `akc approve ID`');
  }
  // Serve until a signal arrives.
  await new Promise<never>(() => undefined);
  return 0;
}

async function unlockAtStart(ctx: CommandContext, host: Host, info: (m: string) => void, warn: (m: string) => void): Promise<void> {
  if (flag(ctx.args, 'password-stdin')) {
    const password = await ctx.input.password();
    try {
      await host.unlockWithPassword(password, 'daemon start');
    } finally {
      password.fill(0);
    }
    return;
  }
  if (host.keychainUnlock.enabled) {
    try {
      await host.unlockWithKeychain('daemon start');
      info(`unlocked with the ${host.keychainUnlock.description}`);
      return;
    } catch (err) {
      if (!isAkcError(err)) throw err;
      warn(`keychain unlock failed: ${err.message}`);
    }
  }
  if (process.stdin.isTTY) {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const password = await ctx.input.password('Master password to unlock the vault: ');
      try {
        await host.unlockWithPassword(password, 'daemon start');
        return;
      } catch (err) {
        if (!isAkcError(err, 'WRONG_PASSWORD')) throw err;
        warn('wrong master password');
      } finally {
        password.fill(0);
      }
    }
    throw new AkcError('WRONG_PASSWORD', 'wrong master password (3 attempts)');
  }
  warn('the vault stays locked: unlock it with `akc unlock`');
}
