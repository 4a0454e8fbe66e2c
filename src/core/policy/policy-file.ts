/**
 * Policy as code: agents and standing grants as a YAML or JSON file that can live in
 * version control. Export writes them in a stable order; import validates the
 * file against a schema, then applies it in one durable transaction, idempotently: agents
 * are upserted by name, grants matched by (agent or program, secret pattern, effect,
 * scope), so importing the same file twice changes nothing the second time.
 *
 * The file format (version 1):
 *
 *   version: 1
 *   agents:
 *     - name: claude                 # A-Z a-z 0-9 _ . -
 *       exe: /usr/bin/node           # executable or script path
 *       sha256: <64 hex> | auto      # optional pin
 *       args: "*claude*"             # optional glob over argv[1..] joined by spaces
 *       cwd: /home/me/src/**         # optional glob over the working directory
 *   grants:
 *     - agent: claude                # or program: prog:<fingerprint> (+ exe, sha256)
 *       secret: OPENAI_*             # a name or a glob
 *       effect: allow | deny         # default allow; deny on "**" is a block
 *       scope: always | duration     # default always
 *       expires: 2030-01-01T00:00:00.000Z   # duration grants only
 *       uses: 10                     # optional
 *       keepOnRotate: true           # optional
 *
 * Once, until-lock and ended grants, and grants bound to one `akc run` command, are not part of a policy file.
 */
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { AkcError, describeCause } from '../../shared/errors.js';
import { durableTransaction } from '../store/database.js';
import type { Vault } from '../vault/vault.js';
import { AGENT_NAME_PATTERN, AgentRegistry, prepareAgent, type AgentRecord } from './agents.js';
import { secretPatternProblem } from './admin.js';
import { GrantStore, type Grant, type GrantEffect } from './grants.js';

export const POLICY_VERSION = 1;
/** A policy file larger than this is refused. */
export const MAX_POLICY_BYTES = 1024 * 1024;

const HEX64 = /^[0-9a-fA-F]{64}$/;
const FINGERPRINT = /^prog:[0-9a-f]{32}$/;

const optionalText = (max: number) => z.string().min(1, { error: 'must not be empty' }).max(max).nullish();

const agentSchema = z.strictObject({
  name: z
    .string()
    .regex(AGENT_NAME_PATTERN, { error: 'invalid agent name: use 1-64 characters A-Z a-z 0-9 _ . - starting with a letter or digit' }),
  exe: z.string().min(1, { error: 'must not be empty' }).max(4096),
  sha256: z
    .string()
    .refine((v) => v === 'auto' || HEX64.test(v), { error: 'expected 64 hex digits or "auto"' })
    .nullish(),
  args: optionalText(1000),
  cwd: optionalText(4096),
});

