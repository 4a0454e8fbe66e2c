/**
 * AES-256-GCM sealing with a versioned blob layout:
 *
 *   blob = FORMAT_VERSION (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)
 *
 * The associated data is never stored; the caller rebuilds it from the row the blob
 * belongs to, so a blob copied to another row (another secret, version or vault) fails
 * authentication instead of decrypting to the wrong value.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AkcError } from '../../shared/errors.js';

export const FORMAT_VERSION = 1;
export const KEY_BYTES = 32;
/** 96-bit random nonces: with at most a few million seals per key the collision odds stay negligible. */
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const HEADER_BYTES = 1 + NONCE_BYTES;
export const MIN_BLOB_BYTES = HEADER_BYTES + TAG_BYTES;

export function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  return sealWithNonce(key, randomBytes(NONCE_BYTES), plaintext, aad);
}

/**
 * DANGEROUS, test vectors only: seals with a caller-chosen nonce so the storage format can
 * be pinned by golden vectors (test/fixtures/storage-v1). Reusing a nonce under one key
 * breaks AES-GCM completely (it leaks the XOR of plaintexts and the authentication key).
 * Product code must always call `seal`; a test checks that nothing in src/ calls this.
 */
export function DANGEROUS_sealWithNonceForTestVectors(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  if (nonce.length !== NONCE_BYTES) throw new AkcError('INTERNAL', 'nonce has the wrong length');
  return sealWithNonce(key, nonce, plaintext, aad);
}

function sealWithNonce(key: Buffer, nonce: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  assertKey(key);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT_VERSION), nonce, body, cipher.getAuthTag()]);
}

/**
 * Opens a blob made by `seal`. Throws AkcError('CORRUPT') when the layout is wrong and
 * reports authentication failure the same way: the caller adds which row it was.
 */
export function open(key: Buffer, blob: Buffer, aad: Buffer): Buffer {
  assertKey(key);
  // Exact layout checks before any decryption work.
  if (blob.length < MIN_BLOB_BYTES) {
    throw new AkcError('CORRUPT', `blob is truncated (${blob.length} bytes)`);
  }
  if (blob[0] !== FORMAT_VERSION) {
    throw new AkcError('CORRUPT', `unknown blob format version ${blob[0]}`);
  }
  const nonce = blob.subarray(1, HEADER_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const body = blob.subarray(HEADER_BYTES, blob.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (cause) {
    throw new AkcError('CORRUPT', 'authentication failed', { cause });
  }
}

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new AkcError('INTERNAL', 'key has the wrong length');
}

/**
 * Associated data from labelled parts. Each part is length-prefixed so that no two
 * different part lists can produce the same bytes ("ab"+"c" vs "a"+"bc").
 */
export function associatedData(label: string, ...parts: (string | number)[]): Buffer {
  const chunks: Buffer[] = [];
  for (const part of [label, ...parts]) {
    const bytes = Buffer.from(String(part), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    chunks.push(len, bytes);
  }
  return Buffer.concat(chunks);
}
