/** Vault commands: init, passwd, status, keychain enable/disable. */
import fs from 'node:fs';
import { AkcError, isAkcError } from '../../shared/errors.js';
import { flag } from '../args.js';
import { openVault, type CommandContext } from '../context.js';
import { writeJson } from '../io.js';
import { platformKeychainName } from '../../core/keychain/napi-keychain.js';
import { keychainExposure, keychainUnlockByDefault } from '../../shared/keychain-default.js';
import { vaultPath } from '../../core/store/database.js';
import { socketIsLive } from '../../core/server/socket-file.js';
import { configuredProxyPort, proxySocketPath, proxyUrl } from '../../core/proxy/config.js';
import { lifecycleReport, statusLines } from './secret-policy.js';
import { vaultStatusView } from '../../core/views/status.js';
import type { ServiceConfig } from '../../shared/service-protocol.js';
import type { LifecycleSnapshot } from '../../core/lifecycle/status.js';
import { kdfReport, kdfStatusText, weakKdfWarning, type KdfReport } from '../kdf-report.js';

export async function init(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).init(ctx);
  if (flag(ctx.args, 'keychain') && flag(ctx.args, 'no-keychain')) {
    throw new AkcError('INVALID_ARGUMENT', '--keychain and --no-keychain contradict each other');
  }
  const keychain = flag(ctx.args, 'keychain') || (!flag(ctx.args, 'no-keychain') && keychainUnlockByDefault(process.platform));
  const vault = await openVault(ctx, { mustExist: false });
  try {
    if (vault.state !== 'uninitialized') {
      throw new AkcError('ALREADY_INITIALIZED', `a vault already exists in ${ctx.paths.dataDir}`, {
        hint: 'use `akc passwd` to change its password, or set AKC_HOME to create another vault elsewhere',
      });
    }
    const password = await ctx.input.newPassword('Choose a master password: ');
    try {
      await vault.init(password, { keychain });
    } catch (err) {
      throw headlessKeychainHint(err, 'init');
    } finally {
      password.fill(0);
    }
    const kdfWarning = weakKdfWarning(vault.kdfParams);
    if (kdfWarning) ctx.io.stderr.write(kdfWarning);
    if (ctx.json) {
      writeJson(ctx.io, { vault: 'created', id: vault.id, dataDir: ctx.paths.dataDir, keychainUnlock: keychain });
      return;
    }
    ctx.io.stdout.write(`Created a vault in ${ctx.paths.dataDir}\n`);
    ctx.io.stdout.write(
      keychain
        ? `Keychain unlock is on. ${keychainExposure(process.platform, platformKeychainName())}\n` +
            (process.platform === 'darwin' ? '' : 'Turn it off with `akc keychain disable` to require the password every time.\n')
        : 'Keychain unlock is off: the master password is needed to unlock the host.\n' +
            (process.platform === 'darwin'
              ? ''
              : 'Keychain unlock (`akc keychain enable`) would let any program running as you read the unlock key; see SECURITY.md.\n'),
    );
  } finally {
    vault.close();
  }
}

/**
 * Linux without a reachable Secret Service (SSH, containers, servers): keychain unlock
 * cannot work there, and the way on is either without it or with a keyring started for
 * this session. Other errors pass unchanged.
 */
function headlessKeychainHint(err: unknown, how: 'init' | 'enable'): unknown {
  if (process.platform !== 'linux' || !isAkcError(err, 'KEYCHAIN_UNAVAILABLE')) return err;
  const without = how === 'init' ? 'keep keychain unlock off: `akc init --no-keychain` (the default on Linux)' : 'keep keychain unlock off';
  return new AkcError('KEYCHAIN_UNAVAILABLE', err.message, {
    cause: err,
    hint:
      `no Secret Service in this session (headless or SSH?): ${without}, or start one first: ` +
      '`dbus-run-session -- bash`, then in that shell `printf %s PASSWORD | gnome-keyring-daemon --unlock --components=secrets` ' +
      '(apt-get install dbus gnome-keyring; README "Keychain on a headless Linux box")',
  });
}

