/**
 * Issue 16: a grant for an interpreter script must not serve the same script run with
 * injected code (NODE_OPTIONS, node -r, LD_PRELOAD), nor a replaced script; an agent rule for
 * `akc mcp` must not match `akc get X --purpose mcp`. A real daemon, the real node binary,
 * real peers on the real socket.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { akc, AKC_BIN, PASSWORD, tempDir, type AkcEnv } from '../helpers/env.js';
import { akcGet, approve, Child, Daemon, initVault, ok, pendingApprovals, pendingIdOf, type Json } from '../helpers/daemon.js';

// A bare peer: asks for argv[2] and prints every message; exits on the answer.
const PEER = `
import net from 'node:net';
const s = net.connect(process.env.AKC_SOCKET);
let buf = '';
s.on('connect', () => s.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'secret.get', params: { name: process.argv[2] } }) + '\\n'));
s.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) !== -1) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    process.stdout.write(line + '\\n');
    const m = JSON.parse(line);
    if (m.id === 1) process.exit(0);
  }
});
s.on('close', () => process.exit(0));
`;

describe('a grant for a node script does not serve injected or replaced code', () => {
  let env: AkcEnv;
  let daemon: Daemon;
  let dir: string;
  let script: string;

  before(async () => {
    env = await initVault({ SCRIPT_KEY: 'script-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    dir = fs.realpathSync(tempDir('akc-inject-'));
    script = path.join(dir, 'peer.mjs');
    fs.writeFileSync(script, PEER);
    fs.writeFileSync(path.join(dir, 'evil.mjs'), 'globalThis.evil = 1;\n');
    fs.writeFileSync(path.join(dir, 'evil.cjs'), 'globalThis.evil = 1;\n');
  });
  after(async () => {
    await daemon?.stop();
  });

  function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Child {
    return Child.spawn(
      process.execPath,
      [...args, script, 'SCRIPT_KEY'],
      { ...env, env: { ...env.env, ...extraEnv } },
      { cwd: dir, input: '' },
    );
  }

  /** The first answer: 'value' (served by a grant) or the pending approval's id. */
  async function outcome(child: Child, keep = false): Promise<{ value?: string; approvalId?: string }> {
    const line = await child.stdout.until(
      () => child.stdout.lines().find((l) => l.includes('"approval.pending"') || JSON.parse(l).id === 1),
      'an answer or approval.pending',
    );
    const m = JSON.parse(line) as Json;
    if (m.method === 'approval.pending') {
      if (!keep) child.proc.kill('SIGKILL');
      return { approvalId: m.params.approvalId };
    }
    return { value: m.result?.value };
  }

  it('"always" serves the same script again (control), then not with injected code or new content', async () => {
    const first = run([]);
    const asked = await outcome(first);
    assert.ok(asked.approvalId, 'the first request asks');
    // The approval must be made while the requester still waits; run it again and approve that one.
    const waiting = run([]);
    const id = await waiting.stdout.until(() => waiting.stdout.lines().find((l) => l.includes('"approval.pending"')), 'approval.pending');
    ok(await approve(env, JSON.parse(id).params.approvalId, 'always'), 'akc approve --always');
    const served = await waiting.stdout.until(() => waiting.stdout.lines().find((l) => JSON.parse(l).id === 1), 'the value');
    assert.equal(JSON.parse(served).result?.value, 'script-value', served);

    assert.deepEqual(await outcome(run([])), { value: 'script-value' }, 'control: the grant serves the same script');

    const cases: [string, string[], NodeJS.ProcessEnv][] = [
      ['NODE_OPTIONS=--import', [], { NODE_OPTIONS: `--import=${path.join(dir, 'evil.mjs')}` }],
      ['node -r', ['-r', path.join(dir, 'evil.cjs')], {}],
      ['LD_PRELOAD', [], { LD_PRELOAD: '/lib/x86_64-linux-gnu/libm.so.6' }],
      ['PYTHONPATH (flagged for every program)', [], { PYTHONPATH: dir }],
    ];
    for (const [what, args, extra] of cases) {
      const child = run(args, extra);
      const r = await outcome(child, true);
      assert.equal(r.value, undefined, `${what}: not served by the grant`);
      assert.ok(r.approvalId, `${what}: goes to a human`);
      const listed = (await pendingApprovals(env)).find((a) => a.id === r.approvalId);
      assert.ok(listed?.injectedCode?.length > 0, `${what}: the approval names the injected code`);
      assert.ok(!JSON.stringify(listed).includes('evil'), 'names only, never values');
      assert.equal(listed.scriptClaimed, true);
      child.proc.kill('SIGKILL');
    }

    fs.appendFileSync(script, '// replaced\n');
    const r = await outcome(run([]));
    assert.equal(r.value, undefined, 'a replaced script is not served by the grant');
    assert.ok(r.approvalId);
  });
});

