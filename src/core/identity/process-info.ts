/**
 * What a pid is running: executable, argv, cwd, uid, parent, start time (DESIGN §5, §6).
 *
 * Linux reads /proc; macOS falls back to `ps` (best effort, no cwd). Every field is read on
 * its own and a process may exit at any moment, so each read degrades to null/[] instead of
 * throwing. Callers that need to know the data belongs to the original process compare the
 * start time (or use a pidfd, see peercred.ts) after reading.
 *
 * argv and the script are what the process says about itself (a process can rewrite its own
 * argv): show them to the human, but only the executable is kernel truth.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export interface ProcessInfo {
  pid: number;
  /** Resolved executable path (Linux: readlink /proc/pid/exe; may end in " (deleted)"). */
  exe: string | null;
  argv: string[];
  cwd: string | null;
  /** Real uid. */
  uid: number | null;
  ppid: number | null;
  /** Opaque start-time token (Linux: clock ticks since boot, field 22 of /proc/pid/stat). */
  startTime: string | null;
  comm: string | null;
  /** For interpreters, the script (or `-m module`) they run; see scriptFromArgv. */
  script: string | null;
}

const hasProc = process.platform === 'linux';

function tryRead<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null; // gone, zombie, or not ours to read
  }
}

interface Stat {
  comm: string;
  ppid: number;
  startTime: string;
}

