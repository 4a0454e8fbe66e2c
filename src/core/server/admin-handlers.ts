/** Host administration methods (see shared/admin-protocol.ts). */
import type { AdminMethod, AdminParams, AdminResults, ApprovalSummary } from '../../shared/admin-protocol.js';
import type { PendingApproval } from '../approvals/types.js';
import type { Host, Session } from '../host/host.js';

export function summarizeApproval(p: PendingApproval): ApprovalSummary {
  const id = p.requester.identity;
  return {
    id: p.id,
    agent: p.requester.agent?.name ?? null,
    program: p.requester.label,
    pid: id.pid,
    exe: id.exe,
    script: id.script,
    exeSha256: id.exeSha256,
    badge: p.badge,
    secrets: p.secrets,
    purpose: p.purpose,
    count: p.count,
    createdAt: new Date(p.createdAt).toISOString(),
    expiresAt: new Date(p.expiresAt).toISOString(),
    needsUnlock: p.needsUnlock,
    ...(p.http ? { http: p.http } : {}),
  };
}

export async function handleAdmin<M extends AdminMethod>(
  host: Host,
  session: Session,
  method: M,
  params: AdminParams<M>,
): Promise<AdminResults[M]> {
  const by = `cli pid ${session.identity.pid}`;
  switch (method) {
    case 'host.lock': {
      const p = params as AdminParams<'host.lock'>;
      const revokedLeases = p.revokeAll ? host.leases.revokeAll(host.clock.now()) : 0;
      host.lock(by);
      return { vault: 'locked', revokedLeases } as AdminResults[M];
    }
    case 'host.unlock': {
      const p = params as AdminParams<'host.unlock'>;
      const password = Buffer.from(p.password, 'utf8');
      try {
        await host.unlockWithPassword(password, by);
      } finally {
        password.fill(0);
      }
      return { vault: 'unlocked' } as AdminResults[M];
    }
    case 'approval.list':
      return { approvals: host.broker.list().map(summarizeApproval) } as AdminResults[M];
    case 'approval.decide': {
      const p = params as AdminParams<'approval.decide'>;
      const password = Buffer.from(p.password, 'utf8');
      try {
        // Every CLI decision needs the master password, deny included: an agent must not
        // be able to clear (or spam-deny) the human's queue.
        await host.vault.verifyPassword(password);
        await host.decide(p.approvalId, { allow: p.allow, scope: p.scope ?? 'once', block: p.block ?? false, by: 'cli' }, password);
      } finally {
        password.fill(0);
      }
      return { approvalId: p.approvalId, decision: p.allow ? 'allow' : p.block ? 'block' : 'deny' } as AdminResults[M];
    }
  }
  throw new Error('unreachable');
}
