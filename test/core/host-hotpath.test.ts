/**
 * What the secret.get hot path keeps between requests must never outlive the truth:
 * the Requester a connection is (re)computed after any change to the agents table, by
 * this host or by another process, and a script pinned by hash is re-hashed every time.
 * The WAL checkpointer moves checkpoints to a worker and hands them back when it stops.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { Host, type Session } from '../../src/core/host/host.js';
import { WalCheckpointer } from '../../src/core/host/wal-checkpointer.js';
import { Vault } from '../../src/core/vault/vault.js';
import { SecretStore } from '../../src/core/vault/secrets.js';
import { AgentRegistry } from '../../src/core/policy/agents.js';
import { DANGEROUS_TEST_WEAK_KDF } from '../../src/core/crypto/kdf.js';
import { openDatabase, vaultPath } from '../../src/core/store/database.js';
import type { PeerIdentity } from '../../src/core/identity/index.js';
import { PASSWORD, tempDir } from '../helpers/env.js';
import { noKeychain } from '../helpers/keychain.js';
import { grantsOf, agentsOf } from '../helpers/stores.js';

const NOW = 1_700_000_000_000;

async function openHost(): Promise<{ host: Host; dataDir: string }> {
  const dataDir = path.join(tempDir(), 'data');
  const vault = Vault.open({ dataDir, keychain: noKeychain });
  await vault.init(Buffer.from(PASSWORD), { keychain: false, kdf: DANGEROUS_TEST_WEAK_KDF });
  new SecretStore(vault).set('A', Buffer.from('value-a'));
  vault.close();
  const host = Host.open({ dataDir, keychain: noKeychain, lifecycle: { scheduler: false } });
  await host.unlockWithPassword(Buffer.from(PASSWORD));
  return { host, dataDir };
}

function identity(over: Partial<PeerIdentity> = {}): PeerIdentity {
  return {
    pid: process.pid,
    uid: 1000,
    gid: 1000,
    exe: '/usr/bin/node',
    argv: ['node', '/home/me/agent.js'],
    cwd: '/home/me',
    script: '/home/me/agent.js',
    exeSha256: 'a'.repeat(64),
    startTime: '1',
    parents: [],
    pidCheck: 'pidfd',
    ...over,
  };
}

const agentDef = { exePath: '/usr/bin/node', exeSha256: null, argPattern: null, cwdPattern: null };

describe('Host.requesterFor on a long-lived connection', () => {
  test('agents registered or revoked by another process apply to the next request', async () => {
    const { host, dataDir } = await openHost();
    // Another process is an admin CLI with its own unlocked Vault: its rows carry MACs.
    const otherVault = Vault.open({ dataDir, keychain: noKeychain });
    await otherVault.unlockWithPassword(Buffer.from(PASSWORD));
    const other = otherVault.db;
    try {
      const session: Session = { identity: identity() };
      assert.equal((await host.requesterFor(session)).agent, null);
      assert.equal((await host.requesterFor(session)).agent, null);

      const otherAgents = new AgentRegistry(other);
      const a = other.transaction(() => otherAgents.upsert({ name: 'runner', ...agentDef }, NOW)).immediate();
      const r1 = await host.requesterFor(session);
      assert.deepEqual(r1.agent, { id: a.id, name: 'runner' });
      assert.equal(r1.fingerprint, `agent:${a.id}`);

      other.transaction(() => otherAgents.revoke(a.id, NOW)).immediate();
      assert.equal((await host.requesterFor(session)).agent, null);

      // An agent row INSERTed by a process without the vault key carries no MAC: refused.
      const raw = openDatabase(dataDir, { create: false })!;
      try {
        raw.transaction(() => new AgentRegistry(raw).upsert({ name: 'forged', ...agentDef }, NOW)).immediate();
      } finally {
        raw.close();
      }
      assert.equal((await host.requesterFor(session)).agent, null, 'an unsigned agent row matches nothing');
    } finally {
      otherVault.close();
      host.close();
    }
  });

  test('a peer that exited before it was identified is refused, never one shared "unknown" program', async () => {
    const { host } = await openHost();
    try {
      for (const over of [{ pidCheck: 'vanished' as const }, { unidentified: 'its environment could not be read' }]) {
        await assert.rejects(
          host.requesterFor({ identity: identity(over) }),
          (e: Error & { code?: string }) => e.code === 'DENIED' && /could not be identified/.test(e.message),
          JSON.stringify(over),
        );
      }
      // The control: the same identity, identified, is a requester.
      assert.match((await host.requesterFor({ identity: identity() })).fingerprint, /^prog:[0-9a-f]{32}$/);
    } finally {
      host.close();
    }
  });

  test('agents registered or revoked through the host itself apply to the next request', async () => {
    const { host } = await openHost();
    try {
      const session: Session = { identity: identity() };
      assert.equal((await host.requesterFor(session)).agent, null);
      const a = host.vault.db.transaction(() => agentsOf(host).upsert({ name: 'runner', ...agentDef }, NOW)).immediate();
      assert.equal((await host.requesterFor(session)).agent?.name, 'runner');
      // Another registry on the same connection (as admin code builds its own) counts too.
      const b = new AgentRegistry(host.vault.db).upsert({ name: 'alpha', ...agentDef }, NOW);
      assert.equal((await host.requesterFor(session)).agent?.name, 'alpha', 'first match by name');
      new AgentRegistry(host.vault.db).revoke(b.id, NOW);
      assert.equal((await host.requesterFor(session)).agent?.name, 'runner');
      agentsOf(host).revoke(a.id, NOW);
      assert.equal((await host.requesterFor(session)).agent, null);
    } finally {
      host.close();
    }
  });

  test('a changed hint (hello) is honoured', async () => {
    const { host } = await openHost();
    try {
      agentsOf(host).upsert({ name: 'alpha', ...agentDef }, NOW);
      agentsOf(host).upsert({ name: 'beta', ...agentDef }, NOW);
      const session: Session = { identity: identity() };
      assert.equal((await host.requesterFor(session)).agent?.name, 'alpha');
      session.agentHint = 'beta';
      assert.equal((await host.requesterFor(session)).agent?.name, 'beta');
      delete session.agentHint;
      assert.equal((await host.requesterFor(session)).agent?.name, 'alpha');
    } finally {
      host.close();
    }
  });

  test('a script pinned by hash is hashed again on every request', async () => {
    const { host } = await openHost();
    try {
      const script = path.join(tempDir(), 'agent.py');
      fs.writeFileSync(script, 'print("hi")\n');
      const hash = createHash('sha256').update(fs.readFileSync(script)).digest('hex');
      agentsOf(host).upsert({ name: 'py', exePath: script, exeSha256: hash, argPattern: null, cwdPattern: null }, NOW);
      const session: Session = { identity: identity({ exe: '/usr/bin/python3', script, argv: ['python3', script] }) };
      assert.equal((await host.requesterFor(session)).agent?.name, 'py');
      assert.equal((await host.requesterFor(session)).agent?.name, 'py');
      fs.writeFileSync(script, 'print("changed")\n');
      assert.equal((await host.requesterFor(session)).agent, null, 'an edited script no longer matches its pin');
    } finally {
      host.close();
    }
  });

  test('deliveries on one connection: every one audited, the chain verifies', async () => {
    const { host } = await openHost();
    try {
      const session: Session = { identity: identity() };
      const r = await host.requesterFor(session);
      host.vault.db
        .transaction(() =>
          grantsOf(host).create(
            { fingerprint: r.fingerprint, secretPattern: 'A', effect: 'allow', scope: 'always', createdBy: 'test' },
            NOW,
          ),
        )
        .immediate();
      const before = host.vault.audit.headSeq();
      for (let i = 0; i < 50; i++) {
        const d = await host.getSecret(await host.requesterFor(session), { name: 'A' }, () => assert.fail('no approval expected'));
        assert.equal(d.value.toString(), 'value-a');
        d.value.fill(0);
      }
      assert.equal(host.vault.audit.query({ afterSeq: before, event: 'secret.deliver' }).length, 50);
      assert.deepEqual(host.vault.audit.verify(host.vault.auditKey), {
        ok: true,
        entries: host.vault.audit.count(),
        checkpointsVerified: 1,
        macChecked: true,
      });
    } finally {
      host.close();
    }
  });
});

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WalCheckpointer', () => {
  function db(): { db: Database.Database; dir: string } {
    const dir = tempDir();
    const d = openDatabase(dir, { create: true })!;
    d.exec('CREATE TABLE IF NOT EXISTS t (x BLOB)');
    return { db: d, dir };
  }
  const autoCheckpoint = (d: Database.Database): number => d.pragma('wal_autocheckpoint', { simple: true }) as number;

  test('starts after enough commits, checkpoints in the worker, and hands back on close', async () => {
    const { db: d, dir } = db();
    const cp = new WalCheckpointer(d, { startAfterCommits: 5, everyCommits: 4, catchUpFrames: 256 });
    const insert = d.prepare('INSERT INTO t VALUES (randomblob(3000))');
    try {
      for (let i = 0; i < 4; i++) {
        insert.run();
        cp.committed();
      }
      assert.equal(autoCheckpoint(d), 1000, 'not started yet');
      insert.run();
      cp.committed();
      await waitFor('the worker', () => autoCheckpoint(d) === 1024);
      assert.equal(cp.state, 'running');
      // The WAL does not grow without bound: the worker checkpoints, and past 256 frames the
      // connection completes a checkpoint itself so that the next commit rewinds the WAL.
      for (let i = 0; i < 2000; i++) {
        insert.run();
        cp.committed();
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      // Unchecked, the WAL would hold all 2000 frames (≥ 2000 × 4120 bytes); how far below
      // that it stays depends on how often the worker gets a core, so the bound is generous.
      const wal = fs.statSync(vaultPath(dir) + '-wal').size;
      assert.ok(wal < 1500 * 4120, `WAL is ${wal} bytes`);
    } finally {
      cp.close();
    }
    assert.equal(autoCheckpoint(d), 1000, 'automatic checkpoints are back');
    assert.equal(cp.state, 'closed');
    d.close();
    assert.deepEqual(fs.readdirSync(dir).sort(), ['vault.db'], 'the last connection cleaned up the WAL');
  });

  test('a worker that cannot open the database leaves automatic checkpoints on', async () => {
    const { db: d, dir } = db();
    const cp = new WalCheckpointer(d, { startAfterCommits: 1 });
    // The worker resolves the file at construction; make it unopenable before the start.
    fs.renameSync(vaultPath(dir), vaultPath(dir) + '.moved');
    try {
      cp.committed();
      assert.equal(cp.state, 'starting');
      // Waits for the worker's own answer (it replies `failed`), not for a fixed time.
      await waitFor('the worker to give up', () => cp.state === 'failed');
      assert.equal(autoCheckpoint(d), 1000);
      cp.committed();
      assert.equal(cp.state, 'failed', 'a failed worker is not started again');
      assert.equal(autoCheckpoint(d), 1000);
    } finally {
      cp.close();
      fs.renameSync(vaultPath(dir) + '.moved', vaultPath(dir));
      d.close();
    }
  });

  test('close before the worker started, or twice, is harmless', () => {
    const { db: d } = db();
    const cp = new WalCheckpointer(d, { startAfterCommits: 1000 });
    cp.committed();
    assert.equal(cp.state, 'idle');
    cp.close();
    cp.close();
    cp.committed();
    assert.equal(autoCheckpoint(d), 1000);
    d.close();
  });
});
