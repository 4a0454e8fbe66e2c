/**
 * SHA-256 of an executable, for agent rules and the "hash changed" badge.
 *
 * Hashing node or python (tens of MB) on every connection would be slow, so results are
 * cached by file identity. The key is (dev, ino, size, mtime, ctime) in nanoseconds: a
 * replaced file gets a new inode, an edited one a new mtime, and ctime catches an edit whose
 * mtime was reset with utimes() (ctime cannot be set by a user). The identity is taken with
 * fstat on the descriptor being read, so the hash belongs to the file that was stat'ed.
 */
import crypto from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import fs from 'node:fs/promises';
import { AkcError, describeCause } from '../../shared/errors.js';

const MAX_ENTRIES = 512;
const CHUNK = 1 << 20;

// Map iteration order is insertion order: re-inserting on hit makes the first key the LRU.
const cache = new Map<string, string>();
const inflight = new Map<string, Promise<string>>();
let hits = 0;
let misses = 0;

function keyOf(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Hex SHA-256 of the file at `file`, streamed in 1 MiB chunks. On Linux pass
 * `/proc/<pid>/exe` to hash the binary a process really runs, even if its path was since
 * replaced or deleted. Throws AkcError('IO') if the file cannot be read.
 */
export async function hashExecutable(file: string): Promise<string> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const before = await handle.stat({ bigint: true });
    if (!before.isFile()) throw new Error('not a regular file');
    const key = keyOf(before);
    const cached = cache.get(key);
    if (cached !== undefined) {
      hits++;
      cache.delete(key);
      cache.set(key, cached);
      return cached;
    }
    // Concurrent connections from the same program share one read.
    const pending = inflight.get(key);
    if (pending !== undefined) return await pending;
    misses++;
    const work = digest(handle).then(async (hex) => {
      // Cache only if the file did not change while it was read (else the hash may mix versions).
      const after = await handle!.stat({ bigint: true });
      if (keyOf(after) === key) remember(key, hex);
      return hex;
    });
    inflight.set(key, work);
    try {
      return await work;
    } finally {
      inflight.delete(key);
    }
  } catch (err) {
    throw new AkcError('IO', `failed to hash executable ${file}: ${describeCause(err)}`, { cause: err });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

async function digest(handle: fs.FileHandle): Promise<string> {
  const hash = crypto.createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  let position = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, CHUNK, position);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    position += bytesRead;
  }
  return hash.digest('hex');
}

function remember(key: string, hex: string): void {
  cache.set(key, hex);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
}

/** Cache counters, for tests and the benchmark. */
export function exeHashCacheStats(): { size: number; hits: number; misses: number } {
  return { size: cache.size, hits, misses };
}

/** Forget every cached hash (tests; or after a suspected clock or filesystem oddity). */
export function clearExeHashCache(): void {
  cache.clear();
  hits = 0;
  misses = 0;
}
