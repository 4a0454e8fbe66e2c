/**
 * Agent Keychain SDK: get secrets from the local keychain over its socket.
 * Zero runtime dependencies beyond Node.
 *
 *   import { connect } from 'agent-keychain/sdk';
 *   const kc = await connect({ agent: 'my-agent' });
 *   const { value } = await kc.getSecret('GITHUB_TOKEN', { purpose: 'open a PR' });
 *   await kc.close();
 */
import os from 'node:os';
import { resolveSocketPath } from '../shared/paths.js';
import { PROTOCOL_VERSION } from '../shared/protocol.js';
import type { ClientInfo, HelloParams } from '../shared/protocol.js';
import { KeychainClient, request } from './client.js';
import { openConnection } from './connection.js';
import { serviceSocketFromConfig } from './service-socket.js';
import { KeychainError } from './errors.js';

export { KeychainClient } from './client.js';
export type { GetSecretOptions, GetSecretsOptions, RequestOptions } from './client.js';
export type { PendingInfo } from './connection.js';
export { KeychainError, isKeychainError } from './errors.js';
export { AkcError, isAkcError } from '../shared/errors.js';
export type { ErrorCode } from '../shared/errors.js';
export { PROTOCOL_VERSION } from '../shared/protocol.js';
export type {
  ClientInfo,
  HelloResult,
  LeaseInfo,
  LeaseRevokeResult,
  RunCommand,
  SecretGetManyResult,
  SecretGetResult,
  SecretSummary,
  StatusResult,
  VaultState,
} from '../shared/protocol.js';

export const SDK_CLIENT: Readonly<ClientInfo> = Object.freeze({ name: 'agent-keychain-sdk', version: '0.1.0' });
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

export interface ConnectOptions {
  /** Defaults to AKC_SOCKET, else the platform default (see defaultSocketPath). */
  socketPath?: string;
  /** A registered agent name to hint; the host only accepts it if the process matches. */
  agent?: string;
  /** Reported to the host in hello. */
  client?: ClientInfo;
  /** Limit for connecting plus hello, in ms (not for later requests, which may wait for a human). */
  timeoutMs?: number;
}

/** Where the host listens by default on this machine. */
export function defaultSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return resolveSocketPath({
    platform: process.platform,
    env,
    homedir: os.homedir(),
    username: currentUsername(env),
    serviceSocket: serviceSocketFromConfig(env),
  });
}

/** Connects and says hello; the hello result is `client.session`. */
export async function connect(opts: ConnectOptions = {}): Promise<KeychainClient> {
  const path = opts.socketPath ?? defaultSocketPath();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new KeychainError('IO', `failed to connect to agent keychain at ${path}: no answer within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const helloParams: HelloParams = { client: opts.client ?? SDK_CLIENT };
  if (opts.agent !== undefined) helloParams.agent = opts.agent;
  try {
    const conn = await openConnection(path, timeout.signal);
    try {
      const session = await request(conn, 'hello', helloParams, {
        action: `connect to agent keychain at ${path}`,
        signal: timeout.signal,
      });
      if (session.protocol !== PROTOCOL_VERSION) {
        throw new KeychainError(
          'PROTOCOL',
          `failed to connect to agent keychain at ${path}: the host speaks protocol ${session.protocol}, this SDK speaks ${PROTOCOL_VERSION}`,
        );
      }
      return new KeychainClient(conn, helloParams, session);
    } catch (err) {
      await conn.close();
      throw err;
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Same order as the hosts (src/core/paths.ts), so both name the same Windows pipe:
 * USER, then USERNAME, then the passwd entry (os.userInfo() throws without one).
 */
function currentUsername(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.USER || env.USERNAME;
  if (fromEnv) return fromEnv;
  try {
    return os.userInfo().username;
  } catch {
    return 'user';
  }
}
