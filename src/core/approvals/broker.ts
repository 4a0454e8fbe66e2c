/**
 * The approval broker: a queue of requests waiting for a human, with
 * identical concurrent requests collapsed, a timeout (no answer = deny), and a cool-down
 * for requesters that keep asking without an answer (anti-fatigue, anti-flood).
 */
import { randomBytes } from 'node:crypto';
import { AkcError } from '../../shared/errors.js';
import type { Clock } from '../clock.js';
import type { Grant } from '../policy/grants.js';
import type { ApprovalDecision, ApprovalOutcome, ApprovalSubject, ApprovalWithdrawn, Approver, PendingApproval } from './types.js';

export interface BrokerOptions {
  clock: Clock;
  approver: Approver;
  timeoutMs: number;
  /** Unanswered prompts from one requester within `unansweredWindowMs` before its cool-down. */
  maxUnanswered?: number;
  unansweredWindowMs?: number;
  cooldownMs?: number;
  /** Caps: all pending approvals (MAX_PENDING_APPROVALS), and per requester (MAX_PENDING_PER_REQUESTER). */
  maxPending?: number;
  maxPendingPerRequester?: number;
}

/**
 * The queue's size: what one human can work through, and a bound on the host's memory.
 * Requests that join an identical pending one (collapsing) take no slot.
 */
export const MAX_PENDING_APPROVALS = 64;
/**
 * Each requester's share of the queue: distinct pending approvals per fingerprint. With
 * 4 of 64 slots, one program flooding (many secrets, many purposes) cannot fill the queue
 * for everyone else; it gets RATE_LIMITED past its share (otherwise "64 requests fill the
 * approval queue for everyone").
 */
export const MAX_PENDING_PER_REQUESTER = 4;

/** Why a request is withdrawn: the only way a request's signal is aborted (server, proxy). */
export const WITHDRAWN_REASON = 'its client disconnected';
/**
 * Withdrawn approval ids kept so a late `akc approve ID` can say what happened instead of
 * "no pending approval" (oldest forgotten first; ids only, a few bytes each).
 */
export const REMEMBER_WITHDRAWN = 256;
/** Withdrawn prompts (ask, then hang up) from one requester within the window before its cool-down. */
export const MAX_WITHDRAWN = 12;

interface Entry {
  pending: PendingApproval;
  key: string;
  promise: Promise<ApprovalOutcome>;
  resolve: (o: ApprovalOutcome) => void;
  /** Ends the waiters with an error instead (a displaced request: RATE_LIMITED). */
  reject: (err: AkcError) => void;
  timer: NodeJS.Timeout;
  /**
   * Callers still waiting (identical requests collapse into one entry). A caller whose
   * signal aborts leaves; when the last one leaves, the approval is withdrawn. Callers
   * without a signal never leave.
   */
  waiters: number;
}

export class ApprovalBroker {
  private readonly entries = new Map<string, Entry>();
  private readonly byKey = new Map<string, Entry>();
  private readonly unanswered = new Map<string, number[]>();
  private readonly withdrawals = new Map<string, number[]>();
  private readonly cooldownUntil = new Map<string, number>();
  private readonly withdrawn = new Set<string>();
  private approver: Approver;

  constructor(private readonly opts: BrokerOptions) {
    this.approver = opts.approver;
  }

  setApprover(approver: Approver): void {
    this.approver = approver;
    for (const e of this.entries.values()) approver.show(e.pending, this.list());
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs;
  }

  set timeoutMs(ms: number) {
    this.opts.timeoutMs = ms;
  }

  list(): PendingApproval[] {
    return [...this.entries.values()].map((e) => e.pending).sort((a, b) => a.createdAt - b.createdAt);
  }

  get(id: string): PendingApproval | null {
    return this.entries.get(id)?.pending ?? null;
  }

  /** Throws RATE_LIMITED while the requester is cooling down. */
  checkRateLimit(fingerprint: string): void {
    const until = this.cooldownUntil.get(fingerprint);
    if (until !== undefined && until > this.opts.clock.now()) {
      throw new AkcError(
        'RATE_LIMITED',
        `too many unanswered approval requests; try again in ${Math.ceil((until - this.opts.clock.now()) / 1000)} s`,
      );
    }
  }

