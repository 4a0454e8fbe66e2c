/**
 * Issue 16: policy-bearing rows are authenticated with a MAC under a key derived from the
 * vault key. Each test replays an attack made by a same-user process writing vault.db
 * through its own SQLite connection while the host runs, and checks it is refused,
 * alerted and audited (src/core/integrity).
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { vaultPath } from '../../src/core/store/database.js';
import { isAkcError } from '../../src/shared/errors.js';
import { rotateSecret } from '../../src/core/lifecycle/rotation.js';
import { applyPolicy } from '../../src/core/lifecycle/policy.js';
import { BindingStore } from '../../src/core/proxy/bindings.js';
import { readGuardConfig, setGuardValue } from '../../src/core/guard/config.js';
import { listAlerts } from '../../src/core/lifecycle/alerts.js';
import { Host } from '../../src/core/host/host.js';
import { newGrantId } from '../../src/core/policy/grants.js';
import { ROWS_SIGNED_SETTING } from '../../src/core/integrity/rows.js';
import { encodeRow, rowMac, verifyRowMac, ROW_MAC_BYTES } from '../../src/core/integrity/row-mac.js';
import { PASSWORD, tempDir } from '../helpers/env.js';
import { agent, auditOf, get, grant, hostFixture, noKeychain, program, script, type Fixture } from '../helpers/lifecycle.js';
import { grantsOf, agentsOf, secretsOf } from '../helpers/stores.js';

const open: { close(): void }[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function fixture(secrets: Record<string, string>): Promise<Fixture> {
  const f = await hostFixture(secrets, { approvalTimeoutMs: 60_000 });
  open.push(f.host);
  return f;
}

/** The attacker: another SQLite connection to the live vault.db. */
function attacker(f: Fixture): Db {
  const db = new Database(vaultPath(f.dataDir));
  open.push(db);
  return db;
}

