/**
 * The approval broker (DESIGN §6): a queue of requests waiting for a human, with
 * identical concurrent requests collapsed, a timeout (no answer = deny), and a cool-down
 * for requesters that keep asking without an answer (anti-fatigue, anti-flood).
 */
import { randomBytes } from 'node:crypto';
import { AkcError } from '../../shared/errors.js';
import type { Clock } from '../clock.js';
import type { ApprovalDecision, ApprovalOutcome, ApprovalSubject, Approver, PendingApproval } from './types.js';

export interface BrokerOptions {
  clock: Clock;
  approver: Approver;
  timeoutMs: number;
  /** Unanswered prompts from one requester within `unansweredWindowMs` before its cool-down. */
  maxUnanswered?: number;
  unansweredWindowMs?: number;
  cooldownMs?: number;
  /** Caps: all pending approvals, and per requester. */
  maxPending?: number;
  maxPendingPerRequester?: number;
}

interface Entry {
  pending: PendingApproval;
  key: string;
  promise: Promise<ApprovalOutcome>;
  resolve: (o: ApprovalOutcome) => void;
  timer: NodeJS.Timeout;
}

export class ApprovalBroker {
  private readonly entries = new Map<string, Entry>();
  private readonly byKey = new Map<string, Entry>();
  private readonly unanswered = new Map<string, number[]>();
  private readonly cooldownUntil = new Map<string, number>();
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
   * decision, a timeout, or a cancellation. `onQueued` gets the pending entry at once.
   */
  request(
    subject: ApprovalSubject,
    extra: Pick<PendingApproval, 'badge' | 'needsUnlock' | 'coveredByGrant'>,
    onQueued?: (p: PendingApproval) => void,
  ): Promise<ApprovalOutcome> {
    const fp = subject.requester.fingerprint;
    this.checkRateLimit(fp);
    const key = JSON.stringify([fp, subject.secrets, subject.purpose, subject.http ?? null, extra.needsUnlock]);
    const same = this.byKey.get(key);
    if (same) {
      same.pending.count += 1;
      this.approver.show(same.pending, this.list());
      onQueued?.(same.pending);
      return same.promise;
    }
    const pendingTotal = this.entries.size;
    const pendingMine = [...this.entries.values()].filter((e) => e.pending.requester.fingerprint === fp).length;
    if (pendingTotal >= (this.opts.maxPending ?? 64) || pendingMine >= (this.opts.maxPendingPerRequester ?? 8)) {
      throw new AkcError('RATE_LIMITED', 'too many approval requests are already waiting');
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
    const promise = new Promise<ApprovalOutcome>((r) => (resolve = r));
    const timer = setTimeout(() => this.finish(pending.id, { kind: 'timeout' }), this.opts.timeoutMs);
    timer.unref?.();
    const entry: Entry = { pending, key, promise, resolve, timer };
    this.entries.set(pending.id, entry);
    this.byKey.set(key, entry);
    onQueued?.(pending);
    this.approver.show(pending, this.list());
    return promise;
  }

  /** Records a human decision. Throws NOT_FOUND when the request is no longer pending. */
  decide(id: string, decision: ApprovalDecision): PendingApproval {
    const entry = this.entries.get(id);
    if (!entry) throw new AkcError('NOT_FOUND', `no pending approval ${id}`, { hint: 'it may have timed out; see `akc approvals`' });
    this.finish(id, { kind: 'decided', decision });
    return entry.pending;
  }

  /** Ends every pending request (host stopping). */
  cancelAll(reason: string): void {
    for (const id of [...this.entries.keys()]) this.finish(id, { kind: 'cancelled', reason });
  }

  private finish(id: string, outcome: ApprovalOutcome): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.entries.delete(id);
    this.byKey.delete(entry.key);
    const fp = entry.pending.requester.fingerprint;
    if (outcome.kind === 'timeout') this.noteUnanswered(fp);
    else if (outcome.kind === 'decided') this.unanswered.delete(fp);
    entry.resolve(outcome);
    this.approver.ended(id, outcome, this.list());
  }

  private noteUnanswered(fp: string): void {
    const now = this.opts.clock.now();
    const window = this.opts.unansweredWindowMs ?? 10 * 60_000;
    const times = (this.unanswered.get(fp) ?? []).filter((t) => t > now - window);
    times.push(now);
    this.unanswered.set(fp, times);
    if (times.length >= (this.opts.maxUnanswered ?? 3)) {
      this.cooldownUntil.set(fp, now + (this.opts.cooldownMs ?? 5 * 60_000));
      this.unanswered.delete(fp);
    }
  }
}
