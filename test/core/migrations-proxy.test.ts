/**
 * Migration 2 (proxy bindings) against real SQLite files: a version-1 vault with data is
 * upgraded in place, the table's constraints hold, and the BindingStore round-trips every
 * kind of binding through it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate, openDatabase } from '../../src/core/store/database.js';
import { MIGRATIONS } from '../../src/core/store/migrations.js';
import { BindingStore, allowedBy, basicAuth, parseHeaderAuth, parseQueryAuth, type BindingInput } from '../../src/core/proxy/bindings.js';
import { readProxyPort, writeProxyPort } from '../../src/core/proxy/config.js';
import { isAkcError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/env.js';

const V2 = MIGRATIONS.find((m) => m.version === 2)!;

describe('migration 2: proxy bindings', () => {
  test('is version 2 and upgrades a version-1 vault in place, keeping its data', () => {
    assert.ok(V2, 'there is a migration with version 2');
    assert.match(V2.description, /proxy/);
    const dir = tempDir();
    const db1 = new Database(path.join(dir, 'vault.db'));
    migrate(db1, MIGRATIONS.slice(0, 1));
    assert.equal(db1.pragma('user_version', { simple: true }), 1);
    db1.prepare("INSERT INTO settings VALUES ('k', 'v')").run();
    db1
      .prepare("INSERT INTO secrets (id, name, type, current_version, created_at, updated_at) VALUES ('s1', 'openai', 'api_key', 1, 1, 1)")
      .run();
    db1.close();

    const db = openDatabase(dir, { create: false })!;
    try {
      assert.ok((db.pragma('user_version', { simple: true }) as number) >= 2);
      assert.deepEqual(db.prepare('SELECT key, value FROM settings').all(), [{ key: 'k', value: 'v' }]);
      assert.equal((db.prepare('SELECT name FROM secrets').get() as { name: string }).name, 'openai');
      assert.deepEqual(db.prepare('SELECT * FROM proxy_bindings').all(), []);
    } finally {
      db.close();
    }
  });

  test('constraints: one row per name, known auth kinds, allow_private 0/1, STRICT types', () => {
    const db = new Database(path.join(tempDir(), 't.db'));
    try {
      migrate(db, MIGRATIONS.slice(0, 2));
      const sql = (db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'proxy_bindings'").get() as { sql: string }).sql;
      assert.match(sql, /\)\s*STRICT$/);
      const insert = db.prepare(
        'INSERT INTO proxy_bindings (name, upstream, secret_name, auth_kind, auth_name, auth_template, allow_private, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1)',
      );
      insert.run('a', 'https://x.example', 's', 'header', 'Authorization', 'Bearer {{secret}}', 0);
      assert.throws(
        () => insert.run('a', 'https://y.example', 's', 'header', 'Authorization', 'Bearer {{secret}}', 0),
        /UNIQUE|PRIMARY KEY/,
      );
      assert.throws(() => insert.run('b', 'https://x.example', 's', 'cookie', 'c', '{{secret}}', 0), /CHECK constraint/);
      assert.throws(() => insert.run('c', 'https://x.example', 's', 'query', 'key', '{{secret}}', 2), /CHECK constraint/);
      assert.throws(() => insert.run('d', 'https://x.example', 's', 'query', 'key', '{{secret}}', 'yes'), /CHECK constraint|cannot store/);
      const row = db.prepare("SELECT allow_rules, base_url_env FROM proxy_bindings WHERE name = 'a'").get();
      assert.deepEqual(row, { allow_rules: '[]', base_url_env: null });
    } finally {
      db.close();
    }
  });

  test('BindingStore round-trips header, query and basic bindings; replace and remove', () => {
    const db = openDatabase(tempDir(), { create: true })!;
    try {
      const store = new BindingStore(db);
      const common = { secret: 'openai', allow: [], allowPrivate: false, baseUrlEnv: null };
      store.put(
        { ...common, name: 'h', upstream: 'https://api.openai.com/', auth: parseHeaderAuth('Authorization: Bearer {{secret}}') },
        10,
      );
      store.put(
        { ...common, name: 'q', upstream: 'https://maps.example.com/api', auth: parseQueryAuth('key={{secret}}'), allow: ['get /v1/*'] },
        11,
      );
      store.put(
        { ...common, name: 'b', upstream: 'http://127.0.0.1:9', auth: basicAuth('bot'), allowPrivate: true, baseUrlEnv: 'MY_URL' },
        12,
      );
      const [b, h, q] = store.list();
      assert.deepEqual(h, {
        name: 'h',
        upstream: 'https://api.openai.com',
        secret: 'openai',
        auth: { kind: 'header', header: 'Authorization', template: 'Bearer {{secret}}' },
        allow: [],
        allowPrivate: false,
        baseUrlEnv: null,
        placeholderEnv: null,
        createdAt: 10,
        updatedAt: 10,
      });
      assert.deepEqual(q!.auth, { kind: 'query', param: 'key', template: '{{secret}}' });
      assert.equal(q!.upstream, 'https://maps.example.com/api');
      assert.deepEqual(q!.allow, ['GET /v1/*']);
      assert.deepEqual(b!.auth, { kind: 'basic', user: 'bot' });
      assert.equal(b!.allowPrivate, true);
      assert.equal(b!.baseUrlEnv, 'MY_URL');

      assert.ok(allowedBy(q!, 'get', '/v1/models'));
      assert.ok(!allowedBy(q!, 'POST', '/v1/models'));
      assert.ok(!allowedBy(q!, 'GET', '/v1/a/b'), '* stays within a segment');
      assert.ok(allowedBy(h!, 'DELETE', '/anything'), 'no rules: everything');

      assert.throws(
        () => store.put({ ...common, name: 'h', upstream: 'https://x.example', auth: basicAuth('u') }, 13),
        (e: unknown) => isAkcError(e, 'ALREADY_EXISTS'),
      );
      const { replaced, binding } = store.put({ ...common, name: 'h', upstream: 'https://x.example', auth: basicAuth('u') }, 13, {
        replace: true,
      });
      assert.equal(replaced, true);
      assert.equal(binding.createdAt, 10);
      assert.equal(binding.updatedAt, 13);
      assert.equal(store.remove('h'), true);
      assert.equal(store.remove('h'), false);
      assert.equal(store.get('h'), null);
    } finally {
      db.close();
    }
  });

  test('bad bindings are refused before they reach the table', () => {
    const db = openDatabase(tempDir(), { create: true })!;
    try {
      const store = new BindingStore(db);
      const ok: BindingInput = {
        name: 'x',
        upstream: 'https://api.example.com',
        secret: 's',
        auth: basicAuth('u'),
        allow: [],
        allowPrivate: false,
        baseUrlEnv: null,
      };
      const bad = (patch: Partial<BindingInput>, re: RegExp): void =>
        assert.throws(
          () => store.put({ ...ok, ...patch }, 1),
          (e: unknown) => isAkcError(e, 'INVALID_ARGUMENT') && re.test(e.message),
        );
      bad({ name: '../x' }, /invalid binding name/);
      bad({ upstream: 'http://api.example.com' }, /https/);
      bad({ upstream: 'https://user:pw@api.example.com' }, /credentials/);
      bad({ upstream: 'https://api.example.com/?a=1' }, /query/);
      bad({ upstream: 'ftp://api.example.com' }, /not supported/);
      bad({ allow: ['/v1'] }, /METHOD/);
      bad({ baseUrlEnv: '1X' }, /not a variable/);
      assert.throws(() => parseHeaderAuth('Authorization: Bearer'), /exactly once/);
      assert.throws(() => parseHeaderAuth('Host: {{secret}}'), /owns/);
      assert.throws(() => parseQueryAuth('key'), /param=/);
      assert.throws(() => basicAuth('a:b'), /basic-auth/);
      assert.deepEqual(store.list(), []);
    } finally {
      db.close();
    }
  });

  test('the per-install port lives in settings under proxy.port', () => {
    const db = openDatabase(tempDir(), { create: true })!;
    try {
      assert.equal(readProxyPort(db), null);
      writeProxyPort(db, 23456);
      assert.equal(readProxyPort(db), 23456);
      writeProxyPort(db, 34567);
      assert.equal(readProxyPort(db), 34567);
      assert.deepEqual(db.prepare("SELECT value FROM settings WHERE key = 'proxy.port'").get(), { value: '34567' });
    } finally {
      db.close();
    }
  });
});
