/**
 * Row MACs: every policy-bearing row (agents, grants, secrets' name↔id and lifecycle
 * policy, proxy bindings, guard settings) carries an HMAC-SHA256 over a canonical encoding
 * of its table, its id and its security-relevant columns, under a key derived from the
 * vault key. A same-user process can write vault.db but does not hold the vault key, so it
 * cannot make a row the host will trust; it can only delete rows or break MACs, which the
 * readers treat as "no such row" (never as "allow").
 */
import { hkdfSync } from 'node:crypto';
import { AkcError } from '../../shared/errors.js';
import { KEY_BYTES } from '../crypto/aead.js';
import { constantTimeEqual } from '../crypto/keys.js';
import { hmac } from '../crypto/vault-keys.js';

export const ROW_MAC_BYTES = 32;
/** HKDF info: distinct from every other subkey's, so the row key is independent of them. */
const ROW_MAC_INFO = 'agent-keychain row-mac v1';
const ENCODING_LABEL = 'akc/row/v1';

export type RowValue = string | number | bigint | Buffer | null;

/** The row-MAC key for a vault (HKDF-SHA256 of the vault key, salted with the vault id). */
export function deriveRowMacKey(dek: Buffer, vaultId: string): Buffer {
  if (dek.length !== KEY_BYTES) throw new AkcError('INTERNAL', 'key has the wrong length');
  return Buffer.from(hkdfSync('sha256', dek, Buffer.from(vaultId, 'utf8'), ROW_MAC_INFO, KEY_BYTES));
}

// One tag byte per value, so NULL, the text "1" and the integer 1 never encode alike.
const TAG_NULL = 0;
const TAG_TEXT = 1;
const TAG_INT = 2;
const TAG_BLOB = 3;

function part(tag: number, bytes: Buffer): Buffer[] {
  const head = Buffer.alloc(5);
  head.writeUInt8(tag, 0);
  head.writeUInt32BE(bytes.length, 1);
  return [head, bytes];
}

/**
 * Canonical bytes of (table, row id, values in a fixed order): every part is tagged and
 * length-prefixed, and the value count is included, so no two different rows encode alike.
 */
export function encodeRow(table: string, rowId: string, values: readonly RowValue[]): Buffer {
  const chunks: Buffer[] = [];
  chunks.push(...part(TAG_TEXT, Buffer.from(ENCODING_LABEL, 'utf8')));
  chunks.push(...part(TAG_TEXT, Buffer.from(table, 'utf8')));
  chunks.push(...part(TAG_TEXT, Buffer.from(rowId, 'utf8')));
  chunks.push(...part(TAG_INT, Buffer.from(String(values.length), 'utf8')));
  for (const v of values) {
    if (v === null || v === undefined) chunks.push(...part(TAG_NULL, Buffer.alloc(0)));
    else if (Buffer.isBuffer(v)) chunks.push(...part(TAG_BLOB, v));
    else if (typeof v === 'string') chunks.push(...part(TAG_TEXT, Buffer.from(v, 'utf8')));
    else {
      // SQLite INTEGER columns come back as numbers (or bigints with safeIntegers); both
      // encode as their decimal text, so the same stored integer always MACs the same.
      if (typeof v === 'number' && !Number.isInteger(v)) throw new AkcError('INTERNAL', `row ${table}/${rowId} has a non-integer number`);
      chunks.push(...part(TAG_INT, Buffer.from(String(v), 'utf8')));
    }
  }
  return Buffer.concat(chunks);
}

export function rowMac(key: Buffer, table: string, rowId: string, values: readonly RowValue[]): Buffer {
  if (key.length !== KEY_BYTES) throw new AkcError('INTERNAL', 'key has the wrong length');
  return hmac(key, encodeRow(table, rowId, values));
}

/** Constant-time check of a stored MAC; a missing or wrongly sized MAC never verifies. */
export function verifyRowMac(key: Buffer, table: string, rowId: string, values: readonly RowValue[], mac: Buffer | null): boolean {
  if (!mac || mac.length !== ROW_MAC_BYTES) return false;
  return constantTimeEqual(rowMac(key, table, rowId, values), mac);
}
