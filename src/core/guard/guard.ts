/**
 * The anomaly guard: rules evaluated on every request a host screens (Host.getSecret,
 * getSecrets, authorizeProxy via HostLifecycle.screen), and on every denial it sees in
 * the audit stream.
 *
 *   canary    any request for a secret marked --canary
 *   offHours  a requester's first request for a secret outside guard.activeHours
 *   burst     more than N distinct secrets from one requester within T seconds
 *   denials   more than N denied or timed-out requests from one requester within T seconds
 *
 * This class only decides; HostLifecycle acts on a firing (audit `guard.fired`, alert,
 * host event, then lock the vault or block the requester). Evidence holds counts and
 * secret names, never a value. Windows are kept in memory per requester.
 */
import type { Database, Statement } from 'better-sqlite3';
import type { AuditEntry } from '../audit/chain.js';
import type { Clock } from '../clock.js';
import type { Requester } from '../policy/requester.js';
import { currentGuardConfig, formatActiveHours, withinActiveHours, type GuardAction, type GuardConfig } from './config.js';

export type GuardRule = 'canary' | 'offHours' | 'burst' | 'denials';

export interface GuardFiring {
  rule: GuardRule;
  action: GuardAction;
  /** One line for people (no values). */
  message: string;
  secrets: string[];
  evidence: Record<string, unknown>;
  /** Who set it off, when the guard knows (for `block`). */
  requester: Requester | null;
  /** The audit label of the requester. */
  label: string | null;
}

export interface GuardOptions {
  db: Database;
  clock: Clock;
  /** Local hour of day for a time (tests inject one). */
  hourOf?: (ms: number) => number;
}

/** Denial reasons that are not the requester's doing or that the guard itself caused. */
const NOT_COUNTED = /^(not found|locked|expired|guard:|version |the host is shutting down)/;
const MAX_TRACKED = 2000;

export class AnomalyGuard {
  private readonly db: Database;
  private readonly clock: Clock;
  private readonly hourOf: (ms: number) => number;
  /** fingerprint → secret name → last request time. */
  private readonly bursts = new Map<string, Map<string, number>>();
  /** "label\0exe" → denial times. */
  private readonly denials = new Map<string, number[]>();
  /** "label\0exe" → the last requester seen with that label (to block it). */
  private readonly byLabel = new Map<string, Requester>();
  /** fingerprint\0secret pairs seen by this host (first-time detection). */
  private readonly seen = new Set<string>();
  private deliveredStmt: Statement | null = null;

  constructor(opts: GuardOptions) {
    this.db = opts.db;
    this.clock = opts.clock;
    this.hourOf = opts.hourOf ?? ((ms) => new Date(ms).getHours());
  }

  config(): GuardConfig {
    return currentGuardConfig(this.db);
  }

