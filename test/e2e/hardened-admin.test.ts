/**
 * Administration in the hardened mode, for real (issue 16): the desktop user's `akc`
 * against the host running as its own system user (created here), one installed service
 * shared by every test. A transcript per admin verb the host serves (status, secret list
 * and show, agent list, block/unblock, approvals, leases, policy export/import, audit
 * query/follow/export, passwd), the host's validation of each new verb's payload, and
 * every registry command either working or failing in one clean line — never EACCES,
 * never a stack trace. Needs root (see test/helpers/hardened.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/registry.js';
import { sealAnchor, writeAnchor } from '../../src/core/audit/anchor.js';
import { HARDENED_PASSWORD as PASSWORD, HardenedRig, hardenedSkip, ids, type Ran } from '../helpers/hardened.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const PW = `${PASSWORD}\n`;
/** The agents' program: not node, which the CLI itself runs as. */
const SH = fs.realpathSync('/bin/sh');
const NEW_PASSWORD = 'a brand new master password';
const VALUE = 'sk-admin-VALUE-5b4a3c2d1e0f';
const skip = hardenedSkip();
const rig = new HardenedRig();

const ok = (args: string[], input = ''): Ran => rig.ok(args, input);
const json = (args: string[], input = ''): Json => JSON.parse(ok([...args, '--json'], input).stdout);
const run = (args: string[], input = ''): Ran => rig.akcAs(rig.agentUser, args, input);

/** Fails with exit `code` and exactly one `akc: error:` line (plus an optional hint). */
function fails(args: string[], input: string, error: RegExp, code = 1): Ran {
  const r = run(args, input);
  assert.equal(r.code, code, `akc ${args.join(' ')}: expected exit ${code}, got ${r.code}:\n${r.stdout}${r.stderr}`);
  assertCleanError(r, args.join(' '));
  assert.match(r.stderr.split('\n')[0]!, error);
  return r;
}

function assertCleanError(r: Ran, what: string): void {
  const lines = r.stderr.trimEnd().split('\n');
  assert.match(lines[0]!, /^akc: error: \S/, `${what}: ${r.stderr}`);
  for (const l of lines.slice(1)) assert.match(l, /^akc: (hint|note|warning): /, `${what}: stray stderr line ${JSON.stringify(l)}`);
}

function assertNoLeak(r: Ran, what: string): void {
  const all = r.stdout + r.stderr;
  assert.doesNotMatch(all, /EACCES|permission denied/i, `${what}: raw permission error:\n${all}`);
  assert.doesNotMatch(r.stderr, /^\s+at \S/m, `${what}: stack trace:\n${r.stderr}`);
  assert.ok(!all.includes(VALUE), `${what}: printed the value`);
}

function auditEvents(): string[] {
  return ok(['audit', 'export'])
    .stdout.trim()
    .split('\n')
    .map((l) => JSON.parse(l).event as string);
}

/** A file the desktop user owns (policy files, templates). */
function agentFile(name: string, text: string): string {
  const file = path.join(rig.base, 'agent-home', name);
  fs.writeFileSync(file, text, { mode: 0o600 });
  const a = ids(rig.agentUser);
  fs.chownSync(file, a.uid, a.gid);
  return file;
}

