/**
 * The same lookup straight through the OS keychain (@napi-rs/keyring), for comparison:
 * what an agent would pay if it read its secret from the keychain itself.
 */
import { AsyncEntry, Entry } from '@napi-rs/keyring';
import { now, since, summarize, type Summary } from './stats.js';

export interface KeyringDirect {
  sync: Summary;
  async: Summary;
}

/** Stores `value` under (service, account), then times `n` sequential getPassword calls each way. */
export async function keyringDirect(service: string, account: string, value: string, n: number, warmup: number): Promise<KeyringDirect> {
  const entry = new Entry(service, account);
  entry.setPassword(value);
  try {
    const syncNs: number[] = [];
    for (let i = 0; i < warmup + n; i++) {
      const t = now();
      const got = entry.getPassword();
      const dt = since(t);
      if (got !== value) throw new Error('the OS keychain returned a different value');
      if (i >= warmup) syncNs.push(dt);
    }
    const asyncEntry = new AsyncEntry(service, account);
    const asyncNs: number[] = [];
    for (let i = 0; i < warmup + n; i++) {
      const t = now();
      const got = await asyncEntry.getPassword();
      const dt = since(t);
      if (got !== value) throw new Error('the OS keychain returned a different value');
      if (i >= warmup) asyncNs.push(dt);
    }
    return { sync: summarize(syncNs), async: summarize(asyncNs) };
  } finally {
    entry.deletePassword();
  }
}