  /**
   * Queues a request for a human, or joins an identical pending one. Resolves with the
   * decision, a timeout, a cancellation, or `withdrawn` once `signal` (the caller's
   * connection) aborts first. `onQueued` gets the pending entry at once.
   */
  request(
    subject: ApprovalSubject,
    extra: Pick<PendingApproval, 'badge' | 'needsUnlock' | 'coveredByGrant'>,
    onQueued?: (p: PendingApproval) => void,
    signal?: AbortSignal,
  ): Promise<ApprovalOutcome> {
    const fp = subject.requester.fingerprint;
    this.checkRateLimit(fp);
    // Gone before it was queued: nobody is shown a request nobody waits for.
    if (signal?.aborted) return Promise.resolve(withdrawnOutcome(false));
    // Two different commands are two questions: a run never joins another command's prompt.
    // Covered or not is part of the question too: an unlock releases covered requests with no
    // decision, which must never carry along one that needed a human's answer.
    const key = JSON.stringify([
      fp,
      subject.secrets,
      subject.purpose,
      subject.http ?? null,
      subject.command ?? null,
      extra.needsUnlock,
      extra.coveredByGrant,
    ]);
    const same = this.byKey.get(key);
    if (same) {
      same.pending.count += 1;
      same.waiters += 1;
      this.approver.show(same.pending, this.list());
      onQueued?.(same.pending);
      return this.wait(same, signal);
    }
    const share = this.opts.maxPendingPerRequester ?? MAX_PENDING_PER_REQUESTER;
    const mine = this.pendingOf(fp).length;
    if (mine >= share) {
      throw new AkcError('RATE_LIMITED', `this program already has ${mine} approval requests waiting; wait for an answer`);
    }
    if (this.entries.size >= (this.opts.maxPending ?? MAX_PENDING_APPROVALS)) {
      const victim = this.displaceable(mine);
      if (!victim) throw new AkcError('RATE_LIMITED', 'too many approval requests are already waiting');
      this.displace(victim);
    }
    const now = this.opts.clock.now();
    const pending: PendingApproval = {
      ...subject,
      ...extra,
      id: 'a_' + randomBytes(6).toString('hex'),
      createdAt: now,
      expiresAt: now + this.opts.timeoutMs,
      count: 1,
    };
    let resolve!: (o: ApprovalOutcome) => void;
    let reject!: (err: AkcError) => void;
    const promise = new Promise<ApprovalOutcome>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timer = setTimeout(() => this.finish(pending.id, { kind: 'timeout' }), this.opts.timeoutMs);
    timer.unref?.();
    const entry: Entry = { pending, key, promise, resolve, reject, timer, waiters: 1 };
    this.entries.set(pending.id, entry);
    this.byKey.set(key, entry);
    onQueued?.(pending);
    this.approver.show(pending, this.list());
    return this.wait(entry, signal);
  }

  /**
   * Records a human decision, with the grants it created (handed to the waiting requests in
   * their outcome). Throws NOT_FOUND when the request is no longer pending.
   */
  decide(id: string, decision: ApprovalDecision, grants: readonly Grant[] = []): PendingApproval {
    const entry = this.entries.get(id);
    if (!entry) throw this.notPending(id);
    this.finish(id, { kind: 'decided', decision, grants });
    return entry.pending;
  }

  /** The NOT_FOUND for deciding `id`, saying so when its client withdrew it. */
  notPending(id: string): AkcError {
    if (this.withdrawn.has(id)) {
      return new AkcError('NOT_FOUND', `approval ${id} was withdrawn: ${WITHDRAWN_REASON}`, {
        hint: 'nothing was delivered; the program has to ask again',
      });
    }
    return new AkcError('NOT_FOUND', `no pending approval ${id}`, { hint: 'it may have timed out; see `akc approvals`' });
  }

  /** One caller's view of an entry: the entry's outcome, or `withdrawn` when its signal aborts first. */
  private wait(entry: Entry, signal: AbortSignal | undefined): Promise<ApprovalOutcome> {
    if (!signal) return entry.promise;
    return new Promise<ApprovalOutcome>((resolve, reject) => {
      const onAbort = (): void => resolve(this.leave(entry));
      signal.addEventListener('abort', onAbort, { once: true });
      entry.promise.then(
        (o) => {
          signal.removeEventListener('abort', onAbort);
          resolve(o);
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(err as Error);
        },
      );
    });
  }