const grantSchema = z
  .strictObject({
    agent: z.string().nullish(),
    program: z.string().regex(FINGERPRINT, { error: 'expected a program fingerprint prog:<32 hex digits>' }).nullish(),
    exe: optionalText(4096),
    sha256: z.string().regex(HEX64, { error: 'expected 64 hex digits' }).nullish(),
    secret: z.string().superRefine((v, ctx) => {
      const problem = secretPatternProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    effect: z.enum(['allow', 'deny'], { error: 'expected allow or deny' }).default('allow'),
    scope: z
      .enum(['always', 'duration'], { error: 'expected always or duration (once and until-lock grants are not part of a policy)' })
      .default('always'),
    expires: z.iso.datetime({ offset: true, error: 'expected an ISO 8601 date and time, e.g. 2030-01-01T00:00:00Z' }).nullish(),
    uses: z.int({ error: 'expected a whole number' }).positive({ error: 'expected a positive number' }).max(1_000_000).nullish(),
    keepOnRotate: z.boolean({ error: 'expected true or false' }).nullish(),
  })
  .superRefine((g, ctx) => {
    if (Boolean(g.agent) === Boolean(g.program))
      ctx.addIssue({ code: 'custom', path: ['agent'], message: 'give exactly one of agent or program' });
    if (g.agent && (g.exe || g.sha256)) {
      ctx.addIssue({
        code: 'custom',
        path: [g.exe ? 'exe' : 'sha256'],
        message: 'exe and sha256 belong to the agent definition, not to its grants',
      });
    }
    if (g.scope === 'duration' && !g.expires)
      ctx.addIssue({ code: 'custom', path: ['expires'], message: 'a duration grant needs expires' });
    if (g.scope === 'always' && g.expires)
      ctx.addIssue({ code: 'custom', path: ['expires'], message: 'an always grant does not expire; use scope: duration' });
    if (g.effect === 'deny' && g.uses) ctx.addIssue({ code: 'custom', path: ['uses'], message: 'a deny grant has no use count' });
  });

const policySchema = z
  .strictObject({
    version: z.literal(POLICY_VERSION, { error: `expected ${POLICY_VERSION} (the policy format version)` }),
    agents: z.array(agentSchema).nullish(),
    grants: z.array(grantSchema).nullish(),
  })
  .superRefine((doc, ctx) => {
    const names = new Set<string>();
    (doc.agents ?? []).forEach((a, i) => {
      if (names.has(a.name)) ctx.addIssue({ code: 'custom', path: ['agents', i, 'name'], message: `agent ${a.name} is defined twice` });
      names.add(a.name);
    });
    const keys = new Set<string>();
    (doc.grants ?? []).forEach((g, i) => {
      const key = [g.agent ? `agent:${g.agent}` : g.program, g.secret, g.effect, g.scope].join('\0');
      if (keys.has(key))
        ctx.addIssue({ code: 'custom', path: ['grants', i], message: 'the same grant (subject, secret, effect, scope) is listed twice' });
      keys.add(key);
    });
  });

type ParsedPolicy = z.infer<typeof policySchema>;

export interface PolicyAgent {
  name: string;
  exe: string;
  sha256?: string;
  args?: string;
  cwd?: string;
}

export interface PolicyGrant {
  agent?: string;
  program?: string;
  exe?: string;
  sha256?: string;
  secret: string;
  effect: GrantEffect;
  scope: 'always' | 'duration';
  expires?: string;
  uses?: number;
  keepOnRotate?: boolean;
}

export interface PolicyDocument {
  version: typeof POLICY_VERSION;
  agents: PolicyAgent[];
  grants: PolicyGrant[];
}

export type PolicyFormat = 'yaml' | 'json';

// ------------------------------------------------------------------ export

const EXPORTED_SCOPES = new Set(['always', 'duration']);

/**
 * A standing grant a policy file can express. A grant bound to one `akc run` command is an
 * approval, not policy: written out without its command it would serve every command, and
 * an import must neither match (and so widen) nor revoke it.
 */
function isPolicyGrant(g: Grant): boolean {
  return EXPORTED_SCOPES.has(g.scope) && g.runCommand === null;
}

/** The vault's agents and standing grants, in a stable order, without ids or timestamps. */
export function buildPolicy(vault: Vault): PolicyDocument {
  const now = vault.clock.now();
  const registry = new AgentRegistry(vault.db);
  const agents = registry.list();
  const live = new Map(agents.map((a) => [a.id, a]));
  const grants: PolicyGrant[] = [];
  const seen = new Set<string>();
  for (const g of new GrantStore(vault.db).list(now)) {
    if (!isPolicyGrant(g)) continue;
    const agent = g.agentId ? live.get(g.agentId) : undefined;
    if (g.agentId && !agent) continue;
    const pg = toPolicyGrant(g, agent);
    const key = grantKey(pg);
    if (seen.has(key)) continue;
    seen.add(key);
    grants.push(pg);
  }
  grants.sort(compareGrants);
  return {
    version: POLICY_VERSION,
    agents: agents.map((a) => ({
      name: a.name,
      exe: a.exePath,
      ...(a.exeSha256 ? { sha256: a.exeSha256 } : {}),
      ...(a.argPattern ? { args: a.argPattern } : {}),
      ...(a.cwdPattern ? { cwd: a.cwdPattern } : {}),
    })),
    grants,
  };
}

function toPolicyGrant(g: Grant, agent: AgentRecord | undefined): PolicyGrant {
  return {
    ...(agent
      ? { agent: agent.name }
      : { program: g.fingerprint!, ...(g.exePath ? { exe: g.exePath } : {}), ...(g.exeSha256 ? { sha256: g.exeSha256 } : {}) }),
    secret: g.secretPattern,
    effect: g.effect,
    scope: g.scope as PolicyGrant['scope'],
    ...(g.expiresAt !== null ? { expires: new Date(g.expiresAt).toISOString() } : {}),
    ...(g.usesLeft !== null ? { uses: g.usesLeft } : {}),
    ...(g.keepOnRotate ? { keepOnRotate: true } : {}),
  };
}

function grantKey(g: Pick<PolicyGrant, 'agent' | 'program' | 'secret' | 'effect' | 'scope'>): string {
  return [g.agent ? `agent:${g.agent}` : `program:${g.program}`, g.secret, g.effect, g.scope].join('\0');
}

function compareGrants(a: PolicyGrant, b: PolicyGrant): number {
  const ka = [grantKey(a), a.expires ?? ''].join('\0');
  const kb = [grantKey(b), b.expires ?? ''].join('\0');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function formatPolicy(doc: PolicyDocument, format: PolicyFormat): string {
  if (format === 'json') return JSON.stringify(doc, null, 2) + '\n';
  return '# Agent Keychain policy. Apply it with `akc policy import FILE`.\n' + YAML.stringify(doc, { lineWidth: 0 });
}

// ------------------------------------------------------------------ parse

function malformed(where: string, reason: string): AkcError {
  return new AkcError('INVALID_ARGUMENT', `malformed policy: ${where}: ${reason}`);
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** `grants[1].scope` from a zod path. */
export function formatPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

/**
 * Parses and validates a policy file's text. YAML or JSON is chosen by the file
 * extension, else by content. Throws INVALID_ARGUMENT "malformed policy: PATH: REASON".
 */
export function parsePolicy(text: string, fileName = ''): PolicyDocument {
  const ext = path.extname(fileName).toLowerCase();
  const asJson = ext === '.json' || (ext !== '.yaml' && ext !== '.yml' && /^\s*[{[]/.test(text));
  let data: unknown;
  if (asJson) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw malformed('invalid JSON', lowerFirst(describeCause(err)));
    }
  } else {
    try {
      data = YAML.parse(text, { uniqueKeys: true, maxAliasCount: 100 });
    } catch (err) {
      const first = describeCause(err).split('\n')[0]!.replace(/:\s*$/, '');
      throw malformed('invalid YAML', lowerFirst(first));
    }
  }
  if (data === null || data === undefined) throw malformed('(top level)', 'the file is empty');
  const result = policySchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    let where = formatPath(issue.path);
    let reason = lowerFirst(issue.message);
    if (issue.code === 'unrecognized_keys') {
      where = formatPath([...issue.path, issue.keys[0]!]);
      reason = 'unknown key';
    } else if (
      (issue.code === 'invalid_type' || issue.code === 'invalid_value') &&
      issue.path.length > 0 &&
      valueAt(data, issue.path) === undefined
    ) {
      reason = 'required';
    }
    const more = result.error.issues.length - 1;
    throw malformed(where, reason + (more > 0 ? ` (and ${more} more problem${more > 1 ? 's' : ''})` : ''));
  }
  return normalize(result.data);
}

function valueAt(data: unknown, parts: readonly PropertyKey[]): unknown {
  let v: unknown = data;
  for (const p of parts) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function normalize(p: ParsedPolicy): PolicyDocument {
  const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
  return {
    version: POLICY_VERSION,
    agents: (p.agents ?? []).map((a) =>
      dropUndefined({ name: a.name, exe: a.exe, sha256: opt(a.sha256), args: opt(a.args), cwd: opt(a.cwd) }),
    ),
    grants: (p.grants ?? []).map((g) =>
      dropUndefined({
        agent: opt(g.agent),
        program: opt(g.program),
        exe: opt(g.exe),
        sha256: opt(g.sha256)?.toLowerCase(),
        secret: g.secret,
        effect: g.effect,
        scope: g.scope,
        expires: g.expires ? new Date(g.expires).toISOString() : undefined,
        uses: opt(g.uses),
        keepOnRotate: opt(g.keepOnRotate),
      }),
    ),
  };
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

// ------------------------------------------------------------------ import

interface PreparedAgent {
  name: string;
  exePath: string;
  exeSha256: string | null;
  argPattern: string | null;
  cwdPattern: string | null;
}

interface PreparedGrant {
  where: string;
  agent: string | null;
  program: string | null;
  exePath: string | null;
  exeSha256: string | null;
  secretPattern: string;
  effect: GrantEffect;
  scope: 'always' | 'duration';
  expiresAt: number | null;
  usesLeft: number | null;
  keepOnRotate: boolean;
}

export interface PreparedPolicy {
  agents: PreparedAgent[];
  grants: PreparedGrant[];
}

/** Resolves executable paths and `sha256: auto` (errors name the file path of the entry). */
export async function preparePolicy(doc: PolicyDocument): Promise<PreparedPolicy> {
  const agents: PreparedAgent[] = [];
  for (const [i, a] of doc.agents.entries()) {
    try {
      agents.push(await prepareAgent({ name: a.name, exePath: a.exe, sha256: a.sha256, argPattern: a.args, cwdPattern: a.cwd }));
    } catch (err) {
      throw malformed(
        `agents[${i}].${a.sha256 === 'auto' && !/executable/.test(describeCause(err)) ? 'sha256' : 'exe'}`,
        lowerFirst(describeCause(err)),
      );
    }
  }
  const grants: PreparedGrant[] = doc.grants.map((g, i) => ({
    where: `grants[${i}]`,
    agent: g.agent ?? null,
    program: g.program ?? null,
    exePath: g.exe ?? null,
    exeSha256: g.sha256 ?? null,
    secretPattern: g.secret,
    effect: g.effect,
    scope: g.scope,
    expiresAt: g.expires ? Date.parse(g.expires) : null,
    usesLeft: g.uses ?? null,
    keepOnRotate: g.keepOnRotate ?? false,
  }));
  return { agents, grants };
}

/** Checks that every grant names an agent of the file or a live agent of the vault. */
export function checkReferences(vault: Vault, prepared: PreparedPolicy): void {
  const inFile = new Set(prepared.agents.map((a) => a.name));
  const registry = new AgentRegistry(vault.db);
  for (const g of prepared.grants) {
    if (g.agent === null || inFile.has(g.agent)) continue;
    const a = registry.find(g.agent);
    if (!a || a.revokedAt !== null) throw malformed(`${g.where}.agent`, `no agent named ${g.agent} in the file or the vault`);
  }
}

export interface ImportSummary {
  agents: { added: number; updated: number; unchanged: number };
  grants: { added: number; replaced: number; unchanged: number; revoked: number; skippedExpired: number };
}

/**
 * Applies a prepared policy in one durable transaction with one `policy.import` audit
 * entry. With `replace`, standing grants (always/duration) not in the file are revoked.
 */
export function applyPolicy(
  vault: Vault,
  prepared: PreparedPolicy,
  opts: { replace?: boolean; by: string; source?: string },
): ImportSummary {
  vault.requireKey();
  const registry = new AgentRegistry(vault.db);
  const store = new GrantStore(vault.db);
  const summary: ImportSummary = {
    agents: { added: 0, updated: 0, unchanged: 0 },
    grants: { added: 0, replaced: 0, unchanged: 0, revoked: 0, skippedExpired: 0 },
  };
  durableTransaction(vault.db, () => {
    const now = vault.clock.now();
    for (const a of prepared.agents) {
      const existing = registry.find(a.name);
      if (existing && existing.revokedAt === null && sameAgent(existing, a)) {
        summary.agents.unchanged += 1;
        continue;
      }
      registry.upsert(a, now);
      summary.agents[existing ? 'updated' : 'added'] += 1;
    }

    const standing = store.list(now).filter(isPolicyGrant);
    const byKey = new Map<string, Grant[]>();
    for (const g of standing) {
      const key = dbKey(g.agentId ? `agent:${g.agentId}` : `program:${g.fingerprint}`, g.secretPattern, g.effect, g.scope);
      byKey.set(key, [...(byKey.get(key) ?? []), g]);
    }
    const matched = new Set<string>();
    for (const pg of prepared.grants) {
      let agent: AgentRecord | null = null;
      if (pg.agent !== null) {
        agent = registry.find(pg.agent);
        if (!agent || agent.revokedAt !== null) throw malformed(`${pg.where}.agent`, `no agent named ${pg.agent} in the file or the vault`);
      }
      const subject = agent ? `agent:${agent.id}` : `program:${pg.program}`;
      const want = {
        agentId: agent?.id ?? null,
        fingerprint: agent ? null : pg.program,
        exePath: agent ? agent.exePath : pg.exePath,
        // A deny never depends on the executable hash: changing the binary must not lift a block.
        exeSha256: pg.effect === 'deny' ? null : agent ? agent.exeSha256 : pg.exeSha256,
        secretPattern: pg.secretPattern,
        effect: pg.effect,
        scope: pg.scope,
        expiresAt: pg.expiresAt,
        usesLeft: pg.usesLeft,
        keepOnRotate: pg.keepOnRotate,
      };
      if (pg.expiresAt !== null && pg.expiresAt <= now) {
        summary.grants.skippedExpired += 1;
        continue;
      }
      const existing = (byKey.get(dbKey(subject, pg.secretPattern, pg.effect, pg.scope)) ?? []).find((g) => !matched.has(g.id));
      if (existing) {
        matched.add(existing.id);
        if (sameGrant(existing, want)) {
          summary.grants.unchanged += 1;
          continue;
        }
        store.revoke(existing.id, now);
      }
      const created = store.create({ ...want, createdBy: `${opts.by} (policy import)` }, now);
      matched.add(created.id);
      summary.grants[existing ? 'replaced' : 'added'] += 1;
    }
    if (opts.replace) {
      for (const g of standing) {
        if (!matched.has(g.id) && store.revoke(g.id, now)) summary.grants.revoked += 1;
      }
    }
    vault.auditInTransaction([
      {
        event: 'policy.import',
        agent: opts.by,
        reason: opts.source ? `from ${opts.source}` : null,
        detail: { ...summary, replace: Boolean(opts.replace) },
      },
    ]);
  });
  return summary;
}

function dbKey(subject: string, pattern: string, effect: string, scope: string): string {
  return [subject, pattern, effect, scope].join('\0');
}

function sameAgent(a: AgentRecord, b: PreparedAgent): boolean {
  return a.exePath === b.exePath && a.exeSha256 === b.exeSha256 && a.argPattern === b.argPattern && a.cwdPattern === b.cwdPattern;
}

function sameGrant(
  g: Grant,
  w: { exePath: string | null; exeSha256: string | null; expiresAt: number | null; usesLeft: number | null; keepOnRotate: boolean },
): boolean {
  return (
    g.exePath === w.exePath &&
    g.exeSha256 === w.exeSha256 &&
    g.expiresAt === w.expiresAt &&
    g.usesLeft === w.usesLeft &&
    g.keepOnRotate === w.keepOnRotate
  );
}
