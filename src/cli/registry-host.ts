/** Commands that talk to a running host over the agent socket, and the daemon itself. */
import type { Command } from './registry.js';

const side = () => import('./commands/agent-side.js');

export const HOST_COMMANDS: Command[] = [
  {
    path: ['daemon'],
    summary: 'run the headless host: serve agents, ask approvals on this terminal',
    usage: 'akc daemon [--approval-timeout SECONDS] [--approve-with-password] [--password-stdin] | akc daemon --service [--config FILE]',
    details:
      'Unlocks through the OS keychain when keychain unlock is on, else asks for the password\n' +
      '(or reads it with --password-stdin). Without a terminal it logs pending requests;\n' +
      'decide them with `akc approvals` and `akc approve ID`.\n' +
      '--approve-with-password: every allow typed on this terminal also needs the master\n' +
      'password, so a program that can type into it (tmux send-keys) cannot approve.\n' +
      '--service runs the hardened host (as the service user, see `akc service install`): no terminal,\n' +
      'no keychain; it starts locked and is unlocked with `akc unlock` by the desktop user.',
    flags: { 'approval-timeout': { value: true }, 'approve-with-password': {}, service: {}, config: { value: true } },
    run: async (ctx) => (await import('./commands/daemon.js')).daemon(ctx),
  },
  {
    path: ['get'],
    summary: 'print a secret’s value (asks the host; may wait for approval)',
    usage: 'akc get NAME [--purpose P] [--version N] [--agent HINT] [--json] [--no-newline]',
    details: 'The value goes to stdout only; status lines ("waiting for approval…") go to stderr.',
    flags: { purpose: { value: true }, version: { value: true }, agent: { value: true }, 'no-newline': {} },
    run: async (ctx) => (await side()).get(ctx),
  },
  {
    path: ['run'],
    summary: 'run a command with secrets in its environment; its output is redacted',
    usage: 'akc run [--env VAR=NAME…] [--env-file FILE…] [--proxy BINDING…] [--purpose P] [--no-redact] [--agent HINT] -- CMD ARGS…',
    details:
      'One approval covers every secret. The values exist only in the child’s environment (never\n' +
      'in argv nor in akc’s own environment). The child’s stdout/stderr pass through a streaming\n' +
      'redactor: each value and its base64, base64url, hex and URL-encoded forms, its JSON,\n' +
      'shell, YAML and Python-repr escaped forms and each line (8+ characters) of a multi-line\n' +
      'value become [REDACTED:NAME], even when split across writes. stdin, the exit code and\n' +
      'signals pass through (SIGINT, SIGTERM, SIGHUP are forwarded). The leases end when the\n' +
      'child exits.\n' +
      'When stdout and stderr are one file (a terminal, 2>&1) the child writes both into one channel,\n' +
      'so its lines keep their order; to two different files each is relayed as it arrives.\n' +
      '--env-file FILE reads a dotenv file: KEY=akc://SECRET_NAME lines are secrets of this run (as\n' +
      '`op run --env-file` reads op:// references), every other KEY=value is passed literally.\n' +
      '(Node itself checks every --env-file FILE on its command line: a missing one ends akc with\n' +
      '`node: FILE: not found`, exit 9, before it starts.)\n' +
      '--no-redact passes the output through untouched; it is shown in the approval and audited.\n' +
      '--proxy BINDING sets the binding’s base-URL variable (e.g. OPENAI_BASE_URL) to the brokering\n' +
      'proxy and a placeholder key: the child calls the API without ever holding the credential.\n' +
      'The approval shows the command line and the executable it resolves to; a grant made from it\n' +
      'covers this command only. --agent-chosen marks the command as chosen by an agent (`akc mcp`\n' +
      'sets it); the approval says so.',
    flags: {
      env: { value: true, repeat: true },
      'env-file': { value: true, repeat: true },
      proxy: { value: true, repeat: true },
      purpose: { value: true },
      'no-redact': {},
      agent: { value: true },
      'agent-chosen': {},
    },
    takesCommand: true,
    run: async (ctx) => (await import('./commands/run.js')).run(ctx),
  },
  {
    path: ['inject'],
    summary: 'fill {{ akc://NAME }} references in a template (one approval)',
    usage: 'akc inject -i TEMPLATE [-o OUT] [--json | --yaml] [--purpose P] [--agent HINT]',
    details:
      'References are exactly {{ akc://NAME }} (spaces optional); a malformed or unknown one is an\n' +
      'error naming its line. --json escapes values as JSON string content, --yaml as the body of a\n' +
      'YAML double-quoted scalar (the template supplies the quotes). -i - reads the template from\n' +
      'stdin. -o OUT writes OUT with mode 0600 (replacing, never following, a symlink) and warns\n' +
      'that the values now sit on disk; without -o the result goes to stdout.',
    flags: {
      input: { value: true, short: 'i' },
      output: { value: true, short: 'o' },
      yaml: {},
      purpose: { value: true },
      agent: { value: true },
    },
    run: async (ctx) => (await import('./commands/inject.js')).inject(ctx),
  },
  {
    path: ['scan'],
    summary: 'find stored secret values (any version, raw or encoded) in files and git history',
    usage: 'akc scan PATH… [--git] [--json] [--password-stdin]',
    details:
      'Looks for every version of every secret, raw and base64 / base64url / hex / URL-encoded,\n' +
      'JSON / shell / YAML / Python-repr escaped, and each line (8+ characters) of a multi-line\n' +
      'value on its own. Prints path:line NAME (vN, encoding[, line N of the value]), never a\n' +
      'value; exit 1 when anything is found, 0 when clean, 2 when a PATH does not exist. Symlinks are not followed; .git is\n' +
      'skipped, node_modules too unless given as PATH.\n' +
      '--git also scans every blob reachable from any ref of the repository at PATH and prints\n' +
      'commit:path:line for the commit that introduced it. Opens the vault directly (OS keychain\n' +
      'or master password); no host needed.',
    flags: { git: {} },
    run: async (ctx) => (await import('./commands/scan.js')).scan(ctx),
  },
  {
    path: ['lock'],
    summary: 'lock the running host (zeroes keys, ends until-lock grants)',
    usage: 'akc lock [--revoke-all]',
    details: '--revoke-all also revokes every live lease (break-glass).',
    flags: { 'revoke-all': {} },
    run: async (ctx) => (await side()).lock(ctx),
  },
  {
    path: ['unlock'],
    summary: 'unlock the running host with the master password',
    usage: 'akc unlock [--password-stdin]',
    flags: {},
    run: async (ctx) => (await side()).unlock(ctx),
  },
  {
    path: ['approvals'],
    summary: 'list pending approval requests',
    usage: 'akc approvals [--json]',
    flags: {},
    run: async (ctx) => (await side()).approvals(ctx),
  },
  {
    path: ['approve'],
    summary: 'allow a pending request (needs the master password)',
    usage: 'akc approve ID [--once | --for 15m|1h | --until-lock | --always] [--password-stdin]',
    flags: { for: { value: true }, 'until-lock': {}, always: {}, once: {} },
    run: async (ctx) => (await side()).decide(ctx, true),
  },
  {
    path: ['deny'],
    summary: 'deny a pending request (needs the master password)',
    usage: 'akc deny ID [--block] [--password-stdin]',
    details: '--block also blocks the program from asking again (a deny-always grant).',
    flags: { block: {} },
    run: async (ctx) => (await side()).decide(ctx, false),
  },
];
