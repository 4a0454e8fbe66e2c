/**
 * Core crypto against real parts: node:crypto AES-256-GCM, real Argon2id, and golden
 * vectors that pin the on-disk storage format (test/fixtures/storage-v1).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  associatedData,
  DANGEROUS_sealWithNonceForTestVectors,
  FORMAT_VERSION,
  MIN_BLOB_BYTES,
  NONCE_BYTES,
  open,
  seal,
  TAG_BYTES,
} from '../../src/core/crypto/aead.js';
import {
  checkKdfParams,
  DANGEROUS_TEST_WEAK_KDF,
  dangerousTestKdfAllowed,
  DEFAULT_KDF,
  deriveKek,
  isWeakerThanDefault,
  KDF_LIMITS,
  kdfParamsForNewVault,
  SALT_BYTES,
} from '../../src/core/crypto/kdf.js';
import { constantTimeEqual, newKey, wipe } from '../../src/core/crypto/keys.js';
import { deriveSubkey, hmac, secretAad, unwrapVaultKey, wrapVaultKey } from '../../src/core/crypto/vault-keys.js';
import { checkpointMessage, entryHash, GENESIS_HASH, type AuditRow } from '../../src/core/audit/chain.js';
import { isAkcError, type AkcError, type ErrorCode } from '../../src/shared/errors.js';
import { ROOT, tempDir } from '../helpers/env.js';
import { generateStorageVectors, readStorageVector, STORAGE_VECTORS_DIR } from '../helpers/storage-vectors.js';

const h = (s: string): Buffer => Buffer.from(s, 'hex');

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isAkcError(err), `expected an AkcError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

async function rejectsCode(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isAkcError(err), `expected an AkcError, got ${String(err)}`);
    assert.equal(err.code, code, `code of: ${err.message}`);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** The associated data encoding written out by hand, independently of the product code. */
function lengthPrefixed(parts: string[]): Buffer {
  return Buffer.concat(
    parts.flatMap((p) => {
      const bytes = Buffer.from(p, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(bytes.length);
      return [len, bytes];
    }),
  );
}

describe('AES-256-GCM blobs (aead)', () => {
  const key = newKey();
  const aad = associatedData('test', 'row', 1);

  test('seal/open round trip for empty, small and large plaintexts', () => {
    for (const size of [0, 1, 31, 1000, 64 * 1024]) {
      const plaintext = randomBytes(size);
      const blob = seal(key, plaintext, aad);
      assert.equal(blob.length, 1 + NONCE_BYTES + size + TAG_BYTES);
      assert.equal(blob[0], FORMAT_VERSION);
      assert.deepEqual(open(key, blob, aad), plaintext);
    }
  });

  test('every seal uses a fresh nonce', () => {
    const plaintext = Buffer.from('same plaintext');
    const nonces = new Set<string>();
    for (let i = 0; i < 200; i++)
      nonces.add(
        seal(key, plaintext, aad)
          .subarray(1, 1 + NONCE_BYTES)
          .toString('hex'),
      );
    assert.equal(nonces.size, 200);
  });

  test('a flipped bit in any byte of the blob → CORRUPT', () => {
    const blob = seal(key, Buffer.from('tamper with me, anywhere'), aad);
    for (let i = 0; i < blob.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(blob);
        bad[i]! ^= bit;
        throwsCode(() => open(key, bad, aad), 'CORRUPT', i === 0 ? /unknown blob format version/ : /authentication failed/);
      }
    }
  });

  test('a truncated blob of every length → CORRUPT, never a crash', () => {
    const blob = seal(key, Buffer.from('truncate me'), aad);
    for (let len = 0; len < blob.length; len++) {
      throwsCode(() => open(key, blob.subarray(0, len), aad), 'CORRUPT', len < MIN_BLOB_BYTES ? /truncated/ : /authentication failed/);
    }
  });

  test('appended bytes → CORRUPT', () => {
    const blob = seal(key, Buffer.from('x'), aad);
    throwsCode(() => open(key, Buffer.concat([blob, Buffer.of(0)]), aad), 'CORRUPT');
  });

  test('wrong associated data or wrong key → CORRUPT', () => {
    const blob = seal(key, Buffer.from('bound to its row'), aad);
    throwsCode(() => open(key, blob, associatedData('test', 'row', 2)), 'CORRUPT', /authentication failed/);
    throwsCode(() => open(key, blob, associatedData('test', 'other', 1)), 'CORRUPT');
    throwsCode(() => open(key, blob, Buffer.alloc(0)), 'CORRUPT');
    throwsCode(() => open(newKey(), blob, aad), 'CORRUPT', /authentication failed/);
  });

  test('an unknown format version byte → CORRUPT naming the version', () => {
    const blob = seal(key, Buffer.from('v1'), aad);
    for (const version of [0x00, 0x02, 0xff]) {
      const bad = Buffer.from(blob);
      bad[0] = version;
      throwsCode(() => open(key, bad, aad), 'CORRUPT', new RegExp(`unknown blob format version ${version}\\b`));
    }
  });

  test('keys of the wrong length are refused', () => {
    throwsCode(() => seal(Buffer.alloc(16), Buffer.from('x'), aad), 'INTERNAL');
    throwsCode(() => open(Buffer.alloc(33), seal(key, Buffer.from('x'), aad), aad), 'INTERNAL');
    throwsCode(() => DANGEROUS_sealWithNonceForTestVectors(key, Buffer.alloc(8), Buffer.from('x'), aad), 'INTERNAL', /nonce/);
  });

  test('error messages never contain key or plaintext material', () => {
    const plaintext = Buffer.from('PLAINTEXT-CANARY-7f3a');
    const blob = seal(key, plaintext, aad);
    const bad = Buffer.from(blob);
    bad[bad.length - 1]! ^= 1;
    try {
      open(key, bad, aad);
      assert.fail('expected CORRUPT');
    } catch (err) {
      const text = `${(err as Error).message} ${(err as AkcError).hint ?? ''}`;
      assert.doesNotMatch(text, /PLAINTEXT-CANARY/);
      assert.ok(!text.includes(key.toString('hex')) && !text.includes(key.toString('base64')));
    }
  });
});

