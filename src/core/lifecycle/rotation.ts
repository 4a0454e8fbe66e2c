/**
 * Rotation: one durable transaction per rotation (new version current, the old current
 * `previous` until its grace period ends, any older previous retired), the sweep that
 * retires previous versions past grace, pruning history, and `rotateSecret`, which runs
 * the secret's rotator and commits what it returns.
 *
 * Grants for exactly this secret end with the rotation (same transaction) unless they were
 * made with --keep-on-rotate; the next request asks a human again.
 *
 * Crash safety: the rotator runs before the transaction and the transaction is the only
 * write, so a crash (kill -9, power loss) leaves exactly the old or the new version
 * current, never both or neither. A rotator result is committed only if the secret is
 * still at the version the rotator saw (otherwise: an error, nothing changes).
 */
import type { Database } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import type { AuditFields } from '../audit/chain.js';
import { seal } from '../crypto/aead.js';
import { secretAad } from '../crypto/vault-keys.js';
import { GrantStore } from '../policy/grants.js';
import { LeaseStore } from '../policy/leases.js';
import { durableTransaction } from '../store/database.js';
import { MAX_SECRET_BYTES, SecretStore } from '../vault/secrets.js';
import type { Vault } from '../vault/vault.js';
import { RotationFailure, runCommandRotator } from './command.js';
import { SECRETS, resign } from '../integrity/rows.js';
import { assertPolicyTrusted, effectiveGraceMs, requireLifecycle } from './policy.js';
import { describeRotator, generateValue, parseRotator, type RotatorSpec } from './rotators.js';
import { callWebhook, webhookKey } from './webhook.js';

export interface Committed {
  name: string;
  version: number;
  /** The version that became `previous` (or retired at once with a zero grace). */
  previous: number;
  retireAt: number;
}

export type RotateResult = ({ kind: 'rotated' } & Committed) | { kind: 'pending'; name: string; since: number };

/**
 * Stores `value` as the new current version. `expectVersion`: fail (nothing written) if
 * the secret is no longer at that version. Does not take ownership of `value`.
 */
export function commitRotation(
  vault: Vault,
  name: string,
  value: Buffer,
  opts: { by: string; how: string; expectVersion?: number },
): Committed {
  if (value.length === 0) throw new AkcError('INVALID_ARGUMENT', 'the new value is empty');
  if (value.length > MAX_SECRET_BYTES) throw new AkcError('INVALID_ARGUMENT', `the new value is larger than ${MAX_SECRET_BYTES} bytes`);
  const key = vault.requireKey();
  const db = vault.db;
  const now = vault.clock.now();
  return durableTransaction(db, () => {
    const l = requireLifecycle(db, name);
    assertPolicyTrusted(db, l.id, name);
    if (opts.expectVersion !== undefined && l.currentVersion !== opts.expectVersion) {
      throw new AkcError('IO', `${name} changed while it was being rotated (now version ${l.currentVersion}); nothing was stored`, {
        hint: `run \`akc rotate ${name}\` again`,
      });
    }
    const max = (db.prepare('SELECT max(version) AS v FROM secret_versions WHERE secret_id = ?').get(l.id) as { v: number | null }).v ?? 0;
    const version = Math.max(max, l.currentVersion) + 1;
    const grace = effectiveGraceMs(l);
    const retireAt = now + grace;
    const retiredOld = db
      .prepare(
        "UPDATE secret_versions SET state = 'retired', retire_at = coalesce(min(retire_at, ?), ?) WHERE secret_id = ? AND state = 'previous'",
      )
      .run(now, now, l.id).changes;
    db.prepare("UPDATE secret_versions SET state = ?, retire_at = ? WHERE secret_id = ? AND state = 'current'").run(
      grace > 0 ? 'previous' : 'retired',
      retireAt,
      l.id,
    );
    db.prepare("INSERT INTO secret_versions (secret_id, version, blob, state, created_at) VALUES (?, ?, ?, 'current', ?)").run(
      l.id,
      version,
      seal(key, value, secretAad(vault.id, l.id, version)),
      now,
    );
    db.prepare(
      `UPDATE secrets SET current_version = @version, updated_at = @now, last_rotated_at = @now, rotation_pending_at = NULL,
         next_rotation_at = CASE WHEN rotate_every_ms IS NULL THEN NULL ELSE @now + rotate_every_ms END,
         expires_at = CASE WHEN expire_after_ms IS NULL THEN expires_at ELSE @now + expire_after_ms END
       WHERE id = @id`,
    ).run({ version, now, id: l.id });
    resign(db, SECRETS, l.id); // expires_at may have moved
    db.prepare(
      "UPDATE alerts SET cleared_at = ?, cleared_by = 'rotated' WHERE secret = ? AND kind IN ('rotation.failed', 'rotation.due') AND cleared_at IS NULL",
    ).run(now, name);
    // Grants for exactly this secret end with the rotation unless made with --keep-on-rotate
    // (glob grants stop applying to it through HostLifecycle.unlessRotated).
    const grantsEnded = new GrantStore(db).endOnRotation(name, now);
    vault.auditInTransaction([
      {
        event: 'secret.rotate',
        secret: name,
        version,
        decision: 'ok',
        reason: `${opts.how} by ${opts.by}`,
        detail: {
          previous: l.currentVersion,
          previousState: grace > 0 ? 'previous' : 'retired',
          retireAt: new Date(retireAt).toISOString(),
          graceMs: grace,
          ...(retiredOld ? { retiredNow: retiredOld } : {}),
          ...(grantsEnded ? { grantsEnded } : {}),
        },
      },
    ]);
    return { name, version, previous: l.currentVersion, retireAt };
  });
}