describe('hardened host: the admin verbs as the desktop user', { skip, concurrency: false }, () => {
  before(async () => {
    rig.setup();
    const r = rig.install();
    assert.equal(r.status, 0, r.stderr);
    await rig.startHost();
  });
  after(() => rig.cleanup());

  it('status: absent before init, then the host’s vault, secrets and mode', () => {
    const before = json(['status']);
    assert.equal(before.vault, 'absent');
    assert.equal(before.mode, 'service');
    assert.deepEqual(before.service, { user: rig.hostUser, uid: ids(rig.hostUser).uid });
    assert.equal(before.dataDir, rig.dataDir);
    assert.equal(before.host.running, true);
    assert.equal(before.vaultFile, null);

    ok(['init', '--password-stdin'], PW);
    ok(['secret', 'set', 'API_KEY', '--description', 'the API key', '--password-stdin', '--value-stdin'], `${PASSWORD}\n${VALUE}\n`);
    const after = json(['status']);
    assert.equal(after.vault, 'unlocked');
    assert.equal(after.secrets, 1);
    assert.equal(after.keychainUnlock, false);
    assert.equal(after.vaultFile, path.join(rig.dataDir, 'vault.db'));
    assert.deepEqual([after.host.vault, after.host.pendingApprovals], ['unlocked', 0]);
    assert.deepEqual([after.expiring, after.rotationFailures, after.alerts], [[], [], []]);
    const text = ok(['status']).stdout;
    assert.match(text, /^vault {6}unlocked\n/);
    assert.match(text, new RegExp(`\\nmode {7}hardened mode: the host runs as ${rig.hostUser} \\(uid \\d+\\)\\n`));
    assert.match(text, /\nsecrets {4}1\n/);
    assert.match(text, /\nproxy {6}not started by the hardened host/);
  });

  it('secret list and show: the same rows as offline, lifecycle included, never the value', () => {
    ok(['secret', 'set', 'DB_PASSWORD', '--type', 'password', '--password-stdin', '--value-stdin'], `${PASSWORD}\nhunter2\n`);
    const { secrets } = json(['secret', 'list']);
    assert.deepEqual(
      secrets.map((s: Json) => [s.name, s.type, s.currentVersion, s.description]),
      [
        ['API_KEY', 'generic', 1, 'the API key'],
        ['DB_PASSWORD', 'password', 1, ''],
      ],
    );
    assert.deepEqual(Object.keys(secrets[0]), [
      'name',
      'type',
      'description',
      'owner',
      'tags',
      'currentVersion',
      'createdAt',
      'updatedAt',
      'purpose',
      'expiresAt',
      'expired',
      'rotator',
      'rotateEvery',
      'grace',
      'lastRotatedAt',
      'nextRotationAt',
      'rotationPendingSince',
      'canary',
    ]);
    const table = ok(['secret', 'list']);
    assert.match(
      table.stdout,
      /^NAME +TYPE +VERSION +UPDATED +DESCRIPTION\nAPI_KEY +generic +1 +\d{4}-\d\d-\d\d \S+ +the API key\nDB_PASSWORD +password +1 /,
    );
    assertNoLeak(table, 'secret list');

    const show = ok(['secret', 'show', 'API_KEY']).stdout;
    assert.match(show, /^name {9}API_KEY\ntype {9}generic\ndescription {2}the API key\n/);
    assert.match(show, /\nrotator {6}none \(manual\)\nrotation {5}not scheduled · grace 1h\n/);
    assert.match(show, /\nVERSION +STATE +CREATED\n1 +current +\d{4}-/);
    assert.deepEqual(json(['secret', 'show', 'API_KEY']).versions.length, 1);
    fails(['secret', 'show', 'NOPE'], '', /^akc: error: failed to show NOPE: no secret named NOPE$/);
  });

  it('secret set over an existing name: refused without --new-version; with it, the old version stays readable', () => {
    ok(['secret', 'set', 'ROLLED', '--password-stdin', '--value-stdin'], `${PASSWORD}\nfirst\n`);
    fails(
      ['secret', 'set', 'ROLLED', '--password-stdin', '--value-stdin'],
      `${PASSWORD}\nsecond\n`,
      /^akc: error: secret ROLLED already exists \(version 1\); nothing was stored$/,
    );
    const r = ok(['secret', 'set', 'ROLLED', '--new-version', '--password-stdin', '--value-stdin'], `${PASSWORD}\nsecond\n`);
    assert.match(r.stdout, /^ROLLED now has version 2; version 1 stays readable to existing grants until \d{4}-\d\d-\d\d \S+Z\.\n$/);
    assert.deepEqual(
      json(['secret', 'show', 'ROLLED']).versions.map((v: Json) => [v.version, v.state]),
      [
        [2, 'current'],
        [1, 'previous'],
      ],
    );
    ok(['secret', 'rm', 'ROLLED', '--password-stdin'], PW);
  });

  it('agent list, block and unblock', () => {
    ok(['agent', 'add', 'bot', '--exe', SH, '--password-stdin'], PW);
    const [bot] = json(['agent', 'list']).agents;
    assert.deepEqual([bot.name, bot.status, bot.grants, bot.exe, bot.sha256], ['bot', 'active', 0, SH, null]);
    assert.match(
      ok(['agent', 'list']).stdout,
      new RegExp(`^NAME +STATUS +GRANTS +EXE +SHA256 +ARGS +CWD +ADDED\\nbot +active +0 +${SH} +any +- +- +\\d{4}-`),
    );

    const blocked = ok(['block', 'bot', '--password-stdin'], PW).stdout;
    assert.match(blocked, /^Blocked bot: every request from it is denied until `akc unblock bot`\. Grant g_\S+\.\n$/);
    assert.equal(json(['agent', 'list']).agents[0].status, 'blocked');
    assert.match(ok(['block', 'bot', '--password-stdin'], PW).stdout, /^bot is already blocked \(grant g_\S+\)\.\n$/);
    const grants = json(['grants']).grants;
    assert.deepEqual(
      grants.map((g: Json) => [g.agent, g.secret, g.effect, g.scope]),
      [['bot', '**', 'deny', 'always']],
    );
    assert.match(
      ok(['grants']).stdout,
      /^ID +AGENT +SECRET +EFFECT +SCOPE +EXPIRES +USES +CREATED\ng_\S+ +bot +\*\* +deny +always +- +- +\d{4}-/,
    );
    fails(['unblock', 'bot', '--password-stdin'], 'not the password\n', /^akc: error: (failed to [^:]+: )?wrong master password$/);
    assert.equal(ok(['unblock', 'bot', '--password-stdin'], PW).stdout, 'Unblocked bot.\n');
    assert.equal(ok(['unblock', 'bot', '--password-stdin'], PW).stdout, 'bot is not blocked.\n');
    assert.equal(json(['agent', 'list']).agents[0].status, 'active');
    fails(['block', 'ghost', '--password-stdin'], PW, /^akc: error: failed to block ghost: no agent named ghost$/);
    const events = auditEvents();
    for (const e of ['agent.block', 'agent.unblock', 'admin.refused']) assert.ok(events.includes(e), `no ${e} in ${events.join(',')}`);
  });

  it('approvals, approve and deny; leases list and revoke', async () => {
    const get = rig.spawnAkc(['get', 'API_KEY', '--purpose', 'admin test']);
    const id = await get.stderr.until(() => /request (\S+),/.exec(get.stderr.text)?.[1], 'the approval request');
    const [pending] = json(['approvals']).approvals;
    assert.deepEqual([pending.id, pending.secrets, pending.purpose], [id, ['API_KEY'], 'admin test']);
    assert.match(ok(['approvals']).stdout, new RegExp(`^ID +AGENT/PROGRAM +PID +EXE +SECRET +PURPOSE \\(claimed\\) +AGE\\n${id} `));
    ok(['approve', id, '--password-stdin'], PW);
    const got = await get.exited;
    assert.equal(got.stdout, `${VALUE}\n`);

    const [lease] = json(['leases']).leases;
    assert.deepEqual([lease.secret, lease.version, lease.agent], ['API_KEY', 1, null]);
    assert.match(
      ok(['leases']).stdout,
      new RegExp(`^ID +AGENT +SECRET +VERSION +PID +ISSUED +EXPIRES\\n${lease.id} +prog:\\S+ +API_KEY +1 +\\d+ `),
    );
    fails(['lease', 'revoke', lease.id, '--password-stdin'], 'wrong!\n', /^akc: error: (failed to [^:]+: )?wrong master password$/);
    assert.equal(ok(['lease', 'revoke', lease.id, '--password-stdin'], PW).stdout, `Revoked lease ${lease.id} (API_KEY version 1).\n`);
    assert.deepEqual(json(['leases']).leases, []);
    assert.equal(ok(['leases']).stdout, 'No live leases.\n');
    fails(
      ['lease', 'revoke', lease.id, '--password-stdin'],
      PW,
      new RegExp(`^akc: error: failed to revoke lease ${lease.id}: lease ${lease.id} already ended \\(revoked\\)$`),
    );

    const denied = rig.spawnAkc(['get', 'API_KEY']);
    const id2 = await denied.stderr.until(() => /request (\S+),/.exec(denied.stderr.text)?.[1], 'the second approval request');
    assert.equal(ok(['deny', id2, '--password-stdin'], PW).stdout, `Denied ${id2}.\n`);
    const r = await denied.exited;
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /akc: error: .*denied/i);
    assert.equal(ok(['approvals']).stdout, 'No pending approvals.\n');
  });

  it('policy export and import (relative paths resolved by the CLI, validated before the password)', () => {
    const yaml = ok(['policy', 'export']).stdout;
    assert.match(yaml, /^# Agent Keychain policy\. Apply it with `akc policy import FILE`\.\nversion: 1\nagents:\n {2}- name: bot\n/);
    const exported = JSON.parse(ok(['policy', 'export', '--format', 'json']).stdout);
    assert.deepEqual(exported.agents, [{ name: 'bot', exe: SH }]);

    // Relative to the CLI's working directory (rig.base), not the host's.
    const relative = path.relative(rig.base, SH);
    const file = agentFile(
      'policy.json',
      JSON.stringify({
        version: 1,
        agents: [{ name: 'tool', exe: relative }],
        grants: [{ agent: 'tool', secret: 'API_KEY', effect: 'allow', scope: 'always' }],
      }),
    );
    const first = ok(['policy', 'import', file, '--password-stdin'], PW).stdout;
    assert.equal(first, 'Imported the policy.\nagents  1 added, 0 updated, 0 unchanged\ngrants  1 added, 0 replaced, 0 unchanged\n');
    const again = json(['policy', 'import', file, '--password-stdin'], PW);
    assert.deepEqual(again.agents, { added: 0, updated: 0, unchanged: 1 });
    assert.equal(
      ok(['policy', 'import', file, '--password-stdin'], PW).stdout.split('\n')[0],
      'Policy already up to date; nothing changed.',
    );
    const tool = json(['agent', 'list']).agents.find((a: Json) => a.name === 'tool');
    assert.equal(tool.exe, SH);
    assert.match(ok(['policy', 'export']).stdout, /- name: tool\n/);

    // A malformed file fails before the password is read (no stdin at all here).
    const bad = agentFile('bad.json', JSON.stringify({ version: 1, agents: [{ name: 'x' }] }));
    fails(['policy', 'import', bad, '--password-stdin'], '', /^akc: error: malformed policy: agents\[0\]\.exe: required$/);
    fails(['policy', 'import', file, '--password-stdin'], 'nope\n', /^akc: error: (failed to [^:]+: )?wrong master password$/);
    // Valid, but more than one frame holds: refused by the CLI with a way out, before the password.
    const many = Array.from({ length: 1200 }, (_, i) => ({ name: `agent-${String(i).padStart(5, '0')}`, exe: rig.node }));
    const big = agentFile('big.json', JSON.stringify({ version: 1, agents: many }));
    const tooBig = fails(
      ['policy', 'import', big, '--password-stdin'],
      '',
      /^akc: error: failed to import big\.json: larger than 57344 bytes as JSON/,
    );
    assert.match(tooBig.stderr, /akc: hint: split it into several files/);
    fails(['policy', 'export', '--format', 'toml'], '', /^akc: error: unknown --format "toml"/, 2);
  });

  it('audit: query with filters and limits, --follow, and export with the chain hashes', async () => {
    const all = json(['audit']).entries;
    assert.equal(all[0].event, 'vault.init');
    assert.ok(all.some((e: Json) => e.event === 'secret.deliver' && e.secret === 'API_KEY'));
    const mine = json(['audit', '--agent', 'bot']).entries;
    assert.ok(mine.length >= 3);
    assert.ok(mine.every((e: Json) => e.agent === 'bot'));
    assert.deepEqual(
      json(['audit', '--secret', 'DB_PASSWORD']).entries.map((e: Json) => e.event),
      ['secret.create'],
    );
    const last2 = json(['audit', '--limit', '2']);
    assert.deepEqual(
      last2.entries.map((e: Json) => e.seq),
      [all[all.length - 2].seq, all[all.length - 1].seq],
    );
    assert.equal(last2.truncated, true);
    assert.equal(json(['audit', '--since', '2999-01-01']).entries.length, 0);
    const human = ok(['audit', '--limit', '3']);
    assert.match(human.stdout, /^SEQ +TIME +EVENT +AGENT +SECRET +DECISION +DETAILS\n/);
    assert.match(human.stderr, /showing the newest 3 entries/);
    fails(['audit', '--limit', '0'], '', /^akc: error: invalid --limit "0"/, 2);

    const follow = rig.spawnAkc(['audit', '--follow', '--json', '--limit', '1']);
    await follow.stdout.until(() => (follow.stdout.lines().length >= 1 ? true : undefined), 'the newest entry');
    ok(['agent', 'add', 'late', '--exe', SH, '--password-stdin'], PW);
    await follow.stdout.until(() => (/"event":"agent\.add","agent":"late"/.test(follow.stdout.text) ? true : undefined), 'the new entry');
    follow.proc.kill('SIGINT');
    assert.equal((await follow.exited).code, 0);

    const exported = ok(['audit', 'export'])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(exported.length, json(['audit', '--limit', '100000']).entries.length);
    for (const [i, e] of exported.entries()) {
      assert.match(e.hash, /^[0-9a-f]{64}$/);
      if (i > 0) assert.equal(e.prevHash, exported[i - 1].hash, `chain broken at ${e.seq}`);
    }
    assert.deepEqual(Object.keys(exported[0]), [
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
  });

  it('audit verify: the offline check (chain, checkpoints, anchor) run by the host, in the offline command’s words', async () => {
    const verified = json(['audit', 'verify']);
    assert.deepEqual(Object.keys(verified), ['ok', 'entries', 'checkpointsChecked', 'checkpoints']);
    assert.deepEqual([verified.ok, verified.checkpointsChecked], [true, true]);
    assert.match(ok(['audit', 'verify']).stdout, /^verified · \d+ entries · \d+ checkpoints?\n$/);
    // An anchor from another vault (the test runs as root, so it can reach the service's data dir).
    const anchor = path.join(rig.dataDir, 'audit-anchor');
    const saved = fs.readFileSync(anchor);
    const owner = fs.statSync(anchor);
    // The host writes its anchor at most every 200 ms after an append: let the last one land.
    await new Promise((r) => setTimeout(r, 400));
    try {
      writeAnchor(rig.dataDir, sealAnchor(randomBytes(32), { vaultId: 'v_someone_else', seq: 1, hash: randomBytes(32) }));
      const r = run(['audit', 'verify', '--json']);
      assert.notEqual(r.code, 0, r.stdout);
      assertCleanError(r, 'audit verify');
      assert.match(
        r.stderr,
        /^akc: error: audit log altered at entry 1: the audit anchor file \(audit-anchor\) belongs to another vault\n/,
      );
      assert.deepEqual([JSON.parse(r.stdout).ok, JSON.parse(r.stdout).firstBadSeq], [false, 1]);
    } finally {
      const tmp = `${anchor}.restore`;
      fs.writeFileSync(tmp, saved, { mode: 0o600 });
      fs.chownSync(tmp, owner.uid, owner.gid);
      fs.renameSync(tmp, anchor);
    }
    assert.equal(json(['audit', 'verify']).ok, true, 'the real anchor is back');
  });

  it('the host validates every new verb’s payload and names what is malformed', () => {
    const answers = rig.rawCalls([
      { method: 'secrets.list', params: { offset: -1 } },
      { method: 'agents.list', params: { all: 'yes' } },
      { method: 'grants.list', params: { extra: 1 } },
      { method: 'leases.list', params: { offset: 1.5 } },
      { method: 'leases.revoke', params: { id: 'l_x' } },
      { method: 'agent.block', params: { auth: { password: '' }, name: 'bot' } },
      { method: 'agent.unblock', params: { auth: { password: PASSWORD } } },
      { method: 'policy.export', params: { format: 'toml' } },
      { method: 'policy.import', params: { auth: { password: PASSWORD }, text: '', source: 'x' } },
      { method: 'audit.query', params: { limit: 0, order: 'asc' } },
      { method: 'audit.query', params: { limit: 10, order: 'sideways' } },
      { method: 'vault.passwd', params: { auth: { password: PASSWORD } } },
      { method: 'vault.status', params: { verbose: true } },
      // Well-formed, but the document inside is not a policy: refused before the password is checked.
      { method: 'policy.import', params: { auth: { password: 'not it' }, text: '{"version":1,"agents":[{"name":"x"}]}', source: 'x' } },
      { method: 'agents.list', params: { offset: 0 } },
    ]);
    const messages = answers.map((a) => a.error?.message ?? 'ok');
    const expected = [
      /^malformed secrets\.list params: offset: /,
      /^malformed agents\.list params: all: /,
      /^malformed grants\.list params: .*extra/,
      /^malformed leases\.list params: offset: /,
      /^malformed leases\.revoke params: auth: /,
      /^malformed agent\.block params: auth\.password: /,
      /^malformed agent\.unblock params: name: /,
      /^malformed policy\.export params: format: /,
      /^malformed policy\.import params: text: /,
      /^malformed audit\.query params: limit: /,
      /^malformed audit\.query params: order: /,
      /^malformed vault\.passwd params: newPassword: /,
      /^malformed vault\.status params: .*verbose/,
      /^malformed policy: agents\[0\]\.exe: required$/,
      /^ok$/,
    ];
    for (const [i, re] of expected.entries()) assert.match(messages[i]!, re, `request ${i + 1}`);
    const page = answers[14]!.result as { rows: Json[]; next: number | null };
    assert.deepEqual(
      page.rows.map((r) => r.name),
      ['bot', 'late', 'tool'],
    );
    assert.equal(page.next, null);
    // Nothing above changed anything: `bot` is still active, and no wrong password was counted.
    assert.equal(json(['agent', 'list']).agents[0].status, 'active');
  });

  it('passwd: the new password works everywhere, the old one nowhere', () => {
    fails(['passwd', '--password-stdin'], `wrong\n${NEW_PASSWORD}\n`, /^akc: error: (failed to [^:]+: )?wrong master password$/);
    fails(['passwd', '--password-stdin'], PW, /^akc: error: no new password on line 2 of standard input$/);
    assert.equal(ok(['passwd', '--password-stdin'], `${PASSWORD}\n${NEW_PASSWORD}\n`).stdout, 'Master password changed.\n');
    fails(
      ['secret', 'set', 'AFTER', '--password-stdin', '--value-stdin'],
      `${PASSWORD}\nv\n`,
      /^akc: error: (failed to [^:]+: )?wrong master password$/,
    );
    ok(['secret', 'set', 'AFTER', '--password-stdin', '--value-stdin'], `${NEW_PASSWORD}\nv\n`);
    // The host's admin proofs (unlock, approve) follow the new password at once.
    ok(['lock']);
    fails(['unlock', '--password-stdin'], PW, /^akc: error: /);
    ok(['unlock', '--password-stdin'], `${NEW_PASSWORD}\n`);
    assert.ok(auditEvents().includes('vault.passwd'));
    ok(['passwd', '--password-stdin'], `${NEW_PASSWORD}\n${PASSWORD}\n`);
  });

  it('the service user itself administers the vault offline (the hint for the commands the host does not serve)', () => {
    const env = { ...rig.agentEnv(), HOME: rig.base, AKC_HOME: rig.dataDir };
    const r = rig.akcAs(rig.hostUser, ['secret', 'policy', 'API_KEY', '--json'], '', env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(JSON.parse(r.stdout).name, 'API_KEY');
  });

  it('every command either works or fails in one clean line (no EACCES, no stack trace)', () => {
    const template = agentFile('template.txt', 'no references here\n');
    const policy = agentFile('empty-policy.json', '{"version":1}');
    const REFUSED = /does not work in hardened mode yet: it opens vault\.db directly, and the vault belongs to /;
    type Case = { args: string[]; input?: string; expect: 'ok' | RegExp };
    const cases: Record<string, Case> = {
      init: { args: ['--password-stdin'], input: PW, expect: /the service already has a vault/ },
      passwd: { args: ['--password-stdin'], input: `${PASSWORD}\n${PASSWORD}\n`, expect: 'ok' },
      status: { args: [], expect: 'ok' },
      'keychain enable': { args: ['--password-stdin'], input: PW, expect: /the hardened host has no OS keychain/ },
      'keychain disable': { args: ['--password-stdin'], input: PW, expect: /the hardened host has no OS keychain/ },
      'secret set': { args: ['LOOP_SECRET', '--password-stdin', '--value-stdin'], input: `${PASSWORD}\nloop\n`, expect: 'ok' },
      'secret list': { args: [], expect: 'ok' },
      'secret show': { args: ['LOOP_SECRET'], expect: 'ok' },
      'secret rm': { args: ['LOOP_SECRET', '--password-stdin'], input: PW, expect: 'ok' },
      'secret reveal': { args: ['API_KEY', '--force', '--password-stdin'], input: PW, expect: REFUSED },
      daemon: { args: [], expect: /the hardened host \(.*\) is this user's host/ },
      get: { args: ['NOPE_SECRET'], expect: /no secret named NOPE_SECRET/ },
      run: { args: ['--env', 'X=NOPE_SECRET', '--', '/bin/true'], expect: /no secret named NOPE_SECRET/ },
      inject: { args: ['-i', template], expect: 'ok' },
      scan: { args: [template], expect: REFUSED },
      lock: { args: [], expect: 'ok' },
      unlock: { args: ['--password-stdin'], input: PW, expect: 'ok' },
      approvals: { args: [], expect: 'ok' },
      approve: { args: ['a_nope', '--password-stdin'], input: PW, expect: /a_nope/ },
      deny: { args: ['a_nope', '--password-stdin'], input: PW, expect: /a_nope/ },
      'agent add': { args: ['loopbot', '--exe', SH, '--password-stdin'], input: PW, expect: 'ok' },
      'agent list': { args: [], expect: 'ok' },
      'agent revoke': { args: ['loopbot', '--password-stdin'], input: PW, expect: 'ok' },
      grant: { args: ['ghost', 'API_KEY', '--always', '--password-stdin'], input: PW, expect: /no agent named ghost/ },
      grants: { args: [], expect: 'ok' },
      ungrant: { args: ['g_nope', '--password-stdin'], input: PW, expect: /no grant g_nope/ },
      block: { args: ['ghost', '--password-stdin'], input: PW, expect: /no agent named ghost/ },
      unblock: { args: ['ghost', '--password-stdin'], input: PW, expect: /no agent named ghost/ },
      'policy export': { args: [], expect: 'ok' },
      'policy import': { args: [policy, '--password-stdin'], input: PW, expect: 'ok' },
      leases: { args: [], expect: 'ok' },
      'lease revoke': { args: ['l_nope', '--password-stdin'], input: PW, expect: /no lease l_nope/ },
      audit: { args: [], expect: 'ok' },
      'audit verify': { args: [], expect: 'ok' },
      'audit export': { args: [], expect: 'ok' },
      'proxy add': {
        args: ['openai', '--upstream', 'https://api.openai.com', '--secret', 'API_KEY', '--password-stdin'],
        input: PW,
        expect: REFUSED,
      },
      'proxy list': { args: [], expect: REFUSED },
      'proxy rm': { args: ['openai', '--password-stdin'], input: PW, expect: REFUSED },
      mcp: { args: [], expect: 'ok' },
      'secret policy': { args: ['API_KEY'], expect: REFUSED },
      rotate: { args: ['API_KEY', '--password-stdin'], input: PW, expect: REFUSED },
      'secret prune': { args: ['API_KEY', '--keep', '1', '--password-stdin'], input: PW, expect: REFUSED },
      'secret revoke-grants': { args: ['API_KEY', '--password-stdin'], input: PW, expect: REFUSED },
      'guard show': { args: [], expect: REFUSED },
      'guard set': { args: ['burst.limit', '12', '--password-stdin'], input: PW, expect: REFUSED },
      alerts: { args: [], expect: REFUSED },
      'alerts clear': { args: ['--all', '--password-stdin'], input: PW, expect: REFUSED },
      'service install': { args: ['--user', rig.agentUser, '--root', rig.root], expect: /must run as root/ },
      'service uninstall': { args: ['--root', rig.root], expect: /must run as root/ },
      'service status': { args: ['--root', rig.root], expect: 'ok' },
    };
    const names = COMMANDS.map((c) => c.path.join(' '));
    const unclassified = names.filter((n) => !(n in cases));
    assert.deepEqual(unclassified, [], 'a new command: say here what it does in hardened mode');
    for (const name of names) {
      const c = cases[name]!;
      const r = run([...name.split(' '), ...c.args], c.input ?? '');
      const what = `akc ${name}`;
      assert.notEqual(r.code, null, `${what} did not finish`);
      assertNoLeak(r, what);
      if (c.expect === 'ok') {
        assert.equal(r.code, 0, `${what} failed:\n${r.stdout}${r.stderr}`);
      } else {
        assert.notEqual(r.code, 0, `${what} succeeded:\n${r.stdout}`);
        assertCleanError(r, what);
        assert.match(r.stderr, c.expect, what);
      }
    }
    // Lock and unlock above left the host as it was.
    assert.equal(json(['status']).vault, 'unlocked');
  });

  it('wrong passwords are audited and, five in a row, rate-limited even for the right one', () => {
    for (let i = 1; i <= 5; i++) fails(['block', 'bot', '--password-stdin'], `guess ${i}\n`, /wrong master password$/);
    fails(['block', 'bot', '--password-stdin'], PW, /too many failed admin proofs: try again in \d+ s$/);
    const refused = json(['audit', '--limit', '100000']).entries.filter((e: Json) => e.event === 'admin.refused');
    assert.ok(
      refused.some((e: Json) => /wrong password for agent\.block .*; cooling down$/.test(e.reason)),
      JSON.stringify(refused),
    );
    assert.equal(json(['agent', 'list']).agents[0].status, 'active');
  });

  it('status says so plainly when the hardened host is not running', async () => {
    rig.host!.kill('SIGTERM');
    await new Promise((resolve) => rig.host!.once('exit', resolve));
    const st = json(['status']);
    assert.deepEqual([st.vault, st.host.running, st.mode], ['unknown', false, 'service']);
    assert.match(ok(['status']).stdout, /^vault {6}unknown \(the hardened host is not running: `sudo systemctl start agent-keychain`\)\n/);
    const down = fails(['secret', 'list'], '', /^akc: error: no Agent Keychain host is running at /);
    assert.match(down.stderr, /akc: hint: start the hardened host: `sudo systemctl start agent-keychain`/);
  });
});
