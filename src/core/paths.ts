/** The process's own paths (DESIGN §3), from the pure resolvers in shared/paths. */
import os from 'node:os';
import { resolveDataDir, resolveKeychainService, resolveSocketPath, type PathContext } from '../shared/paths.js';

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
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): AkcPaths {
  const ctx = processPathContext(env);
  return { dataDir: resolveDataDir(ctx), socket: resolveSocketPath(ctx), keychainService: resolveKeychainService(env) };
}
