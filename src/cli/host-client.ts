/**
 * The CLI's connection to a running host (app or daemon), over the agent socket. Every
 * connection first checks the server's uid from the kernel (host-trust.ts); calls that
 * grant access prove the master password by challenge–response (admin-proof.ts) and
 * never send it.
 */
import net from 'node:net';
import { Connection } from '../sdk/connection.js';
import { AkcError, describeCause } from '../shared/errors.js';
import type { AdminMethod, AdminParams, AdminResults, ProvenAdminMethod } from '../shared/admin-protocol.js';
import type { CommandContext } from './context.js';
import { checkServerPeer } from './host-trust.js';
import { provenParams, type ProofRequest } from './admin-proof.js';

export interface HostConnection {
  conn: Connection;
  /** The server's uid per the kernel (null where the OS gives none to clients). */
  serverUid: number | null;
}

export async function connectHost(ctx: CommandContext): Promise<HostConnection> {
  const path = ctx.paths.socket;
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s = net.createConnection({ path });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      s.destroy();
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(
          new AkcError('HOST_NOT_RUNNING', `no Agent Keychain host is running at ${path}`, {
            hint: ctx.paths.service
              ? 'start the hardened host: `sudo systemctl start agent-keychain` (see `akc service status`)'
              : 'start the desktop app (`npm start`) or `akc daemon`',
          }),
        );
      } else reject(new AkcError('IO', `failed to connect to the host at ${path}: ${describeCause(err)}`, { cause: err }));
    });
  });
  let serverUid: number | null;
  try {
    // Before a byte is written: who is really listening on this path.
    serverUid = checkServerPeer(socket, path, process.env);
  } catch (err) {
    socket.destroy();
    throw err;
  }
  return { conn: new Connection(socket, path), serverUid };
}

/** An admin call that carries nothing secret (lock, list). */
export async function adminCall<M extends Exclude<AdminMethod, ProvenAdminMethod | 'admin.challenge'>>(
  ctx: CommandContext,
  method: M,
  params: AdminParams<M>,
  action: string,
): Promise<AdminResults[M]> {
  const { conn } = await connectHost(ctx);
  try {
    return (await conn.call(method, params, { action })) as AdminResults[M];
  } finally {
    await conn.close();
  }
}

/**
 * An admin call proven by the master password: asks for a challenge, derives the KEK
 * here, sends a proof (and, to unlock, the KEK sealed for the real host). The caller
 * owns and wipes `request.password`.
 */
export async function provenAdminCall<M extends ProvenAdminMethod>(
  ctx: CommandContext,
  method: M,
  params: Omit<AdminParams<M>, 'nonce' | 'proof' | 'sealedKek' | 'kek'>,
  request: ProofRequest,
): Promise<AdminResults[M]> {
  const host = await connectHost(ctx);
  try {
    const challenge = (await host.conn.call('admin.challenge', {}, { action: request.action })) as unknown;
    const full = await provenParams(method, params, challenge, host.serverUid, request, ctx.paths.dataDir);
    return (await host.conn.call(method, full, { action: request.action })) as AdminResults[M];
  } finally {
    await host.conn.close();
  }
}
