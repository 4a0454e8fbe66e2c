/**
 * The hardened host mode for real (issue 16, "what to build" 1): `akc service install`
 * under a temp root, the host running as one OS user, the agents as another, a third
 * user for the uid check. Every user is created here and removed at the end. Needs root
 * (to create users and switch to them); in CI as root a missing tool is a failure.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from '../helpers/env.js';
import { Output } from '../helpers/daemon.js';

const PASSWORD = 'correct horse battery staple';
const VALUE = 'sk-hardened-' + randomBytes(8).toString('hex');
const isRoot = process.getuid?.() === 0;
const TOOLS = ['/usr/sbin/useradd', '/usr/sbin/userdel', '/usr/bin/setpriv'];

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'the hardened mode is implemented for Linux (systemd) only';
  if (!isRoot) return 'needs root: the test creates OS users and runs the host and agents as them';
  const missing = TOOLS.filter((t) => !fs.existsSync(t));
  if (missing.length) {
    if (process.env.CI === 'true') throw new Error(`CI runs as root but ${missing.join(', ')} is missing`);
    return `missing ${missing.join(', ')}`;
  }
  return false;
}

const skip = skipReason();
const rand = randomBytes(3).toString('hex');
const HOST_USER = `akc-t-host-${rand}`;
const AGENT_USER = `akc-t-agent-${rand}`;
const OTHER_USER = `akc-t-other-${rand}`;
const USERS = [HOST_USER, AGENT_USER, OTHER_USER];

interface Ids {
  uid: number;
  gid: number;
}

function ids(user: string): Ids {
  const id = (flag: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

let base = '';
let root = '';
let node = '';
let akc = '';
let configFile = '';
let host: ChildProcess | null = null;
let hostLog: Output | null = null;

/** argv that runs `cmd` as `user` (real and effective uid/gid, no supplementary groups). */
function asUser(user: string, cmd: string[], extra: string[] = []): string[] {
  const u = ids(user);
  return ['/usr/bin/setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', ...extra, '--', ...cmd];
}

function agentEnv(): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/bin:/bin',
    HOME: path.join(base, 'agent-home'),
    AKC_HOME: path.join(base, 'agent-home', 'data'),
    AKC_SERVICE_CONFIG: configFile,
    AKC_DANGEROUS_TEST_WEAK_KDF: '1',
  };
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runAs(user: string, cmd: string[], input = ''): Ran {
  const argv = asUser(user, cmd);
  const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', env: agentEnv(), cwd: base, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function akcAs(user: string, args: string[], input = ''): Ran {
  return runAs(user, [node, akc, ...args], input);
}

function okAkc(args: string[], input = ''): Ran {
  const r = akcAs(AGENT_USER, args, input);
  assert.equal(r.code, 0, `akc ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}\n--- host:\n${hostLog?.text.slice(-2000)}`);
  return r;
}

/** A path the agent user cannot read or change: the command fails with EACCES / "Permission denied". */
function assertDenied(r: Ran, what: string): void {
  assert.notEqual(r.code, 0, `${what} succeeded:\n${r.stdout}`);
  assert.match(r.stdout + r.stderr, /Permission denied|EACCES|EPERM|Operation not permitted/, `${what}: ${r.stdout}${r.stderr}`);
}

/** Whether `user` can read the project in place; else the test installs a copy readable by all. */
function readableBy(user: string, file: string): boolean {
  return runAs(user, ['/usr/bin/test', '-r', file]).code === 0;
}

