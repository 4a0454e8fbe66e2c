/**
 * The command an `akc run` (or MCP `run_with_secrets`) request will hand its secrets to,
 * as a line a human reads in the approval. Pure, no imports: shared by the host, the CLI
 * and the desktop view models. Not sanitised here: every caller passes the result through
 * sanitizeLine before it reaches a terminal or the UI (argv is chosen by the requester).
 */

/** A word as a POSIX shell would need it typed, so the line shows where each argument ends. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `node -e 'console.log(1)'` for ['node', '-e', 'console.log(1)']. */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellWord).join(' ');
}
