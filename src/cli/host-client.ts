/** The CLI's connection to a running host (app or daemon), over the agent socket. */
import { openConnection, type Connection } from '../sdk/connection.js';
import { AkcError, isAkcError } from '../shared/errors.js';
import type { AdminMethod, AdminParams, AdminResults } from '../shared/admin-protocol.js';
import type { CommandContext } from './context.js';

export async function connectHost(ctx: CommandContext): Promise<Connection> {
  try {
    return await openConnection(ctx.paths.socket);
  } catch (err) {
    if (isAkcError(err, 'HOST_NOT_RUNNING')) {
      throw new AkcError('HOST_NOT_RUNNING', `no Agent Keychain host is running at ${ctx.paths.socket}`, {
        hint: 'start the desktop app (`npm start`) or `akc daemon`',
      });
    }
    throw err;
  }
}

export async function adminCall<M extends AdminMethod>(
  ctx: CommandContext,
  method: M,
  params: AdminParams<M>,
  action: string,
): Promise<AdminResults[M]> {
  const conn = await connectHost(ctx);
  try {
    return (await conn.call(method, params, { action })) as AdminResults[M];
  } finally {
    await conn.close();
  }
}
