/**
 * Proxy bindings (`akc proxy add NAME …`): a name the agent puts first in its request
 * path, the upstream it stands for, the secret that authenticates it and how it is put on
 * the request (a header template, a query parameter, or HTTP basic auth), which methods
 * and paths are allowed, and whether a private upstream address is acceptable.
 *
 * Stored in the vault database (`proxy_bindings`, migration 2) in the clear: a binding
 * holds names and URLs, never a value. Changes go through proxy/admin.ts (the offline CLI
 * and the desktop app, with the master password) and are audited (`proxy.add`, `proxy.rm`).
 */
import type { Database, Statement } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import { BINDINGS, checkRow, signatureFor } from '../integrity/rows.js';
import { globMatch } from '../policy/glob.js';

export const SECRET_PLACEHOLDER = '{{secret}}';
export const DEFAULT_HEADER = `Authorization: Bearer ${SECRET_PLACEHOLDER}`;

export type BindingAuth =
  | { kind: 'header'; header: string; template: string }
  | { kind: 'query'; param: string; template: string }
  | { kind: 'basic'; user: string };

export interface ProxyBinding {
  name: string;
  /** Normalised upstream origin and base path, no trailing slash: `https://api.openai.com`. */
  upstream: string;
  secret: string;
  auth: BindingAuth;
  /** `METHOD /path-glob` rules; empty = every method and path. */
  allow: string[];
  allowPrivate: boolean;
  /** The environment variable an SDK reads its base URL from (`OPENAI_BASE_URL`), if set. */
  baseUrlEnv: string | null;
  /**
   * The variable `akc run --proxy` sets to a placeholder key (`OPENAI_API_KEY`) so an SDK
   * that refuses to start without a key starts; null: the known SDK's variable, if any (env.ts).
   */
  placeholderEnv: string | null;
  createdAt: number;
  updatedAt: number;
}

/** `placeholderEnv` left out keeps the stored one (a form that does not show it changes nothing). */
export type BindingInput = Omit<ProxyBinding, 'createdAt' | 'updatedAt' | 'placeholderEnv'> & { placeholderEnv?: string | null };

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Headers a binding may not set: hop-by-hop and framing headers the proxy owns. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-connection',
  'expect',
]);

export function validateBindingName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new AkcError('INVALID_ARGUMENT', `invalid binding name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-' (max 64)`);
  }
}

