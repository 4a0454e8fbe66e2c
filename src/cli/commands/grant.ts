/** Grants: `akc grant`, `akc grants`, `akc ungrant`, `akc block`, `akc unblock`. */
import path from 'node:path';
import { flag, option, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import { describeScope, validateSecretPattern, type GrantRequest } from '../../core/policy/admin.js';
import { grantJson, grantRows } from '../../core/views/policy.js';
import { adminChange, adminRead, formatDuration, parseDuration, plural, positionals } from './agent.js';
import { blockRowsFor, isProgramOrGrant } from './unblock-target.js';
import type { PolicyAdmin } from '../../core/policy/admin.js';
import { unblockRequester, type BlockTarget } from '../../core/policy/block.js';

const MAX_USES = 1_000_000;

function scopeFromFlags(ctx: CommandContext): Pick<GrantRequest, 'scope' | 'durationMs'> {
  const forText = option(ctx.args, 'for');
  const chosen = [
    forText !== undefined && '--for',
    flag(ctx.args, 'until-lock') && '--until-lock',
    flag(ctx.args, 'always') && '--always',
  ].filter((x): x is string => Boolean(x));
  if (chosen.length === 0) throw new UsageError('choose how long the grant lasts: --for DURATION (e.g. 15m), --until-lock or --always');
  if (chosen.length > 1) throw new UsageError(`give only one of --for, --until-lock and --always (got ${chosen.join(' and ')})`);
  if (forText !== undefined) return { scope: 'duration', durationMs: parseDuration(forText) };
  return { scope: flag(ctx.args, 'always') ? 'always' : 'until_lock' };
}

function usesFromFlags(ctx: CommandContext): number | null {
  const text = option(ctx.args, 'uses');
  if (text === undefined) return null;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_USES) {
    throw new UsageError(`invalid --uses ${JSON.stringify(text)}: expected a whole number from 1 to ${MAX_USES}`);
  }
  return Number(text);
}

/** How many hex digits of a program's fingerprint `akc grants` shows (`akc unblock` takes such a prefix). */
const SHORT_FINGERPRINT = 'prog:'.length + 8;

/**
 * Who a grant is for (a row of core/views/policy.ts): the agent's name, or the program it
 * was approved for with its paths ("python3 /home/me/agent.py", "akc run via node
 * /home/me/bot.js") and a short fingerprint. Grants from before migration 6 have no label:
 * the executable's name stands in.
 */
export function grantSubject(g: Record<string, unknown>): string {
  // Printed: paths are whatever the program was called (escapes included).
  if (typeof g.agent === 'string') return sanitizeLine(g.agent);
  const who = typeof g.label === 'string' ? g.label : `program ${typeof g.exe === 'string' ? path.basename(g.exe) : '?'}`;
  const fp = typeof g.program === 'string' ? g.program.slice(0, SHORT_FINGERPRINT) : '?';
  return sanitizeLine(`${who} (${fp})`);
}

/** A run grant's command line (`-` for other grants). */
function commandOf(g: Record<string, unknown>): string {
  const c = g.command as { line?: unknown } | null | undefined;
  return c ? (typeof c.line === 'string' ? c.line : '(a command)') : '-';
}

export async function grant(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).grant(ctx);
  const [agent, pattern] = positionals(ctx, ['AGENT', 'SECRET (a name or a glob like OPENAI_*)']);
  const scope = scopeFromFlags(ctx);
  const uses = usesFromFlags(ctx);
  validateSecretPattern(pattern!);
  const req: GrantRequest = { agent: agent!, secretPattern: pattern!, ...scope, uses, keepOnRotate: flag(ctx.args, 'keep-on-rotate') };
  let matchesNothing = false;
  const { g, now } = await adminChange(
    ctx,
    (admin) => {
      admin.liveAgent(agent!);
      matchesNothing = admin.secretsMatching(pattern!).length === 0;
      return undefined;
    },
    (admin) => ({ g: admin.grant(req), now: admin.now() }),
  );
  if (ctx.json) return writeJson(ctx.io, grantJson(g, now));
  const how = g.scope === 'duration' ? `for ${formatDuration(g.expiresAt! - g.createdAt)} (${describeScope(g)})` : describeScope(g);
  ctx.io.stdout.write(
    `Granted ${g.agentName} ${g.secretPattern} ${how}${g.usesLeft !== null ? `, ${plural(g.usesLeft, 'use')}` : ''}. Grant ${g.id}.\n`,
  );
  if (g.exeSha256) ctx.note(`note: the grant applies only while ${g.agentName}'s executable has sha256 ${g.exeSha256.slice(0, 12)}…`);
  if (matchesNothing) ctx.note(`note: no secret matches ${g.secretPattern} yet`);
}

