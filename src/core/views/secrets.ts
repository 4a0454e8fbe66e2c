/**
 * The rows `akc secret list` and `akc secret show` print, as plain JSON (times as ISO
 * strings). The offline CLI builds them from vault.db and the hardened host builds them
 * for the desktop user's CLI with these same functions, so both modes show the same
 * fields. Metadata only: never a value.
 */
import type { Database } from 'better-sqlite3';
import { formatDuration } from '../../shared/duration.js';
import { DEFAULT_GRACE_MS, readLifecycle } from '../lifecycle/policy.js';
import { describeRotator, parseRotator } from '../lifecycle/rotators.js';
import { SecretStore, type SecretMeta } from '../vault/secrets.js';
import type { Vault } from '../vault/vault.js';

export type JsonRow = Record<string, unknown>;

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function metaJson(m: SecretMeta): JsonRow {
  return {
    name: m.name,
    type: m.type,
    description: m.description,
    owner: m.owner,
    tags: m.tags,
    currentVersion: m.currentVersion,
    createdAt: iso(m.createdAt),
    updatedAt: iso(m.updatedAt),
  };
}

/** The lifecycle fields of `secret show --json` / `secret list --json` (none for an unknown name). */
export function lifecycleJson(db: Database, name: string, now = Date.now()): JsonRow {
  const l = readLifecycle(db, name);
  if (!l) return {};
  return {
    purpose: l.purpose,
    expiresAt: iso(l.expiresAt),
    expired: l.expiresAt !== null && l.expiresAt <= now,
    rotator: l.rotator ? describeRotator(parseRotator(l.rotator)) : null,
    rotateEvery: l.rotateEveryMs === null ? null : formatDuration(l.rotateEveryMs),
    grace: formatDuration(l.graceMs ?? DEFAULT_GRACE_MS),
    lastRotatedAt: iso(l.lastRotatedAt),
    nextRotationAt: iso(l.nextRotationAt),
    rotationPendingSince: iso(l.rotationPendingAt),
    canary: l.canary,
  };
}

/** `akc secret list`: every secret's metadata and lifecycle, by name. */
export function secretRows(vault: Vault): JsonRow[] {
  return new SecretStore(vault).list().map((s) => ({ ...metaJson(s), ...lifecycleJson(vault.db, s.name) }));
}

/** `akc secret show NAME`: metadata, lifecycle and versions. NOT_FOUND for an unknown name. */
export function secretView(vault: Vault, name: string): JsonRow {
  const store = new SecretStore(vault);
  const meta = store.get(name);
  return {
    ...metaJson(meta),
    ...lifecycleJson(vault.db, name),
    versions: store.versions(name).map((v) => ({
      version: v.version,
      state: v.state,
      createdAt: iso(v.createdAt),
      retireAt: iso(v.retireAt),
    })),
  };
}
