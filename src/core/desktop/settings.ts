/**
 * Desktop settings in the vault's `settings` table: one row per setting, value as JSON.
 * Settings are not secret (they are readable while locked) but changing them is audited,
 * and every value read back is checked, so a hand-edited row falls back to the default.
 */
import type { Database } from 'better-sqlite3';
import type { Settings } from '../../shared/contract.js';
import { durableTransaction } from '../store/database.js';
import type { Vault } from '../vault/vault.js';

export type StoredSettings = Omit<Settings, 'keychainUnlock'>;

export const DEFAULT_SETTINGS: Readonly<StoredSettings> = Object.freeze({
  autoLockMinutes: 15,
  lockOnSleep: true,
  approvalTimeoutSeconds: 60,
  notifications: true,
});

type Check = (v: unknown) => boolean;
const int =
  (min: number, max: number): Check =>
  (v) =>
    Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const bool: Check = (v) => typeof v === 'boolean';

const CHECKS: Record<keyof StoredSettings, Check> = {
  autoLockMinutes: int(0, 24 * 60),
  lockOnSleep: bool,
  approvalTimeoutSeconds: int(10, 600),
  notifications: bool,
};

const KEYS = Object.keys(CHECKS) as (keyof StoredSettings)[];

export function readSettings(db: Database | null): StoredSettings {
  const out: StoredSettings = { ...DEFAULT_SETTINGS };
  if (!db) return out;
  const rows = db.prepare(`SELECT key, value FROM settings WHERE key IN (${KEYS.map(() => '?').join(',')})`).all(...KEYS) as {
    key: keyof StoredSettings;
    value: string;
  }[];
  for (const row of rows) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(row.value);
    } catch {
      continue;
    }
    if (CHECKS[row.key]?.(parsed)) (out as Record<string, unknown>)[row.key] = parsed;
  }
  return out;
}

/** Writes the changed settings with one audit entry, in one durable transaction. Returns the new settings. */
export function writeSettings(vault: Vault, patch: Partial<StoredSettings>, by: string): StoredSettings {
  const current = readSettings(vault.db);
  const changed = KEYS.filter((k) => patch[k] !== undefined && patch[k] !== current[k] && CHECKS[k](patch[k]));
  if (changed.length === 0) return current;
  durableTransaction(vault.db, () => {
    const upsert = vault.db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    for (const k of changed) upsert.run(k, JSON.stringify(patch[k]));
    vault.auditInTransaction([
      {
        event: 'settings.update',
        reason: `${changed.map((k) => `${k}=${JSON.stringify(patch[k])}`).join(', ')} by ${by}`,
      },
    ]);
  });
  return readSettings(vault.db);
}
