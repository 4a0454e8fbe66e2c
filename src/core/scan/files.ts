/**
 * Walks paths for `akc scan`: regular files only, symlinks never followed (neither while
 * walking nor when opening: O_NOFOLLOW), `.git` directories skipped (history is scanned
 * with --git instead), `node_modules` skipped unless a path given names it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Finding, ScanPatterns } from './scanner.js';

export const READ_CHUNK_BYTES = 1024 * 1024;

export interface FileFinding extends Finding {
  path: string;
}

export interface FileScanStats {
  files: number;
  bytes: number;
  /** Paths skipped (symlinks, special files, unreadable), with why. */
  skipped: { path: string; reason: string }[];
}

const SKIP_DIRS = new Set(['.git']);
const SKIP_UNLESS_GIVEN = new Set(['node_modules']);

/** Every regular file under `root` (or `root` itself), depth first, names sorted. */
export function* walkFiles(root: string, stats: FileScanStats): Generator<string> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(root);
  } catch (err) {
    stats.skipped.push({ path: root, reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' });
    return;
  }
  if (st.isSymbolicLink()) {
    stats.skipped.push({ path: root, reason: 'symbolic link (not followed)' });
    return;
  }
  if (st.isFile()) {
    yield root;
    return;
  }
  if (!st.isDirectory()) {
    stats.skipped.push({ path: root, reason: 'not a regular file' });
    return;
  }
  // Given explicitly (the path names node_modules): everything under it is scanned.
  const skipNodeModules = !path
    .resolve(root)
    .split(path.sep)
    .some((part) => SKIP_UNLESS_GIVEN.has(part));
  const stack: string[] = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      stats.skipped.push({ path: dir, reason: (err as NodeJS.ErrnoException).code ?? 'unreadable' });
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (SKIP_DIRS.has(e.name) || (skipNodeModules && SKIP_UNLESS_GIVEN.has(e.name))) continue;
        subdirs.push(p);
      } else if (e.isFile()) {
        yield p;
      } else if (e.isSymbolicLink()) {
        stats.skipped.push({ path: p, reason: 'symbolic link (not followed)' });
      }
      // Sockets, FIFOs and devices are ignored silently.
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}

/**
 * Scans one file through `patterns`, reading into `buffer` (reused across files; the
 * caller zeroes it at the end). Returns false when the file could not be read.
 */
export function scanFile(
  file: string,
  patterns: ScanPatterns,
  buffer: Buffer,
  stats: FileScanStats,
  onFinding: (f: FileFinding) => void,
): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    stats.skipped.push({ path: file, reason: code === 'ELOOP' ? 'symbolic link (not followed)' : (code ?? 'unreadable') });
    return false;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) {
      stats.skipped.push({ path: file, reason: 'not a regular file' });
      return false;
    }
    const scanner = patterns.stream((f) => onFinding({ ...f, path: file }));
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, buffer, 0, buffer.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        stats.skipped.push({ path: file, reason: code ?? 'read error' });
        scanner.end();
        return false;
      }
      if (n === 0) break;
      stats.bytes += n;
      scanner.write(n === buffer.length ? buffer : buffer.subarray(0, n));
    }
    scanner.end();
    stats.files += 1;
    return true;
  } finally {
    fs.closeSync(fd);
  }
}
