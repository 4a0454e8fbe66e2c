/**
 * Fixtures for the lifecycle and guard tests: a real vault on disk opened by a real Host
 * with an injected clock and timer port, requesters as the kernel would describe them,
 * and shell-script rotators written to a temp dir.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Host } from '../../src/core/host/host.js';
import { Vault } from '../../src/core/vault/vault.js';
import { SecretStore } from '../../src/core/vault/secrets.js';
import { DANGEROUS_TEST_WEAK_KDF } from '../../src/core/crypto/kdf.js';
import { AgentRegistry } from '../../src/core/policy/agents.js';
import { agentFingerprint, programFingerprint, type Requester } from '../../src/core/policy/requester.js';
import type { PeerIdentity } from '../../src/core/identity/index.js';
import type { PendingApproval } from '../../src/core/approvals/types.js';
import type { HostLifecycleOptions } from '../../src/core/lifecycle/host-lifecycle.js';
import type { TimerPort } from '../../src/core/lifecycle/scheduler.js';
import type { Alert } from '../../src/core/lifecycle/alerts.js';
import type { Grant, GrantInput } from '../../src/core/policy/grants.js';
import { durableTransaction } from '../../src/core/store/database.js';
import { PASSWORD, tempDir } from './env.js';
import { grantsOf, secretsOf } from './stores.js';

import { noKeychain } from './keychain.js';

export { noKeychain };

/** 2025-03-03 10:00 local time: inside 08-20 active hours wherever the tests run. */
export const T0 = new Date(2025, 2, 3, 10, 0, 0).getTime();

export class FakeClock {
  constructor(public t = T0) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** Records what the scheduler asks for; nothing runs by itself (tests call tick()). */
export class FakeTimers implements TimerPort {
  armed: { fn: () => void; ms: number; id: number }[] = [];
  private next = 1;
  set(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.armed.push({ fn, ms, id });
    return id;
  }
  clear(handle: unknown): void {
    this.armed = this.armed.filter((a) => a.id !== handle);
  }
  get last(): { ms: number } | undefined {
    return this.armed[this.armed.length - 1];
  }
}

export interface Fixture {
  host: Host;
  clock: FakeClock;
  timers: FakeTimers;
  shown: PendingApproval[];
  alerts: Alert[];
  dataDir: string;
  store: SecretStore;
}

export async function hostFixture(
  secrets: Record<string, string>,
  opts: { lifecycle?: HostLifecycleOptions; approvalTimeoutMs?: number } = {},
): Promise<Fixture> {
  const dataDir = path.join(tempDir(), 'data');
  const clock = new FakeClock();
  const vault = Vault.open({ dataDir, keychain: noKeychain, clock });
  await vault.init(Buffer.from(PASSWORD), { keychain: false, kdf: DANGEROUS_TEST_WEAK_KDF });
  const initStore = new SecretStore(vault);
  for (const [name, value] of Object.entries(secrets)) initStore.set(name, Buffer.from(value));
  vault.close();
  const shown: PendingApproval[] = [];
  const timers = new FakeTimers();
  const host = Host.open({
    dataDir,
    keychain: noKeychain,
    clock,
    approvalTimeoutMs: opts.approvalTimeoutMs ?? 10_000,
    approver: { show: (p) => shown.push(p), ended: () => undefined },
    lifecycle: { timers, hourOf: () => 10, ...opts.lifecycle },
  });
  const alerts: Alert[] = [];
  host.on('alert', (a) => alerts.push(a));
  await host.unlockWithPassword(Buffer.from(PASSWORD));
  return { host, clock, timers, shown, alerts, dataDir, store: secretsOf(host) };
}

export function identity(over: Partial<PeerIdentity> = {}): PeerIdentity {
  return {
    pid: 4242,
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

/** An unregistered program (its script names it). */
export function program(script: string, pid = 4242): Requester {
  const id = identity({ pid, script, argv: ['node', script] });
  return { identity: id, agent: null, fingerprint: programFingerprint(id), label: `node ${path.basename(script)}` };
}

/** A registered agent (added to the vault). */
export function agent(host: Host, name: string, pid = 5000): Requester {
  const rec = new AgentRegistry(host.vault.db).upsert(
    { name, exePath: `/home/me/${name}.js`, exeSha256: null, argPattern: null, cwdPattern: null },
    host.clock.now(),
  );
  const id = identity({ pid, script: `/home/me/${name}.js`, argv: ['node', `/home/me/${name}.js`] });
  return { identity: id, agent: { id: rec.id, name }, fingerprint: agentFingerprint(rec.id), label: name };
}

/** Creates a grant for a requester (as `akc grant` would). */
export function grant(host: Host, r: Requester, pattern: string, over: Partial<GrantInput> = {}): Grant {
  return durableTransaction(host.vault.db, () =>
    grantsOf(host).create(
      {
        agentId: r.agent?.id ?? null,
        fingerprint: r.agent ? null : r.fingerprint,
        exePath: r.identity.exe,
        exeSha256: null,
        secretPattern: pattern,
        effect: 'allow',
        scope: 'always',
        createdBy: 'test',
        ...over,
      },
      host.clock.now(),
    ),
  );
}

/** getSecret without caring about pending notifications. */
export async function get(host: Host, r: Requester, name: string, version?: number): Promise<{ value: string; version: number }> {
  const d = await host.getSecret(r, { name, ...(version !== undefined ? { version } : {}) }, () => undefined);
  try {
    return { value: d.value.toString('utf8'), version: d.version };
  } finally {
    d.value.fill(0);
  }
}

/** A shell script in a private temp dir, mode 0700. */
export function script(body: string, name = 'rotator.sh'): string {
  const dir = tempDir('akc-rotator-');
  const file = path.join(dir, name);
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o700 });
  return file;
}

export function auditOf(host: Host, event: string): ReturnType<Host['vault']['audit']['query']> {
  return host.vault.audit.query({ event, limit: 10_000, order: 'asc' });
}

export function versionRows(host: Host, name: string): { version: number; state: string; retire_at: number | null }[] {
  return host.vault.db
    .prepare(
      'SELECT v.version, v.state, v.retire_at FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = ? ORDER BY v.version',
    )
    .all(name) as { version: number; state: string; retire_at: number | null }[];
}
