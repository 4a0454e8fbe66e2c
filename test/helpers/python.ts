/**
 * The real Python interpreter for tests that need what Python itself prints (json.dumps,
 * repr): `sys.executable` resolved, so no pyenv shim or symlink stands between the test
 * and the interpreter. Missing Python fails the test rather than skipping it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

let cached: string | undefined;

export function realPython(): string {
  if (cached) return cached;
  const r = spawnSync('python3', ['-c', 'import sys,os;print(os.path.realpath(sys.executable))'], { encoding: 'utf8' });
  const exe = r.status === 0 ? r.stdout.trim() : '';
  if (!exe || !fs.existsSync(exe))
    throw new Error(`failed to find python3 (needed for these tests): ${r.stderr || r.error?.message || 'not on PATH'}`);
  cached = exe;
  return exe;
}

/** Runs `code` under the real Python with `args` (sys.argv[1:]); returns stdout, throws on failure. */
export function python(code: string, args: string[] = [], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(realPython(), ['-c', code, ...args], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}
