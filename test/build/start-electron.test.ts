/**
 * `npm start` (scripts/start-electron.js) where Electron cannot run: one `error:` line and
 * hints (the headless daemon; ELECTRON_OVERRIDE_DIST_PATH; the exact @electron/get cache
 * folder; ELECTRON_MIRROR), never a stack — and, given a binary, it runs it on the app.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir, type RunResult } from '../helpers/env.js';

const SCRIPT = path.join(ROOT, 'scripts/start-electron.js');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
const ZIP = `electron-v${VERSION}-${process.platform}-${process.arch}.zip`;
const installed = fs.existsSync(path.join(ROOT, 'node_modules/electron/path.txt'));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

describe('npm start without a usable Electron binary', () => {
  let env: NodeJS.ProcessEnv;
  let cache = '';
  let mirror = '';

  before(async () => {
    const base = tempDir('akc-start-');
    cache = path.join(base, 'electron-cache');
    fs.mkdirSync(cache);
    // A mirror that refuses connections: the download fails at once, on any machine.
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    mirror = `http://127.0.0.1:${(closed.address() as net.AddressInfo).port}/`;
    await new Promise((r) => closed.close(r));
    env = { ...process.env, HOME: base, XDG_CACHE_HOME: path.join(base, 'xdg'), electron_config_cache: cache, ELECTRON_MIRROR: mirror };
    delete env.ELECTRON_OVERRIDE_DIST_PATH;
    delete env.npm_config_electron_mirror;
  });

  test(
    'not installed and not downloadable: one error line, hints with the exact cache folder, exit 1, no stack',
    { skip: installed && 'Electron is installed here' },
    async () => {
      const r = await run(process.execPath, [SCRIPT], env);
      assert.equal(r.code, 1, r.stderr);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines[0], `agent-keychain: Electron ${VERSION} is not installed yet; downloading it…`);
      assert.equal(lines.filter((l) => l.includes('error:')).length, 1, r.stderr);
      assert.match(
        lines[1]!,
        new RegExp(
          `^agent-keychain: error: cannot start the desktop app: the Electron ${VERSION} binary is missing and could not be downloaded \\(.+\\)$`,
        ),
      );
      assert.match(lines[2]!, /^agent-keychain: hint: without Electron, `npx akc daemon` serves the same vault headless/);
      assert.match(lines[3]!, /^agent-keychain: hint: to supply Electron .*: ELECTRON_OVERRIDE_DIST_PATH=/);
      // The folder named is where @electron/get itself looks for the zip.
      const { Cache } = (await import(pathToFileURL(path.join(ROOT, 'node_modules/@electron/get/dist/Cache.js')).href)) as {
        Cache: { getCacheDirectory(url: string): string };
      };
      const folder = path.join(cache, Cache.getCacheDirectory(`${mirror}v${VERSION}/${ZIP}`));
      assert.equal(
        lines[4],
        `agent-keychain: hint: or put ${ZIP} in ${folder}/ (electron_config_cache moves that cache), or set ELECTRON_MIRROR to a reachable mirror; then run npm start again`,
      );
      assert.equal(lines.length, 5);
      assert.doesNotMatch(r.stderr + r.stdout, /^\s+at /m, 'no stack trace');
    },
  );

  test('the same through `npm start`', { skip: installed && 'Electron is installed here' }, async () => {
    const r = await run('npm', ['start'], env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /^agent-keychain: error: cannot start the desktop app: /m);
    assert.match(r.stderr, /^agent-keychain: hint: without Electron, `npx akc daemon`/m);
    assert.doesNotMatch(r.stderr + r.stdout, /^\s+at /m, 'no stack trace');
  });

  test('ELECTRON_OVERRIDE_DIST_PATH without an executable: says so, downloads nothing', async () => {
    const empty = tempDir('akc-start-override-');
    const r = await run(process.execPath, [SCRIPT], { ...env, ELECTRON_OVERRIDE_DIST_PATH: empty });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr.split('\n')[0],
      `agent-keychain: error: ELECTRON_OVERRIDE_DIST_PATH has no Electron executable: ${path.join(empty, 'electron')} is missing or not executable`,
    );
    assert.doesNotMatch(r.stderr, /downloading/);
    assert.deepEqual(fs.readdirSync(cache), [], 'nothing was fetched into the cache');
  });

  test('on Windows: not supported yet, before anything else', async () => {
    const fake = `data:text/javascript,${encodeURIComponent("Object.defineProperty(process, 'platform', { value: 'win32' })")}`;
    const r = await run(process.execPath, [`--import=${fake}`, SCRIPT], env);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'agent-keychain: error: windows is not supported yet: the host cannot identify the programs that connect to it there\n' +
        'agent-keychain: hint: run Agent Keychain on Linux or macOS\n',
    );
  });

  test('given a binary (ELECTRON_OVERRIDE_DIST_PATH), it runs it on the app with the arguments and passes its exit code on', async () => {
    const dist = tempDir('akc-start-bin-');
    const record = path.join(dist, 'ran.json');
    fs.writeFileSync(
      path.join(dist, 'electron'),
      `#!/bin/sh\nprintf '{"cwd":"%s","args":"%s"}' "$PWD" "$*" > ${JSON.stringify(record)}\nexit 3\n`,
      { mode: 0o755 },
    );
    const r = await run(process.execPath, [SCRIPT, '--enable-logging'], {
      ...env,
      ELECTRON_OVERRIDE_DIST_PATH: dist,
      AKC_ELECTRON_SKIP_BUILD: '1',
    });
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(JSON.parse(fs.readFileSync(record, 'utf8')), { cwd: ROOT, args: '. --enable-logging' });
  });
});
