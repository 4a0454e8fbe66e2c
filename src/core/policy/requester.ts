/**
 * Who is asking, as policy sees it. Grants are keyed on a fingerprint of the requester,
 * never on a pid: a registered agent's id, or the program (executable path + SHA-256 and,
 * for interpreters, the script path) for an unregistered one.
 */
import { createHash } from 'node:crypto';
import { scriptIndexInArgv, type PeerIdentity, type ProcessSummary } from '../identity/index.js';

export interface Requester {
  identity: PeerIdentity;
  /** The registered agent the process matched, if any. */
  agent: { id: string; name: string } | null;
  fingerprint: string;
  /** Human label: the agent name, or the program (script for interpreters). */
  label: string;
}

/**
 * When the peer is the `akc` CLI itself (`akc get`, `akc run`, `akc mcp`…), the program
 * that matters is whoever ran it: every agent's `akc get` is the same node + akc.js, so
 * keying grants on that alone would let one approval serve every program on the machine.
 * For those peers the fingerprint adds the subcommand and the nearest parent that is not
 * a shell or launcher ("via").
 */
const LAUNCHERS = new Set([
  'bash',
  'sh',
  'dash',
  'zsh',
  'fish',
  'ksh',
  'env',
  'npx',
  'npm',
  'npm-cli.js',
  'npx-cli.js',
  'timeout',
  'nohup',
  'sudo',
  'script',
  'xargs',
  'time',
]);

function base(p: string | null): string {
  return p ? p.split('/').pop()! : 'unknown';
}

/**
 * The akc subcommand when the peer is the akc CLI (`get`, `run`, `mcp`…), else null. It is
 * the word right after the script, as src/cli/main.ts dispatches it (an option there is
 * --help/--version: 'akc'). Option values elsewhere on the line (`--purpose mcp`) never count.
 */
export function akcSubcommand(identity: Pick<PeerIdentity, 'script'> & Partial<Pick<PeerIdentity, 'argv' | 'exe'>>): string | null {
  const script = identity.script;
  if (!script || !(script.endsWith('/bin/akc.js') || script.endsWith('/dist/src/cli/main.js'))) return null;
  const argv = identity.argv ?? [];
  const i = scriptIndexInArgv(argv, identity.exe ?? null);
  const word = i === null ? undefined : argv[i + 1];
  return word === undefined || word.startsWith('-') ? 'akc' : word;
}

/** The program an akc CLI peer runs on behalf of: the nearest non-launcher, non-akc parent. */
export function viaProgram(identity: Partial<Pick<PeerIdentity, 'parents'>>): ProcessSummary | null {
  for (const p of identity.parents ?? []) {
    if (akcSubcommand(p) !== null) continue;
    // A shell running a script is a program (the script); an interactive shell or `sh -c`
    // is only a launcher, as are npx/npm/env and friends.
    if (p.script ? LAUNCHERS.has(base(p.script)) : LAUNCHERS.has(base(p.exe))) continue;
    return p;
  }
  return null;
}

/** A stable id for an unregistered program. Changes when its executable's hash changes. */
export function programFingerprint(
  identity: Pick<PeerIdentity, 'exe' | 'exeSha256' | 'script'> & Partial<Pick<PeerIdentity, 'argv' | 'parents' | 'scriptSha256'>>,
): string {
  const h = createHash('sha256');
  h.update(`exe\0${identity.exe ?? '?'}\0${identity.exeSha256 ?? '?'}\0script\0${identity.script ?? ''}`);
  // The script's content (hashed at request time): a replaced script is another program.
  if (identity.script && identity.scriptSha256 !== undefined) h.update(`\0content\0${identity.scriptSha256 ?? '?'}`);
  const sub = akcSubcommand(identity);
  if (sub !== null) {
    const via = viaProgram(identity);
    h.update(`\0akc\0${sub}\0via\0${via?.exe ?? '?'}\0${via?.script ?? ''}`);
  }
  return 'prog:' + h.digest('hex').slice(0, 32);
}

export function agentFingerprint(agentId: string): string {
  return 'agent:' + agentId;
}

export function programLabel(identity: Pick<PeerIdentity, 'exe' | 'script'> & Partial<Pick<PeerIdentity, 'argv' | 'parents'>>): string {
  const sub = akcSubcommand(identity);
  if (sub !== null) {
    const via = viaProgram(identity);
    return via ? `akc ${sub} via ${via.script ? base(via.script) : base(via.exe)}` : `akc ${sub}`;
  }
  return identity.script ? `${base(identity.exe)} ${base(identity.script)}` : base(identity.exe);
}
