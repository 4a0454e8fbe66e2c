/**
 * The hardened host mode for real (issue 16, "what to build" 1): `akc service install`
 * under a temp root, the host running as one OS user, the agents as another, a third
 * user for the uid check. Every user is created here and removed at the end. Needs root
 * (to create users and switch to them); in CI as root a missing tool is a failure.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Output } from '../helpers/daemon.js';
import { asUser, HARDENED_PASSWORD as PASSWORD, HardenedRig, hardenedSkip, ids, type Ran } from '../helpers/hardened.js';

const VALUE = 'sk-hardened-' + randomBytes(8).toString('hex');
const skip = hardenedSkip();
const rig = new HardenedRig();
const HOST_USER = rig.hostUser;
const AGENT_USER = rig.agentUser;
const OTHER_USER = rig.otherUser;

const runAs = (user: string, cmd: string[], input = ''): Ran => rig.runAs(user, cmd, input);
const akcAs = (user: string, args: string[], input = ''): Ran => rig.akcAs(user, args, input);
const okAkc = (args: string[], input = ''): Ran => rig.ok(args, input);
const agentEnv = (): NodeJS.ProcessEnv => rig.agentEnv();

/** A path the agent user cannot read or change: the command fails with EACCES / "Permission denied". */
function assertDenied(r: Ran, what: string): void {
  assert.notEqual(r.code, 0, `${what} succeeded:\n${r.stdout}`);
  assert.match(r.stdout + r.stderr, /Permission denied|EACCES|EPERM|Operation not permitted/, `${what}: ${r.stdout}${r.stderr}`);
}

