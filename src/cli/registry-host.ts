/** Commands that talk to a running host over the agent socket, and the daemon itself. */
import type { Command } from './registry.js';

const side = () => import('./commands/agent-side.js');

export const HOST_COMMANDS: Command[] = [
  {
    path: ['daemon'],
    summary: 'run the headless host: serve agents, ask approvals on this terminal',
    usage: 'akc daemon [--approval-timeout SECONDS] [--password-stdin]',
    details:
      'Unlocks through the OS keychain when keychain unlock is on, else asks for the password\n' +
      '(or reads it with --password-stdin). Without a terminal it logs pending requests;\n' +
      'decide them with `akc approvals` and `akc approve ID`.',
    flags: { 'approval-timeout': { value: true } },
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
