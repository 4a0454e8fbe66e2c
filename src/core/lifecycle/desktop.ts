/**
 * What the desktop app needs from the secret lifecycle (DesktopService delegates here):
 * per-secret badges and schedule, open alerts and guard settings for the Secrets screen,
 * the tray ("Rotate ›", alert badge) and Settings; and the UI's actions (rotate now,
 * clear an alert, change a guard setting). Plain data, never a value.
 */
import { AkcError } from '../../shared/errors.js';
import { GUARD_KEYS, readGuardValues, setGuardValue } from '../guard/config.js';
import type { Host } from '../host/host.js';
import { clearAlerts, listAlerts } from './alerts.js';
import { EXPIRY_WARNING_MS, listLifecycles } from './policy.js';
import { describeRotator, parseRotator, type RotatorSpec } from './rotators.js';
import type { RotateResult } from './rotation.js';

import type { LifecycleBadge, LifecycleView } from '../../shared/contract.js';

// The view types are the renderer contract's: one definition for both sides.
export type { LifecycleBadge, SecretLifecycleView, AlertView, LifecycleView } from '../../shared/contract.js';

export function lifecycleView(host: Host): LifecycleView {
  const db = host.vault.db;
  const now = host.clock.now();
  const alerts = listAlerts(db);
  const failed = new Set(alerts.filter((a) => a.kind === 'rotation.failed').map((a) => a.secret));
  const due = new Set(alerts.filter((a) => a.kind === 'rotation.due').map((a) => a.secret));
  const values = readGuardValues(db);
  return {
    secrets: listLifecycles(db).map((l) => {
      let spec: RotatorSpec | null;
      try {
        spec = l.rotator ? parseRotator(l.rotator) : null;
      } catch {
        spec = null;
      }
      const badge: LifecycleBadge =
        l.expiresAt !== null && l.expiresAt <= now
          ? 'expired'
          : failed.has(l.name)
            ? 'rotation-failed'
            : l.expiresAt !== null && l.expiresAt <= now + EXPIRY_WARNING_MS
              ? 'expiring'
              : due.has(l.name)
                ? 'rotation-due'
                : l.rotationPendingAt !== null
                  ? 'rotation-pending'
                  : l.canary
                    ? 'canary'
                    : null;
      return {
        name: l.name,
        owner: l.owner,
        purpose: l.purpose,
        expiresAt: l.expiresAt,
        badge,
        rotator: spec ? describeRotator(spec) : null,
        rotatorKind: spec?.kind ?? null,
        rotateEveryMs: l.rotateEveryMs,
        graceMs: l.graceMs,
        lastRotatedAt: l.lastRotatedAt,
        nextRotationAt: l.nextRotationAt,
        rotationPendingAt: l.rotationPendingAt,
        canary: l.canary,
      };
    }),
    alerts: alerts.map((a) => ({ id: a.id, ts: a.ts, kind: a.kind, secret: a.secret, rule: a.rule, agent: a.agent, message: a.message })),
    guard: Object.entries(GUARD_KEYS).map(([key, spec]) => ({
      key,
      value: values[key],
      default: spec.default,
      description: spec.description,
    })),
  };
}

/** Rotate now from the tray or the app; `value` for manual rotators and pending webhooks. */
export async function rotateFromUi(host: Host, name: string, value: string | undefined, by: string): Promise<RotateResult> {
  if (host.state !== 'unlocked') throw new AkcError('LOCKED', 'the vault is locked', { hint: 'unlock it first' });
  const buf = value === undefined ? undefined : Buffer.from(value, 'utf8');
  try {
    return await host.rotate(name, { by, ...(buf ? { value: buf } : {}) });
  } finally {
    buf?.fill(0);
  }
}

/** Clears one alert or all; needs the vault unlocked. */
export function clearAlertFromUi(host: Host, which: { id: number } | { all: true }, by: string): number {
  if (host.state !== 'unlocked') throw new AkcError('LOCKED', 'the vault is locked', { hint: 'unlock it first' });
  return clearAlerts(host.vault, which, by);
}

/** Changes a guard setting; like `akc guard set`, it needs the master password. */
export async function setGuardFromUi(host: Host, key: string, value: string, password: Buffer, by: string): Promise<unknown> {
  await host.verifyPassword(password);
  return setGuardValue(host.vault, key, value, by);
}
