/** The process's own paths, from the pure resolvers in shared/paths. */
import os from 'node:os';
import { resolveDataDir, resolveKeychainService, resolveSocketPath, type PathContext } from '../shared/paths.js';
import type { ServiceConfig } from '../shared/service-protocol.js';
import { readServiceConfig } from './service/config.js';

export function processPathContext(env: NodeJS.ProcessEnv = process.env): PathContext {
  let username = env.USER ?? env.USERNAME ?? '';
  if (!username) {
    try {
      username = os.userInfo().username;
    } catch {
      username = 'user';
    }
  }
  return { platform: process.platform, env, homedir: os.homedir(), username };
}

export interface AkcPaths {
  dataDir: string;
  socket: string;
  keychainService: string;
  /**
   * The installed hardened host (`akc service install`), when the default socket is its
   * socket (AKC_SOCKET unset, or set to that very socket) and this process is not the service
   * user: admin commands then go through it.
   */
  service?: ServiceConfig | null;
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): AkcPaths {
  const ctx = processPathContext(env);
  const config = readServiceConfig(env);
  const socket = resolveSocketPath({ ...ctx, serviceSocket: config?.socket });
  // The service user itself (root's `sudo -u akc-host akc …`) owns the vault: offline admin as usual.
  const service = config && socket === config.socket && process.getuid?.() !== config.serviceUid ? config : null;
  return { dataDir: resolveDataDir(ctx), socket, keychainService: resolveKeychainService(env), service };
}
