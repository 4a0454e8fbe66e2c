/**
 * What a pid is running: executable, argv, cwd, uid, parent, start time.
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
import { parseEnviron } from './injection.js';

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
    script: realScript(scriptFromArgv(argv, { exe, cwd })),
  };
}

/**
 * A script path with its symlinks resolved (`akc` on PATH is a link to bin/akc.js), as
 * agent rules store them; kept as is when it cannot be resolved. It is still the path argv
 * claims: nothing records which file the interpreter really read.
 */
function realScript(script: string | null): string | null {
  if (script === null || script.startsWith('-m ') || !path.isAbsolute(script)) return script;
  return tryRead(() => fs.realpathSync(script)) ?? script;
}

/**
 * The environment `pid` was started with (/proc/<pid>/environ), every value of every name;
 * null when it cannot be read (gone, or not ours). A process can rewrite this block in its
 * own memory, so it is evidence of how it was launched, not proof.
 */
export function readEnviron(pid: number): Map<string, string[]> | null {
  if (!hasProc) return null;
  const raw = tryRead(() => fs.readFileSync(`/proc/${pid}/environ`));
  return raw === null ? null : parseEnviron(raw);
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
    script: realScript(scriptFromArgv(argv, { exe, cwd: null })),
  };
}

// ---- Script extraction for interpreters ----

/** How an interpreter's command line is parsed, just enough to find the script it runs. */
interface Syntax {
  /** The family name shown in labels (`node --require`). */
  name: string;
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
  /**
   * Options that load code besides the script (a preload, a loader, an include path, a
   * debugger anyone of this user can attach to). Whether they take a value is still said
   * by shortValue/longValue/shortAttached.
   */
  shortLoad?: string;
  longLoad?: string[];
}

