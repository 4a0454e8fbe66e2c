/** The hardened host mode: `akc service install|uninstall|status` (see src/core/service). */
import type { Command } from './registry.js';

const service = () => import('./commands/service.js');

export const SERVICE_COMMANDS: Command[] = [
  {
    path: ['service', 'install'],
    summary: 'run the host as its own system user (hardened mode; Linux, needs sudo)',
    usage: 'sudo akc service install --user DESKTOP_USER [--service-user akc-host] [--root DIR] [--json]',
    details:
      'Creates the system user (if missing), /var/lib/agent-keychain (0700, the vault), /run/agent-keychain\n' +
      '(0755, the socket), /etc/agent-keychain/host.json (0644, no secret) and the systemd unit\n' +
      'agent-keychain.service, then enables and starts it when systemd runs (else prints the commands).\n' +
      'Only DESKTOP_USER’s processes are served. Agents running as that user can ask for secrets but\n' +
      'cannot read the vault, the keys, the host’s memory or its files. Afterwards, as DESKTOP_USER:\n' +
      '`akc init`, `akc secret set …`, `akc unlock`; every admin command goes through the host.\n' +
      '--root DIR installs under DIR (tests, staging); host.json and the unit then point under DIR.\n' +
      'macOS (launchd): see docs/launchd.md.',
    flags: { user: { value: true }, 'service-user': { value: true }, root: { value: true } },
    run: async (ctx) => (await service()).install(ctx),
  },
  {
    path: ['service', 'uninstall'],
    summary: 'stop and remove the hardened host (keeps the vault unless --purge)',
    usage: 'sudo akc service uninstall [--purge] [--root DIR] [--json]',
    details: '--purge also deletes the data dir, and with it every secret. The system user is kept.',
    flags: { purge: {}, root: { value: true } },
    run: async (ctx) => (await service()).uninstall(ctx),
  },
  {
    path: ['service', 'status'],
    summary: 'show the hardened host’s install, owners and modes, and whether it runs',
    usage: 'akc service status [--root DIR] [--json]',
    flags: { root: { value: true } },
    run: async (ctx) => (await service()).status(ctx),
  },
];
