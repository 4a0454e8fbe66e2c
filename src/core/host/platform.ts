/**
 * Where a host (the desktop app, `akc daemon`) can run. The host identifies every agent
 * connection from the kernel — peer credentials, then the process's executable, argv, cwd
 * and parents — and that is implemented for Linux and macOS only. Windows would need the
 * named-pipe path (GetNamedPipeClientProcessId, the client's image path and hash), which
 * does not exist yet: every connection would be refused there, so the host refuses to
 * start instead, and says why.
 */
import { AkcError } from '../../shared/errors.js';

export const HOST_PLATFORMS: readonly string[] = ['linux', 'darwin'];

export function assertHostPlatform(platform: string = process.platform): void {
  if (HOST_PLATFORMS.includes(platform)) return;
  const name = platform === 'win32' ? 'windows' : platform;
  throw new AkcError(
    'UNSUPPORTED_PLATFORM',
    `${name} is not supported yet: the host cannot identify the programs that connect to it there (peer identification exists for linux and macos only)`,
    { hint: 'run Agent Keychain on Linux or macOS' },
  );
}