/** Parses and normalises an upstream URL. http:// only with allowPrivate (local and test servers). */
export function normalizeUpstream(text: string, allowPrivate: boolean): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AkcError('INVALID_ARGUMENT', `invalid --upstream ${JSON.stringify(text)}: expected a URL like https://api.example.com`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new AkcError('INVALID_ARGUMENT', `invalid --upstream: ${url.protocol} is not supported (https only)`);
  }
  if (url.protocol === 'http:' && !allowPrivate) {
    throw new AkcError('INVALID_ARGUMENT', 'the upstream must use https:// (the credential would cross the network in the clear)', {
      hint: 'plain http:// is accepted only together with --allow-private, for a server on this machine or your LAN',
    });
  }
  if (url.username || url.password) throw new AkcError('INVALID_ARGUMENT', 'the upstream URL must not contain credentials');
  if (url.search || url.hash) throw new AkcError('INVALID_ARGUMENT', 'the upstream URL must not have a query or fragment');
  if (!url.hostname) throw new AkcError('INVALID_ARGUMENT', 'the upstream URL has no host');
  const base = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${base}`;
}

/** `Name: value with {{secret}}` → a header auth. */
export function parseHeaderAuth(text: string): BindingAuth {
  const colon = text.indexOf(':');
  if (colon <= 0)
    throw new AkcError('INVALID_ARGUMENT', `invalid --header ${JSON.stringify(text)}: expected 'Name: value with {{secret}}'`);
  const header = text.slice(0, colon).trim();
  const template = text.slice(colon + 1).trim();
  if (!TOKEN_RE.test(header)) throw new AkcError('INVALID_ARGUMENT', `invalid header name ${JSON.stringify(header)}`);
  if (RESERVED_HEADERS.has(header.toLowerCase()))
    throw new AkcError('INVALID_ARGUMENT', `the proxy owns the ${header} header; pick another`);
  checkTemplate(template, '--header');
  return { kind: 'header', header, template };
}

/** `param={{secret}}` → a query auth. */
export function parseQueryAuth(text: string): BindingAuth {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new AkcError('INVALID_ARGUMENT', `invalid --query ${JSON.stringify(text)}: expected 'param={{secret}}'`);
  const param = text.slice(0, eq);
  const template = text.slice(eq + 1);
  if (/[\s&#=]/.test(param)) throw new AkcError('INVALID_ARGUMENT', `invalid query parameter name ${JSON.stringify(param)}`);
  checkTemplate(template, '--query');
  return { kind: 'query', param, template };
}

export function basicAuth(user: string): BindingAuth {
  if (user === '' || user.includes(':') || /[\r\n]/.test(user)) {
    throw new AkcError('INVALID_ARGUMENT', 'invalid --basic-auth user: non-empty, without ":" or line breaks');
  }
  return { kind: 'basic', user };
}

function checkTemplate(template: string, what: string): void {
  const count = template.split(SECRET_PLACEHOLDER).length - 1;
  if (count !== 1) throw new AkcError('INVALID_ARGUMENT', `${what} must contain ${SECRET_PLACEHOLDER} exactly once`);
  if (/[\r\n\0]/.test(template)) throw new AkcError('INVALID_ARGUMENT', `${what} must not contain line breaks`);
}

export interface AllowRule {
  method: string;
  path: string;
}

/** `POST /v1/**` → {method: 'POST', path: '/v1/**'}. `*` as the method allows any. */
export function parseAllowRule(text: string): AllowRule {
  const m = /^\s*([A-Za-z]+|\*)\s+(\/\S*)\s*$/.exec(text);
  if (!m)
    throw new AkcError('INVALID_ARGUMENT', `invalid --allow ${JSON.stringify(text)}: expected 'METHOD /path-glob', e.g. 'POST /v1/**'`);
  return { method: m[1]!.toUpperCase(), path: m[2]! };
}

/**
 * Whether a request passes the binding's --allow rules. Paths are matched as sent to the
 * upstream (without the query): `*` within one segment, `**` across segments.
 */
export function allowedBy(binding: Pick<ProxyBinding, 'allow'>, method: string, path: string): boolean {
  if (binding.allow.length === 0) return true;
  const upper = method.toUpperCase();
  return binding.allow.some((text) => {
    const rule = parseAllowRule(text);
    return (rule.method === '*' || rule.method === upper) && globMatch(rule.path, path);
  });
}

export function validateBaseUrlEnv(name: string): void {
  if (!ENV_RE.test(name)) throw new AkcError('INVALID_ARGUMENT', `invalid --base-url-env ${JSON.stringify(name)}: not a variable name`);
}

export function validatePlaceholderEnv(name: string, baseUrlEnv: string | null): void {
  if (!ENV_RE.test(name)) throw new AkcError('INVALID_ARGUMENT', `invalid --placeholder-env ${JSON.stringify(name)}: not a variable name`);
  if (name === baseUrlEnv) throw new AkcError('INVALID_ARGUMENT', `--placeholder-env and --base-url-env both name ${name}`);
}

/**
 * Checks a credential given as fields (the desktop app) by the rules the CLI's flags are
 * parsed with: a header the proxy does not own, a parameter name, a template with
 * {{secret}} exactly once, a basic-auth user.
 */