export async function passwd(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).passwd(ctx);
  const vault = await openVault(ctx);
  try {
    const oldPassword = await ctx.input.password('Current master password: ');
    let newPassword: Buffer | null = null;
    try {
      newPassword = flag(ctx.args, 'password-stdin') ? await secondStdinLine(ctx) : await ctx.input.newPassword();
      await vault.changePassword(oldPassword, newPassword);
    } finally {
      oldPassword.fill(0);
      newPassword?.fill(0);
    }
    ctx.io.stdout.write('Master password changed.\n');
  } finally {
    vault.close();
  }
}

/** For `passwd --password-stdin`: the new password is line 2 (no --value-stdin needed). */
function secondStdinLine(ctx: CommandContext): Promise<Buffer> {
  return ctx.input.secondStdinLine('new password');
}

export async function keychain(ctx: CommandContext, enabled: boolean): Promise<void> {
  if (ctx.paths.service) {
    throw new AkcError('INVALID_ARGUMENT', 'the hardened host has no OS keychain: it is unlocked with the master password', {
      hint: 'after each start of the host, run `akc unlock`',
    });
  }
  const vault = await openVault(ctx);
  try {
    const password = await ctx.input.password();
    try {
      await vault.setKeychainUnlock(enabled, password);
    } catch (err) {
      throw enabled ? headlessKeychainHint(err, 'enable') : err;
    } finally {
      password.fill(0);
    }
    ctx.io.stdout.write(
      enabled
        ? `Keychain unlock is on (${vault.keychain.description}). ${keychainExposure(process.platform, vault.keychain.description)}\n`
        : 'Keychain unlock is off.\n',
    );
  } finally {
    vault.close();
  }
}

export interface StatusReport {
  /** `unknown`: hardened mode with the host not running (only the host can read its vault). */
  vault: 'absent' | 'locked' | 'unlocked' | 'unknown';
  /** Hardened mode (`akc service install`): the host runs as `user` (uid) and owns the data dir. */
  mode?: 'service';
  service?: { user: string; uid: number };
  dataDir: string;
  vaultFile: string | null;
  socket: string;
  host: { running: boolean; vault?: 'locked' | 'unlocked'; pendingApprovals?: number; version?: string };
  keychainUnlock: boolean | null;
  /** The password slot's Argon2id parameters; absent when the vault is absent or belongs to the hardened host. */
  kdf?: KdfReport;
  secrets: number | null;
  /** The brokering proxy: loopback URL (null until a host first chose its port) and Unix socket. */
  proxy: { url: string | null; socket: string };
  /** Secret lifecycle (src/core/lifecycle): expired / expiring within 7 days, failed rotations, open alerts. */
  expiring?: { name: string; expiresAt: string; expired: boolean }[];
  rotationFailures?: { id: number; secret: string; at: string; message: string }[];
  alerts?: { id: number; kind: string; at: string; secret: string | null; rule: string | null; message: string }[];
}

export async function status(ctx: CommandContext): Promise<void> {
  if (ctx.paths.service) return printStatus(ctx, ...(await serviceStatus(ctx, ctx.paths.service)));
  const file = vaultPath(ctx.paths.dataDir);
  const exists = fs.existsSync(file);
  const report: StatusReport = {
    vault: 'absent',
    dataDir: ctx.paths.dataDir,
    vaultFile: exists ? file : null,
    socket: ctx.paths.socket,
    host: await hostStatus(ctx.paths.socket),
    keychainUnlock: null,
    secrets: null,
    proxy: { url: null, socket: proxySocketPath(ctx.paths.socket) },
  };
  let lifecycle: LifecycleSnapshot | null = null;
  if (exists) {
    const vault = await openVault(ctx, { mustExist: false });
    try {
      if (vault.state !== 'uninitialized') {
        report.vault = report.host.vault ?? 'locked';
        report.keychainUnlock = vault.keychainUnlockEnabled;
        report.kdf = kdfReport(vault.kdfParams);
        const view = vaultStatusView(vault.db, Date.now());
        report.secrets = view.secrets;
        // The port is remembered in the vault, but nothing listens on it without a host.
        const port = report.host.running ? configuredProxyPort(vault.db) : null;
        report.proxy.url = port ? proxyUrl(port) : null;
        lifecycle = view.lifecycle;
      }
    } finally {
      vault.close();
    }
  }
  printStatus(ctx, report, lifecycle);
}

