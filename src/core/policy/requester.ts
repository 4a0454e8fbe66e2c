/**
 * Who is asking, as policy sees it. Grants are keyed on a fingerprint of the requester,
 * never on a pid: a registered agent's id, or the program (executable path + SHA-256 and,
 * for interpreters, the script path) for an unregistered one.
 */
import { createHash } from 'node:crypto';
import type { PeerIdentity } from '../identity/index.js';

export interface Requester {
  identity: PeerIdentity;
  /** The registered agent the process matched, if any. */
  agent: { id: string; name: string } | null;
  fingerprint: string;
  /** Human label: the agent name, or the program (script for interpreters). */
  label: string;
}

/** A stable id for an unregistered program. Changes when its executable's hash changes. */
export function programFingerprint(identity: Pick<PeerIdentity, 'exe' | 'exeSha256' | 'script'>): string {
  const h = createHash('sha256');
  h.update(`exe\0${identity.exe ?? '?'}\0${identity.exeSha256 ?? '?'}\0script\0${identity.script ?? ''}`);
  return 'prog:' + h.digest('hex').slice(0, 32);
}

export function agentFingerprint(agentId: string): string {
  return 'agent:' + agentId;
}

export function programLabel(identity: Pick<PeerIdentity, 'exe' | 'script'>): string {
  const base = (p: string | null): string => (p ? p.split('/').pop()! : 'unknown');
  return identity.script ? `${base(identity.exe)} ${base(identity.script)}` : base(identity.exe);
}
