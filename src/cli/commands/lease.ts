/** Leases (one per delivered value): `akc leases` and `akc lease revoke ID`. */
import type { CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import type { Lease } from '../../core/policy/leases.js';
import { adminChange, adminRead, iso, positionals } from './agent.js';

function leaseJson(l: Lease, agentName: string | null): Record<string, unknown> {
  return {
    id: l.id,
    agent: agentName,
    fingerprint: l.fingerprint,
    pid: l.pid,
    secret: l.secretName,
    version: l.version,
    issuedAt: iso(l.issuedAt),
    expiresAt: iso(l.expiresAt),
    revokedAt: iso(l.revokedAt),
  };
}

export async function list(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  const rows = await adminRead(ctx, (admin) => {
    const names = new Map(admin.agents.list(true).map((a) => [a.id, a.name]));
    return admin.leases.list(admin.now()).map((l) => ({ l, agent: l.agentId ? (names.get(l.agentId) ?? null) : null }));
  });
  if (ctx.json) return writeJson(ctx.io, { leases: rows.map(({ l, agent }) => leaseJson(l, agent)) });
  if (rows.length === 0) {
    ctx.io.stdout.write('No live leases.\n');
    return;
  }
  ctx.io.stdout.write(
    table(
      ['ID', 'AGENT', 'SECRET', 'VERSION', 'PID', 'ISSUED', 'EXPIRES'],
      rows.map(({ l, agent }) => [
        l.id,
        agent ?? l.fingerprint,
        l.secretName,
        String(l.version),
        l.pid === null ? '-' : String(l.pid),
        formatTime(l.issuedAt),
        formatTime(l.expiresAt),
      ]),
    ),
  );
}

export async function revoke(ctx: CommandContext): Promise<void> {
  const [id] = positionals(ctx, ['lease ID']);
  const lease = await adminChange(
    ctx,
    (admin) => {
      admin.liveLease(id!);
      return undefined;
    },
    (admin) => admin.revokeLease(id!),
  );
  if (ctx.json) return writeJson(ctx.io, { id: lease.id, revoked: true, secret: lease.secretName, version: lease.version });
  ctx.io.stdout.write(`Revoked lease ${lease.id} (${lease.secretName} version ${lease.version}).\n`);
}
