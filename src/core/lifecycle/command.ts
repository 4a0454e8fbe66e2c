/**
 * The command rotator: runs the user's program without a shell, in a clean environment,
 * with the current value on stdin; its stdout (one trailing newline trimmed) is the new
 * value. A non-zero exit, a signal, empty output, oversized output or the timeout is a
 * failure. Its stderr is kept for the audit reason with every occurrence of the current
 * and the new value (and their common encodings) replaced by a marker.
 *
 * The program runs in its own process group, killed as a whole on timeout, so a script
 * that started `sleep` cannot hold the rotation open.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { AkcError } from '../../shared/errors.js';
import { RedactionSet } from '../redact/redactor.js';
import { MAX_SECRET_BYTES } from '../vault/secrets.js';

export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
const MAX_STDERR_BYTES = 8192;
const MAX_REASON_CHARS = 600;

export interface CommandRotatorOptions {
  /** The secret's name (in AKC_SECRET_NAME for the program). */
  name: string;
  version: number;
  timeoutMs?: number;
}

/** A failed rotation; `message` is safe for the audit log (no values). */
export class RotationFailure extends AkcError {
  constructor(message: string, hint?: string) {
    super('IO', message, hint ? { hint } : undefined);
  }
}

/** The environment the program gets: nothing of ours (no AKC_*, no tokens) beyond these. */
export function cleanEnvironment(name: string, version: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    AKC_SECRET_NAME: name,
    AKC_SECRET_VERSION: String(version),
  };
  const home = os.homedir();
  if (home) env.HOME = home;
  const user = os.userInfo().username;
  if (user) {
    env.USER = user;
    env.LOGNAME = user;
  }
  return env;
}

/** Replaces every occurrence of the values (raw and encoded) in `text` with markers. */
export function scrub(text: Buffer, values: { label: string; value: Buffer }[]): string {
  const present = values.filter((v) => v.value.length > 0);
  if (present.length === 0) return text.toString('utf8');
  const set = new RedactionSet(present.map((v) => ({ label: v.label, value: v.value })));
  try {
    return set.redact(text).toString('utf8');
  } finally {
    set.destroy();
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_REASON_CHARS ? flat.slice(0, MAX_REASON_CHARS) + '…' : flat;
}

/** Strips one trailing "\n" or "\r\n" (what `echo` adds). */
function trimNewline(buf: Buffer): Buffer {
  if (buf.length > 0 && buf[buf.length - 1] === 0x0a) {
    const end = buf.length >= 2 && buf[buf.length - 2] === 0x0d ? buf.length - 2 : buf.length - 1;
    return buf.subarray(0, end);
  }
  return buf;
}

/**
 * Runs the rotator program. Resolves with the new value (the caller zeroes it); rejects
 * with a RotationFailure whose message names the cause and the scrubbed stderr.
 */
export function runCommandRotator(spec: { path: string; args: string[] }, current: Buffer, opts: CommandRotatorOptions): Promise<Buffer> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  return new Promise<Buffer>((resolve, reject) => {
    const out: Buffer[] = [];
    let outBytes = 0;
    const err: Buffer[] = [];
    let errBytes = 0;
    let failure: string | null = null;
    let settled = false;
    const child = spawn(spec.path, spec.args, {
      cwd: path.dirname(spec.path),
      env: cleanEnvironment(opts.name, opts.version),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      shell: false,
      windowsHide: true,
    });
    const killGroup = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const wipe = (): void => {
      for (const b of out) b.fill(0);
    };
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const fail = (cause: string): void => {
      const stdout = Buffer.concat(out);
      const stderr = scrub(Buffer.concat(err), [
        { label: 'current value', value: current },
        { label: 'new value', value: trimNewline(stdout) },
      ]);
      stdout.fill(0);
      wipe();
      const tail = oneLine(stderr);
      finish(() => reject(new RotationFailure(`the rotator command ${cause}${tail ? `; stderr: ${tail}` : ''}`)));
    };
    const timer = setTimeout(() => {
      failure = `timed out after ${Math.round(timeoutMs / 100) / 10} s`;
      killGroup();
      // Do not wait for pipes a grandchild may still hold: the group is dead or dying.
      fail(failure);
    }, timeoutMs);
    child.on('error', (e: NodeJS.ErrnoException) => {
      fail(`could not be started (${e.code ?? e.message})`);
    });
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length;
      if (outBytes > MAX_SECRET_BYTES + 2) {
        d.fill(0);
        if (!failure) {
          failure = `printed more than ${MAX_SECRET_BYTES} bytes`;
          killGroup();
        }
        return;
      }
      out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (errBytes < MAX_STDERR_BYTES) err.push(d.subarray(0, MAX_STDERR_BYTES - errBytes));
      errBytes += d.length;
    });
    child.stdin.on('error', () => undefined); // the program may exit without reading stdin
    child.stdin.end(current);
    child.on('close', (code, signal) => {
      if (failure) return fail(failure);
      if (signal) return fail(`was killed by ${signal}`);
      if (code !== 0) return fail(`exited with status ${code}`);
      const all = Buffer.concat(out);
      wipe();
      const value = Buffer.from(trimNewline(all));
      all.fill(0);
      if (value.length === 0) return fail('printed nothing on stdout (the new value goes to stdout)');
      finish(() => resolve(value));
    });
  });
}
