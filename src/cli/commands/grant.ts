/** Grants: `akc grant`, `akc grants`, `akc ungrant`, `akc block`, `akc unblock`. */
import path from 'node:path';
import { flag, option, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import { describeScope, grantState, validateSecretPattern, type GrantRequest } from '../../core/policy/admin.js';
import type { Grant } from '../../core/policy/grants.js';
import { adminChange, adminRead, formatDuration, iso, parseDuration, plural, positionals } from './agent.js';

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

/** Who a grant is for: the agent's name, or the program it was approved for. */
export function grantSubject(g: Grant): string {
  // Printed: the executable's name is whatever the program was called (escapes included).
  if (g.agentName) return sanitizeLine(g.agentName);
  return sanitizeLine(`program ${g.exePath ? path.basename(g.exePath) : '?'} (${g.fingerprint ?? '?'})`);
}

export function grantJson(g: Grant, now: number): Record<string, unknown> {
  return {
    id: g.id,
    agent: g.agentName,
    program: g.agentId ? null : g.fingerprint,
    exe: g.exePath,
    exeSha256: g.exeSha256,
    secret: g.secretPattern,
    effect: g.effect,
    scope: g.scope,
    expiresAt: iso(g.expiresAt),
    usesLeft: g.usesLeft,
    keepOnRotate: g.keepOnRotate,
    state: grantState(g, now),
    createdAt: iso(g.createdAt),
    createdBy: g.createdBy,
    revokedAt: iso(g.revokedAt),
  };
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
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).grants(ctx);
  positionals(ctx, []);
  const all = flag(ctx.args, 'all');
  const { rows, now } = await adminRead(ctx, (admin) => {
    const now = admin.now();
    return { rows: admin.grants.list(now, { includeEnded: all }), now };
  });
  if (ctx.json) return writeJson(ctx.io, { grants: rows.map((g) => grantJson(g, now)) });
  if (rows.length === 0) {
    ctx.io.stdout.write(all ? 'No grants.\n' : 'No live grants. Add one with `akc grant AGENT SECRET --for 15m`.\n');
    return;
  }
  const headers = ['ID', 'AGENT', 'SECRET', 'EFFECT', 'SCOPE', 'EXPIRES', 'USES', ...(all ? ['STATE'] : []), 'CREATED'];
  ctx.io.stdout.write(
    table(
      headers,
      rows.map((g) => [
        g.id,
        grantSubject(g),
        g.secretPattern,
        g.effect,
        g.scope.replace('_', '-'),
        formatTime(g.expiresAt),
        g.usesLeft === null ? '-' : String(g.usesLeft),
        ...(all ? [grantState(g, now)] : []),
        formatTime(g.createdAt),
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
  ctx.io.stdout.write(`Revoked grant ${g.id} (${grantSubject(g)} → ${g.secretPattern}).\n`);
}

export async function block(ctx: CommandContext): Promise<void> {
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
  const [name] = positionals(ctx, ['AGENT']);
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