export async function grants(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  const all = flag(ctx.args, 'all');
  // The same rows either way: built here from vault.db, or by the hardened host (core/views/policy.ts).
  const rows = ctx.paths.service
    ? await (await import('../service-client.js')).serviceRows(ctx, 'grants.list', all ? { all } : {}, 'list grants')
    : await adminRead(ctx, (admin) => grantRows(admin, all));
  if (ctx.json) return writeJson(ctx.io, { grants: rows });
  if (rows.length === 0) {
    ctx.io.stdout.write(all ? 'No grants.\n' : 'No live grants. Add one with `akc grant AGENT SECRET --for 15m`.\n');
    return;
  }
  // Run grants cover one command: shown in its own column when there is one.
  const commands = rows.some((g) => g.command);
  const headers = [
    'ID',
    'AGENT',
    'SECRET',
    'EFFECT',
    'SCOPE',
    'EXPIRES',
    'USES',
    ...(all ? ['STATE'] : []),
    'CREATED',
    ...(commands ? ['COMMAND'] : []),
  ];
  ctx.io.stdout.write(
    table(
      headers,
      rows.map((g) => [
        String(g.id),
        grantSubject(g),
        String(g.secret),
        String(g.effect),
        String(g.scope).replace('_', '-'),
        formatTime(g.expiresAt as string | null),
        g.usesLeft === null ? '-' : String(g.usesLeft),
        ...(all ? [String(g.state)] : []),
        formatTime(g.createdAt as string),
        ...(commands ? [commandOf(g)] : []),
      ]),
    ),
  );
}

export async function ungrant(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).ungrant(ctx);
  const [id] = positionals(ctx, ['grant ID']);
  const { g, now } = await adminChange(
    ctx,
    (admin) => {
      admin.liveGrant(id!);
      return undefined;
    },
    (admin) => ({ g: admin.ungrant(id!), now: admin.now() }),
  );
  if (ctx.json) return writeJson(ctx.io, grantJson(g, now));
  ctx.io.stdout.write(`Revoked grant ${g.id} (${grantSubject(grantJson(g, now))} → ${g.secretPattern}).\n`);
}

export async function block(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).block(ctx);
  const [name] = positionals(ctx, ['AGENT']);
  const { g, created } = await adminChange(
    ctx,
    (admin) => {
      const agent = admin.liveAgent(name!);
      const existing = admin.blocksOf(agent.id)[0];
      return existing ? { g: existing, created: false } : undefined;
    },
    (admin) => {
      const r = admin.block(name!);
      return { g: r.grant, created: r.created };
    },
  );
  if (ctx.json) return writeJson(ctx.io, { agent: name, blocked: true, grant: g.id, created });
  ctx.io.stdout.write(
    created
      ? `Blocked ${name}: every request from it is denied until \`akc unblock ${name}\`. Grant ${g.id}.\n`
      : `${name} is already blocked (grant ${g.id}).\n`,
  );
}

export async function unblock(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).unblock(ctx);
  const [name] = positionals(ctx, ['AGENT (or a blocked program prog:…, or a block grant g_…)']);
  if (isProgramOrGrant(name!)) return unblockProgram(ctx, name!);
  const revoked = await adminChange(
    ctx,
    (admin) => {
      const agent = admin.liveAgent(name!);
      return admin.blocksOf(agent.id).length === 0 ? [] : undefined;
    },
    (admin) => admin.unblock(name!),
  );
  if (ctx.json) return writeJson(ctx.io, { agent: name, blocked: false, revokedGrants: revoked.map((g) => g.id) });
  ctx.io.stdout.write(revoked.length ? `Unblocked ${name}.\n` : `${name} is not blocked.\n`);
}

/** `akc unblock prog:…|g_…`: a block made from a prompt, lifted by revoking its grant(s). */
async function unblockProgram(ctx: CommandContext, target: string): Promise<void> {
  const blocks = (admin: PolicyAdmin) => blockRowsFor(target, grantRows(admin, false));
  const revoked = await adminChange(
    ctx,
    (admin) => {
      blocks(admin); // NOT_FOUND and friends before the password prompt
      return undefined;
    },
    (admin) => {
      admin.vault.requireKey();
      const rows = blocks(admin);
      const row = rows[0]!;
      // The one unblock rule (core/policy/block.ts), for the requester the block names.
      const t: BlockTarget =
        typeof row.agent === 'string'
          ? { kind: 'agent', agentId: admin.liveAgent(row.agent).id }
          : {
              kind: 'program',
              fingerprint: String(row.program),
              label: typeof row.label === 'string' ? row.label : String(row.program),
              exe: typeof row.exe === 'string' ? row.exe : null,
            };
      unblockRequester(admin.vault, t, 'cli');
      return rows;
    },
  );
  if (ctx.json) return writeJson(ctx.io, { target, blocked: false, revokedGrants: revoked.map((r) => r.id) });
  ctx.io.stdout.write(unblockedLine(revoked));
}

export function unblockedLine(rows: Record<string, unknown>[]): string {
  return `Unblocked ${grantSubject(rows[0]!)}: ${rows.length === 1 ? 'grant' : 'grants'} ${rows.map((r) => String(r.id)).join(', ')} revoked.\n`;
}
