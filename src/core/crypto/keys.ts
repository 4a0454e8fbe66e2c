/** Key material helpers: generation, zeroing and constant-time comparison. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { KEY_BYTES } from './aead.js';

export function newKey(): Buffer {
  // randomBytes returns a Buffer that may share a pooled ArrayBuffer; copy into an
  // unpooled allocation so zeroing it wipes exactly this key and nothing else.
  const pooled = randomBytes(KEY_BYTES);
  const key = Buffer.alloc(KEY_BYTES);
  pooled.copy(key);
  pooled.fill(0);
  return key;
}

/** Overwrites a buffer with zeros. Safe to call on null/undefined and twice. */
export function wipe(buf: Buffer | null | undefined): void {
  if (buf) buf.fill(0);
}

export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
