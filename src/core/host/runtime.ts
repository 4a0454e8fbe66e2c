/**
 * The host runtime: how a host process composes the core — the Host on the vault, the agent
 * socket (AgentServer), the brokering proxy beside it, one logger and the approver — and
 * takes it down again in the reverse order. `akc daemon` and the desktop app both start
 * exactly this (composed separately, the copies used to drift).
 *
 *   const rt = await startHostRuntime({ dataDir, socketPath, keychain, logger });
 *   … rt.host, rt.proxy?.url …
 *   await rt.close();
 *
 * What differs between hosts stays with them: how the vault is unlocked at start (terminal,
 * keychain, the app's setup screen) and which Approver asks the human.
 */
import { isAkcError } from '../../shared/errors.js';
import type { Approver } from '../approvals/types.js';
import type { Clock } from '../clock.js';
import type { KeychainPort } from '../keychain/port.js';
import type { HostLifecycleOptions } from '../lifecycle/host-lifecycle.js';
import { silentLogger, type Logger } from '../logger.js';
import { startProxy, type RunningProxy, type StartProxyOptions } from '../proxy/index.js';
import { AgentServer } from '../server/server.js';
import { Host } from './host.js';

export interface HostRuntimeOptions {
  dataDir: string;
  /** The agent socket; the proxy's Unix socket goes beside it. */
  socketPath: string;
  keychain: KeychainPort;
  logger?: Logger;
  clock?: Clock;
  approvalTimeoutMs?: number;
  lifecycle?: HostLifecycleOptions;
  /**
   * Runs once the vault is open, before anything is served: settings stored in the vault
   * (the app's approval timeout) take effect before the first request.
   */
  configure?: (host: Host) => void;
  /** The approver, plugged in before serving (a host may also plug one in later: Host.setApprover). */
  approver?: (host: Host) => Approver;
  /** The brokering proxy: false for none; otherwise options for startProxy. */
  proxy?: false | Omit<StartProxyOptions, 'agentSocketPath' | 'logger'>;
}

export interface HostRuntime {
  readonly host: Host;
  readonly server: AgentServer;
  /** Null when it is off or did not start (logged; the host serves agents all the same). */
  readonly proxy: RunningProxy | null;
  /** Stops the proxy and the socket, then closes the host (locking the vault). */
  close(): Promise<void>;
}

/**
 * Opens the host and serves the agent socket, then starts the proxy. Throws what the socket
 * throws (HOST_RUNNING when another host serves it), with nothing left open.
 */
export async function startHostRuntime(opts: HostRuntimeOptions): Promise<HostRuntime> {
  const logger = opts.logger ?? silentLogger;
  const host = Host.open({
    dataDir: opts.dataDir,
    keychain: opts.keychain,
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.approvalTimeoutMs ? { approvalTimeoutMs: opts.approvalTimeoutMs } : {}),
    ...(opts.lifecycle ? { lifecycle: opts.lifecycle } : {}),
  });
  let server: AgentServer;
  try {
    opts.configure?.(host);
    if (opts.approver) host.setApprover(opts.approver(host));
    server = new AgentServer({ socketPath: opts.socketPath, host, logger });
    await server.listen();
  } catch (err) {
    host.close();
    throw err;
  }
  let proxy: RunningProxy | null = null;
  if (opts.proxy !== false) {
    try {
      proxy = await startProxy(host, { ...opts.proxy, agentSocketPath: opts.socketPath, logger });
      logger.info(`proxy on ${[proxy.url, proxy.socketPath].filter(Boolean).join(' and ')}`);
    } catch (err) {
      // Only our own errors are worded for people; anything else could carry internals.
      logger.warn(`the brokering proxy did not start: ${isAkcError(err) ? err.message : 'internal error'}`);
    }
  }
  let closing: Promise<void> | null = null;
  return {
    host,
    server,
    proxy,
    close: () =>
      (closing ??= Promise.allSettled([proxy?.close(), server.close()]).then(() => {
        host.close();
      })),
  };
}
