/**
 * Host administration methods (see shared/admin-protocol.ts). Unlocking and deciding are
 * authorised by a challenge–response proof (core/crypto/admin-auth.ts), never by a
 * password on the wire; failed proofs are rate-limited (admin-attempts.ts) and every
 * attempt is audited as `admin.auth` (method, outcome, cli pid; never the proof).
 */
import { AkcError, isAkcError } from '../../shared/errors.js';
import type { AdminMethod, AdminParams, AdminResults, ApprovalSummary, ProvenAdminMethod } from '../../shared/admin-protocol.js';
import type { PendingApproval } from '../approvals/types.js';
import type { Host, Session } from '../host/host.js';
import { deriveAdminKey, openKekFromTransport, verifyAdminProof } from '../crypto/admin-auth.js';
import { KEY_BYTES } from '../crypto/aead.js';
import { wipe } from '../crypto/keys.js';
import { AttemptLimiter } from './admin-attempts.js';
import { ChallengeStore } from './admin-challenges.js';

export function summarizeApproval(p: PendingApproval): ApprovalSummary {
  const id = p.requester.identity;
  return {
    id: p.id,
    agent: p.requester.agent?.name ?? null,
    program: p.requester.label,
    pid: id.pid,
    exe: id.exe,
    script: id.script,
    scriptClaimed: id.script !== null,
    scriptSha256: id.scriptSha256 ?? null,
    injectedCode: id.injectedCode ?? [],
    exeSha256: id.exeSha256,
    badge: p.badge,
    secrets: p.secrets,
    purpose: p.purpose,
    count: p.count,
    createdAt: new Date(p.createdAt).toISOString(),
    expiresAt: new Date(p.expiresAt).toISOString(),
    needsUnlock: p.needsUnlock,
    ...(p.http ? { http: p.http } : {}),
    ...(p.command ? { command: { argv: p.command.argv, exe: p.command.exe, agentChosen: p.command.agentChosen } } : {}),
  };
}

interface AdminAuthState {
  challenges: ChallengeStore;
  attempts: AttemptLimiter;
  /** Connections that already have a rate_limited audit entry (one per connection bounds the log). */
  refusalAudited: WeakSet<Session>;
}

const authStates = new WeakMap<Host, AdminAuthState>();

function authState(host: Host): AdminAuthState {
  let st = authStates.get(host);
  if (!st) {
    st = { challenges: new ChallengeStore(), attempts: new AttemptLimiter(), refusalAudited: new WeakSet() };
    authStates.set(host, st);
  }
  return st;
}

const HOST_HINT = "unlock it at the host: the daemon's terminal or the desktop window";

export async function handleAdmin<M extends AdminMethod>(
  host: Host,
  session: Session,
  method: M,
  params: AdminParams<M>,
): Promise<AdminResults[M]> {
  const by = `cli pid ${session.identity.pid}`;
  switch (method) {
    case 'admin.challenge':
      return challenge(host, session) as AdminResults[M];
    case 'host.lock': {
      const p = params as AdminParams<'host.lock'>;
      const { revokedLeases } = host.lock(by, { revokeLeases: p.revokeAll === true });
      return { vault: 'locked', revokedLeases } as AdminResults[M];
    }
    case 'host.unlock': {
      const p = params as AdminParams<'host.unlock'>;
      const kek = await authorize(host, session, 'host.unlock', p);
      try {
        if (host.state !== 'unlocked') {
          if (!kek) throw new AkcError('INVALID_ARGUMENT', 'failed to unlock: the request carries no key for a locked host');
          host.vault.unlockWithKek(kek);
          host.record({ event: 'vault.unlock', decision: 'ok', reason: `password (${by})` });
        }
      } finally {
        wipe(kek);
      }
      return { vault: 'unlocked' } as AdminResults[M];
    }
    case 'approval.list':
      return { approvals: host.pendingApprovals().map(summarizeApproval) } as AdminResults[M];
    case 'approval.decide': {
      const p = params as AdminParams<'approval.decide'>;
      // Every CLI decision needs the proof, deny included: an agent must not be able to
      // clear (or spam-deny) the human's queue.
      const before = host.pendingApproval(p.approvalId);
      const kek = await authorize(host, session, 'approval.decide', p);
      try {
        // A key in the call unlocked the vault, and the unlock released the requests a
        // grant already covers: nothing is left to decide for this one.
        if (p.allow && before?.coveredByGrant && !host.pendingApproval(p.approvalId)) {
          return { approvalId: p.approvalId, decision: 'allow' } as AdminResults[M];
        }
        await host.decide(
          p.approvalId,
          { allow: p.allow, scope: p.scope ?? 'once', block: p.block ?? false, by: 'cli' },
          { kind: 'admin-proof', kek },
        );
      } finally {
        wipe(kek);
      }
      return { approvalId: p.approvalId, decision: p.allow ? 'allow' : p.block ? 'block' : 'deny' } as AdminResults[M];
    }
  }
  throw new Error('unreachable');
}

