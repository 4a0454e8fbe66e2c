/**
 * The rotation scheduler, run by a host while the vault is unlocked. Each tick: retire
 * previous versions past grace, then rotate every due secret, one at a time. A failed
 * attempt is retried with exponential backoff (base · 2^(n-1), capped); after the last
 * attempt the failure becomes an alert (audit entry, host event, `akc status`), and the
 * secret is left alone until a human acts (a successful `akc rotate`, a policy change or
 * `akc alerts clear`).
 *
 * Time and timers are ports (Clock, TimerPort) so tests drive it with a fake clock.
 */
import type { Clock } from '../clock.js';

export interface TimerPort {
  set(fn: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

/** Real timers that never keep the process alive on their own. */
export const systemTimers: TimerPort = {
  set(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

export interface DueRotation {
  name: string;
  /** Rotators that need a human (manual) are reported through `onManualDue`, not run. */
  manual: boolean;
}

export interface SchedulerDeps {
  clock: Clock;
  timers?: TimerPort;
  /** Secrets due now, excluding ones paused (open alert, webhook pending). */
  due(now: number): DueRotation[];
  /** The earliest rotation falling due strictly after `now` (for the wake-up), or null. */
  nextDueAt(now: number): number | null;
  rotate(name: string, attempt: number): Promise<void>;
  sweep(now: number): void;
  /** The last attempt failed: raise the alert. */
  onFailure(name: string, error: unknown, attempts: number): void;
  /** A manual rotation is due: ask the human (once). */
  onManualDue(name: string): void;
  /** Whether rotations may run (the vault is unlocked). */
  active(): boolean;
  warn?(message: string): void;
}

export interface SchedulerOptions {
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Longest sleep between ticks (picks up policy changes made by other processes). */
  pollMs: number;
}

export const DEFAULT_SCHEDULER_OPTIONS: SchedulerOptions = {
  maxAttempts: 5,
  backoffBaseMs: 60_000,
  backoffMaxMs: 60 * 60_000,
  pollMs: 60_000,
};

interface RetryState {
  attempts: number;
  nextAt: number;
}

export class RotationScheduler {
  readonly options: SchedulerOptions;
  private readonly timers: TimerPort;
  private timer: unknown = null;
  private running = false;
  private started = false;
  private readonly retries = new Map<string, RetryState>();
  /** The wake-up the last tick asked for (tests read it). */
  nextWakeAt: number | null = null;

  constructor(
    private readonly deps: SchedulerDeps,
    options: Partial<SchedulerOptions> = {},
  ) {
    this.options = { ...DEFAULT_SCHEDULER_OPTIONS, ...options };
    this.timers = deps.timers ?? systemTimers;
  }

  get isStarted(): boolean {
    return this.started;
  }

  /** Starts ticking (first tick right away). Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.arm(0);
  }

  /** Stops; a rotation in flight finishes but nothing new starts. Retry state is forgotten. */
  stop(): void {
    this.started = false;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    this.nextWakeAt = null;
    this.retries.clear();
  }

  /** Retry bookkeeping for a secret (attempts so far, next attempt time), for tests and status. */
  retryState(name: string): Readonly<RetryState> | null {
    return this.retries.get(name) ?? null;
  }

  backoffMs(attempts: number): number {
    return Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  }

  private arm(ms: number): void {
    if (!this.started) return;
    if (this.timer !== null) this.timers.clear(this.timer);
    this.nextWakeAt = this.deps.clock.now() + ms;
    this.timer = this.timers.set(() => {
      this.timer = null;
      void this.tick();
    }, ms);
  }

  /** One pass. Safe to call directly (tests); overlapping calls are skipped. */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.pass();
    } catch (err) {
      this.deps.warn?.(`rotation scheduler: ${err instanceof Error ? err.message : 'error'}`);
    } finally {
      this.running = false;
    }
    if (this.started) this.arm(this.sleepMs());
  }

  private async pass(): Promise<void> {
    if (!this.deps.active()) return;
    this.deps.sweep(this.deps.clock.now());
    const due = this.deps.due(this.deps.clock.now());
    const dueNames = new Set(due.map((d) => d.name));
    for (const name of this.retries.keys()) if (!dueNames.has(name)) this.retries.delete(name);
    for (const d of due) {
      if (!this.deps.active()) return;
      if (d.manual) {
        this.deps.onManualDue(d.name);
        continue;
      }
      const now = this.deps.clock.now();
      const retry = this.retries.get(d.name);
      if (retry && retry.nextAt > now) continue;
      const attempt = (retry?.attempts ?? 0) + 1;
      try {
        await this.deps.rotate(d.name, attempt);
        this.retries.delete(d.name);
      } catch (err) {
        if (!this.deps.active()) return; // locked mid-rotation: not the rotator's fault
        if (attempt >= this.options.maxAttempts) {
          this.retries.delete(d.name);
          this.deps.onFailure(d.name, err, attempt);
        } else {
          this.retries.set(d.name, { attempts: attempt, nextAt: this.deps.clock.now() + this.backoffMs(attempt) });
        }
      }
    }
  }

  private sleepMs(): number {
    const now = this.deps.clock.now();
    let wake = now + this.options.pollMs;
    for (const r of this.retries.values()) wake = Math.min(wake, r.nextAt);
    let next: number | null;
    try {
      next = this.deps.nextDueAt(now);
    } catch {
      next = null;
    }
    if (next !== null) wake = Math.min(wake, next);
    return Math.max(0, wake - now);
  }
}
