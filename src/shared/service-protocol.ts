/**
 * The hardened host mode (`akc service install`): the host runs as a dedicated system user
 * that owns the data dir, and the desktop user's `akc` administers it over the socket.
 *
 * Two things live here: the service config (`/etc/agent-keychain/host.json`, world-readable,
 * never a secret in it) and the typed administration verbs the CLI sends to the service
 * host instead of opening `vault.db` (which the desktop user cannot read in this mode).
 * Every verb that changes something carries the master password; the CLI sends it only
 * after the kernel (SO_PEERCRED) said the socket's server runs as the configured service
 * uid, which no process of the desktop user can impersonate.
 */
import { z } from 'zod';
import { MAX_PASSWORD_LENGTH } from './admin-protocol.js';

export { DEFAULT_SERVICE_CONFIG, resolveServiceConfigPath } from './paths.js';
export const DEFAULT_SERVICE_DATA_DIR = '/var/lib/agent-keychain';
export const DEFAULT_SERVICE_SOCKET_DIR = '/run/agent-keychain';
export const DEFAULT_SERVICE_USER = 'akc-host';
export const SERVICE_UNIT_NAME = 'agent-keychain.service';

const absolutePath = z
  .string()
  .min(2)
  .max(4096)
  .refine((p) => p.startsWith('/') && !p.split('/').includes('..'), 'must be an absolute path without ..');
const uid = z.number().int().min(0).max(0xfffffffe);
const userName = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z_][a-z0-9_-]*\$?$/, 'not a valid user name');

export const serviceConfigSchema = z.strictObject({
  mode: z.literal('service'),
  serviceUser: userName,
  serviceUid: uid,
  /** The desktop user's uid: the only peer the host serves. */
  allowUid: uid,
  dataDir: absolutePath,
  socket: absolutePath,
});
export type ServiceConfig = z.infer<typeof serviceConfigSchema>;

// ------------------------------------------------------------------ admin verbs

const password = z.string().min(1).max(MAX_PASSWORD_LENGTH);
/** What proves the human: the master password, checked by the host with Argon2. */
const auth = z.strictObject({ password });
const name = z.string().min(1).max(200);
const text = z.string().max(2000);
/** A secret value travels as UTF-8 text inside one frame (64 KiB), like `secret.get` answers. */
const value = z
  .string()
  .min(1)
  .max(60 * 1024);

/** Where a paged list answer continues (pages are cut by size: see core/views/page.ts). */
const offset = z.number().int().min(0).max(10_000_000).optional();
const id = z.string().min(1).max(64);
const seq = z.number().int().min(0);
/**
 * A policy file travels as JSON text in one frame (64 KiB); larger files are refused by
 * the CLI before the password is asked (`akc policy import` offline takes up to 1 MiB).
 */
export const SERVICE_POLICY_MAX_BYTES = 56 * 1024;
/** Characters of `akc policy export` text per answer: even all-escaped, a page fits a frame. */
export const POLICY_EXPORT_PAGE_CHARS = 8192;
export const AUDIT_PAGE_MAX = 500;

