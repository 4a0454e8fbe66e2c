/**
 * Which code a process runs, as far as this user's host can tell.
 *
 * Kernel truth: the executable (/proc/<pid>/exe) and its hash. Evidence the process wrote
 * itself, read from its memory: argv (hence which script an interpreter runs) and the
 * environment it was started with. A process already running the adversary's code can
 * rewrite both (e.g. through /proc/self/mem), so what this module finds is a reason to ask a
 * human, never a reason to trust:
 *
 * - `injectedCode`: code-injecting variables (injection.ts) and interpreter options that
 *   load code besides the script, inline code, or no script file (process-info.ts). Any
 *   entry voids every allow grant and every agent rule for the request.
 * - `scriptSha256`: the content of the script file at the path argv claims, hashed at
 *   request time (cached by dev/ino/size/mtime/ctime, exe-hash.ts). Grants bind it, so
 *   replacing the script's content voids them. Node and Python do not keep the script
 *   open, so the kernel cannot confirm that this file is what the interpreter read.
 */
import { hashExecutable } from './exe-hash.js';
import { injectedVariables } from './injection.js';
import { codeFlagsFromArgv, readEnviron } from './process-info.js';

export interface CodeCheck {
  /** SHA-256 of the script's content now; null without a script file or when it cannot be read. */
  scriptSha256: string | null;
  /** Variable names and option names (never values) that put other code in the process. */
  injectedCode: string[];
}

/** Hashes a script file named by argv; null for none, `-m module`, relative or unreadable paths. */
export async function hashScript(script: string | null | undefined): Promise<string | null> {
  if (!script || script.startsWith('-m ') || !script.startsWith('/')) return null;
  return hashExecutable(script).catch(() => null);
}

/**
 * Injected code of a process from its argv and its environment. `environ` null means it
 * could not be read: on Linux the caller treats the process as unidentified; elsewhere
 * (no /proc) only argv is checked.
 */
export function injectedCodeOf(
  p: { exe: string | null; argv: readonly string[] },
  environ: ReadonlyMap<string, readonly string[]> | null,
): string[] {
  const vars = environ ? injectedVariables(environ).map((n) => `environment ${n}`) : [];
  return [...vars, ...codeFlagsFromArgv(p.argv, p.exe)];
}

/** Reads pid's environment and checks argv; null when the environment cannot be read on Linux. */
export function readInjectedCode(p: { pid: number; exe: string | null; argv: readonly string[] }): string[] | null {
  const environ = readEnviron(p.pid);
  if (environ === null && process.platform === 'linux') return null;
  return injectedCodeOf(p, environ);
}
