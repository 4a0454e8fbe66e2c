/**
 * Peer credentials of a connected Unix socket, read from the kernel.
 *
 * The kernel records who called connect(); nothing the peer sends can change it. Linux:
 * getsockopt(SO_PEERCRED) and, on 6.5+, SO_PEERPIDFD, a pidfd that pins the very process
 * so a recycled pid can be detected. macOS: LOCAL_PEERCRED (uid, gid) + LOCAL_PEERPID.
 * Node exposes no API for this, so libc is called through koffi.
 */
import fs from 'node:fs';
import os from 'node:os';
import type net from 'node:net';
import koffi, { type LibraryHandle } from 'koffi';
import { AkcError } from '../../shared/errors.js';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
  /** Linux only, and only when asked for: a pidfd of the peer. The caller must close it (see closePidfd). */
  pidfd?: number;
}

// <sys/socket.h> constants. Linux: SOL_SOCKET=1, SO_PEERCRED=17, SO_PEERPIDFD=77.
// macOS: SOL_LOCAL=0, LOCAL_PEERCRED=1 (struct xucred), LOCAL_PEERPID=2 (pid_t).
const SOL_SOCKET = 1;
const SO_PEERCRED = 17;
const SO_PEERPIDFD = 77;
const SOL_LOCAL = 0;
const LOCAL_PEERCRED = 1;
const LOCAL_PEERPID = 2;
const XUCRED_VERSION = 0;

type GetSockOpt = (fd: number, level: number, name: number, out: unknown, len: number[]) => number;

interface Libc {
  /** getsockopt with an output struct (ucred or xucred) */
  getStruct: GetSockOpt;
  /** getsockopt with an output int (pidfd, pid) */
  getInt: GetSockOpt;
  credSize: number;
}

// Loaded lazily, once: most processes importing core never identify a peer. A load failure
// is remembered too, so a broken libc does not cost a dlopen per connection.
let libc: Libc | Error | undefined;

function loadLibc(): Libc {
  if (libc === undefined) {
    try {
      libc = openLibc();
    } catch (err) {
      libc = err instanceof Error ? err : new Error(String(err));
    }
  }
  if (libc instanceof Error) throw libc;
  return libc;
}

function openLibc(): Libc {
  const mac = process.platform === 'darwin';
  const names = mac ? ['libSystem.B.dylib', '/usr/lib/libSystem.B.dylib'] : ['libc.so.6', 'libc.so'];
  let lib: LibraryHandle | undefined;
  let lastErr: unknown;
  for (const name of names) {
    try {
      lib = koffi.load(name);
      break;
    } catch (err) {
      lastErr = err;
    }
  }
  if (lib === undefined) throw lastErr instanceof Error ? lastErr : new Error('libc not found');
  // Anonymous structs: koffi's type names are process-global, so avoid clashing with others.
  const cred = mac
    ? koffi.struct({
        cr_version: 'uint32_t',
        cr_uid: 'uint32_t',
        cr_ngroups: 'int16_t',
        cr_groups: koffi.array('uint32_t', 16),
      })
    : koffi.struct({ pid: 'int32_t', uid: 'uint32_t', gid: 'uint32_t' });
  const len = koffi.inout(koffi.pointer('uint32_t'));
  return {
    getStruct: lib.func('getsockopt', 'int', ['int', 'int', 'int', koffi.inout(koffi.pointer(cred)), len]),
    getInt: lib.func('getsockopt', 'int', ['int', 'int', 'int', koffi.out(koffi.pointer('int32_t')), len]),
    credSize: koffi.sizeof(cred),
  };
}

function errnoName(): string {
  const code = koffi.errno();
  const name = Object.entries(os.constants.errno).find(([, v]) => v === code)?.[0];
  return name ?? `errno ${code}`;
}

function fail(why: string, cause?: unknown): never {
  throw new AkcError('IO', `failed to read peer credentials: ${why}`, cause === undefined ? undefined : { cause });
}

/** The OS file descriptor behind a connected net.Socket (libuv pipe handle). */
function socketFd(socket: net.Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) fail('socket has no file descriptor (closed or not a unix socket)');
  return fd;
}

