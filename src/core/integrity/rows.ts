/**
 * Which columns of which table are authenticated (row-mac.ts), and the checks every
 * reader and writer of those tables goes through.
 *
 * A Vault registers itself for its database (registerIntegrity): while it is unlocked the
 * row key exists and every row is verified; while it is locked nothing can be verified,
 * so readers get 'unverified' and the host re-checks the rows a decision rests on once the
 * vault is unlocked (GrantStore.consume, the proxy's binding check, SecretStore.reveal).
 * A database no Vault opened (unit tests of the stores) has no context: 'unverified'.
 *
 * Verdicts: 'trusted' (MAC good, or NULL during the legacy window before the first
 * password unlock after migration 4), 'unverified' (no key), 'refused' (MAC missing or
 * wrong; audited and alerted once per row). Callers treat 'refused' as "no such row" for
 * anything that allows, and still honour a refused deny (fail closed).
 */
import type { Database } from 'better-sqlite3';
import { AkcError } from '../../shared/errors.js';
import type { AuditFields } from '../audit/chain.js';
import { insertAlert } from '../lifecycle/alerts.js';
import { durableTransaction } from '../store/database.js';
import { rowMac, verifyRowMac, type RowValue } from './row-mac.js';

export interface IntegrityContext {
  /** The row-MAC key while unlocked, else null. Do not keep the reference. */
  rowKey(): Buffer | null;
  auditInTransaction(entries: readonly AuditFields[]): void;
  now(): number;
}

export interface TableSpec {
  table: string;
  idColumn: string;
  /** The security-relevant columns, in the fixed order they are encoded in. */
  columns: readonly string[];
  /**
   * Columns added after rows were already signed, one group per migration (append-only):
   * encoded after `columns` up to the last group with a column set, so a row from before a
   * group existed (its columns NULL) keeps its MAC. The value count is part of the
   * encoding, so setting or clearing one of them on a signed row breaks its MAC either way.
   */
  laterColumns?: readonly (readonly string[])[];
  /** Rows that are inert (revoked) are neither signed nor checked: their MAC is cleared. */
  liveWhere?: string;
}

export const AGENTS: TableSpec = {
  table: 'agents',
  idColumn: 'id',
  columns: ['name', 'exe_path', 'exe_sha256', 'arg_pattern', 'cwd_pattern', 'created_at'],
  liveWhere: 'revoked_at IS NULL',
};

export const GRANTS: TableSpec = {
  table: 'grants',
  idColumn: 'id',
  columns: [
    'agent_id',
    'fingerprint',
    'exe_path',
    'exe_sha256',
    'secret_pattern',
    'effect',
    'scope',
    'expires_at',
    'uses_left',
    'keep_on_rotate',
    'created_at',
    'created_by',
    'channel',
    'proxy_binding',
    'proxy_rule',
  ],
  // Migration 5: a grant approved for one `akc run` command covers only that command.
  // Migration 6: the program it was approved for and the command line, as shown to a human
  // (text, but what `akc grants` shows an admin deciding what to revoke).
  laterColumns: [
    ['run_exe', 'run_argv_sha256'],
    ['program_label', 'run_line'],
  ],
  liveWhere: 'revoked_at IS NULL',
};

/**
 * The name↔id mapping (a value is sealed under its secret id: swapping names would swap
 * values) and the lifecycle policy. Not covered: description, owner, purpose, tags (text
 * for humans), current_version and the scheduler's timestamps (state, not policy).
 */
export const SECRETS: TableSpec = {
  table: 'secrets',
  idColumn: 'id',
  columns: ['name', 'type', 'rotator', 'expires_at', 'expire_after_ms', 'rotate_every_ms', 'grace_ms', 'canary'],
};

export const BINDINGS: TableSpec = {
  table: 'proxy_bindings',
  idColumn: 'name',
  columns: [
    'upstream',
    'secret_name',
    'auth_kind',
    'auth_name',
    'auth_template',
    'allow_rules',
    'allow_private',
    'base_url_env',
    'created_at',
  ],
  // Migration 6: the variable `akc run --proxy` sets to a placeholder key for the SDK.
  laterColumns: [['placeholder_env']],
};

/** Settings that carry policy (the guard's `guard.*` keys and the signed-rows flag). */
export const SETTINGS: TableSpec = { table: 'settings', idColumn: 'key', columns: ['value'] };

const SIGNED_TABLES: readonly TableSpec[] = [AGENTS, GRANTS, SECRETS, BINDINGS];
const SIGNED_SETTINGS_WHERE = "(key >= 'guard.' AND key < 'guard/')";

/** Set (MACed) once every row was signed; from then on a NULL MAC is refused. */
export const ROWS_SIGNED_SETTING = 'integrity.rows-signed';
const ROWS_SIGNED_EVENT = 'integrity.rows-signed';

