/**
 * Master password → key-encryption key (KEK) with Argon2id.
 *
 * The parameters and salt are stored in the vault. When reading them we refuse values
 * above sane maxima: a crafted vault.db must not be able to make `akc` allocate gigabytes
 * or spin for minutes (denial of service), and values below the floor would mean a
 * tampered or broken vault.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

/** The defaults: m = 64 MiB, t = 3, p = 4. */
export const DEFAULT_KDF: KdfParams = { algorithm: 'argon2id', memoryKiB: 65536, timeCost: 3, parallelism: 4 };

export const KDF_LIMITS = {
  memoryKiB: { min: 8192, max: 1048576 }, // 8 MiB … 1 GiB
  timeCost: { min: 1, max: 20 },
  parallelism: { min: 1, max: 16 },
} as const;

/**
 * DANGEROUS, tests only: weak parameters that make Argon2 take ~10 ms so test suites
 * can create hundreds of vaults. New vaults get them only under dangerousTestKdfAllowed().
 */
export const DANGEROUS_TEST_WEAK_KDF: KdfParams = {
  algorithm: 'argon2id',
  memoryKiB: 8192,
  timeCost: 1,
  parallelism: 1,
};

/**
 * Whether the weak test parameters may be used for the vault in `dataDir`: only with
 * AKC_DANGEROUS_TEST_WEAK_KDF=1 (scripts/test.js sets it) *and* a data dir inside the
 * OS temp directory, where every test vault lives.
 *
 * Why this and not a second, "test-only" switch: whatever the test harness can set (an
 * environment variable, a flag, a file), a shell profile, a CI image or a copied command
 * line can set too, so a second switch would only rename the first. What matters is that
 * the switch cannot reach a vault anyone relies on: the default data dirs, AKC_HOME in a
 * home directory, the desktop app's and the hardened host's data dirs are never in the temp
 * directory, so they get DEFAULT_KDF even when the variable leaked into their environment.
 * The same condition gates the CLI accepting weak parameters from a host (admin-proof.ts):
 * a fake server cannot move the CLI's own data dir into /tmp. A vault that was created weak
 * is not refused later (it is on disk either way; refusing it protects nothing), but it is
 * visible: `akc init` warns and `akc status` says so (cli/kdf-report.ts).
 */
export function dangerousTestKdfAllowed(dataDir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.AKC_DANGEROUS_TEST_WEAK_KDF !== '1') return false;
  const tmp = realpathOrSelf(os.tmpdir());
  if (tmp === path.parse(tmp).root) return false; // TMPDIR=/ would put every vault "in the temp dir"
  const rel = path.relative(tmp, realExistingPath(path.resolve(dataDir)));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

export function kdfParamsForNewVault(dataDir: string, env: NodeJS.ProcessEnv = process.env): KdfParams {
  return dangerousTestKdfAllowed(dataDir, env) ? { ...DANGEROUS_TEST_WEAK_KDF } : { ...DEFAULT_KDF };
}

/** Below the defaults in cost (memory or passes); parallelism alone does not lower the work. */
export function isWeakerThanDefault(params: KdfParams): boolean {
  return params.memoryKiB < DEFAULT_KDF.memoryKiB || params.timeCost < DEFAULT_KDF.timeCost;
}

function realpathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** The real path of `p`, resolving symlinks in the part that exists (a new vault's data dir may not exist yet). */
function realExistingPath(p: string): string {
  const missing: string[] = [];
  let dir = p;
  for (;;) {
    try {
      return path.join(fs.realpathSync(dir), ...missing.reverse());
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return p;
      missing.push(path.basename(dir));
      dir = parent;
    }
  }
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
