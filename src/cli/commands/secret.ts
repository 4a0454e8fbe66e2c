/** Offline secret administration: set, list, show, rm. Values are never printed. */
import { AkcError } from '../../shared/errors.js';
import { isSecretType, SECRET_TYPES, secretNameProblem, type SecretType } from '../../shared/secrets.js';
import { flag, option, options, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { formatTime, table, writeJson } from '../io.js';
import { SecretStore, type SecretMeta } from '../../core/vault/secrets.js';
import { confirmNewVersion, setMessage } from './secret-version.js';
import type { Vault } from '../../core/vault/vault.js';
import { secretRows, secretView } from '../../core/views/secrets.js';
import { lifecycleLinesOf } from './secret-policy.js';
import { applyPolicy, effectiveGraceMs, requireLifecycle } from '../../core/lifecycle/policy.js';
import { formatDuration } from '../../shared/duration.js';
import { didYouMean } from '../suggest.js';

/** Hardened mode's client (loaded only then: it brings the peer-credential check). */
const service = () => import('../service-client.js');

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
    // Names are metadata: whether NAME exists is known before the password is asked.
    const existing = new SecretStore(vault).find(name);
    if (existing && !flag(ctx.args, 'new-version')) await confirmNewVersion(ctx, name, existing.currentVersion, graceOf(vault, name));
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const value = await ctx.input.value(name);
    try {
      const r = new SecretStore(vault).set(
        name,
        value,
        {
          ...(type ? { type } : {}),
          ...(option(ctx.args, 'description') !== undefined ? { description: option(ctx.args, 'description')! } : {}),
          ...(option(ctx.args, 'owner') !== undefined ? { owner: option(ctx.args, 'owner')! } : {}),
          ...(tags.length ? { tags } : {}),
        },
        { agent: 'cli' },
        // Nobody confirmed a new version: refuse if the name appeared meanwhile.
        { mustCreate: !existing && !flag(ctx.args, 'new-version') },
      );
      if (flag(ctx.args, 'canary')) applyPolicy(vault, name, { canary: true }, 'cli');
      if (ctx.json) {
        return writeJson(ctx.io, {
          name,
          version: r.version,
          created: r.created,
          ...(r.previous
            ? {
                previous: r.previous.version,
                previousState: r.previous.state,
                previousRetiresAt: new Date(r.previous.retireAt).toISOString(),
              }
            : {}),
        });
      }
      ctx.io.stdout.write(
        setMessage(name, r.version, r.created, r.previous && { ...r.previous, retireAt: new Date(r.previous.retireAt).toISOString() }),
      );
    } finally {
      value.fill(0);
    }
  } finally {
    vault.close();
  }
}

function graceOf(vault: Vault, name: string): string {
  return formatDuration(effectiveGraceMs(requireLifecycle(vault.db, name)));
}

/**
 * Names, types and descriptions are stored unencrypted (the host lists them to agents
 * while locked), so listing needs no unlock. See SECURITY.md. In hardened mode the host
 * builds the same rows (core/views/secrets.ts).
 */
export async function list(ctx: CommandContext): Promise<void> {
  const secrets = ctx.paths.service
    ? await (await service()).serviceRows(ctx, 'secrets.list', {}, 'list secrets')
    : await withVault(ctx, (vault) => secretRows(vault));
  if (ctx.json) return writeJson(ctx.io, { secrets });
  if (secrets.length === 0) {
    ctx.io.stdout.write('No secrets yet. Add one with `akc secret set NAME`.\n');
    return;
  }
  ctx.io.stdout.write(
    table(
      ['NAME', 'TYPE', 'VERSION', 'UPDATED', 'DESCRIPTION'],
      secrets.map((s) => [
        String(s.name),
        String(s.type),
        String(s.currentVersion),
        formatTime(s.updatedAt as string),
        String(s.description),
      ]),
    ),
  );
}

export async function show(ctx: CommandContext): Promise<void> {
  const name = nameArg(ctx);
  const view = ctx.paths.service
    ? await (await service()).serviceCall(ctx, 'secret.show', { name }, `show ${name}`)
    : await withVault(ctx, (vault) => {
        getWithSuggestion(new SecretStore(vault), name);
        return secretView(vault, name);
      });
  if (ctx.json) return writeJson(ctx.io, view);
  const versions = view.versions as { version: number; state: string; createdAt: string }[];
  ctx.io.stdout.write(
    [
      `name         ${String(view.name)}`,
      `type         ${String(view.type)}`,
      `description  ${String(view.description || '-')}`,
      `owner        ${String(view.owner || '-')}`,
      `tags         ${(view.tags as string[]).join(', ') || '-'}`,
      `created      ${formatTime(view.createdAt as string)}`,
      `updated      ${formatTime(view.updatedAt as string)}`,
      ...lifecycleLinesOf(name, view),
      '',
    ].join('\n') +
      table(
        ['VERSION', 'STATE', 'CREATED'],
        versions.map((v) => [String(v.version), v.state, formatTime(v.createdAt)]),
      ),
  );
}

/** Runs `fn` on the vault in the data dir (offline mode), closing it after. */
async function withVault<T>(ctx: CommandContext, fn: (vault: Vault) => T): Promise<T> {
  const vault = await openVault(ctx);
  try {
    return fn(vault);
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
