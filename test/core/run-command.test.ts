/**
 * Issue 15 (High 2): an `akc run` request names the command that will hold the values. On a
 * real vault through the real Host: the claim is accepted only from akc's own `run`/`mcp`
 * processes, the pending approval carries it (agent-chosen under `akc mcp`), a grant made
 * from it covers that command only, and its row MAC covers the command while the MACs of
 * grants written before migration 5 still verify.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { migrate, vaultPath } from '../../src/core/store/database.js';
import { MIGRATIONS } from '../../src/core/store/migrations.js';
import { tempDir } from '../helpers/env.js';
import { isAkcError } from '../../src/shared/errors.js';
import { programFingerprint, programLabel, type Requester } from '../../src/core/policy/requester.js';
import { acceptCommand, argvSha256, commandAuditDetail } from '../../src/core/policy/run-command.js';
import { GRANTS } from '../../src/core/integrity/rows.js';
import { rowMac } from '../../src/core/integrity/row-mac.js';
import { buildPolicy } from '../../src/core/policy/policy-file.js';
import type { PendingApproval } from '../../src/core/approvals/types.js';
import type { ProcessSummary } from '../../src/core/identity/index.js';
import type { RunCommand } from '../../src/shared/protocol.js';
import { paramsSchemas } from '../../src/shared/protocol-schemas.js';
import { agent, auditOf, grant, hostFixture, identity, program, type Fixture } from '../helpers/lifecycle.js';

const AKC = '/opt/akc/bin/akc.js';
const open: { close(): void }[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

async function fixture(): Promise<Fixture> {
  const f = await hostFixture({ OPENAI_API_KEY: 'sk-real-0123456789', OTHER: 'other-0123456789' }, { approvalTimeoutMs: 60_000 });
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
const mcpParent: ProcessSummary = { pid: 3500, exe: '/usr/bin/node', argv: ['node', AKC, 'mcp'], cwd: '/home/me', uid: 1000, script: AKC };

/** The akc CLI running `akc SUB …` for `parents` (nearest first), as the kernel shows it. */
function akcPeer(sub: string, parents: ProcessSummary[] = [python], pid = 4000): Requester {
  const id = identity({ pid, script: AKC, argv: ['node', AKC, sub, '--env', 'K=OPENAI_API_KEY', '--', 'node'], parents });
  return { identity: id, agent: null, fingerprint: programFingerprint(id), label: programLabel(id) };
}

const nodeCmd = (script: string, extra: Partial<RunCommand> = {}): RunCommand => ({
  argv: ['node', '-e', script],
  exe: '/usr/lib/node/bin/node',
  ...extra,
});

/** Starts getSecrets and resolves with its pending approval (or the delivery, when a grant covers it). */
async function ask(
  f: Fixture,
  r: Requester,
  command: RunCommand | undefined,
  names = ['OPENAI_API_KEY'],
): Promise<{ pending: PendingApproval | null; result: Promise<string[]> }> {
  let pending: PendingApproval | null = null;
  let onPending!: () => void;
  const shown = new Promise<void>((resolve) => (onPending = resolve));
  const result = f.host
    .getSecrets(r, { names, ...(command ? { command } : {}) }, (p) => {
      pending = p;
      onPending();
    })
    .then((d) => d.map((x) => x.value.toString('utf8')));
  // Either it waits for a human (onPending) or it is done.
  await Promise.race([shown, result.catch(() => undefined)]);
  return { pending, result };
}

async function approve(f: Fixture, p: PendingApproval | null, scope: '15m' | 'once' = '15m'): Promise<void> {
  assert.ok(p, 'the request waits for a human');
  await f.host.decide(p.id, { allow: true, scope, block: false, by: 'test' });
}