  /**
   * Screens one request for `names` (of which `canaries` are canary secrets). Returns the
   * first rule that fires, or null.
   */
  check(requester: Requester, names: readonly string[], canaries: readonly string[]): GuardFiring | null {
    const now = this.clock.now();
    const cfg = this.config();
    this.remember(requester);
    const base = { requester, label: requester.label };

    if (canaries.length > 0) {
      return {
        ...base,
        rule: 'canary',
        action: cfg.canary.action,
        message: `${requester.label} asked for the canary secret${canaries.length > 1 ? 's' : ''} ${canaries.join(', ')}`,
        secrets: [...canaries],
        evidence: { canaries: [...canaries] },
      };
    }

    const hours = cfg.offHours.activeHours;
    if (hours) {
      const hour = this.hourOf(now);
      if (!withinActiveHours(hours, hour)) {
        const first = names.filter((n) => !this.seen.has(`${requester.fingerprint}\0${n}`) && !this.deliveredBefore(requester.label, n));
        for (const n of names) this.markSeen(requester.fingerprint, n);
        if (first.length > 0) {
          return {
            ...base,
            rule: 'offHours',
            action: cfg.offHours.action,
            message: `${requester.label} asked for ${first.join(', ')} for the first time at ${String(hour).padStart(2, '0')}h, outside active hours ${formatActiveHours(hours)}`,
            secrets: first,
            evidence: { hour, activeHours: formatActiveHours(hours), firstTime: first },
          };
        }
      }
    }
    for (const n of names) this.markSeen(requester.fingerprint, n);

    if (cfg.burst.enabled) {
      const windowMs = cfg.burst.windowSeconds * 1000;
      let mine = this.bursts.get(requester.fingerprint);
      if (!mine) {
        mine = new Map();
        this.bursts.set(requester.fingerprint, mine);
        this.trim(this.bursts);
      }
      for (const n of names) mine.set(n, now);
      for (const [n, t] of mine) if (t <= now - windowMs) mine.delete(n);
      if (mine.size > cfg.burst.limit) {
        const secrets = [...mine.keys()].sort();
        mine.clear();
        return {
          ...base,
          rule: 'burst',
          action: cfg.burst.action,
          message: `${requester.label} asked for ${secrets.length} distinct secrets within ${cfg.burst.windowSeconds} s (limit ${cfg.burst.limit})`,
          secrets,
          evidence: { distinctSecrets: secrets.length, limit: cfg.burst.limit, windowSeconds: cfg.burst.windowSeconds, secrets },
        };
      }
    }
    return null;
  }

  /**
   * Counts denials (secret.deny / proxy.deny entries) per requester; returns a firing
   * when one requester passes the limit.
   */
  observe(entries: readonly AuditEntry[]): GuardFiring[] {
    const fired: GuardFiring[] = [];
    let cfg: GuardConfig | null = null;
    for (const e of entries) {
      if (e.event !== 'secret.deny' && e.event !== 'proxy.deny') continue;
      if (e.reason && NOT_COUNTED.test(e.reason)) continue;
      cfg ??= this.config();
      if (!cfg.denials.enabled) return fired;
      const key = `${e.agent ?? ''}\0${e.exe ?? ''}`;
      const windowMs = cfg.denials.windowSeconds * 1000;
      const now = this.clock.now();
      const times = (this.denials.get(key) ?? []).filter((t) => t > now - windowMs);
      times.push(e.ts);
      this.denials.set(key, times);
      this.trim(this.denials);
      if (times.length > cfg.denials.limit) {
        this.denials.delete(key);
        const requester = this.byLabel.get(key) ?? null;
        fired.push({
          rule: 'denials',
          action: cfg.denials.action,
          message: `${e.agent ?? 'a requester'} had ${times.length} requests denied or timed out within ${cfg.denials.windowSeconds} s (limit ${cfg.denials.limit})`,
          secrets: e.secret ? e.secret.split(',') : [],
          evidence: { denials: times.length, limit: cfg.denials.limit, windowSeconds: cfg.denials.windowSeconds, lastReason: e.reason },
          requester,
          label: e.agent,
        });
      }
    }
    return fired;
  }

  /** Forgets a requester's windows (after it was blocked, or on unlock). */
  reset(): void {
    this.bursts.clear();
    this.denials.clear();
  }

  private remember(r: Requester): void {
    const key = `${r.label}\0${r.identity.exe ?? ''}`;
    this.byLabel.delete(key);
    this.byLabel.set(key, r);
    this.trim(this.byLabel);
  }

  private markSeen(fingerprint: string, name: string): void {
    if (this.seen.size > 50_000) this.seen.clear();
    this.seen.add(`${fingerprint}\0${name}`);
  }

  private deliveredBefore(label: string, secret: string): boolean {
    this.deliveredStmt ??= this.db.prepare("SELECT 1 FROM audit WHERE secret = ? AND agent = ? AND event = 'secret.deliver' LIMIT 1");
    return this.deliveredStmt.get(secret, label) !== undefined;
  }

  private trim<K, V>(map: Map<K, V>): void {
    while (map.size > MAX_TRACKED) map.delete(map.keys().next().value as K);
  }
}
