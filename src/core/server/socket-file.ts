/**
 * The agent socket's file: directory 0700, socket 0600, stale sockets replaced, a live
 * one (another host) refused with a message naming it.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AkcError } from '../../shared/errors.js';

/** Resolves true when something accepts connections at `socketPath`. */
export function socketIsLive(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (live: boolean): void => {
      s.destroy();
      resolve(live);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(timeoutMs, () => done(true));
  });
}

/** `dirMode` 0700 by default; the hardened host's socket dir is 0755 (others connect, only it writes). */
export async function prepareSocketPath(socketPath: string, dirMode = 0o700): Promise<void> {
  if (process.platform === 'win32') return;
  const dir = path.dirname(socketPath);
  fs.mkdirSync(dir, { recursive: true, mode: dirMode });
  const st = fs.statSync(dir);
  if (st.uid === process.getuid!() && (st.mode & 0o777) !== dirMode) fs.chmodSync(dir, dirMode);
  if (!fs.existsSync(socketPath)) return;
  if (await socketIsLive(socketPath)) {
    throw new AkcError('HOST_RUNNING', `another Agent Keychain host is already serving ${socketPath}`, {
      hint: 'quit the desktop app or stop the other `akc daemon` first (only one host at a time)',
    });
  }
  const lst = fs.lstatSync(socketPath);
  if (!lst.isSocket()) throw new AkcError('IO', `${socketPath} exists and is not a socket; refusing to replace it`);
  fs.unlinkSync(socketPath); // stale: nobody answers
}
