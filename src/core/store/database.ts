/**
 * Opening vault.db: file modes, pragmas, identity checks and migrations.
 *
 * Durability: the connection runs WAL with synchronous=NORMAL, which
 * survives a process crash (audit appends, leases). Changes to secrets and policy go
 * through `durableTransaction`, which switches to synchronous=FULL so the commit also
 * survives power loss.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { AkcError, describeCause } from '../../shared/errors.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.js';

/** 'AKC1' — marks a SQLite file as an Agent Keychain vault. */
export const APPLICATION_ID = 0x414b4331;
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
const BUSY_TIMEOUT_MS = 10_000;

export const VAULT_FILE = 'vault.db';

export function vaultPath(dataDir: string): string {
  return path.join(dataDir, VAULT_FILE);
}

/** Creates the data dir 0700 (and tightens it if it exists with looser bits). */
export function ensureDataDir(dataDir: string): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: DIR_MODE });
  const st = fs.statSync(dataDir);
  if ((st.mode & 0o777) !== DIR_MODE && st.uid === process.getuid?.()) fs.chmodSync(dataDir, DIR_MODE);
}

export interface OpenOptions {
  /** Create the file (and data dir) when it does not exist. */
  create: boolean;
  readonly?: boolean;
  migrations?: readonly Migration[];
}

/** Opens vault.db; returns null when it does not exist and `create` is false. */
export function openDatabase(dataDir: string, opts: OpenOptions): Db | null {
  const file = vaultPath(dataDir);
  const exists = fs.existsSync(file);
  if (!exists && !opts.create) return null;
  if (!exists) {
    ensureDataDir(dataDir);
    // Create the file ourselves so it is 0600 from its first byte; SQLite gives the
    // -wal and -shm files the same mode as the database file.
    fs.closeSync(fs.openSync(file, 'a', FILE_MODE));
  }
  let db: Db;
  try {
    db = new Database(file, { readonly: opts.readonly ?? false, timeout: BUSY_TIMEOUT_MS });
  } catch (cause) {
    throw corrupt(file, cause);
  }
  try {
    // Reading the schema forces SQLite to parse the header: a random file fails here.
    db.pragma('schema_version');
    // Identity first: another application's database must be refused before any pragma
    // below changes it (journal_mode = WAL is persistent and would rewrite its header).
    // One read transaction: the identity fields and the table count come from one
    // snapshot, so a concurrent `akc init` committing its first migration between two
    // reads cannot make a fresh vault look like another application's database.
    db.transaction(() => checkIdentity(db, file))();
    configure(db, opts.readonly ?? false);
    if (!opts.readonly) migrate(db, opts.migrations ?? MIGRATIONS);
    else if (userVersion(db) !== (opts.migrations ?? MIGRATIONS).at(-1)!.version) {
      throw new AkcError('CORRUPT', `vault at ${file} needs a schema upgrade; open it read-write first`);
    }
  } catch (err) {
    db.close();
    if (err instanceof AkcError) throw err;
    throw corrupt(file, err);
  }
  return db;
}

function corrupt(file: string, cause: unknown): AkcError {
  return new AkcError('CORRUPT', `failed to open vault ${file}: ${describeCause(cause)}`, {
    cause,
    hint: 'the file is not an Agent Keychain vault or is damaged; restore it from a backup or move it away and run `akc init`',
  });
}

function configure(db: Db, readonly: boolean): void {
  if (!readonly) db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  // Overwrite deleted content so removed secret versions (ciphertext) do not linger in free pages.
  db.pragma('secure_delete = ON');
}

function userVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function checkIdentity(db: Db, file: string): void {
  const appId = db.pragma('application_id', { simple: true }) as number;
  const version = userVersion(db);
  if (appId === APPLICATION_ID) {
    if (version > LATEST_SCHEMA_VERSION) {
      throw new AkcError(
        'CORRUPT',
        `vault ${file} has schema version ${version}, newer than this akc understands (${LATEST_SCHEMA_VERSION})`,
        {
          hint: 'upgrade Agent Keychain',
        },
      );
    }
    return;
  }
  const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get() as { n: number };
  if (appId !== 0 || version !== 0 || tables.n > 0) {
    throw new AkcError('CORRUPT', `failed to open vault ${file}: it is a SQLite database of another application`, {
      hint: 'move the file away, or point AKC_HOME at the right data dir',
    });
  }
}

export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): void {
  const apply = db.transaction(() => {
    let current = userVersion(db);
    for (const m of migrations) {
      if (m.version <= current) continue;
      if (m.version !== current + 1) throw new AkcError('INTERNAL', `migration ${m.version} is out of order`);
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
      current = m.version;
    }
    if (db.pragma('application_id', { simple: true }) !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
  });
  if (userVersion(db) < migrations.at(-1)!.version) {
    db.pragma('synchronous = FULL');
    try {
      apply.immediate();
    } finally {
      db.pragma('synchronous = NORMAL');
    }
  }
}

/**
 * Runs `fn` in one IMMEDIATE transaction committed with synchronous=FULL (survives power
 * loss). IMMEDIATE takes the write lock up front, so two processes writing at once wait
 * for each other (busy timeout) instead of failing mid-transaction.
 */
export function durableTransaction<T>(db: Db, fn: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(fn).immediate();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}

const statementCache = new WeakMap<Db, Map<string, Statement>>();

/**
 * `db.prepare(sql)`, prepared once per connection. For hot paths: preparing costs 10-60 µs,
 * more than running a small query. The SQL must be a constant (the cache never shrinks).
 */
export function cachedStatement(db: Db, sql: string): Statement {
  let byDb = statementCache.get(db);
  if (!byDb) statementCache.set(db, (byDb = new Map()));
  let stmt = byDb.get(sql);
  if (!stmt) byDb.set(sql, (stmt = db.prepare(sql)));
  return stmt;
}