describe('acceptCommand', () => {
  test('from akc run: accepted, argv hashed; from akc mcp or under it: agent-chosen whatever the claim', () => {
    const run = acceptCommand(akcPeer('run').identity, nodeCmd('1'))!;
    assert.deepEqual(run.argv, ['node', '-e', '1']);
    assert.equal(run.exe, '/usr/lib/node/bin/node');
    assert.equal(run.agentChosen, false);
    assert.equal(run.argvSha256, argvSha256(['node', '-e', '1']));
    assert.match(run.argvSha256, /^[0-9a-f]{64}$/);
    assert.equal(acceptCommand(akcPeer('run').identity, nodeCmd('1', { agentChosen: true }))!.agentChosen, true);
    // `akc run` started by `akc mcp`: the model chose it, even if the claim says otherwise.
    assert.equal(acceptCommand(akcPeer('run', [mcpParent, python]).identity, nodeCmd('1', { agentChosen: false }))!.agentChosen, true);
    assert.equal(acceptCommand(akcPeer('mcp').identity, nodeCmd('1'))!.agentChosen, true);
    assert.equal(acceptCommand(akcPeer('run').identity, undefined), null);
    assert.equal(acceptCommand(akcPeer('run').identity, { argv: ['ls'] })!.exe, null);
  });

  test('argv hashes tell apart what a joined string would not', () => {
    assert.notEqual(argvSha256(['a b']), argvSha256(['a', 'b']));
    assert.notEqual(argvSha256(['node', '-e', 'A']), argvSha256(['node', '-e', 'B']));
    assert.equal(argvSha256(['x']), argvSha256(['x']));
  });

  test('from any other program, and from `akc get`: refused (INVALID_ARGUMENT)', () => {
    for (const r of [program('/home/me/agent.js'), akcPeer('get'), akcPeer('inject')]) {
      assert.throws(
        () => acceptCommand(r.identity, nodeCmd('1')),
        (e) => isAkcError(e, 'INVALID_ARGUMENT') && /only `akc run`/.test(e.message),
      );
    }
  });

  test('audit detail: the command line (capped), exe and hash; never an environment', () => {
    const c = acceptCommand(akcPeer('run').identity, { argv: ['node', '-e', 'x'.repeat(5000)], exe: '/bin/node', agentChosen: true })!;
    const d = commandAuditDetail(c);
    assert.equal(d.commandExe, '/bin/node');
    assert.equal(d.commandSha256, c.argvSha256);
    assert.equal(d.agentChosen, true);
    const line = d.command as string;
    assert.ok(line.length === 1000 && line.startsWith('node -e xxx') && line.endsWith('…'), line.slice(0, 40));
    assert.equal(commandAuditDetail(acceptCommand(akcPeer('run').identity, nodeCmd('1'))!).agentChosen, undefined);
  });
});

describe('the wire schema', () => {
  const schema = paramsSchemas['secret.getMany'];
  test('accepts a command with and without exe and agentChosen; old requests unchanged', () => {
    assert.ok(schema.safeParse({ names: ['A'] }).success);
    assert.ok(schema.safeParse({ names: ['A'], command: { argv: ['ls'] } }).success);
    assert.ok(schema.safeParse({ names: ['A'], command: { argv: ['ls', '-l'], exe: '/bin/ls', agentChosen: true } }).success);
  });
  test('refuses empty, oversized, mistyped and unknown-key commands', () => {
    for (const command of [
      { argv: [] },
      { argv: [''] },
      { argv: ['ls'], exe: '' },
      { argv: ['ls'], agentChosen: 'yes' },
      { argv: ['ls'], env: { K: 'v' } },
      { argv: 'ls' },
      { argv: Array.from({ length: 1025 }, () => 'a') },
      { argv: ['a'.repeat(20_000), 'b'.repeat(20_000)] },
      { argv: ['ls'], exe: 'x'.repeat(4097) },
    ]) {
      assert.equal(schema.safeParse({ names: ['A'], command }).success, false, JSON.stringify(command).slice(0, 80));
    }
  });
});

