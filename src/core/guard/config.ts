/**
 * Anomaly guard settings, in the vault's `settings` table under `guard.*` (JSON values,
 * like the desktop settings). Readable while locked; changing them needs the master
 * password (`akc guard set`) and is audited. A hand-edited row that does not parse falls
 * back to the default.
 */
import { SETTINGS, checkRow, signatureFor } from '../integrity/rows.js';
import type { Database, Statement } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import { durableTransaction } from '../store/database.js';
import type { Vault } from '../vault/vault.js';

export type GuardAction = 'lock' | 'block';
export const GUARD_ACTIONS: readonly GuardAction[] = ['lock', 'block'];

export interface ActiveHours {
  /** Hour of day the active period starts (0–23), local time. */
  from: number;
  /** Hour it ends (1–24, exclusive); from > to wraps past midnight ("22-06"). */
  to: number;
}

export interface GuardConfig {
  burst: { enabled: boolean; limit: number; windowSeconds: number; action: GuardAction };
  denials: { enabled: boolean; limit: number; windowSeconds: number; action: GuardAction };
  offHours: { activeHours: ActiveHours | null; action: GuardAction };
  canary: { action: GuardAction };
}

interface KeySpec {
  description: string;
  default: unknown;
  /** From the command line. Throws INVALID_ARGUMENT. */
  parse(text: string): unknown;
  /** A stored (JSON-parsed) value is acceptable. */
  check(value: unknown): boolean;
}

const intSpec = (min: number, max: number, description: string, def: number): KeySpec => ({
  description,
  default: def,
  parse(text) {
    const n = Number(text);
    if (!/^\d+$/.test(text.trim()) || n < min || n > max) throw invalid(`an integer from ${min} to ${max}`);
    return n;
  },
  check: (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
});

const boolSpec = (description: string, def: boolean): KeySpec => ({
  description,
  default: def,
  parse(text) {
    const t = text.trim().toLowerCase();
    if (['on', 'true', 'yes', '1'].includes(t)) return true;
    if (['off', 'false', 'no', '0'].includes(t)) return false;
    throw invalid('on or off');
  },
  check: (v) => typeof v === 'boolean',
});

const actionSpec = (description: string): KeySpec => ({
  description,
  default: 'lock',
  parse(text) {
    const t = text.trim();
    if (!GUARD_ACTIONS.includes(t as GuardAction)) throw invalid('lock (lock the vault) or block (block only the requester)');
    return t;
  },
  check: (v) => GUARD_ACTIONS.includes(v as GuardAction),
});

/** "08-20" → { from: 8, to: 20 }; "off" → null. */
export function parseActiveHours(text: string): ActiveHours | null {
  const t = text.trim().toLowerCase();
  if (t === 'off' || t === '') return null;
  const m = /^(\d{1,2})-(\d{1,2})$/.exec(t);
  if (!m) throw invalid('hours like 08-20 (local time; 22-06 wraps past midnight) or off');
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from > 23 || to > 24 || to === 0 || from === to) throw invalid('hours like 08-20: from 0–23, to 1–24, not equal');
  return { from, to };
}

export function formatActiveHours(h: ActiveHours | null): string {
  if (!h) return 'off';
  return `${String(h.from).padStart(2, '0')}-${String(h.to).padStart(2, '0')}`;
}

export function withinActiveHours(h: ActiveHours, hour: number): boolean {
  return h.from < h.to ? hour >= h.from && hour < h.to : hour >= h.from || hour < h.to;
}

export const GUARD_KEYS: Readonly<Record<string, KeySpec>> = {
  'guard.burst.enabled': boolSpec('burst rule: more than LIMIT distinct secrets from one requester within WINDOW seconds', true),
  'guard.burst.limit': intSpec(1, 10_000, 'burst rule: distinct secrets allowed within the window', 8),
  'guard.burst.window': intSpec(1, 86_400, 'burst rule: window in seconds', 60),
  'guard.burst.action': actionSpec('burst rule: lock the vault, or block only the requester'),
  'guard.denials.enabled': boolSpec(
    'denial spike: more than LIMIT denied or timed-out requests from one requester within WINDOW seconds',
    true,
  ),
  'guard.denials.limit': intSpec(1, 10_000, 'denial spike: denials allowed within the window', 10),
  'guard.denials.window': intSpec(1, 86_400, 'denial spike: window in seconds', 60),
  'guard.denials.action': actionSpec('denial spike: lock the vault, or block only the requester'),
  'guard.activeHours': {
    description: 'off-hours rule: a requester’s first request for a secret outside these local hours fires (e.g. 08-20; off)',
    default: null,
    parse: (text) => parseActiveHours(text),
    check: (v) =>
      v === null ||
      (typeof v === 'object' &&
        Number.isInteger((v as ActiveHours).from) &&
        Number.isInteger((v as ActiveHours).to) &&
        (v as ActiveHours).from >= 0 &&
        (v as ActiveHours).from <= 23 &&
        (v as ActiveHours).to >= 1 &&
        (v as ActiveHours).to <= 24 &&
        (v as ActiveHours).from !== (v as ActiveHours).to),
  },
  'guard.offHours.action': actionSpec('off-hours rule: lock the vault, or block only the requester'),
  'guard.canary.action': actionSpec('canary rule (any request for a --canary secret): lock the vault, or block only the requester'),
};

