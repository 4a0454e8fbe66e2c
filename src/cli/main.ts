/**
 * `akc` entry: finds the command, parses its flags, runs it, and turns errors into one
 * `akc: error:` line (plus an optional `akc: hint:`) and a non-zero exit code.
 * Command modules are imported lazily so `akc get` never loads SQLite or Argon2.
 */
import { parseArgs, flag, UsageError } from './args.js';
import { printError, processIo, type Io } from './io.js';
import { makeContext } from './context.js';
import { COMMANDS, findCommand, helpFor, overview } from './registry.js';
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
    io.stdout.write(`akc ${VERSION}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    printError(
      io,
      new UsageError(
        `unknown command ${JSON.stringify(
          argv
            .filter((a) => !a.startsWith('-'))
            .slice(0, 2)
            .join(' '),
        )}`,
      ),
    );
    io.stderr.write('akc: hint: run `akc --help` for the list of commands\n');
    return 2;
  }
  const { command, rest } = found;
  try {
    const args = parseArgs(rest, { ...GLOBAL_FLAGS, ...command.flags });
    if (flag(args, 'help')) {
      io.stdout.write(helpFor(command));
      return 0;
    }
    const ctx = makeContext(args, io, resolvePaths());
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

const VERSION = '0.1.0';

/** Accepted by every command (a command that needs no password ignores --password-stdin). */
const GLOBAL_FLAGS = {
  help: { short: 'h' },
  json: {},
  'password-stdin': {},
} as const;

export { COMMANDS };