/** Parse /proc/pid/stat. comm may contain spaces and ')' so fields are split after the LAST ')'. */
function readStat(pid: number): Stat | null {
  const raw = tryRead(() => fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  if (raw === null) return null;
  const open = raw.indexOf('(');
  const close = raw.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  // After ')': field 3 (state) is index 0, so field N is index N - 3.
  const rest = raw.slice(close + 2).split(' ');
  const ppid = Number(rest[4 - 3]);
  const startTime = rest[22 - 3];
  if (!Number.isInteger(ppid) || startTime === undefined || !/^\d+$/.test(startTime)) return null;
  return { comm: raw.slice(open + 1, close), ppid, startTime };
}

/** The start-time token of `pid`, or null if it is gone. Same pid + same token = same process. */
export function readStartTime(pid: number): string | null {
  if (hasProc) return readStat(pid)?.startTime ?? null;
  return psFields(pid)?.startTime ?? null;
}

/** Everything known about `pid`; never throws. */
export function readProcessInfo(pid: number): ProcessInfo {
  if (!hasProc) return readProcessInfoPs(pid);
  const stat = readStat(pid);
  const exe = tryRead(() => fs.readlinkSync(`/proc/${pid}/exe`));
  const cwd = tryRead(() => fs.readlinkSync(`/proc/${pid}/cwd`));
  const cmdline = tryRead(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')) ?? '';
  // NUL-terminated args; a trailing NUL leaves one empty element to drop.
  const argv = cmdline === '' ? [] : cmdline.replace(/\0$/, '').split('\0');
  const status = tryRead(() => fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  const uidMatch = status === null ? null : /^Uid:\s+(\d+)/m.exec(status);
  return {
    pid,
    exe,
    argv,
    cwd,
    uid: uidMatch ? Number(uidMatch[1]) : null,
    ppid: stat?.ppid ?? null,
    startTime: stat?.startTime ?? null,
    comm: stat?.comm ?? null,
    script: scriptFromArgv(argv, { exe, cwd }),
  };
}

/** Ancestors of `pid`, nearest first, up to and including pid 1; stops early at unreadable ones. */
export function parentChain(pid: number, maxLevels = 8): ProcessInfo[] {
  const chain: ProcessInfo[] = [];
  const seen = new Set<number>([pid]);
  let ppid = hasProc ? (readStat(pid)?.ppid ?? null) : (psFields(pid)?.ppid ?? null);
  while (ppid !== null && ppid > 0 && chain.length < maxLevels && !seen.has(ppid)) {
    seen.add(ppid);
    const info = readProcessInfo(ppid);
    if (info.startTime === null) break; // vanished
    chain.push(info);
    ppid = info.ppid;
  }
  return chain;
}

// ---- macOS fallback: `ps` (no /proc). Best effort: argv is split on spaces, no cwd. ----

function ps(pid: number, fields: string): string | null {
  return tryRead(() =>
    execFileSync('ps', ['-ww', '-o', fields, '-p', String(pid)], {
      encoding: 'utf8',
      timeout: 2000,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim(),
  );
}

function psFields(pid: number): { ppid: number; uid: number; startTime: string; comm: string } | null {
  // lstart is always five tokens ("Mon Jan  1 10:00:00 2024"); comm (last) may contain spaces.
  const m = /^\s*(\d+)\s+(\d+)\s+(\S+\s+\S+\s+\S+\s+\S+\s+\S+)\s+(.*)$/.exec(ps(pid, 'ppid=,uid=,lstart=,comm=') ?? '');
  if (!m) return null;
  return { ppid: Number(m[1]), uid: Number(m[2]), startTime: m[3]!.replace(/\s+/g, ' '), comm: m[4]! };
}

function readProcessInfoPs(pid: number): ProcessInfo {
  const f = psFields(pid);
  const args = ps(pid, 'args=');
  const argv = args ? args.split(/\s+/) : [];
  // On macOS `comm` is the executable path as exec'd, when it was exec'd by path.
  const exe = f && path.isAbsolute(f.comm) ? f.comm : null;
  return {
    pid,
    exe,
    argv,
    cwd: null,
    uid: f?.uid ?? null,
    ppid: f?.ppid ?? null,
    startTime: f?.startTime ?? null,
    comm: f ? path.basename(f.comm) : null,
    script: scriptFromArgv(argv, { exe, cwd: null }),
  };
}

// ---- Script extraction for interpreters ----

/** How an interpreter's command line is parsed, just enough to find the script it runs. */
interface Syntax {
  /** Short options taking a value, attached (-Xdev) or as the next argument (-X dev). */
  shortValue: string;
  /** Short options that swallow the rest of their token only (perl -i.bak). */
  shortAttached?: string;
  /** Long options taking the next argument when written without '='. */
  longValue: string[];
  /** Options meaning "code on the command line / stdin": there is no script. */
  shortCode: string;
  longCode: string[];
  /** python -m: the script is the module. */
  shortModule?: string;
  /** deno/bun: subcommands followed by a script, e.g. `deno run file`. */
  subcommands?: string[];
}

const SHELL: Syntax = { shortValue: 'oO', longValue: ['--rcfile', '--init-file'], shortCode: 'cs', longCode: [] };
const SYNTAX: Record<string, Syntax> = {
  node: {
    shortValue: 'rC',
    longValue: [
      '--require',
      '--import',
      '--loader',
      '--experimental-loader',
      '--conditions',
      '--input-type',
      '--env-file',
      '--title',
      '--inspect-port',
      '--watch-path',
      '--test-reporter',
      '--test-reporter-destination',
      '--test-name-pattern',
      '--redirect-warnings',
      '--disable-warning',
      '--stack-trace-limit',
    ],
    shortCode: 'epi',
    longCode: ['--eval', '--print', '--interactive', '--run'],
  },
  python: { shortValue: 'XWQ', longValue: ['--check-hash-based-pycs'], shortCode: 'c', longCode: [], shortModule: 'm' },
  sh: SHELL,
  ruby: {
    shortValue: 'ICEr',
    longValue: ['--encoding', '--external-encoding', '--internal-encoding'],
    shortCode: 'e',
    longCode: [],
  },
  perl: { shortValue: 'I', shortAttached: 'iMmx0CdD', longValue: [], shortCode: 'eE', longCode: [] },
  deno: {
    shortValue: 'cL',
    longValue: ['--config', '--import-map', '--lock', '--cert', '--location', '--seed', '--ext', '--log-level'],
    shortCode: '',
    longCode: [],
    subcommands: ['run', 'serve', 'test', 'bench'],
  },
  bun: {
    shortValue: 'r',
    longValue: ['--cwd', '--preload', '--env-file', '--config'],
    shortCode: 'ep',
    longCode: ['--eval', '--print'],
    subcommands: ['run', 'test'],
  },
};

/** Which syntax an executable name follows (node, python3.12, dash, ...), or null if not an interpreter. */
function interpreterOf(name: string): Syntax | null {
  const base = path.basename(name).replace(/\.exe$/i, '');
  if (base === 'node' || base === 'nodejs') return SYNTAX.node!;
  if (/^python[0-9.]*$/.test(base)) return SYNTAX.python!;
  if (/^(bash|sh|dash|zsh|ksh)$/.test(base)) return SYNTAX.sh!;
  if (/^ruby[0-9.]*$/.test(base)) return SYNTAX.ruby!;
  if (/^perl[0-9.]*$/.test(base)) return SYNTAX.perl!;
  if (base === 'deno') return SYNTAX.deno!;
  if (base === 'bun') return SYNTAX.bun!;
  return null;
}

/**
 * The script an interpreter runs, from its argv: `python -u x.py` → `<cwd>/x.py`,
 * `python -m mod` → `-m mod`, `deno run --allow-net a.ts` → `<cwd>/a.ts`. Null for a
 * non-interpreter, inline code (`bash -c`, `node -e`), stdin (`-`) or no script (a REPL).
 * The interpreter is recognised from the kernel's exe when known, else from argv[0].
 */
export function scriptFromArgv(argv: readonly string[], opts: { exe?: string | null; cwd?: string | null } = {}): string | null {
  const syntax = (opts.exe ? interpreterOf(opts.exe) : null) ?? (argv[0] ? interpreterOf(argv[0]) : null);
  if (!syntax) return null;
  const found = findScript(argv, syntax);
  if (found === null || found.startsWith('-m ')) return found;
  return opts.cwd && !path.isAbsolute(found) ? path.resolve(opts.cwd, found) : found;
}

function findScript(argv: readonly string[], s: Syntax): string | null {
  let sawSubcommand = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv[i + 1] ?? null;
    if (arg === '-') return null; // script from stdin
    if (arg.startsWith('--')) {
      const name = arg.split('=', 1)[0]!;
      if (s.longCode.includes(name)) return null;
      if (s.longValue.includes(name) && !arg.includes('=')) i++;
      continue; // a flag such as --experimental-vm-modules or --allow-net
    }
    if ((arg.startsWith('-') || arg.startsWith('+')) && arg.length > 1) {
      // A group of short flags: -u, -uB, -Xdev, -X dev, -lc 'cmd', +o posix.
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]!;
        const rest = arg.slice(j + 1);
        if (s.shortCode.includes(ch)) return null;
        if (s.shortModule?.includes(ch)) {
          const mod = rest || argv[i + 1];
          return mod ? `-m ${mod}` : null;
        }
        if (s.shortValue.includes(ch)) {
          if (rest === '') i++;
          break;
        }
        if (s.shortAttached?.includes(ch)) break;
      }
      continue;
    }
    if (s.subcommands) {
      // deno/bun: skip one leading `run`-like subcommand; otherwise a bare word is a
      // subcommand (deno fmt) or a package.json script (bun run dev), not a file.
      if (!sawSubcommand && s.subcommands.includes(arg)) {
        sawSubcommand = true;
        continue;
      }
      return arg.includes('/') || arg.includes('.') ? arg : null;
    }
    return arg;
  }
  return null;
}
