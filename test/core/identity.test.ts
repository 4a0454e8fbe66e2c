/**
 * Process identity against real parts: a real Unix socket server, real child processes
 * connecting to it, the real kernel credentials and /proc, real files for hashing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  clearExeHashCache,
  closePidfd,
  exeHashCacheStats,
  getPeerCredentials,
  hashExecutable,
  identifyPeer,
  isSameUser,
  isStillSameProcess,
  pidfdRefersTo,
  readProcessInfo,
  scriptFromArgv,
  injectedVariables,
  nodeOptionsInjects,
  codeFlagsFromArgv,
} from '../../src/core/identity/index.js';
import { akcSubcommand } from '../../src/core/policy/requester.js';
import { isAkcError } from '../../src/shared/errors.js';

const linux = process.platform === 'linux';

// The client connects, optionally exits at once, otherwise waits until the server hangs up.
const CLIENT = `
import net from 'node:net';
const s = net.connect(process.argv[2]);
s.on('connect', () => { if (process.argv[3] === 'exit') process.exit(0); });
s.on('close', () => process.exit(0));
s.on('error', () => process.exit(2));
setTimeout(() => process.exit(3), 30000);
`;

const sha256 = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

let dir: string;
let sockPath: string;
let server: net.Server;
const children: ChildProcess[] = [];
let queue: net.Socket[] = [];
let waiters: ((s: net.Socket) => void)[] = [];

function listen(server: net.Server, at: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at, () => resolve());
  });
}

/** The next connection accepted by the shared server. */
function nextConnection(): Promise<net.Socket> {
  const s = queue.shift();
  if (s) return Promise.resolve(s);
  return new Promise((resolve) => waiters.push(resolve));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function startClient(args: string[], opts: { cwd?: string; mode?: 'exit' } = {}): ChildProcess {
  const child = spawn(process.execPath, [...args, sockPath, ...(opts.mode ? [opts.mode] : [])], {
    cwd: opts.cwd ?? dir,
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

before(async () => {
  // realpath: /proc/<pid>/cwd reports the resolved directory (matters where /tmp is a symlink).
  dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'akc-identity-')));
  fs.writeFileSync(path.join(dir, 'client.mjs'), CLIENT);
  sockPath = path.join(dir, 'agent.sock');
  // pauseOnConnect: the server does not read, so a peer's EOF does not close our end before we look.
  server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (s) => {
    const w = waiters.shift();
    if (w) w(s);
    else queue.push(s);
  });
  await listen(server, sockPath);
});

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(children.map(exited));
  for (const s of queue) s.destroy();
  queue = [];
  waiters = [];
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('identifyPeer', () => {
  test('identifies a real child process from the kernel and /proc', { skip: !linux && 'needs /proc' }, async () => {
    const child = startClient(['--enable-source-maps', 'client.mjs']);
    const sock = await nextConnection();
    const fdsBefore = fs.readdirSync('/proc/self/fd').length;
    const id = await identifyPeer(sock);
    // Any pidfd taken during identification is closed again.
    assert.equal(fs.readdirSync('/proc/self/fd').length, fdsBefore);

    assert.equal(id.pid, child.pid);
    assert.equal(id.uid, process.getuid!());
    assert.equal(id.gid, process.getgid!());
    assert.ok(isSameUser(id));
    assert.equal(id.exe, fs.realpathSync(process.execPath));
    assert.deepEqual(id.argv, [process.execPath, '--enable-source-maps', 'client.mjs', sockPath]);
    assert.equal(id.cwd, dir);
    // The relative script is resolved against the child's cwd, past the interpreter flag.
    assert.equal(id.script, path.join(dir, 'client.mjs'));
    assert.match(id.startTime ?? '', /^\d+$/);
    assert.ok(id.pidCheck === 'pidfd' || id.pidCheck === 'starttime', id.pidCheck);
    assert.equal(id.parents[0]?.pid, process.pid, 'the parent chain starts at this test process');
    assert.equal(id.parents[0]?.exe, fs.realpathSync(process.execPath));
    assert.equal(id.parents.at(-1)?.pid === 1 || id.parents.length === 8, true);
    assert.equal(id.exeSha256, sha256(process.execPath));

    assert.ok(isStillSameProcess(id));
    sock.destroy();
    await exited(child);
    assert.equal(isStillSameProcess(id), false, 'an exited process is no longer the same process');
  });

  test('a peer that exits before identification does not crash it', async () => {
    const child = startClient(['client.mjs'], { mode: 'exit' });
    const sock = await nextConnection();
    await exited(child); // exited and reaped: /proc/<pid> is gone
    const id = await identifyPeer(sock);
    // The kernel's record of the connect() survives the process; nothing else is trusted.
    assert.equal(id.pid, child.pid);
    assert.equal(id.uid, process.getuid!());
    assert.equal(id.pidCheck, 'vanished');
    assert.equal(id.exe, null);
    assert.deepEqual(id.argv, []);
    assert.equal(id.exeSha256, null);
    assert.deepEqual(id.parents, []);
    sock.destroy();
  });

  test('a closed socket is an IO error, not a crash', async () => {
    const child = startClient(['client.mjs']);
    const sock = await nextConnection();
    sock.destroy();
    await assert.rejects(identifyPeer(sock), (err) => isAkcError(err, 'IO') && /peer credentials/.test(err.message));
    await exited(child);
  });

  test('SO_PEERPIDFD pins the peer: it reports the process gone once it exits', { skip: !linux && 'linux only' }, async (t) => {
    const child = startClient(['client.mjs']);
    const sock = await nextConnection();
    const creds = getPeerCredentials(sock, { pidfd: true });
    try {
      assert.equal(creds.pid, child.pid);
      if (creds.pidfd === undefined) {
        t.skip(`kernel ${os.release()} has no SO_PEERPIDFD`);
        return;
      }
      assert.ok(pidfdRefersTo(creds.pidfd, child.pid!));
      sock.destroy();
      await exited(child);
      assert.equal(pidfdRefersTo(creds.pidfd, child.pid!), false);
    } finally {
      closePidfd(creds);
      closePidfd(creds); // idempotent
      sock.destroy();
    }
    // Without the option no descriptor is handed out.
    const child2 = startClient(['client.mjs']);
    const sock2 = await nextConnection();
    assert.equal(getPeerCredentials(sock2).pidfd, undefined);
    sock2.destroy();
    await exited(child2);
  });

  const setpriv = spawnSync('which', ['setpriv']).status === 0;
  const root = process.getuid?.() === 0;
  test('reads another uid from the kernel', { skip: (!root || !setpriv) && 'needs root and setpriv' }, async (t) => {
    // A world-accessible socket so uid 65534 can connect; the server side refuses it elsewhere.
    const other = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'akc-identity-other-')));
    const otherSock = path.join(other, 'agent.sock');
    const script = path.join(other, 'client.mjs');
    fs.chmodSync(other, 0o755);
    fs.writeFileSync(script, CLIENT, { mode: 0o644 });
    const priv = ['--reuid=65534', '--regid=65534', '--clear-groups'];
    if (spawnSync('setpriv', [...priv, process.execPath, '-e', '0']).status !== 0) {
      t.skip('uid 65534 cannot run this node binary');
      fs.rmSync(other, { recursive: true, force: true });
      return;
    }
    const srv = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    const accepted = new Promise<net.Socket>((resolve) => srv.once('connection', resolve));
    await listen(srv, otherSock);
    fs.chmodSync(otherSock, 0o777);
    const child = spawn('setpriv', [...priv, process.execPath, script, otherSock], { cwd: other, stdio: 'ignore' });
    children.push(child);
    const sock = await accepted;
    try {
      const creds = getPeerCredentials(sock);
      assert.equal(creds.uid, 65534);
      assert.equal(creds.gid, 65534);
      const id = await identifyPeer(sock);
      assert.equal(id.uid, 65534);
      assert.equal(isSameUser(id), false);
      // setpriv exec()s node, so the peer is node itself, under the same pid.
      assert.equal(id.pid, child.pid);
      assert.equal(id.script, script);
    } finally {
      sock.destroy();
      await exited(child);
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('readProcessInfo', () => {
  test('describes this process and tolerates a pid that does not exist', { skip: !linux && 'needs /proc' }, () => {
    const me = readProcessInfo(process.pid);
    assert.equal(me.exe, fs.realpathSync(process.execPath));
    assert.equal(me.uid, process.getuid!());
    assert.equal(me.ppid, process.ppid);
    assert.equal(me.cwd, fs.realpathSync(process.cwd()));
    assert.equal(me.argv[0], process.argv0);
    assert.ok(me.argv.includes(process.argv[1]!) || me.argv.includes(path.relative(process.cwd(), process.argv[1]!)));
    // Node resolves its main script against its cwd exactly as scriptFromArgv does.
    assert.equal(me.script, process.argv[1]);
    const gone = readProcessInfo(2 ** 22 + 12345); // above pid_max: never a real process
    assert.deepEqual(gone, {
      pid: 2 ** 22 + 12345,
      exe: null,
      argv: [],
      cwd: null,
      uid: null,
      ppid: null,
      startTime: null,
      comm: null,
      script: null,
    });
  });
});

describe('scriptFromArgv', () => {
  const cases: [string[], string | null][] = [
    [['python', '-u', 'x.py'], '/w/x.py'],
    [['python3.12', '-X', 'dev', '-W', 'ignore', '-B', 'x.py', '--flag'], '/w/x.py'],
    [['python3', '-Xdev', 'x.py'], '/w/x.py'],
    [['python3', '-m', 'http.server', '8000'], '-m http.server'],
    [['python3', '-um', 'pip'], '-m pip'],
    [['python3', '-c', 'print(1)', 'x.py'], null],
    [['python3', '-'], null],
    [['python3'], null],
    [['node', '--enable-source-maps', 'app.js'], '/w/app.js'],
    [['node', '--experimental-vm-modules', '--require', 'tsx/cjs', 'src/a.ts'], '/w/src/a.ts'],
    [['node', '--import=tsx', '--max-old-space-size=4096', '/abs/app.js', 'x.js'], '/abs/app.js'],
    [['node', '--', 'app.js'], '/w/app.js'],
    [['node', '-e', 'console.log(1)'], null],
    [['node'], null],
    [['bash', '-c', 'echo hi'], null],
    [['bash', '-lc', 'echo hi'], null],
    [['bash', '-e', 'deploy.sh', 'prod'], '/w/deploy.sh'],
    [['sh', '-o', 'errexit', 'run.sh'], '/w/run.sh'],
    [['zsh', '+o', 'nomatch', 'x.zsh'], '/w/x.zsh'],
    [['deno', 'run', '--allow-net', 'a.ts'], '/w/a.ts'],
    [['deno', 'run', '-c', 'deno.json', 'main.ts'], '/w/main.ts'],
    [['deno', 'main.ts'], '/w/main.ts'],
    [['deno', 'fmt'], null],
    [['bun', 'run', 'server.ts'], '/w/server.ts'],
    [['bun', 'run', 'dev'], null],
    [['ruby', '-I', 'lib', 'bin/tool'], '/w/bin/tool'],
    [['perl', '-w', 'x.pl'], '/w/x.pl'],
    [['perl', '-pi.bak', '-e', 's/a/b/', 'f.txt'], null],
    [['/usr/bin/vim', 'x.py'], null],
  ];
  for (const [argv, want] of cases) {
    test(argv.join(' '), () => assert.equal(scriptFromArgv(argv, { cwd: '/w' }), want));
  }

  test('the kernel exe decides the interpreter, not argv[0]', () => {
    assert.equal(scriptFromArgv(['innocent', 'x.py'], { exe: '/usr/bin/python3.11', cwd: '/w' }), '/w/x.py');
    assert.equal(scriptFromArgv(['python3', 'x.py'], { exe: '/usr/bin/python3.11', cwd: '/w' }), '/w/x.py');
  });

  test('without a cwd a relative script stays relative', () => {
    assert.equal(scriptFromArgv(['node', 'app.js']), 'app.js');
  });

  test('an empty argument is no script (not the working directory), and is flagged', () => {
    // What /proc shows for a process that set process.title: the title, then empty words.
    const retitled = ['npm exec akc get X', '', '', ''];
    assert.equal(scriptFromArgv(retitled, { exe: '/usr/bin/node', cwd: '/w' }), null);
    assert.equal(scriptFromArgv(['node', '--', ''], { cwd: '/w' }), null);
    assert.equal(scriptFromArgv(['python3', '-u', ''], { cwd: '/w' }), null);
    assert.deepEqual(codeFlagsFromArgv(retitled, '/usr/bin/node'), [
      'no script file (node with an empty script argument, or a retitled process)',
    ]);
  });

  test('a real process that renamed itself as npm does has no script', { skip: !linux && 'needs /proc' }, async () => {
    const child = spawn(
      process.execPath,
      ['-e', "process.title = 'npm exec akc get X'; console.log('ready'); setInterval(() => {}, 1000)"],
      {
        cwd: os.tmpdir(),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const info = readProcessInfo(child.pid!);
      assert.match(info.argv[0] ?? '', /^npm exec akc get X/);
      assert.equal(info.exe, fs.realpathSync(process.execPath));
      assert.equal(info.script, null, 'not its working directory');
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('hashExecutable', () => {
  let file: string;
  before(() => {
    clearExeHashCache();
    // More than one 1 MiB read chunk, not a multiple of it.
    file = path.join(dir, 'tool.bin');
    fs.writeFileSync(file, crypto.randomBytes(3 * 1024 * 1024 + 17), { mode: 0o755 });
  });

  test('matches an independent sha256 and is cached', async () => {
    const first = await hashExecutable(file);
    assert.equal(first, sha256(file));
    const before = exeHashCacheStats();
    assert.equal(await hashExecutable(file), first);
    const after = exeHashCacheStats();
    assert.equal(after.hits, before.hits + 1);
    assert.equal(after.misses, before.misses);
  });

  test('a changed file is hashed again', async () => {
    const first = await hashExecutable(file);
    await sleep(20); // let the filesystem clock tick so mtime/ctime differ
    fs.appendFileSync(file, 'more');
    const appended = await hashExecutable(file);
    assert.notEqual(appended, first);
    assert.equal(appended, sha256(file));

    // Same size, content changed, mtime put back: ctime still gives it away.
    const st = fs.statSync(file);
    await sleep(20);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('XXXX'), 0, 4, 0);
    fs.closeSync(fd);
    fs.utimesSync(file, st.atime, st.mtime);
    assert.equal(fs.statSync(file).size, st.size);
    const rewritten = await hashExecutable(file);
    assert.equal(rewritten, sha256(file));
    assert.notEqual(rewritten, appended);

    // Replaced by rename (a new inode), as package managers do.
    await sleep(20);
    fs.writeFileSync(`${file}.new`, 'new binary');
    fs.renameSync(`${file}.new`, file);
    assert.equal(await hashExecutable(file), sha256(file));
  });

  test('concurrent lookups of one file share a read', async () => {
    clearExeHashCache();
    const results = await Promise.all([1, 2, 3, 4].map(() => hashExecutable(file)));
    assert.equal(new Set(results).size, 1);
    assert.equal(exeHashCacheStats().misses, 1);
  });

  test('the cache is bounded', async () => {
    const small = path.join(dir, 'many');
    fs.mkdirSync(small);
    for (let i = 0; i < 600; i++) fs.writeFileSync(path.join(small, String(i)), String(i));
    for (let i = 0; i < 600; i++) await hashExecutable(path.join(small, String(i)));
    assert.ok(exeHashCacheStats().size <= 512);
  });

  test('a missing file or a directory is an IO error', async () => {
    await assert.rejects(hashExecutable(path.join(dir, 'nope')), (err) => isAkcError(err, 'IO'));
    await assert.rejects(hashExecutable(dir), (err) => isAkcError(err, 'IO'));
  });
});

describe('injected code (issue 16)', () => {
  const env = (o: Record<string, string>) => new Map(Object.entries(o).map(([k, v]) => [k, [v]]));

  test('code-injecting variables are named, never their values; harmless ones are not', () => {
    assert.deepEqual(
      injectedVariables(
        env({ LD_PRELOAD: '/x/evil.so', PYTHONPATH: '/x', BASH_FUNC_ls: '() { evil; }', HOME: '/h', PYTHONUNBUFFERED: '1' }),
      ),
      ['BASH_FUNC_ls', 'LD_PRELOAD', 'PYTHONPATH'],
    );
    assert.deepEqual(injectedVariables(env({ LD_PRELOAD: '' })), [], 'an empty variable loads nothing');
    assert.deepEqual(injectedVariables(env({ NODE_OPTIONS: '--max-old-space-size=4096 --enable-source-maps' })), []);
    assert.deepEqual(injectedVariables(env({ NODE_OPTIONS: '--max-old-space-size=4096 --import=./evil.mjs' })), ['NODE_OPTIONS']);
    assert.deepEqual(
      injectedVariables(new Map([['NODE_OPTIONS', ['--no-warnings', '-r ./evil.cjs']]])),
      ['NODE_OPTIONS'],
      'a duplicate cannot hide behind a harmless twin',
    );
    assert.equal(nodeOptionsInjects('--inspect'), true);
  });

  test('interpreter options that load code, inline code and missing scripts are flagged', () => {
    const node = '/usr/bin/node';
    assert.deepEqual(codeFlagsFromArgv(['node', 'app.js'], node), []);
    assert.deepEqual(codeFlagsFromArgv(['node', '-r', 'evil.cjs', 'app.js'], node), ['node -r']);
    assert.deepEqual(codeFlagsFromArgv(['node', '--import=evil.mjs', 'app.js'], node), ['node --import']);
    assert.deepEqual(codeFlagsFromArgv(['node', '--inspect=0', 'app.js'], node), ['node --inspect']);
    assert.deepEqual(codeFlagsFromArgv(['node', '-e', 'x'], node), ['inline code (node -e)']);
    assert.deepEqual(codeFlagsFromArgv(['python3', '-c', 'x'], '/usr/bin/python3'), ['inline code (python -c)']);
    assert.equal(codeFlagsFromArgv(['node'], node).length, 1, 'no script: code from stdin or a prompt');
    assert.deepEqual(codeFlagsFromArgv(['/usr/bin/curl', '-e', 'x'], '/usr/bin/curl'), [], 'not an interpreter');
  });

  test('a native program cannot claim to be an interpreter script by rewriting argv[0]', () => {
    assert.equal(scriptFromArgv(['node', '/srv/agent.js'], { exe: '/tmp/agentbin', cwd: '/w' }), null);
    assert.equal(scriptFromArgv(['node', '/srv/agent.js'], { exe: null, cwd: '/w' }), '/srv/agent.js', 'argv[0] only without an exe');
  });

  test('the environment of a real child is read from /proc, and its injected code found', { skip: !linux && 'needs /proc' }, async () => {
    const child = spawn(process.execPath, ['client.mjs', sockPath], {
      cwd: dir,
      stdio: 'ignore',
      env: { PATH: '/usr/bin:/bin', LD_PRELOAD: '', NODE_PATH: dir },
    });
    children.push(child);
    const sock = await nextConnection();
    const id = await identifyPeer(sock);
    assert.deepEqual(id.injectedCode, ['environment NODE_PATH']);
    assert.equal(id.unidentified, null);
    assert.equal(id.scriptSha256, sha256(path.join(dir, 'client.mjs')));
    sock.destroy();
    await exited(child);
  });

  test('a peer that exited before identification is unidentified, not "?"', async () => {
    const child = startClient(['client.mjs'], { mode: 'exit' });
    const sock = await nextConnection();
    await exited(child);
    const id = await identifyPeer(sock);
    assert.match(id.unidentified ?? '', /exited/);
    sock.destroy();
  });
});

describe('agent rules for the akc CLI match its subcommand only', () => {
  test('`akc get X --purpose mcp` is `get`, `akc mcp` is `mcp`', () => {
    const peer = (args: string[]) => ({
      exe: '/usr/bin/node',
      script: '/opt/akc/bin/akc.js',
      argv: ['node', '/opt/akc/bin/akc.js', ...args],
    });
    assert.equal(akcSubcommand(peer(['get', 'X', '--purpose', 'mcp'])), 'get');
    assert.equal(akcSubcommand(peer(['mcp'])), 'mcp');
    assert.equal(akcSubcommand(peer(['--x', 'mcp'])), 'akc', 'the CLI runs only the word right after its script');
  });
});
