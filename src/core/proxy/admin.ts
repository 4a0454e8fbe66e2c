/**
 * Proxy binding administration, written once for `akc proxy add|list|rm` and the desktop
 * app's "Proxy bindings": validate a binding, add (or replace) one, list them with their
 * integrity verdict, remove one. Each change runs in one durable transaction with its
 * audit entry (`proxy.add`, `proxy.rm`), and every stored row carries its MAC
 * (integrity/rows.ts BINDINGS), so adding needs the unlocked vault. The caller proves the
 * human (the master password) before it calls add or remove.
 */
import { AkcError } from '../../shared/errors.js';
import { BINDINGS, checkRow, type Verdict } from '../integrity/rows.js';
import { durableTransaction } from '../store/database.js';
import { SecretStore } from '../vault/secrets.js';
import type { Vault } from '../vault/vault.js';
import { BindingStore, prepareBinding, type BindingInput, type ProxyBinding } from './bindings.js';
import { configuredProxyPort, proxySocketPath, proxyUrl } from './config.js';
import { proxyEnvFor } from './env.js';

/** Where agents reach the proxy: the loopback URL (null until a host chose the port) and the Unix socket. */
export interface ProxyEndpoints {
  url: string | null;
  socket: string;
}

export function proxyEndpoints(vault: Vault, agentSocketPath: string): ProxyEndpoints {
  const port = configuredProxyPort(vault.db);
  return { url: port ? proxyUrl(port) : null, socket: proxySocketPath(agentSocketPath) };
}

export interface ListedBinding {
  binding: ProxyBinding;
  /** 'refused': the row changed outside Agent Keychain; the proxy treats it as absent. */
  integrity: Verdict;
  /** Whether the secret it names exists (a binding may be added before its secret). */
  secretExists: boolean;
}

export function listBindings(vault: Vault): ListedBinding[] {
  const secrets = new SecretStore(vault);
  return new BindingStore(vault.db).listRows().map(({ binding, row }) => ({
    binding,
    integrity: checkRow(vault.db, BINDINGS, row),
    secretExists: secrets.find(binding.secret) !== null,
  }));
}

/**
 * Checks a binding before anything is asked of the human: its fields (bindings.ts) and,
 * unless `replace`, that the name is free. Returns the normalised binding.
 */
export function validateBinding(vault: Vault, input: BindingInput, opts: { replace?: boolean } = {}): BindingInput {
  const prepared = prepareBinding(input);
  if (!opts.replace && new BindingStore(vault.db).get(prepared.name)) throw alreadyExists(prepared.name);
  return prepared;
}

function alreadyExists(name: string): AkcError {
  return new AkcError('ALREADY_EXISTS', `a proxy binding named ${name} already exists`, {
    hint: 'pass --replace to change it, or remove it first with `akc proxy rm`',
  });
}

export interface AddedBinding {
  binding: ProxyBinding;
  replaced: boolean;
  secretExists: boolean;
}

/** Adds (or with `replace`, changes) a binding, audited as `proxy.add` by `by`. */
export function addBinding(vault: Vault, input: BindingInput, opts: { replace?: boolean; by: string }): AddedBinding {
  vault.requireKey();
  const store = new BindingStore(vault.db);
  const now = vault.clock.now();
  const r = durableTransaction(vault.db, () => {
    const put = store.put(input, now, { replace: opts.replace === true });
    vault.auditInTransaction([
      {
        event: 'proxy.add',
        agent: opts.by,
        secret: put.binding.secret,
        reason: put.replaced ? 'replaced' : 'added',
        detail: {
          binding: put.binding.name,
          upstream: put.binding.upstream,
          auth: put.binding.auth.kind,
          allow: put.binding.allow,
          allowPrivate: put.binding.allowPrivate,
        },
      },
    ]);
    return put;
  });
  return { ...r, secretExists: new SecretStore(vault).find(r.binding.secret) !== null };
}

/** The stored binding `name` (whatever its integrity), or NOT_FOUND. */
export function existingBinding(vault: Vault, name: string): ProxyBinding {
  const found = new BindingStore(vault.db).listRows().find((b) => b.binding.name === name);
  if (!found) throw new AkcError('NOT_FOUND', `no proxy binding named ${name}`, { hint: 'see `akc proxy list`' });
  return found.binding;
}

/** Removes a binding (a tampered one too: removing only takes a path away), audited as `proxy.rm`. */
export function removeBinding(vault: Vault, name: string, by: string): ProxyBinding {
  const store = new BindingStore(vault.db);
  return durableTransaction(vault.db, () => {
    const existing = existingBinding(vault, name);
    if (!store.remove(name)) throw new AkcError('NOT_FOUND', `no proxy binding named ${name}`);
    vault.auditInTransaction([
      { event: 'proxy.rm', agent: by, secret: existing.secret, reason: 'removed', detail: { binding: name, upstream: existing.upstream } },
    ]);
    return existing;
  });
}

/** A binding as `akc proxy list --json` prints it (and the app shows it): never a value. */
export function bindingJson(b: ProxyBinding, where: ProxyEndpoints): Record<string, unknown> {
  return {
    name: b.name,
    upstream: b.upstream,
    secret: b.secret,
    auth: b.auth.kind === 'basic' ? { kind: 'basic', user: b.auth.user } : b.auth,
    allow: b.allow,
    allowPrivate: b.allowPrivate,
    baseUrlEnv: b.baseUrlEnv,
    placeholderEnv: b.placeholderEnv,
    url: where.url ? `${where.url}/${b.name}` : null,
    env: bindingEnv(b, where.url),
    createdAt: new Date(b.createdAt).toISOString(),
    updatedAt: new Date(b.updatedAt).toISOString(),
  };
}

/** The variables `akc run --proxy NAME` sets, or null (no URL yet, or a row whose upstream no longer parses). */
export function bindingEnv(b: ProxyBinding, proxyUrl: string | null): Record<string, string> | null {
  if (!proxyUrl) return null;
  try {
    return proxyEnvFor(b, proxyUrl);
  } catch {
    return null;
  }
}