describe('`akc get` run by a script counts as that script’s code', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ VIA_KEY: 'via-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('a grant for "akc get via launcher.mjs" stops applying when launcher.mjs is replaced', async () => {
    const dir = fs.realpathSync(tempDir('akc-via-'));
    const launcher = path.join(dir, 'launcher.mjs');
    // The launcher runs `akc get VIA_KEY` and passes its output and exit code through.
    fs.writeFileSync(
      launcher,
      `import { spawnSync } from 'node:child_process';
const r = spawnSync(process.execPath, [${JSON.stringify(AKC_BIN)}, 'get', 'VIA_KEY'], { stdio: ['ignore', 'inherit', 'inherit'] });
process.exit(r.status ?? 1);
`,
    );
    const start = (): Child => Child.spawn(process.execPath, [launcher], env, { cwd: dir, input: '' });
    const first = start();
    const id = await first.stderr.waitFor(/request (a_[0-9a-f]+)/);
    const listed = (await pendingApprovals(env)).find((a) => a.id === id[1]);
    assert.match(listed?.program ?? '', /akc get via launcher\.mjs/);
    ok(await approve(env, id[1]!, '15m'), 'akc approve --for 15m');
    assert.equal((await first.exited).stdout, 'via-value\n');

    const again = await start().exited;
    assert.equal(again.stdout, 'via-value\n', 'control: the same launcher is served by the grant');

    fs.appendFileSync(launcher, '// replaced by the agent\n');
    const replaced = start();
    await replaced.stderr.waitFor(/request (a_[0-9a-f]+)/);
    assert.equal(replaced.stdout.text, '', 'the replaced launcher gets nothing without a human');
    replaced.proc.kill('SIGKILL');
  });
});

describe('the MCP agent rule', () => {
  let env: AkcEnv;
  let daemon: Daemon;

  before(async () => {
    env = await initVault({ MCP_KEY: 'mcp-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('`akc get X --purpose mcp` from a plain program does not match a rule for `akc mcp`', async () => {
    const akcJs = fs.realpathSync(path.join(path.dirname(process.argv[1] ?? ''), '..', '..', '..', 'bin', 'akc.js'));
    for (const [name, pattern] of [
      ['old-mcp', '**mcp**'],
      ['new-mcp', 'mcp'],
    ]) {
      ok(
        await akc(env, ['agent', 'add', name!, '--exe', akcJs, '--arg-pattern', pattern!, '--password-stdin'], `${PASSWORD}\n`),
        'agent add',
      );
      ok(await akc(env, ['grant', name!, 'MCP_KEY', '--always', '--password-stdin'], `${PASSWORD}\n`), 'grant');
    }
    const get = akcGet(env, 'MCP_KEY', ['--purpose', 'mcp']);
    const id = await Promise.race([pendingIdOf(get), get.exited.then((r) => `exited: ${r.stdout}`)]);
    assert.match(id, /^a_/, 'it waits for a human instead of getting the MCP agent’s grant');
    get.proc.kill('SIGKILL');
  });
});

// Rewrites its own /proc/self/cmdline (through /proc/self/mem) to argv[2..], then says hello.
const REWRITE = `
import fs from 'node:fs';
import net from 'node:net';
const claim = Buffer.from(process.argv.slice(2).join('\\0') + '\\0');
const stat = fs.readFileSync('/proc/self/stat', 'utf8');
const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
const start = Number(f[48 - 3]), end = Number(f[49 - 3]);
if (claim.length > end - start) throw new Error('claim too long');
const area = Buffer.alloc(end - start);
claim.copy(area);
const fd = fs.openSync('/proc/self/mem', 'r+');
fs.writeSync(fd, area, 0, area.length, start);
fs.closeSync(fd);
const s = net.connect(process.env.AKC_SOCKET);
s.on('connect', () => s.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: {} }) + '\\n'));
s.on('data', (d) => { process.stdout.write(d); process.exit(0); });
`;

describe('a process that rewrites its cmdline', { skip: process.platform !== 'linux' && 'needs /proc' }, () => {
  let env: AkcEnv;
  let daemon: Daemon;
  let dir: string;

  before(async () => {
    env = await initVault({});
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    dir = fs.realpathSync(tempDir('akc-rewrite-'));
    fs.writeFileSync(path.join(dir, 'agent.mjs'), REWRITE);
    fs.writeFileSync(path.join(dir, 'rewrite.mjs'), REWRITE);
    try {
      fs.linkSync(process.execPath, path.join(dir, 'agentbin'));
    } catch {
      fs.copyFileSync(process.execPath, path.join(dir, 'agentbin'));
      fs.chmodSync(path.join(dir, 'agentbin'), 0o755);
    }
    const agent = path.join(dir, 'agent.mjs');
    ok(await akc(env, ['agent', 'add', 'scripted', '--exe', agent, '--sha256', 'auto', '--password-stdin'], `${PASSWORD}\n`), 'agent add');
  });
  after(async () => {
    await daemon?.stop();
  });

  async function hello(exe: string, script: string, claim: string[]): Promise<Json> {
    const child = Child.spawn(exe, [script, ...claim], env, { cwd: dir, input: '' });
    const r = await child.exited;
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout.split('\n')[0]!).result;
  }

  it('the real script matches its agent (control)', async () => {
    const agent = path.join(dir, 'agent.mjs');
    // Claims exactly what it runs: node agent.mjs.
    assert.equal((await hello(process.execPath, agent, ['node', agent])).agent?.name, 'scripted');
  });

  it('a native program (not an interpreter) claiming `node <agent script>` is not that agent', async () => {
    const agent = path.join(dir, 'agent.mjs');
    const pad = 'x'.repeat(agent.length + 16);
    const result = await hello(path.join(dir, 'agentbin'), path.join(dir, 'rewrite.mjs'), ['node', agent, pad]);
    assert.equal(result.agent, null);
  });
});
