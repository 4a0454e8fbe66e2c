/**
 * `akc service install|uninstall|status` (Linux, run as root): the service user, its data
 * dir, socket dir, config and systemd unit. `root` prefixes every path (tests, packaging
 * into a staging tree); the paths written into host.json and the unit carry the prefix,
 * so a test's host really uses them.
 *
 * Modes and owners, and why:
 *   <data dir>   0700 service user   vault.db lives here: nobody else may even list it
 *   <socket dir> 0755 service user   others may reach the socket; only the host can
 *                                    create, rename or remove entries in it
 *   host.json    0644 root           no secret in it; root-owned so the desktop user (or
 *                                    an agent) cannot point the CLI at a fake host
 *   unit file    0644 root
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AkcError } from '../../shared/errors.js';
import {
  DEFAULT_SERVICE_CONFIG,
  DEFAULT_SERVICE_DATA_DIR,
  DEFAULT_SERVICE_SOCKET_DIR,
  SERVICE_UNIT_NAME,
  type ServiceConfig,
} from '../../shared/service-protocol.js';
import { SOCKET_FILE_NAME } from '../../shared/paths.js';
import { parseServiceConfig } from './config.js';
import { systemdUnit } from './unit.js';

export const UNIT_DIR = '/etc/systemd/system';
const NOLOGIN_SHELLS = ['/usr/sbin/nologin', '/sbin/nologin', '/bin/false'];

export interface ServicePaths {
  config: string;
  dataDir: string;
  socketDir: string;
  socket: string;
  unit: string;
}

export function servicePaths(root = '/'): ServicePaths {
  const at = (p: string): string => (root === '/' ? p : path.join(root, p));
  return {
    config: at(DEFAULT_SERVICE_CONFIG),
    dataDir: at(DEFAULT_SERVICE_DATA_DIR),
    socketDir: at(DEFAULT_SERVICE_SOCKET_DIR),
    socket: at(path.posix.join(DEFAULT_SERVICE_SOCKET_DIR, SOCKET_FILE_NAME)),
    unit: at(path.posix.join(UNIT_DIR, SERVICE_UNIT_NAME)),
  };
}

export interface InstallOptions {
  /** The desktop user whose agents the host serves. */
  desktopUser: string;
  serviceUser: string;
  root: string;
  nodePath: string;
  akcPath: string;
}

export interface InstallResult {
  paths: ServicePaths;
  config: ServiceConfig;
  createdUser: boolean;
  /** What was run (systemctl), or what the admin should run. */
  systemd: { ran: string[] } | { toRun: string[] };
}

interface UserIds {
  uid: number;
  gid: number;
}

function requireRoot(what: string): void {
  if (process.platform !== 'linux') {
    throw new AkcError('INVALID_ARGUMENT', `akc service ${what} supports Linux (systemd); on macOS see docs/launchd.md`);
  }
  if (process.getuid?.() !== 0) throw new AkcError('DENIED', `akc service ${what} must run as root`, { hint: 'run it with sudo' });
}

/** uid and gid of a user, or null when there is none. */
export function lookupUser(name: string): UserIds | null {
  if (!/^[a-z_][a-z0-9_-]*\$?$/.test(name) || name.length > 32)
    throw new AkcError('INVALID_ARGUMENT', `invalid user name ${JSON.stringify(name)}`);
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : null;
  } catch {
    return null;
  }
}

function createSystemUser(name: string): UserIds {
  const shell = NOLOGIN_SHELLS.find((s) => fs.existsSync(s)) ?? '/usr/sbin/nologin';
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', shell, name], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (err) {
    throw new AkcError('IO', `failed to create the system user ${name}: ${(err as Error).message}`, { cause: err });
  }
  const ids = lookupUser(name);
  if (!ids) throw new AkcError('IO', `failed to create the system user ${name}: not found after useradd`);
  return ids;
}

/** Creates missing parents 0755 (the process umask is 0077: mkdir's mode alone is not enough). */
function mkdirParents(dir: string): void {
  const parent = path.dirname(dir);
  if (fs.existsSync(parent)) return;
  mkdirParents(parent);
  fs.mkdirSync(parent, { mode: 0o755 });
  fs.chmodSync(parent, 0o755);
}

