/**
 * The vault and its secrets against real parts: vault.db files on disk, real Argon2id
 * (weak parameters, selected explicitly), and the real OS keychain (gnome-keyring under
 * scripts/with-keyring.sh) through NapiKeychain with a unique service name per test.
 * Tampering is done with SQL on the file, as someone with disk access would.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { Vault, type VaultState } from '../../src/core/vault/vault.js';
import { MAX_SECRET_BYTES, SecretStore } from '../../src/core/vault/secrets.js';
import { NapiKeychain } from '../../src/core/keychain/napi-keychain.js';
import { DANGEROUS_TEST_WEAK_KDF, KDF_LIMITS } from '../../src/core/crypto/kdf.js';
import { vaultPath } from '../../src/core/store/database.js';
import { isAkcError, type ErrorCode } from '../../src/shared/errors.js';
import { keyringSkip, PASSWORD, tempDir } from '../helpers/env.js';

const KDF = DANGEROUS_TEST_WEAK_KDF;
const pw = (s: string = PASSWORD): Buffer => Buffer.from(s, 'utf8');

interface Setup {
  dataDir: string;
  service: string;
  keychain: NapiKeychain;
  vault: Vault;
  reopen(): Vault;
}

/** A vault object for a fresh data dir (nothing on disk yet) and its own keychain service. */
function setup(): Setup {
  const dataDir = path.join(tempDir(), 'data');
  const service = `akc-test-vault-${randomUUID()}`;
  const keychain = new NapiKeychain(service);
  const reopen = (): Vault => Vault.open({ dataDir, keychain });
  return { dataDir, service, keychain, vault: reopen(), reopen };
}

async function initVault(opts: { keychain?: boolean } = {}): Promise<Setup> {
  const s = setup();
  await s.vault.init(pw(), { keychain: opts.keychain ?? false, kdf: KDF });
  return s;
}

/** Removes the keychain entry a test created (best effort). */
async function cleanupKeychain(s: Setup, account: string): Promise<void> {
  await s.keychain.delete(account).catch(() => false);
}

function withDb<T>(dataDir: string, fn: (db: Db) => T): T {
  const db = new Database(vaultPath(dataDir));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp, hint?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isAkcError(err), `expected an AkcError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    if (message) assert.match(err.message, message);
    if (hint) assert.match(err.hint ?? '', hint);
    return true;
  });
}

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp, hint?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isAkcError(err), `expected an AkcError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    if (message) assert.match(err.message, message);
    if (hint) assert.match(err.hint ?? '', hint);
    return true;
  });
}

function mode(p: string): number {
  return fs.statSync(p).mode & 0o777;
}

function blobs(dataDir: string): { secret_id: string; version: number; blob: Buffer }[] {
  return withDb(dataDir, (db) => db.prepare('SELECT secret_id, version, blob FROM secret_versions ORDER BY secret_id, version').all()) as {
    secret_id: string;
    version: number;
    blob: Buffer;
  }[];
}

function secretId(dataDir: string, name: string): string {
  return withDb(dataDir, (db) => (db.prepare('SELECT id FROM secrets WHERE name = ?').get(name) as { id: string }).id);
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

/** Every encoding of `needle` we look for in raw file bytes. */
function encodings(needle: string): Record<string, Buffer> {
  const utf8 = Buffer.from(needle, 'utf8');
  return {
    utf8,
    utf16le: Buffer.from(needle, 'utf16le'),
    utf16be: Buffer.from(needle, 'utf16le').swap16(),
    base64: Buffer.from(utf8.toString('base64').replace(/=+$/, '')),
    base64url: Buffer.from(utf8.toString('base64url')),
    hex: Buffer.from(utf8.toString('hex')),
    HEX: Buffer.from(utf8.toString('hex').toUpperCase()),
  };
}

/** Asserts that no file under `dir` contains `needle` in any encoding; returns the files searched. */
function assertNotOnDisk(dir: string, needle: string, what: string): string[] {
  const files = filesUnder(dir);
  assert.ok(files.length > 0);
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const [enc, pattern] of Object.entries(encodings(needle))) {
      assert.equal(bytes.indexOf(pattern), -1, `${what} found as ${enc} in ${path.basename(file)}`);
    }
  }
  return files.map((f) => path.basename(f));
}