export function validateAuth(auth: BindingAuth): BindingAuth {
  switch (auth.kind) {
    case 'header':
      if (/[\r\n:]/.test(auth.header)) throw new AkcError('INVALID_ARGUMENT', `invalid header name ${JSON.stringify(auth.header)}`);
      return parseHeaderAuth(`${auth.header}: ${auth.template}`);
    case 'query':
      return parseQueryAuth(`${auth.param}=${auth.template}`);
    case 'basic':
      return basicAuth(auth.user);
    default:
      throw new AkcError('INVALID_ARGUMENT', 'unknown credential kind');
  }
}

/** Validates and normalises a binding before it is stored. */
export function prepareBinding(input: BindingInput): BindingInput {
  validateBindingName(input.name);
  if (!input.secret) throw new AkcError('INVALID_ARGUMENT', 'a binding needs --secret NAME');
  // The credential too: the app sends it as fields, not as the CLI's parsed flags.
  validateAuth(input.auth);
  for (const rule of input.allow) parseAllowRule(rule);
  if (input.baseUrlEnv !== null) validateBaseUrlEnv(input.baseUrlEnv);
  if (input.placeholderEnv) validatePlaceholderEnv(input.placeholderEnv, input.baseUrlEnv);
  return { ...input, upstream: normalizeUpstream(input.upstream, input.allowPrivate), allow: input.allow.map((r) => normalizeRule(r)) };
}

function normalizeRule(text: string): string {
  const r = parseAllowRule(text);
  return `${r.method} ${r.path}`;
}

/** A one-line description of how the credential is attached (never the value). */
export function describeAuth(auth: BindingAuth): string {
  switch (auth.kind) {
    case 'header':
      return `header ${auth.header}: ${auth.template}`;
    case 'query':
      return `query ${auth.param}=${auth.template}`;
    case 'basic':
      return `basic auth as ${auth.user}`;
  }
}

interface Row {
  name: string;
  upstream: string;
  secret_name: string;
  auth_kind: BindingAuth['kind'];
  auth_name: string;
  auth_template: string;
  allow_rules: string;
  allow_private: number;
  base_url_env: string | null;
  /** Migration 6. */
  placeholder_env?: string | null;
  created_at: number;
  updated_at: number;
  row_mac?: Buffer | null;
}

