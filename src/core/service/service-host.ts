/**
 * The hardened host (`akc daemon --service`): the host running as a dedicated system user
 * that owns the data dir, serving only the configured desktop user's uid.
 *
 * - It refuses to start unless it runs as the configured service uid and the data dir is
 *   its own and private (0700): otherwise the separation would be an illusion.
 * - It has no terminal and no OS keychain (the service has no desktop session): it starts
 *   locked, or without a vault until `akc init` creates one through it; `akc unlock`
 *   unlocks it, `akc approve` / `akc deny` decide, the desktop app is a client.
 * - The socket is 0666 in a 0755 directory only it can write: anyone may connect, the
 *   kernel's peer uid decides who is served (AgentServer's allowUid), and nobody but the
 *   service user can rename, replace or remove the socket.
 * - The process is made non-dumpable (harden-process.ts) on top of the uid separation.
 */
import fs from 'node:fs';
import { AkcError } from '../../shared/errors.js';
import type { ServiceConfig } from '../../shared/service-protocol.js';
import type { Approver } from '../approvals/types.js';
import { Host } from '../host/host.js';
import { hardenProcess } from '../host/harden-process.js';
import type { KeychainPort } from '../keychain/port.js';
import type { Logger } from '../logger.js';
import { AgentServer } from '../server/server.js';
import { Vault } from '../vault/vault.js';
import { ServiceVerbs } from './admin-verbs.js';

/** The service has no desktop session, hence no OS keychain: unlock is by password only. */
export const noServiceKeychain: KeychainPort = {
  description: 'no keychain (hardened host)',
  get: () => Promise.reject(new AkcError('KEYCHAIN_UNAVAILABLE', 'the hardened host has no OS keychain')),
  set: () => Promise.reject(new AkcError('KEYCHAIN_UNAVAILABLE', 'the hardened host has no OS keychain')),
  delete: () => Promise.resolve(false),
};

export const SERVICE_SOCKET_MODE = 0o666;
export const SERVICE_SOCKET_DIR_MODE = 0o755;
const PRIVATE_DIR_MODE = 0o700;

export interface ServiceHostOptions {
  config: ServiceConfig;
  logger: Logger;
  /** Plugged into every Host (log pending requests; decisions come from `akc approve`). */
  approver: (host: Host) => Approver;
  approvalTimeoutMs?: number;
  /** Called with the host once a vault exists (at start, or after `akc init`). */
  onHost?: (host: Host) => void;
}

export interface RunningServiceHost {
  readonly server: AgentServer;
  host(): Host | null;
  close(): Promise<void>;
}

/** Checks the process and the data dir, then serves. */
export async function startServiceHost(opts: ServiceHostOptions): Promise<RunningServiceHost> {
  const { config, logger } = opts;
  checkIdentity(config);
  checkDataDir(config.dataDir);
  const hardened = hardenProcess();
  logger.info(`process hardening: ${hardened.method}${hardened.applied ? '' : ' (not applied)'}`);

  let host: Host | null = openHostIfAny(config, opts);
  let initializing: Promise<Host> | null = null;
  const adopt = (h: Host): Host => {
    h.setApprover(opts.approver(h));
    opts.onHost?.(h);
    return h;
  };
  if (host) adopt(host);

  const verbs = new ServiceVerbs({
    config,
    host: () => host,
    initVault: (password, by) => {
      // One at a time; a second concurrent init finds the vault and fails ALREADY_INITIALIZED.
      initializing ??= createVault(config, password, by, opts)
        .then((h) => {
          host = adopt(h);
          server.setHost(h);
          logger.info(`vault created by ${by}`);
          return h;
        })
        .finally(() => (initializing = null));
      return initializing;
    },
  });
  const server = new AgentServer({
    socketPath: config.socket,
    host,
    logger,
    allowUid: config.allowUid,
    socketMode: SERVICE_SOCKET_MODE,
    socketDirMode: SERVICE_SOCKET_DIR_MODE,
    extraMethods: verbs,
  });
  await server.listen();
  logger.info(`serving ${config.socket} for uid ${config.allowUid} (vault ${host ? host.state : 'absent: run `akc init`'})`);
  return {
    server,
    host: () => host,
    close: async () => {
      await server.close();
      host?.close();
    },
  };
}

function checkIdentity(config: ServiceConfig): void {
  const uid = process.getuid?.();
  if (uid !== config.serviceUid) {
    throw new AkcError('DENIED', `the hardened host must run as ${config.serviceUser} (uid ${config.serviceUid}), not uid ${uid}`, {
      hint: 'start it with `systemctl start agent-keychain` (see `akc service status`)',
    });
  }
  if (config.allowUid === config.serviceUid) {
    throw new AkcError('INVALID_ARGUMENT', 'the service user and the desktop user must differ (that is the separation)');
  }
}

/** The data dir must exist, be ours, be a real directory and be private. */
function checkDataDir(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (err) {
    throw new AkcError('IO', `failed to open the data dir ${dir}: ${(err as Error).message}`, { hint: 'run `sudo akc service install`' });
  }
  if (!st.isDirectory()) throw new AkcError('IO', `the data dir ${dir} is not a directory`);
  if (st.uid !== process.getuid?.()) throw new AkcError('IO', `the data dir ${dir} is not owned by the service user`);
  if ((st.mode & 0o777) !== PRIVATE_DIR_MODE) fs.chmodSync(dir, PRIVATE_DIR_MODE);
}

function openHostIfAny(config: ServiceConfig, opts: ServiceHostOptions): Host | null {
  const probe = Vault.open({ dataDir: config.dataDir, keychain: noServiceKeychain });
  const exists = probe.state !== 'uninitialized';
  probe.close();
  return exists ? Host.open(hostOptions(config, opts)) : null;
}

function hostOptions(config: ServiceConfig, opts: ServiceHostOptions): Parameters<typeof Host.open>[0] {
  return {
    dataDir: config.dataDir,
    keychain: noServiceKeychain,
    ...(opts.approvalTimeoutMs ? { approvalTimeoutMs: opts.approvalTimeoutMs } : {}),
  };
}

/** `akc init` through the service: no keychain unlock (there is none); the host is left unlocked. */
async function createVault(config: ServiceConfig, password: Buffer, by: string, opts: ServiceHostOptions): Promise<Host> {
  const vault = Vault.open({ dataDir: config.dataDir, keychain: noServiceKeychain });
  try {
    await vault.init(password, { keychain: false });
  } finally {
    vault.close();
  }
  const host = Host.open(hostOptions(config, opts));
  await host.unlockWithPassword(password, by);
  return host;
}
