/**
 * The hardened mode's test rig (issue 16): real OS users created for the test (the host's
 * service user, the desktop user whose agents and CLI are served, a third user), an
 * `akc service install` under a temp root, and the host started as the service user.
 * Needs root (to create users and switch to them); in CI as root a missing tool is a
 * failure. Every user and file is removed by `cleanup()`.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './env.js';
import { Child, Output } from './daemon.js';

export const HARDENED_PASSWORD = 'correct horse battery staple';
const TOOLS = ['/usr/sbin/useradd', '/usr/sbin/userdel', '/usr/bin/setpriv'];

export function hardenedSkip(): string | false {
  if (process.platform !== 'linux') return 'the hardened mode is implemented for Linux (systemd) only';
  if (process.getuid?.() !== 0) return 'needs root: the test creates OS users and runs the host and agents as them';
  const missing = TOOLS.filter((t) => !fs.existsSync(t));
  if (missing.length) {
    if (process.env.CI === 'true') throw new Error(`CI runs as root but ${missing.join(', ')} is missing`);
    return `missing ${missing.join(', ')}`;
  }
  return false;
}

export interface Ids {
  uid: number;
  gid: number;
}

export function ids(user: string): Ids {
  const id = (flag: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** argv that runs `cmd` as `user` (real and effective uid/gid, no supplementary groups). */
export function asUser(user: string, cmd: string[], extra: string[] = []): string[] {
  const u = ids(user);
  return ['/usr/bin/setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--clear-groups', ...extra, '--', ...cmd];
}

export class HardenedRig {
  readonly rand = randomBytes(3).toString('hex');
  readonly hostUser = `akc-t-host-${this.rand}`;
  /** The desktop user: its agents and its `akc` are served. */
  readonly agentUser = `akc-t-agent-${this.rand}`;
  readonly otherUser = `akc-t-other-${this.rand}`;
  base = '';
  root = '';
  node = '';
  akc = '';
  configFile = '';
  host: ChildProcess | null = null;
  hostLog: Output | null = null;

  get users(): string[] {
    return [this.hostUser, this.agentUser, this.otherUser];
  }

  get dataDir(): string {
    return path.join(this.root, 'var/lib/agent-keychain');
  }

  get socket(): string {
    return path.join(this.root, 'run/agent-keychain/agent.sock');
  }

  /** Creates the users, the temp root, a node every user can run, and an akc every user can read. */
  setup(): void {
    for (const u of this.users) {
      const r = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', u], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `useradd ${u}: ${r.stderr}`);
    }
    this.base = fs.mkdtempSync('/tmp/akc-hardened-');
    fs.chmodSync(this.base, 0o755);
    this.root = path.join(this.base, 'root');
    fs.mkdirSync(this.root, { mode: 0o755 });
    const home = path.join(this.base, 'agent-home');
    fs.mkdirSync(home, { mode: 0o700 });
    const a = ids(this.agentUser);
    fs.chownSync(home, a.uid, a.gid);
    // Node 22 may live under a private home (/root/.cache): place a copy every user can run.
    fs.mkdirSync(path.join(this.base, 'node'), { mode: 0o755 });
    this.node = path.join(this.base, 'node', 'node');
    try {
      fs.linkSync(process.execPath, this.node);
    } catch {
      fs.copyFileSync(process.execPath, this.node);
    }
    fs.chmodSync(this.node, 0o755);
    this.akc = path.join(ROOT, 'bin', 'akc.js');
    if (!this.readableBy(this.agentUser, path.join(ROOT, 'dist', 'src', 'cli', 'main.js')) || !this.readableBy(this.hostUser, this.akc)) {
      // The checkout is private: install a world-readable copy of what akc needs to run.
      const app = path.join(this.base, 'app');
      fs.mkdirSync(app, { mode: 0o755 });
      for (const part of ['bin', 'package.json', 'node_modules', path.join('dist', 'src')]) {
        fs.mkdirSync(path.dirname(path.join(app, part)), { recursive: true, mode: 0o755 });
        const r = spawnSync('cp', ['-a', path.join(ROOT, part), path.join(app, part)]);
        assert.equal(r.status, 0, `copy ${part}`);
      }
      spawnSync('chmod', ['-R', 'a+rX', app]);
      this.akc = path.join(app, 'bin', 'akc.js');
    }
  }

