/**
 * The audit hash chain. Each entry's hash is SHA-256 over the previous hash and the
 * canonical encoding of the entry (a JSON array in fixed field order, so key order or
 * whitespace can never change a hash).
 */
import { createHash } from 'node:crypto';
import { constantTimeEqual } from '../crypto/keys.js';
import { hmac } from '../crypto/vault-keys.js';

export const HASH_BYTES = 32;
export const GENESIS_HASH = Buffer.alloc(HASH_BYTES);

/** What one audit entry records. Never a secret value. */
export interface AuditFields {
  event: string;
  agent?: string | null;
  pid?: number | null;
  exe?: string | null;
  secret?: string | null;
  version?: number | null;
  decision?: string | null;
  purpose?: string | null;
  reason?: string | null;
  /** Small structured extras (ids, counts); must never contain a value. */
  detail?: Record<string, unknown> | null;
}

export interface AuditEntry extends Required<Omit<AuditFields, 'detail'>> {
  seq: number;
  ts: number;
  detail: Record<string, unknown> | null;
}

export interface AuditRow {
  seq: number;
  ts: number;
  event: string;
  agent: string | null;
  pid: number | null;
  exe: string | null;
  secret: string | null;
  version: number | null;
  decision: string | null;
  purpose: string | null;
  reason: string | null;
  detail: string | null;
  prev_hash: Buffer;
  hash: Buffer;
}

export function canonicalEntry(row: Omit<AuditRow, 'prev_hash' | 'hash'>): string {
  return JSON.stringify([
    row.seq,
    row.ts,
    row.event,
    row.agent,
    row.pid,
    row.exe,
    row.secret,
    row.version,
    row.decision,
    row.purpose,
    row.reason,
    row.detail,
  ]);
}

export function entryHash(prevHash: Buffer, row: Omit<AuditRow, 'prev_hash' | 'hash'>): Buffer {
  return createHash('sha256').update(prevHash).update(canonicalEntry(row), 'utf8').digest();
}

export function checkpointMessage(seq: number, hash: Buffer): Buffer {
  const seqBytes = Buffer.alloc(8);
  seqBytes.writeBigUInt64BE(BigInt(seq));
  return Buffer.concat([Buffer.from('akc/audit-checkpoint/v1', 'utf8'), seqBytes, hash]);
}

/**
 * Whether `cp.mac` is the MAC of (seq, hash) under the audit MAC key. The one check of a
 * signed checkpoint: the log (before it extends a signature) and `verifyAudit` use it.
 */
export function checkpointMacValid(key: Buffer, cp: { seq: number; hash: Buffer; mac: Buffer }): boolean {
  return Buffer.isBuffer(cp.mac) && Buffer.isBuffer(cp.hash) && constantTimeEqual(hmac(key, checkpointMessage(cp.seq, cp.hash)), cp.mac);
}
