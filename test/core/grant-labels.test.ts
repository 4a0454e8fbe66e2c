/**
 * Issue 15 (Medium 6, 7): a grant or block made from a prompt records who it was for (the
 * program with its paths) and, for `akc run`, the command line, so `akc grants` can show
 * them; a proxy binding records its placeholder variable. On a real vault through the real
 * Host: the columns of migration 6 are MACed (integrity/rows.ts later groups), rows from
 * before keep verifying, and a rewritten label or placeholder is refused.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { migrate, vaultPath } from '../../src/core/store/database.js';
import { MIGRATIONS } from '../../src/core/store/migrations.js';
import { BINDINGS, GRANTS } from '../../src/core/integrity/rows.js';
import { rowMac, type RowValue } from '../../src/core/integrity/row-mac.js';
import { grantLabel, programFingerprint, programLabel, type Requester } from '../../src/core/policy/requester.js';
import { argvSha256 } from '../../src/core/policy/run-command.js';
import { BindingStore } from '../../src/core/proxy/bindings.js';
import { durableTransaction } from '../../src/core/store/database.js';
import type { PendingApproval } from '../../src/core/approvals/types.js';
import type { ProcessSummary } from '../../src/core/identity/index.js';
import { tempDir } from '../helpers/env.js';
import { agent, grant, hostFixture, identity, program, type Fixture } from '../helpers/lifecycle.js';

const AKC = '/opt/akc/bin/akc.js';
const open: { close(): void }[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function fixture(): Promise<Fixture> {
  const f = await hostFixture({ K: 'k-value-0123456789' }, { approvalTimeoutMs: 60_000 });
  open.push(f.host);
  return f;
}

const python: ProcessSummary = {
  pid: 3000,
  exe: '/usr/bin/python3',
  argv: ['python3', '/home/me/agent.py'],
  cwd: '/home/me',
  uid: 1000,
  script: '/home/me/agent.py',
};

function akcPeer(sub: string): Requester {
  const id = identity({ pid: 4000, script: AKC, argv: ['node', AKC, sub, '--env', 'X=K', '--', 'curl', '-s'], parents: [python] });
  return { identity: id, agent: null, fingerprint: programFingerprint(id), label: programLabel(id) };
}

/** Asks for K as `r` (optionally for a command) and returns the pending approval. */
async function pendingFor(
  f: Fixture,
  r: Requester,
  command?: { argv: string[]; exe: string },
): Promise<{ p: PendingApproval; done: Promise<unknown> }> {
  let resolve!: (p: PendingApproval) => void;
  const shown = new Promise<PendingApproval>((res) => (resolve = res));
  const done = f.host.getSecrets(r, { names: ['K'], ...(command ? { command } : {}) }, resolve).catch((e: unknown) => e);
  return { p: await shown, done };
}

function attacker(f: Fixture): Database.Database {
  const db = new Database(vaultPath(f.dataDir));
  open.push(db);
  return db;
}

const rowKey = (f: Fixture): Buffer => (f.host.vault as unknown as { rowMacKey: Buffer }).rowMacKey;

describe('grantLabel: who a grant is for, with paths', () => {
  test('a script under an interpreter, a plain executable, the akc CLI for its caller; null for an agent', () => {
    assert.equal(grantLabel(program('/home/me/bot.js')), 'node /home/me/bot.js');
    const curl = identity({ exe: '/usr/bin/curl', script: null, argv: ['curl', 'x'] });
    assert.equal(grantLabel({ identity: curl, agent: null }), '/usr/bin/curl');
    assert.equal(grantLabel(akcPeer('run')), 'akc run via python3 /home/me/agent.py');
    assert.equal(grantLabel(akcPeer('get')), 'akc get via python3 /home/me/agent.py');
    const lone = identity({ script: AKC, argv: ['node', AKC, 'get', 'K'], parents: [] });
    assert.equal(grantLabel({ identity: lone, agent: null }), 'akc get');
    assert.equal(grantLabel({ identity: curl, agent: { id: 'a1', name: 'claude' } }), null);
  });
});

describe('grants made from a prompt record the program and the command', () => {
  test('an approval stores the label; a run approval also the command line; a block the label too', async () => {
    const f = await fixture();
    const bot = program('/home/me/bot.js');
    const a = await pendingFor(f, bot);
    await f.host.decide(a.p.id, { allow: true, scope: '15m', block: false, by: 'test' });
    await a.done;
    f.clock.advance(1000); // list() orders by creation time
    const run = akcPeer('run');
    const b = await pendingFor(f, run, { argv: ['curl', '-s', 'https://api.example.com'], exe: '/usr/bin/curl' });
    await f.host.decide(b.p.id, { allow: true, scope: '15m', block: false, by: 'test' });
    await b.done;
    f.clock.advance(1000);
    const evil = program('/home/me/evil.js', 4343);
    const c = await pendingFor(f, evil);
    await f.host.decide(c.p.id, { allow: false, scope: 'once', block: true, by: 'test' });
    await c.done;
    const rows = f.host.listGrants().map((g) => [g.effect, g.label, g.runLine, g.integrity]);
    assert.deepEqual(rows, [
      ['allow', 'node /home/me/bot.js', null, 'trusted'],
      ['allow', 'akc run via python3 /home/me/agent.py', 'curl -s https://api.example.com', 'trusted'],
      ['deny', 'node /home/me/evil.js', null, 'trusted'],
    ]);
  });

  test('an agent’s grant stores no label (its name says it)', async () => {
    const f = await fixture();
    const g = grant(f.host, agent(f.host, 'claude'), 'K', { label: 'ignored for agents' });
    assert.equal(g.label, null);
  });
});

