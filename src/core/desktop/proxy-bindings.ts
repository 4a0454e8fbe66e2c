/**
 * The desktop app's "Proxy bindings": the contract's three verbs over core/proxy/admin.ts,
 * the functions `akc proxy add|list|rm` calls, so a binding made in the app and one made
 * with the CLI are the same row, the same MAC and the same audit entry. Saving decides
 * where a secret may be sent (a replaced upstream inherits the binding's grants), so it
 * needs the master password, as `setGuardSetting` does; removing only takes a path away.
 */
import type { ProxyBindingsView, ProxyBindingView, VerbInput } from '../../shared/contract.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import {
  addBinding,
  bindingEnv,
  listBindings,
  proxyEndpoints,
  removeBinding,
  validateBinding,
  type ProxyEndpoints,
} from '../proxy/admin.js';
import type { ProxyBinding } from '../proxy/bindings.js';
import type { Verdict } from '../integrity/rows.js';
import type { Vault } from '../vault/vault.js';

/** Where this app's proxy listens, if it runs (it may have failed to start). */
export interface RunningEndpoints {
  url: string | null;
}

export function proxyBindingsView(vault: Vault, agentSocketPath: string, running: RunningEndpoints | null): ProxyBindingsView {
  const stored = proxyEndpoints(vault, agentSocketPath);
  // The running proxy's URL is the truth; the stored port is what it will use next time.
  const where: ProxyEndpoints = { url: running ? running.url : stored.url, socket: stored.socket };
  return {
    proxy: { url: where.url, socket: where.socket, running: running !== null },
    bindings: listBindings(vault).map((l) => bindingView(l.binding, where, l.integrity, l.secretExists)),
  };
}

export async function saveProxyBinding(
  vault: Vault,
  agentSocketPath: string,
  running: RunningEndpoints | null,
  i: VerbInput<'saveProxyBinding'>,
  by: string,
): Promise<ProxyBindingView> {
  const input = {
    name: i.name,
    upstream: i.upstream,
    secret: i.secret,
    auth: i.auth,
    allow: i.allow,
    allowPrivate: i.allowPrivate,
    baseUrlEnv: i.baseUrlEnv === '' ? null : i.baseUrlEnv,
  };
  // Mistakes first: they need no Argon2.
  validateBinding(vault, input, { replace: i.replace });
  const password = Buffer.from(i.password, 'utf8');
  try {
    await vault.verifyPassword(password);
  } finally {
    password.fill(0);
  }
  const r = addBinding(vault, input, { replace: i.replace, by });
  const where = proxyEndpoints(vault, agentSocketPath);
  return bindingView(r.binding, { ...where, url: running ? running.url : where.url }, 'trusted', r.secretExists);
}

export function removeProxyBinding(vault: Vault, name: string, by: string): { name: string } {
  removeBinding(vault, name, by);
  return { name };
}

/** Names, URLs and rules a human typed (or a forged row holds): shown, so sanitized. */
function bindingView(b: ProxyBinding, where: ProxyEndpoints, integrity: Verdict, secretExists: boolean): ProxyBindingView {
  const auth: ProxyBindingView['auth'] =
    b.auth.kind === 'basic'
      ? { kind: 'basic', user: sanitizeLine(b.auth.user) }
      : b.auth.kind === 'header'
        ? { kind: 'header', header: sanitizeLine(b.auth.header), template: sanitizeLine(b.auth.template) }
        : { kind: 'query', param: sanitizeLine(b.auth.param), template: sanitizeLine(b.auth.template) };
  return {
    name: sanitizeLine(b.name),
    upstream: sanitizeLine(b.upstream),
    secret: sanitizeLine(b.secret),
    auth,
    allow: b.allow.map((r) => sanitizeLine(r)),
    allowPrivate: b.allowPrivate,
    baseUrlEnv: b.baseUrlEnv,
    url: where.url ? `${where.url}/${b.name}` : null,
    env: bindingEnv(b, where.url),
    secretExists,
    integrity,
    createdAt: b.createdAt,
    updatedAt: b.updatedAt,
  };
}
