/** Leases (one per delivered value): `akc leases` and `akc lease revoke ID`. */
import type { CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { leaseRows } from '../../core/views/policy.js';
import { adminChange, adminRead, positionals } from './agent.js';

export async function list(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  // The same rows either way: built here from vault.db, or by the hardened host (core/views/policy.ts).
  const rows = ctx.paths.service
    ? await (await import('../service-client.js')).serviceRows(ctx, 'leases.list', {}, 'list leases')
    : await adminRead(ctx, (admin) => leaseRows(admin));
  if (ctx.json) return writeJson(ctx.io, { leases: rows });
  if (rows.length === 0) {
    ctx.io.stdout.write('No live leases.\n');
    return;
  }
  ctx.io.stdout.write(
    table(
      ['ID', 'AGENT', 'SECRET', 'VERSION', 'PID', 'ISSUED', 'EXPIRES'],
      rows.map((l) => [
        String(l.id),
        String(l.agent ?? l.fingerprint),
        String(l.secret),
        String(l.version),
        l.pid === null ? '-' : String(l.pid),
        formatTime(l.issuedAt as string),
        formatTime(l.expiresAt as string),
      ]),
    ),
  );
}

export async function revoke(ctx: CommandContext): Promise<void> {
  const [id] = positionals(ctx, ['lease ID']);
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  const lease = ctx.paths.service
    ? await (await import('./service-admin.js')).leaseRevoke(ctx, id!)
    : await adminChange(
        ctx,
        (admin) => {
          admin.liveLease(id!);
          return undefined;
        },
        (admin) => {
          const l = admin.revokeLease(id!);
          return { id: l.id, secret: l.secretName, version: l.version };
        },
      );
  if (ctx.json) return writeJson(ctx.io, { id: lease.id, revoked: true, secret: lease.secret, version: lease.version });
  ctx.io.stdout.write(`Revoked lease ${lease.id} (${lease.secret} version ${lease.version}).\n`);
}
