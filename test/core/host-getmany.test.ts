/**
 * Host.getSecrets (`secret.getMany`) on a real vault: ONE approval for the whole set
 * (listing only what no grant covers), all-or-nothing on deny / timeout / unknown names,
 * one lease and one audited delivery per secret, and the locked-vault paths.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Host } from '../../src/core/host/host.js';
import { Vault } from '../../src/core/vault/vault.js';
import { SecretStore } from '../../src/core/vault/secrets.js';
import { DANGEROUS_TEST_WEAK_KDF } from '../../src/core/crypto/kdf.js';
import { programFingerprint, type Requester } from '../../src/core/policy/requester.js';
import type { PeerIdentity } from '../../src/core/identity/index.js';
import type { PendingApproval } from '../../src/core/approvals/types.js';
import { isAkcError, type ErrorCode } from '../../src/shared/errors.js';
import { paramsSchemas } from '../../src/shared/protocol-schemas.js';
import { PASSWORD, tempDir } from '../helpers/env.js';
import { noKeychain } from '../helpers/keychain.js';

const VALUES: Record<string, string> = { A: 'value-a-0123456789', B: 'value-b-0123456789', C: 'value-c-0123456789' };

interface Fixture {
  host: Host;
  shown: PendingApproval[];
  requester: Requester;
}

async function fixture(opts: { timeoutMs?: number } = {}): Promise<Fixture> {
  const dataDir = path.join(tempDir(), 'data');
  const vault = Vault.open({ dataDir, keychain: noKeychain });
  await vault.init(Buffer.from(PASSWORD), { keychain: false, kdf: DANGEROUS_TEST_WEAK_KDF });
  const store = new SecretStore(vault);
  for (const [name, value] of Object.entries(VALUES)) store.set(name, Buffer.from(value));
  vault.close();
  const shown: PendingApproval[] = [];
  const host = Host.open({
    dataDir,
    keychain: noKeychain,
    approvalTimeoutMs: opts.timeoutMs ?? 10_000,
    approver: { show: (p) => shown.push(p), ended: () => undefined },
  });
  await host.unlockWithPassword(Buffer.from(PASSWORD));
  const identity: PeerIdentity = {
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
  };
  return { host, shown, requester: { identity, agent: null, fingerprint: programFingerprint(identity), label: 'node agent.js' } };
}

/** Starts a getSecrets and resolves with the pending approval it raised (or null when none). */
function ask(f: Fixture, names: string[], purpose?: string) {
  let onPending!: (p: PendingApproval) => void;
  const pending = new Promise<PendingApproval>((r) => (onPending = r));
  const result = f.host.getSecrets(f.requester, { names, ...(purpose ? { purpose } : {}) }, (p) => onPending(p));
  result.catch(() => undefined);
  return { pending, result };
}

const allow = (scope: 'once' | '15m' = 'once') => ({ allow: true, scope, block: false, by: 'test' }) as const;

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => isAkcError(e, code));
}

