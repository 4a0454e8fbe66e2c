/**
 * The daemon's approver: one prompt at a time on its own terminal, answered with a
 * single key. Anything that needs the password (allow "always", or any allow while the
 * vault is locked) asks for it without echo. Deny is the default: Esc or Enter deny.
 *
 * With `requirePassword` (`akc daemon --approve-with-password`) EVERY allow asks for the
 * master password, checked by the vault before the decision is recorded. A single key is
 * typed as easily by another program of the same user (`tmux send-keys`, `screen -X
 * stuff`, a TIOCSTI on older kernels) as by the human; the password is what that program
 * does not have. Deny and "deny & block" stay one key: they only take access away, so a
 * forged keystroke can cost an agent its request, never leak a value. A wrong password is
 * audited; the request stays pending, and after MAX_PASSWORD_ATTEMPTS it is denied.
 */
import { AkcError, isAkcError } from '../../shared/errors.js';
import { sanitizeLine } from '../../shared/sanitize.js';
import type { ApprovalOutcome, ApprovalScope, Approver, PendingApproval } from '../../core/approvals/types.js';
import type { Host } from '../../core/host/host.js';
import { describePending } from './format.js';

/** Wrong passwords for one request before it is denied (each one is audited). */
export const MAX_PASSWORD_ATTEMPTS = 3;

export interface TtyApproverOptions {
  /** Every allow needs the master password (`--approve-with-password`). */
  requirePassword?: boolean;
}

type TtyIn = NodeJS.ReadStream;

const KEYS: Record<string, { allow: boolean; scope: ApprovalScope; block?: boolean; label: string }> = {
  o: { allow: true, scope: 'once', label: 'allowed once' },
  f: { allow: true, scope: '15m', label: 'allowed for 15 min' },
  h: { allow: true, scope: '1h', label: 'allowed for 1 h' },
  u: { allow: true, scope: 'until_lock', label: 'allowed until lock' },
  a: { allow: true, scope: 'always', label: 'allowed always' },
  d: { allow: false, scope: 'once', label: 'denied' },
  b: { allow: false, scope: 'once', block: true, label: 'denied and blocked' },
};

export class TtyApprover implements Approver {
  private current: PendingApproval | null = null;
  private queue: readonly PendingApproval[] = [];
  private passwordFor: { key: string; buf: Buffer; len: number } | null = null;
  private busy = false;
  /** Wrong passwords typed for the current request. */
  private failures = 0;
  private readonly requirePassword: boolean;