describe('Host: approvals and grants for a command', () => {
  test('the pending approval carries the command; the approval and delivery are audited with it', async () => {
    const f = await fixture();
    const r = akcPeer('run');
    const { pending, result } = await ask(f, r, nodeCmd('console.log(1)'));
    assert.deepEqual(pending!.command?.argv, ['node', '-e', 'console.log(1)']);
    assert.equal(pending!.command?.exe, '/usr/lib/node/bin/node');
    assert.equal(pending!.command?.agentChosen, false);
    await approve(f, pending, 'once');
    assert.deepEqual(await result, ['sk-real-0123456789']);
    for (const event of ['approval.request', 'approval.decide', 'secret.deliver']) {
      const e = auditOf(f.host, event).at(-1)!;
      assert.equal(e.detail?.command, "node -e 'console.log(1)'", event);
      assert.equal(e.detail?.commandExe, '/usr/lib/node/bin/node', event);
    }
    assert.ok(!JSON.stringify(auditOf(f.host, 'secret.deliver')).includes('sk-real'), 'no value in the audit log');
  });

  test('15 min for command A: A is covered, B (same program) asks again, a request without a command too', async () => {
    const f = await fixture();
    const r = akcPeer('run');
    const first = await ask(f, r, nodeCmd('A'));
    await approve(f, first.pending);
    await first.result;
    const [g] = f.host.listGrants();
    assert.deepEqual(g!.runCommand, { exe: '/usr/lib/node/bin/node', argvSha256: argvSha256(['node', '-e', 'A']) });

    const again = await ask(f, r, nodeCmd('A'));
    assert.equal(again.pending, null, 'A is covered');
    assert.deepEqual(await again.result, ['sk-real-0123456789']);

    const other = await ask(f, r, nodeCmd('B'));
    assert.ok(other.pending, 'B asks again');
    assert.deepEqual(other.pending.command?.argv, ['node', '-e', 'B']);
    // The same argv resolving to another executable is another command too.
    const moved = await ask(f, r, nodeCmd('A', { exe: '/tmp/evil/node' }));
    assert.ok(moved.pending, 'another executable asks again');
    // No command at all (an older akc): a command-bound grant does not serve it.
    const bare = await ask(f, r, undefined);
    assert.ok(bare.pending, 'a request without a command asks');
    f.host.cancelPending('test over');
    await Promise.allSettled([other.result, moved.result, bare.result]);
  });

  test('the prompt for B does not join A’s pending prompt (different commands are different questions)', async () => {
    const f = await fixture();
    const r = akcPeer('run');
    const a = await ask(f, r, nodeCmd('A'));
    const b = await ask(f, r, nodeCmd('B'));
    assert.ok(a.pending && b.pending);
    assert.notEqual(a.pending.id, b.pending.id);
    assert.equal(a.pending.count, 1);
    f.host.cancelPending('test over');
    await Promise.allSettled([a.result, b.result]);
  });

  test('old command-less grants: a program’s serves requests without a command only; an agent’s (akc grant) serves its runs', async () => {
    const f = await fixture();
    const r = akcPeer('run');
    grant(f.host, r, 'OPENAI_API_KEY'); // as an approval made before commands existed
    const bare = await ask(f, r, undefined);
    assert.equal(bare.pending, null, 'a request without a command keeps working');
    await bare.result;
    const run = await ask(f, r, nodeCmd('A'));
    assert.ok(run.pending, 'a run was never approved with its command: asks');
    f.host.cancelPending('test over');
    await Promise.allSettled([run.result]);

    const claude = agent(f.host, 'claude');
    const viaClaude: Requester = { ...claude, identity: akcPeer('run').identity };
    grant(f.host, viaClaude, 'OPENAI_API_KEY');
    const agentRun = await ask(f, viaClaude, nodeCmd('anything'));
    assert.equal(agentRun.pending, null, "the admin's grant to the agent covers what it runs");
    await agentRun.result;
  });

  test('a command-bound grant serves no other request of the agent (its `akc get` asks)', async () => {
    const f = await fixture();
    const claude = agent(f.host, 'claude');
    const viaClaude: Requester = { ...claude, identity: akcPeer('run').identity };
    const first = await ask(f, viaClaude, nodeCmd('A'));
    await approve(f, first.pending);
    await first.result;
    let asked = false;
    const got = f.host.getSecret(claude, { name: 'OPENAI_API_KEY' }, () => (asked = true));
    await new Promise((r) => setImmediate(r));
    assert.ok(asked, 'secret.get waits for a human');
    f.host.cancelPending('test over');
    await assert.rejects(got);
  });

  test('a command from a program that is not akc run is refused and audited; nothing is asked', async () => {
    const f = await fixture();
    const evil = program('/home/me/evil.js');
    let asked = false;
    await assert.rejects(
      f.host.getSecrets(evil, { names: ['OPENAI_API_KEY'], command: nodeCmd('harmless') }, () => (asked = true)),
      (e) => isAkcError(e, 'INVALID_ARGUMENT'),
    );
    assert.equal(asked, false);
    const deny = auditOf(f.host, 'secret.deny').at(-1)!;
    assert.match(deny.reason ?? '', /command claim/);
    assert.equal(deny.agent, evil.label);
  });
});

