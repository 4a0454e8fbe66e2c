/**
 * `akc` started by a Node older than 22 (the machine's /usr/bin/node, as an MCP host or a
 * new terminal does): bin/akc.js re-runs itself with the Node 22 that scripts/node22.sh
 * installs ($AKC_NODE22_DIR), passing argv, stdin/stdout/stderr, the exit code and a
 * fatal signal through; with no Node 22 installed it says so in one line with a hint.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AKC_BIN, akcEnv, PASSWORD, tempDir, type AkcEnv, type RunResult } from '../helpers/env.js';

/** A Node older than 22 on this machine (PATH outside scripts/node22.sh, then the usual places). */
function findOldNode(): { path: string; version: string } | null {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/bin', '/usr/local/bin', '/bin'];
  for (const dir of new Set(dirs.filter(Boolean))) {
    const candidate = path.join(dir, 'node');
    if (!fs.existsSync(candidate)) continue;
    const r = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    const version = r.status === 0 ? r.stdout.trim() : '';
    if (version && Number(version.split('.')[0]) < 22) return { path: candidate, version };
  }
  return null;
}

const OLD = findOldNode();
const skip = OLD ? false : 'no Node.js older than 22 on this machine';

/** A directory laid out as `npm install --prefix DIR node@22` leaves it, with this test's Node 22. */
function node22Dir(): string {
  const dir = tempDir('akc-node22-');
  fs.mkdirSync(path.join(dir, 'node_modules/node/bin'), { recursive: true });
  fs.symlinkSync(process.execPath, path.join(dir, 'node_modules/node/bin/node'));
  return dir;
}

function oldAkc(env: AkcEnv, args: string[], input = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(OLD!.path, [AKC_BIN, ...args], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('akc under an old Node', { skip }, () => {
  test('re-runs itself with the installed Node 22: argv, stdin, stdout, stderr and exit codes pass through', async () => {
    const env = akcEnv({ AKC_NODE22_DIR: node22Dir() });
    const version = await oldAkc(env, ['--version']);
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^akc \d+\.\d+\.\d+\n$/);
    assert.equal(version.stderr, '');

    // stdin reaches the real CLI (password and value), stdout comes back.
    const init = await oldAkc(env, ['init', '--no-keychain', '--password-stdin', '--json'], `${PASSWORD}\n`);
    assert.equal(init.code, 0, init.stderr);
    const set = await oldAkc(env, ['secret', 'set', 'k', '--password-stdin', '--value-stdin'], `${PASSWORD}\nvalue\n`);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /^Created k \(version 1\)\.\n$/);
    const status = await oldAkc(env, ['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { vault: string; secrets: number };
    assert.equal(s.vault, 'locked');

    // A usage error keeps its exit code (2) and its one-line message on stderr.
    const unknown = await oldAkc(env, ['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /^akc: error: unknown command "frobnicate"\n/);
  });

  test('a signal sent to the launcher reaches the real CLI, and the launcher dies of it too', async () => {
    // A socket that accepts and never answers keeps `akc get` waiting.
    const env = akcEnv({ AKC_NODE22_DIR: node22Dir() });
    fs.mkdirSync(path.dirname(env.socket), { recursive: true, mode: 0o700 });
    const peers: net.Socket[] = [];
    const closed: Promise<void>[] = [];
    const server = net.createServer((s) => {
      peers.push(s);
      closed.push(new Promise((r) => s.on('close', () => r())));
      s.on('error', () => {});
      s.resume(); // read, so the peer's end is seen
    });
    await new Promise<void>((r) => server.listen(env.socket, r));
    try {
      const child = spawn(OLD!.path, [AKC_BIN, 'get', 'k'], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
      const connected = async (): Promise<void> => {
        while (peers.length === 0) await new Promise((r) => setTimeout(r, 20));
      };
      await connected();
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
        child.on('exit', (code, signal) => r({ code, signal })),
      );
      child.kill('SIGTERM');
      const outcome = await exit;
      assert.deepEqual(outcome, { code: null, signal: 'SIGTERM' });
      // The Node 22 process that held the connection is gone as well.
      await closed[0];
    } finally {
      for (const p of peers) p.destroy();
      server.close();
    }
  });

  test('no Node 22 installed → one error line naming the version found, and a hint to run scripts/node22.sh', async () => {
    const empty = tempDir('akc-no-node22-');
    const env = akcEnv({ AKC_NODE22_DIR: empty });
    const r = await oldAkc(env, ['status']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n')[0], `akc: error: Agent Keychain needs Node.js 22 or newer (found v${OLD!.version})`, r.stderr);
    assert.match(r.stderr.split('\n')[1]!, /^akc: hint: run \S*scripts\/node22\.sh once/);
    assert.equal(r.stderr.split('\n').length, 3, 'two lines');
    assert.equal(fs.existsSync(env.home), false, 'nothing ran');

    // An AKC_NODE22_DIR whose node is the same old Node does not loop.
    const same = tempDir('akc-old-node22-');
    fs.mkdirSync(path.join(same, 'node_modules/node/bin'), { recursive: true });
    fs.symlinkSync(OLD!.path, path.join(same, 'node_modules/node/bin/node'));
    const loop = await oldAkc(akcEnv({ AKC_NODE22_DIR: same }), ['--version']);
    assert.equal(loop.code, 1);
    assert.match(loop.stderr, /^akc: error: Agent Keychain needs Node\.js 22 or newer/);
  });
});
