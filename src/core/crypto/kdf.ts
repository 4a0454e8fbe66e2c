/**
 * Master password → key-encryption key (KEK) with Argon2id.
 *
 * The parameters and salt are stored in the vault. When reading them we refuse values
 * above sane maxima: a crafted vault.db must not be able to make `akc` allocate gigabytes
 * or spin for minutes (denial of service), and values below the floor would mean a
 * tampered or broken vault.
 */
import argon2 from 'argon2';
import { AkcError } from '../../shared/errors.js';
import { KEY_BYTES } from './aead.js';

export const SALT_BYTES = 16;

export interface KdfParams {
  algorithm: 'argon2id';
  /** memory in KiB */
  memoryKiB: number;
  /** iterations */
  timeCost: number;
  parallelism: number;
}

/** DESIGN §4 defaults: m = 64 MiB, t = 3, p = 4. */
export const DEFAULT_KDF: KdfParams = { algorithm: 'argon2id', memoryKiB: 65536, timeCost: 3, parallelism: 4 };

export const KDF_LIMITS = {
  memoryKiB: { min: 8192, max: 1048576 }, // 8 MiB … 1 GiB
  timeCost: { min: 1, max: 20 },
  parallelism: { min: 1, max: 16 },
} as const;

/**
 * DANGEROUS, tests only: weak parameters that make Argon2 take ~10 ms so test suites
 * can create hundreds of vaults. Selected only by AKC_DANGEROUS_TEST_WEAK_KDF=1.
 */
export const DANGEROUS_TEST_WEAK_KDF: KdfParams = {
  algorithm: 'argon2id',
  memoryKiB: 8192,
  timeCost: 1,
  parallelism: 1,
};

export function kdfParamsForNewVault(env: NodeJS.ProcessEnv = process.env): KdfParams {
  return env.AKC_DANGEROUS_TEST_WEAK_KDF === '1' ? { ...DANGEROUS_TEST_WEAK_KDF } : { ...DEFAULT_KDF };
}

/** Validates parameters read from a vault. Throws CORRUPT naming the bad field. */
export function checkKdfParams(value: unknown): KdfParams {
  if (typeof value !== 'object' || value === null) throw new AkcError('CORRUPT', 'vault kdf parameters are missing');
  const p = value as Record<string, unknown>;
  if (p.algorithm !== 'argon2id') throw new AkcError('CORRUPT', 'vault kdf algorithm is not argon2id');
  for (const field of ['memoryKiB', 'timeCost', 'parallelism'] as const) {
    const v = p[field];
    const { min, max } = KDF_LIMITS[field];
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new AkcError('CORRUPT', `vault kdf ${field} is not an integer`);
    }
    if (v > max) {
      throw new AkcError('CORRUPT', `vault kdf ${field} ${v} is above the maximum ${max}; refusing to derive`);
    }
    if (v < min) throw new AkcError('CORRUPT', `vault kdf ${field} ${v} is below the minimum ${min}`);
  }
  return { algorithm: 'argon2id', memoryKiB: p.memoryKiB as number, timeCost: p.timeCost as number, parallelism: p.parallelism as number };
}

export async function deriveKek(password: Buffer, salt: Buffer, params: KdfParams): Promise<Buffer> {
  if (salt.length !== SALT_BYTES) throw new AkcError('CORRUPT', 'vault kdf salt has the wrong length');
  const checked = checkKdfParams(params);
  try {
    return await argon2.hash(password, {
      type: argon2.argon2id,
      raw: true,
      salt,
      hashLength: KEY_BYTES,
      memoryCost: checked.memoryKiB,
      timeCost: checked.timeCost,
      parallelism: checked.parallelism,
    });
  } catch (cause) {
    throw new AkcError('INTERNAL', 'failed to derive the key from the password', { cause });
  }
}
