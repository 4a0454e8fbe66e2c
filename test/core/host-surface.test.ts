/**
 * The Host offers verbs, not its stores (issue 13). A compile-time probe: each line below
 * reaches for something the Host keeps private, and `@ts-expect-error` makes the test build
 * fail the day one of them is public again (an unused expect-error is a compile error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Host } from '../../src/core/host/host.js';

test('the Host keeps its stores, broker and lifecycle to itself', () => {
  const reach = (h: Host): unknown[] => [
    // @ts-expect-error private: use the Host's verbs (listSecrets, setSecret, revealToHuman, …)
    h.secrets,
    // @ts-expect-error private: listAgents, findAgent
    h.agents,
    // @ts-expect-error private: listGrants, grant, block, unblock
    h.grants,
    // @ts-expect-error private: listLeases, lease, allLeases, lock(by, { revokeLeases })
    h.leases,
    // @ts-expect-error private: pendingApprovals, pendingApproval, decide, approvalTimeoutMs
    h.broker,
    // @ts-expect-error private: rotate, lifecycleSnapshot, scheduler
    h.lifecycle,
    // @ts-expect-error private: the one authorization path is reached through getSecret/getSecrets/authorizeProxy
    h.authorizer,
  ];
  assert.equal(typeof reach, 'function');
});
