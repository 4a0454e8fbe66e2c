/**
 * Rate limit for failed admin proofs (without it, `approval.decide` was an unlimited
 * password oracle). Failures are counted per connection and per requester fingerprint;
 * MAX_FAILURES in a row puts that key in a cool-down during which every attempt is
 * refused with RATE_LIMITED before it is checked; each further cool-down doubles, up to
 * MAX_COOL_DOWN_MS. A success clears the counters of its keys.
 *
 * Each guess already costs the guesser one Argon2id derivation (the proof needs the KEK),
 * the same as guessing against a copy of vault.db; the limit keeps the host from being a
 * fast oracle on top of that, and bounds the audit entries a guesser can cause. The
 * human keeps the host's own prompt (daemon terminal, desktop window) during a cool-down.
 */
import { AkcError } from '../../shared/errors.js';

export const MAX_FAILURES = 5;
export const COOL_DOWN_MS = 60_000;
export const MAX_COOL_DOWN_MS = 15 * 60_000;
/** A key with no failure for this long starts over (and is forgotten). */
const FORGET_AFTER_MS = 60 * 60_000;
/** Bound on remembered requester keys (a guesser cycling fingerprints). */
const MAX_KEYS = 4096;

interface Counter {
  failures: number;
  /** Cool-downs so far (doubles each one). */
  strikes: number;
  coolUntil: number;
  lastFailure: number;
}

export class AttemptLimiter {
  private readonly byConnection = new WeakMap<object, Counter>();
  private readonly byRequester = new Map<string, Counter>();

  /** Throws RATE_LIMITED when the connection or the requester is cooling down. */
  check(connection: object, requester: string, now: number): void {
    for (const c of [this.byConnection.get(connection), this.live(requester, now)]) {
      if (c && c.coolUntil > now) {
        const secs = Math.ceil((c.coolUntil - now) / 1000);
        throw new AkcError('RATE_LIMITED', `too many failed admin proofs: try again in ${secs} s`, {
          hint: 'check the master password; the host’s own prompt (daemon terminal or desktop window) still works',
        });
      }
    }
  }

  /** Records a failure; true when it started a cool-down (for the audit). */
  fail(connection: object, requester: string, now: number): boolean {
    let started = false;
    for (const c of [this.connectionCounter(connection), this.requesterCounter(requester, now)]) {
      c.failures += 1;
      c.lastFailure = now;
      if (c.failures >= MAX_FAILURES) {
        c.strikes += 1;
        c.failures = 0;
        c.coolUntil = now + Math.min(COOL_DOWN_MS * 2 ** (c.strikes - 1), MAX_COOL_DOWN_MS);
        started = true;
      }
    }
    return started;
  }

  succeed(connection: object, requester: string): void {
    this.byConnection.delete(connection);
    this.byRequester.delete(requester);
  }

  private live(requester: string, now: number): Counter | undefined {
    const c = this.byRequester.get(requester);
    if (c && c.coolUntil <= now && now - c.lastFailure > FORGET_AFTER_MS) {
      this.byRequester.delete(requester);
      return undefined;
    }
    return c;
  }

  private connectionCounter(connection: object): Counter {
    let c = this.byConnection.get(connection);
    if (!c) {
      c = { failures: 0, strikes: 0, coolUntil: 0, lastFailure: 0 };
      this.byConnection.set(connection, c);
    }
    return c;
  }

  private requesterCounter(requester: string, now: number): Counter {
    let c = this.live(requester, now);
    if (!c) {
      if (this.byRequester.size >= MAX_KEYS) this.prune(now);
      c = { failures: 0, strikes: 0, coolUntil: 0, lastFailure: 0 };
      this.byRequester.set(requester, c);
    }
    return c;
  }

  /** Drops keys that are not cooling down, oldest first, until there is room. */
  private prune(now: number): void {
    for (const [k, c] of this.byRequester) {
      if (this.byRequester.size < MAX_KEYS) break;
      if (c.coolUntil <= now) this.byRequester.delete(k);
    }
  }
}
