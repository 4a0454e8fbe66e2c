/** Plain-text rendering of pending approvals for terminals (daemon prompt, `akc approvals`). */
import type { PendingApproval } from '../../core/approvals/types.js';

export function shortHash(hex: string | null): string {
  return hex ? `${hex.slice(0, 4)}…${hex.slice(-4)}` : 'unknown';
}

export function shortPath(p: string | null, max = 48): string {
  if (!p) return 'unknown';
  if (p.length <= max) return p;
  const keep = Math.floor((max - 1) / 2);
  return `${p.slice(0, keep)}…${p.slice(p.length - keep)}`;
}

const BADGE: Record<PendingApproval['badge'], string> = {
  known: '✓ known',
  new: '● new program',
  changed: '⚠ CHANGED since last approval',
};

/** The prompt body: headline, verified identity, parent chain, claimed purpose. */
export function describePending(p: PendingApproval, now: number): string[] {
  const id = p.requester.identity;
  const who = p.requester.agent ? p.requester.agent.name : p.requester.label;
  const secs = Math.max(0, Math.round((p.expiresAt - now) / 1000));
  const lines = [
    `${who} wants ${p.secrets.join(', ')}${p.count > 1 ? `  (×${p.count} identical requests)` : ''}   ⏱ ${secs}s   [${p.id}]`,
    `  program  ${shortPath(id.exe)}${id.script ? ` ${shortPath(id.script)}` : ''}   ${BADGE[p.badge]}`,
    `           sha256 ${shortHash(id.exeSha256)} · pid ${id.pid} · uid ${id.uid}`,
  ];
  if (p.http) lines.push(`  request  ${p.http.method} ${p.http.host}${p.http.path}  (brokering proxy: the value stays in the host)`);
  if (id.cwd) lines.push(`  cwd      ${shortPath(id.cwd, 60)}`);
  if (id.parents.length) {
    const chain = id.parents
      .slice(0, 4)
      .map((pp) => `${(pp.script ?? pp.exe ?? '?').split('/').pop()}(${pp.pid})`)
      .join(' ← ');
    lines.push(`  parents  ${chain}`);
  }
  lines.push(`  purpose  ${p.purpose ? JSON.stringify(p.purpose) + '  (claimed by the agent)' : '(none given)'}`);
  if (p.needsUnlock)
    lines.push(
      p.coveredByGrant
        ? '  the vault is locked: a grant covers this; unlock to deliver'
        : '  the vault is locked: allowing asks for the master password',
    );
  return lines;
}
