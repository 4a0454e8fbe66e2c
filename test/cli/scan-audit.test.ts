/**
 * `akc scan` decrypts every stored value, so every run is audited: one `scan.run` entry
 * with counts and the unlock method (the OS keychain or the master password), never a
 * value, a file's content or the scanned paths. The red-team finding: a scan unlocked
 * through the keychain left no trace in the log.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { akc, akcEnv, keyringSkip, PASSWORD, tempDir, type AkcEnv } from '../helpers/env.js';
import { initVault, ok, setSecret, type Json } from '../helpers/daemon.js';

const VALUE = 'scan-audit-value-8f3a1c';
const CONTENT_MARK = 'only-in-the-scanned-file';

async function scanEntries(env: AkcEnv): Promise<Json[]> {
  const r = ok(await akc(env, ['audit', '--json', '--limit', '1000']), 'akc audit');
  return (JSON.parse(r.stdout) as { entries: Json[] }).entries.filter((e: Json) => e.event === 'scan.run');
}

function tree(): string {
  const root = tempDir('akc-scan-audit-');
  fs.writeFileSync(path.join(root, 'leak.env'), `# ${CONTENT_MARK}\nKEY=${VALUE}\nAGAIN=${VALUE}\n`);
  fs.writeFileSync(path.join(root, 'clean.txt'), 'nothing here\n');
  return root;
}

function assertNothingSensitive(entry: Json, root: string): void {
  const text = JSON.stringify(entry);
  assert.ok(!text.includes(VALUE), 'no value in the entry');
  assert.ok(!text.includes(CONTENT_MARK), 'no file content in the entry');
  assert.ok(!text.includes(root), 'no scanned path in the entry');
}

describe('akc scan is audited', () => {
  test('unlocked with the OS keychain (no password at all): one scan.run entry', { skip: keyringSkip() }, async () => {
    const env = akcEnv();
    ok(await akc(env, ['init', '--password-stdin', '--keychain'], `${PASSWORD}\n`), 'akc init --keychain');
    await setSecret(env, 'LEAKY', VALUE);
    const root = tree();
    assert.deepEqual(await scanEntries(env), [], 'nothing before the scan');

    const r = await akc(env, ['scan', root]); // no --password-stdin: the keychain opens the vault
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /leak\.env:2 LEAKY \(v1, raw\)/);

    const entries = await scanEntries(env);
    assert.equal(entries.length, 1, JSON.stringify(entries));
    const e = entries[0];
    assert.equal(e.decision, 'completed');
    assert.equal(e.detail.unlock, 'keychain');
    assert.equal(e.detail.paths, 1);
    assert.equal(e.detail.hits, 2);
    assert.equal(e.detail.secretsFound, 1);
    assert.equal(e.detail.files, 2);
    assert.equal(e.detail.completed, true);
    assertNothingSensitive(e, root);
  });

  test('unlocked with the master password: the entry says so; a clean scan is audited too', async () => {
    const env = await initVault({ LEAKY: VALUE });
    const root = tree();
    const clean = tempDir('akc-scan-clean-');
    fs.writeFileSync(path.join(clean, 'a.txt'), 'clean\n');

    assert.equal((await akc(env, ['scan', root, clean, '--password-stdin'], `${PASSWORD}\n`)).code, 1);
    assert.equal((await akc(env, ['scan', clean, '--password-stdin'], `${PASSWORD}\n`)).code, 0);

    const entries = await scanEntries(env);
    assert.equal(entries.length, 2);
    assert.deepEqual(
      entries.map((e: Json) => [e.detail.unlock, e.detail.paths, e.detail.hits]),
      [
        ['password', 2, 2],
        ['password', 1, 0],
      ],
    );
    for (const e of entries) assertNothingSensitive(e, root);
  });

  test('a wrong password decrypts nothing and writes no scan.run entry', async () => {
    const env = await initVault({ LEAKY: VALUE });
    const r = await akc(env, ['scan', tree(), '--password-stdin'], 'not the password\n');
    assert.notEqual(r.code, 0);
    assert.deepEqual(await scanEntries(env), []);
  });
});