describe('vault states', () => {
  test('uninitialized → init (unlocked) → lock → unlock → reopen (locked)', async () => {
    const s = setup();
    assert.equal(s.vault.state, 'uninitialized');
    assert.equal(fs.existsSync(s.dataDir), false, 'opening does not create anything');
    throwsCode(() => s.vault.id, 'NOT_INITIALIZED', /no vault/, /akc init/);
    await rejectsCode(s.vault.unlockWithPassword(pw()), 'NOT_INITIALIZED');
    throwsCode(() => s.vault.requireKey(), 'LOCKED');

    const seen: VaultState[] = [];
    s.vault.onStateChange((st) => seen.push(st));
    await s.vault.init(pw(), { keychain: false, kdf: KDF });
    assert.equal(s.vault.state, 'unlocked');
    assert.equal(s.vault.requireKey().length, 32);
    assert.equal(s.vault.keychainUnlockEnabled, false);
    assert.deepEqual(s.vault.kdfParams, KDF);

    s.vault.lock();
    assert.equal(s.vault.state, 'locked');
    throwsCode(() => s.vault.requireKey(), 'LOCKED', /locked/, /unlock/);
    assert.equal(s.vault.auditKey, null);
    s.vault.lock(); // locking twice is a no-op

    await s.vault.unlockWithPassword(pw());
    assert.equal(s.vault.state, 'unlocked');
    assert.deepEqual(seen, ['unlocked', 'locked', 'unlocked']);
    const id = s.vault.id;
    s.vault.close();

    const again = s.reopen();
    try {
      assert.equal(again.state, 'locked');
      assert.equal(again.id, id);
      await again.unlockWithPassword(pw());
      assert.equal(again.state, 'unlocked');
      const events = again.audit.query().map((e) => e.event);
      assert.deepEqual(events, ['vault.init', 'vault.lock']);
      assert.equal(again.audit.verify(again.auditKey).ok, true);
    } finally {
      again.close();
    }
  });

  test('init twice → ALREADY_INITIALIZED; the first vault is untouched', async () => {
    const s = await initVault();
    const id = s.vault.id;
    await rejectsCode(
      s.vault.init(pw('another password'), { keychain: false, kdf: KDF }),
      'ALREADY_INITIALIZED',
      /already exists/,
      /akc passwd/,
    );
    s.vault.close();
    const again = s.reopen();
    try {
      await rejectsCode(again.init(pw('another password'), { keychain: false, kdf: KDF }), 'ALREADY_INITIALIZED');
      assert.equal(again.id, id);
      await again.unlockWithPassword(pw());
    } finally {
      again.close();
    }
  });

  test('a too-short master password is refused before anything is written', async () => {
    const s = setup();
    await rejectsCode(s.vault.init(pw('short'), { keychain: false, kdf: KDF }), 'INVALID_ARGUMENT', /at least 8 characters/);
    // Eight characters, multi-byte: counted as characters, not bytes.
    await rejectsCode(s.vault.init(pw('ééé'), { keychain: false, kdf: KDF }), 'INVALID_ARGUMENT');
    assert.equal(fs.existsSync(s.dataDir), false);
    await s.vault.init(pw('éééééééé'), { keychain: false, kdf: KDF });
    s.vault.close();
  });

  test('wrong password → WRONG_PASSWORD, stays locked, attempt is audited', async () => {
    const s = await initVault();
    s.vault.close();
    const v = s.reopen();
    try {
      for (const wrong of ['correct horse batterz', PASSWORD + ' ', PASSWORD.toUpperCase(), 'x']) {
        await rejectsCode(v.unlockWithPassword(pw(wrong)), 'WRONG_PASSWORD', /^wrong master password$/);
        assert.equal(v.state, 'locked');
      }
      await rejectsCode(v.verifyPassword(pw('nope nope nope')), 'WRONG_PASSWORD');
      await v.verifyPassword(pw());
      assert.equal(v.state, 'locked', 'verifyPassword does not unlock');
      await v.unlockWithPassword(pw());
      const failed = v.audit.query({ event: 'vault.unlock', decision: 'failed' });
      assert.equal(failed.length, 4);
      assert.equal(failed[0]!.reason, 'wrong password');
      assert.equal(v.audit.verify(v.auditKey).ok, true);
    } finally {
      v.close();
    }
  });

  test('lock zeroes the vault key and audit key buffers', async () => {
    const s = await initVault();
    const key = s.vault.requireKey();
    const macKey = s.vault.auditKey!;
    assert.ok(key.some((b) => b !== 0));
    assert.ok(macKey.some((b) => b !== 0));
    s.vault.lock();
    assert.ok(
      key.every((b) => b === 0),
      'vault key zeroed',
    );
    assert.ok(
      macKey.every((b) => b === 0),
      'audit key zeroed',
    );

    await s.vault.unlockWithPassword(pw());
    const key2 = s.vault.requireKey();
    assert.notEqual(key2, key, 'a fresh buffer after unlock');
    assert.ok(key2.some((b) => b !== 0));
    s.vault.close();
    assert.ok(
      key2.every((b) => b === 0),
      'close zeroes too',
    );
  });

  test('unlocking again replaces (and zeroes) the previous key buffer', async () => {
    const s = await initVault();
    const first = s.vault.requireKey();
    const copy = Buffer.from(first);
    await s.vault.unlockWithPassword(pw());
    assert.ok(first.every((b) => b === 0));
    assert.deepEqual(s.vault.requireKey(), copy, 'same vault key, new buffer');
    s.vault.close();
  });
});

