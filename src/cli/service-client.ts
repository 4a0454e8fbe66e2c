/**
 * The CLI's calls to the hardened host's admin verbs (shared/service-protocol.ts). They
 * carry the master password or a secret value, so they are sent only after the kernel
 * said the socket's server runs as the configured service uid (host-trust.ts): no
 * process of the desktop user, an agent included, can run as that uid.
 */
import { AkcError } from '../shared/errors.js';
import type { ServiceMethod, ServiceParams, ServiceResults } from '../shared/service-protocol.js';
import type { CommandContext } from './context.js';
import { connectHost } from './host-client.js';
import { serverIsHardenedHost } from './host-trust.js';

/** True when the installed hardened host's socket is this CLI's socket. */
export function serviceMode(ctx: CommandContext): boolean {
  return Boolean(ctx.paths.service);
}

export async function serviceCall<M extends ServiceMethod>(
  ctx: CommandContext,
  method: M,
  params: ServiceParams<M> | (() => Promise<ServiceParams<M>>),
  action: string,
): Promise<ServiceResults[M]> {
  const host = await connectHost(ctx);
  try {
    if (!serverIsHardenedHost(host.serverUid)) {
      throw new AkcError(
        'DENIED',
        `refusing to ${action}: the server at ${ctx.paths.socket} is not the hardened host (uid ${host.serverUid})`,
        {
          hint: 'check `akc service status`; is the host running as the service user?',
        },
      );
    }
    // Ask for the password only once the real host is on the line.
    const full = typeof params === 'function' ? await params() : params;
    return (await host.conn.call(method, full, { action })) as ServiceResults[M];
  } finally {
    await host.conn.close();
  }
}
