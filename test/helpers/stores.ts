/**
 * The stores behind a Host, for tests that set up or probe what the Host keeps private
 * (the Host offers verbs, not its stores): each is a new store on the host's own open
 * vault, so it sees and makes the same rows the host does (as admin code does).
 */
import type { Host } from '../../src/core/host/host.js';
import { AgentRegistry } from '../../src/core/policy/agents.js';
import { GrantStore } from '../../src/core/policy/grants.js';
import { LeaseStore } from '../../src/core/policy/leases.js';
import { SecretStore } from '../../src/core/vault/secrets.js';

export function grantsOf(host: Host): GrantStore {
  return new GrantStore(host.vault.db);
}

export function agentsOf(host: Host): AgentRegistry {
  return new AgentRegistry(host.vault.db);
}

export function secretsOf(host: Host): SecretStore {
  return new SecretStore(host.vault);
}

export function leasesOf(host: Host): LeaseStore {
  return new LeaseStore(host.vault.db);
}
