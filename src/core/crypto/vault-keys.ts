/**
 * Wrapping the vault key (DEK) under a key-encryption key. The AAD names the vault and
 * the wrapping slot, so a wrapped key cannot be moved between slots or vaults.
 */
import { associatedData, KEY_BYTES, open, seal } from './aead.js';
import { AkcError } from '../../shared/errors.js';
import { createHmac, hkdfSync } from 'node:crypto';

export type WrapSlot = 'password' | 'keychain';

const WRAPPED_KEY_BYTES = 1 + 12 + KEY_BYTES + 16;

export function wrapVaultKey(kek: Buffer, dek: Buffer, vaultId: string, slot: WrapSlot): Buffer {
  return seal(kek, dek, associatedData('akc/vault-key/v1', vaultId, slot));
}

/** Throws AkcError('CORRUPT') for a malformed blob; authentication failure is 'CORRUPT' too, callers map it. */
export function unwrapVaultKey(kek: Buffer, wrapped: Buffer, vaultId: string, slot: WrapSlot): Buffer {
  if (wrapped.length !== WRAPPED_KEY_BYTES) {
    throw new AkcError('CORRUPT', `wrapped vault key (${slot}) has ${wrapped.length} bytes, expected ${WRAPPED_KEY_BYTES}`);
  }
  return open(kek, wrapped, associatedData('akc/vault-key/v1', vaultId, slot));
}

/** Associated data for one secret version: binds the blob to vault id + secret id + version. */
export function secretAad(vaultId: string, secretId: string, version: number): Buffer {
  return associatedData('akc/secret/v1', vaultId, secretId, version);
}

/** A subkey for a named purpose, so the vault key itself is only ever used for sealing. */
export function deriveSubkey(dek: Buffer, vaultId: string, purpose: 'audit-mac'): Buffer {
  return Buffer.from(hkdfSync('sha256', dek, Buffer.from(vaultId, 'utf8'), `agent-keychain ${purpose} v1`, KEY_BYTES));
}

export function hmac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
