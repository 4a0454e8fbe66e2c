/**
 * Who is on the other end of a loopback TCP connection (Linux): the kernel lists every
 * TCP socket in /proc/net/tcp{,6} with its owner uid and inode; the client's half of our
 * connection is the row whose local address is the peer's and whose remote address is
 * ours. The process holding that socket inode is found under /proc/<pid>/fd. Then the
 * same checks as for the agent socket: executable, its SHA-256, argv, cwd, parent chain,
 * and a start-time check that the pid was not recycled while we looked.
 *
 * Weaker than Unix-socket peer credentials in one respect: a socket inherited by several
 * processes (fork without close-on-exec) has several holders, and the kernel does not say
 * which one wrote the request. Several holders with different programs are refused.
 */
import fs from 'node:fs';
import type net from 'node:net';
import { hashExecutable } from '../identity/exe-hash.js';
import type { PeerIdentity, ProcessSummary } from '../identity/index.js';
import { parentChain, readProcessInfo, readStartTime, type ProcessInfo } from '../identity/process-info.js';

export class CallerRefused extends Error {
  constructor(
    message: string,
    /** The caller runs as another user (as opposed to: could not be identified). */
    readonly otherUser = false,
  ) {
    super(message);
  }
}

interface TcpRow {
  localAddr: string;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  uid: number;
  inode: number;
}

/** "0100007F:1F90" → ["127.0.0.1", 8080]; IPv6 rows are 32 hex digits in 4 little-endian words. */
function parseEndpoint(text: string): [string, number] | null {
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const hex = text.slice(0, colon);
  const port = parseInt(text.slice(colon + 1), 16);
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    return [`${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}`, port];
  }
  if (hex.length === 32) {
    const bytes: number[] = [];
    for (let w = 0; w < 4; w++) {
      const word = hex.slice(w * 8, w * 8 + 8);
      for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
    }
    // IPv4-mapped: ::ffff:a.b.c.d
    if (bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
      return [bytes.slice(12).join('.'), port];
    }
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    return [groups.join(':'), port];
  }
  return null;
}

/** Rows of /proc/net/tcp{,6} whose local port is `localPort` (other lines are not parsed). */
function readTcpTable(file: string, localPort: number): TcpRow[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const needle = `:${localPort.toString(16).toUpperCase().padStart(4, '0')} `;
  const rows: TcpRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    if (!line.includes(needle)) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = parseEndpoint(f[1]!);
    const remote = parseEndpoint(f[2]!);
    if (!local || !remote) continue;
    rows.push({
      localAddr: local[0],
      localPort: local[1],
      remoteAddr: remote[0],
      remotePort: remote[1],
      uid: Number(f[7]),
      inode: Number(f[9]),
    });
  }
  return rows;
}

/** Strips the IPv4-mapped prefix Node reports for dual-stack sockets. */
function plainAddress(address: string | undefined): string {
  return (address ?? '').replace(/^::ffff:/i, '');
}

/** The client's socket (uid, inode) of our accepted connection `socket`, or null. */
export function findClientSocket(socket: net.Socket): { uid: number; inode: number } | null {
  const peerAddr = plainAddress(socket.remoteAddress);
  const ourAddr = plainAddress(socket.localAddress);
  const peerPort = socket.remotePort;
  const ourPort = socket.localPort;
  if (peerPort === undefined || ourPort === undefined) return null;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const r of readTcpTable(file, peerPort)) {
      if (r.localPort === peerPort && r.remotePort === ourPort && r.localAddr === peerAddr && r.remoteAddr === ourAddr && r.inode !== 0) {
        return { uid: r.uid, inode: r.inode };
      }
    }
  }
  return null;
}

/** Recent callers first: an agent usually makes many requests. */
const recentPids: number[] = [];
function rememberPid(pid: number): void {
  const i = recentPids.indexOf(pid);
  if (i >= 0) recentPids.splice(i, 1);
  recentPids.unshift(pid);
  if (recentPids.length > 32) recentPids.pop();
}

