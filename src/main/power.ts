/**
 * Auto-lock glue: polls the system idle time, listens to powerMonitor's lock-screen and
 * suspend events and, on Linux, to the screensaver / logind D-Bus signals; the decision
 * itself is the pure policy in core/desktop/auto-lock.ts.
 */
import { powerMonitor } from 'electron';
import { autoLockDecision, IDLE_POLL_MS, type AutoLockInput } from '../core/desktop/auto-lock';
import { watchLinuxSession } from '../core/desktop/session-watch';
import type { DesktopService } from '../core/desktop/service';

export function startAutoLock(service: DesktopService, log: (m: string) => void): () => void {
  const feed = (input: AutoLockInput): void => {
    const d = autoLockDecision(service.settings, service.appState().vault, input);
    if (d.lock && d.reason) {
      log(`auto-lock: ${d.reason}`);
      service.lockFor(d.reason);
    }
  };
  const timer = setInterval(() => feed({ kind: 'idle', idleSeconds: powerMonitor.getSystemIdleTime() }), IDLE_POLL_MS);
  const onLockScreen = (): void => feed({ kind: 'session', event: 'lock-screen' });
  const onSuspend = (): void => feed({ kind: 'session', event: 'suspend' });
  powerMonitor.on('lock-screen', onLockScreen);
  powerMonitor.on('suspend', onSuspend);
  const linux = watchLinuxSession((event) => feed({ kind: 'session', event }));
  return () => {
    clearInterval(timer);
    powerMonitor.off('lock-screen', onLockScreen);
    powerMonitor.off('suspend', onSuspend);
    linux.stop();
  };
}
