/**
 * The host is non-dumpable: another process of the same user can no longer read its
 * memory or environment through /proc, nor attach a debugger (gcore found plaintext
 * copies in the red-team pass). Runs the check as an unprivileged uid (root would pass
 * any check), with a non-hardened control that proves the same read works otherwise.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tempDir } from '../helpers/env.js';
import { initVault, Daemon } from '../helpers/daemon.js';

const HARDEN = path.resolve(import.meta.dirname, '../../src/core/host/harden-process.js');
const NOBODY = 65534;
const canSwitchUser = process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
const haveGcore = spawnSync('gcore', ['--version']).status === 0 || spawnSync('which', ['gcore']).status === 0;
const asNobody = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];

const started: ChildProcess[] = [];
after(() => {
  for (const c of started) c.kill('SIGKILL');
});

/** A node process running as nobody that (optionally) hardens itself, then prints "ready" and waits. */
async function victim(dir: string, harden: boolean): Promise<number> {
  const code = harden
    ? `const m = await import(${JSON.stringify(pathToFileURL(HARDEN).href)}); const r = m.hardenProcess(); if (!r.applied) throw new Error(r.method);`
    : '';
  const script = path.join(dir, harden ? 'hardened.mjs' : 'control.mjs');
  fs.writeFileSync(script, `${code}\nprocess.stdout.write('ready\\n'); setInterval(() => {}, 1000);\n`);
  fs.chmodSync(script, 0o644);
  const child = spawn('setpriv', [...asNobody, path.join(dir, 'node'), script], {
    env: { PATH: '/usr/bin:/bin', SECRETISH: 'env-marker' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (c) => reject(new Error(`victim exited ${c}`)));
  });
  return child.pid!;
}

describe('hardenProcess', () => {
  it('in this process: PR_GET_DUMPABLE goes from 1 to 0', async () => {
    // A child, so the test runner itself stays dumpable.
    const code = `const m = await import(${JSON.stringify(pathToFileURL(HARDEN).href)}); const before = m.isDumpable(); const r = m.hardenProcess(); console.log(JSON.stringify({ before, r, after: m.isDumpable() }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    if (process.platform !== 'linux') return;
    assert.deepEqual(out, { before: true, r: { platform: 'linux', applied: true, method: 'prctl(PR_SET_DUMPABLE, 0)' }, after: false });
  });

  it(
    'the same uid cannot read a hardened process’s /proc/<pid>/environ or attach gcore; it can read the control',
    { skip: canSwitchUser ? false : 'needs root, Linux and setpriv' },
    async () => {
      const dir = tempDir('akc-harden-');
      fs.chmodSync(dir, 0o755);
      fs.copyFileSync(process.execPath, path.join(dir, 'node'));
      fs.chmodSync(path.join(dir, 'node'), 0o755);
      const control = await victim(dir, false);
      const hardened = await victim(dir, true);

      const read = (pid: number) => spawnSync('setpriv', [...asNobody, 'cat', `/proc/${pid}/environ`], { encoding: 'utf8' });
      const c = read(control);
      assert.equal(c.status, 0, `control: ${c.stderr}`);
      assert.ok(c.stdout.includes('env-marker'), 'the control’s environment is readable by the same uid');
      const h = read(hardened);
      assert.notEqual(h.status, 0);
      assert.match(h.stderr, /Permission denied/);
      assert.equal(fs.statSync(`/proc/${hardened}/environ`).uid, 0, 'the kernel hands /proc/<pid> to root');
      assert.equal(fs.statSync(`/proc/${control}/environ`).uid, NOBODY);

      if (haveGcore) {
        const core = (pid: number) => {
          const out = path.join(dir, `core-${pid}`);
          spawnSync('setpriv', [...asNobody, 'gcore', '-o', out, String(pid)], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
          return fs.existsSync(`${out}.${pid}`);
        };
        fs.chmodSync(dir, 0o777);
        assert.equal(core(control), true, 'gcore dumps the control');
        assert.equal(core(hardened), false, 'gcore cannot attach to the hardened process');
      }
    },
  );

  it('akc daemon hardens itself at start', async () => {
    const env = await initVault({});
    const d = await Daemon.start(env);
    try {
      await d.log.waitFor(
        process.platform === 'linux' ? /process hardened: prctl\(PR_SET_DUMPABLE, 0\)/ : /process hardened|memory is readable/,
      );
    } finally {
      await d.stop();
    }
  });
});
