/** Core records → the contract's view types (what the renderer sees). Never a value. */
import type { ActivityEntry, AgentView, ApprovalView, GrantView, ProcessView } from '../../shared/contract.js';
import type { AuditEntry } from '../audit/chain.js';
import type { PendingApproval } from '../approvals/types.js';
import type { ProcessSummary } from '../identity/index.js';
import type { AgentRecord } from '../policy/agents.js';
import type { Grant } from '../policy/grants.js';

export function activityEntry(e: Pick<AuditEntry, keyof ActivityEntry>): ActivityEntry {
  return {
    seq: e.seq,
    ts: e.ts,
    event: e.event,
    agent: e.agent,
    pid: e.pid,
    exe: e.exe,
    secret: e.secret,
    version: e.version,
    decision: e.decision,
    purpose: e.purpose,
    reason: e.reason,
  };
}

function processView(p: ProcessSummary): ProcessView {
  return { pid: p.pid, exe: p.exe, script: p.script, argv: p.argv.slice(), cwd: p.cwd };
}

/** `vaultUnlocked`: allowing also needs the password when the vault is locked now. */
export function approvalView(p: PendingApproval, vaultUnlocked: boolean): ApprovalView {
  const id = p.requester.identity;
  return {
    id: p.id,
    agent: p.requester.agent?.name ?? null,
    program: p.requester.label,
    pid: id.pid,
    uid: id.uid,
    exe: id.exe,
    script: id.script,
    exeSha256: id.exeSha256,
    argv: id.argv.slice(),
    cwd: id.cwd,
    parents: id.parents.map(processView),
    badge: p.badge,
    secrets: p.secrets.slice(),
    purpose: p.purpose,
    http: p.http ? { method: p.http.method, host: p.http.host, path: p.http.path } : null,
    count: p.count,
    createdAt: p.createdAt,
    expiresAt: p.expiresAt,
    needsUnlock: p.needsUnlock || !vaultUnlocked,
    coveredByGrant: p.coveredByGrant,
  };
}

export function agentView(a: AgentRecord, lastSeenAt: number | null): AgentView {
  return {
    id: a.id,
    name: a.name,
    exePath: a.exePath,
    exeSha256: a.exeSha256,
    argPattern: a.argPattern,
    cwdPattern: a.cwdPattern,
    createdAt: a.createdAt,
    lastSeenAt,
  };
}

export function basename(p: string | null): string | null {
  if (!p) return null;
  return p.split(/[\\/]/).pop() || p;
}

/** `labelFor`: a known label for an unregistered program's fingerprint (e.g. "node agent.js"). */
export function grantView(g: Grant, labelFor: (fingerprint: string) => string | null = () => null): GrantView {
  const requester = g.agentName ?? (g.fingerprint ? labelFor(g.fingerprint) : null) ?? basename(g.exePath) ?? g.fingerprint ?? 'unknown';
  return {
    id: g.id,
    requester,
    exePath: g.exePath,
    exeSha256: g.exeSha256,
    secretPattern: g.secretPattern,
    effect: g.effect,
    scope: g.scope,
    expiresAt: g.expiresAt,
    usesLeft: g.usesLeft,
    createdAt: g.createdAt,
    createdBy: g.createdBy,
  };
}
