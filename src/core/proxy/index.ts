/**
 * The brokering proxy, as a host starts it (`akc daemon`, the desktop app):
 *
 *   const proxy = await startProxy(host, { agentSocketPath, logger });
 *   … proxy.url, proxy.socketPath …
 *   await proxy.close();
 */
import { isAkcError } from '../../shared/errors.js';
import type { Host } from '../host/host.js';
import { silentLogger, type Logger } from '../logger.js';
import { envProxyPort, proxySocketPath, randomProxyPort, readProxyPort, writeProxyPort } from './config.js';
import { ProxyServer } from './server.js';

export { ProxyServer, AGENT_HEADER, PURPOSE_HEADER, ERROR_HEADER } from './server.js';
export { BindingStore, describeAuth, type ProxyBinding, type BindingAuth, type BindingInput } from './bindings.js';
export { proxyEnvFor, PLACEHOLDER_KEY, KNOWN_APIS } from './env.js';
export { proxySocketPath, proxyUrl, readProxyPort, configuredProxyPort, PROXY_PORT_SETTING } from './config.js';

export interface StartProxyOptions {
  /** The agent socket; the proxy's Unix socket goes beside it (`proxy.sock`). */
  agentSocketPath?: string;
  /** Or an explicit Unix socket path (null: no Unix socket). */
  socketPath?: string | null;
  /** TCP port; default: AKC_PROXY_PORT, else the stored per-install port (chosen now if none). null: no TCP. */
  port?: number | null;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
  upstreamTimeoutMs?: number;
}

export interface RunningProxy {
  /** `http://127.0.0.1:PORT`, or null when TCP is off or its port was busy. */
  url: string | null;
  socketPath: string | null;
  server: ProxyServer;
  close(): Promise<void>;
}

/**
 * Starts the proxy for `host`. The Unix socket must come up (it fails like the agent
 * socket does when another host runs); a busy TCP port is logged and TCP stays off, so a
 * port clash never stops the host.
 */
export async function startProxy(host: Host, opts: StartProxyOptions = {}): Promise<RunningProxy> {
  const logger = opts.logger ?? silentLogger;
  const socketPath = opts.socketPath !== undefined ? opts.socketPath : opts.agentSocketPath ? proxySocketPath(opts.agentSocketPath) : null;
  const server = new ProxyServer({
    host,
    logger,
    socketPath,
    ...(opts.upstreamTimeoutMs ? { upstreamTimeoutMs: opts.upstreamTimeoutMs } : {}),
  });
  await server.listenUnix();
  try {
    await listenTcp(host, server, opts, logger);
  } catch (err) {
    await server.close();
    throw err;
  }
  return {
    url: server.url,
    socketPath: server.socketPath,
    server,
    close: () => server.close(),
  };
}

async function listenTcp(host: Host, server: ProxyServer, opts: StartProxyOptions, logger: Logger): Promise<void> {
  const override = opts.port !== undefined ? opts.port : envProxyPort(opts.env ?? process.env);
  if (override === null) return; // TCP off
  const configured = override ?? readProxyPort(host.vault.db);
  if (configured !== null) {
    try {
      await server.listenTcp(configured);
    } catch (err) {
      if (isAkcError(err)) throw err;
      logger.warn(
        `proxy: cannot listen on 127.0.0.1:${configured} (${(err as NodeJS.ErrnoException).code ?? 'error'}); TCP is off, the Unix socket still works`,
      );
    }
    return;
  }
  // First start: pick the per-install port and remember it.
  for (let attempt = 0; attempt < 8; attempt++) {
    const port = randomProxyPort();
    try {
      await server.listenTcp(port);
      writeProxyPort(host.vault.db, port);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  logger.warn('proxy: found no free port for loopback TCP; the Unix socket still works');
}
