/**
 * The systemd unit of the hardened host. Each option is there for a reason:
 *
 * - User=/Group= the service user: the whole point (the desktop user's agents cannot read
 *   its files, its memory or its /proc entries).
 * - AmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH (nothing else in the bounding
 *   set): identifying a peer of another uid needs /proc/<pid>/{exe,cwd} (guarded by the
 *   ptrace access check) and /proc/<pid>/environ (also mode 0400, owned by the peer: the
 *   injection check of identity/injection.ts fails closed without it). SystemCallFilter
 *   removes ptrace(2), process_vm_readv and process_vm_writev, so the capabilities serve
 *   /proc reads, not debugging. The cost, stated in the README: a compromised host could
 *   read any file; it already holds every secret, and ProtectSystem keeps it from writing.
 * - ProtectHome=read-only, not yes: `akc agent add --sha256 auto` and request-time hashing
 *   read agents' executables and scripts, which usually live under /home. Read-only keeps
 *   the host from writing there; it still reads only what the file modes let it.
 * - ProtectSystem=strict + ReadWritePaths=<data dir>: the only place it writes (the socket
 *   dir is the RuntimeDirectory, writable by construction).
 * - NoNewPrivileges, PrivateTmp, PrivateDevices, ProtectKernel*, ProtectControlGroups,
 *   RestrictSUIDSGID, LockPersonality, RestrictNamespaces, RestrictRealtime, UMask=0077:
 *   the usual confinement; none of them is needed by the host.
 * - MemoryDenyWriteExecute is left out: V8's JIT needs writable+executable pages.
 * - LimitCORE=0: no core dumps of a process holding the vault key.
 */
export interface UnitOptions {
  serviceUser: string;
  /** The Node binary and akc entry point the service runs. */
  nodePath: string;
  akcPath: string;
  configPath: string;
  dataDir: string;
  /** The socket's directory: must be /run/<RuntimeDirectory> for systemd to create it. */
  socketDir: string;
}

export function systemdUnit(o: UnitOptions): string {
  const runtime = o.socketDir.startsWith('/run/') ? o.socketDir.slice('/run/'.length) : null;
  return [
    '# Agent Keychain hardened host (written by `akc service install`).',
    '[Unit]',
    'Description=Agent Keychain hardened host',
    'After=local-fs.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${o.serviceUser}`,
    `Group=${o.serviceUser}`,
    `ExecStart=${quote(o.nodePath)} ${quote(o.akcPath)} daemon --service --config ${quote(o.configPath)}`,
    `Environment=AKC_SERVICE_CONFIG=${quote(o.configPath)}`,
    'Restart=on-failure',
    'UMask=0077',
    ...(runtime ? [`RuntimeDirectory=${runtime}`, 'RuntimeDirectoryMode=0755'] : []),
    `ReadWritePaths=${quote(o.dataDir)}`,
    'ProtectSystem=strict',
    'ProtectHome=read-only',
    'PrivateTmp=yes',
    'PrivateDevices=yes',
    'NoNewPrivileges=yes',
    'CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH',
    'AmbientCapabilities=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH',
    'SystemCallFilter=@system-service',
    'SystemCallFilter=~ptrace process_vm_readv process_vm_writev',
    'SystemCallArchitectures=native',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectKernelLogs=yes',
    'ProtectControlGroups=yes',
    'ProtectClock=yes',
    'ProtectHostname=yes',
    'RestrictSUIDSGID=yes',
    'RestrictRealtime=yes',
    'RestrictNamespaces=yes',
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
    'LockPersonality=yes',
    'LimitCORE=0',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** systemd quoting: paths with spaces in double quotes (backslash and quote escaped). */
function quote(p: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(p) ? p : `"${p.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
