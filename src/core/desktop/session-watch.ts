/**
 * Linux session signals for auto-lock: the screensaver (session bus) and logind (system
 * bus), read from `gdbus monitor` child processes where gdbus exists. Electron's
 * powerMonitor reports lock-screen only on macOS and Windows; this fills the gap. A
 * missing gdbus or bus is not an error: the watcher just reports nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseSessionSignal, type SessionEvent } from './auto-lock.js';

const MONITORS: string[][] = [
  ['monitor', '--session', '--dest', 'org.freedesktop.ScreenSaver'],
  ['monitor', '--session', '--dest', 'org.gnome.ScreenSaver'],
  ['monitor', '--system', '--dest', 'org.freedesktop.login1'],
];

export interface SessionWatch {
  stop(): void;
}

export function watchLinuxSession(onEvent: (e: SessionEvent) => void, gdbus = 'gdbus'): SessionWatch {
  if (process.platform !== 'linux') return { stop() {} };
  const children: ChildProcess[] = [];
  for (const args of MONITORS) {
    let child: ChildProcess;
    try {
      child = spawn(gdbus, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue;
    }
    child.on('error', () => undefined); // no gdbus, or no bus: nothing to watch
    children.push(child);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const e = parseSessionSignal(line);
      if (e) onEvent(e);
    });
  }
  return {
    stop() {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill();
    },
  };
}
