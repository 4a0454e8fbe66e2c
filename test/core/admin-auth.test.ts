/**
 * Admin proofs (issue 16) below the socket: the crypto in core/crypto/admin-auth.ts, the
 * admin key the vault stores and keeps after locking, the nonce store and the attempt
 * limiter. Real vault.db files and real Argon2id (weak parameters, selected explicitly).
 * The attacks over a real socket are in test/e2e/admin-auth.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Vault } from '../../src/core/vault/vault.js';
import { NapiKeychain } from '../../src/core/keychain/napi-keychain.js';
import { DANGEROUS_TEST_WEAK_KDF, DEFAULT_KDF, deriveKek } from '../../src/core/crypto/kdf.js';
import {
  ADMIN_KEY_BYTES,
  adminProof,
  canonicalJson,
  deriveAdminKey,
  NONCE_BYTES,
  openKekFromTransport,
  sealKekForTransport,
  verifyAdminProof,
} from '../../src/core/crypto/admin-auth.js';
import { ChallengeStore } from '../../src/core/server/admin-challenges.js';
import { AttemptLimiter, COOL_DOWN_MS, MAX_FAILURES } from '../../src/core/server/admin-attempts.js';
import { checkChallengeKdf } from '../../src/cli/admin-proof.js';
import { CHALLENGE_TTL_MS } from '../../src/shared/admin-protocol.js';
import { isAkcError } from '../../src/shared/errors.js';
import { keyringSkip, PASSWORD, tempDir } from '../helpers/env.js';
import { noKeychain } from '../helpers/keychain.js';

const KDF = DANGEROUS_TEST_WEAK_KDF;
const pw = (s: string = PASSWORD): Buffer => Buffer.from(s, 'utf8');

async function newVault(): Promise<{ vault: Vault; dataDir: string }> {
  const dataDir = path.join(tempDir(), 'data');
  const vault = Vault.open({ dataDir, keychain: noKeychain });
  await vault.init(pw(), { keychain: false, kdf: KDF });
  return { vault, dataDir };
}

/** What the CLI derives from the password and the vault's salt. */
async function cliAdminKey(vault: Vault, password = PASSWORD): Promise<Buffer> {
  const kek = await deriveKek(pw(password), vault.kdfSalt, vault.kdfParams);
  try {
    return deriveAdminKey(kek);
  } finally {
    kek.fill(0);
  }
}