const SHELL: Syntax = { name: 'sh', shortValue: 'oO', longValue: ['--rcfile', '--init-file'], shortCode: 'cs', longCode: [] };
const SYNTAX: Record<string, Syntax> = {
  node: {
    name: 'node',
    shortValue: 'rC',
    longValue: [
      '--require',
      '--import',
      '--loader',
      '--experimental-loader',
      '--conditions',
      '--input-type',
      '--env-file',
      '--env-file-if-exists',
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
    shortLoad: 'r',
    longLoad: [
      '--require',
      '--import',
      '--loader',
      '--experimental-loader',
      // An env file may set NODE_OPTIONS (node honours it from the file).
      '--env-file',
      '--env-file-if-exists',
      // The inspector runs any code a local client sends it.
      '--inspect',
      '--inspect-brk',
      '--inspect-wait',
      '--experimental-policy',
    ],
  },
  python: {
    name: 'python',
    shortValue: 'XWQ',
    longValue: ['--check-hash-based-pycs'],
    shortCode: 'c',
    longCode: [],
    shortModule: 'm',
    // -i: an interactive prompt (code from stdin) after the script.
    shortLoad: 'i',
  },
  sh: SHELL,
  ruby: {
    name: 'ruby',
    shortValue: 'ICEr',
    longValue: ['--encoding', '--external-encoding', '--internal-encoding'],
    shortCode: 'e',
    longCode: [],
    // -r requires a library, -I puts a directory first on the load path.
    shortLoad: 'rI',
  },
  perl: {
    name: 'perl',
    shortValue: 'I',
    shortAttached: 'iMmx0CdD',
    longValue: [],
    shortCode: 'eE',
    longCode: [],
    // -M/-m load a module, -I an include directory, -d a debugger module.
    shortLoad: 'MmId',
  },
  deno: {
    name: 'deno',
    shortValue: 'cL',
    longValue: ['--config', '--import-map', '--lock', '--cert', '--location', '--seed', '--ext', '--log-level', '--preload'],
    shortCode: '',
    longCode: [],
    subcommands: ['run', 'serve', 'test', 'bench'],
    longLoad: ['--preload', '--import-map', '--inspect', '--inspect-brk', '--inspect-wait'],
  },
  bun: {
    name: 'bun',
    shortValue: 'r',
    longValue: ['--cwd', '--preload', '--env-file', '--config'],
    shortCode: 'ep',
    longCode: ['--eval', '--print'],
    subcommands: ['run', 'test'],
    shortLoad: 'r',
    longLoad: ['--preload', '--env-file', '--inspect', '--inspect-brk', '--inspect-wait'],
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
 * The interpreter family of an executable (`node`, `python`, `sh`, `ruby`, `perl`, `deno`,
 * `bun`), or null when it is not an interpreter this module knows.
 */
export function interpreterFamily(exe: string | null | undefined): string | null {
  return exe ? (interpreterOf(exe)?.name ?? null) : null;
}

/**
 * The syntax to read argv with. The kernel's exe decides; argv[0] (which a process writes
 * itself) is used only when the exe is unknown (macOS when `ps` shows no path). Otherwise a
 * native program could rewrite its argv to `node /path/agent.js` and be taken for that script.
 */
function syntaxFor(argv: readonly string[], exe: string | null | undefined): Syntax | null {
  if (exe) return interpreterOf(exe);
  return argv[0] ? interpreterOf(argv[0]) : null;
}

/**
 * The script an interpreter runs, from its argv: `python -u x.py` → `<cwd>/x.py`,
 * `python -m mod` → `-m mod`, `deno run --allow-net a.ts` → `<cwd>/a.ts`. Null for a
 * non-interpreter, inline code (`bash -c`, `node -e`), stdin (`-`) or no script (a REPL).
 * The interpreter is recognised from the kernel's exe when known, else from argv[0].
 */
export function scriptFromArgv(argv: readonly string[], opts: { exe?: string | null; cwd?: string | null } = {}): string | null {
  const syntax = syntaxFor(argv, opts.exe);
  if (!syntax) return null;
  const found = scanArgv(argv, syntax).script;
  if (found === null || found.startsWith('-m ')) return found;
  return opts.cwd && !path.isAbsolute(found) ? path.resolve(opts.cwd, found) : found;
}

/** The index in argv of the script an interpreter runs (see scriptFromArgv), or null. */
export function scriptIndexInArgv(argv: readonly string[], exe: string | null | undefined): number | null {
  const syntax = syntaxFor(argv, exe);
  if (!syntax) return null;
  const r = scanArgv(argv, syntax);
  return r.script === null || r.script.startsWith('-m ') ? null : r.index;
}

/**
 * Scan.inline for an empty script argument. An empty word names no file; it is also what a
 * retitled process shows: Node's process.title (npm sets `npm exec akc get X`) overwrites
 * the whole argv area, so /proc has the title followed by empty arguments. Taken as a
 * script, path.resolve(cwd, '') would name the working directory: every retitled process
 * in one directory would be one "script".
 */
const EMPTY_SCRIPT = '(empty)';

/**
 * What in an interpreter's argv runs code other than a script file that can be checked:
 * preload/loader/include/debugger options (`node --require`), inline code (`node -e`,
 * `python -c`), a module (`python -m`: no file to hash), or no script at all (stdin, a
 * REPL). Labels name the option only, never its value. Empty for non-interpreters.
 */
export function codeFlagsFromArgv(argv: readonly string[], exe: string | null | undefined): string[] {
  const syntax = syntaxFor(argv, exe);
  if (!syntax) return [];
  const r = scanArgv(argv, syntax);
  const flags = r.loads.map((f) => `${syntax.name} ${f}`);
  if (r.inline === EMPTY_SCRIPT) flags.push(`no script file (${syntax.name} with an empty script argument, or a retitled process)`);
  else if (r.inline !== null) flags.push(`inline code (${syntax.name} ${r.inline})`);
  else if (r.script === null) flags.push(`code from stdin or a prompt (${syntax.name} without a script file)`);
  else if (r.script.startsWith('-m ')) flags.push(`module (${syntax.name} -m: no script file to check)`);
  return flags;
}

interface Scan {
  script: string | null;
  /** argv index of the script (or of the -m group). */
  index: number;
  /** Code-loading options seen before the script. */
  loads: string[];
  /** The inline-code option that ended the scan (`-e`, `-c`, `--eval`, `-` for stdin; EMPTY_SCRIPT). */
  inline: string | null;
}

function scanArgv(argv: readonly string[], s: Syntax): Scan {
  const loads: string[] = [];
  const done = (script: string | null, index: number, inline: string | null = null): Scan =>
    script === '' ? { script: null, index, loads, inline: EMPTY_SCRIPT } : { script, index, loads, inline };
  let sawSubcommand = false;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return argv[i + 1] === undefined ? done(null, i) : done(argv[i + 1]!, i + 1);
    if (arg === '-') return done(null, i, '-'); // script from stdin
    if (arg.startsWith('--')) {
      const name = arg.split('=', 1)[0]!;
      if (s.longCode.includes(name)) return done(null, i, name);
      if (s.longLoad?.some((l) => name === l || (l.startsWith('--inspect') && name.startsWith(l)))) loads.push(name);
      if (s.longValue.includes(name) && !arg.includes('=')) i++;
      continue; // a flag such as --experimental-vm-modules or --allow-net
    }
    if ((arg.startsWith('-') || arg.startsWith('+')) && arg.length > 1) {
      // A group of short flags: -u, -uB, -Xdev, -X dev, -lc 'cmd', +o posix.
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]!;
        const rest = arg.slice(j + 1);
        if (s.shortLoad?.includes(ch) && arg[0] === '-') loads.push(`-${ch}`);
        if (s.shortCode.includes(ch)) return done(null, i, `-${ch}`);
        if (s.shortModule?.includes(ch)) {
          const mod = rest || argv[i + 1];
          return mod ? done(`-m ${mod}`, i) : done(null, i);
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
      return arg.includes('/') || arg.includes('.') ? done(arg, i) : done(null, i, 'a subcommand or package script');
    }
    return done(arg, i);
  }
  return done(null, argv.length);
}
