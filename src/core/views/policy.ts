/**
 * The rows `akc agent list`, `akc grants` and `akc leases` print, as plain JSON (times as
 * ISO strings). The offline CLI and the hardened host build them with these same
 * functions, so both modes show the same fields. Names, rules and ids, never a value.
 */
import { grantState, isBlock, type PolicyAdmin } from '../policy/admin.js';
import type { AgentRecord } from '../policy/agents.js';
import type { Grant } from '../policy/grants.js';
import type { Lease } from '../policy/leases.js';
import { iso, type JsonRow } from './secrets.js';

export function agentJson(a: AgentRecord, extra: { blocked: boolean; grants: number }): JsonRow {
  return {
    name: a.name,
    id: a.id,
    exe: a.exePath,
    sha256: a.exeSha256,
    argPattern: a.argPattern,
    cwdPattern: a.cwdPattern,
    status: a.revokedAt !== null ? 'revoked' : extra.blocked ? 'blocked' : 'active',
    grants: extra.grants,
    createdAt: iso(a.createdAt),
    revokedAt: iso(a.revokedAt),
  };
}

/** `akc agent list [--all]`: each agent with its status and number of live grants. */
export function agentRows(admin: PolicyAdmin, all: boolean): JsonRow[] {
  const live = admin.grants.list(admin.now());
  return admin.agents.list(all).map((a) => {
    const mine = live.filter((g) => g.agentId === a.id);
    return agentJson(a, { blocked: a.revokedAt === null && mine.some(isBlock), grants: mine.length });
  });
}

export function grantJson(g: Grant, now: number): JsonRow {
  return {
    id: g.id,
    agent: g.agentName,
    program: g.agentId ? null : g.fingerprint,
    // The program it was approved or blocked for, with paths (null: an agent, or a grant from before migration 6).
    label: g.label,
    exe: g.exePath,
    exeSha256: g.exeSha256,
    secret: g.secretPattern,
    effect: g.effect,
    scope: g.scope,
    expiresAt: iso(g.expiresAt),
    usesLeft: g.usesLeft,
    keepOnRotate: g.keepOnRotate,
    state: grantState(g, now),
    createdAt: iso(g.createdAt),
    createdBy: g.createdBy,
    revokedAt: iso(g.revokedAt),
    // Approved for one `akc run` command: the grant covers only it (resolved exe + argv SHA-256).
    command: g.runCommand ? { ...g.runCommand, line: g.runLine } : null,
  };
}

/** `akc grants [--all]`: live grants, or every grant with `all`. */
export function grantRows(admin: PolicyAdmin, all: boolean): JsonRow[] {
  const now = admin.now();
  return admin.grants.list(now, { includeEnded: all }).map((g) => grantJson(g, now));
}

export function leaseJson(l: Lease, agentName: string | null): JsonRow {
  return {
    id: l.id,
    agent: agentName,
    fingerprint: l.fingerprint,
    pid: l.pid,
    secret: l.secretName,
    version: l.version,
    issuedAt: iso(l.issuedAt),
    expiresAt: iso(l.expiresAt),
    revokedAt: iso(l.revokedAt),
  };
}

/** `akc leases`: live leases with the name of the agent holding each (null for a bare program). */
export function leaseRows(admin: PolicyAdmin): JsonRow[] {
  const names = new Map(admin.agents.list(true).map((a) => [a.id, a.name]));
  return admin.leases.list(admin.now()).map((l) => leaseJson(l, l.agentId ? (names.get(l.agentId) ?? null) : null));
}
