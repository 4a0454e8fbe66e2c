/**
 * `akc proxy add|list|rm`: bindings for the brokering proxy. Offline admin commands:
 * they open the vault directly; changes need the master password and are audited.
 */
import { AkcError } from '../../shared/errors.js';
import { flag, option, options, UsageError } from '../args.js';
import { openVault, unlockForWrite, type CommandContext } from '../context.js';
import { table, writeJson } from '../io.js';
import { durableTransaction } from '../../core/store/database.js';
import { SecretStore } from '../../core/vault/secrets.js';
import {
  BindingStore,
  DEFAULT_HEADER,
  basicAuth,
  describeAuth,
  parseHeaderAuth,
  parseQueryAuth,
  prepareBinding,
  validateBindingName,
  type BindingAuth,
  type ProxyBinding,
} from '../../core/proxy/bindings.js';
import { configuredProxyPort, proxySocketPath, proxyUrl } from '../../core/proxy/config.js';
import { proxyEnvFor } from '../../core/proxy/env.js';
import type { Vault } from '../../core/vault/vault.js';

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

/** Where agents reach the proxy (from the stored port / AKC_PROXY_PORT and the socket path). */
function endpoints(ctx: CommandContext, vault: Vault): { url: string | null; socket: string } {
  const port = configuredProxyPort(vault.db);
  return { url: port ? proxyUrl(port) : null, socket: proxySocketPath(ctx.paths.socket) };
}

function bindingJson(b: ProxyBinding, where: { url: string | null; socket: string }): Record<string, unknown> {
  return {
    name: b.name,
    upstream: b.upstream,
    secret: b.secret,
    auth: b.auth.kind === 'basic' ? { kind: 'basic', user: b.auth.user } : b.auth,
    allow: b.allow,
    allowPrivate: b.allowPrivate,
    baseUrlEnv: b.baseUrlEnv,
    url: where.url ? `${where.url}/${b.name}` : null,
    env: where.url ? proxyEnvFor(b, where.url) : null,
    createdAt: new Date(b.createdAt).toISOString(),
    updatedAt: new Date(b.updatedAt).toISOString(),
  };
}

export async function add(ctx: CommandContext): Promise<void> {
  const name = nameArg(ctx);
  const upstream = option(ctx.args, 'upstream');
  const secret = option(ctx.args, 'secret');
  if (!upstream) throw new UsageError('missing --upstream URL (e.g. https://api.openai.com)');
  if (!secret) throw new UsageError('missing --secret NAME (the secret that authenticates the upstream)');
  const auth = authFromFlags(ctx);
  const baseUrlEnv = option(ctx.args, 'base-url-env') ?? null;
  const input = {
    name,
    upstream,
    secret,
    auth,
    allow: options(ctx.args, 'allow'),
    allowPrivate: flag(ctx.args, 'allow-private'),
    baseUrlEnv,
  };
  const vault = await openVault(ctx);
  try {
    const store = new BindingStore(vault.db);
    // Catch mistakes before asking for the password.
    try {
      prepareBinding(input);
    } catch (err) {
      if (err instanceof AkcError && err.code === 'INVALID_ARGUMENT')
        throw new UsageError(err.message + (err.hint ? ` (${err.hint})` : ''));
      throw err;
    }
    const exists = store.get(name);
    if (exists && !flag(ctx.args, 'replace')) {
      throw new AkcError('ALREADY_EXISTS', `a proxy binding named ${name} already exists`, {
        hint: 'pass --replace to change it, or remove it first with `akc proxy rm`',
      });
    }
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    const now = vault.clock.now();
    const { binding, replaced } = durableTransaction(vault.db, () => {
      const r = store.put(input, now, { replace: flag(ctx.args, 'replace') });
      vault.auditInTransaction([
        {
          event: 'proxy.add',
          agent: 'cli',
          secret: r.binding.secret,
          reason: r.replaced ? 'replaced' : 'added',
          detail: {
            binding: r.binding.name,
            upstream: r.binding.upstream,
            auth: r.binding.auth.kind,
            allow: r.binding.allow,
            allowPrivate: r.binding.allowPrivate,
          },
        },
      ]);
      return r;
    });
    const where = endpoints(ctx, vault);
    if (!new SecretStore(vault).find(binding.secret))
      ctx.note(`note: no secret named ${binding.secret} yet; add it with \`akc secret set ${binding.secret}\``);
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
    const bindings = new BindingStore(vault.db).list();
    const where = endpoints(ctx, vault);
    if (ctx.json) return writeJson(ctx.io, { proxy: where, bindings: bindings.map((b) => bindingJson(b, where)) });
    if (bindings.length === 0) {
      ctx.io.stdout.write('No proxy bindings. Add one with `akc proxy add NAME --upstream URL --secret SECRET`.\n');
      return;
    }
    ctx.io.stdout.write(
      table(
        ['NAME', 'UPSTREAM', 'SECRET', 'AUTH', 'ALLOW', 'PRIVATE'],
        bindings.map((b) => [
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
    const store = new BindingStore(vault.db);
    const existing = store.get(name);
    if (!existing) throw new AkcError('NOT_FOUND', `no proxy binding named ${name}`, { hint: 'see `akc proxy list`' });
    const password = await unlockForWrite(ctx, vault);
    password.fill(0);
    durableTransaction(vault.db, () => {
      if (!store.remove(name)) throw new AkcError('NOT_FOUND', `no proxy binding named ${name}`);
      vault.auditInTransaction([
        {
          event: 'proxy.rm',
          agent: 'cli',
          secret: existing.secret,
          reason: 'removed',
          detail: { binding: name, upstream: existing.upstream },
        },
      ]);
    });
    if (ctx.json) return writeJson(ctx.io, { name, removed: true });
    ctx.io.stdout.write(`Removed proxy binding ${name}.\n`);
  } finally {
    vault.close();
  }
}