/**
 * Who is on the other end of `socket`, per the kernel. Throws AkcError('IO') when it cannot
 * be read. With `{ pidfd: true }` on Linux ≥ 6.5 it also returns a pidfd (left undefined when
 * unavailable); the caller owns it and must closePidfd() it. Off by default so a plain uid
 * check cannot leak descriptors.
 */
export function getPeerCredentials(socket: net.Socket, opts: { pidfd?: boolean } = {}): PeerCredentials {
  if (process.platform !== 'linux' && process.platform !== 'darwin') fail(`unsupported platform ${process.platform}`);
  const fd = socketFd(socket);
  let c: Libc;
  try {
    c = loadLibc();
  } catch (err) {
    fail(`cannot load libc (${err instanceof Error ? err.message : String(err)})`, err);
  }
  if (process.platform === 'darwin') return darwinCredentials(c, fd);

  const ucred: { pid?: number; uid?: number; gid?: number } = { pid: 0, uid: 0, gid: 0 };
  const len = [c.credSize];
  if (c.getStruct(fd, SOL_SOCKET, SO_PEERCRED, ucred, len) !== 0) fail(`getsockopt(SO_PEERCRED): ${errnoName()}`);
  // pid 0 means the peer is in another pid namespace or the socket was not connected.
  if (!ucred.pid || ucred.uid === undefined || ucred.gid === undefined) fail('kernel reported no peer process');
  const creds: PeerCredentials = { pid: ucred.pid, uid: ucred.uid, gid: ucred.gid };
  if (opts.pidfd) {
    // ENOPROTOOPT on kernels < 6.5, ESRCH/EINVAL if the peer is already gone: both just mean "no pidfd".
    const out = [-1];
    if (c.getInt(fd, SOL_SOCKET, SO_PEERPIDFD, out, [4]) === 0 && typeof out[0] === 'number' && out[0] >= 0) {
      creds.pidfd = out[0];
    }
  }
  return creds;
}

function darwinCredentials(c: Libc, fd: number): PeerCredentials {
  const x: { cr_version?: number; cr_uid?: number; cr_ngroups?: number; cr_groups?: number[] } = {
    cr_version: XUCRED_VERSION,
    cr_uid: 0,
    cr_ngroups: 0,
    cr_groups: new Array<number>(16).fill(0),
  };
  if (c.getStruct(fd, SOL_LOCAL, LOCAL_PEERCRED, x, [c.credSize]) !== 0) fail(`getsockopt(LOCAL_PEERCRED): ${errnoName()}`);
  if (x.cr_version !== XUCRED_VERSION || x.cr_uid === undefined) fail('unexpected xucred version');
  const pid = [0];
  if (c.getInt(fd, SOL_LOCAL, LOCAL_PEERPID, pid, [4]) !== 0) fail(`getsockopt(LOCAL_PEERPID): ${errnoName()}`);
  if (!pid[0]) fail('kernel reported no peer process');
  // cr_groups[0] is the effective gid.
  return { pid: pid[0], uid: x.cr_uid, gid: x.cr_groups?.[0] ?? -1 };
}

/**
 * True while `pidfd` still refers to a live (or not yet reaped) process with this pid. A pid
 * cannot be recycled before its process is reaped, so "true" after reading /proc/<pid>
 * proves the data came from the peer and not from a newcomer reusing its pid. The kernel
 * shows "Pid: -1" in the pidfd's fdinfo once the process is gone.
 */
export function pidfdRefersTo(pidfd: number, pid: number): boolean {
  try {
    const info = fs.readFileSync(`/proc/self/fdinfo/${pidfd}`, 'utf8');
    const m = /^Pid:\s*(-?\d+)/m.exec(info);
    return m !== null && Number(m[1]) === pid;
  } catch {
    return false;
  }
}

/** Close the pidfd of `creds`, if any; safe to call twice. */
export function closePidfd(creds: PeerCredentials): void {
  if (creds.pidfd === undefined) return;
  const fd = creds.pidfd;
  delete creds.pidfd;
  try {
    fs.closeSync(fd);
  } catch {
    // already closed: nothing to release
  }
}
