/**
 * The system clipboard for `akc secret reveal --clipboard`, through the platform's own
 * tools (wl-copy on Wayland, xclip or xsel on X11, pbcopy on macOS): the value goes to the
 * tool's stdin, never its argv or environment. A detached helper clears the clipboard
 * after the delay, unless something else was copied meanwhile (it compares a salted hash
 * of what the clipboard holds, so it never holds the value itself).
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AkcError } from '../shared/errors.js';

export interface ClipboardTool {
  name: string;
  copy: string[];
  paste: string[];
  clear: string[];
}

const TOOLS: Record<string, Omit<ClipboardTool, 'name'>> = {
  'wl-copy': { copy: ['wl-copy'], paste: ['wl-paste', '--no-newline'], clear: ['wl-copy', '--clear'] },
  xclip: {
    copy: ['xclip', '-selection', 'clipboard'],
    paste: ['xclip', '-selection', 'clipboard', '-o'],
    clear: ['xclip', '-selection', 'clipboard'],
  },
  xsel: { copy: ['xsel', '--clipboard', '--input'], paste: ['xsel', '--clipboard', '--output'], clear: ['xsel', '--clipboard', '--clear'] },
  pbcopy: { copy: ['pbcopy'], paste: ['pbpaste'], clear: ['pbcopy'] },
};

function onPath(name: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      fs.accessSync(path.join(dir || '.', name), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The tool for this session: by display server on Linux, pbcopy on macOS; null when there is none. */
export function findClipboardTool(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): ClipboardTool | null {
  const order =
    platform === 'darwin' ? ['pbcopy'] : [...(env.WAYLAND_DISPLAY ? ['wl-copy'] : []), ...(env.DISPLAY ? ['xclip', 'xsel'] : [])];
  for (const name of order) if (onPath(name, env)) return { name, ...TOOLS[name]! };
  return null;
}

export function noClipboardError(env: NodeJS.ProcessEnv = process.env): AkcError {
  const session = env.WAYLAND_DISPLAY || env.DISPLAY ? '' : ' (and no graphical session: DISPLAY and WAYLAND_DISPLAY are not set)';
  return new AkcError('NOT_FOUND', `no clipboard tool found${session}: akc uses wl-copy, xclip, xsel or pbcopy`, {
    hint: 'install one (e.g. apt-get install wl-clipboard or xclip), or print the value on a terminal: `akc secret reveal NAME`',
  });
}

/** Copies `value` (through stdin) and resolves once the tool took it. */
export function copyToClipboard(tool: ClipboardTool, value: Buffer, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    // xclip and wl-copy stay behind to serve the selection: nothing of theirs is waited on but the exit of the first process.
    const child = spawn(tool.copy[0]!, tool.copy.slice(1), { env, stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (cause) =>
      reject(new AkcError('IO', `failed to copy to the clipboard with ${tool.name}: ${cause.message}`, { cause })),
    );
    child.on('exit', (code) => {
      child.unref();
      if (code === 0) resolve();
      else
        reject(
          new AkcError(
            'IO',
            `failed to copy to the clipboard: ${tool.name} exited with ${code}${stderr ? `: ${stderr.trim().split('\n')[0]}` : ''}`,
          ),
        );
    });
    child.stdin!.end(value);
  });
}

/** What the detached clearer runs: wait, then clear only if the clipboard still holds the copied value. */
const CLEARER = `
const { spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  const job = JSON.parse(input);
  setTimeout(() => {
    const now = spawnSync(job.paste[0], job.paste.slice(1), { maxBuffer: 1 << 20 });
    const same = now.status === 0 && createHash('sha256').update(job.salt, 'hex').update(now.stdout).digest('hex') === job.hash;
    now.stdout && now.stdout.fill(0);
    // Unreadable (the tool failed): clear anyway, the value must not linger.
    if (same || now.status !== 0) spawnSync(job.clear[0], job.clear.slice(1), { input: '', stdio: ['pipe', 'ignore', 'ignore'] });
  }, job.ms);
});
`;

/** Starts the detached helper that clears the clipboard after `ms` (it outlives this process). */
export function scheduleClear(tool: ClipboardTool, value: Buffer, ms: number, env: NodeJS.ProcessEnv = process.env): void {
  const salt = randomBytes(16);
  const hash = createHash('sha256').update(salt).update(value).digest('hex');
  const child = spawn(process.execPath, ['-e', CLEARER], { env, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  child.stdin!.end(JSON.stringify({ paste: tool.paste, clear: tool.clear, salt: salt.toString('hex'), hash, ms }));
  child.unref();
}