function toBinding(r: Row): ProxyBinding {
  const auth: BindingAuth =
    r.auth_kind === 'header'
      ? { kind: 'header', header: r.auth_name, template: r.auth_template }
      : r.auth_kind === 'query'
        ? { kind: 'query', param: r.auth_name, template: r.auth_template }
        : { kind: 'basic', user: r.auth_name };
  let allow: string[] = [];
  try {
    const parsed: unknown = JSON.parse(r.allow_rules);
    if (Array.isArray(parsed)) allow = parsed.filter((x): x is string => typeof x === 'string');
  } catch {
    // A damaged rule list must not open everything up: allow nothing.
    allow = ['NONE /'];
  }
  return {
    name: r.name,
    upstream: r.upstream,
    secret: r.secret_name,
    auth,
    allow,
    allowPrivate: r.allow_private === 1,
    baseUrlEnv: r.base_url_env,
    placeholderEnv: r.placeholder_env ?? null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function authColumns(auth: BindingAuth): { kind: string; name: string; template: string } {
  switch (auth.kind) {
    case 'header':
      return { kind: 'header', name: auth.header, template: auth.template };
    case 'query':
      return { kind: 'query', name: auth.param, template: auth.template };
    case 'basic':
      return { kind: 'basic', name: auth.user, template: SECRET_PLACEHOLDER };
  }
}

/**
 * The `proxy_bindings` table. Read on every proxied request, so CLI changes apply at once.
 * Every row carries a MAC (src/core/integrity): while unlocked, get() treats a binding
 * whose MAC is missing or wrong as absent, so a rewritten upstream never receives the key;
 * the proxy calls stillTrusted() again after the approval (which may have unlocked).
 */
export class BindingStore {
  /** Prepared once: the proxy looks a binding up on every request. */
  private getStmt: Statement | null = null;

  constructor(private readonly db: Database) {}

  list(): ProxyBinding[] {
    return this.listRows().map((r) => r.binding);
  }

  /** Every binding with its stored row, for an integrity check of each (proxy/admin.ts). */
  listRows(): { binding: ProxyBinding; row: object }[] {
    return (this.db.prepare('SELECT * FROM proxy_bindings ORDER BY name').all() as Row[]).map((row) => ({ binding: toBinding(row), row }));
  }

  get(name: string): ProxyBinding | null {
    const row = this.row(name);
    return row && checkRow(this.db, BINDINGS, row) !== 'refused' ? toBinding(row) : null;
  }

  /**
   * Right before the secret is attached (the vault is unlocked by then): whether the stored
   * row still authenticates and still says exactly what `binding` says.
   */
  stillTrusted(binding: ProxyBinding): boolean {
    const row = this.row(binding.name);
    if (!row || checkRow(this.db, BINDINGS, row) === 'refused') return false;
    return JSON.stringify(toBinding(row)) === JSON.stringify(binding);
  }

  private row(name: string): Row | undefined {
    this.getStmt ??= this.db.prepare('SELECT * FROM proxy_bindings WHERE name = ?');
    return this.getStmt.get(name) as Row | undefined;
  }

  /** Inserts (or with `replace`, updates) a binding. Call inside the caller's transaction. */
  put(input: BindingInput, now: number, opts: { replace?: boolean } = {}): { binding: ProxyBinding; replaced: boolean } {
    const b = prepareBinding(input);
    const stored = this.row(b.name);
    const existing = stored ? toBinding(stored) : null;
    if (existing && !opts.replace) {
      throw new AkcError('ALREADY_EXISTS', `a proxy binding named ${b.name} already exists`, {
        hint: 'pass --replace to change it, or remove it first with `akc proxy rm`',
      });
    }
    const a = authColumns(b.auth);
    const placeholderEnv = b.placeholderEnv === undefined ? (existing?.placeholderEnv ?? null) : b.placeholderEnv;
    const values = {
      name: b.name,
      upstream: b.upstream,
      secret: b.secret,
      kind: a.kind,
      authName: a.name,
      template: a.template,
      allow: JSON.stringify(b.allow),
      allowPrivate: b.allowPrivate ? 1 : 0,
      env: b.baseUrlEnv,
      placeholderEnv,
      now,
      mac: signatureFor(this.db, BINDINGS, {
        name: b.name,
        upstream: b.upstream,
        secret_name: b.secret,
        auth_kind: a.kind,
        auth_name: a.name,
        auth_template: a.template,
        allow_rules: JSON.stringify(b.allow),
        allow_private: b.allowPrivate ? 1 : 0,
        base_url_env: b.baseUrlEnv,
        created_at: existing?.createdAt ?? now,
        placeholder_env: placeholderEnv,
      }),
    };
    if (existing) {
      this.db
        .prepare(
          `UPDATE proxy_bindings SET upstream = @upstream, secret_name = @secret, auth_kind = @kind, auth_name = @authName,
             auth_template = @template, allow_rules = @allow, allow_private = @allowPrivate, base_url_env = @env,
             placeholder_env = @placeholderEnv, updated_at = @now,
             row_mac = @mac
           WHERE name = @name`,
        )
        .run(values);
    } else {
      this.db
        .prepare(
          `INSERT INTO proxy_bindings (name, upstream, secret_name, auth_kind, auth_name, auth_template, allow_rules, allow_private, base_url_env,
             placeholder_env, created_at, updated_at, row_mac)
           VALUES (@name, @upstream, @secret, @kind, @authName, @template, @allow, @allowPrivate, @env, @placeholderEnv, @now, @now, @mac)`,
        )
        .run(values);
    }
    return { binding: toBinding(this.row(b.name)!), replaced: existing !== null };
  }

  remove(name: string): boolean {
    return this.db.prepare('DELETE FROM proxy_bindings WHERE name = ?').run(name).changes > 0;
  }
}
