/**
 * The audit anchor: the chain's head kept OUTSIDE vault.db, in `<dataDir>/audit-anchor`
 * (0600, replaced atomically by rename). It records the vault id and the (seq, hash) of
 * the last signed checkpoint a process wrote, under a MAC only the vault key can make.
 * `akc audit verify` and every unlock compare the database with it: a log that ends
 * before the anchor's entry (rolled back, truncated, wiped), whose entry there has another
 * hash (rewritten), or whose checkpoints stop before it (deleted) is reported.
 *
 * What it cannot do, honestly: a same-user process that saves vault.db AND this file, and
 * later restores BOTH while no host runs, presents an older state that is consistent in
 * every byte; nothing in the user's own files can tell it from the real past. A running
 * host still notices (it keeps the head in memory, see log.ts), and the hardened mode
 * puts the data dir out of the agent's reach. The anchor may also lag the log a little
 * (it is written after the commit, at most every ANCHOR_MIN_INTERVAL_MS), so it is a lower
 * bound: the log must reach it, and may go beyond. After a power loss the last delivery
 * commits (synchronous=NORMAL) can be lost while the anchor survived; verify
 * then reports the log behind its anchor, which it cannot tell from a truncation.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { constantTimeEqual } from '../crypto/keys.js';
import { hmac } from '../crypto/vault-keys.js';
import { HASH_BYTES } from './chain.js';

export const ANCHOR_FILE = 'audit-anchor';
const ANCHOR_MODE = 0o600;
const MAC_BYTES = 32;
const FORMAT_VERSION = 1;
/** Domain label of the MAC message (distinct from the checkpoint message's, see anchorMessage). */
const ANCHOR_LABEL = 'akc/audit-anchor/v1';
/** At most this often per process (a busy host checkpoints every delivery batch). */
export const ANCHOR_MIN_INTERVAL_MS = 200;
/** Larger files are not anchors (and are not read whole). */
const MAX_ANCHOR_BYTES = 4096;

export interface AnchorState {
  vaultId: string;
  /** The anchored entry, which is also the seq of the signed checkpoint written with it. */
  seq: number;
  hash: Buffer;
}

export interface SealedAnchor extends AnchorState {
  mac: Buffer;
}

export type AnchorRead = { kind: 'missing' } | { kind: 'malformed'; reason: string } | { kind: 'ok'; anchor: SealedAnchor };

export function anchorPath(dataDir: string): string {
  return path.join(dataDir, ANCHOR_FILE);
}

/**
 * The MAC message: label ‖ u32 length ‖ vault id ‖ u64 seq ‖ hash. The key is the audit
 * MAC key; the checkpoint message starts with another label of another length, so an
 * anchor MAC is never a valid checkpoint MAC and the other way round (domain separation).
 */
export function anchorMessage(s: AnchorState): Buffer {
  const id = Buffer.from(s.vaultId, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(id.length);
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(s.seq));
  return Buffer.concat([Buffer.from(ANCHOR_LABEL, 'utf8'), len, id, seq, s.hash]);
}

export function sealAnchor(key: Buffer, s: AnchorState): SealedAnchor {
  return { vaultId: s.vaultId, seq: s.seq, hash: Buffer.from(s.hash), mac: hmac(key, anchorMessage(s)) };
}

export function anchorMacValid(key: Buffer, a: SealedAnchor): boolean {
  return a.mac.length === MAC_BYTES && constantTimeEqual(hmac(key, anchorMessage(a)), a.mac);
}

export function encodeAnchor(a: SealedAnchor): string {
  return (
    JSON.stringify({ v: FORMAT_VERSION, vault: a.vaultId, seq: a.seq, hash: a.hash.toString('hex'), mac: a.mac.toString('hex') }) + '\n'
  );
}

function parseAnchor(text: string): SealedAnchor | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (typeof o !== 'object' || o === null) return 'not an object';
  const r = o as Record<string, unknown>;
  if (r.v !== FORMAT_VERSION) return 'unknown format version';
  if (typeof r.vault !== 'string' || r.vault.length === 0 || r.vault.length > 200) return 'bad vault id';
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 1) return 'bad seq';
  const hex = /^[0-9a-f]*$/;
  if (typeof r.hash !== 'string' || !hex.test(r.hash) || r.hash.length !== HASH_BYTES * 2) return 'bad hash';
  if (typeof r.mac !== 'string' || !hex.test(r.mac) || r.mac.length !== MAC_BYTES * 2) return 'bad mac';
  return { vaultId: r.vault, seq: r.seq, hash: Buffer.from(r.hash, 'hex'), mac: Buffer.from(r.mac, 'hex') };
}

export function readAnchor(dataDir: string): AnchorRead {
  let text: string;
  try {
    const fd = fs.openSync(anchorPath(dataDir), 'r');
    try {
      const buf = Buffer.alloc(MAX_ANCHOR_BYTES + 1);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      if (n > MAX_ANCHOR_BYTES) return { kind: 'malformed', reason: 'too large' };
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'malformed', reason: `unreadable (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  const parsed = parseAnchor(text);
  return typeof parsed === 'string' ? { kind: 'malformed', reason: parsed } : { kind: 'ok', anchor: parsed };
}

/** Writes the anchor atomically: a fresh 0600 file beside it, then rename over the old one. */
export function writeAnchor(dataDir: string, a: SealedAnchor): void {
  const final = anchorPath(dataDir);
  const tmp = `${final}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, encodeAnchor(a), { mode: ANCHOR_MODE, flag: 'wx' });
    fs.renameSync(tmp, final);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