describe('Host.getSecrets', () => {
  test('no grants: ONE approval listing every name; all delivered, one lease and one audit entry each', async () => {
    const f = await fixture();
    const { pending, result } = ask(f, ['A', 'B', 'C', 'A'], 'deploy');
    const p = await pending;
    assert.deepEqual(p.secrets, ['A', 'B', 'C']);
    assert.equal(p.purpose, 'deploy');
    await f.host.decide(p.id, allow());
    const got = await result;
    assert.deepEqual(
      got.map((s) => [s.name, s.value.toString()]),
      ['A', 'B', 'C'].map((n) => [n, VALUES[n]]),
    );
    assert.equal(new Set(got.map((s) => s.lease.id)).size, 3);
    assert.equal(f.shown.length, 1, 'one prompt');
    const delivered = f.host.vault.audit.query({ limit: 100 }).filter((e) => e.event === 'secret.deliver');
    assert.deepEqual(delivered.map((e) => e.secret).sort(), ['A', 'B', 'C']);
    assert.ok(delivered.every((e) => e.purpose === 'deploy'));
    assert.equal(f.host.listLeases(f.requester).length, 3);
    // "Once" grants are used up: the same set asks again.
    const again = ask(f, ['A', 'B']);
    assert.deepEqual((await again.pending).secrets, ['A', 'B']);
    f.host.close();
  });

  test('the approval lists only what no grant covers; fully covered sets ask nothing', async () => {
    const f = await fixture();
    const first = ask(f, ['A']);
    await f.host.decide((await first.pending).id, allow('15m'));
    await first.result;
    const second = ask(f, ['A', 'B']);
    const p = await second.pending;
    assert.deepEqual(p.secrets, ['B']);
    await f.host.decide(p.id, allow('15m'));
    assert.deepEqual(
      (await second.result).map((s) => s.name),
      ['A', 'B'],
    );
    const shownBefore = f.shown.length;
    assert.deepEqual(
      (await f.host.getSecrets(f.requester, { names: ['B', 'A'] }, () => assert.fail('asked'))).map((s) => s.name),
      ['B', 'A'],
    );
    assert.equal(f.shown.length, shownBefore);
    f.host.close();
  });

  test('deny fails the whole set; nothing delivered', async () => {
    const f = await fixture();
    const { pending, result } = ask(f, ['A', 'B']);
    await f.host.decide((await pending).id, { allow: false, scope: 'once', block: false, by: 'test' });
    await rejectsWith(result, 'DENIED');
    assert.equal(f.host.listLeases(f.requester).length, 0);
    assert.ok(!f.host.vault.audit.query({ limit: 100 }).some((e) => e.event === 'secret.deliver'));
    f.host.close();
  });

  test('an unknown name fails at once, before any approval', async () => {
    const f = await fixture();
    await rejectsWith(
      f.host.getSecrets(f.requester, { names: ['A', 'NOPE'] }, () => assert.fail('asked')),
      'NOT_FOUND',
    );
    assert.equal(f.shown.length, 0);
    f.host.close();
  });

  test('nobody answers → APPROVAL_TIMEOUT for the whole set', async () => {
    const f = await fixture({ timeoutMs: 150 });
    // The broker's timer is unref'd (it must not keep a host alive); this test waits for it.
    const keepAlive = setInterval(() => undefined, 1000);
    try {
      await rejectsWith(ask(f, ['A', 'B']).result, 'APPROVAL_TIMEOUT');
    } finally {
      clearInterval(keepAlive);
    }
    f.host.close();
  });

  test('locked vault with every name granted: one covered request, released by the unlock', async () => {
    const f = await fixture();
    const first = ask(f, ['A', 'B']);
    await f.host.decide((await first.pending).id, allow('15m'));
    await first.result;
    f.host.lock('test');
    const { pending, result } = ask(f, ['A', 'B']);
    const p = await pending;
    assert.equal(p.coveredByGrant, true);
    assert.equal(p.needsUnlock, true);
    await f.host.unlockWithPassword(Buffer.from(PASSWORD));
    assert.deepEqual(
      (await result).map((s) => s.value.toString()),
      [VALUES.A, VALUES.B],
    );
    f.host.close();
  });

  test('params schema: 1..32 distinct names, strict keys', () => {
    const schema = paramsSchemas['secret.getMany'];
    assert.ok(schema.safeParse({ names: ['A'] }).success);
    assert.ok(schema.safeParse({ names: ['A', 'B'], purpose: 'p' }).success);
    for (const bad of [
      {},
      { names: [] },
      { names: ['A', 'A'] },
      { names: Array.from({ length: 33 }, (_, i) => `S${i}`) },
      { names: ['bad name'] },
      { names: ['A'], version: 1 },
    ]) {
      assert.ok(!schema.safeParse(bad).success, JSON.stringify(bad).slice(0, 60));
    }
  });
});