/**
 * Hardened mode: the host reports its vault with the same view (core/views/status.ts);
 * the desktop user cannot even see whether vault.db exists. No brokering proxy there yet.
 */
async function serviceStatus(ctx: CommandContext, service: ServiceConfig): Promise<[StatusReport, LifecycleSnapshot | null]> {
  const report: StatusReport = {
    vault: 'unknown',
    mode: 'service',
    service: { user: service.serviceUser, uid: service.serviceUid },
    dataDir: service.dataDir,
    vaultFile: null,
    socket: ctx.paths.socket,
    host: { running: false },
    keychainUnlock: null,
    secrets: null,
    proxy: { url: null, socket: proxySocketPath(ctx.paths.socket) },
  };
  if (!(await socketIsLive(ctx.paths.socket))) return [report, null];
  const r = await (await import('../service-client.js')).serviceCall(ctx, 'vault.status', {}, 'read the status');
  report.vault = r.vault;
  report.host = {
    running: true,
    ...(r.vault !== 'absent' ? { vault: r.vault } : {}),
    pendingApprovals: r.pendingApprovals,
    version: r.version,
  };
  report.vaultFile = r.vault === 'absent' ? null : vaultPath(service.dataDir);
  report.keychainUnlock = r.vault === 'absent' ? null : false;
  report.secrets = r.secrets;
  return [report, r.lifecycle as unknown as LifecycleSnapshot | null];
}

function printStatus(ctx: CommandContext, report: StatusReport, lifecycle: LifecycleSnapshot | null): void {
  if (lifecycle) Object.assign(report, lifecycleReport(lifecycle));
  if (ctx.json) return writeJson(ctx.io, report);
  const hardened = report.service ? `hardened mode: the host runs as ${report.service.user}` : null;
  const lines = [
    `vault      ${report.vault}${report.vault === 'absent' ? ' (run `akc init`)' : ''}${
      report.vault === 'unknown' ? ' (the hardened host is not running: `sudo systemctl start agent-keychain`)' : ''
    }`,
    ...(hardened ? [`mode       ${hardened} (uid ${report.service!.uid})`] : []),
    `data dir   ${report.dataDir}`,
    `socket     ${report.socket}`,
    `host       ${report.host.running ? `running${report.host.pendingApprovals ? ` · ${report.host.pendingApprovals} pending approval(s)` : ''}` : 'not running'}`,
  ];
  if (report.keychainUnlock !== null) lines.push(`keychain   ${report.keychainUnlock ? 'unlock on' : 'unlock off (password only)'}`);
  if (report.kdf) lines.push(`kdf        ${kdfStatusText(report.kdf)}`);
  if (report.secrets !== null) lines.push(`secrets    ${report.secrets}`);
  lines.push(
    hardened
      ? 'proxy      not started by the hardened host (not yet supported)'
      : report.host.running
        ? `proxy      ${report.proxy.url ? `${report.proxy.url} · ` : ''}${report.proxy.socket}`
        : 'proxy      not running (it starts with the host)',
  );
  if (lifecycle) lines.push(...statusLines(lifecycle));
  ctx.io.stdout.write(lines.join('\n') + '\n');
}

/** Asks a running host for its state; a socket nobody answers means no host. */
async function hostStatus(socketPath: string): Promise<StatusReport['host']> {
  if (!(await socketIsLive(socketPath))) return { running: false };
  try {
    const { connect } = await import('../../sdk/index.js');
    const client = await connect({ socketPath, client: { name: 'akc', version: '0.1.0' }, timeoutMs: 2000 });
    try {
      const st = await client.status();
      return { running: true, vault: st.vault, pendingApprovals: st.pendingApprovals, version: st.version };
    } finally {
      await client.close();
    }
  } catch {
    return { running: true };
  }
}