/** A directory with exactly this owner and mode; refuses a symlink in its place. */
function ensureDir(dir: string, mode: number, owner: UserIds): void {
  mkdirParents(dir);
  if (!fs.existsSync(dir)) fs.mkdirSync(dir, { mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new AkcError('IO', `${dir} exists and is not a directory`);
  fs.chownSync(dir, owner.uid, owner.gid);
  fs.chmodSync(dir, mode);
}

/** Writes a root-owned file atomically (temp + rename) with `mode`. */
function writeRootFile(file: string, text: string, mode: number): void {
  mkdirParents(file);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode, flag: 'wx' });
  fs.chownSync(tmp, 0, 0);
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function systemdRunning(root: string): boolean {
  return root === '/' && fs.existsSync('/run/systemd/system');
}

export function installService(o: InstallOptions): InstallResult {
  requireRoot('install');
  const desktop = lookupUser(o.desktopUser);
  if (!desktop) throw new AkcError('NOT_FOUND', `no user named ${o.desktopUser}`);
  if (desktop.uid === 0) throw new AkcError('INVALID_ARGUMENT', 'the desktop user must not be root');
  let service = lookupUser(o.serviceUser);
  const createdUser = service === null;
  service ??= createSystemUser(o.serviceUser);
  if (service.uid === desktop.uid || service.uid === 0) {
    throw new AkcError('INVALID_ARGUMENT', 'the service user must be a user of its own (not root, not the desktop user)');
  }
  const paths = servicePaths(o.root);
  const rootIds = { uid: 0, gid: 0 };
  ensureDir(path.dirname(paths.dataDir), 0o755, rootIds);
  ensureDir(paths.dataDir, 0o700, service);
  ensureDir(path.dirname(paths.socketDir), 0o755, rootIds);
  ensureDir(paths.socketDir, 0o755, service);
  ensureDir(path.dirname(paths.config), 0o755, rootIds);
  const config: ServiceConfig = {
    mode: 'service',
    serviceUser: o.serviceUser,
    serviceUid: service.uid,
    allowUid: desktop.uid,
    dataDir: paths.dataDir,
    socket: paths.socket,
  };
  writeRootFile(paths.config, JSON.stringify(config, null, 2) + '\n', 0o644);
  writeRootFile(
    paths.unit,
    systemdUnit({
      serviceUser: o.serviceUser,
      nodePath: o.nodePath,
      akcPath: o.akcPath,
      configPath: paths.config,
      dataDir: paths.dataDir,
      socketDir: paths.socketDir,
    }),
    0o644,
  );
  const commands = ['systemctl daemon-reload', `systemctl enable --now ${SERVICE_UNIT_NAME}`];
  if (!systemdRunning(o.root)) return { paths, config, createdUser, systemd: { toRun: commands } };
  for (const c of commands) {
    const [cmd, ...args] = c.split(' ');
    execFileSync(cmd!, args, { stdio: 'inherit' });
  }
  return { paths, config, createdUser, systemd: { ran: commands } };
}

export interface UninstallResult {
  removed: string[];
  /** The data dir (the vault) is kept unless asked: deleting it deletes every secret. */
  keptDataDir: string | null;
  systemd: { ran: string[] } | { toRun: string[] };
}

export function uninstallService(o: { root: string; purge: boolean }): UninstallResult {
  requireRoot('uninstall');
  const paths = servicePaths(o.root);
  const commands = [`systemctl disable --now ${SERVICE_UNIT_NAME}`, 'systemctl daemon-reload'];
  const ran = systemdRunning(o.root);
  if (ran) {
    const [cmd, ...args] = commands[0]!.split(' ');
    execFileSync(cmd!, args, { stdio: 'inherit' });
  }
  const removed: string[] = [];
  for (const f of [paths.unit, paths.config]) {
    if (fs.existsSync(f)) {
      fs.rmSync(f);
      removed.push(f);
    }
  }
  fs.rmSync(paths.socketDir, { recursive: true, force: true });
  if (o.purge) {
    fs.rmSync(paths.dataDir, { recursive: true, force: true });
    removed.push(paths.dataDir);
  }
  if (ran) execFileSync('systemctl', ['daemon-reload'], { stdio: 'inherit' });
  return { removed, keptDataDir: o.purge ? null : paths.dataDir, systemd: ran ? { ran: commands } : { toRun: commands } };
}

export interface StatusResult {
  installed: boolean;
  paths: ServicePaths;
  config: ServiceConfig | null;
  unit: boolean;
  problems: string[];
}

/** What is installed, and anything wrong with owners or modes. Needs no root. */
export function serviceStatus(root: string): StatusResult {
  const paths = servicePaths(root);
  const problems: string[] = [];
  let config: ServiceConfig | null = null;
  try {
    config = parseServiceConfig(fs.readFileSync(paths.config, 'utf8'), paths.config);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problems.push((err as Error).message);
  }
  const check = (p: string, mode: number, uid: number | undefined): void => {
    try {
      const st = fs.lstatSync(p);
      if ((st.mode & 0o777) !== mode) problems.push(`${p} has mode ${(st.mode & 0o777).toString(8)}, expected ${mode.toString(8)}`);
      if (uid !== undefined && st.uid !== uid) problems.push(`${p} is owned by uid ${st.uid}, expected ${uid}`);
    } catch (err) {
      // Reading the data dir's mode needs no access to its content; a missing one is a problem.
      problems.push(`${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  if (config) {
    check(paths.config, 0o644, 0);
    check(config.dataDir, 0o700, config.serviceUid);
    check(path.dirname(config.socket), 0o755, config.serviceUid);
  }
  return { installed: config !== null, paths, config, unit: fs.existsSync(paths.unit), problems };
}
