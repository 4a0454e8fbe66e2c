/**
 * The command an `akc run` request will hand its secrets to, so the approval shows which
 * command gets the secret. The command is a claim from the peer: the host
 * accepts it only from the akc CLI's own `run`/`mcp` processes, whose code it identifies
 * from the kernel (akcSubcommand, and the script's hash in the fingerprint). Any other
 * program could only use it to dress up its prompt, so from them it is refused.
 *
 * A grant made from such an approval is bound to the command: its resolved executable and
 * a SHA-256 of its argv (grants.ts). Another command of the same program asks again.
 */
import { createHash } from 'node:crypto';
import { AkcError } from '../../shared/errors.js';
import type { RunCommand } from '../../shared/protocol.js';
import { commandLine } from '../../shared/run-command.js';
import type { PeerIdentity } from '../identity/index.js';
import { akcSubcommand } from './requester.js';

/** The akc subcommands whose requests may name a command. */
const COMMAND_SUBCOMMANDS = new Set(['run', 'mcp']);
/** The command line as kept in audit entries (the argv hash identifies it in full). */
const AUDIT_LINE_MAX = 1000;

/** A command the host accepted, as approvals, grants and the audit log see it. */
export interface ApprovedCommand {
  argv: string[];
  /** The resolved executable (as the CLI found it), or null when unknown. */
  exe: string | null;
  /** Chosen by an agent: claimed by the CLI, or `akc run` started by `akc mcp`. */
  agentChosen: boolean;
  /** SHA-256 (hex) of the argv, what a grant is bound to together with `exe`. */
  argvSha256: string;
}

/** What a grant bound to a command stores, and what a request must match. */
export interface RunUse {
  exe: string | null;
  argvSha256: string;
}

export function argvSha256(argv: readonly string[]): string {
  // JSON of an array of strings is unambiguous: no two argvs encode alike.
  return createHash('sha256').update(JSON.stringify(argv)).digest('hex');
}

/**
 * The command claim of a request, accepted or refused: null without a claim; INVALID_ARGUMENT
 * (INVALID_PARAMS on the wire) when the peer is not the akc CLI's `run` or `mcp`.
 */
export function acceptCommand(identity: PeerIdentity, claim: RunCommand | undefined): ApprovedCommand | null {
  if (claim === undefined) return null;
  const sub = akcSubcommand(identity);
  if (sub === null || !COMMAND_SUBCOMMANDS.has(sub)) {
    throw new AkcError('INVALID_ARGUMENT', 'refused the command field: only `akc run` may name the command it runs');
  }
  // Started by `akc mcp`: the model chose the command, whatever the claim says.
  const underMcp = identity.parents.some((p) => akcSubcommand(p) === 'mcp');
  return {
    argv: [...claim.argv],
    exe: claim.exe ?? null,
    agentChosen: claim.agentChosen === true || underMcp || sub === 'mcp',
    argvSha256: argvSha256(claim.argv),
  };
}

export function runUse(c: ApprovedCommand): RunUse {
  return { exe: c.exe, argvSha256: c.argvSha256 };
}

/** The command line as kept for humans (audit entries, `akc grants`): the argv hash identifies it in full. */
function shownLine(c: ApprovedCommand): string {
  const line = commandLine(c.argv);
  return line.length > AUDIT_LINE_MAX ? `${line.slice(0, AUDIT_LINE_MAX - 1)}…` : line;
}

/** What a grant approved for this command stores: the binding (runUse) and the line it showed. */
export function runGrantFields(c: ApprovedCommand): { runCommand: RunUse; runLine: string } {
  return { runCommand: runUse(c), runLine: shownLine(c) };
}

/** Audit detail fields for a command (no values: argv and paths only). */
export function commandAuditDetail(c: ApprovedCommand): Record<string, unknown> {
  return {
    command: shownLine(c),
    commandExe: c.exe,
    commandSha256: c.argvSha256,
    ...(c.agentChosen ? { agentChosen: true } : {}),
  };
}