  constructor(
    private readonly host: Host,
    private readonly stdin: TtyIn,
    private readonly out: NodeJS.WritableStream,
    opts: TtyApproverOptions = {},
  ) {
    this.requirePassword = opts.requirePassword ?? false;
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  show(pending: PendingApproval, queue: readonly PendingApproval[]): void {
    this.queue = queue;
    if (!this.current) this.next();
    else if (pending.id === this.current.id) this.out.write(`  (now ×${pending.count} identical requests)\r\n`);
    else this.out.write(`  ${queue.length - 1} more request(s) waiting\r\n`);
  }

  ended(id: string, outcome: ApprovalOutcome, queue: readonly PendingApproval[]): void {
    this.queue = queue;
    if (this.current?.id === id) {
      if (outcome.kind === 'timeout') this.out.write('  ⏱ no answer in time: denied (APPROVAL_TIMEOUT)\r\n');
      else if (outcome.kind === 'withdrawn') this.out.write(`  ✕ withdrawn: ${outcome.reason}; nothing was delivered\r\n`);
      else if (outcome.kind === 'decided' && outcome.decision.by !== 'tty')
        this.out.write(`  decided elsewhere (${sanitizeLine(outcome.decision.by, 40)})\r\n`);
      this.clearPassword();
      this.current = null;
      this.next();
    }
  }

  private next(): void {
    this.current = this.queue[0] ?? null;
    this.failures = 0;
    if (!this.current) return;
    const lines = describePending(this.current, this.host.clock.now());
    this.out.write('\r\n' + '─'.repeat(72) + '\r\n' + lines.join('\r\n') + '\r\n');
    if (this.queue.length > 1) this.out.write(`  ${this.queue.length - 1} more request(s) waiting\r\n`);
    this.out.write('  [o] once  [f] 15 min  [h] 1 h  [u] until lock  [a] always  [d] deny  [b] deny & block   (Esc = deny)\r\n> ');
  }

  private onData(chunk: Buffer): void {
    for (const byte of chunk) {
      if (byte === 0x03) {
        // At the password prompt Ctrl-C cancels the prompt (as in any password prompt);
        // elsewhere on the daemon's terminal it stops the daemon, as it would without raw mode.
        if (this.passwordFor) {
          this.cancelPassword('cancelled (Ctrl-C again stops the daemon)');
          continue;
        }
        process.kill(process.pid, 'SIGINT');
        return;
      }
      if (this.passwordFor) this.passwordByte(byte);
      else this.keyByte(byte);
    }
    chunk.fill(0);
  }

  private keyByte(byte: number): void {
    if (!this.current || this.busy) return;
    if (byte === 0x1b || byte === 0x0d) return this.answer('d');
    const key = String.fromCharCode(byte).toLowerCase();
    const choice = KEYS[key];
    if (!choice) return;
    if (choice.allow && (this.requirePassword || choice.scope === 'always' || this.current.needsUnlock || this.host.state !== 'unlocked')) {
      this.passwordFor = { key, buf: Buffer.alloc(1024), len: 0 };
      this.out.write(`${key}\r\n  master password (not echoed): `);
      return;
    }
    this.answer(key);
  }

  private passwordByte(byte: number): void {
    const p = this.passwordFor!;
    if (byte === 0x1b) return this.cancelPassword('cancelled');
    if (byte === 0x0d || byte === 0x0a) {
      const password = Buffer.from(p.buf.subarray(0, p.len));
      const key = p.key;
      this.clearPassword();
      this.out.write('\r\n');
      this.answer(key, password);
      return;
    }
    if (byte === 0x7f || byte === 0x08) {
      if (p.len > 0) p.len -= 1;
      return;
    }
    if (byte >= 0x20 && p.len < p.buf.length) p.buf[p.len++] = byte;
  }

  /** Leaves the password prompt; the request stays pending for another key. */
  private cancelPassword(note: string): void {
    this.clearPassword();
    this.out.write(`\r\n  ${note}\r\n> `);
  }

  private clearPassword(): void {
    this.passwordFor?.buf.fill(0);
    this.passwordFor = null;
  }

  private answer(key: string, password?: Buffer): void {
    const current = this.current;
    const choice = KEYS[key];
    if (!current || !choice) return;
    this.busy = true;
    void this.decide(current, choice, password).finally(() => {
      password?.fill(0);
      this.busy = false;
    });
  }

  private async decide(current: PendingApproval, choice: (typeof KEYS)[string], password?: Buffer): Promise<void> {
    try {
      if (choice.allow && this.requirePassword) await this.checkPassword(password);
      await this.host.decide(current.id, { allow: choice.allow, scope: choice.scope, block: choice.block ?? false, by: 'tty' }, password);
      this.out.write(`  ${choice.label}\r\n`);
    } catch (err) {
      // Every wrong password typed here is on the record: with --approve-with-password, and
      // for "always" or an allow that unlocks, whichever check refused it.
      if (isAkcError(err, 'WRONG_PASSWORD') && password !== undefined) this.recordWrongPassword(current);
      const msg = isAkcError(err) ? err.message : 'failed to record the decision';
      this.out.write(`  ${sanitizeLine(msg, 200)}\r\n`);
      if (isAkcError(err, 'WRONG_PASSWORD') && this.current?.id === current.id) await this.afterWrongPassword(current);
    }
  }

  private recordWrongPassword(current: PendingApproval): void {
    const r = current.requester;
    try {
      this.host.record({
        event: 'approval.password',
        agent: r.label,
        pid: r.identity.pid,
        exe: r.identity.exe,
        secret: current.secrets.join(','),
        decision: 'failed',
        reason: 'wrong master password at the daemon terminal',
        detail: { approval: current.id, attempt: this.failures + 1 },
      });
    } catch {
      // The refusal stands whether or not the log could take the entry.
    }
  }

  /** --approve-with-password: the vault checks the password before anything is allowed. */
  private async checkPassword(password: Buffer | undefined): Promise<void> {
    try {
      if (!password || password.length === 0) throw new AkcError('WRONG_PASSWORD', 'wrong master password');
      await this.host.verifyPassword(password);
    } catch (err) {
      if (!isAkcError(err, 'WRONG_PASSWORD')) throw err;
      throw new AkcError('WRONG_PASSWORD', 'wrong master password: nothing was allowed');
    }
  }

  private async afterWrongPassword(current: PendingApproval): Promise<void> {
    this.failures += 1;
    if (!this.requirePassword || this.failures < MAX_PASSWORD_ATTEMPTS) {
      this.out.write('> ');
      return;
    }
    try {
      await this.host.decide(current.id, { allow: false, scope: 'once', block: false, by: 'tty' });
      this.out.write(`  ${MAX_PASSWORD_ATTEMPTS} wrong passwords: denied\r\n`);
    } catch (err) {
      this.out.write(`  ${sanitizeLine(isAkcError(err) ? err.message : 'failed to record the decision', 200)}\r\n`);
    }
  }
}

/** When the daemon has no terminal: log pending requests so `akc approvals` can be used. */
export function loggingApprover(log: (line: string) => void, now: () => number): Approver {
  return {
    show(p) {
      if (p.count === 1) for (const line of describePending(p, now())) log(line);
      log(`  decide with: akc approve ${p.id} [--for 15m|--until-lock|--always]   or   akc deny ${p.id} [--block]`);
    },
    ended(id, outcome) {
      log(
        `request ${id} ended: ${
          outcome.kind === 'decided'
            ? (outcome.decision.allow ? 'allowed' : 'denied') + ' by ' + outcome.decision.by
            : outcome.kind === 'withdrawn'
              ? `withdrawn (${outcome.reason})`
              : outcome.kind
        }`,
      );
    },
  };
}
