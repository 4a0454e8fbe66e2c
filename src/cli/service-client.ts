/**
 * The CLI's calls to the hardened host's admin verbs (shared/service-protocol.ts). They
 * carry the master password or a secret value, so they are sent only after the kernel
 * said the socket's server runs as the configured service uid (host-trust.ts): no
 * process of the desktop user, an agent included, can run as that uid.
 */
import { AkcError } from '../shared/errors.js';
import type { JsonRecord, PagedServiceMethod, ServiceMethod, ServiceParams, ServiceResults } from '../shared/service-protocol.js';
import type { CommandContext } from './context.js';
import { connectHost } from './host-client.js';
import { serverIsHardenedHost } from './host-trust.js';

/** True when the installed hardened host's socket is this CLI's socket. */
export function serviceMode(ctx: CommandContext): boolean {
  return Boolean(ctx.paths.service);
}

/** One verb's call on an open, verified connection. */
export type ServiceCaller = <M extends ServiceMethod>(method: M, params: ServiceParams<M>) => Promise<ServiceResults[M]>;

/** Opens one verified connection to the hardened host for `fn`'s calls (pages of a list, say). */
export async function withService<T>(ctx: CommandContext, action: string, fn: (call: ServiceCaller) => Promise<T>): Promise<T> {
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
    return await fn(async (method, params) => (await host.conn.call(method, params, { action })) as ServiceResults[typeof method]);
  } finally {
    await host.conn.close();
  }
}

export async function serviceCall<M extends ServiceMethod>(
  ctx: CommandContext,
  method: M,
  params: ServiceParams<M> | (() => Promise<ServiceParams<M>>),
  action: string,
): Promise<ServiceResults[M]> {
  return withService(ctx, action, async (call) => {
    // Ask for the password only once the real host is on the line.
    const full = typeof params === 'function' ? await params() : params;
    return call(method, full);
  });
}

/** Upper bound on pages, so a host answering `next` forever cannot keep the CLI looping. */
const MAX_PAGES = 100_000;

/** Every row of a paged list verb, page after page on one connection. */
export async function serviceRows<M extends PagedServiceMethod>(
  ctx: CommandContext,
  method: M,
  params: Omit<ServiceParams<M>, 'offset'>,
  action: string,
): Promise<JsonRecord[]> {
  return withService(ctx, action, async (call) => {
    const rows: JsonRecord[] = [];
    let offset = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const r = await call(method, { ...params, offset } as ServiceParams<M>);
      rows.push(...r.rows);
      if (r.next === null) return rows;
      if (r.next <= offset) throw new AkcError('PROTOCOL', `failed to ${action}: the host sent a page that does not advance`);
      offset = r.next;
    }
    throw new AkcError('PROTOCOL', `failed to ${action}: too many pages`);
  });
}
