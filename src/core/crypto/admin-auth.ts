/**
 * Challenge–response for host administration: the master password never
 * crosses the socket. The CLI derives the KEK locally (Argon2id, kdf.ts), and from it
 * the admin key A; it proves knowledge of A with an HMAC over the host's single-use
 * nonce and the exact operation. A fake server listening on the socket path learns a
 * MAC over its own nonce for one operation: nothing the real host accepts (its nonces
 * are its own and single-use) and nothing that opens the vault.
 *
 * Key schedule:
 *   A         = HKDF-SHA256(KEK, salt = "", info = "akc admin proof v1")       (32 bytes)
 *   proof     = HMAC-SHA256(A, lp(domain) ‖ lp(nonce) ‖ lp(method) ‖ lp(canonical params))
 *   transport = HKDF-SHA256(A, salt = nonce, info = "akc unlock transport v1") (32 bytes)
 * where lp(x) is a 4-byte big-endian length followed by x, so no two different field
 * lists encode to the same bytes.
 *
 * A is one-way from the KEK (HKDF is a PRF keyed by the KEK): holding A opens no wrapped
 * key and no secret. A proof does allow an offline dictionary attack on the password,
 * at one Argon2id derivation per guess with the vault's salt and parameters: exactly
 * what a copy of vault.db (the password-wrapped vault key) already allows. That is why
 * the CLI refuses KDF parameters below the defaults from a challenge: a fake server must
 * not be able to make that attack cheaper than the vault itself.
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { AkcError } from '../../shared/errors.js';
import { associatedData, KEY_BYTES, open, seal } from './aead.js';
import { constantTimeEqual } from './keys.js';

export const ADMIN_KEY_BYTES = 32;
export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;

const ADMIN_KEY_INFO = 'akc admin proof v1';
const TRANSPORT_INFO = 'akc unlock transport v1';
const PROOF_DOMAIN = 'akc/admin-proof/v1';
const TRANSPORT_AAD = 'akc/unlock-transport/v1';
const SEALED_ADMIN_KEY_AAD = 'akc/admin-key/v1';
/** The params field that carries the proof; never part of what it covers. */
export const PROOF_FIELD = 'proof';

function hkdf(key: Buffer, salt: Buffer, info: string, bytes: number): Buffer {
  return Buffer.from(hkdfSync('sha256', key, salt, info, bytes));
}

function exactLength(buf: Buffer, bytes: number, what: string): void {
  if (buf.length !== bytes) throw new AkcError('INVALID_ARGUMENT', `${what} has ${buf.length} bytes, expected ${bytes}`);
}

/** A from the KEK. The caller wipes both. */
export function deriveAdminKey(kek: Buffer): Buffer {
  exactLength(kek, KEY_BYTES, 'key-encryption key');
  return hkdf(kek, Buffer.alloc(0), ADMIN_KEY_INFO, ADMIN_KEY_BYTES);
}

/**
 * Canonical JSON: object keys sorted, no whitespace; only what JSON carries (strings,
 * finite numbers, booleans, null, arrays, plain objects). Both ends encode the params
 * the same way whatever order the keys arrived in.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new AkcError('INVALID_ARGUMENT', 'params contain a non-finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new AkcError('INVALID_ARGUMENT', `params contain a ${typeof value}, which JSON cannot carry`);
}

/** What a proof covers: the params without the proof itself. */
function provenParams(params: Record<string, unknown>): string {
  const rest: Record<string, unknown> = { ...params };
  delete rest[PROOF_FIELD];
  return canonicalJson(rest);
}

function proofMessage(nonce: Buffer, method: string, params: Record<string, unknown>): Buffer {
  return associatedData(PROOF_DOMAIN, nonce.toString('hex'), method, provenParams(params));
}

/** The proof that the caller knows A, for this nonce and exactly this operation. */
export function adminProof(adminKey: Buffer, nonce: Buffer, method: string, params: Record<string, unknown>): Buffer {
  exactLength(adminKey, ADMIN_KEY_BYTES, 'admin key');
  exactLength(nonce, NONCE_BYTES, 'challenge nonce');
  return createHmac('sha256', adminKey)
    .update(proofMessage(nonce, method, params))
    .digest();
}

/** Constant-time check of a proof; false for any length or content mismatch. */
export function verifyAdminProof(adminKey: Buffer, nonce: Buffer, method: string, params: Record<string, unknown>, proof: Buffer): boolean {
  if (proof.length !== PROOF_BYTES) return false;
  const expected = adminProof(adminKey, nonce, method, params);
  try {
    return constantTimeEqual(expected, proof);
  } finally {
    expected.fill(0);
  }
}

/** The one-challenge key that carries the KEK to a locked host that already holds A. */
function transportKey(adminKey: Buffer, nonce: Buffer): Buffer {
  exactLength(adminKey, ADMIN_KEY_BYTES, 'admin key');
  exactLength(nonce, NONCE_BYTES, 'challenge nonce');
  return hkdf(adminKey, nonce, TRANSPORT_INFO, KEY_BYTES);
}

/**
 * The KEK sealed for one unlock: only a holder of A (the real host, which derived it
 * when it was last unlocked) can open it, and only for this nonce.
 */
export function sealKekForTransport(adminKey: Buffer, nonce: Buffer, vaultId: string, kek: Buffer): Buffer {
  exactLength(kek, KEY_BYTES, 'key-encryption key');
  const key = transportKey(adminKey, nonce);
  try {
    return seal(key, kek, associatedData(TRANSPORT_AAD, vaultId, nonce.toString('hex')));
  } finally {
    key.fill(0);
  }
}

/** Opens a sealed KEK; CORRUPT when it was not sealed for this A and nonce. */
export function openKekFromTransport(adminKey: Buffer, nonce: Buffer, vaultId: string, sealed: Buffer): Buffer {
  const key = transportKey(adminKey, nonce);
  try {
    const kek = open(key, sealed, associatedData(TRANSPORT_AAD, vaultId, nonce.toString('hex')));
    if (kek.length !== KEY_BYTES) {
      kek.fill(0);
      throw new AkcError('CORRUPT', 'the transported key has the wrong length');
    }
    return kek;
  } finally {
    key.fill(0);
  }
}

/**
 * A sealed under the vault key for storage. The AAD names its purpose, the vault and the
 * password salt: the salt changes at every password change, so restoring the sealed A
 * of an old password (a rollback of one settings row) fails to open.
 */
export function sealAdminKey(dek: Buffer, vaultId: string, salt: Buffer, adminKey: Buffer): Buffer {
  exactLength(adminKey, ADMIN_KEY_BYTES, 'admin key');
  return seal(dek, adminKey, associatedData(SEALED_ADMIN_KEY_AAD, vaultId, salt.toString('hex')));
}

/** Opens a stored A; CORRUPT when it was sealed for another vault, salt or key. */
export function openAdminKey(dek: Buffer, vaultId: string, salt: Buffer, sealed: Buffer): Buffer {
  const key = open(dek, sealed, associatedData(SEALED_ADMIN_KEY_AAD, vaultId, salt.toString('hex')));
  if (key.length !== ADMIN_KEY_BYTES) {
    key.fill(0);
    throw new AkcError('CORRUPT', 'the stored admin key has the wrong length');
  }
  return key;
}
