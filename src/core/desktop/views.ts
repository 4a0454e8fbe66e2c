/**
 * Core records → the contract's view types (what the renderer sees). Never a value.
 *
 * Every string a process or client chose (program label, paths, argv, cwd, purpose,
 * requested names, HTTP request, audit reasons that quote them) passes through
 * sanitizeLine here, once, for every screen: React escapes HTML, but a bidi override
 * (U+202E) or zero-width characters would still make the renderer show a different
 * program than the one asking.
 */
import { sanitizeLine, sanitizeOptional } from '../../shared/sanitize.js';
import { commandLine } from '../../shared/run-command.js';
import type { ActivityEntry, AgentView, ApprovalView, GrantView, ProcessView, VerifyView } from '../../shared/contract.js';
import type { AuditEntry } from '../audit/chain.js';
import type { AuditVerifyReport } from '../audit/verify.js';
import type { PendingApproval } from '../approvals/types.js';
import type { ProcessSummary } from '../identity/index.js';
import type { AgentRecord } from '../policy/agents.js';
import type { Grant } from '../policy/grants.js';

/** An audit entry's fields as stored (for the service's own lookups; not for display). */
export function activityRecord(e: Pick<AuditEntry, keyof ActivityEntry>): ActivityEntry {
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

/** An audit entry as the activity screens show it. */
export function activityEntry(e: Pick<AuditEntry, keyof ActivityEntry>): ActivityEntry {
  return {
    seq: e.seq,
    ts: e.ts,
    event: sanitizeLine(e.event),
    agent: sanitizeOptional(e.agent),
    pid: e.pid,
    exe: sanitizeOptional(e.exe),
    secret: sanitizeOptional(e.secret),
    version: e.version,
    decision: sanitizeOptional(e.decision),
    purpose: sanitizeOptional(e.purpose),
    reason: sanitizeOptional(e.reason),
  };
}

function processView(p: ProcessSummary): ProcessView {
  return {
    pid: p.pid,
    exe: sanitizeOptional(p.exe),
    script: sanitizeOptional(p.script),
    argv: p.argv.map((a) => sanitizeLine(a)),
    cwd: sanitizeOptional(p.cwd),
  };
}

/** `vaultUnlocked`: allowing also needs the password when the vault is locked now. */
export function approvalView(p: PendingApproval, vaultUnlocked: boolean): ApprovalView {
  const id = p.requester.identity;
  return {
    id: p.id,
    agent: sanitizeOptional(p.requester.agent?.name ?? null),
    program: sanitizeLine(p.requester.label),
    pid: id.pid,
    uid: id.uid,
    exe: sanitizeOptional(id.exe),
    script: sanitizeOptional(id.script),
    exeSha256: sanitizeOptional(id.exeSha256),
    argv: id.argv.map((a) => sanitizeLine(a)),
    cwd: sanitizeOptional(id.cwd),
    parents: id.parents.map(processView),
    badge: p.badge,
    secrets: p.secrets.map((n) => sanitizeLine(n)),
    purpose: sanitizeOptional(p.purpose),
    http: p.http ? { method: sanitizeLine(p.http.method), host: sanitizeLine(p.http.host), path: sanitizeLine(p.http.path) } : null,
    command: p.command
      ? { line: sanitizeLine(commandLine(p.command.argv)), exe: sanitizeOptional(p.command.exe), agentChosen: p.command.agentChosen }
      : null,
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
    name: sanitizeLine(a.name),
    exePath: sanitizeLine(a.exePath),
    exeSha256: sanitizeOptional(a.exeSha256),
    argPattern: sanitizeOptional(a.argPattern),
    cwdPattern: sanitizeOptional(a.cwdPattern),
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
    requester: sanitizeLine(requester),
    exePath: sanitizeOptional(g.exePath),
    exeSha256: sanitizeOptional(g.exeSha256),
    secretPattern: sanitizeLine(g.secretPattern),
    effect: g.effect,
    scope: g.scope,
    expiresAt: g.expiresAt,
    usesLeft: g.usesLeft,
    createdAt: g.createdAt,
    createdBy: sanitizeLine(g.createdBy),
  };
}

/** The log's verification (core/audit/verify.ts) as the Activity header shows it. */
export function verifyView(r: AuditVerifyReport): VerifyView {
  return {
    ok: r.ok,
    entries: r.entries,
    checkpointsVerified: r.checkpoints ?? 0,
    macChecked: r.checkpointsChecked,
    firstBadSeq: r.first?.seq ?? null,
    problem: r.first ? sanitizeLine(r.first.problem) : null,
  };
}