describe('change password', () => {
  test('rewraps only the vault key: secret blobs byte-identical; old password fails, new works', async () => {
    const s = await initVault();
    const store = new SecretStore(s.vault);
    store.set('a', Buffer.from('value-a'));
    store.set('b', Buffer.from('value-b1'));
    store.set('b', Buffer.from('value-b2'));
    const before = blobs(s.dataDir);
    const rowBefore = withDb(s.dataDir, (db) => db.prepare('SELECT * FROM vault').get()) as Record<string, unknown>;
    assert.equal(before.length, 3);

    const newPassword = 'a brand new passphrase';
    await s.vault.changePassword(pw(), pw(newPassword));
    s.vault.close();

    assert.deepEqual(blobs(s.dataDir), before);
    const rowAfter = withDb(s.dataDir, (db) => db.prepare('SELECT * FROM vault').get()) as Record<string, unknown>;
    assert.notDeepEqual(rowAfter.wrapped_key_pw, rowBefore.wrapped_key_pw);
    assert.notDeepEqual(rowAfter.salt, rowBefore.salt, 'a fresh salt');
    assert.equal(rowAfter.id, rowBefore.id);
    assert.equal(rowAfter.kdf, rowBefore.kdf);
    assert.deepEqual(rowAfter.wrapped_key_kc, rowBefore.wrapped_key_kc);

    const v = s.reopen();
    try {
      await rejectsCode(v.unlockWithPassword(pw()), 'WRONG_PASSWORD');
      await v.unlockWithPassword(pw(newPassword));
      const store2 = new SecretStore(v);
      assert.equal(store2.reveal('a').value.toString(), 'value-a');
      assert.equal(store2.reveal('b').value.toString(), 'value-b2');
      assert.equal(store2.reveal('b', 1).value.toString(), 'value-b1');
      assert.equal(v.audit.query({ event: 'vault.passwd' }).length, 1);
    } finally {
      v.close();
    }
  });

  test('a wrong current password or a too-short new one changes nothing', async () => {
    const s = await initVault();
    const rowBefore = withDb(s.dataDir, (db) => db.prepare('SELECT * FROM vault').get());
    await rejectsCode(s.vault.changePassword(pw('not the password'), pw('a brand new passphrase')), 'WRONG_PASSWORD');
    await rejectsCode(s.vault.changePassword(pw(), pw('short')), 'INVALID_ARGUMENT');
    assert.deepEqual(
      withDb(s.dataDir, (db) => db.prepare('SELECT * FROM vault').get()),
      rowBefore,
    );
    s.vault.close();
  });
});

