/** Commands an agent (or a human) runs against a host: get, lock, unlock, approvals. */
import { AkcError, isAkcError } from '../../shared/errors.js';
import { ADMIN_SCOPES, type AdminScope, type ApprovalSummary } from '../../shared/admin-protocol.js';
import { connect } from '../../sdk/index.js';
import { flag, option, UsageError } from '../args.js';
import { openVault, type CommandContext } from '../context.js';
import { revokeAllLeases } from '../../core/policy/lease-admin.js';
import { adminCall, provenAdminCall } from '../host-client.js';
import { table, writeJson } from '../io.js';
import { commandLine } from '../../shared/run-command.js';

const CLI_CLIENT = { name: 'akc', version: '0.1.0' };

export async function get(ctx: CommandContext): Promise<void> {
  const [name, extra] = ctx.args.positionals;
  if (!name || extra !== undefined) throw new UsageError('usage: akc get NAME [--purpose P]');
  const versionText = option(ctx.args, 'version');
  const version = versionText === undefined ? undefined : Number(versionText);
  if (version !== undefined && (!Number.isInteger(version) || version < 1)) throw new UsageError('--version takes a positive integer');
  const client = await connect({
    socketPath: ctx.paths.socket,
    client: CLI_CLIENT,
    ...(option(ctx.args, 'agent') ? { agent: option(ctx.args, 'agent')! } : {}),
  });
  try {
    const purpose = option(ctx.args, 'purpose');
    const result = await client.getSecret(name, {
      ...(purpose !== undefined ? { purpose } : {}),
      ...(version !== undefined ? { version } : {}),
      onPending: (p) => {
        const secs = Math.max(0, Math.round((Date.parse(p.expiresAt) - Date.now()) / 1000));
        ctx.note(`waiting for approval in the Agent Keychain app or daemon (request ${p.approvalId}, ${secs} s)…`);
      },
    });
    if (ctx.json) writeJson(ctx.io, result);
    else ctx.io.stdout.write(result.value + (flag(ctx.args, 'no-newline') ? '' : '\n'));
  } finally {
    await client.close();
  }
}

export async function lock(ctx: CommandContext): Promise<void> {
  const revokeAll = flag(ctx.args, 'revoke-all');
  let r: { vault: 'locked'; revokedLeases: number };
  try {
    r = await adminCall(ctx, 'host.lock', revokeAll ? { revokeAll: true } : {}, 'lock the vault');
  } catch (err) {
    // No host holds the keys, so the vault is locked already; break-glass still revokes
    // every lease, with the host's own function (policy/lease-admin.ts), on vault.db.
    if (!revokeAll || ctx.paths.service || !isAkcError(err, 'HOST_NOT_RUNNING')) throw err;
    const vault = await openVault(ctx);
    try {
      r = { vault: 'locked', revokedLeases: revokeAllLeases(vault, `cli pid ${process.pid}`) };
    } finally {
      vault.close();
    }
    ctx.note('note: no host is running, so the vault was locked already');
  }
  if (ctx.json) return writeJson(ctx.io, r);
  ctx.io.stdout.write(`Locked.${r.revokedLeases ? ` Revoked ${r.revokedLeases} lease(s).` : ''}\n`);
}

export async function unlock(ctx: CommandContext): Promise<void> {
  const password = await ctx.input.password();
  try {
    // The password stays here: the host gets a proof and the KEK sealed for it (admin-proof.ts).
    await provenAdminCall(ctx, 'host.unlock', {}, { action: 'unlock the vault', password, unlock: true });
  } finally {
    password.fill(0);
  }
  if (ctx.json) return writeJson(ctx.io, { vault: 'unlocked' });
  ctx.io.stdout.write('Unlocked.\n');
}

export async function approvals(ctx: CommandContext): Promise<void> {
  const { approvals } = await adminCall(ctx, 'approval.list', {}, 'list pending approvals');
  if (ctx.json) return writeJson(ctx.io, { approvals });
  if (approvals.length === 0) {
    ctx.io.stdout.write('No pending approvals.\n');
    return;
  }
  const age = (a: ApprovalSummary): string => `${Math.round((Date.now() - Date.parse(a.createdAt)) / 1000)}s`;
  // `akc run` requests: the command that would hold the value (table() sanitises every cell).
  const withCommand = approvals.some((a) => a.command);
  ctx.io.stdout.write(
    table(
      ['ID', 'AGENT/PROGRAM', 'PID', 'EXE', 'SECRET', 'PURPOSE (claimed)', 'AGE', ...(withCommand ? ['COMMAND (exe)'] : [])],
      approvals.map((a) => [
        a.id,
        a.agent ?? a.program,
        String(a.pid),
        a.exe ?? '?',
        a.secrets.join(','),
        a.purpose ?? '-',
        age(a),
        ...(withCommand ? [commandCell(a)] : []),
      ]),
    ),
  );
}

function commandCell(a: ApprovalSummary): string {
  if (!a.command) return '-';
  const line = commandLine(a.command.argv);
  const shown = line.length > 200 ? `${line.slice(0, 199)}…` : line;
  return `${shown} (${a.command.exe ?? 'exe unknown'})${a.command.agentChosen ? ' [chosen by the agent]' : ''}`;
}

function scopeFromFlags(ctx: CommandContext): AdminScope {
  const chosen: AdminScope[] = [];
  const forText = option(ctx.args, 'for');
  if (forText !== undefined) {
    if (forText !== '15m' && forText !== '1h') throw new UsageError('--for takes 15m or 1h');
    chosen.push(forText);
  }
  if (flag(ctx.args, 'until-lock')) chosen.push('until_lock');
  if (flag(ctx.args, 'always')) chosen.push('always');
  if (flag(ctx.args, 'once')) chosen.push('once');
  if (chosen.length > 1) throw new UsageError('choose one of --once, --for, --until-lock, --always');
  const scope = chosen[0] ?? 'once';
  if (!ADMIN_SCOPES.includes(scope)) throw new AkcError('INVALID_ARGUMENT', 'unknown scope');
  return scope;
}

export async function decide(ctx: CommandContext, allow: boolean): Promise<void> {
  const [id, extra] = ctx.args.positionals;
  if (!id || extra !== undefined) throw new UsageError(`usage: akc ${allow ? 'approve' : 'deny'} ID`);
  const scope = allow ? scopeFromFlags(ctx) : 'once';
  const password = await ctx.input.password();
  try {
    const r = await provenAdminCall(
      ctx,
      'approval.decide',
      { approvalId: id, allow, scope, block: !allow && flag(ctx.args, 'block') },
      { action: allow ? `approve ${id}` : `deny ${id}`, password, unlock: allow },
    );
    if (ctx.json) return writeJson(ctx.io, r);
    ctx.io.stdout.write(
      r.decision === 'allow'
        ? `Approved ${id} (${scope.replace('_', ' ')}).\n`
        : r.decision === 'block'
          ? `Denied ${id} and blocked the program.\n`
          : `Denied ${id}.\n`,
    );
  } finally {
    password.fill(0);
  }
}