describe('hardened host: privilege separation', { skip, concurrency: false }, () => {
  before(() => {
    for (const u of USERS) {
      const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', u], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `useradd ${u}: ${r.stderr}`);
    }
    base = fs.mkdtempSync('/tmp/akc-hardened-');
    fs.chmodSync(base, 0o755);
    root = path.join(base, 'root');
    fs.mkdirSync(root, { mode: 0o755 });
    const home = path.join(base, 'agent-home');
    fs.mkdirSync(home, { mode: 0o700 });
    const a = ids(AGENT_USER);
    fs.chownSync(home, a.uid, a.gid);
    // Node 22 may live under a private home (/root/.cache): place a copy every user can run.
    fs.mkdirSync(path.join(base, 'node'), { mode: 0o755 });
    node = path.join(base, 'node', 'node');
    try {
      fs.linkSync(process.execPath, node);
    } catch {
      fs.copyFileSync(process.execPath, node);
    }
    fs.chmodSync(node, 0o755);
    akc = path.join(ROOT, 'bin', 'akc.js');
    if (!readableBy(AGENT_USER, path.join(ROOT, 'dist', 'src', 'cli', 'main.js')) || !readableBy(HOST_USER, akc)) {
      // The checkout is private: install a world-readable copy of what akc needs to run.
      const app = path.join(base, 'app');
      fs.mkdirSync(app, { mode: 0o755 });
      for (const part of ['bin', 'package.json', 'node_modules', path.join('dist', 'src')]) {
        fs.mkdirSync(path.dirname(path.join(app, part)), { recursive: true, mode: 0o755 });
        const r = spawnSync('cp', ['-a', path.join(ROOT, part), path.join(app, part)]);
        assert.equal(r.status, 0, `copy ${part}`);
      }
      spawnSync('chmod', ['-R', 'a+rX', app]);
      akc = path.join(app, 'bin', 'akc.js');
    }
  });

  after(() => {
    if (host && host.exitCode === null) host.kill('SIGKILL');
    for (const u of USERS) spawnSync('userdel', [u]);
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  it('installs: users, owners, modes, config without a secret, and a hardened systemd unit', () => {
    const r = spawnSync(node, [akc, 'service', 'install', '--root', root, '--user', AGENT_USER, '--service-user', HOST_USER, '--json'], {
      encoding: 'utf8',
      env: { ...process.env, AKC_SERVICE_CONFIG: '/nonexistent' },
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.createdUser, false);
    assert.ok('toRun' in out.systemd, 'no systemd in a --root install: it prints the commands');
    const h = ids(HOST_USER);
    const a = ids(AGENT_USER);
    configFile = path.join(root, 'etc/agent-keychain/host.json');
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
    const r = akcAs(AGENT_USER, ['daemon', '--service', '--config', configFile]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`must run as ${HOST_USER}`));
  });

  it('serves the desktop user end to end: init, secret set, lock/unlock, get with approval', async () => {
    const argv = asUser(
      HOST_USER,
      [node, akc, 'daemon', '--service', '--config', configFile],
      ['--inh-caps=+sys_ptrace,+dac_read_search', '--ambient-caps=+sys_ptrace,+dac_read_search'],
    );
    host = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: '/usr/bin:/bin', HOME: base, AKC_DANGEROUS_TEST_WEAK_KDF: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    hostLog = new Output(host.stderr);
    await hostLog.until(() => (/serving .*agent\.sock/.test(hostLog!.text) ? true : undefined), 'the host to listen');

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
    const dataDir = path.join(root, 'var/lib/agent-keychain');
    assertDenied(runAs(AGENT_USER, ['/bin/cat', path.join(dataDir, 'vault.db')]), 'reading vault.db');
    assertDenied(runAs(AGENT_USER, ['/bin/ls', dataDir]), 'listing the data dir');
    assertDenied(runAs(AGENT_USER, ['/bin/cat', `/proc/${host!.pid}/mem`]), 'opening the host memory');
    assertDenied(runAs(AGENT_USER, ['/bin/cat', `/proc/${host!.pid}/environ`]), 'reading the host environment');
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
    await hostLog!.until(
      () => (new RegExp(`refused a connection from pid \\d+: uid ${uid} is not ours`).test(hostLog!.text) ? true : undefined),
      'the refusal in the log',
    );
  });
});
