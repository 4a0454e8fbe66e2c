/**
 * The admin commands in hardened mode: the desktop user cannot open vault.db (the service
 * user owns it), so `akc init`, `akc secret set|rm|show`, `akc agent add|revoke`,
 * `akc grant`, `akc ungrant`, `akc grants` and `akc audit verify|export` ask the host
 * (shared/service-protocol.ts) through service-client.ts. The offline commands call these
 * when `ctx.paths.service` is set; their argument checks stay where they are.
 */
import path from 'node:path';
import { isSecretType, SECRET_TYPES, secretNameProblem } from '../../shared/secrets.js';
import { AkcError } from '../../shared/errors.js';
import { flag, option, options, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { serviceCall } from '../service-client.js';
import { parseDuration, positionals } from './agent.js';

function secretName(ctx: CommandContext): string {
  const [name, extra] = ctx.args.positionals;
  if (!name) throw new UsageError('missing secret NAME');
  if (extra !== undefined) throw new UsageError('unexpected argument after NAME (values never come from the command line)');
  const problem = secretNameProblem(name);
  if (problem) throw new UsageError(`invalid secret name: ${problem}`);
  return name;
}

async function passwordText(ctx: CommandContext, fresh = false): Promise<string> {
  const buf = fresh ? await ctx.input.newPassword('Choose a master password: ') : await ctx.input.password();
  try {
    return buf.toString('utf8');
  } finally {
    buf.fill(0);
  }
}

export async function init(ctx: CommandContext): Promise<void> {
  if (flag(ctx.args, 'keychain')) throw new UsageError('the hardened host has no OS keychain: it is unlocked with `akc unlock`');
  const r = await serviceCall(ctx, 'vault.init', async () => ({ auth: { password: await passwordText(ctx, true) } }), 'create the vault');
  if (ctx.json) return writeJson(ctx.io, { ...r, socket: ctx.paths.socket, mode: 'service' });
  ctx.io.stdout.write(
    `Created a vault in the hardened host (${ctx.paths.socket}); it is unlocked now.\n` +
      'After the host restarts, unlock it with `akc unlock`. Admin commands go through the host.\n',
  );
}

export async function secretSet(ctx: CommandContext): Promise<void> {
  const name = secretName(ctx);
  const type = option(ctx.args, 'type');
  if (type !== undefined && !isSecretType(type)) throw new UsageError(`unknown type ${type}; one of: ${SECRET_TYPES.join(', ')}`);
  const tags = options(ctx.args, 'tag');
  const r = await serviceCall(
    ctx,
    'secret.set',
    async () => {
      const password = await passwordText(ctx);
      const buf = await ctx.input.value(name);
      try {
        return {
          auth: { password },
          name,
          value: buf.toString('utf8'),
          ...(type !== undefined ? { type } : {}),
          ...(option(ctx.args, 'description') !== undefined ? { description: option(ctx.args, 'description')! } : {}),
          ...(option(ctx.args, 'owner') !== undefined ? { owner: option(ctx.args, 'owner')! } : {}),
          ...(tags.length ? { tags } : {}),
          ...(flag(ctx.args, 'canary') ? { canary: true } : {}),
        };
      } finally {
        buf.fill(0);
      }
    },
    `store ${name}`,
  );
  if (ctx.json) return writeJson(ctx.io, r);
  ctx.io.stdout.write(`${r.created ? 'Created' : 'Updated'} ${name} (version ${r.version}).\n`);
}

export async function secretRm(ctx: CommandContext): Promise<void> {
  const name = secretName(ctx);
  const r = await serviceCall(ctx, 'secret.rm', async () => ({ auth: { password: await passwordText(ctx) }, name }), `delete ${name}`);
  if (ctx.json) return writeJson(ctx.io, r);
  ctx.io.stdout.write(`Deleted ${name} and all its versions.\n`);
}

export async function secretShow(ctx: CommandContext): Promise<void> {
  const name = secretName(ctx);
  const r = await serviceCall(ctx, 'secret.show', { name }, `show ${name}`);
  if (ctx.json) return writeJson(ctx.io, r);
  const versions = (r.versions as { version: number; state: string; createdAt: string }[]) ?? [];
  ctx.io.stdout.write(
    [
      `name         ${String(r.name)}`,
      `type         ${String(r.type)}`,
      `description  ${String(r.description || '-')}`,
      `owner        ${String(r.owner || '-')}`,
      `tags         ${((r.tags as string[]) ?? []).join(', ') || '-'}`,
      `created      ${String(r.createdAt)}`,
      `updated      ${String(r.updatedAt)}`,
      '',
    ].join('\n') +
      table(
        ['VERSION', 'STATE', 'CREATED'],
        versions.map((v) => [String(v.version), v.state, v.createdAt]),
      ),
  );
}

export async function agentAdd(ctx: CommandContext): Promise<void> {
  const [name] = positionals(ctx, ['agent NAME']);
  const exe = option(ctx.args, 'exe');
  if (!exe) throw new UsageError('missing --exe PATH (the executable or script this agent runs as)');
  const sha256 = option(ctx.args, 'sha256');
  const argPattern = option(ctx.args, 'arg-pattern');
  const cwd = option(ctx.args, 'cwd');
  const r = await serviceCall(
    ctx,
    'agent.add',
    async () => ({
      auth: { password: await passwordText(ctx) },
      name: name!,
      // The host resolves and hashes it; a relative path means relative to here.
      exe: path.resolve(exe),
      ...(sha256 !== undefined ? { sha256 } : {}),
      ...(argPattern !== undefined ? { argPattern } : {}),
      ...(cwd !== undefined ? { cwd } : {}),
      ...(flag(ctx.args, 'replace') ? { replace: true } : {}),
    }),
    `add agent ${name}`,
  );
  if (ctx.json) return writeJson(ctx.io, { ...r.agent, result: r.status });
  const verb = r.status === 'added' ? 'Added' : r.status === 'replaced' ? 'Updated' : 'Restored';
  const sha = r.agent.sha256 as string | null;
  ctx.io.stdout.write(`${verb} agent ${name}: ${String(r.agent.exe)}${sha ? ` (sha256 ${sha.slice(0, 12)}…)` : ' (any sha256)'}\n`);
}

export async function agentRevoke(ctx: CommandContext): Promise<void> {
  const [name] = positionals(ctx, ['agent NAME']);
  const r = await serviceCall(
    ctx,
    'agent.revoke',
    async () => ({ auth: { password: await passwordText(ctx) }, name: name! }),
    `revoke ${name}`,
  );
  if (ctx.json) return writeJson(ctx.io, { name: r.agent, revoked: true, grantsRevoked: r.grants, leasesRevoked: r.leases });
  ctx.io.stdout.write(`Revoked agent ${r.agent} with ${r.grants} grant(s) and ${r.leases} lease(s).\n`);
}

export async function grant(ctx: CommandContext): Promise<void> {
  const [agent, secret] = positionals(ctx, ['AGENT', 'SECRET (a name or a glob like OPENAI_*)']);
  const forText = option(ctx.args, 'for');
  const chosen = [forText !== undefined, flag(ctx.args, 'until-lock'), flag(ctx.args, 'always')].filter(Boolean).length;
  if (chosen !== 1) throw new UsageError('choose exactly one of --for DURATION, --until-lock and --always');
  const usesText = option(ctx.args, 'uses');
  if (usesText !== undefined && !/^\d{1,7}$/.test(usesText)) throw new UsageError(`invalid --uses ${JSON.stringify(usesText)}`);
  const scope = forText !== undefined ? 'duration' : flag(ctx.args, 'always') ? 'always' : 'until_lock';
  const r = await serviceCall(
    ctx,
    'grant.add',
    async () => ({
      auth: { password: await passwordText(ctx) },
      agent: agent!,
      secret: secret!,
      scope,
      ...(forText !== undefined ? { durationMs: parseDuration(forText) } : {}),
      ...(usesText !== undefined ? { uses: Number(usesText) } : {}),
      ...(flag(ctx.args, 'keep-on-rotate') ? { keepOnRotate: true } : {}),
    }),
    `grant ${secret} to ${agent}`,
  );
  if (ctx.json) return writeJson(ctx.io, r.grant);
  ctx.io.stdout.write(`Granted ${agent} ${secret} (${scope.replace('_', ' ')}). Grant ${String(r.grant.id)}.\n`);
}

export async function ungrant(ctx: CommandContext): Promise<void> {
  const [id] = positionals(ctx, ['grant ID']);
  const r = await serviceCall(
    ctx,
    'grant.rm',
    async () => ({ auth: { password: await passwordText(ctx) }, id: id! }),
    `revoke grant ${id}`,
  );
  if (ctx.json) return writeJson(ctx.io, r.grant);
  ctx.io.stdout.write(`Revoked grant ${id}.\n`);
}

export async function grants(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  const all = flag(ctx.args, 'all');
  const { grants: rows } = await serviceCall(ctx, 'grants.list', all ? { all } : {}, 'list grants');
  if (ctx.json) return writeJson(ctx.io, { grants: rows });
  if (rows.length === 0) {
    ctx.io.stdout.write(all ? 'No grants.\n' : 'No live grants.\n');
    return;
  }
  ctx.io.stdout.write(
    table(
      ['ID', 'AGENT', 'SECRET', 'EFFECT', 'SCOPE', 'EXPIRES', 'STATE'],
      rows.map((g) => [
        String(g.id),
        String(g.agent ?? g.program ?? '?'),
        String(g.secret),
        String(g.effect),
        String(g.scope).replace('_', '-'),
        g.expiresAt ? formatTime(Date.parse(String(g.expiresAt))) : '-',
        String(g.state),
      ]),
    ),
  );
}

export async function auditVerify(ctx: CommandContext): Promise<number> {
  positionals(ctx, []);
  const r = await serviceCall(ctx, 'audit.verify', {}, 'verify the audit log');
  if (ctx.json) writeJson(ctx.io, r);
  if (!r.ok) throw new AkcError('CORRUPT', `audit log altered at entry ${String(r.firstBadSeq)}: ${String(r.problem)}`);
  if (!ctx.json) {
    ctx.io.stdout.write(
      `Audit log OK: ${String(r.entries)} entries${r.macChecked ? `, ${String(r.checkpointsVerified)} signed checkpoint(s) checked by the host` : ' (host locked: checkpoints not checked)'}.\n`,
    );
  }
  return 0;
}

export async function auditExport(ctx: CommandContext, since: number): Promise<void> {
  positionals(ctx, []);
  let afterSeq = 0;
  for (;;) {
    const page = await serviceCall(ctx, 'audit.export', { afterSeq, ...(since ? { since } : {}) }, 'export the audit log');
    if (page.entries.length) ctx.io.stdout.write(page.entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    if (page.next === null) return;
    afterSeq = page.next;
  }
}