describe('migration 5 on a version-4 vault', () => {
  test('existing grants keep every column (and their MAC bytes); the new columns are NULL', () => {
    const db = new Database(`${tempDir()}/v4.db`);
    open.push(db);
    migrate(db, MIGRATIONS.slice(0, 4));
    db.prepare(
      `INSERT INTO grants (id, fingerprint, exe_path, secret_pattern, effect, scope, created_at, created_by, row_mac)
       VALUES ('g1', 'prog:x', '/usr/bin/node', 'A', 'allow', 'always', 1, 'tty', x'0102')`,
    ).run();
    const before = db.prepare("SELECT * FROM grants WHERE id = 'g1'").get() as Record<string, unknown>;
    migrate(db, MIGRATIONS.slice(0, 5));
    const after = db.prepare("SELECT * FROM grants WHERE id = 'g1'").get() as Record<string, unknown>;
    assert.deepEqual(after, { ...before, run_exe: null, run_argv_sha256: null });
  });
});

describe('grant rows: the command is authenticated; older MACs still verify', () => {
  function attacker(f: Fixture): Database.Database {
    const db = new Database(vaultPath(f.dataDir));
    open.push(db);
    return db;
  }

  test('a command-less grant is MACed exactly as before migration 5 (the 15 original columns)', async () => {
    const f = await fixture();
    const g = grant(f.host, program('/home/me/agent.js'), 'OPENAI_API_KEY');
    const row = f.host.vault.db.prepare('SELECT * FROM grants WHERE id = ?').get(g.id) as Record<string, unknown>;
    // The vault's row key (private: read here only to recompute the MAC by hand).
    const key = (f.host.vault as unknown as { rowMacKey: Buffer | null }).rowMacKey;
    assert.ok(key, 'the vault is unlocked');
    const before5 = rowMac(
      key,
      'grants',
      g.id,
      GRANTS.columns.map((c) => row[c] as string | number | null),
    );
    assert.deepEqual(row.row_mac, before5);
    assert.equal(f.host.listGrants()[0]!.integrity, 'trusted');
  });

  test('clearing or changing the command of a bound grant breaks its MAC: refused, the run asks again', async () => {
    const f = await fixture();
    const r = akcPeer('run');
    const first = await ask(f, r, nodeCmd('A'));
    await approve(f, first.pending);
    await first.result;
    const db = attacker(f);
    // Widen it: no command (would serve requests without one).
    db.prepare('UPDATE grants SET run_exe = NULL, run_argv_sha256 = NULL').run();
    assert.equal(f.host.listGrants()[0]!.integrity, 'refused');
    const bare = await ask(f, r, undefined);
    assert.ok(bare.pending, 'the stripped grant serves nothing');
    // Retarget it to command B.
    db.prepare('UPDATE grants SET run_exe = ?, run_argv_sha256 = ?').run('/usr/lib/node/bin/node', argvSha256(['node', '-e', 'B']));
    const b = await ask(f, r, nodeCmd('B'));
    assert.ok(b.pending, 'the retargeted grant serves nothing');
    f.host.cancelPending('test over');
    await Promise.allSettled([bare.result, b.result]);
  });

  test('binding a command-less grant to a command after the fact breaks its MAC too', async () => {
    const f = await fixture();
    const claude = agent(f.host, 'claude');
    const g = grant(f.host, claude, 'OPENAI_API_KEY');
    attacker(f).prepare('UPDATE grants SET run_argv_sha256 = ? WHERE id = ?').run('0'.repeat(64), g.id);
    assert.equal(f.host.listGrants()[0]!.integrity, 'refused');
  });

  test('policy export leaves command-bound grants out (written without the command they would serve every run)', async () => {
    const f = await fixture();
    const r = akcPeer('run');
    const first = await ask(f, r, nodeCmd('A'));
    await approve(f, first.pending);
    await first.result;
    grant(f.host, program('/home/me/agent.js'), 'OTHER');
    const policy = buildPolicy(f.host.vault);
    assert.deepEqual(
      policy.grants.map((g) => g.secret),
      ['OTHER'],
    );
  });
});