  cleanup(): void {
    if (this.host && this.host.exitCode === null) this.host.kill('SIGKILL');
    for (const u of this.users) spawnSync('userdel', [u]);
    if (this.base) fs.rmSync(this.base, { recursive: true, force: true });
  }

  /** `akc service install` under the temp root, as root. */
  install(): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
    const r = spawnSync(
      this.node,
      [this.akc, 'service', 'install', '--root', this.root, '--user', this.agentUser, '--service-user', this.hostUser, '--json'],
      { encoding: 'utf8', env: { ...process.env, AKC_SERVICE_CONFIG: '/nonexistent' } },
    );
    this.configFile = path.join(this.root, 'etc/agent-keychain/host.json');
    return r;
  }

  /** Starts `akc daemon --service` as the service user, with the unit's capabilities. */
  async startHost(): Promise<void> {
    const argv = asUser(
      this.hostUser,
      [this.node, this.akc, 'daemon', '--service', '--config', this.configFile],
      ['--inh-caps=+sys_ptrace,+dac_read_search', '--ambient-caps=+sys_ptrace,+dac_read_search'],
    );
    this.host = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: '/usr/bin:/bin', HOME: this.base, AKC_DANGEROUS_TEST_WEAK_KDF: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = new Output(this.host.stderr);
    this.hostLog = log;
    await log.until(() => (/serving .*agent\.sock/.test(log.text) ? true : undefined), 'the host to listen');
  }

  /** The desktop user's environment: its own (empty) data dir, the installed service config. */
  agentEnv(): NodeJS.ProcessEnv {
    return {
      PATH: '/usr/bin:/bin',
      HOME: path.join(this.base, 'agent-home'),
      AKC_HOME: path.join(this.base, 'agent-home', 'data'),
      AKC_SERVICE_CONFIG: this.configFile,
      AKC_DANGEROUS_TEST_WEAK_KDF: '1',
    };
  }

  runAs(user: string, cmd: string[], input = '', env: NodeJS.ProcessEnv = this.agentEnv()): Ran {
    const argv = asUser(user, cmd);
    const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8', env, cwd: this.base, timeout: 60_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  akcAs(user: string, args: string[], input = '', env?: NodeJS.ProcessEnv): Ran {
    return this.runAs(user, [this.node, this.akc, ...args], input, env);
  }

  /** `akc ARGS` as the desktop user; must exit 0. */
  ok(args: string[], input = ''): Ran {
    const r = this.akcAs(this.agentUser, args, input);
    assert.equal(r.code, 0, `akc ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}\n--- host:\n${this.hostLog?.text.slice(-2000)}`);
    return r;
  }

  /** `akc ARGS` as the desktop user in the background (a request waiting for approval, --follow). */
  spawnAkc(args: string[]): Child {
    const argv = asUser(this.agentUser, [this.node, this.akc, ...args]);
    return Child.spawn(argv[0]!, argv.slice(1), { home: '', socket: '', env: this.agentEnv() }, { cwd: this.base });
  }

  /**
   * Raw JSON-RPC requests on the host's socket as the desktop user (what a client that
   * skips the CLI's checks sends); the answers, in request order.
   */
  rawCalls(
    requests: { method: string; params: unknown }[],
  ): { result?: unknown; error?: { message: string; data?: { reason?: string } } }[] {
    const lines = requests.map((r, i) => JSON.stringify({ jsonrpc: '2.0', id: i + 1, method: r.method, params: r.params }));
    const script =
      `const s=require('net').createConnection(${JSON.stringify(this.socket)});const got=new Map();let buf='';` +
      `s.on('connect',()=>s.write(${JSON.stringify(lines.join('\n') + '\n')}));` +
      `s.on('data',d=>{buf+=d;let i;while((i=buf.indexOf('\\n'))>=0){const m=JSON.parse(buf.slice(0,i));buf=buf.slice(i+1);if(m.id!=null)got.set(m.id,m);}` +
      `if(got.size===${lines.length}){console.log(JSON.stringify([...got.values()].sort((a,b)=>a.id-b.id)));s.end();}});` +
      `setTimeout(()=>{console.log(JSON.stringify({timeout:[...got.keys()]}));process.exit(1)},20000).unref()`;
    const r = this.runAs(this.agentUser, [this.node, '-e', script]);
    assert.equal(r.code, 0, `raw calls: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  }

  /** Whether `user` can read `file` (the project in place, or a copy). */
  readableBy(user: string, file: string): boolean {
    return this.runAs(user, ['/usr/bin/test', '-r', file]).code === 0;
  }
}
