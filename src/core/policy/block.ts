/**
 * "Block this requester", written once. Every way to block goes through here: the
 * daemon prompt's `b` and `akc deny --block` and the desktop's "Deny & block" (all
 * Host.decide), `akc block AGENT` (PolicyAdmin), the desktop's "Block" on an activity
 * entry and the hardened host's `agent.block` (Host.block), and the anomaly guard.
 *
 * The rule: a block is a deny grant on every secret ('**', scope always, no hash pin, so
 * a rebuilt program stays blocked) for the requester — a registered agent by its id
 * (with its registered executable), an unregistered program by its fingerprint. A
 * requester has at most one live block: blocking it again returns that one and records
 * nothing. A new block writes one `agent.block` entry in the same transaction. A deny
 * needs no key (grants.ts), so a block can be written while the vault is locked.
 */
import { AkcError } from '../../shared/errors.js';
import type { AuditEntry } from '../audit/chain.js';
import { durableTransaction } from '../store/database.js';
import type { Vault } from '../vault/vault.js';
import { AgentRegistry } from './agents.js';
import { GrantStore, type Grant } from './grants.js';
import { grantLabel, type Requester } from './requester.js';

/** A block is a deny grant on every secret that never ends. */
export const BLOCK_PATTERN = '**';

export function isBlock(g: Pick<Grant, 'effect' | 'secretPattern' | 'scope'>): boolean {
  return g.effect === 'deny' && g.secretPattern === BLOCK_PATTERN && g.scope === 'always';
}

/** Who is blocked: a registered agent (by id), or an unregistered program (by fingerprint). */
export type BlockTarget =
  | { kind: 'agent'; agentId: string }
  | { kind: 'program'; fingerprint: string; label: string; exe: string | null; description?: string | null };

export function blockTargetOf(r: Requester): BlockTarget {
  return r.agent
    ? { kind: 'agent', agentId: r.agent.id }
    : { kind: 'program', fingerprint: r.fingerprint, label: r.label, exe: r.identity.exe, description: grantLabel(r) };
}

export interface BlockResult {
  grant: Grant;
  created: boolean;
  /** The `agent.block` entry (none when the requester was already blocked). */
  entries: AuditEntry[];
}

interface Resolved {
  agentId: string | null;
  fingerprint: string | null;
  label: string;
  exe: string | null;
  /** The program with its paths, stored on its block grant for `akc grants` (requester.ts grantLabel). */
  description: string | null;
}

/** An agent is named and located by its registry row, whoever asks to block it. */
function resolve(vault: Vault, t: BlockTarget): Resolved {
  if (t.kind === 'program')
    return { agentId: null, fingerprint: t.fingerprint, label: t.label, exe: t.exe, description: t.description ?? null };
  const agent = new AgentRegistry(vault.db).byId(t.agentId);
  if (!agent) throw new AkcError('NOT_FOUND', `no agent with id ${t.agentId}`);
  return { agentId: agent.id, fingerprint: null, label: agent.name, exe: agent.exePath, description: null };
}

function blocksOf(grants: GrantStore, who: Resolved, now: number): Grant[] {
  return grants
    .list(now)
    .filter(
      (g) => isBlock(g) && (who.agentId !== null ? g.agentId === who.agentId : g.agentId === null && g.fingerprint === who.fingerprint),
    );
}

/** The target's live block grants. */
export function liveBlocks(vault: Vault, t: BlockTarget): Grant[] {
  return blocksOf(new GrantStore(vault.db), resolve(vault, t), vault.clock.now());
}

/** Blocks `t` inside the caller's write transaction (so a decision and its block commit together). */
export function blockInTransaction(vault: Vault, t: BlockTarget, by: string, why?: string): BlockResult {
  const grants = new GrantStore(vault.db);
  const now = vault.clock.now();
  const who = resolve(vault, t);
  const existing = blocksOf(grants, who, now)[0];
  if (existing) return { grant: existing, created: false, entries: [] };
  const grant = grants.create(
    {
      agentId: who.agentId,
      fingerprint: who.fingerprint,
      exePath: who.exe,
      exeSha256: null,
      secretPattern: BLOCK_PATTERN,
      effect: 'deny',
      scope: 'always',
      label: who.description,
      createdBy: by,
    },
    now,
  );
  const entries = vault.audit.appendInTransaction(
    [
      {
        event: 'agent.block',
        agent: who.label,
        exe: who.exe,
        decision: 'block',
        reason: why ?? `by ${by}`,
        detail: { grant: grant.id, ...(who.agentId === null ? { fingerprint: who.fingerprint } : {}) },
      },
    ],
    now,
    vault.auditKey,
  );
  return { grant, created: true, entries };
}

/** Blocks `t` in its own durable transaction. */
export function blockRequester(vault: Vault, t: BlockTarget, by: string, why?: string): BlockResult {
  return durableTransaction(vault.db, () => blockInTransaction(vault, t, by, why));
}

/** Lifts every live block of `t`, with one `agent.unblock` entry; none when it was not blocked. */
export function unblockRequester(vault: Vault, t: BlockTarget, by: string): { grants: Grant[]; entries: AuditEntry[] } {
  return durableTransaction(vault.db, () => {
    const grants = new GrantStore(vault.db);
    const now = vault.clock.now();
    const who = resolve(vault, t);
    const blocks = blocksOf(grants, who, now);
    if (blocks.length === 0) return { grants: [], entries: [] };
    for (const b of blocks) grants.revoke(b.id, now);
    const entries = vault.audit.appendInTransaction(
      [
        {
          event: 'agent.unblock',
          agent: who.label,
          exe: who.exe,
          decision: 'unblock',
          reason: `by ${by}`,
          detail: { grants: blocks.map((b) => b.id) },
        },
      ],
      now,
      vault.auditKey,
    );
    return { grants: blocks.map((b) => grants.get(b.id)!), entries };
  });
}
