/**
 * Registered agents: `akc agent add|list|revoke`, plus the helpers every policy admin
 * command shares (positional arguments, durations, opening the vault for a change).
 *
 * Changes need the master password every time (never the keychain: an agent that can run
 * `akc` must not be able to grant itself access) and are audited.
 */
import { AkcError } from '../../shared/errors.js';
import { flag, option, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import { prepareAgent } from '../../core/policy/agents.js';
import { PolicyAdmin } from '../../core/policy/admin.js';
import { agentJson, agentRows } from '../../core/views/policy.js';

// ---------------------------------------------------------------- shared helpers

/** The command's positional arguments, exactly `names` of them (named in the error). */
export function positionals(ctx: CommandContext, names: string[]): string[] {
  const got = ctx.args.positionals;
  if (got.length < names.length) throw new UsageError(`missing ${names.slice(got.length).join(' and ')}`);
  if (got.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(got[names.length])}`);
  return got;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };
const MAX_DURATION_MS = 10 * 365 * 86_400_000;

/** Parses `30s`, `15m`, `1h`, `2d`, `1w` or combinations like `1h30m` into milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const trimmed = text.trim();
  if (!/^(\d+[smhdw])+$/.test(trimmed)) {
    throw new UsageError(`invalid ${what} ${JSON.stringify(text)}: use a number and a unit (s, m, h, d, w), e.g. 30s, 15m, 1h, 2d`);
  }
  let ms = 0;
  for (const [, n, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) ms += Number(n) * UNIT_MS[unit!]!;
  if (ms <= 0) throw new UsageError(`invalid ${what} ${JSON.stringify(text)}: must be longer than zero`);
  if (ms > MAX_DURATION_MS) throw new UsageError(`invalid ${what} ${JSON.stringify(text)}: at most 10 years`);
  return ms;
}

/** Re-exported: the offline commands and the hardened host's views format durations alike. */
export { formatDuration } from '../../shared/duration.js';

/**
 * Opens the vault for a change: `check` runs first (so NOT_FOUND and friends come before
 * the password prompt) and may finish the command on its own by returning a value; then
 * the master password unlocks the vault and `change` runs.
 */
export async function adminChange<T>(
  ctx: CommandContext,
  check: (admin: PolicyAdmin) => T | undefined,
  change: (admin: PolicyAdmin) => T | Promise<T>,
): Promise<T> {
  const vault = await openVault(ctx);
  try {
    const admin = new PolicyAdmin(vault, 'cli');
    const early = check(admin);
    if (early !== undefined) return early;
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    return await change(admin);
  } finally {
    vault.close();
  }
}

/** Opens the vault for reading policy (no password: agents and grants are not secret values). */
export async function adminRead<T>(ctx: CommandContext, fn: (admin: PolicyAdmin) => T): Promise<T> {
  const vault = await openVault(ctx);
  try {
    return fn(new PolicyAdmin(vault, 'cli'));
  } finally {
    vault.close();
  }
}

export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

// ---------------------------------------------------------------- commands

export async function add(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).agentAdd(ctx);
  const [name] = positionals(ctx, ['agent NAME']);
  const exe = option(ctx.args, 'exe');
  if (!exe) throw new UsageError('missing --exe PATH (the executable or script this agent runs as)');
  const replace = flag(ctx.args, 'replace');
  const prepared = await prepareAgent({
    name: name!,
    exePath: exe,
    sha256: option(ctx.args, 'sha256'),
    argPattern: option(ctx.args, 'arg-pattern'),
    cwdPattern: option(ctx.args, 'cwd'),
  });
  const { agent, status } = await adminChange(
    ctx,
    (admin) => {
      const existing = admin.agents.find(prepared.name);
      if (existing && existing.revokedAt === null && !replace) {
        throw new AkcError('ALREADY_EXISTS', `agent ${prepared.name} already exists`, {
          hint: 'pass --replace to change its rules (its grants stay), or pick another name',
        });
      }
      return undefined;
    },
    (admin) => admin.addPreparedAgent(prepared, { replace }),
  );
  if (ctx.json) return writeJson(ctx.io, { ...agentJson(agent, { blocked: false, grants: 0 }), result: status });
  const verb = status === 'added' ? 'Added' : status === 'replaced' ? 'Updated' : 'Restored';
  ctx.io.stdout.write(
    `${verb} agent ${sanitizeLine(agent.name)}: ${sanitizeLine(agent.exePath)}${agent.exeSha256 ? ` (sha256 ${agent.exeSha256.slice(0, 12)}…)` : ' (any sha256)'}\n`,
  );
  if (status === 'replaced' && agent.exeSha256) {
    ctx.note('note: grants recorded for another executable hash no longer apply; grant them again if needed');
  }
}

export async function list(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  const all = flag(ctx.args, 'all');
  // The same rows either way: built here from vault.db, or by the hardened host (core/views/policy.ts).
  const rows = ctx.paths.service
    ? await (await import('../service-client.js')).serviceRows(ctx, 'agents.list', all ? { all } : {}, 'list agents')
    : await adminRead(ctx, (admin) => agentRows(admin, all));
  if (ctx.json) return writeJson(ctx.io, { agents: rows });
  if (rows.length === 0) {
    ctx.io.stdout.write('No agents registered. Add one with `akc agent add NAME --exe PATH`.\n');
    return;
  }
  ctx.io.stdout.write(
    table(
      ['NAME', 'STATUS', 'GRANTS', 'EXE', 'SHA256', 'ARGS', 'CWD', 'ADDED'],
      rows.map((a) => [
        String(a.name),
        String(a.status),
        String(a.grants),
        String(a.exe),
        typeof a.sha256 === 'string' ? a.sha256.slice(0, 12) + '…' : 'any',
        String(a.argPattern ?? '-'),
        String(a.cwdPattern ?? '-'),
        formatTime(a.createdAt as string),
      ]),
    ),
  );
}

export async function revoke(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).agentRevoke(ctx);
  const [name] = positionals(ctx, ['agent NAME']);
  const result = await adminChange(
    ctx,
    (admin) => {
      admin.liveAgent(name!);
      return undefined;
    },
    (admin) => admin.revokeAgent(name!),
  );
  if (ctx.json)
    return writeJson(ctx.io, { name: result.agent.name, revoked: true, grantsRevoked: result.grants, leasesRevoked: result.leases });
  ctx.io.stdout.write(
    `Revoked agent ${sanitizeLine(result.agent.name)} with ${plural(result.grants, 'grant')} and ${plural(result.leases, 'lease')}.\n`,
  );
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
