/**
 * One rule per action, whoever triggers it (issue 13, finding 3), on real vaults:
 *
 * - "Block this requester": the daemon prompt's `b` (the real TtyApprover on a stand-in
 *   terminal), `akc deny ID --block` (the real CLI against a real host socket), the offline
 *   `akc block AGENT`, and the desktop app's "Deny & block" and "Block" on an activity
 *   entry all leave the same deny grant and the same `agent.block` entry; a second block
 *   of the same requester adds nothing.
 * - Break-glass lock: `akc lock --revoke-all` (host running, and no host at all) and the
 *   app's lock with "revoke all" revoke every lease with the same audited entry.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { TtyApprover } from '../../src/cli/daemon/tty-approver.js';
import type { PendingApproval } from '../../src/core/approvals/types.js';
import { DANGEROUS_TEST_WEAK_KDF } from '../../src/core/crypto/kdf.js';
import { DesktopService } from '../../src/core/desktop/service.js';
import { Host } from '../../src/core/host/host.js';
import { silentLogger } from '../../src/core/logger.js';
import { agentFingerprint, programFingerprint, type Requester } from '../../src/core/policy/requester.js';
import { AgentServer } from '../../src/core/server/server.js';
import { Vault } from '../../src/core/vault/vault.js';
import { SecretStore } from '../../src/core/vault/secrets.js';
import { akc, akcEnv, PASSWORD, type AkcEnv } from '../helpers/env.js';
import { identity, noKeychain } from '../helpers/lifecycle.js';

const PW = `${PASSWORD}\n`;

interface Fresh {
  env: AkcEnv;
  agentId: string;
  /** The agent's program: a script run by node (the agent is registered by its script). */
  script: string;
}

/** A vault with one secret and the agent `bot`, registered with the real `akc agent add`. */
async function fresh(): Promise<Fresh> {
  const env = akcEnv();
  const vault = Vault.open({ dataDir: env.home, keychain: noKeychain });
  await vault.init(Buffer.from(PASSWORD), { keychain: false, kdf: DANGEROUS_TEST_WEAK_KDF });
  new SecretStore(vault).set('API_KEY', Buffer.from('sk-one-rule-7f6e5d'));
  vault.close();
  const file = path.join(path.dirname(env.home), 'bot.mjs');
  fs.writeFileSync(file, 'console.log("bot")\n', { mode: 0o700 });
  const script = fs.realpathSync(file);
  const added = await akc(env, ['agent', 'add', 'bot', '--exe', script, '--password-stdin'], PW);
  assert.equal(added.code, 0, added.stderr);
  const agentId = readDb(env, (db) => db.prepare("SELECT id FROM agents WHERE name = 'bot'").pluck().get() as string);
  return { env, agentId, script };
}