function holdsSocket(pid: number, link: string): string | null {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null; // gone, or not ours to read
  }
  for (const fd of fds) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === link) return fd;
    } catch {
      // closed meanwhile
    }
  }
  return null;
}

/**
 * Every process holding socket `inode`: pid and the fd number. Scans all of /proc (a
 * shared socket must be noticed), yielding to the event loop between batches so a large
 * process table does not stall the host's other clients.
 */
export async function socketHolders(inode: number): Promise<{ pid: number; fd: string }[]> {
  const link = `socket:[${inode}]`;
  const holders: { pid: number; fd: string }[] = [];
  const seen = new Set<number>();
  const check = (pid: number): void => {
    if (seen.has(pid)) return;
    seen.add(pid);
    const fd = holdsSocket(pid, link);
    if (fd !== null) holders.push({ pid, fd });
  };
  for (const pid of recentPids) check(pid);
  const all = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .sort((a, b) => b - a);
  for (let i = 0; i < all.length; i++) {
    check(all[i]!);
    if (i % 64 === 63) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return holders;
}

function summary(p: ProcessInfo): ProcessSummary {
  return { pid: p.pid, exe: p.exe, argv: p.argv, cwd: p.cwd, uid: p.uid, script: p.script };
}

function readGid(pid: number): number {
  try {
    const m = /^Gid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/**
 * Identifies the local process on the other end of loopback TCP connection `socket`.
 * Throws CallerRefused when it cannot be identified or runs as another user.
 */
export async function identifyTcpPeer(socket: net.Socket): Promise<PeerIdentity> {
  if (process.platform !== 'linux') {
    throw new CallerRefused('callers on loopback TCP can be identified only on Linux; use the proxy’s Unix socket instead');
  }
  const ourUid = process.getuid!();
  const client = findClientSocket(socket);
  if (!client) throw new CallerRefused('cannot find the calling socket in /proc/net/tcp (not a local process?)');
  if (client.uid !== ourUid) throw new CallerRefused(`the caller's socket belongs to uid ${client.uid}, not ours`, true);
  const holders = await socketHolders(client.inode);
  if (holders.length === 0) throw new CallerRefused('no process of this user holds the calling socket');

  const identities: PeerIdentity[] = [];
  for (const h of holders) identities.push(await identifyPid(h.pid, h.fd, client.inode, ourUid));
  const first = identities[0]!;
  const distinct = new Set(identities.map((i) => `${i.exe}\0${i.exeSha256}\0${i.script}`));
  if (distinct.size > 1) {
    throw new CallerRefused(
      `the calling socket is shared by several programs (pids ${identities.map((i) => i.pid).join(', ')}); connect from one process`,
    );
  }
  rememberPid(first.pid);
  return first;
}

async function identifyPid(pid: number, fd: string, inode: number, ourUid: number): Promise<PeerIdentity> {
  const startBefore = readStartTime(pid);
  const info = readProcessInfo(pid);
  if (info.uid !== ourUid) throw new CallerRefused(`the calling process ${pid} runs as uid ${info.uid}, not ours`, true);
  const exeSha256 = await hashExecutable(`/proc/${pid}/exe`).catch(() => null);
  const parents = parentChain(pid).map(summary);
  const gid = readGid(pid);
  // Same process all along (start time), and it still holds the socket.
  let stillHolds: boolean;
  try {
    stillHolds = fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
  } catch {
    stillHolds = false;
  }
  if (startBefore === null || startBefore !== info.startTime || readStartTime(pid) !== startBefore || !stillHolds) {
    throw new CallerRefused(`the calling process ${pid} went away while it was being identified`);
  }
  return {
    ...summary(info),
    uid: info.uid,
    gid,
    exeSha256,
    startTime: info.startTime,
    parents,
    pidCheck: 'starttime',
  };
}