describe('the prompt badge: a script is its own program, not its interpreter', () => {
  test('approving one node script does not make another "known"; the same one is known, its changed code "changed"', async () => {
    const f = await fixture();
    const bot = program('/home/me/bot.js');
    const first = await pendingFor(f, bot);
    assert.equal(first.p.badge, 'new');
    await f.host.decide(first.p.id, { allow: true, scope: 'once', block: false, by: 'test' });
    await first.done;
    // Another script under the same node: never seen, so not "✓ known".
    const other = await pendingFor(f, program('/home/me/never-seen.js', 4444));
    assert.equal(other.p.badge, 'new');
    await f.host.decide(other.p.id, { allow: false, scope: 'once', block: false, by: 'test' });
    await other.done;
    // The approved script again (its one-use grant is spent): known.
    const again = await pendingFor(f, bot);
    assert.equal(again.p.badge, 'known');
    await f.host.decide(again.p.id, { allow: false, scope: 'once', block: false, by: 'test' });
    await again.done;
    // Same script path, new content: its fingerprint differs, its label does not.
    const id = identity({ pid: 4545, script: '/home/me/bot.js', argv: ['node', '/home/me/bot.js'], scriptSha256: 'b'.repeat(64) });
    const edited: Requester = { identity: id, agent: null, fingerprint: programFingerprint(id), label: programLabel(id) };
    assert.notEqual(edited.fingerprint, bot.fingerprint);
    const changed = await pendingFor(f, edited);
    assert.equal(changed.p.badge, 'changed');
    await f.host.decide(changed.p.id, { allow: false, scope: 'once', block: false, by: 'test' });
    await changed.done;
  });

  test('a plain executable keeps the executable-path rule: known with the same hash, changed with another', async () => {
    const f = await fixture();
    const curl = (sha: string, pid: number): Requester => {
      const id = identity({ pid, exe: '/usr/bin/curl', script: null, argv: ['curl'], exeSha256: sha });
      return { identity: id, agent: null, fingerprint: programFingerprint(id), label: programLabel(id) };
    };
    const first = await pendingFor(f, curl('c'.repeat(64), 5001));
    assert.equal(first.p.badge, 'new');
    await f.host.decide(first.p.id, { allow: true, scope: 'once', block: false, by: 'test' });
    await first.done;
    const same = await pendingFor(f, curl('c'.repeat(64), 5002));
    assert.equal(same.p.badge, 'known');
    await f.host.decide(same.p.id, { allow: false, scope: 'once', block: false, by: 'test' });
    await same.done;
    const rebuilt = await pendingFor(f, curl('d'.repeat(64), 5003));
    assert.equal(rebuilt.p.badge, 'changed');
    await f.host.decide(rebuilt.p.id, { allow: false, scope: 'once', block: false, by: 'test' });
    await rebuilt.done;
  });
});

