/**
 * Challenge nonces for admin proofs (core/crypto/admin-auth.ts): random, single-use,
 * bound to one connection and valid for CHALLENGE_TTL_MS. A frame captured by a fake
 * server and replayed to the real host names a nonce the real host never issued on that
 * connection (or already consumed), so it is refused before any key is touched.
 */
import { randomBytes } from 'node:crypto';
import { CHALLENGE_TTL_MS } from '../../shared/admin-protocol.js';
import { NONCE_BYTES } from '../crypto/admin-auth.js';

/** Outstanding challenges per connection; asking for more drops the oldest. */
const MAX_OUTSTANDING = 4;

export class ChallengeStore {
  /** Per connection (keyed by its Session object): nonce hex → expiry. */
  private readonly byConnection = new WeakMap<object, Map<string, number>>();

  issue(connection: object, now: number): { nonce: Buffer; expiresAt: number } {
    let open = this.byConnection.get(connection);
    if (!open) {
      open = new Map();
      this.byConnection.set(connection, open);
    }
    for (const [hex, expiresAt] of open) if (expiresAt <= now) open.delete(hex);
    while (open.size >= MAX_OUTSTANDING) open.delete(open.keys().next().value!);
    const nonce = randomBytes(NONCE_BYTES);
    const expiresAt = now + CHALLENGE_TTL_MS;
    open.set(nonce.toString('hex'), expiresAt);
    return { nonce, expiresAt };
  }

  /**
   * Consumes a nonce: true only if this connection was issued it, it has not expired and
   * it was not used before. Used or not, it is gone afterwards.
   */
  consume(connection: object, nonceHex: string, now: number): boolean {
    const open = this.byConnection.get(connection);
    const expiresAt = open?.get(nonceHex);
    if (expiresAt === undefined) return false;
    open!.delete(nonceHex);
    return expiresAt > now;
  }
}
