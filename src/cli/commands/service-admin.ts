/**
 * The admin commands that change something, in hardened mode: the desktop user cannot
 * open vault.db (the service user owns it), so `akc init`, `akc passwd`,
 * `akc secret set|rm`, `akc agent add|revoke`, `akc block|unblock`, `akc grant`,
 * `akc ungrant`, `akc lease revoke`, `akc policy import` (and `policy export`) ask the host (shared/service-protocol.ts) through
 * service-client.ts, with the master password. The offline commands call these when
 * `ctx.paths.service` is set; their argument checks stay where they are. The list
 * commands (`secret list|show`, `agent list`, `grants`, `leases`, `audit`, `status`)
 * page through the host's rows in their own modules, printing them as offline.
 */
import path from 'node:path';
import { isSecretType, SECRET_TYPES, secretNameProblem } from '../../shared/secrets.js';
import { SERVICE_POLICY_MAX_BYTES, type JsonRecord, type ServicePage, type ServiceResults } from '../../shared/service-protocol.js';
import type { ImportSummary, PolicyDocument } from '../../core/policy/policy-file.js';
import { AkcError } from '../../shared/errors.js';
import { flag, option, options, UsageError } from '../args.js';
import type { CommandContext } from '../context.js';
import { writeJson } from '../io.js';
import { serviceCall, withService } from '../service-client.js';
import { parseDuration, positionals } from './agent.js';
import { confirmNewVersion, setMessage } from './secret-version.js';
import { blockRowsFor, isProgramOrGrant } from './unblock-target.js';
import { unblockedLine } from './grant.js';

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
  const r = await withService(ctx, `store ${name}`, async (call) => {
    // As offline: an existing NAME gets a new version only when asked for (secret-version.ts).
    let newVersion = flag(ctx.args, 'new-version');
    if (!newVersion) {
      const view = await call('secret.show', { name }).catch((err: unknown) => {
        if (err instanceof AkcError && err.code === 'NOT_FOUND') return null;
        throw err;
      });
      if (view) {
        await confirmNewVersion(ctx, name, Number(view.currentVersion), String(view.grace ?? '1h'));
        newVersion = true;
      }
    }
    const password = await passwordText(ctx);
    const buf = await ctx.input.value(name);
    try {
      return await call('secret.set', {
        auth: { password },
        name,
        value: buf.toString('utf8'),
        ...(type !== undefined ? { type } : {}),
        ...(option(ctx.args, 'description') !== undefined ? { description: option(ctx.args, 'description')! } : {}),
        ...(option(ctx.args, 'owner') !== undefined ? { owner: option(ctx.args, 'owner')! } : {}),
        ...(tags.length ? { tags } : {}),
        ...(flag(ctx.args, 'canary') ? { canary: true } : {}),
        ...(newVersion ? { newVersion: true } : {}),
      });
    } finally {
      buf.fill(0);
    }
  });
  if (ctx.json) return writeJson(ctx.io, r);
  const previous =
    r.previous !== undefined && r.previousState && r.previousRetiresAt
      ? { version: r.previous, state: r.previousState, retireAt: r.previousRetiresAt }
      : undefined;
  ctx.io.stdout.write(setMessage(name, r.version, r.created, previous));
}

