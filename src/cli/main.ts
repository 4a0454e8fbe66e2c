/**
 * `akc` entry: finds the command, parses its flags, runs it, and turns errors into one
 * `akc: error:` line (plus an optional `akc: hint:`) and a non-zero exit code.
 * Command modules are imported lazily so `akc get` never loads SQLite or Argon2.
 */
import { parseArgs, flag, firstPositionalIndex, shellWord, UsageError } from './args.js';
import { printError, processIo, type Io } from './io.js';
import { makeContext } from './context.js';
import { COMMANDS, findCommand, helpFor, overview, type Command } from './registry.js';
import { closest, didYouMean } from './suggest.js';
import { akcVersion } from './version.js';
import { isAkcError } from '../shared/errors.js';
import { resolvePaths } from '../core/paths.js';

export async function main(argv: string[], io: Io = processIo): Promise<void> {
  // Files and sockets we create are private to this user.
  process.umask(0o077);
  const code = await run(argv, io);
  process.exitCode = code;
}

export async function run(argv: string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    const topic = argv[0] === 'help' ? findCommand(argv.slice(1)) : null;
    io.stdout.write(topic ? helpFor(topic.command) : overview());
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === 'version') {
    io.stdout.write(`akc ${akcVersion()}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    printError(io, unknownCommand(argv));
    io.stderr.write('akc: hint: run `akc --help` for the list of commands\n');
    return 2;
  }
  const { command, rest } = found;
  try {
    const specs = { ...GLOBAL_FLAGS, ...command.flags };
    if (command.takesCommand) commandNeedsDashDash(command, rest, specs);
    const args = parseArgs(rest, specs);
    if (flag(args, 'help')) {
      io.stdout.write(helpFor(command));
      return 0;
    }
    const ctx = makeContext(args, io, resolvePaths(), command.path.join(' '));
    const result = await command.run(ctx);
    return typeof result === 'number' ? result : 0;
  } catch (err) {
    printError(io, err);
    if (err instanceof UsageError) {
      io.stderr.write(`akc: hint: see \`akc ${command.path.join(' ')} --help\`\n`);
      return 2;
    }
    if (process.env.AKC_DEBUG === '1' && !isAkcError(err) && err instanceof Error) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/** Top-level options (before any command). */
const TOP_OPTIONS = ['--help', '--version'];

/**
 * The error for argv that names no command: a stray option (`akc -v`), a command group
 * without its subcommand (`akc secret`), or a typo (`akc stauts`, `akc secret lsit`).
 */
function unknownCommand(argv: readonly string[]): UsageError {
  const first = argv[0] ?? '';
  if (first.startsWith('-')) {
    const bare = first.replace(/^-+/, '').split('=')[0]!.toLowerCase();
    const prefixed = bare ? TOP_OPTIONS.filter((o) => o.slice(2).startsWith(bare)) : [];
    const hint = prefixed.length === 1 ? `did you mean ${prefixed[0]}?` : didYouMean(`--${bare}`, TOP_OPTIONS);
    return new UsageError(`unknown option ${first} (an option comes after the command: akc COMMAND [options])`, hint ?? undefined);
  }
  const words = argv.filter((a) => !a.startsWith('-'));
  const subcommands = COMMANDS.filter((c) => c.path.length > 1 && c.path[0] === first).map((c) => c.path[1]!);
  if (subcommands.length > 0) {
    const sub = argv[1];
    const list = `akc ${first} has: ${subcommands.join(', ')}`;
    if (sub === undefined || sub.startsWith('-')) return new UsageError(`akc ${first} needs a subcommand: ${subcommands.join(', ')}`);
    return new UsageError(
      `unknown command ${JSON.stringify(`${first} ${sub}`)}`,
      didYouMean(sub, subcommands, (s) => `\`akc ${first} ${s}\``) ?? list,
    );
  }
  const tops = [...new Set(COMMANDS.map((c) => c.path[0]!))];
  const near = closest(first, tops);
  const suggestions = near.map((top) => {
    // `akc secrte list` → `akc secret list` when that is a command.
    const second = words[1];
    return second !== undefined && COMMANDS.some((c) => c.path[0] === top && c.path[1] === second) ? `${top} ${second}` : top;
  });
  return new UsageError(
    `unknown command ${JSON.stringify(words.slice(0, 2).join(' '))}`,
    suggestions.length ? `did you mean ${suggestions.map((s) => `\`akc ${s}\``).join(' or ')}?` : undefined,
  );
}

/** `akc run python3 -c 1`: the command line belongs after `--`; say where it goes. */
function commandNeedsDashDash(command: Command, rest: readonly string[], specs: Parameters<typeof parseArgs>[1]): void {
  const at = firstPositionalIndex(rest, specs);
  if (at === -1) return;
  const fixed = [...command.path, ...rest.slice(0, at), '--', ...rest.slice(at)].map(shellWord).join(' ');
  throw new UsageError(`put the command after --, so its options are not read as akc's`, `akc ${fixed}`);
}

/** Accepted by every command (a command that needs no password ignores --password-stdin). */
const GLOBAL_FLAGS = {
  help: { short: 'h' },
  json: {},
  'password-stdin': {},
} as const;

export { COMMANDS };
