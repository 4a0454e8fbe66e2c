/**
 * How the CLI shows a vault's key derivation: a warning when a vault was just created with
 * the weak test parameters (core/crypto/kdf.ts, dangerousTestKdfAllowed), and the line
 * `akc status` prints, so that a weak vault never goes unnoticed.
 */
import { isWeakerThanDefault, type KdfParams } from '../core/crypto/kdf.js';

export interface KdfReport {
  algorithm: 'argon2id';
  memoryKiB: number;
  timeCost: number;
  parallelism: number;
  /** Below the defaults: a vault made by the test harness (or an old, cheaper setting). */
  weak: boolean;
}

export function kdfReport(params: KdfParams): KdfReport {
  return { ...params, weak: isWeakerThanDefault(params) };
}

/** The `akc status` line, without its label. */
export function kdfStatusText(r: KdfReport): string {
  const text = `${r.algorithm}, ${r.memoryKiB / 1024} MiB, ${r.timeCost} pass${r.timeCost === 1 ? '' : 'es'}, ${r.parallelism} lane${r.parallelism === 1 ? '' : 's'}`;
  return r.weak ? `weak (test): ${text} — DANGEROUS, the master password is cheap to brute-force` : text;
}

/** For stderr right after a vault was created, or null when its parameters are the defaults. */
export function weakKdfWarning(params: KdfParams): string | null {
  if (!isWeakerThanDefault(params)) return null;
  return (
    'akc: warning: this vault uses the DANGEROUS test key derivation (AKC_DANGEROUS_TEST_WEAK_KDF=1 and a data dir in the temp directory): ' +
    'its master password is cheap to brute-force\n'
  );
}