function readDb<T>(env: AkcEnv, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(env.home, 'vault.db'), { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** The bot as the kernel shows it: node running its script. */
function bot(f: Fresh, pid = 5100): Requester {
  const id = identity({ pid, exe: fs.realpathSync(process.execPath), script: f.script, argv: ['node', f.script] });
  return { identity: id, agent: { id: f.agentId, name: 'bot' }, fingerprint: agentFingerprint(f.agentId), label: 'bot' };
}

interface BlockRecord {
  grants: Record<string, unknown>[];
  entries: Record<string, unknown>[];
}

/** What a block left in vault.db: the live deny grants, and the `agent.block` entries (minus who and when). */
function blockRecord(env: AkcEnv): BlockRecord {
  return readDb(env, (db) => ({
    grants: (
      db
        .prepare(
          "SELECT agent_id, fingerprint, exe_path, exe_sha256, secret_pattern, effect, scope, expires_at, uses_left, channel, row_mac IS NOT NULL AS signed FROM grants WHERE effect = 'deny' AND revoked_at IS NULL",
        )
        .all() as Record<string, unknown>[]
    ).map((g) => ({ ...g })),
    entries: (
      db.prepare("SELECT event, agent, pid, exe, decision, reason, detail FROM audit WHERE event = 'agent.block' ORDER BY seq").all() as {
        reason: string;
        detail: string;
      }[]
    ).map((e) => ({ ...e, reason: e.reason.replace(/^by .*$/, 'by <who>'), detail: Object.keys(JSON.parse(e.detail) as object) })),
  }));
}

/** The rule, as every path must apply it to the registered agent `bot`. */
function expectedBlock(f: Fresh): BlockRecord {
  return {
    grants: [
      {
        agent_id: f.agentId,
        fingerprint: null,
        exe_path: f.script,
        exe_sha256: null,
        secret_pattern: '**',
        effect: 'deny',
        scope: 'always',
        expires_at: null,
        uses_left: null,
        channel: 'secret',
        signed: 1,
      },
    ],
    entries: [{ event: 'agent.block', agent: 'bot', pid: null, exe: f.script, decision: 'block', reason: 'by <who>', detail: ['grant'] }],
  };
}

/** A request from the bot, waiting for a human; resolves its pending approval. */
function ask(host: Host, r: Requester): { pending: Promise<PendingApproval>; result: Promise<string> } {
  let resolvePending!: (p: PendingApproval) => void;
  const pending = new Promise<PendingApproval>((res) => (resolvePending = res));
  const result = host.getSecret(r, { name: 'API_KEY', purpose: 'one rule' }, resolvePending).then(
    (d) => {
      d.value.fill(0);
      return 'delivered';
    },
    (err: { code?: string }) => err.code ?? 'error',
  );
  return { pending, result };
}

async function openHost(env: AkcEnv): Promise<Host> {
  const host = Host.open({ dataDir: env.home, keychain: noKeychain, approvalTimeoutMs: 30_000 });
  await host.unlockWithPassword(Buffer.from(PASSWORD), 'test');
  return host;
}

/** A terminal for the TtyApprover: raw mode is a no-op, keys are written to it. */
class FakeTty extends PassThrough {
  isTTY = true;
  setRawMode(): this {
    return this;
  }
}

async function desktop(env: AkcEnv): Promise<DesktopService> {
  const svc = new DesktopService({ dataDir: env.home, socketPath: env.socket, keychain: noKeychain, activityPollMs: 0 });
  await svc.start();
  await svc.dispatch('unlock', { password: PASSWORD });
  return svc;
}

describe('block: one rule for every way to block', () => {
  test('the daemon prompt’s `b`', async () => {
    const f = await fresh();
    const host = await openHost(f.env);
    try {
      const stdin = new FakeTty();
      const out = new PassThrough();
      out.resume();
      host.setApprover(new TtyApprover(host, stdin as unknown as NodeJS.ReadStream, out));
      const req = ask(host, bot(f));
      await req.pending;
      stdin.write('b');
      assert.equal(await req.result, 'DENIED');
    } finally {
      host.close();
    }
    assert.deepEqual(blockRecord(f.env), expectedBlock(f));
    // Blocking the blocked agent again (here with `akc block`) changes nothing.
    const again = await akc(f.env, ['block', 'bot', '--json', '--password-stdin'], PW);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { created: boolean }).created, false);
    assert.deepEqual(blockRecord(f.env), expectedBlock(f));
  });

  test('`akc deny ID --block` against the running host', async () => {
    const f = await fresh();
    const host = await openHost(f.env);
    const server = new AgentServer({ socketPath: f.env.socket, host, logger: silentLogger });
    await server.listen();
    try {
      const req = ask(host, bot(f));
      const p = await req.pending;
      const r = await akc(f.env, ['deny', p.id, '--block', '--password-stdin'], PW);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(await req.result, 'DENIED');
      // The next request is refused without asking.
      assert.equal(await ask(host, bot(f, 5101)).result, 'DENIED');
    } finally {
      await server.close();
      host.close();
    }
    assert.deepEqual(blockRecord(f.env), expectedBlock(f));
  });

  test('`akc block AGENT`, offline', async () => {
    const f = await fresh();
    const r = await akc(f.env, ['block', 'bot', '--json', '--password-stdin'], PW);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { created: boolean }).created, true);
    assert.deepEqual(blockRecord(f.env), expectedBlock(f));
    // Unblocking lifts it with one entry; a second unblock says there is nothing to lift.
    assert.equal((await akc(f.env, ['unblock', 'bot', '--password-stdin'], PW)).stdout, 'Unblocked bot.\n');
    assert.equal((await akc(f.env, ['unblock', 'bot', '--password-stdin'], PW)).stdout, 'bot is not blocked.\n');
    assert.deepEqual(blockRecord(f.env).grants, []);
    assert.equal(
      readDb(f.env, (db) => db.prepare("SELECT count(*) FROM audit WHERE event = 'agent.unblock'").pluck().get()),
      1,
    );
  });

  test('the desktop app: “Deny & block” in the prompt', async () => {
    const f = await fresh();
    const svc = await desktop(f.env);
    try {
      const host = svc.currentHost!;
      const req = ask(host, bot(f));
      const p = await req.pending;
      await svc.dispatch('decideApproval', { approvalId: p.id, allow: false, scope: 'once', block: true });
      assert.equal(await req.result, 'DENIED');
    } finally {
      await svc.close();
    }
    assert.deepEqual(blockRecord(f.env), expectedBlock(f));
  });

  test('the desktop app: “Block” on the agent’s entry in Activity, twice', async () => {
    const f = await fresh();
    const svc = await desktop(f.env);
    try {
      const host = svc.currentHost!;
      const req = ask(host, bot(f));
      const p = await req.pending;
      await svc.dispatch('decideApproval', { approvalId: p.id, allow: false, scope: 'once', block: false });
      assert.equal(await req.result, 'DENIED');
      const page = await svc.dispatch('queryActivity', { agent: 'bot' });
      const denied = page.entries.find((e) => e.event === 'secret.deny')!;
      const first = await svc.dispatch('blockRequester', { auditSeq: denied.seq });
      const second = await svc.dispatch('blockRequester', { auditSeq: denied.seq });
      assert.equal(second.id, first.id, 'one live block per requester');
    } finally {
      await svc.close();
    }
    assert.deepEqual(blockRecord(f.env), expectedBlock(f));
  });

  test('an unregistered program: the prompt’s “Deny & block” and “Block” in Activity leave the same block', async () => {
    const records: BlockRecord[] = [];
    for (const how of ['prompt', 'activity'] as const) {
      const f = await fresh();
      const svc = await desktop(f.env);
      try {
        const req = ask(svc.currentHost!, stranger);
        const p = await req.pending;
        await svc.dispatch('decideApproval', { approvalId: p.id, allow: false, scope: 'once', block: how === 'prompt' });
        assert.equal(await req.result, 'DENIED');
        if (how === 'activity') {
          const page = await svc.dispatch('queryActivity', { agent: stranger.label });
          await svc.dispatch('blockRequester', { auditSeq: page.entries.find((e) => e.event === 'secret.deny')!.seq });
        }
      } finally {
        await svc.close();
      }
      records.push(blockRecord(f.env));
    }
    const expected: BlockRecord = {
      grants: [
        {
          agent_id: null,
          fingerprint: stranger.fingerprint,
          exe_path: stranger.identity.exe,
          exe_sha256: null,
          secret_pattern: '**',
          effect: 'deny',
          scope: 'always',
          expires_at: null,
          uses_left: null,
          channel: 'secret',
          signed: 1,
        },
      ],
      entries: [
        {
          event: 'agent.block',
          agent: stranger.label,
          pid: null,
          exe: stranger.identity.exe,
          decision: 'block',
          reason: 'by <who>',
          detail: ['grant', 'fingerprint'],
        },
      ],
    };
    assert.deepEqual(records, [expected, expected]);
  });
});

