/**
 * The lifecycle part of a status report, from the database alone (works while locked):
 * expiry warnings (7 days ahead), open rotation and guard alerts, pending webhook
 * rotations. Used by `akc status`, the host and the desktop app.
 */
import type { Database } from 'better-sqlite3';
import { listAlerts, type Alert } from './alerts.js';
import { EXPIRY_WARNING_MS, listLifecycles } from './policy.js';

export interface LifecycleSnapshot {
  /** Secrets expired or expiring within 7 days, soonest first. */
  expiring: { name: string; expiresAt: number; expired: boolean }[];
  rotationFailures: { id: number; secret: string; at: number; message: string }[];
  rotationsDue: { id: number; secret: string; at: number; message: string }[];
  /** Webhook rotations waiting for `akc rotate NAME --value-stdin`. */
  pendingRotations: { secret: string; since: number }[];
  guardAlerts: Alert[];
}

/** Expiry warnings, open alerts and pending rotations, from the database alone (works locked). */
export function lifecycleSnapshot(db: Database, now: number): LifecycleSnapshot {
  const all = listLifecycles(db);
  const alerts = listAlerts(db);
  return {
    expiring: all
      .filter((l) => l.expiresAt !== null && l.expiresAt <= now + EXPIRY_WARNING_MS)
      .map((l) => ({ name: l.name, expiresAt: l.expiresAt!, expired: l.expiresAt! <= now }))
      .sort((a, b) => a.expiresAt - b.expiresAt),
    rotationFailures: alerts
      .filter((a) => a.kind === 'rotation.failed')
      .map((a) => ({ id: a.id, secret: a.secret ?? '', at: a.ts, message: a.message })),
    rotationsDue: alerts
      .filter((a) => a.kind === 'rotation.due')
      .map((a) => ({ id: a.id, secret: a.secret ?? '', at: a.ts, message: a.message })),
    pendingRotations: all.filter((l) => l.rotationPendingAt !== null).map((l) => ({ secret: l.name, since: l.rotationPendingAt! })),
    guardAlerts: alerts.filter((a) => a.kind === 'guard.fired'),
  };
}
