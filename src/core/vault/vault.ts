/**
 * The vault: its states (uninitialized → locked → unlocked), the vault key (DEK) and
 * the ways to unwrap it. Secrets, audit and policy are built on top of an unlocked vault.
 *
 * Locking zeroes every key buffer this object holds and drops derived state.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { AkcError, isAkcError } from '../../shared/errors.js';
import { AuditLog } from '../audit/log.js';
import type { AuditFields } from '../audit/chain.js';
import { newKey, wipe } from '../crypto/keys.js';
import { checkKdfParams, deriveKek, kdfParamsForNewVault, SALT_BYTES, type KdfParams } from '../crypto/kdf.js';
import { deriveSubkey, unwrapVaultKey, wrapVaultKey } from '../crypto/vault-keys.js';
import { KEY_BYTES } from '../crypto/aead.js';
import { deriveRowMacKey } from '../integrity/row-mac.js';
import { registerIntegrity, signRowsAtPasswordUnlock } from '../integrity/rows.js';
import { deriveAdminKey, openAdminKey, sealAdminKey } from '../crypto/admin-auth.js';
import type { KeychainPort } from '../keychain/port.js';
import { cachedStatement, durableTransaction, openDatabase } from '../store/database.js';
import { systemClock, type Clock } from '../clock.js';

export type VaultState = 'uninitialized' | 'locked' | 'unlocked';

interface VaultRow {
  id: string;
  kdf: string;
  salt: Buffer;
  wrapped_key_pw: Buffer;
  wrapped_key_kc: Buffer | null;
}

export interface VaultOptions {
  dataDir: string;
  keychain: KeychainPort;
  clock?: Clock;
}

export interface UnlockListener {
  (state: VaultState): void;
}

export class Vault {
  readonly dataDir: string;
  readonly keychain: KeychainPort;
  readonly clock: Clock;
  private dbHandle: Database | null;
  private dek: Buffer | null = null;
  /** The id of the vault `dek` was unwrapped for (read at unlock; a vault's id never changes). */
  private dekVaultId: string | null = null;
  private auditMacKey: Buffer | null = null;
  /** The row-MAC key (integrity/row-mac.ts) while unlocked; zeroed on lock like the audit key. */
  private rowMacKey: Buffer | null = null;
  private auditLog: AuditLog | null = null;
  /**
   * The admin proof key A (crypto/admin-auth.ts), learned at every unlock and KEPT after
   * locking. A is one-way from the password's KEK: it opens no wrapped key and no secret,
   * so a locked host holding it can still decrypt nothing. What it allows is verifying the
   * CLI's challenge–response proofs while locked, and opening a KEK the CLI seals for it
   * (`akc unlock`), so the master password never has to cross the socket. Zeroed at close.
   */
  private adminProofKey: Buffer | null = null;
  private readonly listeners = new Set<UnlockListener>();

  private constructor(opts: VaultOptions, db: Database | null) {
    this.dataDir = opts.dataDir;
    this.keychain = opts.keychain;
    this.clock = opts.clock ?? systemClock;
    this.dbHandle = db;
    if (db) this.registerIntegrity(db);
  }

  /** Opens the vault in `dataDir` without creating anything. */
  static open(opts: VaultOptions): Vault {
    return new Vault(opts, openDatabase(opts.dataDir, { create: false }));
  }

  get state(): VaultState {
    if (!this.dbHandle || !this.row()) return 'uninitialized';
    return this.dek ? 'unlocked' : 'locked';
  }

  get db(): Database {
    if (!this.dbHandle) throw notInitialized();
    return this.dbHandle;
  }

  get id(): string {
    const row = this.row();
    if (!row) throw notInitialized();
    return row.id;
  }

  get audit(): AuditLog {
    // With the data dir: the log keeps its head and the audit anchor (audit/anchor.ts).
    this.auditLog ??= new AuditLog(this.db, { dataDir: this.dataDir });
    return this.auditLog;
  }

  /** The audit MAC key while unlocked, else null. */
  get auditKey(): Buffer | null {
    return this.auditMacKey;
  }

  /**
   * A for checking admin proofs, or null when this process never learned it (never
   * unlocked, or a legacy vault unlocked only by keychain so far). While unlocked it is
   * re-read from the vault, so an `akc passwd` by another process applies at once. Do
   * not keep the reference.
   */
  get adminKey(): Buffer | null {
    if (this.dek) this.loadAdminKey();
    return this.adminProofKey;
  }

  get keychainUnlockEnabled(): boolean {
    return Boolean(this.row()?.wrapped_key_kc);
  }

  get kdfParams(): KdfParams {
    const row = this.row();
    if (!row) throw notInitialized();
    return parseKdf(row.kdf);
  }

  /** The password slot's Argon2id salt (not secret: the CLI derives the KEK itself, see crypto/admin-auth.ts). */
  get kdfSalt(): Buffer {
    return Buffer.from(this.requireRow().salt);
  }

  onStateChange(listener: UnlockListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The vault key, for sealing and opening. Throws LOCKED. Do not keep the reference. */
  requireKey(): Buffer {
    if (!this.dek) throw new AkcError('LOCKED', 'the vault is locked', { hint: 'unlock it first (`akc unlock`)' });
    return this.dek;
  }

  /**
   * The vault key and the id of the vault it was unwrapped for, without a database read
   * (for the delivery path). Throws LOCKED. Do not keep the key reference.
   */
  requireKeyAndId(): { key: Buffer; vaultId: string } {
    const key = this.requireKey();
    return { key, vaultId: this.dekVaultId! };
  }

  /**
   * Creates a new vault. Leaves it unlocked. With `keychain`, a random unlock key is
   * stored in the OS keychain and the vault key is also wrapped under it.
   */
  async init(password: Buffer, opts: { keychain: boolean; kdf?: KdfParams }): Promise<void> {
    if (this.dbHandle && this.row()) throw alreadyInitialized(this.dataDir);
    checkPasswordShape(password);
    const kdf = opts.kdf ?? kdfParamsForNewVault(this.dataDir);
    const id = randomUUID();
    const salt = randomBytes(SALT_BYTES);
    const dek = newKey();
    const kek = await deriveKek(password, salt, kdf);
    let unlockKey: Buffer | null = null;
    let keychainStored = false;
    try {
      const wrappedPw = wrapVaultKey(kek, dek, id, 'password');
      let wrappedKc: Buffer | null = null;
      if (opts.keychain) {
        unlockKey = newKey();
        wrappedKc = wrapVaultKey(unlockKey, dek, id, 'keychain');
        // Store the keychain entry before the vault row: a failure here leaves nothing behind.
        await this.keychain.set(id, unlockKey.toString('base64'));
        keychainStored = true;
      }
      if (!this.dbHandle) {
        this.dbHandle = openDatabase(this.dataDir, { create: true });
        if (this.dbHandle) this.registerIntegrity(this.dbHandle);
      }
      const now = this.clock.now();
      durableTransaction(this.db, () => {
        // Checked again under the write lock: another process may have created the vault
        // since the check above (two `akc init` at once).
        if (this.row()) throw alreadyInitialized(this.dataDir);
        this.db
          .prepare(
            'INSERT INTO vault (singleton, id, kdf, salt, wrapped_key_pw, wrapped_key_kc, created_at, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?)',
          )
          .run(id, JSON.stringify(kdf), salt, wrappedPw, wrappedKc, now, now);
        this.writeAdminKey(dek, id, salt, kek);
      });
      this.setUnlocked(dek);
      signRowsAtPasswordUnlock(this.db);
      this.appendAudit({ event: 'vault.init', reason: opts.keychain ? 'keychain unlock on' : 'keychain unlock off' });
    } catch (err) {
      wipe(dek);
      // No vault row refers to this id: do not leave its unlock key in the OS keychain.
      if (keychainStored && !this.keychainEntryInUse(id)) await this.keychain.delete(id).catch(() => false);
      throw err;
    } finally {
      wipe(kek);
      wipe(unlockKey);
    }
  }

  private keychainEntryInUse(id: string): boolean {
    try {
      return this.row()?.id === id;
    } catch {
      return false;
    }
  }

  async unlockWithPassword(password: Buffer): Promise<void> {
    const row = this.requireRow();
    const kdf = parseKdf(row.kdf);
    const kek = await deriveKek(password, row.salt, kdf);
    try {
      this.unlockWithKek(kek);
    } finally {
      wipe(kek);
    }
  }

  /**
   * Unlocks with the password's KEK, derived by the caller (the CLI derives it and sends
   * it sealed for the host: see crypto/admin-auth.ts). Throws WRONG_PASSWORD. The caller
   * wipes `kek`. Stores A when the vault has none yet (vaults from before admin proofs).
   */
  unlockWithKek(kek: Buffer): void {
    const row = this.requireRow();
    try {
      const dek = unwrapOrWrongPassword(() => unwrapVaultKey(kek, row.wrapped_key_pw, row.id, 'password'));
      this.setUnlocked(dek);
      this.rememberAdminKey(dek, row, kek);
      signRowsAtPasswordUnlock(this.db);
    } catch (err) {
      if (isAkcError(err, 'WRONG_PASSWORD')) this.appendAudit({ event: 'vault.unlock', decision: 'failed', reason: 'wrong password' });
      throw err;
    }
  }

  /** Unlocks with the unlock key from the OS keychain. Throws KEYCHAIN_UNAVAILABLE or LOCKED with a hint. */
  async unlockWithKeychain(): Promise<void> {
    const row = this.requireRow();
    if (!row.wrapped_key_kc) {
      throw new AkcError('LOCKED', 'keychain unlock is off for this vault', { hint: 'enter the master password' });
    }
    const stored = await this.keychain.get(row.id);
    if (stored === null) {
      // "Not found" is also what a Secret Service out of reach answers (no D-Bus over SSH):
      // say which it is, and never "deleted" when it may only be unreachable.
      const unreachable = (await this.keychain.unreachable?.().catch(() => null)) ?? null;
      if (unreachable) {
        throw new AkcError('KEYCHAIN_UNAVAILABLE', `the ${this.keychain.description} cannot be reached: ${unreachable}`, {
          hint: 'unlock with the master password, or run akc in the desktop session that holds the keyring (README: "Keychain on a headless Linux box")',
        });
      }
      throw new AkcError('KEYCHAIN_UNAVAILABLE', `the ${this.keychain.description} has no unlock key for this vault`, {
        hint:
          'the entry was deleted, or this session reaches another (new or locked) keyring; unlock with the master password, ' +
          'then `akc keychain enable` to store a new one',
      });
    }
    const unlockKey = Buffer.from(stored, 'base64');
    try {
      if (unlockKey.length !== KEY_BYTES) {
        throw new AkcError('KEYCHAIN_UNAVAILABLE', 'the keychain entry for this vault is malformed', {
          hint: 'unlock with the master password, then `akc keychain enable`',
        });
      }
      let dek: Buffer;
      try {
        dek = unwrapVaultKey(unlockKey, row.wrapped_key_kc, row.id, 'keychain');
      } catch (cause) {
        throw new AkcError('KEYCHAIN_UNAVAILABLE', 'the keychain entry does not open this vault', {
          cause,
          hint: 'unlock with the master password, then `akc keychain enable` to store a fresh unlock key',
        });
      }
      this.setUnlocked(dek);
    } finally {
      wipe(unlockKey);
    }
  }

  lock(reason: string | null = null, detail: Record<string, unknown> | null = null): void {
    if (!this.dek) return;
    this.appendAudit({ event: 'vault.lock', reason, detail });
    wipe(this.dek);
    wipe(this.auditMacKey);
    wipe(this.rowMacKey);
    this.rowMacKey = null;
    this.dek = null;
    this.dekVaultId = null;
    this.auditMacKey = null;
    this.emit();
  }

  /** Checks the master password without changing state. Throws WRONG_PASSWORD. */
  async verifyPassword(password: Buffer): Promise<void> {
    const row = this.requireRow();
    const kek = await deriveKek(password, row.salt, parseKdf(row.kdf));
    try {
      wipe(unwrapOrWrongPassword(() => unwrapVaultKey(kek, row.wrapped_key_pw, row.id, 'password')));
    } finally {
      wipe(kek);
    }
  }

  /** Changing the password rewraps the vault key only; no secret is re-encrypted. */
  async changePassword(oldPassword: Buffer, newPassword: Buffer): Promise<void> {
    checkPasswordShape(newPassword);
    const row = this.requireRow();
    const kdf = parseKdf(row.kdf);
    const oldKek = await deriveKek(oldPassword, row.salt, kdf);
    let dek: Buffer;
    try {
      dek = unwrapOrWrongPassword(() => unwrapVaultKey(oldKek, row.wrapped_key_pw, row.id, 'password'));
    } finally {
      wipe(oldKek);
    }
    const salt = randomBytes(SALT_BYTES);
    const newKek = await deriveKek(newPassword, salt, kdf);
    try {
      const wrapped = wrapVaultKey(newKek, dek, row.id, 'password');
      const now = this.clock.now();
      durableTransaction(this.db, () => {
        this.db.prepare('UPDATE vault SET salt = ?, wrapped_key_pw = ?, updated_at = ? WHERE singleton = 1').run(salt, wrapped, now);
        this.writeAdminKey(dek, row.id, salt, newKek);
        this.auditInTransaction([{ event: 'vault.passwd' }]);
      });
      // The old password's A must stop verifying proofs in this process too.
      if (this.adminProofKey) {
        wipe(this.adminProofKey);
        this.adminProofKey = deriveAdminKey(newKek);
      }
    } finally {
      wipe(newKek);
      wipe(dek);
    }
  }

  /** Turns keychain unlock on or off. Needs the master password either way. */
  async setKeychainUnlock(enabled: boolean, password: Buffer): Promise<void> {
    const row = this.requireRow();
    const kek = await deriveKek(password, row.salt, parseKdf(row.kdf));
    let dek: Buffer;
    try {
      dek = unwrapOrWrongPassword(() => unwrapVaultKey(kek, row.wrapped_key_pw, row.id, 'password'));
    } finally {
      wipe(kek);
    }
    const unlockKey = enabled ? newKey() : null;
    try {
      let wrapped: Buffer | null = null;
      if (unlockKey) {
        wrapped = wrapVaultKey(unlockKey, dek, row.id, 'keychain');
        await this.keychain.set(row.id, unlockKey.toString('base64'));
      }
      durableTransaction(this.db, () => {
        this.db.prepare('UPDATE vault SET wrapped_key_kc = ?, updated_at = ? WHERE singleton = 1').run(wrapped, this.clock.now());
        this.auditInTransaction([{ event: enabled ? 'vault.keychain.enable' : 'vault.keychain.disable' }]);
      });
      if (!enabled) {
        try {
          await this.keychain.delete(row.id);
        } catch {
          // The wrapped copy is gone from the vault, so a leftover entry opens nothing.
        }
      }
    } finally {
      wipe(dek);
      wipe(unlockKey);
    }
  }

  /** Appends audit entries in the caller's write transaction. */
  auditInTransaction(entries: readonly AuditFields[]): void {
    this.audit.appendInTransaction(entries, this.clock.now(), this.auditMacKey);
  }

  /** Appends one audit entry in its own transaction. */
  appendAudit(fields: AuditFields): void {
    this.audit.append(fields, this.clock.now(), this.auditMacKey);
  }

  close(): void {
    this.lockSilently();
    wipe(this.adminProofKey);
    this.adminProofKey = null;
    this.auditLog?.close();
    this.dbHandle?.close();
    this.dbHandle = null;
    this.auditLog = null;
  }

  private lockSilently(): void {
    wipe(this.dek);
    wipe(this.auditMacKey);
    wipe(this.rowMacKey);
    this.rowMacKey = null;
    this.dek = null;
    this.dekVaultId = null;
    this.auditMacKey = null;
  }

  private setUnlocked(dek: Buffer): void {
    this.lockSilently();
    this.dek = dek;
    const row = this.requireRow();
    this.dekVaultId = row.id;
    this.auditMacKey = deriveSubkey(dek, row.id, 'audit-mac');
    this.rowMacKey = deriveRowMacKey(dek, row.id);
    this.audit.checkpointHead(this.clock.now(), this.auditMacKey);
    this.loadAdminKey();
    this.emit();
  }

  /** Replaces the in-memory A with the one stored in the vault, if it opens (needs the vault key). */
  private loadAdminKey(): boolean {
    const dek = this.dek;
    const row = this.row();
    if (!dek || !row) return false;
    const stored = cachedStatement(this.db, 'SELECT value FROM settings WHERE key = ?').get(ADMIN_KEY_SETTING) as
      { value: string } | undefined;
    if (!stored) return false;
    let key: Buffer;
    try {
      key = openAdminKey(dek, row.id, row.salt, Buffer.from(stored.value, 'base64'));
    } catch {
      // Tampered, or sealed for an older password (salt): ignore it; the next password
      // unlock rewrites it from the KEK.
      return false;
    }
    wipe(this.adminProofKey);
    this.adminProofKey = key;
    return true;
  }

  /** After a password unlock: A from the KEK, stored when missing or stale. */
  private rememberAdminKey(dek: Buffer, row: VaultRow, kek: Buffer): void {
    const fresh = deriveAdminKey(kek);
    if (this.loadAdminKey() && this.adminProofKey!.equals(fresh)) {
      wipe(fresh);
      return;
    }
    wipe(this.adminProofKey);
    this.adminProofKey = fresh;
    try {
      durableTransaction(this.db, () => this.writeAdminKey(dek, row.id, row.salt, kek));
    } catch {
      // The unlock itself succeeded and A is in memory; storing it is retried at the next
      // password unlock (without it, a keychain unlock in another process cannot verify proofs).
    }
  }

  /** Writes sealed A in the caller's transaction. */
  private writeAdminKey(dek: Buffer, vaultId: string, salt: Buffer, kek: Buffer): void {
    const adminKey = deriveAdminKey(kek);
    try {
      const sealed = sealAdminKey(dek, vaultId, salt, adminKey);
      this.db
        .prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')
        .run(ADMIN_KEY_SETTING, sealed.toString('base64'));
    } finally {
      wipe(adminKey);
    }
  }

  private registerIntegrity(db: Database): void {
    registerIntegrity(db, {
      rowKey: () => this.rowMacKey,
      auditInTransaction: (entries) => this.auditInTransaction(entries),
      now: () => this.clock.now(),
    });
  }

  private emit(): void {
    const state = this.state;
    for (const l of this.listeners) l(state);
  }

  private row(): VaultRow | undefined {
    if (!this.dbHandle) return undefined;
    return cachedStatement(this.dbHandle, 'SELECT id, kdf, salt, wrapped_key_pw, wrapped_key_kc FROM vault WHERE singleton = 1').get() as
      VaultRow | undefined;
  }

  private requireRow(): VaultRow {
    const row = this.row();
    if (!row) throw notInitialized();
    return row;
  }
}