describe('admin proof crypto', () => {
  const a = randomBytes(ADMIN_KEY_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const params = { approvalId: 'a_1', allow: true, scope: 'once', nonce: nonce.toString('hex') };

  test('a proof verifies for exactly its nonce, method, params and key', () => {
    const proof = adminProof(a, nonce, 'approval.decide', params);
    assert.equal(verifyAdminProof(a, nonce, 'approval.decide', params, proof), true);
    assert.equal(verifyAdminProof(a, nonce, 'approval.decide', { ...params, approvalId: 'a_2' }, proof), false, 'another approval');
    assert.equal(verifyAdminProof(a, nonce, 'approval.decide', { ...params, scope: 'always' }, proof), false, 'another scope');
    assert.equal(verifyAdminProof(a, nonce, 'host.unlock', params, proof), false, 'another method');
    assert.equal(verifyAdminProof(a, randomBytes(NONCE_BYTES), 'approval.decide', params, proof), false, 'another nonce');
    assert.equal(verifyAdminProof(randomBytes(ADMIN_KEY_BYTES), nonce, 'approval.decide', params, proof), false, 'another key');
    assert.equal(verifyAdminProof(a, nonce, 'approval.decide', params, proof.subarray(0, 31)), false, 'truncated');
  });

  test('the proof field itself is not covered, key order does not matter, extra fields do', () => {
    const proof = adminProof(a, nonce, 'approval.decide', params);
    const reordered = { scope: 'once', nonce: params.nonce, allow: true, approvalId: 'a_1', proof: proof.toString('hex') };
    assert.equal(verifyAdminProof(a, nonce, 'approval.decide', reordered, proof), true);
    assert.equal(verifyAdminProof(a, nonce, 'approval.decide', { ...params, block: true }, proof), false);
    assert.equal(canonicalJson({ b: [1, { d: null, c: 'x' }], a: true }), '{"a":true,"b":[1,{"c":"x","d":null}]}');
    assert.throws(
      () => canonicalJson({ x: Number.NaN }),
      (e) => isAkcError(e, 'INVALID_ARGUMENT'),
    );
  });

  test('the transported KEK opens only with the same admin key, nonce and vault', () => {
    const kek = randomBytes(32);
    const sealed = sealKekForTransport(a, nonce, 'vault-1', kek);
    assert.ok(!sealed.includes(kek), 'sealed, not copied');
    assert.deepEqual(openKekFromTransport(a, nonce, 'vault-1', sealed), kek);
    assert.throws(
      () => openKekFromTransport(randomBytes(ADMIN_KEY_BYTES), nonce, 'vault-1', sealed),
      (e) => isAkcError(e, 'CORRUPT'),
    );
    assert.throws(
      () => openKekFromTransport(a, randomBytes(NONCE_BYTES), 'vault-1', sealed),
      (e) => isAkcError(e, 'CORRUPT'),
    );
    assert.throws(
      () => openKekFromTransport(a, nonce, 'vault-2', sealed),
      (e) => isAkcError(e, 'CORRUPT'),
    );
  });

  test('the CLI refuses challenge KDF parameters below the defaults unless the DANGEROUS test knob is set for a temp data dir', () => {
    const weak = { m: KDF.memoryKiB, t: KDF.timeCost, p: KDF.parallelism };
    const testDir = path.join(tempDir(), 'home');
    const knob = { AKC_DANGEROUS_TEST_WEAK_KDF: '1' };
    assert.throws(
      () => checkChallengeKdf(weak, testDir, {}),
      (e) => isAkcError(e, 'DENIED') && /weaker than the defaults/.test(e.message),
    );
    assert.throws(
      () => checkChallengeKdf({ ...weak, m: DEFAULT_KDF.memoryKiB }, testDir, {}),
      (e) => isAkcError(e, 'DENIED'),
    );
    assert.equal(checkChallengeKdf(weak, testDir, knob).memoryKiB, KDF.memoryKiB);
    // The knob alone is not enough: a CLI whose vault lives outside the temp dir (a real
    // one) never accepts the weak parameters from a host.
    for (const realDir of [path.join(os.homedir(), '.local/share/agent-keychain'), '/var/lib/agent-keychain', os.tmpdir()]) {
      assert.throws(
        () => checkChallengeKdf(weak, realDir, knob),
        (e) => isAkcError(e, 'DENIED') && /weaker than the defaults/.test(e.message),
        realDir,
      );
    }
    const defaults = { m: DEFAULT_KDF.memoryKiB, t: DEFAULT_KDF.timeCost, p: DEFAULT_KDF.parallelism };
    assert.equal(checkChallengeKdf(defaults, testDir, {}).timeCost, DEFAULT_KDF.timeCost);
    assert.throws(
      () => checkChallengeKdf({ ...defaults, m: 1 << 30 }, testDir, knob),
      (e) => isAkcError(e, 'DENIED'),
    );
  });
});

describe('the vault’s admin key', () => {
  test('init stores it sealed; a fresh process learns it at unlock and keeps it after locking', async () => {
    const { vault, dataDir } = await newVault();
    const expected = await cliAdminKey(vault);
    assert.deepEqual(vault.adminKey, expected);
    vault.close();
    const db = new Database(path.join(dataDir, 'vault.db'), { readonly: true });
    const row = db.prepare("SELECT value FROM settings WHERE key = 'vault.admin_key'").get() as { value: string };
    db.close();
    assert.ok(!Buffer.from(row.value, 'base64').includes(expected), 'stored sealed, not in the clear');

    const host = Vault.open({ dataDir, keychain: noKeychain });
    assert.equal(host.adminKey, null, 'never unlocked in this process');
    await host.unlockWithPassword(pw());
    host.lock('test');
    assert.equal(host.state, 'locked');
    assert.deepEqual(host.adminKey, expected, 'kept after locking');
    host.close();
    assert.equal(host.adminKey, null, 'zeroed at close');
  });

  test('a legacy vault without it gets it at the next password unlock', async () => {
    const { vault, dataDir } = await newVault();
    vault.close();
    const db = new Database(path.join(dataDir, 'vault.db'));
    db.prepare("DELETE FROM settings WHERE key = 'vault.admin_key'").run();
    db.close();
    const v = Vault.open({ dataDir, keychain: noKeychain });
    await v.unlockWithPassword(pw());
    const expected = await cliAdminKey(v);
    assert.deepEqual(v.adminKey, expected);
    v.close();
    const check = new Database(path.join(dataDir, 'vault.db'), { readonly: true });
    assert.ok(check.prepare("SELECT 1 FROM settings WHERE key = 'vault.admin_key'").get(), 'written back');
    check.close();
  });

  test('a password change replaces it, and restoring the old sealed row opens nothing', { skip: keyringSkip() }, async () => {
    const dataDir = path.join(tempDir(), 'data');
    const keychain = new NapiKeychain(`akc-test-admin-auth-${randomUUID()}`);
    const vault = Vault.open({ dataDir, keychain });
    await vault.init(pw(), { keychain: true, kdf: KDF });
    const id = vault.id;
    try {
      const dbFile = path.join(dataDir, 'vault.db');
      const readRow = (): string => {
        const db = new Database(dbFile, { readonly: true });
        try {
          return (db.prepare("SELECT value FROM settings WHERE key = 'vault.admin_key'").get() as { value: string }).value;
        } finally {
          db.close();
        }
      };
      const oldSealed = readRow();
      const oldKey = await cliAdminKey(vault);
      await vault.changePassword(pw(), pw('a new master password'));
      const newKey = await cliAdminKey(vault, 'a new master password');
      assert.deepEqual(vault.adminKey, newKey, 'this process follows the change');
      assert.notDeepEqual(newKey, oldKey);
      assert.notEqual(readRow(), oldSealed, 'stored anew');
      vault.close();

      // Someone who knew the old password rolls that one row back, hoping a keychain
      // unlock (no password, so nothing to re-derive A from) picks up the old key.
      const db = new Database(dbFile);
      db.prepare("UPDATE settings SET value = ? WHERE key = 'vault.admin_key'").run(oldSealed);
      db.close();
      const host = Vault.open({ dataDir, keychain });
      await host.unlockWithKeychain();
      assert.equal(host.adminKey, null, 'the old row is bound to the old salt and does not open');
      host.close();
    } finally {
      await keychain.delete(id).catch(() => false);
    }
  });

  test('a keychain unlock learns the stored key without the password', { skip: keyringSkip() }, async () => {
    const dataDir = path.join(tempDir(), 'data');
    const keychain = new NapiKeychain(`akc-test-admin-auth-${randomUUID()}`);
    const vault = Vault.open({ dataDir, keychain });
    await vault.init(pw(), { keychain: true, kdf: KDF });
    const id = vault.id;
    try {
      const expected = await cliAdminKey(vault);
      vault.close();
      const host = Vault.open({ dataDir, keychain });
      await host.unlockWithKeychain();
      host.lock('test');
      assert.deepEqual(host.adminKey, expected);
      host.close();
    } finally {
      await keychain.delete(id).catch(() => false);
    }
  });

  test('unlockWithKek refuses a wrong KEK as a wrong password', async () => {
    const { vault } = await newVault();
    vault.lock('test');
    assert.throws(
      () => vault.unlockWithKek(randomBytes(32)),
      (e) => isAkcError(e, 'WRONG_PASSWORD'),
    );
    assert.equal(vault.state, 'locked');
    vault.close();
  });
});

describe('challenge nonces', () => {
  test('single-use, per connection, and they expire', () => {
    const store = new ChallengeStore();
    const conn1 = {};
    const conn2 = {};
    const a = store.issue(conn1, 1000).nonce.toString('hex');
    assert.equal(store.consume(conn2, a, 1001), false, 'another connection');
    assert.equal(store.consume(conn1, a, 1001), true);
    assert.equal(store.consume(conn1, a, 1002), false, 'used');
    const b = store.issue(conn1, 1000).nonce.toString('hex');
    assert.equal(store.consume(conn1, b, 1000 + CHALLENGE_TTL_MS), false, 'expired');
    assert.equal(store.consume(conn1, 'ab'.repeat(32), 1000), false, 'never issued');
  });
});

describe('failed proof attempts', () => {
  test(`${MAX_FAILURES} failures put a requester in a cool-down on every connection; success clears it`, () => {
    const limiter = new AttemptLimiter();
    const limited = (conn: object, who: string, now: number): boolean => {
      try {
        limiter.check(conn, who, now);
        return false;
      } catch (e) {
        assert.ok(isAkcError(e, 'RATE_LIMITED'));
        return true;
      }
    };
    for (let i = 0; i < MAX_FAILURES - 1; i++) {
      assert.equal(limited({}, 'req', 0), false);
      assert.equal(limiter.fail({}, 'req', 0), false);
    }
    assert.equal(limiter.fail({}, 'req', 0), true, 'the fifth failure starts a cool-down');
    assert.equal(limited({}, 'req', 1), true, 'a new connection does not help');
    assert.equal(limited({}, 'other', 1), false, 'another requester is not affected');
    assert.equal(limited({}, 'req', COOL_DOWN_MS + 1), false, 'over after the cool-down');
    for (let i = 0; i < MAX_FAILURES; i++) limiter.fail({}, 'req', COOL_DOWN_MS + 1);
    assert.equal(limited({}, 'req', 2 * COOL_DOWN_MS + 1), true, 'the second cool-down is twice as long');

    const conn = {};
    for (let i = 0; i < MAX_FAILURES; i++) limiter.fail(conn, `fresh-${i}`, 0);
    assert.equal(limited(conn, 'fresh-new', 1), true, 'per connection too, whatever requester it claims to be');
    limiter.succeed(conn, 'fresh-new');
    assert.equal(limited(conn, 'fresh-new', 1), false);
  });
});
