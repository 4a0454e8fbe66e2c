/**
 * What `akc status` reads from the vault besides the host's state: the number of secrets
 * and the lifecycle snapshot (expiry warnings, failed rotations, open alerts). The offline
 * CLI reads it from vault.db and the hardened host sends it to the desktop user's CLI, both
 * with this function. Works while locked (no value is read).
 */
import type { Database } from 'better-sqlite3';
import { lifecycleSnapshot, type LifecycleSnapshot } from '../lifecycle/status.js';

export interface VaultStatusView {
  secrets: number;
  lifecycle: LifecycleSnapshot;
}

export function vaultStatusView(db: Database, now: number): VaultStatusView {
  const secrets = (db.prepare('SELECT count(*) AS n FROM secrets').get() as { n: number }).n;
  return { secrets, lifecycle: lifecycleSnapshot(db, now) };
}