describe('associated data encoding', () => {
  test('matches the length-prefixed encoding byte for byte', () => {
    assert.deepEqual(associatedData('label', 'a', 'bc', 7), lengthPrefixed(['label', 'a', 'bc', '7']));
    assert.deepEqual(associatedData('l'), h('000000016c'));
    assert.deepEqual(associatedData('l', ''), h('000000016c00000000'));
  });

  test('different part lists never collide', () => {
    const lists: (string | number)[][] = [
      ['l', 'ab', 'c'],
      ['l', 'a', 'bc'],
      ['l', 'abc'],
      ['l', 'abc', ''],
      ['l', '', 'abc'],
      ['la', 'bc'],
      ['l', 'a', 'b', 'c'],
      ['l', 'a\u0000bc'],
      ['l', '\u0000\u0000\u0000\u0001a'],
      ['l', 12, 3],
      ['l', 1, 23],
      ['l', 123],
    ];
    const seen = new Map<string, string>();
    for (const [label, ...parts] of lists) {
      const bytes = associatedData(label as string, ...parts).toString('hex');
      assert.ok(!seen.has(bytes), `${JSON.stringify([label, ...parts])} collides with ${seen.get(bytes)}`);
      seen.set(bytes, JSON.stringify([label, ...parts]));
    }
  });

  test('secretAad binds vault id, secret id and version', () => {
    const base = secretAad('vault', 'secret', 1).toString('hex');
    assert.notEqual(secretAad('vault2', 'secret', 1).toString('hex'), base);
    assert.notEqual(secretAad('vault', 'secret2', 1).toString('hex'), base);
    assert.notEqual(secretAad('vault', 'secret', 2).toString('hex'), base);
    // Moving text between the ids cannot produce the same bytes.
    assert.notEqual(secretAad('vaults', 'ecret', 1).toString('hex'), base);
  });
});

