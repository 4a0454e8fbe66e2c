/**
 * Lifecycle metadata of a secret (migration 3): owner, purpose, expiry, rotation
 * schedule, grace period, rotator and the canary flag. All of it is metadata (readable
 * while locked, like names); changing it is audited and needs the master password.
 *
 * Expiry: `expires_at` is absolute. With `--expires-in D` the secret also remembers D
 * (`expire_after_ms`), so every new version (a rotation or `akc secret set`) expires D
 * after it was created: the effective expiry is max(expires_at, current version + D).
 */
import type { Database } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import { SECRETS, assertTrusted, resign } from '../integrity/rows.js';
import { durableTransaction } from '../store/database.js';
import type { Vault } from '../vault/vault.js';
import { describeRotator, parseRotator } from './rotators.js';

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;
/** Secrets expiring within this window are listed as warnings (`akc status`, UI badge). */
export const EXPIRY_WARNING_MS = 7 * 24 * 60 * 60 * 1000;
export const MAX_GRACE_MS = 30 * 24 * 60 * 60 * 1000;
export const MIN_ROTATE_EVERY_MS = 60 * 1000;

export interface Lifecycle {
  id: string;
  name: string;
  owner: string;
  purpose: string;
  /** Effective expiry (see the file comment), or null. */
  expiresAt: number | null;
  expireAfterMs: number | null;
  rotateEveryMs: number | null;
  /** The configured grace period, or null for the default. */
  graceMs: number | null;
  rotator: string | null;
  lastRotatedAt: number | null;
  nextRotationAt: number | null;
  rotationPendingAt: number | null;
  canary: boolean;
  currentVersion: number;
  currentCreatedAt: number | null;
}

interface Row {
  id: string;
  name: string;
  owner: string;
  purpose: string;
  expires_at: number | null;
  expire_after_ms: number | null;
  rotate_every_ms: number | null;
  grace_ms: number | null;
  rotator: string | null;
  last_rotated_at: number | null;
  next_rotation_at: number | null;
  rotation_pending_at: number | null;
  canary: number;
  current_version: number;
  current_created_at: number | null;
}

const SELECT = `SELECT s.id, s.name, s.owner, s.purpose, s.expires_at, s.expire_after_ms, s.rotate_every_ms, s.grace_ms, s.rotator,
  s.last_rotated_at, s.next_rotation_at, s.rotation_pending_at, s.canary, s.current_version,
  (SELECT v.created_at FROM secret_versions v WHERE v.secret_id = s.id AND v.version = s.current_version) AS current_created_at
  FROM secrets s`;

function toLifecycle(r: Row): Lifecycle {
  let expiresAt = r.expires_at;
  if (r.expire_after_ms !== null && r.current_created_at !== null) {
    expiresAt = Math.max(expiresAt ?? 0, r.current_created_at + r.expire_after_ms);
  }
  return {
    id: r.id,
    name: r.name,
    owner: r.owner,
    purpose: r.purpose,
    expiresAt,
    expireAfterMs: r.expire_after_ms,
    rotateEveryMs: r.rotate_every_ms,
    graceMs: r.grace_ms,
    rotator: r.rotator,
    lastRotatedAt: r.last_rotated_at,
    nextRotationAt: r.next_rotation_at,
    rotationPendingAt: r.rotation_pending_at,
    canary: r.canary === 1,
    currentVersion: r.current_version,
    currentCreatedAt: r.current_created_at,
  };
}

const stmts = new WeakMap<Database, { one: ReturnType<Database['prepare']> }>();

export function readLifecycle(db: Database, name: string): Lifecycle | null {
  let s = stmts.get(db);
  if (!s) {
    s = { one: db.prepare(`${SELECT} WHERE s.name = ?`) };
    stmts.set(db, s);
  }
  const row = s.one.get(name) as Row | undefined;
  return row ? toLifecycle(row) : null;
}

export function requireLifecycle(db: Database, name: string): Lifecycle {
  const l = readLifecycle(db, name);
  if (!l) throw new AkcError('NOT_FOUND', `no secret named ${name}`, { hint: 'see `akc secret list`' });
  return l;
}

/**
 * Throws CORRUPT unless the secret's row (name, rotator, expiry and rotation policy, canary)
 * carries a good MAC: call before acting on its policy (running a rotator, re-signing).
 */
export function assertPolicyTrusted(db: Database, id: string, name: string): void {
  const row = db.prepare('SELECT * FROM secrets WHERE id = ?').get(id) as object | undefined;
  if (!row) throw new AkcError('NOT_FOUND', `no secret named ${name}`, { hint: 'see `akc secret list`' });
  assertTrusted(db, SECRETS, row, `the policy of secret ${name}`);
}

export function listLifecycles(db: Database): Lifecycle[] {
  return (db.prepare(`${SELECT} ORDER BY s.name`).all() as Row[]).map(toLifecycle);
}

