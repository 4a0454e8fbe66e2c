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

export const serviceParamsSchemas = {
  'service.info': z.strictObject({}),
  'vault.init': z.strictObject({ auth }),
  'secret.set': z.strictObject({
    auth,
    name,
    value,
    type: z.string().max(40).optional(),
    description: text.optional(),
    owner: text.optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).optional(),
    canary: z.boolean().optional(),
  }),
  'secret.rm': z.strictObject({ auth, name }),
  'secret.show': z.strictObject({ name }),
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
  'grant.rm': z.strictObject({ auth, id: z.string().min(1).max(64) }),
  'grants.list': z.strictObject({ all: z.boolean().optional() }),
  'audit.verify': z.strictObject({}),
  /** One page of the log: entries with seq > afterSeq, at most `limit`, oldest first. */
  'audit.export': z.strictObject({
    afterSeq: z.number().int().min(0).optional(),
    since: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(500).optional(),
  }),
};

export type ServiceMethod = keyof typeof serviceParamsSchemas;
export type ServiceParams<M extends ServiceMethod> = z.infer<(typeof serviceParamsSchemas)[M]>;

export function isServiceMethod(method: string): method is ServiceMethod {
  return Object.hasOwn(serviceParamsSchemas, method);
}

/** Plain JSON objects (times as ISO strings); the CLI formats them. Never a value. */
export type JsonRecord = Record<string, unknown>;

export interface ServiceResults {
  'service.info': { mode: 'service'; vault: 'absent' | 'locked' | 'unlocked'; serviceUid: number; allowUid: number; version: string };
  'vault.init': { vault: 'created'; id: string };
  'secret.set': { name: string; version: number; created: boolean };
  'secret.rm': { name: string; deleted: true };
  'secret.show': JsonRecord;
  'agent.add': { agent: JsonRecord; status: 'added' | 'replaced' | 'restored' };
  'agent.revoke': { agent: string; grants: number; leases: number };
  'grant.add': { grant: JsonRecord };
  'grant.rm': { grant: JsonRecord };
  'grants.list': { grants: JsonRecord[] };
  'audit.verify': JsonRecord & { ok: boolean };
  'audit.export': { entries: JsonRecord[]; next: number | null };
}
