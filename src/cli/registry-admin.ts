/** Policy and audit administration commands (agents, grants, policy-as-code, leases, audit). */
import type { Command } from './registry.js';

const agent = () => import('./commands/agent.js');
const grant = () => import('./commands/grant.js');
const policy = () => import('./commands/policy.js');
const lease = () => import('./commands/lease.js');
const audit = () => import('./commands/audit.js');

const PASSWORD_NOTE = 'Needs the master password every time (never the keychain), from a prompt or --password-stdin. Audited.';

export const ADMIN_COMMANDS: Command[] = [
  {
    path: ['agent', 'add'],
    summary: 'register an agent: a name bound to rules on its executable, hash, argv and cwd',
    usage: 'akc agent add NAME --exe PATH [--sha256 auto|HEX] [--arg-pattern GLOB] [--cwd GLOB] [--replace] [--password-stdin]',
    details:
      'A process is this agent only if every rule matches what the kernel reports about it:\n' +
      '  --exe PATH          the executable, or the script for node/python/bash/... agents\n' +
      '  --sha256 auto|HEX   pin the executable’s SHA-256 (auto hashes the file now)\n' +
      '  --arg-pattern GLOB  glob over its arguments (argv[1..] joined by spaces; for akc itself, its subcommand)\n' +
      '  --cwd GLOB          glob over its working directory\n' +
      '  --replace           change the rules of an existing agent (its grants stay)\n' +
      'Globs: * within a path segment, ** across segments, ? one character.\n' +
      PASSWORD_NOTE,
    flags: { exe: { value: true }, sha256: { value: true }, 'arg-pattern': { value: true }, cwd: { value: true }, replace: {} },
    run: async (ctx) => (await agent()).add(ctx),
  },
  {
    path: ['agent', 'list'],
    summary: 'list registered agents',
    usage: 'akc agent list [--all] [--json]',
    details: '--all also lists revoked agents.',
    flags: { all: {} },
    run: async (ctx) => (await agent()).list(ctx),
  },
  {
    path: ['agent', 'revoke'],
    summary: 'revoke an agent with all its grants and leases',
    usage: 'akc agent revoke NAME [--password-stdin]',
    details: PASSWORD_NOTE,
    flags: {},
    run: async (ctx) => (await agent()).revoke(ctx),
  },
  {
    path: ['grant'],
    summary: 'let an agent get a secret (or every secret matching a glob) without asking',
    usage: 'akc grant AGENT SECRET|GLOB (--for DURATION | --until-lock | --always) [--uses N] [--keep-on-rotate] [--password-stdin]',
    details:
      'Exactly one of:\n' +
      '  --for DURATION   for a while: 30s, 15m, 1h, 2d, 1w or combinations like 1h30m\n' +
      '  --until-lock     until the vault locks\n' +
      '  --always         until revoked (`akc ungrant ID`)\n' +
      '--uses N limits the grant to N deliveries. --keep-on-rotate keeps it when the secret is rotated.\n' +
      'If the agent has a pinned sha256, the grant applies only while its executable has that hash.\n' +
      PASSWORD_NOTE,
    flags: { for: { value: true }, 'until-lock': {}, always: {}, uses: { value: true }, 'keep-on-rotate': {} },
    run: async (ctx) => (await grant()).grant(ctx),
  },
  {
    path: ['grants'],
    summary: 'list grants (live ones; --all includes ended)',
    usage: 'akc grants [--all] [--json]',
    flags: { all: {} },
    run: async (ctx) => (await grant()).grants(ctx),
  },
  {
    path: ['ungrant'],
    summary: 'revoke a grant',
    usage: 'akc ungrant ID [--password-stdin]',
    details: PASSWORD_NOTE,
    flags: {},
    run: async (ctx) => (await grant()).ungrant(ctx),
  },
  {
    path: ['block'],
    summary: 'deny every request from an agent, whatever else is granted',
    usage: 'akc block AGENT [--password-stdin]',
    details: 'A block is a deny grant on every secret ("**"); deny always wins over allow.\n' + PASSWORD_NOTE,
    flags: {},
    run: async (ctx) => (await grant()).block(ctx),
  },
  {
    path: ['unblock'],
    summary: 'lift a block: an agent’s, or a program’s blocked from a prompt',
    usage: 'akc unblock AGENT|prog:FINGERPRINT|GRANT_ID [--password-stdin]',
    details:
      'A program blocked from a prompt ("Deny & block", `b` in the daemon) is not an agent: name it by\n' +
      'the fingerprint `akc grants` shows (prog: and at least 8 hex digits) or by the block’s grant id.\n' +
      PASSWORD_NOTE,
    flags: {},
    run: async (ctx) => (await grant()).unblock(ctx),
  },
  {
    path: ['policy', 'export'],
    summary: 'print agents and standing grants as a policy file (YAML or JSON)',
    usage: 'akc policy export [--format yaml|json]',
    details:
      'Exports live agents, grants with scope always or duration, and blocks, in a stable order,\n' +
      'for version control. Once and until-lock grants are not exported. --json means --format json.',
    flags: { format: { value: true } },
    run: async (ctx) => (await policy()).exportPolicy(ctx),
  },
  {
    path: ['policy', 'import'],
    summary: 'apply a policy file (agents upserted by name, grants not duplicated)',
    usage: 'akc policy import FILE [--replace] [--password-stdin] [--json]',
    details:
      'YAML or JSON (by extension, else by content), validated before anything changes; all in one\n' +
      'transaction. Importing the same file again changes nothing. --replace also revokes standing\n' +
      'grants (always/duration) that are not in the file.\n' +
      PASSWORD_NOTE,
    flags: { replace: {} },
    run: async (ctx) => (await policy()).importPolicy(ctx),
  },
  {
    path: ['leases'],
    summary: 'list live leases (who holds which secret version until when)',
    usage: 'akc leases [--json]',
    flags: {},
    run: async (ctx) => (await lease()).list(ctx),
  },
  {
    path: ['lease', 'revoke'],
    summary: 'revoke a lease',
    usage: 'akc lease revoke ID [--password-stdin]',
    details: PASSWORD_NOTE,
    flags: {},
    run: async (ctx) => (await lease()).revoke(ctx),
  },
  {
    path: ['audit'],
    summary: 'show the activity log',
    usage: 'akc audit [--agent A] [--secret S] [--since T] [--limit N] [--follow] [--json]',
    details:
      'T is an ISO date (2025-01-31, 2025-01-31T12:00:00Z) or a time ago (15m, 2h, 7d).\n' +
      'Shows the newest N matching entries (default 100). --follow keeps printing new entries until Ctrl-C\n' +
      '(with --json: one JSON object per line).',
    flags: { agent: { value: true }, secret: { value: true }, since: { value: true }, limit: { value: true }, follow: { short: 'f' } },
    run: async (ctx) => (await audit()).list(ctx),
  },
  {
    path: ['audit', 'verify'],
    summary: 'check that no audit entry was altered, inserted, deleted or reordered',
    usage: 'akc audit verify [--password-stdin] [--json]',
    details:
      'Walks the hash chain; when the vault can be unlocked (keychain or --password-stdin) also checks\n' +
      'the signed checkpoints, which catch a rewritten chain. Exit 1 names the first bad entry.',
    flags: {},
    run: async (ctx) => (await audit()).verify(ctx),
  },
  {
    path: ['audit', 'export'],
    summary: 'print the activity log as JSON Lines',
    usage: 'akc audit export [--since T]',
    details: 'One entry per line, with its chain hashes. Never a value.',
    flags: { since: { value: true } },
    run: async (ctx) => (await audit()).exportLog(ctx),
  },
];
