/**
 * One owner per table (issue 13: rotation code wrote the `grants` and `leases` tables, the
 * CLI wrote `audit_checkpoints`). Every SQL statement in src/ that writes a table is found
 * by its text (INSERT / REPLACE / UPDATE / DELETE); the tables below may be written only by
 * their owner module, everyone else asks the owner. The CLI writes no table at all: its
 * offline admin commands go through core. Migrations (which create and reshape tables) are
 * exempt. The scanner is probed first, so a change in how SQL is written cannot silently
 * make it find nothing.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../helpers/env.js';

const OWNERS: Record<string, readonly string[]> = {
  grants: ['src/core/policy/grants.ts'],
  leases: ['src/core/policy/leases.ts'],
  audit_checkpoints: ['src/core/audit/log.ts', 'src/core/audit/verify.ts'],
  audit_log: ['src/core/audit/log.ts'],
};
const EXEMPT = new Set(['src/core/store/migrations.ts']);

const WRITE = /\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+["`]?(\w+)/gi;

/** The tables a source text writes. */
function writtenTables(text: string): Set<string> {
  const tables = new Set<string>();
  for (const m of text.matchAll(WRITE)) {
    const t = m[1]!.toLowerCase();
    // `ON CONFLICT(...) DO UPDATE SET`: the same table as the INSERT before it.
    if (t === 'set') continue;
    tables.add(t);
  }
  return tables;
}

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.isFile() && /\.(ts|tsx)$/.test(p) ? [p] : [];
  });
}

/** table → files (relative to the repository) that write it. */
function writers(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const file of sources(path.join(ROOT, 'src'))) {
    const rel = path.relative(ROOT, file).split(path.sep).join('/');
    if (EXEMPT.has(rel)) continue;
    for (const t of writtenTables(fs.readFileSync(file, 'utf8'))) map.set(t, [...(map.get(t) ?? []), rel]);
  }
  return map;
}

describe('table owners', () => {
  test('the scanner finds writes however they are spelled', () => {
    const probe = [
      "db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ?')",
      'db.prepare(`INSERT OR REPLACE INTO audit_checkpoints (seq) VALUES (?)`)',
      'db.prepare("delete from leases where id = ?")',
      "db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value')",
      "db.prepare('SELECT * FROM grants')",
    ].join('\n');
    assert.deepEqual([...writtenTables(probe)].sort(), ['audit_checkpoints', 'grants', 'leases', 'settings']);
  });

  test('grants, leases and the audit tables are written only by their owner modules', () => {
    const found = writers();
    assert.ok(found.get('grants')?.length, 'the scan sees the grants owner');
    for (const [table, owners] of Object.entries(OWNERS)) {
      const others = (found.get(table) ?? []).filter((f) => !owners.includes(f));
      assert.deepEqual(others, [], `${table} is written outside its owner (${owners.join(', ')})`);
    }
  });

  test('the CLI writes no table (its admin commands call core)', () => {
    const cli = [...writers()].flatMap(([table, files]) =>
      files.filter((f) => f.startsWith('src/cli/')).map((f) => `${f} writes ${table}`),
    );
    assert.deepEqual(cli, []);
  });
});
