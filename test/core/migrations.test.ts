/**
 * Schema migrations against real SQLite files. One test per migration: every entry of
 * MIGRATIONS must have a check in PER_MIGRATION below (a test enforces it).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { APPLICATION_ID, migrate, openDatabase, vaultPath } from '../../src/core/store/database.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../src/core/store/migrations.js';
import { isAkcError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/env.js';

function freshDb(): { db: Db; file: string } {
  const file = path.join(tempDir(), 'test.db');
  return { db: new Database(file), file };
}

function columns(db: Db, table: string): Record<string, { type: string; notnull: number; pk: number }> {
  const rows = db.pragma(`table_info(${table})`) as { name: string; type: string; notnull: number; pk: number }[];
  return Object.fromEntries(rows.map((r) => [r.name, { type: r.type, notnull: r.notnull, pk: r.pk }]));
}

function tables(db: Db): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]
  ).map((r) => r.name);
}

function schemaSql(db: Db): string[] {
  return (
    db.prepare('SELECT type, name, sql FROM sqlite_schema ORDER BY type, name').all() as { type: string; name: string; sql: string }[]
  ).map((r) => `${r.type} ${r.name} ${r.sql}`);
}

const version = (db: Db): number => db.pragma('user_version', { simple: true }) as number;
const appId = (db: Db): number => db.pragma('application_id', { simple: true }) as number;

/** What each migration must leave behind, checked on a db migrated exactly to that version. */
const PER_MIGRATION: Record<number, (db: Db) => void> = {
  1(db) {
    assert.deepEqual(tables(db), [
      'agents',
      'audit',
      'audit_checkpoints',
      'grants',
      'leases',
      'secret_versions',
      'secrets',
      'settings',
      'vault',
    ]);
    const expected: Record<string, string[]> = {
      vault: ['singleton', 'id', 'kdf', 'salt', 'wrapped_key_pw', 'wrapped_key_kc', 'created_at', 'updated_at'],
      secrets: ['id', 'name', 'type', 'description', 'owner', 'tags', 'current_version', 'created_at', 'updated_at'],
      secret_versions: ['secret_id', 'version', 'blob', 'state', 'created_at', 'retire_at'],
      agents: ['id', 'name', 'exe_path', 'exe_sha256', 'arg_pattern', 'cwd_pattern', 'created_at', 'revoked_at'],
      grants: [
        'id',
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
        'revoked_at',
      ],
      leases: ['id', 'agent_id', 'fingerprint', 'pid', 'secret_id', 'secret_name', 'version', 'issued_at', 'expires_at', 'revoked_at'],
      audit: [
        'seq',
        'ts',
        'event',
        'agent',
        'pid',
        'exe',
        'secret',
        'version',
        'decision',
        'purpose',
        'reason',
        'detail',
        'prev_hash',
        'hash',
      ],
      audit_checkpoints: ['seq', 'hash', 'mac', 'ts'],
      settings: ['key', 'value'],
    };
    for (const [table, cols] of Object.entries(expected)) assert.deepEqual(Object.keys(columns(db, table)), cols, table);
    // Types and constraints that the code relies on.
    assert.deepEqual(columns(db, 'secret_versions').blob, { type: 'BLOB', notnull: 1, pk: 0 });
    assert.equal(columns(db, 'vault').wrapped_key_kc!.notnull, 0);
    assert.equal(columns(db, 'audit').seq!.pk, 1);
    assert.equal(columns(db, 'secret_versions').secret_id!.pk, 1);
    assert.equal(columns(db, 'secret_versions').version!.pk, 2);
    const indexes = (
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").all() as { name: string }[]
    ).map((r) => r.name);
    assert.deepEqual(indexes, ['audit_agent', 'audit_secret', 'grants_agent', 'grants_fingerprint', 'leases_live']);
    // Every table is STRICT.
    for (const t of tables(db)) {
      const sql = (db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').get(t) as { sql: string }).sql;
      assert.match(sql, /\)\s*STRICT$/, `${t} is STRICT`);
    }

    // Behaviour: one vault row only, STRICT types, checks, cascades.
    db.pragma('foreign_keys = ON');
    const vaultRow = db.prepare('INSERT INTO vault VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
    vaultRow.run(1, 'id', '{}', Buffer.alloc(16), Buffer.alloc(61), null, 1, 1);
    assert.throws(() => vaultRow.run(2, 'id2', '{}', Buffer.alloc(16), Buffer.alloc(61), null, 1, 1), /CHECK constraint/);
    assert.throws(
      () => db.prepare("INSERT INTO audit_checkpoints VALUES (1, 'not a blob', x'00', 1)").run(),
      /cannot store TEXT value in BLOB column/,
    );
    db.prepare(
      "INSERT INTO secrets (id, name, type, current_version, created_at, updated_at) VALUES ('s1', 'a', 'generic', 1, 1, 1)",
    ).run();
    db.prepare("INSERT INTO secret_versions VALUES ('s1', 1, x'01', 'current', 1, NULL)").run();
    assert.throws(() => db.prepare("INSERT INTO secret_versions VALUES ('s1', 2, x'01', 'bogus', 1, NULL)").run(), /CHECK constraint/);
    assert.throws(() => db.prepare("INSERT INTO secret_versions VALUES ('nope', 1, x'01', 'current', 1, NULL)").run(), /FOREIGN KEY/);
    assert.throws(
      () =>
        db
          .prepare("INSERT INTO secrets (id, name, type, current_version, created_at, updated_at) VALUES ('s2', 'a', 'generic', 1, 1, 1)")
          .run(),
      /UNIQUE/,
    );
    db.prepare("DELETE FROM secrets WHERE id = 's1'").run();
    assert.equal(
      (db.prepare('SELECT count(*) AS n FROM secret_versions').get() as { n: number }).n,
      0,
      'versions cascade with their secret',
    );
    assert.throws(
      () =>
        db
          .prepare(
            "INSERT INTO grants (id, secret_pattern, effect, scope, created_at, created_by) VALUES ('g', '*', 'allow', 'always', 1, 'x')",
          )
          .run(),
      /CHECK constraint/,
      'a grant names an agent or a fingerprint',
    );
  },
  2(db) {
    assert.ok(tables(db).includes('proxy_bindings'));
    assert.deepEqual(Object.keys(columns(db, 'proxy_bindings')), [
      'name',
      'upstream',
      'secret_name',
      'auth_kind',
      'auth_name',
      'auth_template',
      'allow_rules',
      'allow_private',
      'base_url_env',
      'created_at',
      'updated_at',
    ]);
    assert.equal(columns(db, 'proxy_bindings').name!.pk, 1);
    const insert = db.prepare(
      'INSERT INTO proxy_bindings (name, upstream, secret_name, auth_kind, auth_name, auth_template, allow_private, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1)',
    );
    insert.run('openai', 'https://api.openai.com', 'openai/key', 'header', 'Authorization', 'Bearer {{value}}', 0);
    assert.equal(
      (db.prepare("SELECT allow_rules FROM proxy_bindings WHERE name = 'openai'").get() as { allow_rules: string }).allow_rules,
      '[]',
    );
    assert.throws(() => insert.run('b', 'https://x', 's', 'cookie', 'n', 't', 0), /CHECK constraint/);
    assert.throws(() => insert.run('c', 'https://x', 's', 'query', 'n', 't', 2), /CHECK constraint/);
    assert.throws(() => insert.run('openai', 'https://x', 's', 'basic', 'n', 't', 1), /UNIQUE|PRIMARY KEY/);
  },
  3(db) {
    // Lifecycle columns appended to secrets; existing rows get the defaults.
    assert.deepEqual(Object.keys(columns(db, 'secrets')).slice(9), [
      'purpose',
      'expires_at',
      'expire_after_ms',
      'rotate_every_ms',
      'grace_ms',
      'rotator',
      'last_rotated_at',
      'next_rotation_at',
      'rotation_pending_at',
      'canary',
    ]);
    assert.ok(tables(db).includes('webhook_keys'));
    assert.ok(tables(db).includes('alerts'));
    assert.deepEqual(Object.keys(columns(db, 'webhook_keys')), ['secret_id', 'blob', 'created_at']);
    assert.deepEqual(Object.keys(columns(db, 'alerts')), [
      'id',
      'ts',
      'kind',
      'secret',
      'rule',
      'agent',
      'message',
      'detail',
      'cleared_at',
      'cleared_by',
    ]);
    for (const t of ['secrets', 'webhook_keys', 'alerts']) {
      const sql = (db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').get(t) as { sql: string }).sql;
      assert.match(sql, /\)\s*STRICT$/, `${t} is STRICT`);
    }
    const indexes = (
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").all() as { name: string }[]
    ).map((r) => r.name);
    assert.ok(indexes.includes('secrets_next_rotation') && indexes.includes('alerts_open'));

    db.pragma('foreign_keys = ON');
    db.prepare(
      "INSERT INTO secrets (id, name, type, current_version, created_at, updated_at) VALUES ('s1', 'a', 'generic', 1, 1, 1)",
    ).run();
    const row = db.prepare("SELECT purpose, canary, expires_at, rotator FROM secrets WHERE id = 's1'").get();
    assert.deepEqual(row, { purpose: '', canary: 0, expires_at: null, rotator: null });
    assert.throws(() => db.prepare("UPDATE secrets SET canary = 2 WHERE id = 's1'").run(), /CHECK constraint/);
    assert.throws(() => db.prepare("UPDATE secrets SET grace_ms = -1 WHERE id = 's1'").run(), /CHECK constraint/);
    assert.throws(() => db.prepare("UPDATE secrets SET rotate_every_ms = 0 WHERE id = 's1'").run(), /CHECK constraint/);
    assert.throws(
      () => db.prepare("UPDATE secrets SET expires_at = 'soon' WHERE id = 's1'").run(),
      /cannot store TEXT value in INTEGER column/,
    );
    db.prepare("INSERT INTO webhook_keys VALUES ('s1', x'01', 1)").run();
    assert.throws(() => db.prepare("INSERT INTO webhook_keys VALUES ('nope', x'01', 1)").run(), /FOREIGN KEY/);
    db.prepare("INSERT INTO alerts (ts, kind, secret, message) VALUES (1, 'rotation.failed', 'a', 'm')").run();
    assert.throws(() => db.prepare("INSERT INTO alerts (ts, kind, message) VALUES (1, 'bogus', 'm')").run(), /CHECK constraint/);
    db.prepare("DELETE FROM secrets WHERE id = 's1'").run();
    assert.equal(
      (db.prepare('SELECT count(*) AS n FROM webhook_keys').get() as { n: number }).n,
      0,
      'signing keys cascade with their secret',
    );
    assert.equal((db.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n, 1, 'alerts outlive the secret (history)');
  },
  4(db) {
    for (const t of ['agents', 'grants', 'secrets', 'proxy_bindings', 'settings']) {
      assert.ok(columns(db, t).row_mac, `${t} has row_mac`);
      assert.equal(columns(db, t).row_mac!.type, 'BLOB');
    }
    assert.equal(columns(db, 'grants').channel!.notnull, 1);
    assert.ok(columns(db, 'grants').proxy_binding && columns(db, 'grants').proxy_rule);
    const now = 1_700_000_000_000;
    db.prepare(
      "INSERT INTO grants (id, fingerprint, secret_pattern, effect, scope, created_at, created_by) VALUES ('g1', 'fp', 'X', 'allow', 'always', ?, 't')",
    ).run(now);
    assert.deepEqual(db.prepare("SELECT channel, row_mac FROM grants WHERE id = 'g1'").get(), { channel: 'secret', row_mac: null });
    assert.throws(
      () =>
        db
          .prepare(
            "INSERT INTO grants (id, fingerprint, secret_pattern, effect, scope, created_at, created_by, channel) VALUES ('g2', 'fp', 'X', 'allow', 'always', ?, 't', 'other')",
          )
          .run(now),
      /CHECK/,
    );
    // The alerts table was rebuilt for the new kind; its index came back.
    db.prepare("INSERT INTO alerts (ts, kind, message) VALUES (?, 'tamper.row', 'm')").run(now);
    db.prepare("INSERT INTO alerts (ts, kind, message) VALUES (?, 'guard.fired', 'm')").run(now);
    assert.throws(() => db.prepare("INSERT INTO alerts (ts, kind, message) VALUES (?, 'nope', 'm')").run(now), /CHECK/);
    assert.ok(db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'alerts_open'").get());
  },
  5(db) {
    // Grants bound to an `akc run` command: two nullable TEXT columns, NULL for every older grant.
    assert.deepEqual(columns(db, 'grants').run_exe, { type: 'TEXT', notnull: 0, pk: 0 });
    assert.deepEqual(columns(db, 'grants').run_argv_sha256, { type: 'TEXT', notnull: 0, pk: 0 });
    const now = 1_700_000_000_000;
    const insert = db.prepare(
      "INSERT INTO grants (id, fingerprint, secret_pattern, effect, scope, created_at, created_by, run_exe, run_argv_sha256) VALUES (?, 'fp', 'X', 'allow', 'always', ?, 't', ?, ?)",
    );
    insert.run('g1', now, null, null);
    insert.run('g2', now, '/usr/bin/node', 'a'.repeat(64));
    assert.deepEqual(db.prepare("SELECT run_exe, run_argv_sha256 FROM grants WHERE id = 'g1'").get(), {
      run_exe: null,
      run_argv_sha256: null,
    });
    assert.throws(() => insert.run('g3', now, '/usr/bin/node', 'short'), /CHECK/);
    assert.throws(() => insert.run('g4', now, '/usr/bin/node', 42), /CHECK|cannot store INTEGER/);
  },
  6(db) {
    // Grants name their program and command line; bindings their placeholder variable. All
    // nullable TEXT, NULL on rows from before (row-integrity: their MACs still verify).
    assert.deepEqual(columns(db, 'grants').program_label, { type: 'TEXT', notnull: 0, pk: 0 });
    assert.deepEqual(columns(db, 'grants').run_line, { type: 'TEXT', notnull: 0, pk: 0 });
    assert.deepEqual(columns(db, 'proxy_bindings').placeholder_env, { type: 'TEXT', notnull: 0, pk: 0 });
    const now = 1_700_000_000_000;
    db.prepare(
      "INSERT INTO grants (id, fingerprint, secret_pattern, effect, scope, created_at, created_by) VALUES ('g6', 'fp', 'X', 'allow', 'always', ?, 't')",
    ).run(now);
    assert.deepEqual(db.prepare("SELECT program_label, run_line FROM grants WHERE id = 'g6'").get(), {
      program_label: null,
      run_line: null,
    });
    db.prepare(
      `INSERT INTO proxy_bindings (name, upstream, secret_name, auth_kind, auth_name, auth_template, created_at, updated_at)
       VALUES ('b6', 'https://x.test', 'S', 'header', 'Authorization', 'Bearer {{secret}}', ?, ?)`,
    ).run(now, now);
    assert.equal(
      (db.prepare("SELECT placeholder_env FROM proxy_bindings WHERE name = 'b6'").get() as { placeholder_env: null }).placeholder_env,
      null,
    );
    // STRICT: text only (a blob is refused).
    assert.throws(() => db.prepare("UPDATE grants SET program_label = x'00' WHERE id = 'g6'").run(), /cannot store BLOB/);
  },
};

describe('migrations', () => {
  test('versions are 1…N in order, and every migration has a test here', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    assert.equal(LATEST_SCHEMA_VERSION, MIGRATIONS.length);
    for (const m of MIGRATIONS) {
      assert.ok(PER_MIGRATION[m.version], `migration ${m.version} (${m.description}) has no test in PER_MIGRATION`);
      assert.ok(m.description.length > 0);
    }
  });

  for (const m of MIGRATIONS) {
    test(`migration ${m.version}: ${m.description}`, () => {
      const { db } = freshDb();
      try {
        // Bring the db to the version just before, then apply this one.
        if (m.version > 1) migrate(db, MIGRATIONS.slice(0, m.version - 1));
        assert.equal(version(db), m.version - 1);
        migrate(db, MIGRATIONS.slice(0, m.version));
        assert.equal(version(db), m.version);
        assert.equal(appId(db), APPLICATION_ID);
        assert.equal(APPLICATION_ID, 0x414b4331, "'AKC1'");
        PER_MIGRATION[m.version]!(db);
      } finally {
        db.close();
      }
    });
  }

  test('migrating an empty db runs every migration in one go', () => {
    const { db } = freshDb();
    try {
      migrate(db);
      assert.equal(version(db), LATEST_SCHEMA_VERSION);
      assert.equal(appId(db), APPLICATION_ID);
    } finally {
      db.close();
    }
  });

  test('re-running the migrations is a no-op (schema and data unchanged)', () => {
    const { db } = freshDb();
    try {
      migrate(db);
      db.prepare("INSERT INTO settings (key, value) VALUES ('k', 'v')").run();
      const schema = schemaSql(db);
      const changesBefore = db.pragma('schema_version', { simple: true });
      migrate(db);
      migrate(db);
      assert.deepEqual(schemaSql(db), schema);
      assert.equal(db.pragma('schema_version', { simple: true }), changesBefore, 'the schema was not touched');
      assert.equal(version(db), LATEST_SCHEMA_VERSION);
      assert.deepEqual(db.prepare('SELECT key, value FROM settings').all(), [{ key: 'k', value: 'v' }]);
    } finally {
      db.close();
    }
  });

  test('an out-of-order migration list is refused and rolls back', () => {
    const { db } = freshDb();
    try {
      assert.throws(
        () => migrate(db, [{ version: 2, description: 'skips 1', up: (d) => d.exec('CREATE TABLE t (x)') }]),
        (err: unknown) => isAkcError(err, 'INTERNAL') && /out of order/.test(err.message),
      );
      assert.equal(version(db), 0);
      assert.deepEqual(tables(db), []);
    } finally {
      db.close();
    }
  });

  test('a failing migration leaves the db at the previous version', () => {
    const { db } = freshDb();
    try {
      const broken = [
        ...MIGRATIONS,
        { version: MIGRATIONS.length + 1, description: 'broken', up: (d: Db) => d.exec('CREATE TABLE vault (x)') },
      ];
      assert.throws(() => migrate(db, broken), /already exists/);
      // The whole list runs in one transaction: nothing of it stays.
      assert.equal(version(db), 0);
      assert.deepEqual(tables(db), []);
    } finally {
      db.close();
    }
  });

  test('openDatabase creates a migrated WAL db with foreign keys on', () => {
    const dir = path.join(tempDir(), 'data');
    assert.equal(openDatabase(dir, { create: false }), null, 'no file and create=false → null');
    assert.equal(fs.existsSync(dir), false);
    const db = openDatabase(dir, { create: true })!;
    try {
      assert.equal(version(db), LATEST_SCHEMA_VERSION);
      assert.equal(appId(db), APPLICATION_ID);
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      assert.equal(db.pragma('secure_delete', { simple: true }), 1);
    } finally {
      db.close();
    }
    const again = openDatabase(dir, { create: false })!;
    assert.equal(version(again), LATEST_SCHEMA_VERSION);
    again.close();
  });

  test('a vault with user_version above the latest → CORRUPT "newer", file untouched', () => {
    const dir = tempDir();
    const db = openDatabase(dir, { create: true })!;
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    const before = fs.readFileSync(vaultPath(dir));
    for (const readonly of [false, true]) {
      assert.throws(
        () => openDatabase(dir, { create: false, readonly }),
        (err: unknown) => {
          assert.ok(isAkcError(err, 'CORRUPT'), String(err));
          assert.match(
            err.message,
            new RegExp(`schema version ${LATEST_SCHEMA_VERSION + 1}, newer than this akc understands \\(${LATEST_SCHEMA_VERSION}\\)`),
          );
          assert.match(err.hint ?? '', /upgrade/);
          return true;
        },
      );
    }
    assert.deepEqual(fs.readFileSync(vaultPath(dir)), before);
  });

  test('read-only open of a vault that needs an upgrade → CORRUPT with a clear message', () => {
    const dir = tempDir();
    const file = vaultPath(dir);
    const db = new Database(file);
    db.pragma(`application_id = ${APPLICATION_ID}`);
    db.close();
    assert.throws(
      () => openDatabase(dir, { create: false, readonly: true }),
      (err: unknown) => isAkcError(err, 'CORRUPT') && /needs a schema upgrade/.test(err.message),
    );
  });
});