/** Lets the tamper report (written right after the refusing read) land. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function tamperAudits(f: Fixture): { reason: string | null; detail: unknown }[] {
  return auditOf(f.host, 'tamper.row').map((e) => ({ reason: e.reason, detail: e.detail }));
}

describe('row MAC encoding', () => {
  test('tagged, length-prefixed: different rows never encode alike; wrong or short MACs fail', () => {
    assert.notDeepEqual(encodeRow('t', 'a', ['bc']), encodeRow('t', 'ab', ['c']));
    assert.notDeepEqual(encodeRow('t', 'a', [null]), encodeRow('t', 'a', ['']));
    assert.notDeepEqual(encodeRow('t', 'a', [1]), encodeRow('t', 'a', ['1']));
    assert.notDeepEqual(encodeRow('t', 'a', ['x', null]), encodeRow('t', 'a', ['x']));
    const key = Buffer.alloc(32, 7);
    const mac = rowMac(key, 'grants', 'g1', ['allow', 1]);
    assert.equal(mac.length, ROW_MAC_BYTES);
    assert.ok(verifyRowMac(key, 'grants', 'g1', ['allow', 1], mac));
    assert.ok(!verifyRowMac(key, 'grants', 'g1', ['allow', 2], mac));
    assert.ok(!verifyRowMac(key, 'grants', 'g2', ['allow', 1], mac));
    assert.ok(!verifyRowMac(key, 'agents', 'g1', ['allow', 1], mac));
    assert.ok(!verifyRowMac(key, 'grants', 'g1', ['allow', 1], mac.subarray(0, 31)));
    assert.ok(!verifyRowMac(key, 'grants', 'g1', ['allow', 1], null));
  });
});

describe('forged rows while the host runs', () => {
  test('an INSERTed allow grant is ignored: the request waits for a human; alert and audit entry', async () => {
    const f = await fixture({ OPENAI_KEY: 'sk-real' });
    const evil = program('/tmp/evil.js');
    const db = attacker(f);
    db.prepare(
      `INSERT INTO grants (id, fingerprint, exe_path, secret_pattern, effect, scope, created_at, created_by)
       VALUES (?, ?, '/usr/bin/node', '**', 'allow', 'always', ?, 'cli')`,
    ).run(newGrantId(), evil.fingerprint, f.clock.now());
    let pending = false;
    const got = f.host.getSecret(evil, { name: 'OPENAI_KEY' }, () => (pending = true));
    await settle();
    assert.ok(pending, 'no grant applies: the request waits for approval');
    assert.equal(f.shown.length, 1);
    f.host.cancelPending('test over');
    await assert.rejects(got, (e) => isAkcError(e, 'DENIED'));
    await settle();
    assert.equal(tamperAudits(f).length, 1, 'audited once');
    assert.match(String(tamperAudits(f)[0]!.reason), /^grants row g_[0-9a-f]+: MAC missing$/);
    assert.ok(listAlerts(f.host.vault.db, { kind: 'tamper.row' }).length >= 1);
    assert.equal(f.host.vault.audit.verify(f.host.vault.auditKey).ok, true, 'the chain itself is intact');
  });

  test('copying a real grant and retargeting it (or raising its uses) breaks its MAC', async () => {
    const f = await fixture({ A: 'va', B: 'vb' });
    const me = program('/home/me/ok.js');
    const g = grant(f.host, me, 'A', { usesLeft: 1, scope: 'once' });
    const db = attacker(f);
    db.prepare("UPDATE grants SET secret_pattern = '**', uses_left = NULL WHERE id = ?").run(g.id);
    assert.equal(grantsOf(f.host).decide(me, 'B', f.clock.now()), null);
    assert.equal(grantsOf(f.host).decide(me, 'A', f.clock.now()), null);
  });

  test('a legitimate grant still works, and its one use is re-signed when consumed', async () => {
    const f = await fixture({ A: 'va' });
    const me = program('/home/me/ok.js');
    grant(f.host, me, 'A', { usesLeft: 2 });
    assert.equal((await get(f.host, me, 'A')).value, 'va');
    assert.equal((await get(f.host, me, 'A')).value, 'va');
    await settle();
    assert.equal(tamperAudits(f).length, 0);
  });

  test('a revoked grant cannot be revived by clearing revoked_at', async () => {
    const f = await fixture({ A: 'va' });
    const me = program('/home/me/ok.js');
    const g = grant(f.host, me, 'A');
    grantsOf(f.host).revoke(g.id, f.clock.now());
    attacker(f).prepare('UPDATE grants SET revoked_at = NULL WHERE id = ?').run(g.id);
    assert.equal(grantsOf(f.host).decide(me, 'A', f.clock.now()), null);
  });

  test('a deny grant with a broken MAC still denies (fail closed)', async () => {
    const f = await fixture({ A: 'va' });
    const me = program('/home/me/ok.js');
    grant(f.host, me, 'A');
    const block = grant(f.host, me, '**', { effect: 'deny' });
    attacker(f).prepare("UPDATE grants SET row_mac = X'00', created_by = 'x' WHERE id = ?").run(block.id);
    await assert.rejects(get(f.host, me, 'A'), (e) => isAkcError(e, 'DENIED'));
  });

  test('a rewritten agent row matches nothing; a grant for the real agent is not served to it', async () => {
    const f = await fixture({ A: 'va' });
    const claude = agent(f.host, 'claude');
    grant(f.host, claude, 'A');
    assert.equal((await get(f.host, claude, 'A')).value, 'va');
    attacker(f).prepare("UPDATE agents SET exe_path = '/tmp/evil.js' WHERE id = ?").run(claude.agent!.id);
    const evilId = { ...claude.identity, script: '/tmp/evil.js', argv: ['node', '/tmp/evil.js'] };
    assert.equal(await agentsOf(f.host).match(evilId), null);
    // Even with a requester resolved earlier (e.g. while locked), the release re-checks the agent.
    await assert.rejects(get(f.host, claude, 'A'), (e) => isAkcError(e, 'DENIED') && /integrity/.test(e.message));
  });

  test('swapping two secrets’ names fails to reveal, with an error naming the secret', async () => {
    const f = await fixture({ PROD_KEY: 'prod-value', DEV_KEY: 'dev-value' });
    const db = attacker(f);
    db.transaction(() => {
      db.prepare("UPDATE secrets SET name = 'tmp' WHERE name = 'PROD_KEY'").run();
      db.prepare("UPDATE secrets SET name = 'PROD_KEY' WHERE name = 'DEV_KEY'").run();
      db.prepare("UPDATE secrets SET name = 'DEV_KEY' WHERE name = 'tmp'").run();
    })();
    for (const name of ['PROD_KEY', 'DEV_KEY']) {
      assert.throws(
        () => secretsOf(f.host).reveal(name),
        (e) => isAkcError(e, 'CORRUPT') && e.message.includes(`secret ${name}`) && !e.message.includes('value'),
      );
    }
    await settle();
    assert.equal(tamperAudits(f).length, 2);
  });

  test('a command rotator set by SQL with a due time never runs', async () => {
    const f = await fixture({ DB_PASSWORD: 'current' });
    const marker = path.join(tempDir(), 'ran');
    const evil = script(`cat > ${marker}; echo stolen`);
    attacker(f)
      .prepare('UPDATE secrets SET rotator = ?, rotate_every_ms = 60000, next_rotation_at = ? WHERE name = ?')
      .run(`command:${evil}`, f.clock.now() - 1, 'DB_PASSWORD');
    await assert.rejects(rotateSecret(f.host.vault, 'DB_PASSWORD', { by: 'scheduler' }), (e) => isAkcError(e, 'CORRUPT'));
    await assert.rejects(f.host.rotate('DB_PASSWORD', { by: 'scheduler' }), (e) => isAkcError(e, 'CORRUPT'));
    assert.ok(!fs.existsSync(marker), 'the script did not run');
    // Changing the policy does not bless the forged rotator either.
    assert.throws(
      () => applyPolicy(f.host.vault, 'DB_PASSWORD', { owner: 'me' }, 'cli'),
      (e) => isAkcError(e, 'CORRUPT'),
    );
  });

  test('a legitimately set command rotator still runs', async () => {
    const f = await fixture({ DB_PASSWORD: 'current' });
    const marker = path.join(tempDir(), 'ran');
    const ok = script(`cat > ${marker}; echo next-value`);
    applyPolicy(f.host.vault, 'DB_PASSWORD', { rotator: `command:${ok}` }, 'cli');
    const r = await rotateSecret(f.host.vault, 'DB_PASSWORD', { by: 'test' });
    assert.equal(r.kind, 'rotated');
    assert.equal(fs.readFileSync(marker, 'utf8'), 'current');
    assert.equal(secretsOf(f.host).reveal('DB_PASSWORD').value.toString(), 'next-value');
  });

  test('a proxy binding with a rewritten upstream is refused', async () => {
    const f = await fixture({ OPENAI_KEY: 'sk-real' });
    const store = new BindingStore(f.host.vault.db);
    const binding = store.put(
      {
        name: 'openai',
        upstream: 'https://api.openai.com',
        secret: 'OPENAI_KEY',
        auth: { kind: 'header', header: 'Authorization', template: 'Bearer {{secret}}' },
        allow: [],
        allowPrivate: false,
        baseUrlEnv: null,
      },
      f.clock.now(),
    ).binding;
    assert.ok(store.stillTrusted(binding));
    attacker(f).prepare("UPDATE proxy_bindings SET upstream = 'https://evil.example' WHERE name = 'openai'").run();
    assert.equal(store.get('openai'), null, 'treated as absent');
    assert.ok(!store.stillTrusted(binding), 'the copy read before the change is no longer trusted either');
    await settle();
    assert.equal(tamperAudits(f).length, 1);
  });

  test('a forged guard setting is ignored (the default applies); a real one is honoured', async () => {
    const f = await fixture({});
    const before = readGuardConfig(f.host.vault.db).burst.limit;
    attacker(f).prepare("INSERT INTO settings (key, value) VALUES ('guard.burst.limit', '100000')").run();
    assert.equal(readGuardConfig(f.host.vault.db).burst.limit, before);
    setGuardValue(f.host.vault, 'burst.limit', '7', 'cli');
    assert.equal(readGuardConfig(f.host.vault.db).burst.limit, 7);
  });
});

describe('grant channels', () => {
  test('approving a brokered proxy call does not let the program secret.get the value', async () => {
    const f = await fixture({ OPENAI_KEY: 'sk-real' });
    const me = program('/home/me/agent.js');
    const authorized = f.host.authorizeProxy(
      me,
      { secret: 'OPENAI_KEY', http: { method: 'POST', host: 'api.openai.com', path: '/v1/chat' }, detail: { binding: 'openai' } },
      () => undefined,
    );
    await settle();
    assert.equal(f.shown.length, 1);
    await f.host.decide(f.shown[0]!.id, { allow: true, scope: '1h', block: false, by: 'test' });
    const auth = await authorized;
    auth.value.fill(0);
    const g = grantsOf(f.host).get(auth.grantId!)!;
    assert.equal(g.channel, 'proxy');
    assert.equal(g.proxyBinding, 'openai');
    // The proxy grant serves the proxy again, for that binding only...
    const use = { binding: 'openai', method: 'GET', path: '/v1/models' };
    assert.equal(grantsOf(f.host).decide(me, 'OPENAI_KEY', f.clock.now(), use)?.id, g.id);
    assert.equal(grantsOf(f.host).decide(me, 'OPENAI_KEY', f.clock.now(), { ...use, binding: 'other' }), null);
    // ...and never secret.get: that still waits for a human.
    assert.equal(grantsOf(f.host).decide(me, 'OPENAI_KEY', f.clock.now()), null);
    let pending = false;
    const got = f.host.getSecret(me, { name: 'OPENAI_KEY' }, () => (pending = true));
    await settle();
    assert.ok(pending);
    f.host.cancelPending('test over');
    await assert.rejects(got);
  });

  test('a secret grant does not serve the proxy', async () => {
    const f = await fixture({ OPENAI_KEY: 'sk-real' });
    const me = program('/home/me/agent.js');
    grant(f.host, me, 'OPENAI_KEY');
    assert.equal(grantsOf(f.host).decide(me, 'OPENAI_KEY', f.clock.now(), { binding: 'openai', method: 'GET', path: '/' }), null);
    assert.notEqual(grantsOf(f.host).decide(me, 'OPENAI_KEY', f.clock.now()), null);
  });
});

describe('legacy vaults', () => {
  test('rows from before migration 4 are signed at the first password unlock; later NULL MACs are refused', async () => {
    const f = await fixture({ A: 'va' });
    const me = program('/home/me/ok.js');
    const g = grant(f.host, me, 'A');
    const dataDir = f.dataDir;
    f.host.close();
    // Make it look like a vault migrated from version 3: no MACs, no flag.
    const db = new Database(vaultPath(dataDir));
    for (const t of ['agents', 'grants', 'secrets', 'proxy_bindings', 'settings']) db.prepare(`UPDATE ${t} SET row_mac = NULL`).run();
    db.prepare('DELETE FROM settings WHERE key = ?').run(ROWS_SIGNED_SETTING);
    db.close();

    const host = Host.open({ dataDir, keychain: noKeychain, approver: { show: () => undefined, ended: () => undefined } });
    open.push(host);
    await host.unlockWithPassword(Buffer.from(PASSWORD));
    const signed = host.vault.audit.query({ event: 'integrity.rows-signed', limit: 10, order: 'asc' });
    assert.equal(signed.length, 1);
    assert.ok(host.vault.db.prepare('SELECT row_mac FROM grants WHERE id = ?').pluck().get(g.id), 'the legacy grant was signed');
    assert.notEqual(grantsOf(host).decide(me, 'A', Date.now()), null, 'and still applies');
    assert.equal(secretsOf(host).reveal('A').value.toString(), 'va');
    // After the signing, a NULL MAC is a forgery.
    const evil = program('/tmp/evil.js');
    const attackerDb = new Database(vaultPath(dataDir));
    open.push(attackerDb);
    attackerDb
      .prepare(
        "INSERT INTO grants (id, fingerprint, secret_pattern, effect, scope, created_at, created_by) VALUES (?, ?, '**', 'allow', 'always', 1, 'cli')",
      )
      .run(newGrantId(), evil.fingerprint);
    assert.equal(grantsOf(host).decide(evil, 'A', Date.now()), null);
    // Deleting the flag does not reopen the window: the signing is on record.
    attackerDb.prepare('DELETE FROM settings WHERE key = ?').run(ROWS_SIGNED_SETTING);
    const fresh = Host.open({ dataDir, keychain: noKeychain });
    open.push(fresh);
    await fresh.unlockWithPassword(Buffer.from(PASSWORD));
    assert.equal(grantsOf(fresh).decide(evil, 'A', Date.now()), null);
  });
});