/** An unregistered program: python running a script nobody registered. */
const stranger: Requester = (() => {
  const id = identity({ pid: 5200, exe: '/usr/bin/python3.11', script: '/home/me/scrape.py', argv: ['python3', '/home/me/scrape.py'] });
  return { identity: id, agent: null, fingerprint: programFingerprint(id), label: 'python3.11 scrape.py' };
})();

// ------------------------------------------------------------------------------ lock

/** A vault whose bot holds one live lease (a value delivered under an always grant). */
async function withLease(host: Host, f: Fresh): Promise<void> {
  const r = bot(f);
  const req = ask(host, r);
  const p = await req.pending;
  await host.decide(p.id, { allow: true, scope: '15m', block: false, by: 'test' });
  assert.equal(await req.result, 'delivered');
}

function liveLeases(env: AkcEnv): number {
  return readDb(env, (db) => db.prepare('SELECT count(*) FROM leases WHERE revoked_at IS NULL').pluck().get() as number);
}

/** The break-glass entries, with who did it shown as <who>. */
function revokeEntries(env: AkcEnv): Record<string, unknown>[] {
  return readDb(env, (db) =>
    (
      db.prepare("SELECT event, decision, reason, detail FROM audit WHERE event = 'lease.revoke' ORDER BY seq").all() as {
        reason: string;
      }[]
    ).map((e) => ({ ...e, reason: e.reason.replace(/ by .*$/, ' by <who>') })),
  );
}