describe('KDF parameters (checkKdfParams)', () => {
  test('the defaults and the test parameters are accepted and normalised', () => {
    assert.deepEqual(checkKdfParams(DEFAULT_KDF), DEFAULT_KDF);
    assert.deepEqual(checkKdfParams(DANGEROUS_TEST_WEAK_KDF), DANGEROUS_TEST_WEAK_KDF);
    assert.deepEqual(checkKdfParams({ ...DEFAULT_KDF, extra: 'ignored' }), DEFAULT_KDF);
    assert.deepEqual(DEFAULT_KDF, { algorithm: 'argon2id', memoryKiB: 65536, timeCost: 3, parallelism: 4 });
  });

  test('the exact limits are accepted', () => {
    for (const field of ['memoryKiB', 'timeCost', 'parallelism'] as const) {
      checkKdfParams({ ...DEFAULT_KDF, [field]: KDF_LIMITS[field].max });
      checkKdfParams({ ...DEFAULT_KDF, [field]: KDF_LIMITS[field].min });
    }
  });

  test('above the maximum → CORRUPT naming the field, "refusing to derive"', () => {
    for (const field of ['memoryKiB', 'timeCost', 'parallelism'] as const) {
      for (const v of [KDF_LIMITS[field].max + 1, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
        throwsCode(
          () => checkKdfParams({ ...DEFAULT_KDF, [field]: v }),
          'CORRUPT',
          new RegExp(`${field} .*above the maximum.*refusing to derive`),
        );
      }
    }
  });

  test('below the minimum → CORRUPT naming the field', () => {
    for (const field of ['memoryKiB', 'timeCost', 'parallelism'] as const) {
      for (const v of [KDF_LIMITS[field].min - 1, 0, -1]) {
        throwsCode(() => checkKdfParams({ ...DEFAULT_KDF, [field]: v }), 'CORRUPT', new RegExp(`${field} .*below the minimum`));
      }
    }
  });

  test('non-integers, strings and missing fields → CORRUPT', () => {
    for (const field of ['memoryKiB', 'timeCost', 'parallelism'] as const) {
      for (const v of [1.5, 65536.25, NaN, Infinity, -Infinity, '65536', null, undefined, [65536], true]) {
        throwsCode(() => checkKdfParams({ ...DEFAULT_KDF, [field]: v }), 'CORRUPT', new RegExp(`${field} is not an integer`));
      }
    }
  });

  test('a wrong or missing algorithm → CORRUPT', () => {
    for (const algorithm of ['argon2i', 'argon2d', 'scrypt', 'ARGON2ID', '', undefined, 1]) {
      throwsCode(() => checkKdfParams({ ...DEFAULT_KDF, algorithm }), 'CORRUPT', /algorithm is not argon2id/);
    }
  });

  test('not an object → CORRUPT', () => {
    for (const v of [null, undefined, 42, 'argon2id']) throwsCode(() => checkKdfParams(v), 'CORRUPT', /missing/);
  });
});

describe('the DANGEROUS test KDF switch (dangerousTestKdfAllowed)', () => {
  const knob = { AKC_DANGEROUS_TEST_WEAK_KDF: '1' };
  /** Runs `fn` with os.tmpdir() returning `dir` (it reads TMPDIR at each call). */
  function withTmpdir<T>(dir: string, fn: () => T): T {
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      assert.equal(os.tmpdir(), dir);
      return fn();
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  }

  test('weak parameters only with the switch and a data dir inside the temp directory', () => {
    const base = tempDir();
    const tmp = path.join(base, 'tmp');
    fs.mkdirSync(tmp);
    withTmpdir(tmp, () => {
      const inTmp = path.join(tmp, 'not-yet', 'created'); // init creates the data dir later
      assert.deepEqual(kdfParamsForNewVault(inTmp, knob), DANGEROUS_TEST_WEAK_KDF);
      assert.equal(dangerousTestKdfAllowed(path.join(tmp, 'home'), knob), true);
      for (const env of [{}, { AKC_DANGEROUS_TEST_WEAK_KDF: '0' }, { AKC_DANGEROUS_TEST_WEAK_KDF: 'yes' }]) {
        assert.deepEqual(kdfParamsForNewVault(inTmp, env), DEFAULT_KDF, JSON.stringify(env));
      }
      const outside = [
        path.join(base, 'home'),
        tmp,
        path.join(tmp, '..', 'elsewhere'),
        path.join(os.homedir(), '.local/share/agent-keychain'),
        '/var/lib/agent-keychain',
      ];
      for (const dir of outside) assert.deepEqual(kdfParamsForNewVault(dir, knob), DEFAULT_KDF, dir);
    });
  });

  test('a symlink in the temp directory that leads out of it does not count', () => {
    const base = tempDir();
    const tmp = path.join(base, 'tmp');
    fs.mkdirSync(tmp);
    fs.mkdirSync(path.join(base, 'real'));
    fs.symlinkSync(path.join(base, 'real'), path.join(tmp, 'link'));
    withTmpdir(tmp, () => {
      assert.deepEqual(kdfParamsForNewVault(path.join(tmp, 'link', 'home'), knob), DEFAULT_KDF);
      assert.deepEqual(kdfParamsForNewVault(path.join(tmp, 'plain', 'home'), knob), DANGEROUS_TEST_WEAK_KDF);
    });
  });

  test('a temp directory that is the filesystem root counts for nothing', () => {
    withTmpdir('/', () => assert.deepEqual(kdfParamsForNewVault('/home/someone/.local/share/agent-keychain', knob), DEFAULT_KDF));
  });

  test('weaker than the defaults means less memory or fewer passes', () => {
    assert.equal(isWeakerThanDefault(DEFAULT_KDF), false);
    assert.equal(isWeakerThanDefault({ ...DEFAULT_KDF, parallelism: 1 }), false);
    assert.equal(isWeakerThanDefault({ ...DEFAULT_KDF, memoryKiB: 65535 }), true);
    assert.equal(isWeakerThanDefault({ ...DEFAULT_KDF, timeCost: 2 }), true);
    assert.equal(isWeakerThanDefault(DANGEROUS_TEST_WEAK_KDF), true);
  });
});

describe('KEK derivation (real Argon2id)', () => {
  const password = Buffer.from('correct horse battery');

  test('deterministic for the same inputs, different for another salt or password', async () => {
    const salt = randomBytes(SALT_BYTES);
    const a = await deriveKek(password, salt, DANGEROUS_TEST_WEAK_KDF);
    const b = await deriveKek(password, salt, DANGEROUS_TEST_WEAK_KDF);
    assert.equal(a.length, 32);
    assert.deepEqual(a, b);
    assert.notDeepEqual(await deriveKek(password, randomBytes(SALT_BYTES), DANGEROUS_TEST_WEAK_KDF), a);
    assert.notDeepEqual(await deriveKek(Buffer.from('correct horse batterY'), salt, DANGEROUS_TEST_WEAK_KDF), a);
    assert.notDeepEqual(await deriveKek(password, salt, { ...DANGEROUS_TEST_WEAK_KDF, timeCost: 2 }), a);
  });

  test('a salt of the wrong length → CORRUPT', async () => {
    for (const len of [0, 8, 15, 17, 32]) {
      await rejectsCode(deriveKek(password, Buffer.alloc(len, 1), DANGEROUS_TEST_WEAK_KDF), 'CORRUPT', /salt has the wrong length/);
    }
  });

  test('parameters above the maximum are refused before deriving', async () => {
    // 4 TiB of memory: if Argon2 were called this would fail (or swap), not return CORRUPT.
    await rejectsCode(
      deriveKek(password, randomBytes(SALT_BYTES), { ...DEFAULT_KDF, memoryKiB: 2 ** 32 }),
      'CORRUPT',
      /memoryKiB .*above the maximum/,
    );
    await rejectsCode(deriveKek(password, randomBytes(SALT_BYTES), { ...DEFAULT_KDF, timeCost: 1_000_000 }), 'CORRUPT', /timeCost/);
  });
});

describe('vault key wrapping and subkeys', () => {
  const kek = newKey();
  const dek = newKey();

  test('wrap/unwrap round trip; slot and vault are bound', () => {
    const wrapped = wrapVaultKey(kek, dek, 'vault-a', 'password');
    assert.equal(wrapped.length, 1 + 12 + 32 + 16);
    assert.deepEqual(unwrapVaultKey(kek, wrapped, 'vault-a', 'password'), dek);
    throwsCode(() => unwrapVaultKey(kek, wrapped, 'vault-a', 'keychain'), 'CORRUPT', /authentication failed/);
    throwsCode(() => unwrapVaultKey(kek, wrapped, 'vault-b', 'password'), 'CORRUPT', /authentication failed/);
    throwsCode(() => unwrapVaultKey(newKey(), wrapped, 'vault-a', 'password'), 'CORRUPT', /authentication failed/);
  });

  test('a wrapped key of the wrong length → CORRUPT naming the slot', () => {
    const wrapped = wrapVaultKey(kek, dek, 'v', 'keychain');
    throwsCode(
      () => unwrapVaultKey(kek, wrapped.subarray(0, 60), 'v', 'keychain'),
      'CORRUPT',
      /wrapped vault key \(keychain\) has 60 bytes, expected 61/,
    );
    throwsCode(() => unwrapVaultKey(kek, Buffer.concat([wrapped, Buffer.of(0)]), 'v', 'keychain'), 'CORRUPT', /62 bytes/);
  });

  test('the audit subkey is deterministic, per vault, and not the vault key', () => {
    const a = deriveSubkey(dek, 'vault-a', 'audit-mac');
    assert.equal(a.length, 32);
    assert.deepEqual(deriveSubkey(dek, 'vault-a', 'audit-mac'), a);
    assert.notDeepEqual(deriveSubkey(dek, 'vault-b', 'audit-mac'), a);
    assert.notDeepEqual(a, dek);
  });
});

describe('key buffers', () => {
  test('newKey owns its memory, so wiping it touches nothing else', () => {
    const a = newKey();
    const b = newKey();
    assert.equal(a.length, 32);
    assert.equal(a.byteOffset, 0);
    assert.equal(a.buffer.byteLength, 32);
    assert.notEqual(a.buffer, b.buffer);
    const bCopy = Buffer.from(b);
    wipe(a);
    assert.ok(a.every((x) => x === 0));
    assert.deepEqual(b, bCopy);
    wipe(null);
    wipe(undefined);
  });

  test('constantTimeEqual', () => {
    assert.equal(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc')), true);
    assert.equal(constantTimeEqual(Buffer.from('abc'), Buffer.from('abd')), false);
    assert.equal(constantTimeEqual(Buffer.from('abc'), Buffer.from('abcd')), false);
  });
});

describe('golden vectors (test/fixtures/storage-v1)', () => {
  interface SecretBlobVector {
    key: string;
    vaultId: string;
    secretId: string;
    version: number;
    aad: string;
    nonce: string;
    plaintext: string;
    plaintextHex: string;
    blob: string;
  }
  interface WrappedKeyVector {
    vaultId: string;
    password: string;
    salt: string;
    kdf: unknown;
    kek: string;
    vaultKey: string;
    password_slot: { aad: string; nonce: string; wrapped: string };
    keychain_slot: { unlockKeyBase64: string; aad: string; nonce: string; wrapped: string };
    auditMacKey: string;
  }
  interface AadVector {
    cases: { fn: 'secretAad' | 'associatedData'; args: (string | number)[]; parts: string[]; hex: string }[];
  }
  interface AuditVector {
    genesis: string;
    entries: { row: Omit<AuditRow, 'prev_hash' | 'hash'>; prevHash: string; hash: string }[];
    checkpoint: { seq: number; macKey: string; message: string; mac: string };
  }

  /** Splits a blob by the documented layout, independently of open(). */
  function layout(blob: Buffer): { version: number; nonce: Buffer; ciphertext: Buffer; tag: Buffer } {
    return {
      version: blob[0]!,
      nonce: blob.subarray(1, 13),
      ciphertext: blob.subarray(13, blob.length - 16),
      tag: blob.subarray(blob.length - 16),
    };
  }

  function rawGcmOpen(key: Buffer, blob: Buffer, aad: Buffer): Buffer {
    const { nonce, ciphertext, tag } = layout(blob);
    const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
    d.setAAD(aad);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(ciphertext), d.final()]);
  }

  test('secret blob: open() returns the plaintext; layout is 0x01 || nonce(12) || ct || tag(16)', () => {
    const v = readStorageVector<SecretBlobVector>('secret-blob.json');
    const blob = h(v.blob);
    const aad = secretAad(v.vaultId, v.secretId, v.version);
    assert.equal(aad.toString('hex'), v.aad);
    assert.equal(open(h(v.key), blob, aad).toString('utf8'), v.plaintext);
    assert.equal(Buffer.from(v.plaintext, 'utf8').toString('hex'), v.plaintextHex);

    const parts = layout(blob);
    assert.equal(parts.version, 0x01);
    assert.equal(parts.nonce.toString('hex'), v.nonce);
    assert.equal(parts.ciphertext.length, Buffer.from(v.plaintext, 'utf8').length);
    assert.equal(blob.length, 1 + 12 + parts.ciphertext.length + 16);
    // The same bytes open with plain node:crypto by the documented layout.
    assert.equal(rawGcmOpen(h(v.key), blob, h(v.aad)).toString('utf8'), v.plaintext);
    // …and are bound to the row: another version or secret id does not open.
    throwsCode(() => open(h(v.key), blob, secretAad(v.vaultId, v.secretId, v.version + 1)), 'CORRUPT');
  });

  test('wrapped vault key: password → Argon2id KEK → vault key; keychain slot; audit subkey', async () => {
    const v = readStorageVector<WrappedKeyVector>('wrapped-vault-key.json');
    const kdf = checkKdfParams(v.kdf);
    const kek = await deriveKek(Buffer.from(v.password, 'utf8'), h(v.salt), kdf);
    assert.equal(kek.toString('hex'), v.kek);

    assert.equal(associatedData('akc/vault-key/v1', v.vaultId, 'password').toString('hex'), v.password_slot.aad);
    assert.equal(associatedData('akc/vault-key/v1', v.vaultId, 'keychain').toString('hex'), v.keychain_slot.aad);
    assert.deepEqual(lengthPrefixed(['akc/vault-key/v1', v.vaultId, 'password']), h(v.password_slot.aad));

    const wrappedPw = h(v.password_slot.wrapped);
    assert.equal(wrappedPw.length, 61);
    assert.equal(layout(wrappedPw).version, 1);
    assert.equal(layout(wrappedPw).nonce.toString('hex'), v.password_slot.nonce);
    assert.equal(unwrapVaultKey(kek, wrappedPw, v.vaultId, 'password').toString('hex'), v.vaultKey);
    assert.equal(rawGcmOpen(kek, wrappedPw, h(v.password_slot.aad)).toString('hex'), v.vaultKey);

    const unlockKey = Buffer.from(v.keychain_slot.unlockKeyBase64, 'base64');
    const wrappedKc = h(v.keychain_slot.wrapped);
    assert.equal(layout(wrappedKc).nonce.toString('hex'), v.keychain_slot.nonce);
    assert.equal(unwrapVaultKey(unlockKey, wrappedKc, v.vaultId, 'keychain').toString('hex'), v.vaultKey);
    throwsCode(() => unwrapVaultKey(unlockKey, wrappedKc, v.vaultId, 'password'), 'CORRUPT');

    assert.equal(deriveSubkey(h(v.vaultKey), v.vaultId, 'audit-mac').toString('hex'), v.auditMacKey);
    const independent = Buffer.from(hkdfSync('sha256', h(v.vaultKey), Buffer.from(v.vaultId), 'agent-keychain audit-mac v1', 32));
    assert.equal(independent.toString('hex'), v.auditMacKey);
  });

  test('full chain: the stored password opens the stored secret blob', async () => {
    const w = readStorageVector<WrappedKeyVector>('wrapped-vault-key.json');
    const s = readStorageVector<SecretBlobVector>('secret-blob.json');
    assert.equal(s.vaultId, w.vaultId);
    const kek = await deriveKek(Buffer.from(w.password, 'utf8'), h(w.salt), checkKdfParams(w.kdf));
    const dek = unwrapVaultKey(kek, h(w.password_slot.wrapped), w.vaultId, 'password');
    assert.equal(open(dek, h(s.blob), secretAad(s.vaultId, s.secretId, s.version)).toString('utf8'), s.plaintext);
  });

  test('secretAad / associatedData bytes', () => {
    const v = readStorageVector<AadVector>('secret-aad.json');
    assert.ok(v.cases.length >= 3);
    for (const c of v.cases) {
      const bytes =
        c.fn === 'secretAad'
          ? secretAad(c.args[0] as string, c.args[1] as string, c.args[2] as number)
          : associatedData(c.args[0] as string, ...c.args.slice(1));
      assert.equal(bytes.toString('hex'), c.hex, `${c.fn}(${JSON.stringify(c.args)})`);
      assert.equal(lengthPrefixed(c.parts).toString('hex'), c.hex, `hand-encoded ${JSON.stringify(c.parts)}`);
    }
  });

  test('audit chain hashes and checkpoint MAC', () => {
    const v = readStorageVector<AuditVector>('audit-chain.json');
    assert.equal(GENESIS_HASH.toString('hex'), v.genesis);
    let prev: Buffer = GENESIS_HASH;
    for (const e of v.entries) {
      assert.equal(prev.toString('hex'), e.prevHash);
      const hash = entryHash(prev, e.row);
      assert.equal(hash.toString('hex'), e.hash, `entry ${e.row.seq}`);
      // Independently: SHA-256(prev || JSON array in fixed field order).
      const r = e.row;
      const canonical = JSON.stringify([
        r.seq,
        r.ts,
        r.event,
        r.agent,
        r.pid,
        r.exe,
        r.secret,
        r.version,
        r.decision,
        r.purpose,
        r.reason,
        r.detail,
      ]);
      assert.equal(createHash('sha256').update(prev).update(canonical, 'utf8').digest('hex'), e.hash);
      prev = hash;
    }
    const cp = v.checkpoint;
    assert.equal(checkpointMessage(cp.seq, prev).toString('hex'), cp.message);
    assert.equal(hmac(h(cp.macKey), h(cp.message)).toString('hex'), cp.mac);
    assert.equal(createHmac('sha256', h(cp.macKey)).update(h(cp.message)).digest('hex'), cp.mac);
  });

  test('the generator still produces exactly the committed vectors (format unchanged)', async () => {
    const generated = await generateStorageVectors();
    const committed = fs.readdirSync(STORAGE_VECTORS_DIR).filter((f) => f.endsWith('.json'));
    assert.deepEqual(committed.sort(), Object.keys(generated).sort());
    for (const [file, content] of Object.entries(generated)) {
      assert.deepEqual(JSON.parse(JSON.stringify(content)), readStorageVector(file), `${file} differs: the storage format changed`);
    }
  });
});