export const serviceParamsSchemas = {
  'service.info': z.strictObject({}),
  'vault.init': z.strictObject({ auth }),
  'vault.passwd': z.strictObject({ auth, newPassword: password }),
  'vault.status': z.strictObject({}),
  'secret.set': z.strictObject({
    auth,
    name,
    value,
    type: z.string().max(40).optional(),
    description: text.optional(),
    owner: text.optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).optional(),
    canary: z.boolean().optional(),
    /** Storing over an existing NAME needs this (`akc secret set --new-version` or a yes on the terminal). */
    newVersion: z.boolean().optional(),
  }),
  'secret.rm': z.strictObject({ auth, name }),
  'secret.show': z.strictObject({ name }),
  'secrets.list': z.strictObject({ offset }),
  'agent.add': z.strictObject({
    auth,
    name,
    exe: z.string().min(1).max(4096),
    sha256: z.string().max(64).optional(),
    argPattern: text.optional(),
    cwd: text.optional(),
    replace: z.boolean().optional(),
  }),
  'agent.revoke': z.strictObject({ auth, name }),
  'agent.block': z.strictObject({ auth, name }),
  'agent.unblock': z.strictObject({ auth, name }),
  'agents.list': z.strictObject({ all: z.boolean().optional(), offset }),
  'grant.add': z.strictObject({
    auth,
    agent: name,
    secret: name,
    scope: z.enum(['duration', 'until_lock', 'always']),
    durationMs: z
      .number()
      .int()
      .positive()
      .max(10 * 365 * 86_400_000)
      .optional(),
    uses: z.number().int().positive().max(1_000_000).nullable().optional(),
    keepOnRotate: z.boolean().optional(),
  }),
  'grant.rm': z.strictObject({ auth, id }),
  'grants.list': z.strictObject({ all: z.boolean().optional(), offset }),
  'leases.list': z.strictObject({ offset }),
  'leases.revoke': z.strictObject({ auth, id }),
  /** The policy file as text, `offset` characters in (POLICY_EXPORT_PAGE_CHARS per answer). */
  'policy.export': z.strictObject({ format: z.enum(['yaml', 'json']), offset }),
  /** The file's document as JSON text (the CLI parsed it and made its paths absolute); the host validates it again. */
  'policy.import': z.strictObject({
    auth,
    text: z.string().min(1).max(SERVICE_POLICY_MAX_BYTES),
    source: z.string().max(255),
    replace: z.boolean().optional(),
  }),
  'audit.verify': z.strictObject({}),
  /** One page of matching entries in `order`, after/before a seq (the CLI's `akc audit` and --follow). */
  'audit.query': z.strictObject({
    agent: name.optional(),
    secret: name.optional(),
    since: z.number().int().min(0).optional(),
    afterSeq: seq.optional(),
    beforeSeq: seq.optional(),
    limit: z.number().int().min(1).max(AUDIT_PAGE_MAX),
    order: z.enum(['asc', 'desc']),
  }),
  /** One page of the log: entries with seq > afterSeq, at most `limit`, oldest first. */
  'audit.export': z.strictObject({
    afterSeq: seq.optional(),
    since: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(AUDIT_PAGE_MAX).optional(),
  }),
};

export type ServiceMethod = keyof typeof serviceParamsSchemas;
export type ServiceParams<M extends ServiceMethod> = z.infer<(typeof serviceParamsSchemas)[M]>;

export function isServiceMethod(method: string): method is ServiceMethod {
  return Object.hasOwn(serviceParamsSchemas, method);
}

/** Plain JSON objects (times as ISO strings); the CLI formats them. Never a value. */
export type JsonRecord = Record<string, unknown>;

/** A paged list: these rows, and the offset of the next page (null: that was the last). */
export interface ServicePage {
  rows: JsonRecord[];
  next: number | null;
}

/** The list verbs the CLI pages through (see serviceRows in cli/service-client.ts). */
export type PagedServiceMethod = 'secrets.list' | 'agents.list' | 'grants.list' | 'leases.list';

export interface ServiceResults {
  'service.info': { mode: 'service'; vault: 'absent' | 'locked' | 'unlocked'; serviceUid: number; allowUid: number; version: string };
  'vault.init': { vault: 'created'; id: string };
  'vault.passwd': { changed: true };
  /** `lifecycle` is core/lifecycle/status.ts's LifecycleSnapshot (null without a vault). */
  'vault.status': {
    vault: 'absent' | 'locked' | 'unlocked';
    pendingApprovals: number;
    version: string;
    secrets: number | null;
    lifecycle: JsonRecord | null;
  };
  'secret.set': {
    name: string;
    version: number;
    created: boolean;
    /** The version this one replaced, what it became and when it retires (absent for a new secret). */
    previous?: number;
    previousState?: 'previous' | 'retired';
    previousRetiresAt?: string;
  };
  'secret.rm': { name: string; deleted: true };
  'secret.show': JsonRecord;
  'secrets.list': ServicePage;
  'agent.add': { agent: JsonRecord; status: 'added' | 'replaced' | 'restored' };
  'agent.revoke': { agent: string; grants: number; leases: number };
  'agent.block': { agent: string; grant: string; created: boolean };
  'agent.unblock': { agent: string; revokedGrants: string[] };
  'agents.list': ServicePage;
  'grant.add': { grant: JsonRecord };
  'grant.rm': { grant: JsonRecord };
  'grants.list': ServicePage;
  'leases.list': ServicePage;
  'leases.revoke': { id: string; secret: string; version: number };
  /** `digest` (SHA-256 of the whole text) lets the CLI notice a policy that changed between pages. */
  'policy.export': { text: string; next: number | null; digest: string };
  /** core/policy/policy-file.ts's ImportSummary. */
  'policy.import': { agents: JsonRecord; grants: JsonRecord };
  'audit.verify': JsonRecord & { ok: boolean };
  /** Entries are core/audit/chain.ts's AuditEntry; `next` continues in the same order; `head` is the newest seq. */
  'audit.query': { entries: JsonRecord[]; next: number | null; head: number };
  'audit.export': { entries: JsonRecord[]; next: number | null };
}
