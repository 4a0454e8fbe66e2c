/**
 * Break-glass: revoke every live lease at once (`akc lock --revoke-all`, the app's lock
 * with "revoke all"). One function for the running host (Host.lock) and for a vault no
 * host serves (the offline `akc lock --revoke-all`), so both write the same entry. It
 * only takes access away, so it needs no key: while locked the entry is appended
 * unsigned, and the next unlock signs the head.
 */
import { durableTransaction } from '../store/database.js';
import type { Vault } from '../vault/vault.js';
import { LeaseStore } from './leases.js';

/** Revokes every live lease with one `lease.revoke` entry (also when there were none); returns the count. */
export function revokeAllLeases(vault: Vault, by: string): number {
  return durableTransaction(vault.db, () => {
    const n = new LeaseStore(vault.db).revokeAll(vault.clock.now());
    vault.auditInTransaction([{ event: 'lease.revoke', reason: `all leases (${n}), on lock by ${by}`, detail: { count: n } }]);
    return n;
  });
}
