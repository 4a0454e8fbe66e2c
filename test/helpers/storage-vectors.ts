/**
 * Generator for the storage-format golden vectors in test/fixtures/storage-v1.
 *
 * Every input is fixed (keys, nonces, salt, ids, timestamps), so the output is the same
 * on every run. test/core/crypto.test.ts checks that the committed files still open with
 * today's code AND that this generator still produces exactly the committed bytes: a
 * change to the blob layout, the AAD encoding, the KDF, the key wrapping or the audit
 * chain breaks every existing vault, so it must come with a new format version and new
 * vectors, never a silent edit.
 *
 * Regenerate (only when deliberately introducing a new format):
 *   node scripts/test.js crypto && node dist/test/helpers/storage-vectors.js --write
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DANGEROUS_sealWithNonceForTestVectors, associatedData } from '../../src/core/crypto/aead.js';
import { deriveKek, type KdfParams } from '../../src/core/crypto/kdf.js';
import { deriveSubkey, hmac, secretAad } from '../../src/core/crypto/vault-keys.js';
import { checkpointMessage, entryHash, GENESIS_HASH, type AuditRow } from '../../src/core/audit/chain.js';
import { ROOT } from './env.js';

export const STORAGE_VECTORS_DIR = path.join(ROOT, 'test/fixtures/storage-v1');

const hex = (b: Buffer): string => b.toString('hex');
/** 0x<start>, 0x<start+1>, … — recognisable, obviously-not-random bytes. */
const counting = (length: number, start: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => (start + i) & 0xff));

export const VECTOR_INPUTS = {
  vaultId: '0b6f2c3e-4a5d-4e7f-8a9b-0c1d2e3f4a5b',
  secretId: '9d8c7b6a-5f4e-4d3c-9b2a-1f0e9d8c7b6a',
  version: 3,
  password: 'golden vector password ✓',
  salt: counting(16, 0x40),
  /** The weakest parameters checkKdfParams accepts, so the vector derives in milliseconds. */
  kdf: { algorithm: 'argon2id', memoryKiB: 8192, timeCost: 1, parallelism: 1 } satisfies KdfParams,
  vaultKey: counting(32, 0x00),
  unlockKey: counting(32, 0x80),
  nonces: {
    secret: counting(12, 0xa0),
    password: counting(12, 0xb0),
    keychain: counting(12, 0xc0),
  },
  plaintext: 'sk-golden-vector-VALUE-0123456789 ✓',
  auditMacKey: counting(32, 0x20),
};

