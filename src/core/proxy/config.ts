/**
 * Where the proxy listens: a Unix socket `proxy.sock` beside the agent socket, and
 * loopback TCP on a port fixed per install (settings key `proxy.port`, chosen at random
 * in 20000–45000 the first time a host starts the proxy). `AKC_PROXY_PORT` overrides it
 * (tests, or a port of your choosing); `AKC_PROXY_PORT=off` disables TCP.
 */
import { randomInt } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';

export const PROXY_PORT_SETTING = 'proxy.port';
export const PROXY_SOCKET_NAME = 'proxy.sock';
export const PROXY_HOST = '127.0.0.1';
export const PORT_RANGE: readonly [number, number] = [20000, 45000];

/** The proxy's Unix socket (or named pipe on Windows) beside the agent socket. */
export function proxySocketPath(agentSocket: string): string {
  if (agentSocket.startsWith('\\\\.\\pipe\\')) return `${agentSocket}-proxy`;
  const slash = agentSocket.lastIndexOf('/');
  return slash < 0 ? PROXY_SOCKET_NAME : `${agentSocket.slice(0, slash)}/${PROXY_SOCKET_NAME}`;
}

export function proxyUrl(port: number): string {
  return `http://${PROXY_HOST}:${port}`;
}

/** AKC_PROXY_PORT: a port number, or 'off' (→ null, no TCP listener); undefined when unset. */
export function envProxyPort(env: NodeJS.ProcessEnv = process.env): number | null | undefined {
  const text = env.AKC_PROXY_PORT;
  if (text === undefined || text === '') return undefined;
  if (text === 'off') return null;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new AkcError('INVALID_ARGUMENT', `invalid AKC_PROXY_PORT ${JSON.stringify(text)}: expected a port number or "off"`);
  }
  return port;
}

/** The stored per-install port, or null if no host has started the proxy yet. */
export function readProxyPort(db: Database): number | null {
  const row = db.prepare('SELECT value FROM settings WHERE key = ?').get(PROXY_PORT_SETTING) as { value: string } | undefined;
  const port = row ? Number(row.value) : NaN;
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : null;
}

export function writeProxyPort(db: Database, port: number): void {
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(
    PROXY_PORT_SETTING,
    String(port),
  );
}

export function randomProxyPort(): number {
  return randomInt(PORT_RANGE[0], PORT_RANGE[1] + 1);
}

/** The port the proxy should use for this install (env override, stored, or null when none is stored yet). */
export function configuredProxyPort(db: Database, env: NodeJS.ProcessEnv = process.env): number | null {
  const override = envProxyPort(env);
  if (override !== undefined) return override;
  return readProxyPort(db);
}