function invalid(what: string): AkcError {
  return new AkcError('INVALID_ARGUMENT', `expected ${what}`);
}

/** Accepts `burst.limit` as well as `guard.burst.limit`. */
export function normalizeGuardKey(key: string): string {
  const full = key.startsWith('guard.') ? key : `guard.${key}`;
  if (!Object.hasOwn(GUARD_KEYS, full)) {
    throw new AkcError('INVALID_ARGUMENT', `unknown guard setting ${JSON.stringify(key)}`, {
      hint: `one of: ${Object.keys(GUARD_KEYS).join(', ')}`,
    });
  }
  return full;
}

const readStmts = new WeakMap<Database, Statement>();

/** The raw effective values by key (defaults filled in). */
export function readGuardValues(db: Database): Record<string, unknown> {
  let stmt = readStmts.get(db);
  if (!stmt) {
    stmt = db.prepare("SELECT key, value, row_mac FROM settings WHERE key >= 'guard.' AND key < 'guard/'");
    readStmts.set(db, stmt);
  }
  const out: Record<string, unknown> = {};
  for (const [k, spec] of Object.entries(GUARD_KEYS)) out[k] = spec.default;
  for (const row of stmt.all() as { key: string; value: string; row_mac: Buffer | null }[]) {
    const spec = GUARD_KEYS[row.key];
    if (!spec) continue;
    // A setting whose MAC is missing or wrong was not made by `akc guard set`: the default
    // applies (src/core/integrity; checkRow alerts once).
    if (checkRow(db, SETTINGS, row) === 'refused') continue;
    try {
      const v: unknown = JSON.parse(row.value);
      if (spec.check(v)) out[row.key] = v;
    } catch {
      // keep the default
    }
  }
  return out;
}

/** Bumped by setGuardValue: `data_version` only tracks other connections' commits. */
const ownWrites = new WeakMap<Database, number>();
const cache = new WeakMap<Database, { dataVersion: number; own: number; config: GuardConfig }>();
const dataVersionStmts = new WeakMap<Database, Statement>();

/**
 * The guard configuration, read on every screened request: cached until the database
 * changes (a commit by another connection moves `data_version`; ours bump `ownWrites`).
 */
export function currentGuardConfig(db: Database): GuardConfig {
  let stmt = dataVersionStmts.get(db);
  if (!stmt) {
    stmt = db.prepare('PRAGMA data_version').pluck();
    dataVersionStmts.set(db, stmt);
  }
  const dataVersion = stmt.get() as number;
  const own = ownWrites.get(db) ?? 0;
  const hit = cache.get(db);
  if (hit && hit.dataVersion === dataVersion && hit.own === own) return hit.config;
  const config = readGuardConfig(db);
  cache.set(db, { dataVersion, own, config });
  return config;
}

export function readGuardConfig(db: Database): GuardConfig {
  const v = readGuardValues(db);
  return {
    burst: {
      enabled: v['guard.burst.enabled'] as boolean,
      limit: v['guard.burst.limit'] as number,
      windowSeconds: v['guard.burst.window'] as number,
      action: v['guard.burst.action'] as GuardAction,
    },
    denials: {
      enabled: v['guard.denials.enabled'] as boolean,
      limit: v['guard.denials.limit'] as number,
      windowSeconds: v['guard.denials.window'] as number,
      action: v['guard.denials.action'] as GuardAction,
    },
    offHours: { activeHours: v['guard.activeHours'] as ActiveHours | null, action: v['guard.offHours.action'] as GuardAction },
    canary: { action: v['guard.canary.action'] as GuardAction },
  };
}

/** A value as the user would type it. */
export function formatGuardValue(key: string, value: unknown): string {
  if (key === 'guard.activeHours') return formatActiveHours(value as ActiveHours | null);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return String(value);
}

/** Sets one guard setting (durable, audited). Returns the stored value. */
export function setGuardValue(vault: Vault, key: string, text: string, by: string): unknown {
  const full = normalizeGuardKey(key);
  const spec = GUARD_KEYS[full]!;
  let value: unknown;
  try {
    value = spec.parse(text);
  } catch (err) {
    if (err instanceof AkcError) throw new AkcError('INVALID_ARGUMENT', `invalid value for ${full}: ${err.message}`);
    throw err;
  }
  durableTransaction(vault.db, () => {
    vault.db
      .prepare(
        'INSERT INTO settings (key, value, row_mac) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, row_mac = excluded.row_mac',
      )
      .run(full, JSON.stringify(value), signatureFor(vault.db, SETTINGS, { key: full, value: JSON.stringify(value) }));
    vault.auditInTransaction([{ event: 'guard.set', reason: `${full}=${formatGuardValue(full, value)} by ${by}` }]);
  });
  ownWrites.set(vault.db, (ownWrites.get(vault.db) ?? 0) + 1);
  return value;
}
