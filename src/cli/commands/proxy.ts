/**
 * `akc proxy add|list|rm`: bindings for the brokering proxy. Offline admin commands: they
 * open the vault directly; changes need the master password. Parse → core/proxy/admin.ts
 * (which the desktop app calls too) → print.
 */
import { AkcError } from '../../shared/errors.js';
import { flag, option, options, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { table, writeJson } from '../io.js';
import {
  DEFAULT_HEADER,
  basicAuth,
  describeAuth,
  parseHeaderAuth,
  parseQueryAuth,
  validateBindingName,
  type BindingAuth,
} from '../../core/proxy/bindings.js';
import {
  addBinding,
  bindingJson,
  existingBinding,
  listBindings,
  proxyEndpoints,
  removeBinding,
  validateBinding,
} from '../../core/proxy/admin.js';

function nameArg(ctx: CommandContext): string {
  const [name, extra] = ctx.args.positionals;
  if (!name) throw new UsageError('missing binding NAME');
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  try {
    validateBindingName(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return name;
}

function authFromFlags(ctx: CommandContext): BindingAuth {
  const header = option(ctx.args, 'header');
  const query = option(ctx.args, 'query');
  const basic = option(ctx.args, 'basic-auth');
  const given = [header !== undefined && '--header', query !== undefined && '--query', basic !== undefined && '--basic-auth'].filter(
    Boolean,
  );
  if (given.length > 1) throw new UsageError(`give only one of --header, --query and --basic-auth (got ${given.join(' and ')})`);
  try {
    if (query !== undefined) return parseQueryAuth(query);
    if (basic !== undefined) return basicAuth(basic);
    return parseHeaderAuth(header ?? DEFAULT_HEADER);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export async function add(ctx: CommandContext): Promise<void> {
  const name = nameArg(ctx);
  const upstream = option(ctx.args, 'upstream');
  const secret = option(ctx.args, 'secret');
  if (!upstream) throw new UsageError('missing --upstream URL (e.g. https://api.openai.com)');
  if (!secret) throw new UsageError('missing --secret NAME (the secret that authenticates the upstream)');
  const auth = authFromFlags(ctx);
  const replace = flag(ctx.args, 'replace');
  const input = {
    name,
    upstream,
    secret,
    auth,
    allow: options(ctx.args, 'allow'),
    allowPrivate: flag(ctx.args, 'allow-private'),
    baseUrlEnv: option(ctx.args, 'base-url-env') ?? null,
    placeholderEnv: option(ctx.args, 'placeholder-env') ?? null,
  };
  const vault = await openVault(ctx);
  try {
    // Catch mistakes before asking for the password.
    try {
      validateBinding(vault, input, { replace });
    } catch (err) {
      if (err instanceof AkcError && err.code === 'INVALID_ARGUMENT')
        throw new UsageError(err.message + (err.hint ? ` (${err.hint})` : ''));
      throw err;
    }
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const { binding, replaced, secretExists } = addBinding(vault, input, { replace, by: 'cli' });
    const where = proxyEndpoints(vault, ctx.paths.socket);
    if (!secretExists) ctx.note(`note: no secret named ${binding.secret} yet; add it with \`akc secret set ${binding.secret}\``);
    if (binding.allowPrivate) ctx.note('note: --allow-private lets this binding reach addresses on this machine and your networks');
    if (ctx.json) return writeJson(ctx.io, { ...bindingJson(binding, where), replaced });
    ctx.io.stdout.write(
      `${replaced ? 'Updated' : 'Added'} proxy binding ${binding.name} → ${binding.upstream} (${describeAuth(binding.auth)}, secret ${binding.secret}).\n` +
        `Agents call ${where.url ? `${where.url}/${binding.name}/…` : `http://127.0.0.1:<port>/${binding.name}/… (port chosen when the host first starts)`}` +
        ` or the Unix socket ${where.socket} with no key.\n`,
    );
  } finally {
    vault.close();
  }
}

export async function list(ctx: CommandContext): Promise<void> {
  const vault = await openVault(ctx);
  try {
    const listed = listBindings(vault);
    const where = proxyEndpoints(vault, ctx.paths.socket);
    if (ctx.json) return writeJson(ctx.io, { proxy: where, bindings: listed.map((l) => bindingJson(l.binding, where)) });
    if (listed.length === 0) {
      ctx.io.stdout.write('No proxy bindings. Add one with `akc proxy add NAME --upstream URL --secret SECRET`.\n');
      return;
    }
    ctx.io.stdout.write(
      table(
        ['NAME', 'UPSTREAM', 'SECRET', 'AUTH', 'ALLOW', 'PRIVATE'],
        listed.map(({ binding: b }) => [
          b.name,
          b.upstream,
          b.secret,
          describeAuth(b.auth),
          b.allow.length ? b.allow.join(', ') : 'everything',
          b.allowPrivate ? 'allowed' : 'refused',
        ]),
      ),
    );
    ctx.io.stdout.write(`\nproxy: ${where.url ?? '(TCP port not chosen yet)'} · socket ${where.socket}\n`);
  } finally {
    vault.close();
  }
}

export async function rm(ctx: CommandContext): Promise<void> {
  const name = nameArg(ctx);
  const vault = await openVault(ctx);
  try {
    existingBinding(vault, name); // NOT_FOUND before the password
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    removeBinding(vault, name, 'cli');
    if (ctx.json) return writeJson(ctx.io, { name, removed: true });
    ctx.io.stdout.write(`Removed proxy binding ${name}.\n`);
  } finally {
    vault.close();
  }
}