describe('keychain unlock (real OS keychain)', { skip: keyringSkip() }, () => {
  test('round trip in the OS keychain', async () => {
    const s = await initVault({ keychain: true });
    const id = s.vault.id;
    try {
      assert.equal(s.vault.keychainUnlockEnabled, true);
      const stored = await s.keychain.get(id);
      assert.ok(stored);
      assert.equal(Buffer.from(stored, 'base64').length, 32);
      new SecretStore(s.vault).set('k', Buffer.from('keychain-value'));
      s.vault.lock();
      await s.vault.unlockWithKeychain();
      assert.equal(s.vault.state, 'unlocked');
      assert.equal(new SecretStore(s.vault).reveal('k').value.toString(), 'keychain-value');
      s.vault.close();

      // A new process would see a new Vault and a new keychain client.
      const v = Vault.open({ dataDir: s.dataDir, keychain: new NapiKeychain(s.service) });
      try {
        assert.equal(v.state, 'locked');
        await v.unlockWithKeychain();
        assert.equal(new SecretStore(v).reveal('k').value.toString(), 'keychain-value');
        assert.equal(v.audit.verify(v.auditKey).ok, true);
      } finally {
        v.close();
      }
      // The keychain entry lives under its own service name; the default one was never touched.
      assert.equal(await new NapiKeychain(`akc-test-other-${randomUUID()}`).get(id), null);
    } finally {
      await cleanupKeychain(s, id);
    }
  });

  test('keychain entry deleted → KEYCHAIN_UNAVAILABLE with a hint; the password still works', async () => {
    const s = await initVault({ keychain: true });
    const id = s.vault.id;
    try {
      s.vault.close();
      // Delete it the way a user (or another program) would, outside akc.
      const r = spawnSync('secret-tool', ['clear', 'service', s.service, 'username', id], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(await s.keychain.get(id), null);

      const v = s.reopen();
      try {
        await rejectsCode(v.unlockWithKeychain(), 'KEYCHAIN_UNAVAILABLE', /has no unlock key for this vault/, /master password/);
        assert.equal(v.state, 'locked');
        await v.unlockWithPassword(pw());
        assert.equal(v.state, 'unlocked');
        // Re-enabling stores a fresh entry and keychain unlock works again.
        await v.setKeychainUnlock(true, pw());
        v.lock();
        await v.unlockWithKeychain();
        assert.equal(v.state, 'unlocked');
      } finally {
        v.close();
      }
    } finally {
      await cleanupKeychain(s, id);
    }
  });

  test('a keychain entry that is malformed or belongs to another key → KEYCHAIN_UNAVAILABLE; the password still works', async () => {
    const s = await initVault({ keychain: true });
    const id = s.vault.id;
    try {
      s.vault.lock();
      await s.keychain.set(id, randomBytes(16).toString('base64'));
      await rejectsCode(s.vault.unlockWithKeychain(), 'KEYCHAIN_UNAVAILABLE', /malformed/, /master password/);
      await s.keychain.set(id, randomBytes(32).toString('base64'));
      await rejectsCode(s.vault.unlockWithKeychain(), 'KEYCHAIN_UNAVAILABLE', /does not open this vault/, /master password/);
      await s.keychain.set(id, 'not base64 at all!!');
      await rejectsCode(s.vault.unlockWithKeychain(), 'KEYCHAIN_UNAVAILABLE');
      assert.equal(s.vault.state, 'locked');
      await s.vault.unlockWithPassword(pw());
      s.vault.close();
    } finally {
      await cleanupKeychain(s, id);
    }
  });

  test('setKeychainUnlock on and off', async () => {
    const s = await initVault({ keychain: false });
    const id = s.vault.id;
    try {
      assert.equal(await s.keychain.get(id), null, 'no entry when created with keychain unlock off');
      s.vault.lock();
      await rejectsCode(s.vault.unlockWithKeychain(), 'LOCKED', /keychain unlock is off/, /master password/);
      await rejectsCode(s.vault.setKeychainUnlock(true, pw('wrong password!')), 'WRONG_PASSWORD');
      assert.equal(s.vault.keychainUnlockEnabled, false);
      assert.equal(await s.keychain.get(id), null);

      await s.vault.setKeychainUnlock(true, pw());
      assert.equal(s.vault.keychainUnlockEnabled, true);
      const first = await s.keychain.get(id);
      assert.ok(first);
      await s.vault.unlockWithKeychain();
      s.vault.lock();

      // Turning it on again stores a fresh unlock key; the old one no longer opens the vault.
      await s.vault.setKeychainUnlock(true, pw());
      const second = await s.keychain.get(id);
      assert.ok(second && second !== first);
      await s.vault.unlockWithKeychain();
      s.vault.lock();

      await rejectsCode(s.vault.setKeychainUnlock(false, pw('wrong password!')), 'WRONG_PASSWORD');
      assert.equal(s.vault.keychainUnlockEnabled, true);
      await s.vault.setKeychainUnlock(false, pw());
      assert.equal(s.vault.keychainUnlockEnabled, false);
      assert.equal(await s.keychain.get(id), null, 'the entry is removed');
      assert.equal(
        withDb(
          s.dataDir,
          (db) => (db.prepare('SELECT wrapped_key_kc FROM vault').get() as { wrapped_key_kc: Buffer | null }).wrapped_key_kc,
        ),
        null,
      );
      await rejectsCode(s.vault.unlockWithKeychain(), 'LOCKED', /keychain unlock is off/);
      // A leftover entry (e.g. restored by a keychain backup) opens nothing.
      await s.keychain.set(id, second);
      await rejectsCode(s.vault.unlockWithKeychain(), 'LOCKED', /keychain unlock is off/);
      await s.vault.unlockWithPassword(pw());
      const events = s.vault.audit.query().map((e) => e.event);
      assert.deepEqual(
        events.filter((e) => e.startsWith('vault.keychain')),
        ['vault.keychain.enable', 'vault.keychain.enable', 'vault.keychain.disable'],
      );
      s.vault.close();
    } finally {
      await cleanupKeychain(s, id);
    }
  });

  test('changing the password keeps keychain unlock working', async () => {
    const s = await initVault({ keychain: true });
    const id = s.vault.id;
    try {
      await s.vault.changePassword(pw(), pw('a brand new passphrase'));
      s.vault.lock();
      await s.vault.unlockWithKeychain();
      s.vault.close();
    } finally {
      await cleanupKeychain(s, id);
    }
  });
});

describe('secrets', () => {
  test('versions history: every set adds a version; old versions stay retrievable', async () => {
    const s = await initVault();
    try {
      const store = new SecretStore(s.vault);
      assert.deepEqual(store.set('svc/api', Buffer.from('v1'), { type: 'api_key', description: 'first', tags: ['a'] }), {
        version: 1,
        created: true,
      });
      const { version: v2, created: c2, previous: p2 } = store.set('svc/api', Buffer.from('v2'));
      assert.deepEqual([v2, c2, p2?.version, p2?.state], [2, false, 1, 'previous']);
      const { version: v3, created: c3, previous: p3 } = store.set('svc/api', Buffer.from('v3'), { description: 'third' });
      assert.deepEqual([v3, c3, p3?.version, p3?.state], [3, false, 2, 'previous']);
      const meta = store.get('svc/api');
      assert.equal(meta.type, 'api_key', 'type kept when not given');
      assert.equal(meta.description, 'third');
      assert.deepEqual(meta.tags, ['a']);
      assert.equal(meta.currentVersion, 3);
      assert.deepEqual(
        store.versions('svc/api').map((v) => [v.version, v.state]),
        [
          [3, 'current'],
          [2, 'previous'],
          [1, 'retired'],
        ],
      );
      for (const v of [1, 2, 3]) assert.equal(store.reveal('svc/api', v).value.toString(), `v${v}`);
      assert.equal(store.reveal('svc/api').version, 3);
      throwsCode(() => store.reveal('svc/api', 4), 'NOT_FOUND', /no version 4/);
      throwsCode(() => store.reveal('nope'), 'NOT_FOUND', /no secret named nope/);

      store.update('svc/api', { owner: 'ops' });
      assert.equal(store.get('svc/api').owner, 'ops');
      assert.deepEqual(
        store.list().map((m) => m.name),
        ['svc/api'],
      );

      store.remove('svc/api');
      throwsCode(() => store.get('svc/api'), 'NOT_FOUND');
      assert.equal(blobs(s.dataDir).length, 0, 'versions removed with the secret');
      const events = s.vault.audit.query().map((e) => `${e.event}:${e.secret ?? ''}:${e.version ?? ''}`);
      assert.deepEqual(events.slice(1), [
        'secret.create:svc/api:1',
        'secret.update:svc/api:2',
        'secret.update:svc/api:3',
        'secret.update:svc/api:',
        'secret.delete:svc/api:',
      ]);
      assert.equal(s.vault.audit.verify(s.vault.auditKey).ok, true);
    } finally {
      s.vault.close();
    }
  });

  test('bad input is refused: name, type, empty and oversized values; locked vault', async () => {
    const s = await initVault();
    try {
      const store = new SecretStore(s.vault);
      for (const name of ['', 'has space', 'semi;colon', 'ünï', 'x'.repeat(129), 'a\nb']) {
        throwsCode(() => store.set(name, Buffer.from('v')), 'INVALID_ARGUMENT', /invalid secret name/);
      }
      store.set('x'.repeat(128), Buffer.from('v'));
      store.set('A-z_0.9/ok', Buffer.from('v'));
      throwsCode(() => store.set('t', Buffer.from('v'), { type: 'nonsense' as never }), 'INVALID_ARGUMENT', /unknown secret type/);
      throwsCode(() => store.set('t', Buffer.alloc(0)), 'INVALID_ARGUMENT', /empty/);
      throwsCode(() => store.set('t', Buffer.alloc(MAX_SECRET_BYTES + 1, 1)), 'INVALID_ARGUMENT', /larger than/);
      store.set('t', Buffer.alloc(MAX_SECRET_BYTES, 1));
      s.vault.lock();
      throwsCode(() => store.set('u', Buffer.from('v')), 'LOCKED');
      throwsCode(() => store.reveal('t'), 'LOCKED');
      // Metadata stays readable while locked.
      assert.equal(store.list().length, 3);
    } finally {
      s.vault.close();
    }
  });

  /** Two secrets stored, the vault closed, `tamper` run on the file, then the vault reopened and unlocked. */
  async function tampered(tamper: (db: Db, ids: { a: string; b: string }) => void): Promise<{ vault: Vault; store: SecretStore }> {
    const s = await initVault();
    const store = new SecretStore(s.vault);
    store.set('alpha', Buffer.from('alpha-value'));
    store.set('beta', Buffer.from('beta-value'));
    store.set('gamma', Buffer.from('gamma-value'));
    s.vault.close();
    const ids = { a: secretId(s.dataDir, 'alpha'), b: secretId(s.dataDir, 'beta') };
    withDb(s.dataDir, (db) => tamper(db, ids));
    const vault = s.reopen();
    await vault.unlockWithPassword(pw());
    return { vault, store: new SecretStore(vault) };
  }

  function assertCorruptSecret(store: SecretStore, name: string, version = 1): void {
    throwsCode(
      () => store.reveal(name),
      'CORRUPT',
      new RegExp(`^failed to decrypt secret ${name} version ${version}: .*\\(tampered, truncated or moved ciphertext\\)$`),
    );
  }

  test('tampered ciphertext → CORRUPT naming the secret; the others still open', async () => {
    const { vault, store } = await tampered((db, ids) => {
      const { blob } = db.prepare('SELECT blob FROM secret_versions WHERE secret_id = ?').get(ids.a) as { blob: Buffer };
      // One bit flipped in the ciphertext body (nonce, tag and version byte: next test).
      const bad = Buffer.from(blob);
      bad[15]! ^= 0x01;
      db.prepare('UPDATE secret_versions SET blob = ? WHERE secret_id = ?').run(bad, ids.a);
    });
    try {
      assertCorruptSecret(store, 'alpha');
      assert.equal(store.reveal('beta').value.toString(), 'beta-value');
      assert.equal(store.reveal('gamma').value.toString(), 'gamma-value');
      assert.equal(store.get('alpha').name, 'alpha', 'metadata still readable');
    } finally {
      vault.close();
    }
  });

  test('tampering with the nonce, the tag or the version byte → CORRUPT naming the secret', async () => {
    for (const pos of ['version', 'nonce', 'tag'] as const) {
      const { vault, store } = await tampered((db, ids) => {
        const { blob } = db.prepare('SELECT blob FROM secret_versions WHERE secret_id = ?').get(ids.b) as { blob: Buffer };
        const bad = Buffer.from(blob);
        const i = pos === 'version' ? 0 : pos === 'nonce' ? 5 : bad.length - 3;
        bad[i]! ^= 0x40;
        db.prepare('UPDATE secret_versions SET blob = ? WHERE secret_id = ?').run(bad, ids.b);
      });
      try {
        assertCorruptSecret(store, 'beta');
        assert.equal(store.reveal('alpha').value.toString(), 'alpha-value');
      } finally {
        vault.close();
      }
    }
  });

  test('ciphertext swapped between two secret rows → CORRUPT naming each secret', async () => {
    const { vault, store } = await tampered((db, ids) => {
      const get = db.prepare('SELECT blob FROM secret_versions WHERE secret_id = ?').pluck();
      const [blobA, blobB] = [get.get(ids.a) as Buffer, get.get(ids.b) as Buffer];
      const put = db.prepare('UPDATE secret_versions SET blob = ? WHERE secret_id = ?');
      db.transaction(() => {
        put.run(blobB, ids.a);
        put.run(blobA, ids.b);
      })();
      const rows = db.prepare('SELECT secret_id, blob FROM secret_versions WHERE secret_id IN (?, ?)').all(ids.a, ids.b) as {
        secret_id: string;
        blob: Buffer;
      }[];
      assert.equal(rows.length, 2);
      assert.notDeepEqual(rows[0]!.blob, rows[1]!.blob);
    });
    try {
      assertCorruptSecret(store, 'alpha');
      assertCorruptSecret(store, 'beta');
      assert.equal(store.reveal('gamma').value.toString(), 'gamma-value');
    } finally {
      vault.close();
    }
  });

  test('ciphertext moved between versions of one secret → CORRUPT', async () => {
    const s = await initVault();
    const store = new SecretStore(s.vault);
    store.set('multi', Buffer.from('one'));
    store.set('multi', Buffer.from('two'));
    s.vault.close();
    const id = secretId(s.dataDir, 'multi');
    withDb(s.dataDir, (db) =>
      db
        .prepare(
          'UPDATE secret_versions SET blob = (SELECT blob FROM secret_versions WHERE secret_id = ? AND version = 1) WHERE secret_id = ? AND version = 2',
        )
        .run(id, id),
    );
    const v = s.reopen();
    try {
      await v.unlockWithPassword(pw());
      const st = new SecretStore(v);
      assertCorruptSecret(st, 'multi', 2);
      assert.equal(st.reveal('multi', 1).value.toString(), 'one');
    } finally {
      v.close();
    }
  });

  test('truncated or emptied blob → CORRUPT naming the secret, no crash', async () => {
    for (const cut of ['half', 'header', 'empty'] as const) {
      const { vault, store } = await tampered((db, ids) => {
        const { blob } = db.prepare('SELECT blob FROM secret_versions WHERE secret_id = ?').get(ids.a) as { blob: Buffer };
        const short =
          cut === 'half' ? blob.subarray(0, Math.floor(blob.length / 2)) : cut === 'header' ? blob.subarray(0, 13) : Buffer.alloc(0);
        db.prepare('UPDATE secret_versions SET blob = ? WHERE secret_id = ?').run(short, ids.a);
      });
      try {
        assertCorruptSecret(store, 'alpha');
        assert.equal(store.reveal('beta').value.toString(), 'beta-value');
      } finally {
        vault.close();
      }
    }
  });
});

describe('corrupt, foreign and crafted vault files', () => {
  function assertCorruptOpen(dataDir: string, message: RegExp, hint: RegExp): void {
    throwsCode(() => Vault.open({ dataDir, keychain: new NapiKeychain(`akc-test-${randomUUID()}`) }), 'CORRUPT', message, hint);
  }

  test('a random file as vault.db → CORRUPT with a clear message; the file is untouched', () => {
    const dataDir = tempDir();
    const file = vaultPath(dataDir);
    const junk = randomBytes(16384);
    fs.writeFileSync(file, junk, { mode: 0o600 });
    assertCorruptOpen(
      dataDir,
      new RegExp(`^failed to open vault ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file is not a database$`),
      /not an Agent Keychain vault or is damaged/,
    );
    assert.deepEqual(fs.readFileSync(file), junk);
    assert.deepEqual(fs.readdirSync(dataDir), ['vault.db'], 'no -wal/-shm left behind');
  });

  test('a text file as vault.db → CORRUPT', () => {
    const dataDir = tempDir();
    fs.writeFileSync(vaultPath(dataDir), 'just some notes\n'.repeat(100));
    assertCorruptOpen(dataDir, /file is not a database/, /akc init/);
  });

  test('a damaged SQLite vault (valid header, garbage pages) → CORRUPT', async () => {
    const s = await initVault();
    s.vault.close();
    const file = vaultPath(s.dataDir);
    const bytes = fs.readFileSync(file);
    randomBytes(bytes.length - 100).copy(bytes, 100);
    fs.writeFileSync(file, bytes);
    assertCorruptOpen(s.dataDir, /^failed to open vault .*: /, /damaged/);
  });

  test("a foreign SQLite file (another app's db) → CORRUPT with a clear message; the file is untouched", () => {
    const dataDir = tempDir();
    const file = vaultPath(dataDir);
    const db = new Database(file);
    db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); INSERT INTO users (email) VALUES ('a@example.com');");
    db.close();
    const before = fs.readFileSync(file);
    assertCorruptOpen(dataDir, /^failed to open vault .*vault\.db: it is a SQLite database of another application$/, /AKC_HOME/);
    assert.deepEqual(fs.readFileSync(file), before);
    const check = new Database(file, { readonly: true });
    assert.equal(check.pragma('user_version', { simple: true }), 0);
    assert.equal(check.pragma('journal_mode', { simple: true }), 'delete', 'not switched to WAL');
    check.close();
  });

  test('a SQLite file with another application_id → CORRUPT', () => {
    const dataDir = tempDir();
    const db = new Database(vaultPath(dataDir));
    db.pragma('application_id = 12345');
    db.close();
    assertCorruptOpen(dataDir, /another application/, /AKC_HOME/);
  });

  test('crafted Argon2 parameters above the maximum → refused before deriving', async () => {
    for (const [field, value] of [
      ['memoryKiB', 2 ** 32],
      ['memoryKiB', KDF_LIMITS.memoryKiB.max + 1],
      ['timeCost', 1_000_000],
      ['parallelism', 255],
    ] as const) {
      const s = await initVault();
      s.vault.close();
      withDb(s.dataDir, (db) => db.prepare('UPDATE vault SET kdf = ?').run(JSON.stringify({ ...KDF, [field]: value })));
      const v = s.reopen();
      try {
        assert.equal(v.state, 'locked');
        const message = new RegExp(`kdf ${field} ${value} is above the maximum .*refusing to derive`);
        // A 4 TiB Argon2 run could not end in CORRUPT: the check happens before deriving.
        await rejectsCode(v.unlockWithPassword(pw()), 'CORRUPT', message);
        await rejectsCode(v.verifyPassword(pw()), 'CORRUPT', message);
        await rejectsCode(v.changePassword(pw(), pw('a brand new passphrase')), 'CORRUPT', message);
        await rejectsCode(v.setKeychainUnlock(true, pw()), 'CORRUPT', message);
        throwsCode(() => v.kdfParams, 'CORRUPT', message);
        assert.equal(v.state, 'locked');
      } finally {
        v.close();
      }
    }
  });

  test('crafted kdf text, salt or wrapped key → CORRUPT, never WRONG_PASSWORD or a crash', async () => {
    const cases: [string, (db: Db) => void, RegExp][] = [
      ['kdf not JSON', (db) => db.prepare("UPDATE vault SET kdf = '{not json'").run(), /kdf parameters are not valid JSON/],
      [
        'kdf algorithm',
        (db) => db.prepare('UPDATE vault SET kdf = ?').run(JSON.stringify({ ...KDF, algorithm: 'argon2i' })),
        /not argon2id/,
      ],
      [
        'kdf below minimum',
        (db) => db.prepare('UPDATE vault SET kdf = ?').run(JSON.stringify({ ...KDF, memoryKiB: 8 })),
        /below the minimum/,
      ],
      ['kdf null', (db) => db.prepare("UPDATE vault SET kdf = 'null'").run(), /missing/],
      ['salt length', (db) => db.prepare("UPDATE vault SET salt = x'0102'").run(), /salt has the wrong length/],
      [
        'wrapped key truncated',
        (db) => db.prepare('UPDATE vault SET wrapped_key_pw = substr(wrapped_key_pw, 1, 40)').run(),
        /wrapped vault key \(password\) has 40 bytes/,
      ],
    ];
    for (const [what, tamper, message] of cases) {
      const s = await initVault();
      s.vault.close();
      withDb(s.dataDir, tamper);
      const v = s.reopen();
      try {
        await rejectsCode(v.unlockWithPassword(pw()), 'CORRUPT', message);
        assert.equal(v.state, 'locked', what);
      } finally {
        v.close();
      }
    }
  });
});

