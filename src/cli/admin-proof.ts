/**
 * The CLI side of admin proofs (core/crypto/admin-auth.ts): from the host's challenge and
 * the master password, derive the KEK here (Argon2id), then A, then the proof over the
 * exact operation. The password and the KEK never leave this process, except that the
 * KEK goes sealed under a key only the real host holds (unlocking a host that knows A),
 * or as is to a host the kernel says runs as the configured service user.
 */
import { AkcError } from '../shared/errors.js';
import { adminChallengeSchema, type AdminParams, type ProvenAdminMethod } from '../shared/admin-protocol.js';
import { checkKdfParams, dangerousTestKdfAllowed, deriveKek, isWeakerThanDefault, type KdfParams } from '../core/crypto/kdf.js';
import { adminProof, deriveAdminKey, sealKekForTransport } from '../core/crypto/admin-auth.js';
import { wipe } from '../core/crypto/keys.js';
import { serverIsHardenedHost } from './host-trust.js';

export interface ProofRequest {
  /** Completes "failed to …" messages, e.g. "approve a_12". */
  action: string;
  password: Buffer;
  /** Send the KEK too when the host is locked (unlock, or allowing on a locked host). */
  unlock: boolean;
}

const HOST_HINT = "unlock it at the host: the daemon's terminal or the desktop window";

/**
 * The challenge's Argon2id parameters, refused above the maxima (a fake server must not
 * make us allocate gigabytes) and below the defaults (it must not make a captured proof
 * cheaper to brute-force than vault.db itself). Memory and time are the cost; lowering
 * parallelism alone does not lower the work, so it is only range-checked. The weak test
 * parameters pass only where a new vault would get them (`dataDir` is this CLI's own, see
 * dangerousTestKdfAllowed): a host cannot talk us into them.
 */
export function checkChallengeKdf(
  kdf: { m: number; t: number; p: number },
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): KdfParams {
  let params: KdfParams;
  try {
    params = checkKdfParams({ algorithm: 'argon2id', memoryKiB: kdf.m, timeCost: kdf.t, parallelism: kdf.p });
  } catch (cause) {
    throw new AkcError('DENIED', 'refusing the host’s key derivation parameters: they are out of range', { cause });
  }
  if (isWeakerThanDefault(params) && !dangerousTestKdfAllowed(dataDir, env)) {
    throw new AkcError(
      'DENIED',
      `refusing the host’s key derivation parameters (m = ${params.memoryKiB} KiB, t = ${params.timeCost}): weaker than the defaults`,
      { hint: 'something other than your Agent Keychain host may be listening on the socket' },
    );
  }
  return params;
}

/** The params of `method` with nonce, unlock material and proof, for this challenge. */
export async function provenParams<M extends ProvenAdminMethod>(
  method: M,
  params: Omit<AdminParams<M>, 'nonce' | 'proof' | 'sealedKek' | 'kek'>,
  rawChallenge: unknown,
  serverUid: number | null,
  request: ProofRequest,
  dataDir: string,
): Promise<AdminParams<M>> {
  const parsed = adminChallengeSchema.safeParse(rawChallenge);
  if (!parsed.success) throw new AkcError('PROTOCOL', `failed to ${request.action}: the host sent a malformed challenge`);
  const challenge = parsed.data;
  const kdf = checkChallengeKdf(challenge.kdf, dataDir);
  const hardened = serverIsHardenedHost(serverUid);
  const needsKey = request.unlock && challenge.vault === 'locked';
  if (!challenge.adminKey && !(needsKey && hardened)) {
    throw new AkcError('LOCKED', `failed to ${request.action}: the host has not been unlocked with the master password since it started`, {
      hint: challenge.vault === 'locked' ? HOST_HINT : 'lock it (`akc lock`), then unlock it at the host once with the master password',
    });
  }
  const nonce = Buffer.from(challenge.nonce, 'hex');
  const salt = Buffer.from(challenge.salt, 'base64');
  const kek = await deriveKek(request.password, salt, kdf);
  const adminKey = deriveAdminKey(kek);
  try {
    const full: Record<string, unknown> = { ...params, nonce: challenge.nonce };
    if (needsKey) {
      // Sealed for the A the real host holds: a fake server without A learns nothing. The
      // bare KEK (a JS string we cannot wipe) goes only to the verified service user.
      full[challenge.adminKey ? 'sealedKek' : 'kek'] = challenge.adminKey
        ? sealKekForTransport(adminKey, nonce, challenge.vaultId, kek).toString('base64')
        : kek.toString('base64');
    }
    full.proof = adminProof(adminKey, nonce, method, full).toString('hex');
    return full as AdminParams<M>;
  } finally {
    wipe(kek);
    wipe(adminKey);
  }
}
