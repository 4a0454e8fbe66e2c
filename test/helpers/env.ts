/** Shared test fixtures: temp dirs, an isolated akc environment, and the CLI as a real child process. */
import { spawn, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const AKC_BIN = path.join(ROOT, 'bin/akc.js');

/** A fresh private temp dir, removed when the process exits. */
export function tempDir(prefix = 'akc-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface AkcEnv {
  home: string;
  socket: string;
  env: NodeJS.ProcessEnv;
}

/**
 * An isolated environment: own data dir, socket and keychain service name (so parallel
 * test files never share an OS keychain entry).
 */
export function akcEnv(extra: NodeJS.ProcessEnv = {}): AkcEnv {
  const base = tempDir();
  const home = path.join(base, 'home');
  const socket = path.join(base, 'run', 'agent.sock');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AKC_HOME: home,
    AKC_SOCKET: socket,
    AKC_KEYCHAIN_SERVICE: `agent-keychain-test-${path.basename(base)}`,
    AKC_DANGEROUS_TEST_WEAK_KDF: '1',
    ...extra,
  };
  return { home, socket, env };
}

/** Whether a real, isolated OS keychain is available (scripts/with-keyring.sh). */
export function keyringAvailable(): boolean {
  return process.env.AKC_TEST_KEYRING === 'ready';
}

/** For `test(..., { skip: keyringSkip() })`; in CI a missing keyring is a failure, not a skip. */
export function keyringSkip(): string | false {
  if (keyringAvailable()) return false;
  if (process.env.AKC_TEST_REQUIRE_KEYRING === '1') throw new Error('AKC_TEST_REQUIRE_KEYRING=1 but no test keyring is running');
  return 'no isolated OS keychain (run through scripts/with-keyring.sh)';
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `akc ARGS` as a real child process with `input` on stdin. */
export function akc(env: AkcEnv, args: string[], input?: string | Buffer, opts: SpawnOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AKC_BIN, ...args], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin!.end(input ?? '');
  });
}

export const PASSWORD = 'correct horse battery';
