/**
 * Secrets and their versions. Every version's value is sealed on its own with the vault
 * key; the AAD binds it to (vault id, secret id, version).
 *
 * The AAD binds the id, not the name: the name↔id mapping (and the lifecycle policy) is
 * authenticated by the secrets row's MAC (src/core/integrity), which every write re-signs
 * and every reveal checks first, so swapping two rows' names fails instead of swapping
 * their values.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { AkcError, isAkcError } from '../../shared/errors.js';
import { secretNameProblem, isSecretType, type SecretType } from '../../shared/secrets.js';
import { open, seal } from '../crypto/aead.js';
import { secretAad } from '../crypto/vault-keys.js';
import { SECRETS, assertTrusted, resign } from '../integrity/rows.js';
import { cachedStatement, durableTransaction } from '../store/database.js';
import type { AuditFields } from '../audit/chain.js';
import type { Vault } from './vault.js';
import { DEFAULT_GRACE_MS } from '../lifecycle/policy.js';

/** A value larger than this is refused (a keychain holds credentials, not files). */
export const MAX_SECRET_BYTES = 64 * 1024;

export type VersionState = 'current' | 'previous' | 'retired';

export interface SecretMeta {
  id: string;
  name: string;
  type: SecretType;
  description: string;
  owner: string;
  tags: string[];
  currentVersion: number;
  createdAt: number;
  updatedAt: number;
}

export interface SecretVersionMeta {
  version: number;
  state: VersionState;
  createdAt: number;
  retireAt: number | null;
}

export interface SecretInput {
  type?: SecretType;
  description?: string;
  owner?: string;
  tags?: string[];
}

export interface SecretValue {
  name: string;
  secretId: string;
  type: SecretType;
  version: number;
  /** Plaintext. The caller zeroes it when done. */
  value: Buffer;
}

interface SecretRow {
  id: string;
  name: string;
  type: string;
  description: string;
  owner: string;
  tags: string;
  current_version: number;
  created_at: number;
  updated_at: number;
  /** Migration 3: the grace period the previous version stays readable for (null: the default). */
  grace_ms?: number | null;
}

/** What `set` did to the version that was current before (absent for a new secret). */
export interface ReplacedVersion {
  version: number;
  /** `previous` while its grace period runs, `retired` at once with a zero grace period. */
  state: 'previous' | 'retired';
  retireAt: number;
}

export interface SetResult {
  version: number;
  created: boolean;
  previous?: ReplacedVersion;
}

export function validateSecretName(name: string): void {
  const problem = secretNameProblem(name);
  if (problem) throw new AkcError('INVALID_ARGUMENT', `invalid secret name: ${problem}`);
}

export class SecretStore {
  constructor(private readonly vault: Vault) {}

  private get db(): Database {
    return this.vault.db;
  }

  list(): SecretMeta[] {
    return (this.db.prepare('SELECT * FROM secrets ORDER BY name').all() as SecretRow[]).map(toMeta);
  }

  find(name: string): SecretMeta | null {
    const row = cachedStatement(this.db, 'SELECT * FROM secrets WHERE name = ?').get(name) as SecretRow | undefined;
    return row ? toMeta(row) : null;
  }

  get(name: string): SecretMeta {
    const meta = this.find(name);
    if (!meta) throw new AkcError('NOT_FOUND', `no secret named ${name}`, { hint: 'see `akc secret list`' });
    return meta;
  }

  versions(name: string): SecretVersionMeta[] {
    const meta = this.get(name);
    return (
      this.db
        .prepare('SELECT version, state, created_at, retire_at FROM secret_versions WHERE secret_id = ? ORDER BY version DESC')
        .all(meta.id) as {
        version: number;
        state: VersionState;
        created_at: number;
        retire_at: number | null;
      }[]
    ).map((r) => ({ version: r.version, state: r.state, createdAt: r.created_at, retireAt: r.retire_at }));
  }