function challenge(host: Host, session: Session): AdminResults['admin.challenge'] {
  const { nonce, expiresAt } = authState(host).challenges.issue(session, host.clock.now());
  const kdf = host.vault.kdfParams;
  return {
    nonce: nonce.toString('hex'),
    expiresAt: new Date(expiresAt).toISOString(),
    salt: host.vault.kdfSalt.toString('base64'),
    kdf: { m: kdf.memoryKiB, t: kdf.timeCost, p: kdf.parallelism },
    vaultId: host.vault.id,
    vault: host.state === 'unlocked' ? 'unlocked' : 'locked',
    adminKey: host.vault.adminKey !== null,
  };
}

type ProvenParams = AdminParams<'host.unlock'> | AdminParams<'approval.decide'>;

/**
 * Checks the proof of a proven admin call and returns the password's KEK when the call
 * carried one (the caller wipes it), else null. Throws RATE_LIMITED during a cool-down,
 * WRONG_PASSWORD for any failed proof (unknown, used or expired nonce; bad MAC; a KEK
 * that does not open the vault), and LOCKED/DENIED with a hint when this host holds no
 * admin key to check against.
 */
async function authorize(host: Host, session: Session, method: ProvenAdminMethod, params: ProvenParams): Promise<Buffer | null> {
  const st = authState(host);
  const requester = await host.requesterFor(session);
  const audit = (outcome: 'ok' | 'failed' | 'rate_limited', extra: Record<string, unknown> = {}): void =>
    host.record({
      event: 'admin.auth',
      agent: requester.label,
      pid: session.identity.pid,
      exe: session.identity.exe,
      decision: outcome,
      reason: method,
      detail: { method, outcome, ...extra },
    });
  const now = host.clock.now();
  try {
    st.attempts.check(session, requester.fingerprint, now);
  } catch (err) {
    if (!st.refusalAudited.has(session)) {
      st.refusalAudited.add(session);
      audit('rate_limited');
    }
    throw err;
  }
  const failed = (why: 'nonce' | 'proof' | 'key'): AkcError => {
    const coolDown = st.attempts.fail(session, requester.fingerprint, host.clock.now());
    audit('failed', { why, ...(coolDown ? { coolDown: true } : {}) });
    return new AkcError(
      'WRONG_PASSWORD',
      why === 'nonce'
        ? 'failed to verify the admin proof: the challenge is unknown, used or expired'
        : 'wrong master password (the admin proof did not verify)',
    );
  };

  // Single use: consumed whatever happens next.
  if (!st.challenges.consume(session, params.nonce, now)) throw failed('nonce');
  const nonce = Buffer.from(params.nonce, 'hex');
  const proof = Buffer.from(params.proof, 'hex');
  const held = host.vault.adminKey;
  if (!held && params.kek === undefined) {
    throw new AkcError(
      host.state === 'unlocked' ? 'DENIED' : 'LOCKED',
      'failed to verify the admin proof: this host has not been unlocked with the master password since it started',
      { hint: HOST_HINT },
    );
  }
  if (held && params.kek !== undefined) {
    // The CLI sends a bare KEK only to a verified service host that has no admin key yet.
    throw new AkcError('INVALID_ARGUMENT', 'failed to verify the admin proof: this host holds the admin key; send the key sealed');
  }

  let kek: Buffer | null = null;
  try {
    if (held) {
      if (!verifyAdminProof(held, nonce, method, params, proof)) throw failed('proof');
      if (params.sealedKek !== undefined) {
        try {
          kek = openKekFromTransport(held, nonce, host.vault.id, Buffer.from(params.sealedKek, 'base64'));
        } catch {
          throw failed('key');
        }
      }
    } else {
      // No admin key yet: only reachable on a locked host (see above), and the CLI sends a
      // bare KEK only after the kernel said this host runs as the configured service user.
      // The proof is checked under the A it implies, and the KEK must then open the vault:
      // otherwise a made-up KEK with a matching proof would pass.
      if (host.state === 'unlocked') {
        throw new AkcError('DENIED', 'failed to verify the admin proof: this host has no admin key yet', {
          hint: 'lock it (`akc lock`) and unlock it again with the master password',
        });
      }
      kek = decodeKey(params.kek!);
      const implied = deriveAdminKey(kek);
      try {
        if (!verifyAdminProof(implied, nonce, method, params, proof)) throw failed('proof');
      } finally {
        wipe(implied);
      }
    }
    if (kek && host.state !== 'unlocked') {
      // Unlocked now, so a wrong key counts as a failed attempt like a wrong proof.
      try {
        host.vault.unlockWithKek(kek);
      } catch (err) {
        if (isAkcError(err, 'WRONG_PASSWORD')) throw failed('key');
        throw err;
      }
      host.record({ event: 'vault.unlock', decision: 'ok', reason: `password (cli pid ${session.identity.pid})` });
    }
  } catch (err) {
    wipe(kek);
    throw err;
  }
  st.attempts.succeed(session, requester.fingerprint);
  audit('ok');
  return kek;
}

function decodeKey(text: string): Buffer {
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) {
    key.fill(0);
    throw new AkcError('INVALID_ARGUMENT', `failed to verify the admin proof: the key has ${key.length} bytes, expected ${KEY_BYTES}`);
  }
  return key;
}