test('DANGEROUS_sealWithNonceForTestVectors is never used by product code', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(ts|tsx|js|mjs|cjs)$/.test(entry.name) && fs.readFileSync(p, 'utf8').includes('DANGEROUS_sealWithNonceForTestVectors')) {
        offenders.push(path.relative(ROOT, p));
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  // Only its definition.
  assert.deepEqual(offenders, ['src/core/crypto/aead.ts']);
  const aead = fs.readFileSync(path.join(ROOT, 'src/core/crypto/aead.ts'), 'utf8');
  assert.equal(aead.match(/(?<!function )DANGEROUS_sealWithNonceForTestVectors\s*\(/g), null, 'aead.ts defines it but never calls it');
});

test('product code reads the DANGEROUS test KDF switch in one place only', () => {
  const readers: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (
        /\.(ts|tsx|js|mjs|cjs)$/.test(entry.name) &&
        /\.AKC_DANGEROUS_TEST_WEAK_KDF\b|\[\s*['"`]AKC_DANGEROUS_TEST_WEAK_KDF/.test(fs.readFileSync(p, 'utf8'))
      ) {
        readers.push(path.relative(ROOT, p));
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  // dangerousTestKdfAllowed(), which also requires a data dir in the temp directory.
  assert.deepEqual(readers, ['src/core/crypto/kdf.ts']);
});
