/**
 * `akc scan --git`: every blob reachable from any ref, streamed once through the scanner.
 * `git rev-list --objects --all` names the objects (with a path), `git cat-file --batch`
 * streams their contents; nothing is checked out and no blob is held whole in memory.
 * Blobs with a finding (rare) are then mapped to the commit that introduced them and
 * their path there (`git log --find-object`, `git ls-tree`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { AkcError } from '../../shared/errors.js';
import type { Finding, ScanPatterns, StreamScanner } from './scanner.js';

export interface GitFinding extends Finding {
  blob: string;
  /** A path the blob had (rev-list's), replaced by its path in `commit` when known. */
  path: string;
  /** The commit that introduced the blob (earliest by date among all refs), if found. */
  commit: string | null;
}

export interface GitScanStats {
  blobs: number;
  bytes: number;
}

/** Git with no pager, no terminal prompts and no optional locks. */
function gitEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', GIT_PAGER: 'cat', LC_ALL: 'C' };
}

function git(repo: string, args: string[]): string {
  const r = spawnSync('git', ['-C', repo, ...args], { env: gitEnv(), maxBuffer: 256 * 1024 * 1024 });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new AkcError('IO', code === 'ENOENT' ? 'git is not installed (needed for --git)' : `git failed: ${r.error.message}`);
  }
  if (r.status !== 0) throw new AkcError('IO', `git ${args[0]} failed in ${repo}: ${firstLine(r.stderr.toString())}`);
  return r.stdout.toString('utf8');
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
}

/** Throws a clear error unless `repo` is inside a git work tree or is a bare repository. */
export function checkRepository(repo: string): void {
  git(repo, ['rev-parse', '--git-dir']);
}

/** Scans the history of the repository at `repo`. */
export async function scanGitHistory(
  repo: string,
  patterns: ScanPatterns,
  stats: GitScanStats,
  onFinding: (f: GitFinding) => void,
): Promise<void> {
  checkRepository(repo);
  const found: GitFinding[] = [];
  await streamBlobs(repo, patterns, stats, (f) => found.push(f));
  // Map each blob with a finding to the commit that introduced it (once per blob).
  const introduced = new Map<string, { commit: string; path: string } | null>();
  for (const f of found) {
    if (!introduced.has(f.blob)) introduced.set(f.blob, introducingCommit(repo, f.blob));
    const where = introduced.get(f.blob);
    onFinding(where ? { ...f, commit: where.commit, path: where.path } : f);
  }
}

function streamBlobs(repo: string, patterns: ScanPatterns, stats: GitScanStats, onFinding: (f: GitFinding) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const env = gitEnv();
    const revList = spawn('git', ['-C', repo, 'rev-list', '--objects', '--all'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const catFile = spawn('git', ['-C', repo, 'cat-file', '--batch=%(objectname) %(objecttype) %(objectsize) %(rest)'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let failed = false;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      revList.kill();
      catFile.kill();
      reject(err);
    };
    for (const p of [revList, catFile]) {
      p.on('error', (err: NodeJS.ErrnoException) =>
        fail(new AkcError('IO', err.code === 'ENOENT' ? 'git is not installed (needed for --git)' : `git failed: ${err.message}`)),
      );
    }
    let revErr = '';
    let catErr = '';
    revList.stderr.on('data', (d: Buffer) => (revErr = (revErr + d.toString()).slice(-4000)));
    catFile.stderr.on('data', (d: Buffer) => (catErr = (catErr + d.toString()).slice(-4000)));
    catFile.stdin.on('error', () => undefined);

    // rev-list → cat-file: only objects listed with a path (trees and blobs; commits have none).
    let partial = '';
    revList.stdout.setEncoding('utf8');
    revList.stdout.on('data', (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      const keep = lines.filter((l) => l.length > 41 && l[40] === ' ').join('\n');
      if (keep && !catFile.stdin.write(keep + '\n')) {
        revList.stdout.pause();
        catFile.stdin.once('drain', () => revList.stdout.resume());
      }
    });
    let revDone = false;
    revList.on('close', (code) => {
      revDone = true;
      if (code !== 0 && !failed) return fail(new AkcError('IO', `git rev-list failed in ${repo}: ${firstLine(revErr)}`));
      if (partial.length > 41 && partial[40] === ' ') catFile.stdin.write(partial + '\n');
      catFile.stdin.end();
    });

    // cat-file output: "<sha> <type> <size> <path>\n<size bytes>\n", repeated.
    let header: Buffer[] = [];
    let remaining = -1;
    let needLf = false;
    let current: StreamScanner | null = null;
    const startObject = (line: string): void => {
      const m = /^([0-9a-f]{40,64}) (\S+) (\d+) ?(.*)$/.exec(line);
      if (!m) {
        if (/ missing$/.test(line)) return;
        return fail(new AkcError('IO', `unexpected output from git cat-file: ${line.slice(0, 80)}`));
      }
      const [, sha, type, size, objPath] = m;
      remaining = Number(size);
      current = null;
      if (type === 'blob') {
        stats.blobs += 1;
        stats.bytes += remaining;
        const blob = sha!;
        const where = objPath!;
        current = patterns.stream((f) => onFinding({ ...f, blob, path: where, commit: null }));
      }
      if (remaining === 0) {
        current?.end();
        current = null;
        remaining = -1;
        needLf = true;
      }
    };
    catFile.stdout.on('data', (chunk: Buffer) => {
      let i = 0;
      while (i < chunk.length && !failed) {
        if (needLf) {
          // The newline after each object's content.
          needLf = false;
          if (chunk[i] === 0x0a) i++;
          continue;
        }
        if (remaining > 0) {
          const n = Math.min(remaining, chunk.length - i);
          current?.write(chunk.subarray(i, i + n));
          remaining -= n;
          i += n;
          if (remaining === 0) {
            current?.end();
            current = null;
            remaining = -1;
            needLf = true;
          }
          continue;
        }
        const nl = chunk.indexOf(0x0a, i);
        if (nl === -1) {
          header.push(chunk.subarray(i));
          break;
        }
        header.push(chunk.subarray(i, nl));
        const line = Buffer.concat(header).toString('utf8');
        header = [];
        i = nl + 1;
        startObject(line);
      }
    });
    catFile.on('close', (code) => {
      if (failed) return;
      if (code !== 0) return fail(new AkcError('IO', `git cat-file failed in ${repo}: ${firstLine(catErr)}`));
      if (!revDone) return fail(new AkcError('IO', 'git cat-file ended before git rev-list'));
      resolve();
    });
  });
}

/** The earliest commit (by date, over all refs) whose tree holds `blob`, and its path there. */
function introducingCommit(repo: string, blob: string): { commit: string; path: string } | null {
  const commits = git(repo, ['log', '--all', '--reverse', '--format=%H', `--find-object=${blob}`])
    .split('\n')
    .filter((l) => /^[0-9a-f]{40,64}$/.test(l));
  for (const commit of commits.slice(0, 20)) {
    const entries = git(repo, ['ls-tree', '-r', '-z', '--full-tree', commit]).split('\0');
    for (const e of entries) {
      const tab = e.indexOf('\t');
      if (tab === -1) continue;
      const [, type, sha] = e.slice(0, tab).split(' ');
      if (type === 'blob' && sha === blob) return { commit, path: e.slice(tab + 1) };
    }
  }
  return null;
}