/** A webhook receiver answered 202: the new value comes later (`akc rotate NAME --value-stdin`). */
export function markPending(vault: Vault, name: string, by: string): number {
  const now = vault.clock.now();
  durableTransaction(vault.db, () => {
    vault.db.prepare('UPDATE secrets SET rotation_pending_at = ? WHERE name = ?').run(now, name);
    vault.auditInTransaction([
      { event: 'secret.rotate', secret: name, decision: 'pending', reason: `webhook accepted (202), awaiting the new value; by ${by}` },
    ]);
  });
  return now;
}

/** Retires every previous version whose grace period has ended. Returns how many. */
export function sweepRetired(vault: Vault, now = vault.clock.now()): number {
  const db = vault.db;
  const due = db
    .prepare(
      "SELECT s.name, v.secret_id, v.version FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE v.state = 'previous' AND v.retire_at IS NOT NULL AND v.retire_at <= ?",
    )
    .all(now) as { name: string; secret_id: string; version: number }[];
  if (due.length === 0) return 0;
  return durableTransaction(db, () => {
    const upd = db.prepare("UPDATE secret_versions SET state = 'retired' WHERE secret_id = ? AND version = ? AND state = 'previous'");
    const entries: AuditFields[] = [];
    for (const d of due) {
      if (upd.run(d.secret_id, d.version).changes > 0)
        entries.push({ event: 'secret.retire', secret: d.name, version: d.version, reason: 'grace period ended' });
    }
    if (entries.length) vault.auditInTransaction(entries);
    return entries.length;
  });
}

export type VersionCheck = { ok: true } | { ok: false; code: 'NOT_FOUND' | 'EXPIRED'; message: string };

/**
 * Whether an agent may have `version` of a secret: the current one, or the previous one
 * while its grace period runs. A retired version is EXPIRED, an unknown one NOT_FOUND.
 */
export function checkVersion(db: Database, secretId: string, name: string, version: number, now: number): VersionCheck {
  const row = db.prepare('SELECT state, retire_at FROM secret_versions WHERE secret_id = ? AND version = ?').get(secretId, version) as
    { state: 'current' | 'previous' | 'retired'; retire_at: number | null } | undefined;
  if (!row) return { ok: false, code: 'NOT_FOUND', message: `secret ${name} has no version ${version}` };
  if (row.state === 'current') return { ok: true };
  if (row.state === 'previous' && (row.retire_at === null || row.retire_at > now)) return { ok: true };
  const when = row.retire_at ? ` at ${new Date(row.retire_at).toISOString()}` : '';
  return {
    ok: false,
    code: 'EXPIRED',
    message: `version ${version} of ${name} was retired${when} (a newer version replaced it and its grace period is over); ask for the current version`,
  };
}

/** Deletes old versions, keeping the `keep` newest (live versions are always kept). Audited. */
export function pruneVersions(vault: Vault, name: string, keep: number, by: string): number[] {
  if (!Number.isInteger(keep) || keep < 1) throw new AkcError('INVALID_ARGUMENT', '--keep must be a positive integer');
  vault.requireKey();
  const db = vault.db;
  const now = vault.clock.now();
  return durableTransaction(db, () => {
    const l = requireLifecycle(db, name);
    const rows = db
      .prepare('SELECT version, state, retire_at FROM secret_versions WHERE secret_id = ? ORDER BY version DESC')
      .all(l.id) as {
      version: number;
      state: string;
      retire_at: number | null;
    }[];
    const doomed = rows
      .slice(keep)
      .filter((r) => r.state === 'retired' || (r.state === 'previous' && r.retire_at !== null && r.retire_at <= now))
      .map((r) => r.version);
    if (doomed.length === 0) return [];
    const del = db.prepare('DELETE FROM secret_versions WHERE secret_id = ? AND version = ?');
    for (const v of doomed) del.run(l.id, v);
    vault.auditInTransaction([
      {
        event: 'secret.prune',
        secret: name,
        reason: `${doomed.length} old version(s) deleted by ${by}`,
        detail: { versions: doomed, keep },
      },
    ]);
    return doomed;
  });
}