export function isExpired(l: Pick<Lifecycle, 'expiresAt'>, now: number): boolean {
  return l.expiresAt !== null && l.expiresAt <= now;
}

export function effectiveGraceMs(l: Pick<Lifecycle, 'graceMs'>): number {
  return l.graceMs ?? DEFAULT_GRACE_MS;
}

/** What `akc secret policy` may change; `null` clears a setting, `undefined` keeps it. */
export interface PolicyPatch {
  owner?: string;
  purpose?: string;
  expiresInMs?: number | null;
  rotateEveryMs?: number | null;
  graceMs?: number | null;
  rotator?: string | null;
  canary?: boolean;
}

const MAX_TEXT = 500;

/** Applies a policy change in one durable, audited transaction. Returns the new lifecycle. */
export function applyPolicy(vault: Vault, name: string, patch: PolicyPatch, by: string): Lifecycle {
  const db = vault.db;
  for (const [k, v] of [
    ['owner', patch.owner],
    ['purpose', patch.purpose],
  ] as const) {
    if (v !== undefined && (v.length > MAX_TEXT || /[\r\n]/.test(v)))
      throw new AkcError('INVALID_ARGUMENT', `--${k} must be one line of at most ${MAX_TEXT} characters`);
  }
  if (patch.rotateEveryMs != null && patch.rotateEveryMs < MIN_ROTATE_EVERY_MS)
    throw new AkcError('INVALID_ARGUMENT', '--rotate-every must be at least 1m');
  if (patch.graceMs != null && (patch.graceMs < 0 || patch.graceMs > MAX_GRACE_MS))
    throw new AkcError('INVALID_ARGUMENT', '--grace must be between 0s and 30d');
  if (patch.expiresInMs != null && patch.expiresInMs <= 0) throw new AkcError('INVALID_ARGUMENT', '--expires-in must be positive');
  if (patch.rotator != null) parseRotator(patch.rotator);
  const now = vault.clock.now();
  return durableTransaction(db, () => {
    const before = requireLifecycle(db, name);
    // Re-signing a tampered row would bless the tampering (e.g. a forged rotator).
    assertPolicyTrusted(db, before.id, name);
    const set: string[] = [];
    const params: Record<string, unknown> = { id: before.id, now };
    const changed: string[] = [];
    const put = (col: string, value: unknown, label: string): void => {
      set.push(`${col} = @${col}`);
      params[col] = value;
      changed.push(label);
    };
    if (patch.owner !== undefined) put('owner', patch.owner, `owner=${JSON.stringify(patch.owner)}`);
    if (patch.purpose !== undefined) put('purpose', patch.purpose, `purpose=${JSON.stringify(patch.purpose)}`);
    if (patch.expiresInMs !== undefined) {
      if (patch.expiresInMs === null) {
        put('expires_at', null, 'no expiry');
        set.push('expire_after_ms = NULL');
      } else {
        put('expires_at', now + patch.expiresInMs, `expires in ${patch.expiresInMs} ms`);
        set.push('expire_after_ms = @expire_after_ms');
        params.expire_after_ms = patch.expiresInMs;
      }
    }
    if (patch.rotateEveryMs !== undefined) {
      if (patch.rotateEveryMs === null) {
        put('rotate_every_ms', null, 'no scheduled rotation');
        set.push('next_rotation_at = NULL');
      } else {
        put('rotate_every_ms', patch.rotateEveryMs, `rotate every ${patch.rotateEveryMs} ms`);
        // The first scheduled rotation comes one period from now (never at once).
        set.push('next_rotation_at = @next_rotation_at');
        params.next_rotation_at = now + patch.rotateEveryMs;
      }
    }
    if (patch.graceMs !== undefined) put('grace_ms', patch.graceMs, patch.graceMs === null ? 'default grace' : `grace ${patch.graceMs} ms`);
    if (patch.rotator !== undefined) {
      put('rotator', patch.rotator, `rotator=${patch.rotator === null ? 'none' : describeRotator(parseRotator(patch.rotator))}`);
      set.push('rotation_pending_at = NULL');
    }
    if (patch.canary !== undefined) put('canary', patch.canary ? 1 : 0, patch.canary ? 'canary' : 'not a canary');
    if (set.length === 0) return before;
    db.prepare(`UPDATE secrets SET ${set.join(', ')}, updated_at = @now WHERE id = @id`).run(params);
    resign(db, SECRETS, before.id);
    // A policy change is a human looking at the secret: open rotation alerts for it end.
    if (patch.rotator !== undefined || patch.rotateEveryMs !== undefined) {
      db.prepare(
        "UPDATE alerts SET cleared_at = ?, cleared_by = 'policy change' WHERE secret = ? AND kind IN ('rotation.failed', 'rotation.due') AND cleared_at IS NULL",
      ).run(now, name);
    }
    vault.auditInTransaction([{ event: 'secret.policy', secret: name, reason: `${changed.join(', ')} by ${by}` }]);
    return requireLifecycle(db, name);
  });
}