  /**
   * Stores a value as a new version (creating the secret if needed) in one durable
   * transaction, audited. The version it replaces stays readable (`previous`) for the
   * secret's grace period, as after a rotation, so agents holding it are not cut off
   * mid-use; grants are kept (a hand-set value is not a rotation). `mustCreate`: refuse
   * (ALREADY_EXISTS, nothing written) when the name exists — the CLI's answer when nobody
   * confirmed a new version. Does not take ownership of `value`; the caller zeroes it.
   */
  set(
    name: string,
    value: Buffer,
    input: SecretInput = {},
    audit: Partial<AuditFields> = {},
    opts: { mustCreate?: boolean } = {},
  ): SetResult {
    validateSecretName(name);
    if (value.length === 0) throw new AkcError('INVALID_ARGUMENT', 'the value is empty');
    if (value.length > MAX_SECRET_BYTES) throw new AkcError('INVALID_ARGUMENT', `the value is larger than ${MAX_SECRET_BYTES} bytes`);
    if (input.type !== undefined && !isSecretType(input.type))
      throw new AkcError('INVALID_ARGUMENT', `unknown secret type ${String(input.type)}`);
    const key = this.vault.requireKey();
    const vaultId = this.vault.id;
    const now = this.vault.clock.now();
    return durableTransaction(this.db, () => {
      const existing = this.db.prepare('SELECT * FROM secrets WHERE name = ?').get(name) as SecretRow | undefined;
      if (existing && opts.mustCreate) {
        throw new AkcError('ALREADY_EXISTS', `secret ${name} already exists (version ${existing.current_version}); nothing was stored`, {
          hint: `add --new-version to store the value as version ${existing.current_version + 1}`,
        });
      }
      // Re-signing a tampered row would bless the tampering: refuse it first.
      if (existing) assertTrusted(this.db, SECRETS, existing, `secret ${name}`);
      const id = existing?.id ?? randomUUID();
      const version = (existing?.current_version ?? 0) + 1;
      const blob = seal(key, value, secretAad(vaultId, id, version));
      let previous: ReplacedVersion | undefined;
      if (existing) {
        this.db
          .prepare(
            `UPDATE secrets SET current_version = ?, updated_at = ?,
               type = coalesce(?, type), description = coalesce(?, description), owner = coalesce(?, owner), tags = coalesce(?, tags)
             WHERE id = ?`,
          )
          .run(
            version,
            now,
            input.type ?? null,
            input.description ?? null,
            input.owner ?? null,
            input.tags ? JSON.stringify(input.tags) : null,
            id,
          );
        // As a rotation does: an older `previous` retires now, the replaced current stays
        // readable for the grace period (sweepRetired retires it after), history is kept.
        const grace = existing.grace_ms ?? DEFAULT_GRACE_MS;
        this.db
          .prepare(
            "UPDATE secret_versions SET state = 'retired', retire_at = coalesce(min(retire_at, ?), ?) WHERE secret_id = ? AND state = 'previous'",
          )
          .run(now, now, id);
        const replaced = this.db
          .prepare("UPDATE secret_versions SET state = ?, retire_at = ? WHERE secret_id = ? AND state = 'current'")
          .run(grace > 0 ? 'previous' : 'retired', now + grace, id).changes;
        if (replaced > 0)
          previous = { version: existing.current_version, state: grace > 0 ? 'previous' : 'retired', retireAt: now + grace };
      } else {
        this.db
          .prepare(
            'INSERT INTO secrets (id, name, type, description, owner, tags, current_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(
            id,
            name,
            input.type ?? 'generic',
            input.description ?? '',
            input.owner ?? '',
            JSON.stringify(input.tags ?? []),
            version,
            now,
            now,
          );
      }
      this.db
        .prepare("INSERT INTO secret_versions (secret_id, version, blob, state, created_at) VALUES (?, ?, ?, 'current', ?)")
        .run(id, version, blob, now);
      resign(this.db, SECRETS, id);
      this.vault.auditInTransaction([
        {
          event: existing ? 'secret.update' : 'secret.create',
          secret: name,
          version,
          ...(previous
            ? { detail: { previous: previous.version, previousState: previous.state, retireAt: new Date(previous.retireAt).toISOString() } }
            : {}),
          ...audit,
        },
      ]);
      return { version, created: !existing, ...(previous ? { previous } : {}) };
    });
  }