export type Verdict = 'trusted' | 'unverified' | 'refused';

const contexts = new WeakMap<Database, IntegrityContext>();
/** Monotonic per connection: once rows are known to be signed, NULL MACs stay refused. */
const strict = new WeakSet<Database>();
/** Rows already reported in this process (table, id, MAC), so a bad row alerts once. */
const reported = new Set<string>();

export function registerIntegrity(db: Database, ctx: IntegrityContext): void {
  contexts.set(db, ctx);
}

/** A row as better-sqlite3 returns it (or as a writer is about to store it). */
type Row = object;

function col(row: Row, c: string): unknown {
  return (row as Record<string, unknown>)[c];
}

function values(spec: TableSpec, row: Row): RowValue[] {
  const base = spec.columns.map((c) => {
    if (!(c in row)) throw new AkcError('INTERNAL', `failed to authenticate a ${spec.table} row: column ${c} was not read`);
    return col(row, c) as RowValue;
  });
  // A later column a writer left out counts as NULL: were it set in the database, the MAC
  // made without it would not verify (fail closed).
  const groups = (spec.laterColumns ?? []).map((g) => g.map((c) => (col(row, c) ?? null) as RowValue));
  let used = groups.length;
  while (used > 0 && groups[used - 1]!.every((v) => v === null)) used -= 1;
  return [...base, ...groups.slice(0, used).flat()];
}

function idOf(spec: TableSpec, row: Row): string {
  return String(col(row, spec.idColumn));
}

/** The MAC of a row as it is (or is about to be) stored. */
export function macOf(key: Buffer, spec: TableSpec, row: Row): Buffer {
  return rowMac(key, spec.table, idOf(spec, row), values(spec, row));
}

/**
 * The MAC to store with a row being written, or null when this database has no integrity
 * context (unit tests of the stores) or — only with `allowUnsigned` — while locked. An
 * allowing row written without the key would be refused later; it is refused now instead.
 */
export function signatureFor(db: Database, spec: TableSpec, row: Row, opts: { allowUnsigned?: boolean } = {}): Buffer | null {
  const ctx = contexts.get(db);
  if (!ctx) return null;
  const key = ctx.rowKey();
  if (!key) {
    if (opts.allowUnsigned) return null;
    throw new AkcError('LOCKED', `failed to sign the ${spec.table} row ${idOf(spec, row)}: the vault is locked`, {
      hint: 'unlock the vault first',
    });
  }
  return macOf(key, spec, row);
}

/** Re-signs one stored row after a change made in SQL (call inside the writing transaction). */
export function resign(db: Database, spec: TableSpec, id: string): void {
  const row = db.prepare(`SELECT * FROM ${spec.table} WHERE ${spec.idColumn} = ?`).get(id) as Row | undefined;
  if (!row) return;
  const mac = signatureFor(db, spec, row);
  db.prepare(`UPDATE ${spec.table} SET row_mac = ? WHERE ${spec.idColumn} = ?`).run(mac, id);
}

/** Verifies a row read by the caller (it must include row_mac and every covered column). */
export function checkRow(db: Database, spec: TableSpec, row: Row): Verdict {
  const ctx = contexts.get(db);
  if (!ctx) return 'unverified';
  const key = ctx.rowKey();
  if (!key) return 'unverified';
  const mac = (col(row, 'row_mac') ?? null) as Buffer | null;
  const id = idOf(spec, row);
  if (mac === null && !rowsSigned(db, ctx, key)) return 'trusted';
  if (verifyRowMac(key, spec.table, id, values(spec, row), mac)) return 'trusted';
  reportTamper(db, ctx, spec.table, id, mac === null ? 'missing' : 'mismatch', mac);
  return 'refused';
}

/** checkRow for a row that must be trusted now (the vault is unlocked): throws CORRUPT naming it. */
export function assertTrusted(db: Database, spec: TableSpec, row: Row, what: string): void {
  const verdict = checkRow(db, spec, row);
  if (verdict === 'refused') {
    throw new AkcError('CORRUPT', `refused ${what}: its row in vault.db failed the integrity check (changed outside Agent Keychain)`, {
      hint: 'see `akc alerts`; re-create it with the master password if the change was not yours',
    });
  }
}

/** Reads and checks the stored row by id (missing row: 'refused'). */
export function checkStored(db: Database, spec: TableSpec, id: string): Verdict {
  const row = db.prepare(`SELECT * FROM ${spec.table} WHERE ${spec.idColumn} = ?`).get(id) as Row | undefined;
  if (!row) return 'refused';
  return checkRow(db, spec, row);
}

