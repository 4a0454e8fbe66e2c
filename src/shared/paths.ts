/**
 * Default locations as pure functions of the platform facts, so the hosts, the
 * CLI and the SDK agree on them and tests can try every platform on any machine.
 * Callers pass in process.platform, process.env, os.homedir() and the user name.
 */

export interface PathContext {
  /** process.platform: 'linux', 'darwin', 'win32', ... (others are treated like Linux). */
  platform: string;
  env: Readonly<Record<string, string | undefined>>;
  homedir: string;
  username: string;
  /** The hardened host's socket, when a service config exists (see service-protocol.ts). */
  serviceSocket?: string | undefined;
}

export const APP_DIR_NAME = 'Agent Keychain';
export const XDG_DIR_NAME = 'agent-keychain';
export const SOCKET_FILE_NAME = 'agent.sock';
export const DEFAULT_KEYCHAIN_SERVICE = 'agent-keychain';

/** The data dir (vault.db, config): AKC_HOME, else the platform default. */
export function resolveDataDir(ctx: PathContext): string {
  const override = envValue(ctx.env, 'AKC_HOME');
  if (override !== undefined) return override;
  switch (ctx.platform) {
    case 'win32': {
      const appData = envValue(ctx.env, 'APPDATA') ?? winJoin(ctx.homedir, 'AppData', 'Roaming');
      return winJoin(appData, APP_DIR_NAME);
    }
    case 'darwin':
      return posixJoin(ctx.homedir, 'Library', 'Application Support', APP_DIR_NAME);
    default: {
      const dataHome = xdgDir(ctx.env, 'XDG_DATA_HOME') ?? posixJoin(ctx.homedir, '.local', 'share');
      return posixJoin(dataHome, XDG_DIR_NAME);
    }
  }
}

/**
 * The agent socket: AKC_SOCKET, else the platform default. On Linux, XDG_RUNTIME_DIR wins
 * over the data dir even when AKC_HOME is set, so two vaults under different AKC_HOMEs
 * need distinct AKC_SOCKETs too. An installed hardened host (`serviceSocket`) comes next.
 */
export function resolveSocketPath(ctx: PathContext): string {
  const override = envValue(ctx.env, 'AKC_SOCKET');
  if (override !== undefined) return override;
  if (ctx.serviceSocket !== undefined) return ctx.serviceSocket;
  switch (ctx.platform) {
    case 'win32':
      return `\\\\.\\pipe\\agent-keychain-${pipeSafe(ctx.username)}`;
    case 'darwin':
      return posixJoin(resolveDataDir(ctx), SOCKET_FILE_NAME);
    default: {
      const runtime = xdgDir(ctx.env, 'XDG_RUNTIME_DIR');
      if (runtime !== undefined) return posixJoin(runtime, XDG_DIR_NAME, SOCKET_FILE_NAME);
      return posixJoin(resolveDataDir(ctx), 'run', SOCKET_FILE_NAME);
    }
  }
}

/** The hardened host's config (service-protocol.ts); no zod here, the SDK reads it too. */
export const DEFAULT_SERVICE_CONFIG = '/etc/agent-keychain/host.json';

/** The service config file: AKC_SERVICE_CONFIG (tests, packaging), else /etc/agent-keychain/host.json. */
export function resolveServiceConfigPath(env: PathContext['env']): string {
  return envValue(env, 'AKC_SERVICE_CONFIG') ?? DEFAULT_SERVICE_CONFIG;
}

/** The OS keychain service name: AKC_KEYCHAIN_SERVICE, else "agent-keychain". */
export function resolveKeychainService(env: PathContext['env']): string {
  return envValue(env, 'AKC_KEYCHAIN_SERVICE') ?? DEFAULT_KEYCHAIN_SERVICE;
}

/** An empty variable counts as unset (as the XDG spec says, and as shells make easy). */
function envValue(env: PathContext['env'], name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** XDG base dirs must be absolute; the spec says to ignore relative ones. */
function xdgDir(env: PathContext['env'], name: string): string | undefined {
  const value = envValue(env, name);
  return value !== undefined && value.startsWith('/') ? value : undefined;
}

function posixJoin(base: string, ...parts: string[]): string {
  return [trimEnd(base, '/'), ...parts].join('/');
}

function winJoin(base: string, ...parts: string[]): string {
  return [trimEnd(base, '\\/'), ...parts].join('\\');
}

/** Drops trailing separators, keeping a lone root ("/" stays "", joined back to "/x"). */
function trimEnd(path: string, separators: string): string {
  let end = path.length;
  while (end > 0 && separators.includes(path.charAt(end - 1))) end--;
  return path.slice(0, end);
}

/** A backslash would start a new path segment in a pipe name (DOMAIN\user). */
function pipeSafe(username: string): string {
  return username.replace(/[\\/]/g, '_');
}
