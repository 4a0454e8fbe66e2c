/**
 * Policy and audit administration through the real `akc` CLI (child processes, real
 * SQLite files, real Argon2): agents, grants, blocks, policy export/import, leases, audit.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { akc, akcEnv, AKC_BIN, keyringSkip, PASSWORD, tempDir, type AkcEnv, type RunResult } from '../helpers/env.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const PW = PASSWORD + '\n';
const NODE = fs.realpathSync(process.execPath);
const SH = fs.realpathSync('/bin/sh');

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function ok(env: AkcEnv, args: string[], input?: string): Promise<RunResult> {
  const r = await akc(env, args, input);
  assert.equal(r.code, 0, `akc ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

async function json(env: AkcEnv, args: string[], input?: string): Promise<Json> {
  return JSON.parse((await ok(env, [...args, '--json'], input)).stdout);
}

/** Runs a command expected to fail; checks the exit code and the first stderr line. */
async function fails(env: AkcEnv, args: string[], input: string | undefined, code: number, error: string | RegExp): Promise<RunResult> {
  const r = await akc(env, args, input);
  assert.equal(r.code, code, `akc ${args.join(' ')}: expected exit ${code}, got ${r.code}: ${r.stderr}`);
  const first = r.stderr.split('\n')[0]!;
  if (typeof error === 'string') assert.equal(first, `akc: error: ${error}`);
  else assert.match(first, error);
  return r;
}

async function newVault(): Promise<AkcEnv> {
  const env = akcEnv();
  await ok(env, ['init', '--password-stdin', '--no-keychain'], PW);
  return env;
}

function db(env: AkcEnv): Database.Database {
  return new Database(path.join(env.home, 'vault.db'));
}

function auditEvents(env: AkcEnv): { event: string; agent: string | null; detail: string | null }[] {
  const d = db(env);
  try {
    return d.prepare('SELECT event, agent, detail FROM audit ORDER BY seq').all() as {
      event: string;
      agent: string | null;
      detail: string | null;
    }[];
  } finally {
    d.close();
  }
}

