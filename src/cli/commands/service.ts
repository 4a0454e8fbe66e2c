/** `akc service install|uninstall|status` and `akc daemon --service` (the hardened host). */
import fs from 'node:fs';
import path from 'node:path';
import { AkcError } from '../../shared/errors.js';
import { DEFAULT_SERVICE_USER } from '../../shared/service-protocol.js';
import { flag, option, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../io.js';
import { installService, serviceStatus, uninstallService } from '../../core/service/install.js';
import { parseServiceConfig, serviceConfigPath } from '../../core/service/config.js';
import { startServiceHost } from '../../core/service/service-host.js';
import { socketIsLive } from '../../core/server/socket-file.js';
import type { Logger } from '../../core/logger.js';
import { loggingApprover } from '../daemon/tty-approver.js';

function rootOption(ctx: CommandContext): string {
  const root = option(ctx.args, 'root') ?? '/';
  if (!path.isAbsolute(root)) throw new UsageError('--root takes an absolute path');
  return path.resolve(root);
}

/** The akc entry point this process runs (bin/akc.js), for the unit's ExecStart. */
function akcEntryPoint(): string {
  const entry = process.argv[1];
  if (!entry) throw new AkcError('INTERNAL', 'failed to find the akc entry point');
  return fs.realpathSync(entry);
}

export async function install(ctx: CommandContext): Promise<void> {
  if (ctx.args.positionals.length) throw new UsageError(`unexpected argument ${JSON.stringify(ctx.args.positionals[0])}`);
  const desktopUser = option(ctx.args, 'user');
  if (!desktopUser) throw new UsageError('missing --user DESKTOP_USER (whose agents the host serves)');
  const r = installService({
    desktopUser,
    serviceUser: option(ctx.args, 'service-user') ?? DEFAULT_SERVICE_USER,
    root: rootOption(ctx),
    nodePath: fs.realpathSync(process.execPath),
    akcPath: akcEntryPoint(),
  });
  if (ctx.json) return writeJson(ctx.io, r);
  const lines = [
    `${r.createdUser ? 'Created the system user' : 'Using the system user'} ${r.config.serviceUser} (uid ${r.config.serviceUid}).`,
    `data dir   ${r.paths.dataDir} (0700, ${r.config.serviceUser})`,
    `socket     ${r.paths.socket} (only uid ${r.config.allowUid} is served)`,
    `config     ${r.paths.config}`,
    `unit       ${r.paths.unit}`,
  ];
  if ('ran' in r.systemd) lines.push('The host is enabled and running.');
  else lines.push('systemd is not running here; start the host with:', ...r.systemd.toRun.map((c) => `  ${c}`));
  lines.push(`Next, as ${desktopUser}: \`akc init\`, then \`akc secret set NAME\`; after a restart, \`akc unlock\`.`);
  ctx.io.stdout.write(lines.join('\n') + '\n');
}

export async function uninstall(ctx: CommandContext): Promise<void> {
  const r = uninstallService({ root: rootOption(ctx), purge: flag(ctx.args, 'purge') });
  if (ctx.json) return writeJson(ctx.io, r);
  ctx.io.stdout.write(
    [
      ...r.removed.map((f) => `removed ${f}`),
      ...(r.keptDataDir ? [`kept the vault in ${r.keptDataDir} (delete it with --purge)`] : []),
      ...('toRun' in r.systemd ? ['systemd is not running here; also run:', ...r.systemd.toRun.map((c) => `  ${c}`)] : []),
    ].join('\n') + '\n',
  );
}

export async function status(ctx: CommandContext): Promise<number> {
  const r = serviceStatus(rootOption(ctx));
  const running = r.config ? await socketIsLive(r.config.socket) : false;
  if (ctx.json) {
    writeJson(ctx.io, { ...r, running });
    return r.problems.length ? 1 : 0;
  }
  if (!r.installed) {
    ctx.io.stdout.write('The hardened host is not installed (see `akc service install --help`).\n');
    return r.problems.length ? 1 : 0;
  }
  const c = r.config!;
  ctx.io.stdout.write(
    [
      `service user  ${c.serviceUser} (uid ${c.serviceUid}), serving uid ${c.allowUid}`,
      `data dir      ${c.dataDir}`,
      `socket        ${c.socket} (${running ? 'host running' : 'host not running'})`,
      `unit          ${r.unit ? r.paths.unit : 'missing'}`,
      ...r.problems.map((p) => `problem       ${p}`),
    ].join('\n') + '\n',
  );
  return r.problems.length ? 1 : 0;
}

/** `akc daemon --service [--config FILE]`: runs until a signal. */
export async function serviceDaemon(ctx: CommandContext, log: Logger, approvalTimeoutMs: number | undefined): Promise<number> {
  const file = option(ctx.args, 'config') ?? serviceConfigPath();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AkcError('IO', `failed to read the service config ${file}: ${(err as Error).message}`, {
      hint: 'install it with `sudo akc service install`',
    });
  }
  const config = parseServiceConfig(text, file);
  const running = await startServiceHost({
    config,
    logger: log,
    ...(approvalTimeoutMs ? { approvalTimeoutMs } : {}),
    approver: (host) =>
      loggingApprover(
        (l) => log.info(l),
        () => host.clock.now(),
      ),
    onHost: (host) => {
      host.on('state', (s) => log.info(`vault ${s}`));
      host.on('alert', (a) => log.warn(`ALERT ${a.kind}${a.rule ? ` (${a.rule})` : ''}: ${a.message}`));
    },
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info(`stopping (${signal})`);
    void running.close().finally(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', () => stop('SIGHUP'));
  log.info('approvals: `akc approvals` / `akc approve ID` as the desktop user, or the desktop app');
  await new Promise<never>(() => undefined);
  return 0;
}