  /** Updates metadata only. */
  update(name: string, input: SecretInput, audit: Partial<AuditFields> = {}): SecretMeta {
    if (input.type !== undefined && !isSecretType(input.type))
      throw new AkcError('INVALID_ARGUMENT', `unknown secret type ${String(input.type)}`);
    const meta = this.get(name);
    durableTransaction(this.db, () => {
      assertTrusted(this.db, SECRETS, this.db.prepare('SELECT * FROM secrets WHERE id = ?').get(meta.id) as object, `secret ${name}`);
      this.db
        .prepare(
          'UPDATE secrets SET type = coalesce(?, type), description = coalesce(?, description), owner = coalesce(?, owner), tags = coalesce(?, tags), updated_at = ? WHERE id = ?',
        )
        .run(
          input.type ?? null,
          input.description ?? null,
          input.owner ?? null,
          input.tags ? JSON.stringify(input.tags) : null,
          this.vault.clock.now(),
          meta.id,
        );
      resign(this.db, SECRETS, meta.id);
      this.vault.auditInTransaction([{ event: 'secret.update', secret: name, reason: 'metadata', ...audit }]);
    });
    return this.get(name);
  }

  remove(name: string, audit: Partial<AuditFields> = {}): void {
    const meta = this.get(name);
    durableTransaction(this.db, () => {
      this.db.prepare('DELETE FROM secrets WHERE id = ?').run(meta.id);
      this.vault.auditInTransaction([{ event: 'secret.delete', secret: name, ...audit }]);
    });
  }

  /**
   * Decrypts a version (default: current). Throws NOT_FOUND, LOCKED, or CORRUPT naming
   * the secret when its ciphertext was tampered with, truncated or moved.
   */
  reveal(name: string, version?: number): SecretValue {
    this.vault.requireKey();
    return this.revealMeta(this.get(name), version);
  }

  /** reveal() for a secret whose metadata the caller has just read (saves reading it again). */
  revealMeta(meta: SecretMeta, version?: number): SecretValue {
    const { key, vaultId } = this.vault.requireKeyAndId();
    const name = meta.name;
    // The row as stored now (not the caller's copy): its MAC binds this name to this id.
    const stored = cachedStatement(this.db, 'SELECT * FROM secrets WHERE id = ?').get(meta.id) as SecretRow | undefined;
    if (!stored || stored.name !== name) throw new AkcError('NOT_FOUND', `no secret named ${name}`);
    assertTrusted(this.db, SECRETS, stored, `secret ${name}`);
    const v = version ?? meta.currentVersion;
    const row = cachedStatement(this.db, 'SELECT blob FROM secret_versions WHERE secret_id = ? AND version = ?').get(meta.id, v) as
      { blob: Buffer } | undefined;
    if (!row) throw new AkcError('NOT_FOUND', `secret ${name} has no version ${v}`);
    try {
      const value = open(key, row.blob, secretAad(vaultId, meta.id, v));
      return { name, secretId: meta.id, type: meta.type, version: v, value };
    } catch (err) {
      if (isAkcError(err, 'CORRUPT')) {
        throw new AkcError(
          'CORRUPT',
          `failed to decrypt secret ${name} version ${v}: ${err.message} (tampered, truncated or moved ciphertext)`,
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }
}

function toMeta(row: SecretRow): SecretMeta {
  let tags: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.tags);
    if (Array.isArray(parsed)) tags = parsed.filter((t): t is string => typeof t === 'string');
  } catch {
    tags = [];
  }
  return {
    id: row.id,
    name: row.name,
    type: isSecretType(row.type) ? row.type : 'generic',
    description: row.description,
    owner: row.owner,
    tags,
    currentVersion: row.current_version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
