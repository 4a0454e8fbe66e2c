/**
 * Every way `akc` gets started (issue 15, high item 1): `node bin/akc.js`, an `akc` symlink
 * on PATH, `npx akc` and `npm exec` in a project that depends on the package, `npm link`
 * (a link in a global prefix, reached through PATH and through npx), a global install (the
 * package copied under <prefix>/lib/node_modules), and the re-run bin/akc.js makes of itself
 * under an older Node. For each, a real daemon must see `akc get` on behalf of the program
 * that ran it: one approval serves that program again, but neither another program running
 * the same command nor the same program running `akc run`.
 *
 * Then the reported sequence, replayed: an MCP host starts `akc mcp` from PATH, the human
 * approves its `http_request` for 15 minutes, and a plain Python process running
 * `akc get OPENAI_API_KEY` must be asked about, not handed the key.
 *
 * The npm layouts are made by hand exactly as npm leaves them (symlinks into this checkout),
 * so nothing is installed or compiled; npm itself runs offline with its own cache.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import Database from 'better-sqlite3';
import { akc, AKC_BIN, PASSWORD, ROOT, tempDir, type AkcEnv } from '../helpers/env.js';
import { approve, Child, Daemon, deny, initVault, ok, pendingApprovals, type Json } from '../helpers/daemon.js';

const SECRET = 'OPENAI_API_KEY';
const VALUE = 'sk-launch-9Qm2Zt7Rw4Lx8Np3Vb6Hc1Jd';
const NODE_DIR = path.dirname(process.execPath);

/** The real Python interpreter (not a pyenv shim or a symlink), or null. */
function realPython(): string | null {
  const r = spawnSync('python3', ['-c', 'import sys,os;print(os.path.realpath(sys.executable))'], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  return p && fs.existsSync(p) ? p : null;
}

/** A Node older than 22 (the machine's own), for the re-run form; null when there is none. */
function oldNode(): string | null {
  for (const dir of new Set([...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin'])) {
    const candidate = path.join(dir, 'node');
    if (!dir || !fs.existsSync(candidate)) continue;
    const r = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status === 0 && Number(r.stdout.split('.')[0]) < 22) return candidate;
  }
  return null;
}

const PY = realPython();
const OLD_NODE = oldNode();
const AKC_REAL = fs.realpathSync(AKC_BIN);

/** Runs its arguments as a command, stdio passed through: the "agent" that runs akc. */
const LAUNCHER = 'import subprocess, sys\nsys.exit(subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL).returncode)\n';

/** Where the layouts live (made in `before`). */
interface Layout {
  at: (...parts: string[]) => string;
}

interface Form {
  name: string;
  /** The command line the launching program runs, for akc arguments `args`. */
  command: (args: string[]) => string[];
  cwd?: (l: Layout) => string;
  /** Directories put first on PATH, before the Node that `#!/usr/bin/env node` finds. */
  path?: (l: Layout) => string[];
  /** That Node's directory (default: this test's Node 22). */
  nodeDir?: string;
  extraEnv?: (l: Layout) => NodeJS.ProcessEnv;
  /** The script the host must see, symlinks resolved. */
  script: (l: Layout) => string;
  npm?: boolean;
  skip?: string | false;
}

const akcOnPath = (args: string[]): string[] => ['akc', ...args];
const projectDir = (l: Layout): string => l.at('proj');
const emptyDir = (l: Layout): string => l.at('empty');

const FORMS: Form[] = [
  { name: 'node bin/akc.js', command: (a) => [process.execPath, AKC_BIN, ...a], script: () => AKC_REAL },
  { name: 'an akc symlink on PATH', command: akcOnPath, path: (l) => [l.at('pathbin')], script: () => AKC_REAL },
  { name: 'npx akc (a project dependency)', command: (a) => ['npx', 'akc', ...a], cwd: projectDir, script: () => AKC_REAL, npm: true },
  {
    name: 'npm exec (a project dependency)',
    command: (a) => ['npm', 'exec', '--', 'akc', ...a],
    cwd: projectDir,
    script: () => AKC_REAL,
    npm: true,
  },
  { name: 'npm link, akc on PATH', command: akcOnPath, path: (l) => [l.at('linked', 'bin')], cwd: emptyDir, script: () => AKC_REAL },
  {
    name: 'npm link, then npx akc elsewhere',
    command: (a) => ['npx', 'akc', ...a],
    cwd: emptyDir,
    extraEnv: (l) => ({ npm_config_prefix: l.at('linked') }),
    script: () => AKC_REAL,
    npm: true,
  },
  {
    name: 'a global install (the package copied under the prefix)',
    command: akcOnPath,
    path: (l) => [l.at('global', 'bin')],
    cwd: emptyDir,
    script: (l) => l.at('global', 'lib', 'node_modules', 'agent-keychain', 'bin', 'akc.js'),
  },
  {
    name: 'started by Node < 22 (bin/akc.js re-runs itself under Node 22)',
    command: akcOnPath,
    path: (l) => [l.at('pathbin')],
    nodeDir: OLD_NODE ? path.dirname(OLD_NODE) : NODE_DIR,
    script: () => AKC_REAL,
    skip: OLD_NODE ? false : 'no Node.js older than 22 on this machine',
  },
];

describe('akc launch forms: each subcommand and each launching program is its own requester', { skip: PY ? false : 'no python3' }, () => {
  let env: AkcEnv;
  let daemon: Daemon;
  let upstream: http.Server;
  const upstreamSaw: string[] = [];
  let dir: string;
  let layout: Layout;
  let baseEnv: NodeJS.ProcessEnv;
  let npmWorks: string | false;
  /** Approvals given (one grant each). */
  let approved = 0;

  before(async () => {
    upstream = http.createServer((req, res) => {
      upstreamSaw.push(req.headers.authorization ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const upstreamPort = (upstream.address() as net.AddressInfo).port;
    env = await initVault({ [SECRET]: VALUE }, { AKC_PROXY_PORT: String(await freePort()) });
    ok(
      await akc(
        env,
        [
          'proxy',
          'add',
          'openai',
          '--upstream',
          `http://127.0.0.1:${upstreamPort}`,
          '--secret',
          SECRET,
          '--allow-private',
          '--password-stdin',
        ],
        `${PASSWORD}\n`,
      ),
      'akc proxy add',
    );
    daemon = await Daemon.start(env, { approvalTimeout: 60 });

    dir = fs.realpathSync(tempDir('akc-launch-'));
    layout = { at: (...parts) => path.join(dir, ...parts) };
    const mk = (...parts: string[]): string => {
      const p = path.join(dir, ...parts);
      fs.mkdirSync(p, { recursive: true });
      return p;
    };
    // An `akc` symlink in a directory on PATH.
    const pathBin = mk('pathbin');
    fs.symlinkSync(AKC_BIN, path.join(pathBin, 'akc'));
    // A project that depends on the package: `npm install /path/to/checkout` links the
    // folder into node_modules and its bin into node_modules/.bin.
    const proj = mk('proj', 'node_modules', '.bin');
    fs.writeFileSync(path.join(dir, 'proj', 'package.json'), '{"name":"proj","version":"1.0.0","private":true}\n');
    fs.symlinkSync(ROOT, path.join(dir, 'proj', 'node_modules', 'agent-keychain'));
    fs.symlinkSync('../agent-keychain/bin/akc.js', path.join(proj, 'akc'));
    // `npm link`: <prefix>/lib/node_modules/agent-keychain links to the checkout, <prefix>/bin/akc to its bin.
    fs.symlinkSync(ROOT, path.join(mk('linked', 'lib', 'node_modules'), 'agent-keychain'));
    fs.symlinkSync('../lib/node_modules/agent-keychain/bin/akc.js', path.join(mk('linked', 'bin'), 'akc'));
    // A global install from the registry: the package copied under the prefix (its
    // compiled code and dependencies linked here rather than copied, to stay fast).
    const pkg = mk('global', 'lib', 'node_modules', 'agent-keychain');
    fs.mkdirSync(path.join(pkg, 'bin'));
    fs.copyFileSync(AKC_BIN, path.join(pkg, 'bin', 'akc.js'));
    fs.chmodSync(path.join(pkg, 'bin', 'akc.js'), 0o755);
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'dist'), path.join(pkg, 'dist'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    fs.symlinkSync('../lib/node_modules/agent-keychain/bin/akc.js', path.join(mk('global', 'bin'), 'akc'));
    // Where bin/akc.js looks for Node 22 when an older Node starts it.
    fs.symlinkSync(process.execPath, path.join(mk('node22', 'node_modules', 'node', 'bin'), 'node'));
    mk('empty');

    // npm offline, with its own cache and config: nothing from the registry or ~/.npmrc.
    baseEnv = Object.fromEntries(Object.entries(env.env).filter(([k]) => !/^npm_/i.test(k)));
    Object.assign(baseEnv, {
      npm_config_cache: mk('npm-cache'),
      npm_config_userconfig: path.join(dir, 'npmrc'),
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
      npm_config_audit: 'false',
      AKC_NODE22_DIR: path.join(dir, 'node22'),
    });
    fs.writeFileSync(path.join(dir, 'npmrc'), '');
    const npm = spawnSync('npm', ['--version'], { env: { ...baseEnv, PATH: `${NODE_DIR}:${process.env.PATH}` }, encoding: 'utf8' });
    npmWorks = npm.status === 0 ? false : `npm does not run here: ${npm.stderr || npm.error?.message}`;
  });

  after(async () => {
    await daemon?.stop();
    upstream?.close();
  });

  /** A copy of the launcher named `name` (its own program: the script path is part of its identity). */
  function launcher(name: string): string {
    const p = path.join(dir, name);
    if (!fs.existsSync(p)) fs.writeFileSync(p, LAUNCHER);
    return p;
  }

  /** The launcher `name` running `form` with akc arguments `args`. */
  function launch(form: Form, name: string, args: string[]): Child {
    const PATH = [...(form.path?.(layout) ?? []), form.nodeDir ?? NODE_DIR, process.env.PATH ?? ''].join(':');
    const formEnv = { ...baseEnv, ...form.extraEnv?.(layout), PATH };
    return Child.spawn(
      PY!,
      [launcher(name), ...form.command(args)],
      { ...env, env: formEnv },
      { cwd: form.cwd?.(layout) ?? dir, input: '' },
    );
  }

  /**
   * The id of the pending approval the daemon printed for `label` (its prompt headline:
   * "LABEL wants SECRET … [ID]"); `label` is literal text or a RegExp source.
   */
  function promptFor(label: string | RegExp, from: number): Promise<string> {
    const who = typeof label === 'string' ? escape(label) : label.source;
    const re = new RegExp(`(?:^|: )${who} wants ${SECRET}\\b.*\\[(a_[0-9a-f]+)\\]`, 'm');
    return daemon.log.waitFor(re, { from }).then((m) => m[1]!);
  }

  async function finished(child: Child, what: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const r = await child.exited;
    assert.ok(!r.stderr.includes(VALUE), `${what}: the value on stderr`);
    return r;
  }

  // Two at a time: each form waits mostly on child processes. Every form has its own
  // launcher names, so prompts, labels and fingerprints never mix.
  describe('each launch form', { concurrency: 2 }, () => {
    for (const [i, form] of FORMS.entries()) {
      it(form.name, { skip: form.skip ?? false }, async (t) => {
        if (form.npm && npmWorks) return t.skip(npmWorks);
        const mine = `via-form${i + 1}.py`;
        const other = `other-form${i + 1}.py`;

        // 1. The program asks: the prompt names `akc get` and that program, and the host saw
        //    the real CLI script whatever the launch form.
        let from = daemon.log.text.length;
        const first = launch(form, mine, ['get', SECRET]);
        const id = await promptFor(`akc get via ${mine}`, from);
        const listed = (await pendingApprovals(env)).find((a) => a.id === id);
        assert.equal(listed?.program, `akc get via ${mine}`);
        assert.equal(listed?.script, form.script(layout), 'the script the host identified, symlinks resolved');
        assert.equal(listed?.exe, fs.realpathSync(process.execPath), 'Node 22 runs the CLI (re-run under an older Node)');
        ok(await approve(env, id, '15m'), 'akc approve --for 15m');
        const got = await finished(first, form.name);
        assert.equal(got.code, 0, got.stderr);
        assert.equal(got.stdout, `${VALUE}\n`);

        approved++;

        // 2. The same program again: the grant serves it (so the prompts below are about who asks).
        // 3. Another program, same launch form and command: asked.
        // 4. The same program running `akc run`: asked.
        from = daemon.log.text.length;
        const again = launch(form, mine, ['get', SECRET]);
        const stranger = launch(form, other, ['get', SECRET]);
        const run = launch(form, mine, ['run', '--env', `K=${SECRET}`, '--', 'true']);
        const [strangerId, runId] = await Promise.all([promptFor(`akc get via ${other}`, from), promptFor(`akc run via ${mine}`, from)]);
        const reused = await finished(again, `${form.name} (again)`);
        assert.equal(reused.code, 0, reused.stderr);
        assert.equal(reused.stdout, `${VALUE}\n`);
        assert.doesNotMatch(reused.stderr, /waiting for approval/);
        await Promise.all([deny(env, strangerId).then((r) => ok(r, 'akc deny')), deny(env, runId).then((r) => ok(r, 'akc deny'))]);
        for (const [child, what] of [
          [stranger, 'another program'],
          [run, 'akc run'],
        ] as const) {
          const r = await finished(child, `${form.name}: ${what}`);
          assert.notEqual(r.code, 0, `${what} was refused`);
          assert.ok(!r.stdout.includes(VALUE), `${what} got the value`);
        }
      });
    }
  });

  it("every form's program got a grant with a fingerprint of its own", async (t) => {
    if (approved === 0) return t.skip('no form ran');
    const { grants } = JSON.parse(ok(await akc(env, ['grants', '--json']), 'akc grants').stdout) as { grants: Json[] };
    const fingerprints = grants.filter((g) => g.program && g.effect === 'allow').map((g) => g.program as string);
    assert.equal(fingerprints.length, approved, 'one grant per approval, none for the prompts denied');
    assert.equal(new Set(fingerprints).size, approved, 'no two launch forms (with their programs) share a fingerprint');
  });

  it('replay: a 15-minute approval for MCP http_request does not hand a Python `akc get` the key', async () => {
    // The MCP host (this test, with the official SDK client) starts `akc` from PATH, an
    // `npm link`, as the README says.
    const transport = new StdioClientTransport({
      command: path.join(dir, 'linked', 'bin', 'akc'),
      args: ['mcp'],
      env: { ...(baseEnv as Record<string, string>), PATH: `${NODE_DIR}:${process.env.PATH}` },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'akc-launch-forms', version: '1.0.0' });
    await client.connect(transport);
    try {
      const call = (): Promise<Json> =>
        client.callTool({ name: 'http_request', arguments: { binding: 'openai', method: 'GET', path: '/v1/models' } }, undefined, {
          timeout: 60_000,
        });
      let from = daemon.log.text.length;
      const pending = call();
      // `akc mcp` on behalf of its host: this test's own process.
      const id = await promptFor(/akc mcp via [^ ]+/, from);
      const mcpLabel = (await pendingApprovals(env)).find((a) => a.id === id)?.program as string;
      assert.match(mcpLabel, /^akc mcp via launch-forms\.test\.js$/);
      ok(await approve(env, id, '15m'), 'akc approve --for 15m');
      const first = await pending;
      assert.notEqual(first.isError, true, JSON.stringify(first));
      // Within the 15 minutes the MCP call needs no one: the grant is live.
      const second = await call();
      assert.notEqual(second.isError, true, JSON.stringify(second));
      assert.deepEqual(upstreamSaw.slice(-2), [`Bearer ${VALUE}`, `Bearer ${VALUE}`], 'the upstream got the key both times');

      // A plain Python process runs `akc get` (the same `akc` on PATH).
      from = daemon.log.text.length;
      const script = `import subprocess, sys\nsys.exit(subprocess.run(['akc', 'get', '${SECRET}'], stdin=subprocess.DEVNULL).returncode)\n`;
      const py = Child.spawn(
        PY!,
        ['-c', script],
        { ...env, env: { ...baseEnv, PATH: `${path.join(dir, 'linked', 'bin')}:${NODE_DIR}:${process.env.PATH}` } },
        { cwd: dir, input: '' },
      );
      const pyId = await promptFor(`akc get via ${path.basename(PY!)}`, from);
      await py.stderr.waitFor(new RegExp(`waiting for approval .*${pyId}`));
      assert.equal(py.stdout.text, '', 'nothing before the human decides');
      ok(await deny(env, pyId), 'akc deny');
      const r = await py.exited;
      assert.notEqual(r.code, 0);
      assert.ok(!r.stdout.includes(VALUE) && !r.stderr.includes(VALUE), 'the Python process never saw the key');

      // The audit agrees: the key went to the upstream for akc mcp, never to Python's akc get.
      const db = new Database(path.join(env.home, 'vault.db'), { readonly: true });
      let rows: { event: string; agent: string }[];
      try {
        rows = db
          .prepare("SELECT event, agent FROM audit WHERE secret = ? AND event IN ('secret.deliver', 'secret.deny', 'proxy.request')")
          .all(SECRET) as typeof rows;
      } finally {
        db.close();
      }
      const python = rows.filter((row) => row.agent === `akc get via ${path.basename(PY!)}`);
      assert.deepEqual(
        python.map((row) => row.event),
        ['secret.deny'],
      );
      assert.equal(rows.filter((row) => row.event === 'proxy.request' && row.agent === mcpLabel).length, 2);
    } finally {
      await client.close();
    }
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