describe('files on disk', () => {
  test('modes: data dir 0700, vault.db, -wal and -shm 0600 (even with umask 0)', async () => {
    const old = process.umask(0);
    try {
      const s = setup();
      await s.vault.init(pw(), { keychain: false, kdf: KDF });
      new SecretStore(s.vault).set('m', Buffer.from('mode-test'));
      const file = vaultPath(s.dataDir);
      assert.equal(mode(s.dataDir), 0o700);
      assert.equal(mode(file), 0o600);
      // While open in WAL mode the side files exist.
      assert.ok(fs.existsSync(file + '-wal') && fs.existsSync(file + '-shm'), 'WAL side files while open');
      for (const f of fs.readdirSync(s.dataDir)) assert.equal(mode(path.join(s.dataDir, f)), 0o600, f);
      s.vault.close();
      for (const f of fs.readdirSync(s.dataDir)) assert.equal(mode(path.join(s.dataDir, f)), 0o600, f);

      const v = s.reopen();
      await v.unlockWithPassword(pw());
      for (const f of fs.readdirSync(s.dataDir)) assert.equal(mode(path.join(s.dataDir, f)), 0o600, `${f} after reopen`);
      v.close();
    } finally {
      process.umask(old);
    }
  });

  test('an existing data dir with loose permissions is tightened to 0700', async () => {
    const s = setup();
    fs.mkdirSync(s.dataDir, { mode: 0o755 });
    fs.chmodSync(s.dataDir, 0o755);
    await s.vault.init(pw(), { keychain: false, kdf: KDF });
    assert.equal(mode(s.dataDir), 0o700);
    assert.equal(mode(vaultPath(s.dataDir)), 0o600);
    s.vault.close();
  });

  test('no copy of a stored value (or the password) anywhere in the data dir, while open and after close', async () => {
    const value = `AKC-CANARY-${randomBytes(12).toString('hex')}`;
    const value2 = `AKC-CANARY2-${randomBytes(12).toString('hex')}`;
    const s = await initVault();
    const store = new SecretStore(s.vault);
    store.set('canary', Buffer.from(value), { description: 'find me if you can' });
    store.set('canary', Buffer.from(value2));
    store.set('other', Buffer.from(value2 + '-other'));
    // Make sure the searched bytes are really on disk (WAL) and searchable: the metadata is.
    const wal = fs.readFileSync(vaultPath(s.dataDir) + '-wal');
    assert.notEqual(wal.indexOf(Buffer.from('find me if you can')), -1, 'sanity: plaintext metadata is visible to the search');

    const searchedOpen = assertNotOnDisk(s.dataDir, value, 'the value (open)');
    assertNotOnDisk(s.dataDir, value2, 'the second value (open)');
    assertNotOnDisk(s.dataDir, PASSWORD, 'the master password (open)');
    assert.ok(searchedOpen.includes('vault.db-wal') && searchedOpen.includes('vault.db-shm'), `searched ${searchedOpen.join(', ')}`);

    store.remove('other');
    s.vault.lock();
    assertNotOnDisk(s.dataDir, value2, 'the second value (locked)');
    s.vault.close();
    assertNotOnDisk(s.dataDir, value, 'the value (closed)');
    assertNotOnDisk(s.dataDir, value2, 'the second value (closed)');
    assertNotOnDisk(s.dataDir, PASSWORD, 'the master password (closed)');

    // Still retrievable: the search did not pass because the value was lost.
    const v = s.reopen();
    try {
      await v.unlockWithPassword(pw());
      assert.equal(new SecretStore(v).reveal('canary', 1).value.toString(), value);
      assert.equal(new SecretStore(v).reveal('canary').value.toString(), value2);
    } finally {
      v.close();
    }
  });
});