  /** A caller went away. The last one to leave withdraws the approval (prompt closed, no decision possible). */
  private leave(entry: Entry): ApprovalWithdrawn {
    // Already ended (its outcome is on the way to this caller): the caller is gone all the same.
    if (this.entries.get(entry.pending.id) !== entry) return withdrawnOutcome(false);
    entry.waiters -= 1;
    if (entry.waiters > 0) {
      entry.pending.count = Math.max(1, entry.pending.count - 1);
      this.approver.show(entry.pending, this.list());
      return withdrawnOutcome(false);
    }
    this.withdrawn.add(entry.pending.id);
    if (this.withdrawn.size > REMEMBER_WITHDRAWN) this.withdrawn.delete(this.withdrawn.values().next().value!);
    const outcome = withdrawnOutcome(true);
    this.finish(entry.pending.id, outcome);
    return outcome;
  }

  /** Ends every pending request (host stopping). */
  cancelAll(reason: string): void {
    for (const id of [...this.entries.keys()]) this.finish(id, { kind: 'cancelled', reason });
  }

  private pendingOf(fp: string): Entry[] {
    return [...this.entries.values()].filter((e) => e.pending.requester.fingerprint === fp);
  }

  /**
   * The queue is full. A requester holding `mine` entries may take the newest slot of the
   * requester holding the most, if that one would still hold at least as many as the
   * newcomer afterwards (so equal holders never trade places back and forth). Then filling
   * the queue against everyone takes as many distinct programs as there are slots, each
   * with one request, instead of a few programs asking for many secrets.
   */
  private displaceable(mine: number): Entry | null {
    const byFp = new Map<string, Entry[]>();
    for (const e of this.entries.values()) {
      const fp = e.pending.requester.fingerprint;
      byFp.set(fp, [...(byFp.get(fp) ?? []), e]);
    }
    let heaviest: Entry[] = [];
    for (const list of byFp.values()) {
      const newest = (l: Entry[]): number => Math.max(...l.map((e) => e.pending.createdAt));
      if (list.length > heaviest.length || (list.length === heaviest.length && newest(list) > newest(heaviest))) heaviest = list;
    }
    if (heaviest.length <= mine + 1) return null;
    return heaviest.reduce((a, b) => (b.pending.createdAt >= a.pending.createdAt ? b : a));
  }

  /** Ends a displaced request: its waiters get RATE_LIMITED (the host audits each refusal). */
  private displace(entry: Entry): void {
    clearTimeout(entry.timer);
    this.entries.delete(entry.pending.id);
    this.byKey.delete(entry.key);
    entry.reject(
      new AkcError('RATE_LIMITED', 'too many approval requests are waiting; this program holds the most, so its newest one was dropped'),
    );
    this.approver.ended(entry.pending.id, { kind: 'cancelled', reason: 'displaced: the approval queue is full' }, this.list());
  }

  private finish(id: string, outcome: ApprovalOutcome): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(id);
    this.byKey.delete(entry.key);
    const fp = entry.pending.requester.fingerprint;
    // A withdrawn prompt went unanswered too: asking and hanging up again and again must
    // not flash prompts at the human without end (anti-fatigue). It counts on
    // its own, higher tally: a person pressing Ctrl-C at a waiting `akc get` a few times is
    // not a flood, while a loop that asks and hangs up is stopped after MAX_WITHDRAWN.
    if (outcome.kind === 'timeout') this.noteUnanswered(fp, this.unanswered, this.opts.maxUnanswered ?? 3);
    else if (outcome.kind === 'withdrawn') this.noteUnanswered(fp, this.withdrawals, MAX_WITHDRAWN);
    else if (outcome.kind === 'decided') {
      this.unanswered.delete(fp);
      this.withdrawals.delete(fp);
    }
    entry.resolve(outcome);
    this.approver.ended(id, outcome, this.list());
  }

  private noteUnanswered(fp: string, tally: Map<string, number[]>, max: number): void {
    const now = this.opts.clock.now();
    const window = this.opts.unansweredWindowMs ?? 10 * 60_000;
    const times = (tally.get(fp) ?? []).filter((t) => t > now - window);
    times.push(now);
    tally.set(fp, times);
    if (times.length >= max) {
      this.cooldownUntil.set(fp, now + (this.opts.cooldownMs ?? 5 * 60_000));
      tally.delete(fp);
    }
  }
}

function withdrawnOutcome(last: boolean): ApprovalWithdrawn {
  return { kind: 'withdrawn', reason: WITHDRAWN_REASON, last };
}