export async function generateStorageVectors(): Promise<Record<string, unknown>> {
  const v = VECTOR_INPUTS;

  const secretAadBytes = secretAad(v.vaultId, v.secretId, v.version);
  const plaintext = Buffer.from(v.plaintext, 'utf8');
  const secretBlob = DANGEROUS_sealWithNonceForTestVectors(v.vaultKey, v.nonces.secret, plaintext, secretAadBytes);

  const kek = await deriveKek(Buffer.from(v.password, 'utf8'), v.salt, v.kdf);
  const pwAad = associatedData('akc/vault-key/v1', v.vaultId, 'password');
  const kcAad = associatedData('akc/vault-key/v1', v.vaultId, 'keychain');
  const wrappedPw = DANGEROUS_sealWithNonceForTestVectors(kek, v.nonces.password, v.vaultKey, pwAad);
  const wrappedKc = DANGEROUS_sealWithNonceForTestVectors(v.unlockKey, v.nonces.keychain, v.vaultKey, kcAad);

  const auditRows: Omit<AuditRow, 'prev_hash' | 'hash'>[] = [
    {
      seq: 1,
      ts: 1_750_000_000_000,
      event: 'vault.init',
      agent: null,
      pid: null,
      exe: null,
      secret: null,
      version: null,
      decision: null,
      purpose: null,
      reason: 'keychain unlock on',
      detail: null,
    },
    {
      seq: 2,
      ts: 1_750_000_000_500,
      event: 'secret.create',
      agent: 'cli',
      pid: 4242,
      exe: '/usr/bin/node',
      secret: 'openai/api-key',
      version: 1,
      decision: 'allow',
      purpose: 'deploy ✓',
      reason: null,
      detail: '{"n":1}',
    },
  ];
  let prev: Buffer = GENESIS_HASH;
  const chain = auditRows.map((row) => {
    const hash = entryHash(prev, row);
    const out = { row, prevHash: hex(prev), hash: hex(hash) };
    prev = hash;
    return out;
  });
  const cpMessage = checkpointMessage(2, prev);

  return {
    'secret-blob.json': {
      description:
        'One secret version as stored in secret_versions.blob: 0x01 || nonce(12) || AES-256-GCM ciphertext || tag(16), AAD = secretAad(vaultId, secretId, version). The key is the vault key of wrapped-vault-key.json.',
      key: hex(v.vaultKey),
      vaultId: v.vaultId,
      secretId: v.secretId,
      version: v.version,
      aad: hex(secretAadBytes),
      nonce: hex(v.nonces.secret),
      plaintext: v.plaintext,
      plaintextHex: hex(plaintext),
      blob: hex(secretBlob),
    },
    'wrapped-vault-key.json': {
      description:
        'The vault row: Argon2id(password, salt, kdf) = KEK; wrapped_key_pw = seal(KEK, vaultKey, AD("akc/vault-key/v1", vaultId, "password")); wrapped_key_kc = seal(unlockKey, vaultKey, AD(…, "keychain")); the audit MAC key is HKDF-SHA256(vaultKey, salt = vaultId, info = "agent-keychain audit-mac v1").',
      vaultId: v.vaultId,
      password: v.password,
      salt: hex(v.salt),
      kdf: v.kdf,
      kek: hex(kek),
      vaultKey: hex(v.vaultKey),
      password_slot: { aad: hex(pwAad), nonce: hex(v.nonces.password), wrapped: hex(wrappedPw) },
      keychain_slot: {
        unlockKeyBase64: v.unlockKey.toString('base64'),
        aad: hex(kcAad),
        nonce: hex(v.nonces.keychain),
        wrapped: hex(wrappedKc),
      },
      auditMacKey: hex(deriveSubkey(v.vaultKey, v.vaultId, 'audit-mac')),
    },
    'secret-aad.json': {
      description:
        'Associated data: each part (label first) as a 4-byte big-endian byte length followed by its UTF-8 bytes; numbers are written in decimal.',
      cases: [
        {
          fn: 'secretAad',
          args: [v.vaultId, v.secretId, v.version],
          parts: ['akc/secret/v1', v.vaultId, v.secretId, String(v.version)],
          hex: hex(secretAadBytes),
        },
        { fn: 'secretAad', args: ['v', 's', 1], parts: ['akc/secret/v1', 'v', 's', '1'], hex: hex(secretAad('v', 's', 1)) },
        {
          fn: 'associatedData',
          args: ['akc/vault-key/v1', v.vaultId, 'password'],
          parts: ['akc/vault-key/v1', v.vaultId, 'password'],
          hex: hex(pwAad),
        },
        { fn: 'associatedData', args: ['label', '', 'ünï'], parts: ['label', '', 'ünï'], hex: hex(associatedData('label', '', 'ünï')) },
      ],
    },
    'audit-chain.json': {
      description:
        'Audit hash chain: hash = SHA-256(prev_hash || canonical JSON array of the entry); checkpoint MAC = HMAC-SHA256(auditMacKey, "akc/audit-checkpoint/v1" || u64be(seq) || hash).',
      genesis: hex(GENESIS_HASH),
      entries: chain,
      checkpoint: { seq: 2, macKey: hex(v.auditMacKey), message: hex(cpMessage), mac: hex(hmac(v.auditMacKey, cpMessage)) },
    },
  };
}

export function readStorageVector<T = Record<string, unknown>>(file: string): T {
  return JSON.parse(fs.readFileSync(path.join(STORAGE_VECTORS_DIR, file), 'utf8')) as T;
}

async function writeAll(): Promise<void> {
  fs.mkdirSync(STORAGE_VECTORS_DIR, { recursive: true });
  for (const [file, content] of Object.entries(await generateStorageVectors())) {
    fs.writeFileSync(path.join(STORAGE_VECTORS_DIR, file), JSON.stringify(content, null, 2) + '\n');
    process.stdout.write(`wrote ${path.join(STORAGE_VECTORS_DIR, file)}\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv.includes('--write')) {
  await writeAll();
}