/**
 * Revokes every allow grant that covers `name` (exact or glob) and every live lease on
 * it, in one audited transaction. Blocks (deny grants) stay.
 */
export function revokeGrantsForSecret(vault: Vault, name: string, by: string): { grants: string[]; leases: number } {
  vault.requireKey();
  const db = vault.db;
  const now = vault.clock.now();
  return durableTransaction(db, () => {
    requireLifecycle(db, name);
    // The grants and leases tables belong to their stores (policy/): rotation asks them.
    const ids = new GrantStore(db).revokeCovering(name, now);
    const leases = new LeaseStore(db).revokeForSecret(name, now);
    vault.auditInTransaction([
      {
        event: 'grant.revoke',
        secret: name,
        decision: 'revoke',
        reason: `every grant for ${name} (${ids.length}) and its leases (${leases}) revoked by ${by}`,
        detail: { grants: ids, leases },
      },
    ]);
    return { grants: ids, leases };
  });
}

export interface RotateOptions {
  /** Who asked, for the audit log ("cli", "scheduler", "ui"). */
  by: string;
  /** A value given by the human (`--value-stdin`, prompt, UI): used whatever the rotator. */
  value?: Buffer;
  /** Asks a human for the value when the rotator is manual (CLI prompt). */
  askValue?: () => Promise<Buffer>;
  commandTimeoutMs?: number;
  webhookTimeoutMs?: number;
  /** Writes an audit entry outside a transaction (the host passes its own, which emits events). */
  record?: (fields: AuditFields) => void;
}

/**
 * Rotates `name` with its rotator (or the given value). A failure is audited as
 * `rotation.failed` (reason without values) and rethrown.
 */
export async function rotateSecret(vault: Vault, name: string, opts: RotateOptions): Promise<RotateResult> {
  vault.requireKey();
  const l = requireLifecycle(vault.db, name);
  // The rotator comes from this row: a forged `command:` rotator must never run.
  assertPolicyTrusted(vault.db, l.id, name);
  const record = opts.record ?? ((f: AuditFields) => vault.appendAudit(f));
  if (opts.value) return { kind: 'rotated', ...commitRotation(vault, name, opts.value, { by: opts.by, how: 'new value given' }) };
  const spec: RotatorSpec = l.rotator ? parseRotator(l.rotator) : { kind: 'manual' };
  const how = describeRotator(spec);
  let value: Buffer | null = null;
  try {
    switch (spec.kind) {
      case 'generate':
        value = generateValue(spec);
        break;
      case 'command': {
        const current = new SecretStore(vault).reveal(name, l.currentVersion);
        try {
          value = await runCommandRotator(spec, current.value, {
            name,
            version: l.currentVersion,
            ...(opts.commandTimeoutMs ? { timeoutMs: opts.commandTimeoutMs } : {}),
          });
        } finally {
          current.value.fill(0);
        }
        break;
      }
      case 'webhook': {
        const signing = webhookKey(vault, name);
        if (!signing) {
          throw new RotationFailure(
            `${name} has no webhook signing key`,
            `set it up with \`akc secret policy ${name} --rotator webhook:URL\``,
          );
        }
        try {
          const r = await callWebhook(
            spec.url,
            signing.key,
            { secret: name, version: l.currentVersion },
            {
              now: vault.clock.now(),
              ...(opts.webhookTimeoutMs ? { timeoutMs: opts.webhookTimeoutMs } : {}),
            },
          );
          if (r.kind === 'pending') return { kind: 'pending', name, since: markPending(vault, name, opts.by) };
          value = r.value;
        } finally {
          signing.key.fill(0);
        }
        break;
      }
      case 'manual':
        if (!opts.askValue) {
          throw new AkcError('INVALID_ARGUMENT', `${name} is rotated by hand (no rotator runs on its own)`, {
            hint: `run \`akc rotate ${name}\` and type the new value, or pipe it with --value-stdin`,
          });
        }
        value = await opts.askValue();
        break;
    }
    return { kind: 'rotated', ...commitRotation(vault, name, value, { by: opts.by, how, expectVersion: l.currentVersion }) };
  } catch (err) {
    if (!(err instanceof AkcError && (err.code === 'LOCKED' || err.code === 'INVALID_ARGUMENT'))) {
      const message = err instanceof Error ? err.message : 'unknown error';
      try {
        record({ event: 'rotation.failed', secret: name, version: l.currentVersion, decision: 'failed', reason: `${how}: ${message}` });
      } catch {
        // the audit failure must not hide the rotation failure
      }
    }
    throw err;
  } finally {
    value?.fill(0);
  }
}