describe('hardened host: privilege separation', { skip, concurrency: false }, () => {
  before(() => rig.setup());
  after(() => rig.cleanup());

  it('installs: users, owners, modes, config without a secret, and a hardened systemd unit', () => {
    const r = rig.install();
    assert.equal(r.status, 0, r.stderr);
    const { root, configFile } = rig;
    const out = JSON.parse(r.stdout);
    assert.equal(out.createdUser, false);
    assert.ok('toRun' in out.systemd, 'no systemd in a --root install: it prints the commands');
    const h = ids(HOST_USER);
    const a = ids(AGENT_USER);
    const stat = (p: string) => fs.statSync(path.join(root, p));
    assert.equal(stat('var/lib/agent-keychain').mode & 0o777, 0o700);
    assert.equal(stat('var/lib/agent-keychain').uid, h.uid);
    assert.equal(stat('run/agent-keychain').mode & 0o777, 0o755);
    assert.equal(stat('run/agent-keychain').uid, h.uid);
    assert.equal(stat('etc/agent-keychain/host.json').mode & 0o777, 0o644);
    assert.equal(stat('etc/agent-keychain/host.json').uid, 0);
    const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));
    assert.deepEqual(config, {
      mode: 'service',
      serviceUser: HOST_USER,
      serviceUid: h.uid,
      allowUid: a.uid,
      dataDir: path.join(root, 'var/lib/agent-keychain'),
      socket: path.join(root, 'run/agent-keychain/agent.sock'),
    });
    const unit = fs.readFileSync(path.join(root, 'etc/systemd/system/agent-keychain.service'), 'utf8');
    for (const line of [
      `User=${HOST_USER}`,
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=read-only',
      'PrivateTmp=yes',
      'UMask=0077',
      `ReadWritePaths=${path.join(root, 'var/lib/agent-keychain')}`,
      'CapabilityBoundingSet=CAP_SYS_PTRACE CAP_DAC_READ_SEARCH',
      'SystemCallFilter=~ptrace process_vm_readv process_vm_writev',
      'LimitCORE=0',
    ]) {
      assert.ok(unit.split('\n').includes(line), `unit lacks ${line}:\n${unit}`);
    }
    assert.match(unit, /^ExecStart=\S+ \S+ daemon --service --config \S+host\.json$/m);
    // Status, as the desktop user (no root needed), finds nothing wrong.
    const st = akcAs(AGENT_USER, ['service', 'status', '--root', root, '--json']);
    assert.equal(st.code, 0, st.stdout + st.stderr);
    assert.deepEqual(JSON.parse(st.stdout).problems, []);
  });

  it('the host refuses to run as the wrong user', () => {
    const { configFile } = rig;
    const r = akcAs(AGENT_USER, ['daemon', '--service', '--config', configFile]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`must run as ${HOST_USER}`));
  });

  it('serves the desktop user end to end: init, secret set, lock/unlock, get with approval', async () => {
    const { node, akc, base } = rig;
    await rig.startHost();

    okAkc(['init', '--password-stdin'], `${PASSWORD}\n`);
    okAkc(['secret', 'set', 'API_KEY', '--password-stdin', '--value-stdin'], `${PASSWORD}\n${VALUE}\n`);
    const show = JSON.parse(okAkc(['secret', 'show', 'API_KEY', '--json']).stdout);
    assert.equal(show.currentVersion, 1);
    okAkc(['lock']);
    okAkc(['unlock', '--password-stdin'], `${PASSWORD}\n`);

    const getArgv = asUser(AGENT_USER, [node, akc, 'get', 'API_KEY']);
    const get = spawn(getArgv[0]!, getArgv.slice(1), { env: agentEnv(), cwd: base, stdio: ['ignore', 'pipe', 'pipe'] });
    const getOut = new Output(get.stdout);
    const getErr = new Output(get.stderr);
    const id = await getErr.until(() => /request (\S+),/.exec(getErr.text)?.[1], 'the approval request');
    okAkc(['approve', id, '--password-stdin'], `${PASSWORD}\n`);
    await getOut.until(
      () => (getOut.text.includes(VALUE) ? true : undefined),
      'the value',
      20_000,
      () => getErr.text,
    );
  });

  it('administers policy through the host: agent add, grant, grants, audit verify/export', () => {
    const { node } = rig;
    okAkc(['agent', 'add', 'bot', '--exe', node, '--sha256', 'auto', '--password-stdin'], `${PASSWORD}\n`);
    const g = JSON.parse(okAkc(['grant', 'bot', 'API_KEY', '--always', '--password-stdin', '--json'], `${PASSWORD}\n`).stdout);
    const list = JSON.parse(okAkc(['grants', '--json']).stdout);
    assert.ok(list.grants.some((x: { id: string; agent: string }) => x.id === g.id && x.agent === 'bot'));
    // A wrong password changes nothing.
    const bad = akcAs(AGENT_USER, ['ungrant', g.id, '--password-stdin'], 'wrong password!\n');
    assert.notEqual(bad.code, 0);
    okAkc(['ungrant', g.id, '--password-stdin'], `${PASSWORD}\n`);
    const verify = JSON.parse(okAkc(['audit', 'verify', '--json']).stdout);
    assert.equal(verify.ok, true);
    const events = okAkc(['audit', 'export'])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l).event as string);
    for (const e of ['vault.init', 'secret.deliver', 'agent.add', 'grant.add', 'grant.revoke', 'admin.refused'])
      assert.ok(events.includes(e), `no ${e} in ${events.join(',')}`);
    assert.ok(!okAkc(['audit', 'export']).stdout.includes(VALUE));
  });

  it('the agent user cannot read the vault, the data dir, the host memory or environment', () => {
    const { node, root, configFile } = rig;
    const dataDir = path.join(root, 'var/lib/agent-keychain');
    assertDenied(runAs(AGENT_USER, ['/bin/cat', path.join(dataDir, 'vault.db')]), 'reading vault.db');
    assertDenied(runAs(AGENT_USER, ['/bin/ls', dataDir]), 'listing the data dir');
    assertDenied(runAs(AGENT_USER, ['/bin/cat', `/proc/${rig.host!.pid}/mem`]), 'opening the host memory');
    assertDenied(runAs(AGENT_USER, ['/bin/cat', `/proc/${rig.host!.pid}/environ`]), 'reading the host environment');
    // Writing a grant row needs the database open for writing: EACCES before SQLite starts.
    const open = runAs(AGENT_USER, [
      node,
      '-e',
      `try { require('fs').openSync(${JSON.stringify(path.join(dataDir, 'vault.db'))}, 'r+'); console.log('opened') } catch (e) { console.log(e.code) }`,
    ]);
    assert.equal(open.stdout.trim(), 'EACCES');
    // The config is readable and holds no secret: no password, no value, no key.
    const config = runAs(AGENT_USER, ['/bin/cat', configFile]);
    assert.equal(config.code, 0);
    assert.ok(!config.stdout.includes(PASSWORD) && !config.stdout.includes(VALUE));
    assert.deepEqual(Object.keys(JSON.parse(config.stdout)).sort(), ['allowUid', 'dataDir', 'mode', 'serviceUid', 'serviceUser', 'socket']);
    // A grep of the data dir (as root) finds no plaintext value.
    const grep = spawnSync('grep', ['-r', '-l', VALUE, dataDir]);
    assert.equal(grep.status, 1, 'the value is on disk in plaintext');
  });

  it('the agent user cannot replace the socket, and a fake host is refused by the CLI', () => {
    const { node, akc, base, root, configFile } = rig;
    const sock = path.join(root, 'run/agent-keychain/agent.sock');
    assertDenied(runAs(AGENT_USER, ['/bin/mv', sock, `${sock}.old`]), 'renaming the socket');
    assertDenied(runAs(AGENT_USER, ['/bin/rm', '-f', sock]), 'removing the socket');
    assertDenied(runAs(AGENT_USER, ['/usr/bin/touch', path.join(path.dirname(sock), 'fake.sock')]), 'creating a file beside the socket');
    assert.ok(fs.statSync(sock).isSocket());
    // A server the agent runs itself (its own uid) at the configured socket path never
    // receives the password: the CLI checks the server's uid from the kernel first.
    const fake = path.join(base, 'agent-home', 'fake.sock');
    const etc2 = path.join(base, 'etc2');
    fs.mkdirSync(etc2, { mode: 0o755 });
    const config2 = path.join(etc2, 'host.json');
    fs.writeFileSync(config2, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), socket: fake }), { mode: 0o644 });
    const server = runAs(AGENT_USER, [
      node,
      '-e',
      `const net=require('net');let got='';const s=net.createServer(c=>c.on('data',d=>{got+=d})).listen(${JSON.stringify(fake)},()=>{` +
        `const c=require('child_process').execFile(${JSON.stringify(node)},[${JSON.stringify(akc)},'secret','rm','API_KEY','--password-stdin'],{env:{...process.env,AKC_SERVICE_CONFIG:${JSON.stringify(config2)}}},(e,o,err)=>{` +
        `console.log(JSON.stringify({err,got}));s.close();process.exit(0)});c.stdin.end(${JSON.stringify(PASSWORD + '\n')})})`,
    ]);
    const result = JSON.parse(server.stdout.trim().split('\n').pop()!);
    assert.match(result.err, /not the hardened host/);
    assert.ok(!result.got.includes(PASSWORD), 'the fake host received the password');
  });

  it('a third user is refused by uid before anything is read', async () => {
    const { node, root } = rig;
    const r = runAs(OTHER_USER, [
      node,
      '-e',
      `const s=require('net').createConnection(${JSON.stringify(path.join(root, 'run/agent-keychain/agent.sock'))});let t='';` +
        `s.on('data',d=>t+=d);s.on('close',()=>{console.log(t.trim());});s.on('error',()=>undefined)`,
    ]);
    const line = JSON.parse(r.stdout.trim().split('\n')[0]!);
    assert.equal(line.error.data.reason, 'DENIED');
    assert.match(line.error.message, /another user/);
    const uid = ids(OTHER_USER).uid;
    await rig.hostLog!.until(
      () => (new RegExp(`refused a connection from pid \\d+: uid ${uid} is not ours`).test(rig.hostLog!.text) ? true : undefined),
      'the refusal in the log',
    );
  });
});
