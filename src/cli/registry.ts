/** Every `akc` command: its words, flags, help text, and a lazy loader for its code. */
import type { FlagSpecs } from './args.js';
import type { CommandContext } from './context.js';
import { ADMIN_COMMANDS } from './registry-admin.js';
import { HOST_COMMANDS } from './registry-host.js';
import { PROXY_COMMANDS } from './registry-proxy.js';
import { LIFECYCLE_COMMANDS } from './registry-lifecycle.js';
import { SERVICE_COMMANDS } from './registry-service.js';

export interface Command {
  path: string[];
  summary: string;
  usage: string;
  /** Extra lines for --help. */
  details?: string;
  flags: FlagSpecs;
  /** Takes a command line after `--` (`akc run`): a bare command word gets a hint to add `--`. */
  takesCommand?: boolean;
  run(ctx: CommandContext): Promise<number | void>;
}

const secret = () => import('./commands/secret.js');
const vault = () => import('./commands/vault.js');

export const COMMANDS: Command[] = [
  {
    path: ['init'],
    summary: 'create a new vault protected by a master password',
    usage: 'akc init [--keychain | --no-keychain] [--password-stdin]',
    details:
      'Keychain unlock stores a random unlock key in the OS keychain so the host and read-only\n' +
      'commands open without a password; changes always need the password. It is on by default\n' +
      'on macOS (the item is bound to the app) and off on Linux and Windows, where any program\n' +
      'running as you (an agent included) can read the entry: opt in with --keychain.',
    flags: { keychain: {}, 'no-keychain': {} },
    run: async (ctx) => (await vault()).init(ctx),
  },
  {
    path: ['passwd'],
    summary: 'change the master password (rewraps the vault key only)',
    usage: 'akc passwd [--password-stdin]',
    details: 'With --password-stdin, line 1 is the current password and line 2 the new one.',
    flags: {},
    run: async (ctx) => (await vault()).passwd(ctx),
  },
  {
    path: ['status'],
    summary: 'show the vault, data dir, socket and host state',
    usage: 'akc status [--json]',
    flags: {},
    run: async (ctx) => (await vault()).status(ctx),
  },
  {
    path: ['keychain', 'enable'],
    summary: 'store a fresh unlock key in the OS keychain',
    usage: 'akc keychain enable [--password-stdin]',
    flags: {},
    run: async (ctx) => (await vault()).keychain(ctx, true),
  },
  {
    path: ['keychain', 'disable'],
    summary: 'remove the OS keychain unlock key; the password is needed every time',
    usage: 'akc keychain disable [--password-stdin]',
    flags: {},
    run: async (ctx) => (await vault()).keychain(ctx, false),
  },
  {
    path: ['secret', 'set'],
    summary: 'store a value (adds a version) and metadata',
    usage:
      'akc secret set NAME [--new-version] [--type T] [--description D] [--owner O] [--tag T]… [--canary] [--value-stdin [--keep-newline]] [--password-stdin]',
    details:
      'The value comes from a no-echo prompt or --value-stdin, never from the command line.\n' +
      'For a NAME that exists, a new version is asked for on the terminal; without one, pass --new-version.\n' +
      'The version it replaces stays readable to existing grants for the grace period (default 1h,\n' +
      '`akc secret policy NAME --grace D`), then retires.\n' +
      'With --password-stdin and --value-stdin, line 1 of stdin is the password and the rest the value;\n' +
      'with --value-stdin alone (`akc secret set K --value-stdin < keyfile`) the password is asked on\n' +
      'the terminal. --value-stdin drops exactly one trailing newline (\\n or \\r\\n, as echo and editors\n' +
      'add one); --keep-newline keeps the value byte for byte (e.g. a PEM file that must end in one).\n' +
      'Types: api_key token oauth password db_credential webhook_secret ssh_key generic.\n' +
      '--canary marks it as bait: any agent request for it fires the anomaly guard (see `akc guard show`).',
    flags: {
      type: { value: true },
      description: { value: true },
      owner: { value: true },
      tag: { value: true, repeat: true },
      canary: {},
      'new-version': {},
      'value-stdin': {},
      'keep-newline': {},
    },
    run: async (ctx) => (await secret()).set(ctx),
  },
  {
    path: ['secret', 'list'],
    summary: 'list secrets (metadata only)',
    usage: 'akc secret list [--json]',
    flags: {},
    run: async (ctx) => (await secret()).list(ctx),
  },
  {
    path: ['secret', 'show'],
    summary: 'show one secret’s metadata and versions (never the value)',
    usage: 'akc secret show NAME [--json]',
    flags: {},
    run: async (ctx) => (await secret()).show(ctx),
  },
  {
    path: ['secret', 'reveal'],
    summary: 'show a value to a human: on the terminal, or copied to the clipboard (cleared after 30 s)',
    usage: 'akc secret reveal NAME [--version N] [--clipboard] [--force] [--json] [--password-stdin]',
    details:
      'Needs the master password every time (never the keychain) and is audited (secret.reveal).\n' +
      'The value is printed only to a terminal; to a pipe or file only with --force (byte for byte)\n' +
      'or --json. --clipboard copies it with wl-copy, xclip, xsel or pbcopy and clears the clipboard\n' +
      'after 30 s unless something else was copied meanwhile. Agents read values with `akc get`.',
    flags: { version: { value: true }, clipboard: {}, force: {} },
    run: async (ctx) => (await import('./commands/reveal.js')).reveal(ctx),
  },
  {
    path: ['secret', 'rm'],
    summary: 'delete a secret and all its versions',
    usage: 'akc secret rm NAME [--password-stdin]',
    flags: {},
    run: async (ctx) => (await secret()).rm(ctx),
  },
  ...HOST_COMMANDS,
  ...ADMIN_COMMANDS,
  ...PROXY_COMMANDS,
  ...LIFECYCLE_COMMANDS,
  ...SERVICE_COMMANDS,
];

/** Finds the longest command path that prefixes argv (flags may come anywhere after it). */
export function findCommand(argv: readonly string[]): { command: Command; rest: string[] } | null {
  let best: Command | null = null;
  for (const c of COMMANDS) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best ? { command: best, rest: argv.slice(best.path.length) } : null;
}

export function helpFor(c: Command): string {
  return `${c.summary}\n\nusage: ${c.usage}\n${c.details ? '\n' + c.details + '\n' : ''}\nEvery command accepts --help, --json (where it prints data) and --password-stdin.\n`;
}

export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  const lines = COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
  return `akc — Agent Keychain, a keychain for AI agents\n\nusage: akc COMMAND [options]\n\ncommands:\n${lines.join('\n')}\n\nRun \`akc COMMAND --help\` for details. AKC_HOME picks the data dir, AKC_SOCKET the agent socket.\n`;
}
