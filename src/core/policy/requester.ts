/**
 * Who is asking, as policy sees it. Grants are keyed on a fingerprint of the requester,
 * never on a pid: a registered agent's id, or the program (executable path + SHA-256 and,
 * for interpreters, the script path) for an unregistered one.
 */
import { createHash } from 'node:crypto';
import { interpreterFamily, scriptIndexInArgv, type PeerIdentity, type ProcessSummary } from '../identity/index.js';

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

/**
 * npm renames its process (`process.title = 'npm exec akc get X'`; npx runs as `npm exec`),
 * which overwrites node's whole argv: /proc then shows the title and no script at all.
 */
const RETITLED_LAUNCHER = /^(npm|npx)(\s|$)/;

function base(p: string | null): string {
  return p ? p.split('/').pop()! : 'unknown';
}

/**
 * The entry points of the akc CLI, as the script path ends once symlinks are resolved
 * (process-info.ts realScript): `node bin/akc.js`, an `akc` symlink on PATH, npx/npm exec
 * (node_modules/.bin/akc), npm link and a global install (<prefix>/lib/node_modules/
 * agent-keychain/bin/akc.js) all end here, and so does the Node 22 re-run bin/akc.js
 * makes of itself under an older Node (its parent is then another akc.js).
 *
 * Recognition is by file name, wherever the file is, and need not be more: the dangerous
 * mistake is the other way. The real CLI taken for a plain program would key every
 * caller's grants on "node akc.js" alone, one approval for all of them. A script elsewhere
 * that merely ends in bin/akc.js gains nothing from being taken for the CLI: its
 * fingerprint still holds its own path and content hash (programFingerprint), so it never
 * shares a grant with the real akc. Being skipped as a parent (viaProgram) and counting
 * as the registered agent that started it (host.ts) give it only what a launcher gets
 * (see isLauncher): the identity of its own nearest non-launcher ancestor, never another
 * program's.
 */
const AKC_ENTRY_POINTS = ['/bin/akc.js', '/dist/src/cli/main.js'];

/**
 * The akc subcommand when the peer is the akc CLI (`get`, `run`, `mcp`…), else null. It is
 * the word right after the script, as src/cli/main.ts dispatches it (an option there is
 * --help/--version: 'akc'). Option values elsewhere on the line (`--purpose mcp`) never count.
 */
export function akcSubcommand(identity: Pick<PeerIdentity, 'script'> & Partial<Pick<PeerIdentity, 'argv' | 'exe'>>): string | null {
  const script = identity.script;
  if (!script || !AKC_ENTRY_POINTS.some((end) => script.endsWith(end))) return null;
  const argv = identity.argv ?? [];
  const i = scriptIndexInArgv(argv, identity.exe ?? null);
  const word = i === null ? undefined : argv[i + 1];
  return word === undefined || word.startsWith('-') ? 'akc' : word;
}

/**
 * A shell running a script is a program (the script); an interactive shell or `sh -c` is
 * only a launcher, as are npx/npm/env and friends, npm also when it renamed itself.
 *
 * Names and titles come from argv, a claim: a program can call itself npm-cli.js or set
 * its title to "npm". Skipped, its akc requests count as its nearest non-launcher
 * ancestor's, as every command a real launcher runs does (an npm script's `akc get` is
 * whoever ran npm); it can never take the identity of a program that is not its ancestor.
 */
function isLauncher(p: ProcessSummary): boolean {
  if (p.script) return LAUNCHERS.has(base(p.script));
  if (LAUNCHERS.has(base(p.exe))) return true;
  return interpreterFamily(p.exe) === 'node' && RETITLED_LAUNCHER.test(p.argv[0] ?? '');
}

/** The program an akc CLI peer runs on behalf of: the nearest non-launcher, non-akc parent. */
export function viaProgram(identity: Partial<Pick<PeerIdentity, 'parents'>>): ProcessSummary | null {
  for (const p of identity.parents ?? []) {
    if (akcSubcommand(p) !== null || isLauncher(p)) continue;
    return p;
  }
  return null;
}

/** A stable id for an unregistered program. Changes when its executable's hash changes. */
export function programFingerprint(
  identity: Pick<PeerIdentity, 'exe' | 'exeSha256' | 'script'> & Partial<Pick<PeerIdentity, 'argv' | 'parents' | 'scriptSha256'>>,
  /**
   * For an akc CLI peer, the launching program's code as the host read it at request time
   * (Host.requesterFor): its executable's and script's hashes and any injected code. With
   * it, replacing `agent.py` (or running it with PYTHONPATH set) voids the grants made for
   * "akc get via agent.py", as it does for a program that asks directly.
   */
  viaCode?: Partial<Pick<PeerIdentity, 'exeSha256' | 'scriptSha256' | 'injectedCode'>> | null,
): string {
  const h = createHash('sha256');
  h.update(`exe\0${identity.exe ?? '?'}\0${identity.exeSha256 ?? '?'}\0script\0${identity.script ?? ''}`);
  // The script's content (hashed at request time): a replaced script is another program.
  if (identity.script && identity.scriptSha256 !== undefined) h.update(`\0content\0${identity.scriptSha256 ?? '?'}`);
  const sub = akcSubcommand(identity);
  if (sub !== null) {
    const via = viaProgram(identity);
    h.update(`\0akc\0${sub}\0via\0${via?.exe ?? '?'}\0${via?.script ?? ''}`);
    if (viaCode) {
      const injected = viaCode.injectedCode === null ? '?' : (viaCode.injectedCode ?? []).join('\n');
      h.update(`\0viacode\0${viaCode.exeSha256 ?? '?'}\0${viaCode.scriptSha256 ?? '-'}\0${injected}`);
    }
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

/** A program as `akc grants` names it: the interpreter and the script's full path, or the executable's. */
function describeProgram(p: Pick<ProcessSummary, 'exe' | 'script'>): string {
  return p.script ? `${base(p.exe)} ${p.script}` : (p.exe ?? 'unknown');
}

/**
 * What a grant or block made from a prompt records of an unregistered program, for the
 * humans who later list and lift it: "python3 /home/me/agent.py", "/usr/bin/curl", or for
 * the akc CLI the program it runs for ("akc run via python3 /home/me/agent.py"). Null for a
 * registered agent (its name says it). The executable is the kernel's; the script, as in the
 * prompt, comes from argv.
 */
export function grantLabel(r: Pick<Requester, 'agent' | 'identity'>): string | null {
  if (r.agent) return null;
  const sub = akcSubcommand(r.identity);
  if (sub !== null) {
    const via = viaProgram(r.identity);
    return via ? `akc ${sub} via ${describeProgram(via)}` : `akc ${sub}`;
  }
  return describeProgram(r.identity);
}