export async function secretRm(ctx: CommandContext): Promise<void> {
  const name = secretName(ctx);
  const r = await serviceCall(ctx, 'secret.rm', async () => ({ auth: { password: await passwordText(ctx) }, name }), `delete ${name}`);
  if (ctx.json) return writeJson(ctx.io, r);
  ctx.io.stdout.write(`Deleted ${name} and all its versions.\n`);
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

/** `akc passwd`: line 1 of --password-stdin is the current password, line 2 the new one. */
export async function passwd(ctx: CommandContext): Promise<void> {
  positionals(ctx, []);
  await serviceCall(
    ctx,
    'vault.passwd',
    async () => {
      const current = await ctx.input.password('Current master password: ');
      let fresh: Buffer | null = null;
      try {
        fresh = flag(ctx.args, 'password-stdin') ? await ctx.input.secondStdinLine('new password') : await ctx.input.newPassword();
        return { auth: { password: current.toString('utf8') }, newPassword: fresh.toString('utf8') };
      } finally {
        current.fill(0);
        fresh?.fill(0);
      }
    },
    'change the master password',
  );
  if (ctx.json) return writeJson(ctx.io, { changed: true });
  ctx.io.stdout.write('Master password changed.\n');
}

export async function block(ctx: CommandContext): Promise<void> {
  const [name] = positionals(ctx, ['AGENT']);
  const r = await serviceCall(
    ctx,
    'agent.block',
    async () => ({ auth: { password: await passwordText(ctx) }, name: name! }),
    `block ${name}`,
  );
  if (ctx.json) return writeJson(ctx.io, { agent: name, blocked: true, grant: r.grant, created: r.created });
  ctx.io.stdout.write(
    r.created
      ? `Blocked ${name}: every request from it is denied until \`akc unblock ${name}\`. Grant ${r.grant}.\n`
      : `${name} is already blocked (grant ${r.grant}).\n`,
  );
}

export async function unblock(ctx: CommandContext): Promise<void> {
  const [name] = positionals(ctx, ['AGENT (or a blocked program prog:…, or a block grant g_…)']);
  if (isProgramOrGrant(name!)) return unblockProgram(ctx, name!);
  const r = await serviceCall(
    ctx,
    'agent.unblock',
    async () => ({ auth: { password: await passwordText(ctx) }, name: name! }),
    `unblock ${name}`,
  );
  if (ctx.json) return writeJson(ctx.io, { agent: name, blocked: false, revokedGrants: r.revokedGrants });
  ctx.io.stdout.write(r.revokedGrants.length ? `Unblocked ${name}.\n` : `${name} is not blocked.\n`);
}

/** `akc unblock prog:…|g_…` through the host: its grant rows name the block(s), `grant.rm` lifts them. */
async function unblockProgram(ctx: CommandContext, target: string): Promise<void> {
  const rows = await withService(ctx, `unblock ${target}`, async (call) => {
    const live: JsonRecord[] = [];
    for (let offset: number | null = 0; offset !== null;) {
      const page: ServicePage = await call('grants.list', { offset });
      live.push(...page.rows);
      offset = page.next !== null && page.next > offset ? page.next : null;
    }
    const blocks = blockRowsFor(target, live);
    const password = await passwordText(ctx);
    for (const b of blocks) await call('grant.rm', { auth: { password }, id: String(b.id) });
    return blocks;
  });
  if (ctx.json) return writeJson(ctx.io, { target, blocked: false, revokedGrants: rows.map((r) => r.id) });
  ctx.io.stdout.write(unblockedLine(rows));
}

export async function leaseRevoke(ctx: CommandContext, id: string): Promise<{ id: string; secret: string; version: number }> {
  return serviceCall(ctx, 'leases.revoke', async () => ({ auth: { password: await passwordText(ctx) }, id }), `revoke lease ${id}`);
}

/** The policy text, page after page; a policy that changed between pages is an error, not a torn file. */
export async function policyExport(ctx: CommandContext, format: 'yaml' | 'json'): Promise<string> {
  return withService(ctx, 'export the policy', async (call) => {
    let text = '';
    let digest: string | null = null;
    for (let offset: number | null = 0; offset !== null;) {
      const page: ServiceResults['policy.export'] = await call('policy.export', { format, offset });
      if (digest !== null && page.digest !== digest) {
        throw new AkcError('IO', 'failed to export the policy: it changed while it was read', { hint: 'run `akc policy export` again' });
      }
      digest = page.digest;
      text += page.text;
      if (page.next !== null && page.next <= offset) throw new AkcError('PROTOCOL', 'failed to export the policy: a page did not advance');
      offset = page.next;
    }
    return text;
  });
}

/**
 * Sends the parsed document as JSON with its agents' paths made absolute here (the host
 * resolves and hashes them, from its own working directory otherwise). The host parses
 * and checks it again before applying.
 */
export async function policyImport(ctx: CommandContext, doc: PolicyDocument, source: string, replace: boolean): Promise<ImportSummary> {
  const text = JSON.stringify({ ...doc, agents: doc.agents.map((a) => ({ ...a, exe: path.resolve(a.exe) })) });
  if (Buffer.byteLength(text) > SERVICE_POLICY_MAX_BYTES) {
    throw new AkcError(
      'INVALID_ARGUMENT',
      `failed to import ${source}: larger than ${SERVICE_POLICY_MAX_BYTES} bytes as JSON, the hardened host's limit`,
      {
        hint: 'split it into several files and import them one by one (without --replace)',
      },
    );
  }
  const r = await serviceCall(
    ctx,
    'policy.import',
    async () => ({ auth: { password: await passwordText(ctx) }, text, source, ...(replace ? { replace } : {}) }),
    `import ${source}`,
  );
  return r as unknown as ImportSummary;
}
