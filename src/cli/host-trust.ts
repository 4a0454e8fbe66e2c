/**
 * Who the CLI agrees to talk to. Before sending a byte, the CLI reads the
 * server's uid from the kernel (the client side of SO_PEERCRED: the uid of the process
 * that bound the socket): it must be our own uid or the configured service user's (the
 * hardened mode). Any other server is refused with one line.
 *
 * This does not stop a fake server run by an agent as *you* (same uid); what stops that
 * is that nothing secret crosses the socket (see core/crypto/admin-auth.ts). It does let
 * the CLI tell the hardened host apart: no process of the desktop user can run as the
 * service uid, so a server with that uid is the real host (serverIsHardenedHost).
 */
import type net from 'node:net';
import { AkcError } from '../shared/errors.js';
import { getPeerCredentials } from '../core/identity/peercred.js';
import { readServiceConfig } from '../core/service/config.js';

/**
 * The hardened host's uid: AKC_SERVICE_UID, else the installed service config, else null.
 * Our own uid never counts: a "service" running as us is no separation at all, and an
 * agent running as us could set the variable.
 */
export function configuredServiceUid(env: NodeJS.ProcessEnv = process.env): number | null {
  let uid: number | null;
  const fromEnv = env.AKC_SERVICE_UID;
  if (fromEnv !== undefined && fromEnv !== '') {
    uid = /^\d{1,10}$/.test(fromEnv) ? Number(fromEnv) : null;
  } else {
    try {
      uid = readServiceConfig(env)?.serviceUid ?? null;
    } catch {
      // An untrusted or broken config names no service user.
      uid = null;
    }
  }
  return uid !== null && uid !== process.getuid?.() ? uid : null;
}

/** True when the server's kernel-reported uid is the configured service user (not us). */
export function serverIsHardenedHost(serverUid: number | null, env: NodeJS.ProcessEnv = process.env): boolean {
  const service = configuredServiceUid(env);
  return serverUid !== null && service !== null && serverUid === service;
}

/**
 * The server's uid after checking it is ours or the service user's; null where the OS
 * gives no peer credentials to a client (Windows named pipes, whose ACL is the gate).
 */
export function checkServerPeer(socket: net.Socket, socketPath: string, env: NodeJS.ProcessEnv = process.env): number | null {
  if (process.platform !== 'linux' && process.platform !== 'darwin') return null;
  const own = process.getuid!();
  const { uid } = getPeerCredentials(socket);
  if (uid === own || serverIsHardenedHost(uid, env)) return uid;
  throw new AkcError('DENIED', `refusing the host at ${socketPath}: it runs as uid ${uid}, not as you (uid ${own}) or the service user`, {
    hint: 'another user is listening on this socket path; check AKC_SOCKET and who owns the socket',
  });
}