describe('row MACs: the new columns are covered, older rows still verify', () => {
  test('rewriting or clearing a label or command line breaks the MAC: refused', async () => {
    const f = await fixture();
    const g = grant(f.host, program('/home/me/bot.js'), 'K', {
      label: 'node /home/me/bot.js',
      runCommand: { exe: '/usr/bin/curl', argvSha256: argvSha256(['curl']) },
      runLine: 'curl',
    });
    const db = attacker(f);
    const verdict = (): string | undefined => f.host.listGrants().find((x) => x.id === g.id)!.integrity;
    assert.equal(verdict(), 'trusted');
    for (const [column, value] of [
      ['program_label', 'node /home/me/harmless.js'],
      ['program_label', null],
      ['run_line', 'ls'],
      ['run_line', null],
    ] as const) {
      const before = db.prepare(`SELECT ${column} AS v FROM grants WHERE id = ?`).get(g.id) as { v: RowValue };
      db.prepare(`UPDATE grants SET ${column} = ? WHERE id = ?`).run(value, g.id);
      assert.equal(verdict(), 'refused', `${column} = ${String(value)}`);
      db.prepare(`UPDATE grants SET ${column} = ? WHERE id = ?`).run(before.v, g.id);
      assert.equal(verdict(), 'trusted', `${column} restored`);
    }
  });

  test('a run grant without a label is MACed exactly as migration 5 did (15 columns + the command)', async () => {
    const f = await fixture();
    const sha = argvSha256(['curl']);
    const g = grant(f.host, program('/home/me/bot.js'), 'K', { runCommand: { exe: '/usr/bin/curl', argvSha256: sha } });
    const row = f.host.vault.db.prepare('SELECT * FROM grants WHERE id = ?').get(g.id) as Record<string, RowValue>;
    const v5 = rowMac(rowKey(f), 'grants', g.id, [...GRANTS.columns.map((c) => row[c]!), '/usr/bin/curl', sha]);
    assert.deepEqual(row.row_mac, v5);
    // And a labelled one is not (the label is part of what is signed).
    const labelled = grant(f.host, program('/home/me/bot.js'), 'K', { runCommand: { exe: '/usr/bin/curl', argvSha256: sha }, label: 'x' });
    const row2 = f.host.vault.db.prepare('SELECT * FROM grants WHERE id = ?').get(labelled.id) as Record<string, RowValue>;
    assert.deepEqual(
      row2.row_mac,
      rowMac(rowKey(f), 'grants', labelled.id, [...GRANTS.columns.map((c) => row2[c]!), '/usr/bin/curl', sha, 'x', null]),
    );
  });

  test('a binding without a placeholder is MACed as before; a rewritten placeholder is refused', async () => {
    const f = await fixture();
    const store = new BindingStore(f.host.vault.db);
    const base = {
      upstream: 'https://api.github.com',
      secret: 'K',
      auth: { kind: 'header' as const, header: 'Authorization', template: 'Bearer {{secret}}' },
      allow: [],
      allowPrivate: false,
      baseUrlEnv: null,
    };
    durableTransaction(f.host.vault.db, () => {
      store.put({ name: 'plain', ...base }, f.clock.now());
      store.put({ name: 'gh', ...base, placeholderEnv: 'GITHUB_TOKEN' }, f.clock.now());
    });
    const row = f.host.vault.db.prepare("SELECT * FROM proxy_bindings WHERE name = 'plain'").get() as Record<string, RowValue>;
    assert.deepEqual(
      row.row_mac,
      rowMac(
        rowKey(f),
        'proxy_bindings',
        'plain',
        BINDINGS.columns.map((c) => row[c]!),
      ),
    );
    assert.equal(store.get('gh')!.placeholderEnv, 'GITHUB_TOKEN');
    // Left out on replace (a form that does not show it): kept. Given as null: cleared.
    durableTransaction(f.host.vault.db, () => store.put({ name: 'gh', ...base, baseUrlEnv: 'GH_URL' }, f.clock.now(), { replace: true }));
    assert.equal(store.get('gh')!.placeholderEnv, 'GITHUB_TOKEN');
    attacker(f).prepare("UPDATE proxy_bindings SET placeholder_env = 'LD_PRELOAD' WHERE name = 'gh'").run();
    assert.equal(store.get('gh'), null, 'a tampered binding is treated as absent');
    durableTransaction(f.host.vault.db, () => store.put({ name: 'gh', ...base, placeholderEnv: null }, f.clock.now(), { replace: true }));
    assert.equal(store.get('gh')!.placeholderEnv, null);
  });
});

describe('migration 6 on a version-5 vault', () => {
  test('existing grants and bindings keep every column and their MAC bytes; the new columns are NULL', () => {
    const db = new Database(`${tempDir()}/v5.db`);
    open.push(db);
    migrate(db, MIGRATIONS.slice(0, 5));
    db.prepare(
      `INSERT INTO grants (id, fingerprint, exe_path, secret_pattern, effect, scope, created_at, created_by, run_exe, run_argv_sha256, row_mac)
       VALUES ('g1', 'prog:x', '/usr/bin/node', 'A', 'allow', 'always', 1, 'tty', '/usr/bin/curl', ?, x'0102')`,
    ).run('a'.repeat(64));
    db.prepare(
      `INSERT INTO proxy_bindings (name, upstream, secret_name, auth_kind, auth_name, auth_template, created_at, updated_at, row_mac)
       VALUES ('b1', 'https://x.test', 'S', 'header', 'Authorization', 'Bearer {{secret}}', 1, 1, x'0304')`,
    ).run();
    const grantBefore = db.prepare("SELECT * FROM grants WHERE id = 'g1'").get() as Record<string, unknown>;
    const bindingBefore = db.prepare("SELECT * FROM proxy_bindings WHERE name = 'b1'").get() as Record<string, unknown>;
    migrate(db, MIGRATIONS.slice(0, 6));
    assert.deepEqual(db.prepare("SELECT * FROM grants WHERE id = 'g1'").get(), { ...grantBefore, program_label: null, run_line: null });
    assert.deepEqual(db.prepare("SELECT * FROM proxy_bindings WHERE name = 'b1'").get(), { ...bindingBefore, placeholder_env: null });
  });
});