/** The settings row holding A sealed under the vault key (crypto/admin-auth.ts sealAdminKey). */
const ADMIN_KEY_SETTING = 'vault.admin_key';

function alreadyInitialized(dataDir: string): AkcError {
  return new AkcError('ALREADY_INITIALIZED', `a vault already exists in ${dataDir}`, {
    hint: 'use `akc passwd` to change its password, or set AKC_HOME to create another vault elsewhere',
  });
}

function notInitialized(): AkcError {
  return new AkcError('NOT_INITIALIZED', 'no vault has been created yet', { hint: 'run `akc init` to create one' });
}

function parseKdf(text: string): KdfParams {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new AkcError('CORRUPT', 'vault kdf parameters are not valid JSON', { cause });
  }
  return checkKdfParams(parsed);
}

/** GCM authentication failure of the password slot means the password was wrong. */
function unwrapOrWrongPassword(fn: () => Buffer): Buffer {
  try {
    return fn();
  } catch (cause) {
    if (isAkcError(cause, 'CORRUPT') && cause.message === 'authentication failed') {
      throw new AkcError('WRONG_PASSWORD', 'wrong master password', { cause });
    }
    throw cause;
  }
}

const MIN_PASSWORD_CHARS = 8;
function checkPasswordShape(password: Buffer): void {
  // Count UTF-8 code points without decoding the password into an immutable JS string.
  let chars = 0;
  for (const byte of password) if ((byte & 0xc0) !== 0x80) chars += 1;
  if (chars < MIN_PASSWORD_CHARS) {
    throw new AkcError('INVALID_ARGUMENT', `the master password must have at least ${MIN_PASSWORD_CHARS} characters`);
  }
}
