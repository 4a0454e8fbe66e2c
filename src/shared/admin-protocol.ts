/**
 * Host administration over the agent socket, used by the `akc` CLI: lock, unlock,
 * listing and deciding approvals. The master password never crosses the socket (issue
 * 16: an agent running as the user can rename the live socket and listen in its place).
 * Anything that grants access (unlock, decide) is authorised by a challenge–response:
 * `admin.challenge` hands out a single-use nonce for this connection, and the request
 * carries `proof` = HMAC under a key the CLI derives from the password (see
 * core/crypto/admin-auth.ts) over that nonce and the exact operation, so a captured proof
 * is good for nothing else. Unlocking a locked host also carries the password's KEK,
 * sealed under a key only the real host holds (`sealedKek`), or, to a host verified by
 * its peer uid to be the configured service user, as is (`kek`). Locking and listing
 * need nothing (they only take access away or show metadata).
 */
import { z } from 'zod';

/** Kept for callers that still bound password input (the CLI's terminal reader). */
export const MAX_PASSWORD_LENGTH = 1024;
/** 32-byte challenge nonce and 32-byte HMAC-SHA256 proof, hex. */
export const CHALLENGE_NONCE_HEX_CHARS = 64;
export const PROOF_HEX_CHARS = 64;
/** How long a challenge nonce may be used (once). */
export const CHALLENGE_TTL_MS = 60_000;

const hex = (chars: number) => z.string().regex(new RegExp(`^[0-9a-f]{${chars}}$`));
const nonce = hex(CHALLENGE_NONCE_HEX_CHARS);
const proof = hex(PROOF_HEX_CHARS);
/** A (sealed) 32-byte key in base64: at most 1 + 12 + 32 + 16 bytes. */
const keyMaterial = z
  .string()
  .max(128)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/);
const approvalId = z.string().min(1).max(64);

export const ADMIN_SCOPES = ['once', '15m', '1h', 'until_lock', 'always'] as const;
export type AdminScope = (typeof ADMIN_SCOPES)[number];

/** What unlocks a locked host along with a proof: at most one of the two. */
const unlockMaterial = { sealedKek: keyMaterial.optional(), kek: keyMaterial.optional() };
const oneUnlockMaterial = (p: { sealedKek?: string | undefined; kek?: string | undefined }) =>
  p.sealedKek === undefined || p.kek === undefined;

export const adminParamsSchemas = {
  'admin.challenge': z.strictObject({}),
  'host.lock': z.strictObject({ revokeAll: z.boolean().optional() }),
  'host.unlock': z.strictObject({ nonce, proof, ...unlockMaterial }).refine(oneUnlockMaterial, 'send sealedKek or kek, not both'),
  'approval.list': z.strictObject({}),
  'approval.decide': z
    .strictObject({
      approvalId,
      allow: z.boolean(),
      scope: z.enum(ADMIN_SCOPES).optional(),
      block: z.boolean().optional(),
      nonce,
      proof,
      ...unlockMaterial,
    })
    .refine(oneUnlockMaterial, 'send sealedKek or kek, not both'),
};

/** The admin methods authorised by a challenge–response proof. */
export const PROVEN_ADMIN_METHODS = ['host.unlock', 'approval.decide'] as const;
export type ProvenAdminMethod = (typeof PROVEN_ADMIN_METHODS)[number];

export type AdminMethod = keyof typeof adminParamsSchemas;
export type AdminParams<M extends AdminMethod> = z.infer<(typeof adminParamsSchemas)[M]>;

export function isAdminMethod(method: string): method is AdminMethod {
  return Object.hasOwn(adminParamsSchemas, method);
}

/** A pending approval as listed to the CLI (no values; identity from the kernel). */
export interface ApprovalSummary {
  id: string;
  agent: string | null;
  program: string;
  pid: number;
  exe: string | null;
  /** From the process's argv: a claim it can rewrite (`scriptClaimed`), not kernel truth. */
  script: string | null;
  /** True when `script` is set: it comes from argv, which the process writes itself. */
  scriptClaimed?: boolean;
  /** SHA-256 of the script file's content at request time. */
  scriptSha256?: string | null;
  /** Injected code: variable and option NAMES (never values); any entry voided every grant. */
  injectedCode?: string[];
  exeSha256: string | null;
  badge: 'known' | 'new' | 'changed';
  secrets: string[];
  purpose: string | null;
  count: number;
  createdAt: string;
  expiresAt: string;
  needsUnlock: boolean;
  /** For the brokering proxy: the HTTP request the secret would authenticate. */
  http?: { method: string; host: string; path: string } | null;
  /** For `akc run`: the command that would hold the values (argv as given, resolved executable). */
  command?: { argv: string[]; exe: string | null; agentChosen: boolean } | null;
}

/**
 * A challenge: the nonce to prove over and what the CLI needs to derive the KEK itself.
 * `nonce` is single-use and valid on this connection only until `expiresAt`; `salt`
 * (base64) and `kdf` are the vault's Argon2id salt and parameters (the CLI refuses weak
 * ones); `adminKey` says whether the host holds the admin key (it was unlocked in this
 * process, or the vault stores it and it is unlocked). The CLI validates it with this
 * schema: it may come from a fake server.
 */
export const adminChallengeSchema = z.object({
  nonce,
  expiresAt: z.string().max(40),
  salt: keyMaterial,
  kdf: z.object({ m: z.number().int(), t: z.number().int(), p: z.number().int() }),
  vaultId: z.string().min(1).max(64),
  vault: z.enum(['locked', 'unlocked']),
  adminKey: z.boolean(),
});
export type AdminChallenge = z.infer<typeof adminChallengeSchema>;

export interface AdminResults {
  'admin.challenge': AdminChallenge;
  'host.lock': { vault: 'locked'; revokedLeases: number };
  'host.unlock': { vault: 'unlocked' };
  'approval.list': { approvals: ApprovalSummary[] };
  'approval.decide': { approvalId: string; decision: 'allow' | 'deny' | 'block' };
}
