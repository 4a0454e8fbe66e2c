/**
 * Plain-text rendering of pending approvals for terminals (daemon prompt, `akc approvals`).
 * Every string that came from a process or a client (program path, script, argv, cwd,
 * parents, agent hint, secret names it asked for, purpose, HTTP request, `akc run` command) goes through
 * sanitizeLine first: no escape sequence, CR, bidi override or invisible character from
 * an agent ever reaches the human's terminal as itself.
 */
import type { PendingApproval } from '../../core/approvals/types.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import { commandLine } from '../../shared/run-command.js';

export function shortHash(hex: string | null): string {
  if (!hex) return 'unknown';
  const h = sanitizeLine(hex);
  return `${h.slice(0, 4)}…${h.slice(-4)}`;
}

/** A sanitized path, shortened in the middle (the end of a path is what tells programs apart). */
export function shortPath(p: string | null, max = 48): string {
  if (!p) return 'unknown';
  const safe = sanitizeLine(p);
  const chars = [...safe];
  if (chars.length <= max) return safe;
  const keep = Math.floor((max - 1) / 2);
  return `${chars.slice(0, keep).join('')}…${chars.slice(chars.length - keep).join('')}`;
}

const BADGE: Record<PendingApproval['badge'], string> = {
  known: '✓ known',
  new: '● new program',
  changed: '⚠ CHANGED since last approval',
};

/** The prompt body: headline, verified identity, parent chain, claimed purpose. */
export function describePending(p: PendingApproval, now: number): string[] {
  const id = p.requester.identity;
  const who = sanitizeLine(p.requester.agent ? p.requester.agent.name : p.requester.label, 80);
  const secrets = sanitizeLine(p.secrets.join(', '), 200);
  const secs = Math.max(0, Math.round((p.expiresAt - now) / 1000));
  const lines = [
    `${who} wants ${secrets}${p.count > 1 ? `  (×${p.count} identical requests)` : ''}   ⏱ ${secs}s   [${sanitizeLine(p.id)}]`,
    `  program  ${shortPath(id.exe)}${id.script ? ` ${shortPath(id.script)}` : ''}   ${BADGE[p.badge]}`,
    `           sha256 ${shortHash(id.exeSha256)} · pid ${id.pid} · uid ${id.uid}`,
  ];
  if (p.http) {
    const request = sanitizeLine(`${p.http.method} ${p.http.host}${p.http.path}`, 200);
    lines.push(`  request  ${request}  (brokering proxy: the value stays in the host)`);
  }
  if (p.command) {
    // The program that will hold the raw value: shown in full (capped), as the shell would take it.
    const chosen = p.command.agentChosen ? '  ⚠ CHOSEN BY THE AGENT' : '';
    lines.push(`  command  ${sanitizeLine(commandLine(p.command.argv), 300)}${chosen}`);
    const exe = p.command.exe ? shortPath(p.command.exe, 160) : 'unknown (not resolved)';
    lines.push(`           exe ${exe} · gets the value in its environment`);
  }
  if (id.cwd) lines.push(`  cwd      ${shortPath(id.cwd, 60)}`);
  if (id.parents.length) {
    const chain = id.parents
      .slice(0, 4)
      .map((pp) => `${shortPath((pp.script ?? pp.exe ?? '?').split('/').pop() ?? '?', 32)}(${pp.pid})`)
      .join(' ← ');
    lines.push(`  parents  ${chain}`);
  }
  lines.push(`  purpose  ${p.purpose ? `"${sanitizeLine(p.purpose, 200)}"  (claimed by the agent)` : '(none given)'}`);
  if (p.needsUnlock)
    lines.push(
      p.coveredByGrant
        ? '  the vault is locked: a grant covers this; unlock to deliver'
        : '  the vault is locked: allowing asks for the master password',
    );
  return lines;
}