const REVOKED_ONE = [{ event: 'lease.revoke', decision: null, reason: 'all leases (1), on lock by <who>', detail: '{"count":1}' }];

describe('lock with “revoke all”: one audited break-glass', () => {
  test('`akc lock --revoke-all` against the running host', async () => {
    const f = await fresh();
    const host = await openHost(f.env);
    const server = new AgentServer({ socketPath: f.env.socket, host, logger: silentLogger });
    await server.listen();
    try {
      await withLease(host, f);
      assert.equal(liveLeases(f.env), 1);
      const r = await akc(f.env, ['lock', '--revoke-all', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { vault: 'locked', revokedLeases: 1 });
      assert.equal(host.state, 'locked');
    } finally {
      await server.close();
      host.close();
    }
    assert.equal(liveLeases(f.env), 0);
    assert.deepEqual(revokeEntries(f.env), REVOKED_ONE);
  });

  test('the desktop app’s lock with “revoke all”, unlocked and already locked', async () => {
    const f = await fresh();
    const svc = await desktop(f.env);
    try {
      await withLease(svc.currentHost!, f);
      assert.equal((await svc.dispatch('lock', { revokeAll: true })).vault, 'locked');
      assert.equal(liveLeases(f.env), 0);
      assert.deepEqual(revokeEntries(f.env), REVOKED_ONE);
      // Break-glass on a locked vault still revokes (nothing left here) and says so in the log.
      await svc.dispatch('lock', { revokeAll: true });
    } finally {
      await svc.close();
    }
    assert.deepEqual(revokeEntries(f.env), [
      ...REVOKED_ONE,
      { ...REVOKED_ONE[0], reason: 'all leases (0), on lock by <who>', detail: '{"count":0}' },
    ]);
  });

  test('`akc lock --revoke-all` with no host running revokes on vault.db, audited the same way', async () => {
    const f = await fresh();
    const host = await openHost(f.env);
    try {
      await withLease(host, f);
    } finally {
      host.close();
    }
    assert.equal(liveLeases(f.env), 1);
    const r = await akc(f.env, ['lock', '--revoke-all']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Locked. Revoked 1 lease(s).\n');
    assert.match(r.stderr, /no host is running, so the vault was locked already/);
    assert.equal(liveLeases(f.env), 0);
    assert.deepEqual(revokeEntries(f.env), REVOKED_ONE);
    // Without --revoke-all there is nothing to do offline: the usual error.
    const plain = await akc(f.env, ['lock']);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, /^akc: error: no Agent Keychain host is running/);
  });
});
