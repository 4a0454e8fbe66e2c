/**
 * Who is on the other end of an agent socket: kernel peer credentials, then what
 * that pid runs, its executable's SHA-256 and its parent chain. Nothing here trusts what the
 * peer says about itself; argv/script are shown to humans but the uid and pid come from the
 * kernel and the executable from /proc/<pid>/exe.
 */
import type net from 'node:net';
import { hashExecutable } from './exe-hash.js';
import { closePidfd, getPeerCredentials, pidfdRefersTo } from './peercred.js';
import { hashScript, readInjectedCode } from './code-check.js';
import { parentChain, readProcessInfo, readStartTime, type ProcessInfo } from './process-info.js';

export { getPeerCredentials, pidfdRefersTo, closePidfd, type PeerCredentials } from './peercred.js';
export {
  readProcessInfo,
  readStartTime,
  readEnviron,
  parentChain,
  scriptFromArgv,
  scriptIndexInArgv,
  codeFlagsFromArgv,
  interpreterFamily,
  type ProcessInfo,
} from './process-info.js';
export { hashExecutable, exeHashCacheStats, clearExeHashCache } from './exe-hash.js';
export { hashScript, injectedCodeOf, readInjectedCode, type CodeCheck } from './code-check.js';
export { injectedVariables, nodeOptionsInjects, whyInjects } from './injection.js';

export interface ProcessSummary {
  pid: number;
  exe: string | null;
  argv: string[];
  cwd: string | null;
  uid: number | null;
  /** From argv: a claim (see process-info.ts). */
  script: string | null;
  /**
   * Code besides the program's own (code-check.ts): injecting variable names and options;
   * null when the environment could not be read; absent when nobody looked.
   */
  injectedCode?: string[] | null;
}

export interface PeerIdentity extends ProcessSummary {
  /** From the kernel's socket credentials, not from /proc. */
  uid: number;
  gid: number;
  exeSha256: string | null;
  startTime: string | null;
  /** Ancestors, nearest first (parents[0] is the peer's parent). */
  parents: ProcessSummary[];
  /**
   * How we know the /proc data belongs to the peer and not to a process that reused its pid:
   * 'pidfd' (Linux ≥ 6.5: the peer was provably alive after every read), 'starttime' (same
   * start time before and after the reads; best effort), or 'vanished' (the peer exited
   * while we looked: only the kernel credentials are kept, everything else is null/empty).
   */
  pidCheck: 'pidfd' | 'starttime' | 'vanished';
  /** SHA-256 of the script file's content (code-check.ts); the host refreshes it per request. */
  scriptSha256?: string | null;
  /** See ProcessSummary.injectedCode; for the peer itself an unreadable environment makes it unidentified. */
  injectedCode?: string[] | null;
  /**
   * Why this peer cannot be identified (it exited, its executable or environment could not
   * be read). The host refuses every request of an unidentified peer rather than giving it
   * the one fingerprint all such peers would share.
   */
  unidentified?: string | null;
}

function summary(p: ProcessInfo): ProcessSummary {
  return { pid: p.pid, exe: p.exe, argv: p.argv, cwd: p.cwd, uid: p.uid, script: p.script };
}

async function hashOf(pid: number, exe: string | null): Promise<string | null> {
  // /proc/<pid>/exe opens the binary the process actually runs, even if its path was replaced.
  const file = process.platform === 'linux' ? `/proc/${pid}/exe` : exe;
  if (file === null) return null;
  try {
    return await hashExecutable(file);
  } catch {
    return null; // process gone or binary unreadable: "unknown", never a guess
  }
}

/**
 * Identify the peer of a connected Unix socket. Throws AkcError('IO') only when the kernel
 * credentials cannot be read; a peer that exits meanwhile yields pidCheck 'vanished'.
 */
export async function identifyPeer(socket: net.Socket): Promise<PeerIdentity> {
  const creds = getPeerCredentials(socket, { pidfd: true });
  try {
    const { pid } = creds;
    const startBefore = readStartTime(pid);
    const info = readProcessInfo(pid);
    const injectedCode = readInjectedCode(info);
    const exeSha256 = await hashOf(pid, info.exe);
    const scriptSha256 = await hashScript(info.script);
    const parents = parentChain(pid).map((p) => ({ ...summary(p), injectedCode: readInjectedCode(p) }));
    // Verify only after every read, so a pid recycled at any point during them is caught.
    let pidCheck: PeerIdentity['pidCheck'];
    if (creds.pidfd !== undefined) pidCheck = pidfdRefersTo(creds.pidfd, pid) ? 'pidfd' : 'vanished';
    else pidCheck = startBefore !== null && startBefore === info.startTime && readStartTime(pid) === startBefore ? 'starttime' : 'vanished';

    if (pidCheck === 'vanished') {
      return {
        pid,
        uid: creds.uid,
        gid: creds.gid,
        exe: null,
        argv: [],
        cwd: null,
        script: null,
        exeSha256: null,
        startTime: null,
        parents: [],
        pidCheck,
        scriptSha256: null,
        injectedCode: null,
        unidentified: 'it exited before it could be identified',
      };
    }
    const linux = process.platform === 'linux';
    let unidentified: string | null = null;
    // A zombie or a process we may not trace has no readable exe: it is nobody, not "?".
    if (info.exe === null && linux) unidentified = 'its executable could not be read';
    else if (injectedCode === null) unidentified = 'its environment could not be read';
    return {
      ...summary(info),
      uid: creds.uid,
      gid: creds.gid,
      exeSha256,
      startTime: info.startTime,
      parents,
      pidCheck,
      scriptSha256,
      injectedCode,
      unidentified,
    };
  } finally {
    closePidfd(creds);
  }
}

/** True when the peer runs as the same user as this host; a peer of another uid is refused. */
export function isSameUser(identity: Pick<PeerIdentity, 'uid'>): boolean {
  return typeof process.getuid === 'function' && identity.uid === process.getuid();
}

/**
 * True while the identified process still runs (same pid, same start time). Use before acting
 * on an identity later, e.g. when an approval arrives a minute after the request.
 */
export function isStillSameProcess(identity: Pick<PeerIdentity, 'pid' | 'startTime'>): boolean {
  return identity.startTime !== null && readStartTime(identity.pid) === identity.startTime;
}