function rowsSigned(db: Database, ctx: IntegrityContext, key: Buffer): boolean {
  if (strict.has(db)) return true;
  const flag = db.prepare('SELECT key, value, row_mac FROM settings WHERE key = ?').get(ROWS_SIGNED_SETTING) as Row | undefined;
  if (flag) {
    // A flag with a broken MAC is still a flag: the fallback (accepting NULL MACs) is the
    // weaker state, so only a vault that never had it gets the legacy window.
    if (!verifyRowMac(key, SETTINGS.table, ROWS_SIGNED_SETTING, values(SETTINGS, flag), (col(flag, 'row_mac') ?? null) as Buffer | null)) {
      reportTamper(db, ctx, SETTINGS.table, ROWS_SIGNED_SETTING, 'mismatch', null);
    }
    strict.add(db);
    return true;
  }
  // No flag: a deleted one shows in the audit log (the signing is audited) or in any row
  // that already carries a MAC. Only a vault with neither is a legacy vault.
  const audited = db.prepare('SELECT 1 FROM audit WHERE event = ? LIMIT 1').get(ROWS_SIGNED_EVENT) !== undefined;
  const anyMac = SIGNED_TABLES.some((t) => db.prepare(`SELECT 1 FROM ${t.table} WHERE row_mac IS NOT NULL LIMIT 1`).get() !== undefined);
  if (audited || anyMac) {
    reportTamper(db, ctx, SETTINGS.table, ROWS_SIGNED_SETTING, 'missing', null);
    strict.add(db);
    return true;
  }
  return false;
}

/**
 * At a master-password unlock (and at init): signs every unsigned row of a legacy vault
 * once, then records that rows are signed. Rows that already carry a MAC keep it (a
 * wrong one stays refused). Does nothing once the vault is signed. Returns rows signed.
 *
 * The window: between migration 4 and this first password unlock, NULL MACs are accepted
 * (there is no key to tell a legacy row from a forged one), and whatever rows exist now
 * are what gets signed. Keychain unlocks do not sign: the keychain entry is readable by
 * any same-user process on Linux and Windows.
 */
export function signRowsAtPasswordUnlock(db: Database): number {
  const ctx = contexts.get(db);
  const key = ctx?.rowKey();
  if (!ctx || !key) return 0;
  if (rowsSigned(db, ctx, key)) return 0;
  return durableTransaction(db, () => {
    let count = 0;
    const counts: Record<string, number> = {};
    for (const spec of [...SIGNED_TABLES, SETTINGS]) {
      const where = [`row_mac IS NULL`];
      if (spec.liveWhere) where.push(spec.liveWhere);
      if (spec === SETTINGS) where.push(SIGNED_SETTINGS_WHERE);
      const rows = db.prepare(`SELECT * FROM ${spec.table} WHERE ${where.join(' AND ')}`).all() as Row[];
      const upd = db.prepare(`UPDATE ${spec.table} SET row_mac = ? WHERE ${spec.idColumn} = ?`);
      for (const row of rows) upd.run(macOf(key, spec, row), idOf(spec, row));
      counts[spec.table] = rows.length;
      count += rows.length;
    }
    const flag = { key: ROWS_SIGNED_SETTING, value: '1' };
    db.prepare(
      'INSERT INTO settings (key, value, row_mac) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, row_mac = excluded.row_mac',
    ).run(flag.key, flag.value, macOf(key, SETTINGS, flag));
    // A new vault (nothing to sign) just records the flag; a legacy vault's signing is audited.
    if (count > 0) {
      ctx.auditInTransaction([
        { event: ROWS_SIGNED_EVENT, reason: `${count} existing row(s) signed at a password unlock`, detail: counts },
      ]);
    }
    strict.add(db);
    return count;
  });
}

function reportTamper(
  db: Database,
  ctx: IntegrityContext,
  table: string,
  id: string,
  kind: 'missing' | 'mismatch',
  mac: Buffer | null,
): void {
  const mark = `${db.name}\0${table}\0${id}\0${mac?.toString('hex') ?? '-'}`;
  if (reported.has(mark)) return;
  reported.add(mark);
  const write = (): void => {
    try {
      durableTransaction(db, () => {
        const now = ctx.now();
        insertAlert(
          db,
          {
            kind: 'tamper.row',
            rule: table,
            message: `a ${table} row (${id}) was changed outside Agent Keychain (MAC ${kind}); it is ignored`,
            detail: { table, row: id, mac: kind },
          },
          now,
        );
        ctx.auditInTransaction([
          { event: 'tamper.row', decision: 'refused', reason: `${table} row ${id}: MAC ${kind}`, detail: { table, row: id, mac: kind } },
        ]);
      });
    } catch {
      // Reporting must not turn a refusal into a crash; allow a retry next time.
      reported.delete(mark);
    }
  };
  // Inside the caller's transaction the report would share its fate (a rollback would
  // erase it): write it right after, in its own transaction.
  if (db.inTransaction) queueMicrotask(write);
  else write();
}
