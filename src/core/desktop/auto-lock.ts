/**
 * When the desktop app locks the vault by itself (pure policy, tested in Node). The
 * Electron main feeds it the system idle time (polled), the OS's lock-screen and suspend
 * events, and on Linux the screensaver / logind D-Bus signals (see session-watch.ts).
 */
import type { VaultStatus } from '../../shared/contract.js';

export interface AutoLockSettings {
  /** 0 = never lock for idleness. */
  autoLockMinutes: number;
  /** Lock when the screen locks or the machine sleeps. */
  lockOnSleep: boolean;
}

export type SessionEvent = 'lock-screen' | 'unlock-screen' | 'suspend' | 'resume';

export type AutoLockInput = { kind: 'idle'; idleSeconds: number } | { kind: 'session'; event: SessionEvent };

export interface AutoLockDecision {
  lock: boolean;
  /** For the audit log ("auto-lock: idle 15 min"). */
  reason: string | null;
}

const NO: AutoLockDecision = { lock: false, reason: null };

/** How often the main polls the idle time. */
export const IDLE_POLL_MS = 15_000;

export function autoLockDecision(settings: AutoLockSettings, vault: VaultStatus, input: AutoLockInput): AutoLockDecision {
  if (vault !== 'unlocked') return NO;
  if (input.kind === 'idle') {
    if (settings.autoLockMinutes <= 0 || !Number.isFinite(input.idleSeconds)) return NO;
    return input.idleSeconds >= settings.autoLockMinutes * 60 ? { lock: true, reason: `idle ${settings.autoLockMinutes} min` } : NO;
  }
  if (!settings.lockOnSleep) return NO;
  if (input.event === 'lock-screen') return { lock: true, reason: 'screen locked' };
  if (input.event === 'suspend') return { lock: true, reason: 'system suspended' };
  return NO;
}

/**
 * One line of `gdbus monitor` output → a session event, or null. Understands the
 * freedesktop and GNOME screensaver `ActiveChanged` signals, logind's per-session
 * `Lock`/`Unlock` and the manager's `PrepareForSleep`.
 */
export function parseSessionSignal(line: string): SessionEvent | null {
  const m = /:\s+([\w.]+)\.(ActiveChanged|Lock|Unlock|PrepareForSleep)\s+\((.*)\)\s*$/.exec(line);
  if (!m) return null;
  const [, iface, signal, args] = m as unknown as [string, string, string, string];
  const flag = /^\s*true\b/.test(args) ? true : /^\s*false\b/.test(args) ? false : null;
  switch (signal) {
    case 'ActiveChanged':
      if (!/ScreenSaver$/.test(iface) || flag === null) return null;
      return flag ? 'lock-screen' : 'unlock-screen';
    case 'Lock':
      return iface === 'org.freedesktop.login1.Session' ? 'lock-screen' : null;
    case 'Unlock':
      return iface === 'org.freedesktop.login1.Session' ? 'unlock-screen' : null;
    case 'PrepareForSleep':
      if (iface !== 'org.freedesktop.login1.Manager' || flag === null) return null;
      return flag ? 'suspend' : 'resume';
  }
  return null;
}
