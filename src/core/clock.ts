/** Time as a port, so schedulers, expiry and timeouts can be tested with an injected clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
