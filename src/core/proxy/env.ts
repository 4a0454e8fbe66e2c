/**
 * Environment for a program that should reach an upstream through the proxy instead of
 * holding its key (`akc run --proxy NAME`): the SDK's base-URL variable pointing at the
 * binding, and a placeholder key so SDKs that insist on one start. The proxy drops the
 * placeholder (the caller's own auth headers never reach the upstream) and adds the real
 * credential on the way out.
 */
import type { ProxyBinding } from './bindings.js';

export const PLACEHOLDER_KEY = 'akc-proxy-placeholder';

interface KnownApi {
  /** The variable the SDK reads its base URL from. */
  baseUrlEnv: string;
  /** The path the SDK expects its base URL to end with (OpenAI's includes /v1). */
  basePath: string;
  /** The variable the SDK reads its key from. */
  keyEnv: string;
}

/** Upstream hosts whose official SDKs read a base URL from the environment. */
export const KNOWN_APIS: Readonly<Record<string, KnownApi>> = {
  'api.openai.com': { baseUrlEnv: 'OPENAI_BASE_URL', basePath: '/v1', keyEnv: 'OPENAI_API_KEY' },
  'api.anthropic.com': { baseUrlEnv: 'ANTHROPIC_BASE_URL', basePath: '', keyEnv: 'ANTHROPIC_API_KEY' },
  'api.groq.com': { baseUrlEnv: 'GROQ_BASE_URL', basePath: '', keyEnv: 'GROQ_API_KEY' },
};

/** `AKC_PROXY_<NAME>_URL` for any binding. */
export function genericUrlEnv(name: string): string {
  return `AKC_PROXY_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_URL`;
}

/**
 * Variables to set for `binding` when the proxy listens at `proxyUrl` (e.g.
 * `http://127.0.0.1:23456`): `AKC_PROXY_<NAME>_URL`, the binding's --base-url-env (or
 * the known SDK variable for its host), and a placeholder key in the binding's
 * --placeholder-env (or the known SDK's key variable).
 */
export function proxyEnvFor(
  binding: Pick<ProxyBinding, 'name' | 'upstream' | 'baseUrlEnv'> & Partial<Pick<ProxyBinding, 'placeholderEnv'>>,
  proxyUrl: string,
): Record<string, string> {
  const bindingUrl = `${proxyUrl.replace(/\/+$/, '')}/${binding.name}`;
  const env: Record<string, string> = { [genericUrlEnv(binding.name)]: bindingUrl };
  const upstream = new URL(binding.upstream);
  const known = KNOWN_APIS[upstream.hostname.toLowerCase()];
  const upstreamPath = upstream.pathname.replace(/\/+$/, '');
  // The SDK's default base path is already part of the upstream when the binding names it.
  const suffix = known && known.basePath && upstreamPath !== known.basePath ? known.basePath : '';
  const baseUrlEnv = binding.baseUrlEnv ?? known?.baseUrlEnv ?? null;
  if (baseUrlEnv) env[baseUrlEnv] = bindingUrl + suffix;
  const keyEnv = binding.placeholderEnv ?? known?.keyEnv ?? null;
  if (keyEnv) env[keyEnv] = PLACEHOLDER_KEY;
  return env;
}
