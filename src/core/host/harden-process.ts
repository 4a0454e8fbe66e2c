/**
 * Makes the host process non-dumpable, so another process of the same user cannot read
 * its memory (the unlocked vault key, decrypted values in flight) with a debugger, a
 * core dump or /proc.
 *
 * - **Linux**: `prctl(PR_SET_DUMPABLE, 0)`. The kernel then refuses ptrace attach
 *   (gdb -p, gcore) to any process without CAP_SYS_PTRACE, writes no core dump, and
 *   makes /proc/<pid>/{mem,environ,maps,fd,…} owned by root, so same-user processes
 *   cannot read them. The flag is per process, survives fork and is reset by execve, so
 *   children the host starts are not affected (and need not be).
 * - **macOS**: `ptrace(PT_DENY_ATTACH)`. Later debugger attaches fail, and if a debugger
 *   is attached already the process is killed. Not exercised by the tests here (no macOS).
 * - **Windows**: no equivalent for a same-user process: any process of the user can open
 *   the host with PROCESS_VM_READ. Only the hardened mode (the host as another user)
 *   protects its memory there; this function reports `applied: false`.
 *
 * Root (or a process with CAP_SYS_PTRACE) can still read everything; see SECURITY.md.
 */
import koffi, { type LibraryHandle } from 'koffi';

// <linux/prctl.h>
const PR_GET_DUMPABLE = 3;
const PR_SET_DUMPABLE = 4;
// <sys/ptrace.h> on macOS
const PT_DENY_ATTACH = 31;

export interface HardenResult {
  platform: NodeJS.Platform;
  /** Whether the process is now protected as described above. */
  applied: boolean;
  /** What was done, for the log: "prctl(PR_SET_DUMPABLE, 0)", "ptrace(PT_DENY_ATTACH)", or why not. */
  method: string;
}

type Prctl = (option: number, arg2: number, arg3: number, arg4: number, arg5: number) => number;

let linuxPrctl: Prctl | null = null;

function loadLibrary(names: string[]): LibraryHandle {
  let lastErr: unknown;
  for (const name of names) {
    try {
      return koffi.load(name);
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr instanceof Error ? lastErr : new Error('libc not found');
}

function prctl(): Prctl {
  // prctl is variadic in <sys/prctl.h>; the kernel always reads five unsigned longs, and on
  // the Linux ABIs Node supports fixed and variadic integer arguments travel the same way.
  linuxPrctl ??= loadLibrary(['libc.so.6', 'libc.so']).func('prctl', 'int', [
    'int',
    'unsigned long',
    'unsigned long',
    'unsigned long',
    'unsigned long',
  ]) as Prctl;
  return linuxPrctl;
}

/** Linux: whether the kernel considers this process dumpable (PR_GET_DUMPABLE); null elsewhere. */
export function isDumpable(): boolean | null {
  if (process.platform !== 'linux') return null;
  return prctl()(PR_GET_DUMPABLE, 0, 0, 0, 0) !== 0;
}

/**
 * Marks this process non-dumpable (see above). Never throws: a host that cannot harden
 * itself still runs, and the caller logs `method` as a warning when `applied` is false.
 */
export function hardenProcess(): HardenResult {
  const platform = process.platform;
  try {
    if (platform === 'linux') {
      if (prctl()(PR_SET_DUMPABLE, 0, 0, 0, 0) !== 0) {
        return { platform, applied: false, method: `prctl(PR_SET_DUMPABLE, 0) failed (errno ${koffi.errno()})` };
      }
      return { platform, applied: isDumpable() === false, method: 'prctl(PR_SET_DUMPABLE, 0)' };
    }
    if (platform === 'darwin') {
      const ptrace = loadLibrary(['libSystem.B.dylib', '/usr/lib/libSystem.B.dylib']).func('ptrace', 'int', [
        'int',
        'int',
        'void *',
        'int',
      ]) as (request: number, pid: number, addr: null, data: number) => number;
      if (ptrace(PT_DENY_ATTACH, 0, null, 0) !== 0) {
        return { platform, applied: false, method: `ptrace(PT_DENY_ATTACH) failed (errno ${koffi.errno()})` };
      }
      return { platform, applied: true, method: 'ptrace(PT_DENY_ATTACH)' };
    }
    return { platform, applied: false, method: `no same-user memory protection on ${platform}; use the hardened mode` };
  } catch (err) {
    return { platform, applied: false, method: `could not call libc (${err instanceof Error ? err.message : String(err)})` };
  }
}