function insertLease(env: AkcEnv, id: string, agentName: string | null, secret = 'OPENAI_KEY'): void {
  const d = db(env);
  try {
    const agentId = agentName ? (d.prepare('SELECT id FROM agents WHERE name = ?').pluck().get(agentName) as string) : null;
    const now = Date.now();
    d.prepare(
      `INSERT INTO leases (id, agent_id, fingerprint, pid, secret_id, secret_name, version, issued_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(id, agentId, agentId ? `agent:${agentId}` : 'prog:' + '0'.repeat(32), 4242, 'sid-1', secret, 1, now, now + 3_600_000);
  } finally {
    d.close();
  }
}

describe('akc agent', () => {
  test('add, list and revoke, with their error paths', async () => {
    const env = await newVault();
    const added = await ok(
      env,
      ['agent', 'add', 'claude', '--exe', process.execPath, '--sha256', 'auto', '--cwd', '/home/**', '--password-stdin'],
      PW,
    );
    assert.match(added.stdout, /^Added agent claude: .* \(sha256 [0-9a-f]{12}…\)\n$/);

    await fails(env, ['agent', 'add', 'claude', '--exe', SH, '--password-stdin'], PW, 1, 'agent claude already exists');
    await fails(env, ['agent', 'add', 'other', '--exe', SH, '--password-stdin'], 'not the password\n', 1, 'wrong master password');
    await fails(env, ['agent', 'add', 'other', '--password-stdin'], PW, 2, /^akc: error: missing --exe PATH/);
    await fails(env, ['agent', 'add', '--exe', SH, '--password-stdin'], PW, 2, 'missing agent NAME');
    await fails(
      env,
      ['agent', 'add', 'other', '--exe', '/no/such/exe', '--password-stdin'],
      PW,
      1,
      'failed to find the executable /no/such/exe',
    );
    await fails(env, ['agent', 'add', 'bad/name', '--exe', SH, '--password-stdin'], PW, 1, /^akc: error: invalid agent name/);
    await fails(env, ['agent', 'add', 'other', '--exe', SH, '--sha256', 'abc', '--password-stdin'], PW, 1, /^akc: error: invalid --sha256/);

    await ok(env, ['agent', 'add', 'shell', '--exe', '/bin/sh', '--arg-pattern', '*-c*', '--password-stdin'], PW);
    const list = await json(env, ['agent', 'list']);
    assert.deepEqual(
      list.agents.map((a: Json) => [a.name, a.exe, a.sha256, a.argPattern, a.cwdPattern, a.status]),
      [
        ['claude', NODE, sha256File(NODE), null, '/home/**', 'active'],
        ['shell', SH, null, '*-c*', null, 'active'],
      ],
    );
    const table = await ok(env, ['agent', 'list']);
    assert.match(table.stdout, /^NAME +STATUS +GRANTS +EXE/);
    assert.match(table.stdout, /\nshell +active +0 +\/\S+ +any +\*-c\* +- /);

    // --replace changes the rules of a live agent.
    const replaced = await json(env, ['agent', 'add', 'shell', '--exe', '/bin/sh', '--replace', '--password-stdin'], PW);
    assert.equal(replaced.result, 'replaced');
    assert.equal(replaced.argPattern, null);

    await fails(env, ['agent', 'revoke', 'ghost', '--password-stdin'], PW, 1, 'no agent named ghost');
    await fails(env, ['agent', 'revoke', 'shell', '--password-stdin'], 'nope nope nope\n', 1, 'wrong master password');
    const revoked = await ok(env, ['agent', 'revoke', 'shell', '--password-stdin'], PW);
    assert.equal(revoked.stdout, 'Revoked agent shell with 0 grants and 0 leases.\n');
    await fails(env, ['agent', 'revoke', 'shell', '--password-stdin'], PW, 1, 'agent shell was revoked');
    assert.deepEqual(
      (await json(env, ['agent', 'list'])).agents.map((a: Json) => a.name),
      ['claude'],
    );
    assert.deepEqual(
      (await json(env, ['agent', 'list', '--all'])).agents.map((a: Json) => [a.name, a.status]),
      [
        ['claude', 'active'],
        ['shell', 'revoked'],
      ],
    );
    // Re-adding a revoked agent brings it back.
    assert.equal((await json(env, ['agent', 'add', 'shell', '--exe', SH, '--password-stdin'], PW)).result, 'restored');

    const events = auditEvents(env).map((e) => `${e.event} ${e.agent}`);
    assert.deepEqual(
      events.filter((e) => e.startsWith('agent.')),
      ['agent.add claude', 'agent.add shell', 'agent.add shell', 'agent.revoke shell', 'agent.add shell'],
    );
    // Every failed password attempt is on record too.
    assert.equal(events.filter((e) => e === 'vault.unlock null').length, 2);
  });

  test('revoking an agent revokes its grants and leases in one step', async () => {
    const env = await newVault();
    await ok(env, ['agent', 'add', 'a', '--exe', SH, '--password-stdin'], PW);
    await ok(env, ['agent', 'add', 'b', '--exe', NODE, '--password-stdin'], PW);
    await ok(env, ['grant', 'a', 'OPENAI_KEY', '--always', '--password-stdin'], PW);
    await ok(env, ['grant', 'a', 'DB_*', '--for', '1h', '--password-stdin'], PW);
    await ok(env, ['grant', 'b', 'OPENAI_KEY', '--always', '--password-stdin'], PW);
    insertLease(env, 'l_a1', 'a');
    insertLease(env, 'l_a2', 'a', 'DB_URL');
    insertLease(env, 'l_b1', 'b');

    assert.equal((await json(env, ['leases'])).leases.length, 3);
    const r = await json(env, ['agent', 'revoke', 'a', '--password-stdin'], PW);
    assert.deepEqual(r, { name: 'a', revoked: true, grantsRevoked: 2, leasesRevoked: 2 });

    const grants = (await json(env, ['grants'])).grants;
    assert.deepEqual(
      grants.map((g: Json) => g.agent),
      ['b'],
    );
    const leases = (await json(env, ['leases'])).leases;
    assert.deepEqual(
      leases.map((l: Json) => [l.id, l.agent]),
      [['l_b1', 'b']],
    );
    const d = db(env);
    try {
      assert.deepEqual(d.prepare('SELECT id FROM leases WHERE revoked_at IS NOT NULL ORDER BY id').pluck().all(), ['l_a1', 'l_a2']);
    } finally {
      d.close();
    }
    const entry = auditEvents(env).find((e) => e.event === 'agent.revoke')!;
    assert.equal(entry.agent, 'a');
    assert.deepEqual({ ...JSON.parse(entry.detail!), agentId: undefined }, { agentId: undefined, grantsRevoked: 2, leasesRevoked: 2 });
  });
});

describe('akc grant', () => {
  test('grant, grants, ungrant with their error paths', async () => {
    const env = await newVault();
    await ok(env, ['agent', 'add', 'claude', '--exe', NODE, '--sha256', 'auto', '--password-stdin'], PW);

    const before = Date.now();
    const g = await json(env, ['grant', 'claude', 'OPENAI_*', '--for', '15m', '--uses', '3', '--password-stdin'], PW);
    assert.equal(g.agent, 'claude');
    assert.equal(g.secret, 'OPENAI_*');
    assert.equal(g.effect, 'allow');
    assert.equal(g.scope, 'duration');
    assert.equal(g.usesLeft, 3);
    assert.equal(g.state, 'live');
    assert.equal(g.exeSha256, sha256File(NODE), 'the grant records the agent’s pinned hash');
    const expires = Date.parse(g.expiresAt);
    assert.ok(expires >= before + 15 * 60_000 && expires <= Date.now() + 15 * 60_000, g.expiresAt);

    const human = await ok(env, ['grant', 'claude', 'DB_URL', '--always', '--keep-on-rotate', '--password-stdin'], PW);
    assert.match(human.stdout, /^Granted claude DB_URL always\. Grant g_[0-9a-f]{12}\.\n$/);
    assert.match(human.stderr, /akc: note: no secret matches DB_URL yet/);
    await ok(env, ['grant', 'claude', 'GH_TOKEN', '--until-lock', '--password-stdin'], PW);

    // Usage errors exit 2 and name the problem.
    await fails(env, ['grant', 'claude', 'X', '--password-stdin'], PW, 2, /^akc: error: choose how long the grant lasts: --for DURATION/);
    await fails(
      env,
      ['grant', 'claude', 'X', '--always', '--for', '1h', '--password-stdin'],
      PW,
      2,
      /^akc: error: give only one of --for, --until-lock and --always/,
    );
    await fails(
      env,
      ['grant', 'claude', 'X', '--for', '10', '--password-stdin'],
      PW,
      2,
      /^akc: error: invalid duration "10": use a number and a unit/,
    );
    await fails(env, ['grant', 'claude', 'X', '--for', '1y', '--password-stdin'], PW, 2, /^akc: error: invalid duration "1y"/);
    await fails(env, ['grant', 'claude', 'X', '--always', '--uses', '0', '--password-stdin'], PW, 2, /^akc: error: invalid --uses "0"/);
    await fails(env, ['grant', 'claude', '--always', '--password-stdin'], PW, 2, /^akc: error: missing SECRET/);
    await fails(
      env,
      ['grant', 'claude', 'bad name!', '--always', '--password-stdin'],
      PW,
      1,
      /^akc: error: invalid secret or pattern "bad name!"/,
    );
    await fails(env, ['grant', 'ghost', 'X', '--always', '--password-stdin'], PW, 1, 'no agent named ghost');
    await fails(env, ['grant', 'claude', 'X', '--always', '--password-stdin'], 'wrong password\n', 1, 'wrong master password');

    const live = (await json(env, ['grants'])).grants;
    assert.deepEqual(
      live.map((x: Json) => [x.secret, x.scope, x.keepOnRotate]),
      [
        ['OPENAI_*', 'duration', false],
        ['DB_URL', 'always', true],
        ['GH_TOKEN', 'until_lock', false],
      ],
    );
    const table = await ok(env, ['grants']);
    assert.match(table.stdout, /^ID +AGENT +SECRET +EFFECT +SCOPE +EXPIRES +USES +CREATED\n/);
    assert.match(table.stdout, new RegExp(`${g.id} +claude +OPENAI_\\* +allow +duration +\\S+ \\S+ +3 `));

    await fails(env, ['ungrant', 'g_000000000000', '--password-stdin'], PW, 1, 'no grant g_000000000000');
    await fails(env, ['ungrant', g.id, '--password-stdin'], 'bad password!\n', 1, 'wrong master password');
    assert.equal((await ok(env, ['ungrant', g.id, '--password-stdin'], PW)).stdout, `Revoked grant ${g.id} (claude → OPENAI_*).\n`);
    await fails(env, ['ungrant', g.id, '--password-stdin'], PW, 1, `grant ${g.id} already ended (revoked)`);
    assert.equal((await json(env, ['grants'])).grants.length, 2);
    const all = (await json(env, ['grants', '--all'])).grants;
    assert.deepEqual(
      all.map((x: Json) => x.state),
      ['revoked', 'live', 'live'],
    );

    const events = auditEvents(env).filter((e) => e.event.startsWith('grant.'));
    assert.deepEqual(
      events.map((e) => `${e.event} ${e.agent}`),
      ['grant.add claude', 'grant.add claude', 'grant.add claude', 'grant.revoke claude'],
    );
    assert.equal(JSON.parse(events[3]!.detail!).grant, g.id);
  });

  test('block and unblock', async () => {
    const env = await newVault();
    await ok(env, ['agent', 'add', 'bot', '--exe', SH, '--password-stdin'], PW);
    await ok(env, ['grant', 'bot', 'X', '--always', '--password-stdin'], PW);
    await fails(env, ['block', 'ghost', '--password-stdin'], PW, 1, 'no agent named ghost');
    await fails(env, ['block', 'bot', '--password-stdin'], 'wrong password\n', 1, 'wrong master password');
    const blocked = await ok(env, ['block', 'bot', '--password-stdin'], PW);
    assert.match(blocked.stdout, /^Blocked bot: every request from it is denied until `akc unblock bot`\. Grant g_/);
    // Already blocked: nothing to change, so no password needed.
    assert.match((await ok(env, ['block', 'bot'])).stdout, /^bot is already blocked \(grant g_/);
    const deny = (await json(env, ['grants'])).grants.find((g: Json) => g.effect === 'deny');
    assert.deepEqual([deny.agent, deny.secret, deny.scope, deny.exeSha256], ['bot', '**', 'always', null]);
    assert.equal((await json(env, ['agent', 'list'])).agents[0].status, 'blocked');

    assert.equal((await ok(env, ['unblock', 'bot', '--password-stdin'], PW)).stdout, 'Unblocked bot.\n');
    assert.equal((await ok(env, ['unblock', 'bot'])).stdout, 'bot is not blocked.\n');
    assert.deepEqual(
      (await json(env, ['grants'])).grants.map((g: Json) => g.effect),
      ['allow'],
    );
    assert.deepEqual(
      auditEvents(env)
        .map((e) => e.event)
        .filter((e) => e.startsWith('agent.') && e !== 'agent.add'),
      ['agent.block', 'agent.unblock'],
    );
  });
});

describe('akc policy', () => {
  async function populated(): Promise<AkcEnv> {
    const env = await newVault();
    await ok(env, ['agent', 'add', 'claude', '--exe', NODE, '--sha256', 'auto', '--cwd', '/home/**', '--password-stdin'], PW);
    await ok(env, ['agent', 'add', 'shell', '--exe', SH, '--arg-pattern', '*deploy*', '--password-stdin'], PW);
    await ok(env, ['agent', 'add', 'zed', '--exe', SH, '--password-stdin'], PW);
    await ok(env, ['grant', 'shell', 'DEPLOY_*', '--for', '2d', '--uses', '5', '--password-stdin'], PW);
    await ok(env, ['grant', 'claude', 'OPENAI_KEY', '--always', '--keep-on-rotate', '--password-stdin'], PW);
    await ok(env, ['grant', 'claude', 'tmp/**', '--until-lock', '--password-stdin'], PW); // not exported
    await ok(env, ['block', 'zed', '--password-stdin'], PW);
    // A program approved "always" from a prompt (no registered agent): keyed on its fingerprint.
    const d = db(env);
    try {
      d.prepare(
        `INSERT INTO grants (id, fingerprint, exe_path, exe_sha256, secret_pattern, effect, scope, created_at, created_by)
         VALUES ('g_prog00000001', ?, '/usr/bin/python3', ?, 'HF_TOKEN', 'allow', 'always', ?, 'tty')`,
      ).run('prog:' + 'ab'.repeat(16), 'cd'.repeat(32), Date.now());
    } finally {
      d.close();
    }
    return env;
  }

  test('export → import into a fresh vault → export gives identical output (YAML and JSON)', async () => {
    const env = await populated();
    const yaml = (await ok(env, ['policy', 'export'])).stdout;
    assert.match(yaml, /^# Agent Keychain policy.*\nversion: 1\nagents:\n {2}- name: claude\n/);
    assert.doesNotMatch(yaml, /tmp\/\*\*/, 'until-lock grants are not exported');
    assert.doesNotMatch(yaml, /g_[0-9a-f]{12}/, 'no ids');
    const jsonText = (await ok(env, ['policy', 'export', '--format', 'json'])).stdout;
    const doc = JSON.parse(jsonText);
    assert.equal(doc.version, 1);
    assert.deepEqual(
      doc.agents.map((a: Json) => a.name),
      ['claude', 'shell', 'zed'],
    );
    assert.deepEqual(doc.agents[0], { name: 'claude', exe: NODE, sha256: sha256File(NODE), cwd: '/home/**' });
    assert.deepEqual(
      doc.grants.map((g: Json) => [g.agent ?? g.program, g.secret, g.effect, g.scope]),
      [
        ['claude', 'OPENAI_KEY', 'allow', 'always'],
        ['shell', 'DEPLOY_*', 'allow', 'duration'],
        ['zed', '**', 'deny', 'always'],
        ['prog:' + 'ab'.repeat(16), 'HF_TOKEN', 'allow', 'always'],
      ],
    );
    assert.equal(doc.grants[1].uses, 5);
    assert.equal(doc.grants[0].keepOnRotate, true);
    assert.equal((await ok(env, ['policy', 'export', '--json'])).stdout, jsonText, '--json means --format json');
    await fails(env, ['policy', 'export', '--format', 'toml'], undefined, 2, /^akc: error: unknown --format "toml"/);

    const dir = tempDir();
    for (const [name, text] of [
      ['policy.yaml', yaml],
      ['policy.json', jsonText],
    ] as const) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      const fresh = await newVault();
      const r = await json(fresh, ['policy', 'import', file, '--password-stdin'], PW);
      assert.deepEqual(r.agents, { added: 3, updated: 0, unchanged: 0 });
      assert.deepEqual(r.grants, { added: 4, replaced: 0, unchanged: 0, revoked: 0, skippedExpired: 0 });
      assert.equal((await ok(fresh, ['policy', 'export'])).stdout, yaml, `${name}: YAML round trip`);
      assert.equal((await ok(fresh, ['policy', 'export', '--format', 'json'])).stdout, jsonText, `${name}: JSON round trip`);
      const entry = auditEvents(fresh).find((e) => e.event === 'policy.import')!;
      assert.equal(entry.agent, 'cli');
      assert.deepEqual(JSON.parse(entry.detail!).grants.added, 4);
    }
  });

  test('import is idempotent; --replace revokes standing grants not in the file', async () => {
    const env = await newVault();
    const file = path.join(tempDir(), 'team-policy');
    fs.writeFileSync(
      file,
      [
        'version: 1',
        'agents:',
        '  - name: claude',
        `    exe: ${process.execPath}`,
        '    sha256: auto',
        '  - name: ci',
        '    exe: /bin/sh',
        '    args: "*deploy*"',
        'grants:',
        '  - agent: claude',
        '    secret: OPENAI_*',
        '  - agent: ci',
        '    secret: DEPLOY_KEY',
        '    scope: duration',
        '    expires: "2999-01-01T00:00:00Z"',
        '    uses: 10',
        '  - agent: ci',
        '    secret: "**"',
        '    effect: deny',
        '  - agent: claude',
        '    secret: OLD',
        '    scope: duration',
        '    expires: "2001-01-01T00:00:00Z"',
        '',
      ].join('\n'),
    );
    const snapshot = (): unknown => {
      const d = db(env);
      try {
        return [d.prepare('SELECT * FROM agents ORDER BY name').all(), d.prepare('SELECT * FROM grants ORDER BY id').all()];
      } finally {
        d.close();
      }
    };
    const first = await ok(env, ['policy', 'import', file, '--password-stdin'], PW);
    assert.equal(
      first.stdout,
      'Imported the policy.\nagents  2 added, 0 updated, 0 unchanged\ngrants  3 added, 0 replaced, 0 unchanged, 1 skipped (already expired)\n',
    );
    const after1 = snapshot();
    const second = await ok(env, ['policy', 'import', file, '--password-stdin'], PW);
    assert.match(
      second.stdout,
      /^Policy already up to date; nothing changed\.\nagents {2}0 added, 0 updated, 2 unchanged\ngrants {2}0 added, 0 replaced, 3 unchanged/,
    );
    assert.deepEqual(snapshot(), after1, 'the second import changes nothing');

    // A grant made by hand survives a plain import and is revoked by --replace.
    const manual = await json(env, ['grant', 'claude', 'EXTRA', '--always', '--password-stdin'], PW);
    const third = await json(env, ['policy', 'import', file, '--password-stdin'], PW);
    assert.equal(third.grants.revoked, 0);
    assert.ok((await json(env, ['grants'])).grants.some((g: Json) => g.id === manual.id));
    const replaced = await json(env, ['policy', 'import', file, '--replace', '--password-stdin'], PW);
    assert.deepEqual(replaced.grants, { added: 0, replaced: 0, unchanged: 3, revoked: 1, skippedExpired: 1 });
    assert.ok(!(await json(env, ['grants'])).grants.some((g: Json) => g.id === manual.id));

    // Changing an agent's rules in the file updates it in place (same name, same id).
    const idBefore = (await json(env, ['agent', 'list'])).agents.find((a: Json) => a.name === 'ci').id;
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"*deploy*"', '"*release*"'));
    const changed = await json(env, ['policy', 'import', file, '--password-stdin'], PW);
    assert.deepEqual(changed.agents, { added: 0, updated: 1, unchanged: 1 });
    const ci = (await json(env, ['agent', 'list'])).agents.find((a: Json) => a.name === 'ci');
    assert.equal(ci.id, idBefore);
    assert.equal(ci.argPattern, '*release*');

    await fails(env, ['policy', 'import', file, '--password-stdin'], 'wrong password\n', 1, 'wrong master password');
    await fails(
      env,
      ['policy', 'import', path.join(tempDir(), 'missing.yaml')],
      undefined,
      1,
      /^akc: error: failed to read .*missing\.yaml: no such file$/,
    );
    await fails(env, ['policy', 'import', '--password-stdin'], PW, 2, 'missing policy FILE');
  });

  test('a malformed policy file is rejected with the path of the problem, changing nothing', async () => {
    const env = await newVault();
    const dir = tempDir();
    const cases: [string, string, string][] = [
      ['p.yaml', 'version: 2\n', 'version: expected 1 (the policy format version)'],
      ['p.yaml', 'agents: []\n', 'version: required'],
      ['p.yaml', 'version: 1\nagents:\n  - name: a\n    exe: /bin/sh\n    colour: red\n', 'agents[0].colour: unknown key'],
      [
        'p.yaml',
        'version: 1\nagents:\n  - name: "bad name"\n    exe: /bin/sh\n',
        'agents[0].name: invalid agent name: use 1-64 characters A-Z a-z 0-9 _ . - starting with a letter or digit',
      ],
      [
        'p.yaml',
        'version: 1\nagents:\n  - name: a\n    exe: /bin/sh\n    sha256: xyz\n',
        'agents[0].sha256: expected 64 hex digits or "auto"',
      ],
      [
        'p.yaml',
        'version: 1\nagents:\n  - name: a\n    exe: /no/such/file\n',
        'agents[0].exe: failed to find the executable /no/such/file',
      ],
      [
        'p.yaml',
        'version: 1\nagents:\n  - name: a\n    exe: /bin/sh\ngrants:\n  - agent: a\n    secret: X\n    scope: once\n',
        'grants[0].scope: expected always or duration (once and until-lock grants are not part of a policy)',
      ],
      [
        'p.yaml',
        'version: 1\ngrants:\n  - agent: a\n    secret: X\n    scope: duration\n',
        'grants[0].expires: a duration grant needs expires',
      ],
      ['p.yaml', 'version: 1\ngrants:\n  - secret: X\n', 'grants[0].agent: give exactly one of agent or program'],
      [
        'p.yaml',
        'version: 1\ngrants:\n  - agent: ghost\n    secret: X\n',
        'grants[0].agent: no agent named ghost in the file or the vault',
      ],
      [
        'p.json',
        '{"version": 1, "grants": [{"agent": "a", "secret": "no spaces"}]}',
        'grants[0].secret: name may only contain A-Z a-z 0-9 _ . - /',
      ],
      ['p.json', '{"version": 1, "grants": [{"agent": "a", "secret": "X", "uses": -1}]}', 'grants[0].uses: expected a positive number'],
      ['p.json', '{"version": 1,', 'invalid JSON: expected double-quoted property name in JSON at position 14 (line 1 column 15)'],
      ['p.yaml', 'version: 1\nversion: 1\n', 'invalid YAML: map keys must be unique at line 2, column 1'],
      ['p.yaml', '', '(top level): the file is empty'],
      ['p.yaml', '- 1\n', '(top level): invalid input: expected object, received array'],
    ];
    for (const [name, text, problem] of cases) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      await fails(env, ['policy', 'import', file, '--password-stdin'], PW, 1, `malformed policy: ${problem}`);
    }
    assert.deepEqual(
      auditEvents(env).map((e) => e.event),
      ['vault.init'],
      'nothing was changed or unlocked',
    );
  });
});

describe('akc leases', () => {
  test('list and revoke', async () => {
    const env = await newVault();
    assert.equal((await ok(env, ['leases'])).stdout, 'No live leases.\n');
    await ok(env, ['agent', 'add', 'claude', '--exe', NODE, '--password-stdin'], PW);
    insertLease(env, 'l_one', 'claude');
    insertLease(env, 'l_two', null, 'GH_TOKEN');
    const table = (await ok(env, ['leases'])).stdout;
    assert.match(table, /^ID +AGENT +SECRET +VERSION +PID +ISSUED +EXPIRES\n/);
    assert.match(table, /\nl_one +claude +OPENAI_KEY +1 +4242 /);
    assert.match(table, /\nl_two +prog:0{32} +GH_TOKEN +1 +4242 /);
    const listed = (await json(env, ['leases'])).leases.find((l: Json) => l.id === 'l_one');
    assert.deepEqual([listed.agent, listed.secret, listed.version, listed.pid], ['claude', 'OPENAI_KEY', 1, 4242]);

    await fails(env, ['lease', 'revoke', 'l_nope', '--password-stdin'], PW, 1, 'no lease l_nope');
    await fails(env, ['lease', 'revoke', 'l_one', '--password-stdin'], 'not it at all\n', 1, 'wrong master password');
    assert.equal(
      (await ok(env, ['lease', 'revoke', 'l_one', '--password-stdin'], PW)).stdout,
      'Revoked lease l_one (OPENAI_KEY version 1).\n',
    );
    await fails(env, ['lease', 'revoke', 'l_one', '--password-stdin'], PW, 1, 'lease l_one already ended (revoked)');
    assert.deepEqual(
      (await json(env, ['leases'])).leases.map((l: Json) => l.id),
      ['l_two'],
    );
    const entry = auditEvents(env).find((e) => e.event === 'lease.revoke')!;
    assert.equal(entry.agent, 'claude');
    assert.deepEqual(JSON.parse(entry.detail!), { lease: 'l_one' });
  });
});

describe('akc audit', () => {
  test('query with filters, --since and --limit', async () => {
    const env = await newVault();
    await ok(env, ['agent', 'add', 'a1', '--exe', SH, '--password-stdin'], PW);
    await ok(env, ['agent', 'add', 'a2', '--exe', SH, '--password-stdin'], PW);
    await ok(env, ['grant', 'a1', 'OPENAI_KEY', '--always', '--password-stdin'], PW);

    const all = (await json(env, ['audit'])).entries;
    assert.deepEqual(
      all.map((e: Json) => e.event),
      ['vault.init', 'agent.add', 'agent.add', 'grant.add'],
    );
    assert.deepEqual(
      (await json(env, ['audit', '--agent', 'a1'])).entries.map((e: Json) => e.event),
      ['agent.add', 'grant.add'],
    );
    assert.deepEqual(
      (await json(env, ['audit', '--secret', 'OPENAI_KEY'])).entries.map((e: Json) => [e.event, e.agent]),
      [['grant.add', 'a1']],
    );
    const last2 = await json(env, ['audit', '--limit', '2']);
    assert.deepEqual(
      last2.entries.map((e: Json) => e.seq),
      [3, 4],
    );
    assert.equal(last2.truncated, true);
    assert.equal((await json(env, ['audit', '--since', '1h'])).entries.length, 4);
    assert.equal((await json(env, ['audit', '--since', '2999-01-01'])).entries.length, 0);
    assert.equal((await json(env, ['audit', '--since', '2000-01-01T00:00:00Z'])).entries.length, 4);
    await fails(env, ['audit', '--since', 'yesterday'], undefined, 2, /^akc: error: invalid --since "yesterday": use an ISO date/);
    await fails(env, ['audit', '--limit', '0'], undefined, 2, /^akc: error: invalid --limit "0"/);

    const human = (await ok(env, ['audit'])).stdout;
    assert.match(human, /^SEQ +TIME +EVENT +AGENT +SECRET +DECISION +DETAILS\n1 +\S+ \S+ +vault\.init /);
    assert.match(human, /\n4 +\S+ \S+ +grant\.add +a1 +OPENAI_KEY +allow +always by cli · grant=g_/);
  });

  test('--follow prints new entries until SIGINT', async () => {
    const env = await newVault();
    const child = spawn(process.execPath, [AKC_BIN, 'audit', '--follow', '--json'], { env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const waiters = new Set<() => void>();
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const w of waiters) w();
    });
    const waitFor = (re: RegExp): Promise<void> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${re} in ${JSON.stringify(out)}`));
        }, 20_000);
        const check = (): void => {
          if (!re.test(out)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await waitFor(/"event":"vault\.init"/);
    await ok(env, ['agent', 'add', 'late', '--exe', SH, '--password-stdin'], PW);
    await waitFor(/"event":"agent\.add"/);
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((e: Json) => [e.seq, e.event, e.agent]),
      [
        [1, 'vault.init', null],
        [2, 'agent.add', 'late'],
      ],
    );
  });

  test('verify passes on an intact log and names the first altered or deleted entry', async () => {
    const env = await newVault();
    for (const name of ['a', 'b', 'c']) await ok(env, ['agent', 'add', name, '--exe', SH, '--password-stdin'], PW);
    const plain = await ok(env, ['audit', 'verify']);
    assert.equal(plain.stdout, 'verified · 4 entries · checkpoints not checked (the vault stayed locked)\n');
    assert.match(plain.stderr, /hint: pass --password-stdin/);
    assert.equal((await ok(env, ['audit', 'verify', '--password-stdin'], PW)).stdout, 'verified · 4 entries · 1 checkpoint\n');
    assert.deepEqual(await json(env, ['audit', 'verify']), { ok: true, entries: 4, checkpointsChecked: false, checkpoints: null });
    await fails(env, ['audit', 'verify', '--password-stdin'], 'wrong password\n', 1, 'wrong master password');

    const dbFile = path.join(env.home, 'vault.db');
    execFileSync('sqlite3', [dbFile, "UPDATE audit SET secret='X' WHERE seq=2"]);
    await fails(
      env,
      ['audit', 'verify'],
      undefined,
      1,
      'audit log altered at entry 2: entry 2 was altered (its content does not match its hash)',
    );
    const r = await akc(env, ['audit', 'verify', '--json', '--password-stdin'], PW);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout);
    assert.deepEqual([report.ok, report.firstBadSeq], [false, 2]);
    assert.match(r.stderr, /^akc: error: audit log altered at entry 2: /);

    execFileSync('sqlite3', [dbFile, 'UPDATE audit SET secret=NULL WHERE seq=2']);
    await ok(env, ['audit', 'verify']);
    execFileSync('sqlite3', [dbFile, 'DELETE FROM audit WHERE seq=3']);
    await fails(env, ['audit', 'verify'], undefined, 1, 'audit log altered at entry 3: entry 3 is missing (deleted)');
  });

  test('verify checks the checkpoints through keychain unlock, and changes still need the password', { skip: keyringSkip() }, async () => {
    const env = akcEnv();
    await ok(env, ['init', '--keychain', '--password-stdin'], PW);
    await ok(env, ['agent', 'add', 'a', '--exe', SH, '--password-stdin'], PW);
    assert.equal((await ok(env, ['audit', 'verify'])).stdout, 'verified · 2 entries · 1 checkpoint\n');
    // The keychain opens read-only commands only: a change without the password fails.
    await fails(env, ['agent', 'revoke', 'a'], undefined, 1, 'no terminal to read the password from');
    await fails(env, ['grant', 'a', 'X', '--always'], undefined, 1, 'no terminal to read the password from');
  });

  test('verify catches a consistently rewritten chain with the signed checkpoint, and keeps catching it', async () => {
    const env = await newVault();
    for (const name of ['a', 'b', 'c']) await ok(env, ['agent', 'add', name, '--exe', SH, '--password-stdin'], PW);
    const { entryHash } = await import('../../src/core/audit/chain.js');
    const d = db(env);
    try {
      d.prepare("UPDATE audit SET agent = 'evil' WHERE seq = 2").run();
      let prev = d.prepare('SELECT hash FROM audit WHERE seq = 1').pluck().get() as Buffer;
      for (const row of d.prepare('SELECT * FROM audit WHERE seq >= 2 ORDER BY seq').all() as Json[]) {
        const hash = entryHash(prev, row);
        d.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, row.seq);
        prev = hash;
      }
    } finally {
      d.close();
    }
    // The chain alone looks fine; the audit anchor (even unauthenticated, while locked) and
    // the MAC checkpoint do not.
    const locked = await akc(env, ['audit', 'verify']);
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /does not match the audit anchor/);
    const problem = 'audit log altered at entry 4: the chain was rewritten: entries up to 4 do not match the signed checkpoint';
    await fails(env, ['audit', 'verify', '--password-stdin'], PW, 1, problem);
    // Unlocking to verify must not bless the rewritten chain.
    await fails(env, ['audit', 'verify', '--password-stdin'], PW, 1, problem);
  });

  test('export prints JSON Lines with no values', async () => {
    const env = await newVault();
    const value = 'sk-live-VALUE-9f8e7d6c5b4a';
    await ok(env, ['secret', 'set', 'OPENAI_KEY', '--value-stdin', '--password-stdin'], `${PASSWORD}\n${value}\n`);
    await ok(env, ['agent', 'add', 'claude', '--exe', SH, '--password-stdin'], PW);
    await ok(env, ['grant', 'claude', 'OPENAI_KEY', '--for', '30s', '--password-stdin'], PW);
    const out = (await ok(env, ['audit', 'export'])).stdout;
    assert.ok(out.endsWith('\n'));
    const lines = out.trimEnd().split('\n');
    const entries = lines.map((l) => JSON.parse(l));
    assert.deepEqual(
      entries.map((e: Json) => e.event),
      ['vault.init', 'secret.create', 'agent.add', 'grant.add'],
    );
    for (const e of entries) {
      assert.deepEqual(Object.keys(e), [
        'seq',
        'ts',
        'time',
        'event',
        'agent',
        'pid',
        'exe',
        'secret',
        'version',
        'decision',
        'purpose',
        'reason',
        'detail',
        'prevHash',
        'hash',
      ]);
      assert.match(e.hash, /^[0-9a-f]{64}$/);
    }
    assert.equal(entries[1].prevHash, entries[0].hash);
    assert.ok(!out.includes(value), 'no value in the export');
    assert.ok(!out.includes(Buffer.from(value).toString('base64')), 'not even encoded');
    assert.equal((await ok(env, ['audit', 'export', '--since', '2999-01-01'])).stdout, '');
    assert.equal((await ok(env, ['audit', 'export', '--since', '10m'])).stdout, out);
  });

  test('read-only commands need no password and a missing vault is a clear error', async () => {
    const env = akcEnv();
    await fails(env, ['audit'], undefined, 1, /^akc: error: no vault in /);
    await fails(env, ['grants'], undefined, 1, /^akc: error: no vault in /);
    const help = await ok(env, ['grant', '--help']);
    assert.match(help.stdout, /usage: akc grant AGENT SECRET\|GLOB \(--for DURATION \| --until-lock \| --always\)/);
    await fails(env, ['audit', 'extra'], undefined, 2, 'unexpected argument "extra"');
  });
});
