/** Offline secret administration: set, list, show, rm. Values are never printed. */
import { AkcError } from '../../shared/errors.js';
import { isSecretType, SECRET_TYPES, secretNameProblem, type SecretType } from '../../shared/secrets.js';
import { flag, option, options, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { SecretStore, type SecretMeta } from '../../core/vault/secrets.js';
import { lifecycleJson, lifecycleLines } from './secret-policy.js';
import { applyPolicy } from '../../core/lifecycle/policy.js';
import { didYouMean } from '../suggest.js';

/** store.get, with "did you mean …?" naming the closest stored secret when NAME is missing. */
function getWithSuggestion(store: SecretStore, name: string): SecretMeta {
  try {
    return store.get(name);
  } catch (err) {
    if (!(err instanceof AkcError) || err.code !== 'NOT_FOUND') throw err;
    const near = didYouMean(
      name,
      store.list().map((m) => m.name),
    );
    throw near ? new AkcError('NOT_FOUND', err.message, { hint: `${near} (see \`akc secret list\`)` }) : err;
  }
}

function nameArg(ctx: CommandContext): string {
  const [name, extra] = ctx.args.positionals;
  if (!name) throw new UsageError('missing secret NAME');
  if (extra !== undefined) {
    throw new UsageError('unexpected argument after NAME (values never come from the command line; use --value-stdin or the prompt)');
  }
  // A malformed NAME is a usage error (exit 2), like an unknown --type.
  const problem = secretNameProblem(name);
  if (problem) throw new UsageError(`invalid secret name: ${problem}`);
  return name;
}

function typeOption(ctx: CommandContext): SecretType | undefined {
  const type = option(ctx.args, 'type');
  if (type === undefined) return undefined;
  if (!isSecretType(type)) throw new UsageError(`unknown type ${type}; one of: ${SECRET_TYPES.join(', ')}`);
  return type;
}

export async function set(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).secretSet(ctx);
  const name = nameArg(ctx);
  const type = typeOption(ctx);
  const tags = options(ctx.args, 'tag');
  if (flag(ctx.args, 'keep-newline') && !flag(ctx.args, 'value-stdin')) throw new UsageError('--keep-newline applies to --value-stdin');
  const vault = await openVault(ctx);
  try {
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const value = await ctx.input.value(name);
    try {
      const { version, created } = new SecretStore(vault).set(
        name,
        value,
        {
          ...(type ? { type } : {}),
          ...(option(ctx.args, 'description') !== undefined ? { description: option(ctx.args, 'description')! } : {}),
          ...(option(ctx.args, 'owner') !== undefined ? { owner: option(ctx.args, 'owner')! } : {}),
          ...(tags.length ? { tags } : {}),
        },
        { agent: 'cli' },
      );
      if (flag(ctx.args, 'canary')) applyPolicy(vault, name, { canary: true }, 'cli');
      if (ctx.json) return writeJson(ctx.io, { name, version, created });
      ctx.io.stdout.write(`${created ? 'Created' : 'Updated'} ${name} (version ${version}).\n`);
    } finally {
      value.fill(0);
    }
  } finally {
    vault.close();
  }
}

function metaJson(m: SecretMeta): Record<string, unknown> {
  return {
    name: m.name,
    type: m.type,
    description: m.description,
    owner: m.owner,
    tags: m.tags,
    currentVersion: m.currentVersion,
    createdAt: new Date(m.createdAt).toISOString(),
    updatedAt: new Date(m.updatedAt).toISOString(),
  };
}

/**
 * Names, types and descriptions are stored unencrypted (the host lists them to agents
 * while locked), so listing needs no unlock. See SECURITY.md.
 */
export async function list(ctx: CommandContext): Promise<void> {
  const vault = await openVault(ctx);
  try {
    const secrets = new SecretStore(vault).list();
    if (ctx.json) return writeJson(ctx.io, { secrets: secrets.map((s) => ({ ...metaJson(s), ...lifecycleJson(vault.db, s.name) })) });
    if (secrets.length === 0) {
      ctx.io.stdout.write('No secrets yet. Add one with `akc secret set NAME`.\n');
      return;
    }
    ctx.io.stdout.write(
      table(
        ['NAME', 'TYPE', 'VERSION', 'UPDATED', 'DESCRIPTION'],
        secrets.map((s) => [s.name, s.type, String(s.currentVersion), formatTime(s.updatedAt), s.description]),
      ),
    );
  } finally {
    vault.close();
  }
}

export async function show(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).secretShow(ctx);
  const name = nameArg(ctx);
  const vault = await openVault(ctx);
  try {
    const store = new SecretStore(vault);
    const meta = getWithSuggestion(store, name);
    const versions = store.versions(name);
    if (ctx.json) {
      return writeJson(ctx.io, {
        ...metaJson(meta),
        ...lifecycleJson(vault.db, name),
        versions: versions.map((v) => ({
          version: v.version,
          state: v.state,
          createdAt: new Date(v.createdAt).toISOString(),
          retireAt: v.retireAt === null ? null : new Date(v.retireAt).toISOString(),
        })),
      });
    }
    ctx.io.stdout.write(
      [
        `name         ${meta.name}`,
        `type         ${meta.type}`,
        `description  ${meta.description || '-'}`,
        `owner        ${meta.owner || '-'}`,
        `tags         ${meta.tags.join(', ') || '-'}`,
        `created      ${formatTime(meta.createdAt)}`,
        `updated      ${formatTime(meta.updatedAt)}`,
        ...lifecycleLines(vault.db, name),
        '',
      ].join('\n') +
        table(
          ['VERSION', 'STATE', 'CREATED'],
          versions.map((v) => [String(v.version), v.state, formatTime(v.createdAt)]),
        ),
    );
  } finally {
    vault.close();
  }
}

export async function rm(ctx: CommandContext): Promise<void> {
  // Hardened mode: the vault belongs to the service user; ask the host (service-admin.ts).
  if (ctx.paths.service) return (await import('./service-admin.js')).secretRm(ctx);
  const name = nameArg(ctx);
  const vault = await openVault(ctx);
  try {
    const store = new SecretStore(vault);
    getWithSuggestion(store, name); // NOT_FOUND before asking for a password
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    store.remove(name, { agent: 'cli' });
    if (ctx.json) return writeJson(ctx.io, { name, deleted: true });
    ctx.io.stdout.write(`Deleted ${name} and all its versions.\n`);
  } catch (err) {
    if (err instanceof AkcError) throw err;
    throw new AkcError('INTERNAL', `failed to delete ${name}`, { cause: err });
  } finally {
    vault.close();
  }
}
