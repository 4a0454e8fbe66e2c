/**
 * `akc secret reveal NAME` (issue 15, Low): the human-side read. The real CLI as a child
 * process: the master password every time, `secret.reveal` audited before the value
 * leaves, a terminal only (a pipe needs --force or --json), --clipboard through the
 * platform's tool with a clear after 30 s. No clipboard tool exists on a headless test
 * machine: a stand-in `xclip` (a shell script keeping the clipboard in a file) takes its
 * place on PATH, and the clear is exercised through scheduleClear with a short delay.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { akc, AKC_BIN, PASSWORD, tempDir, type AkcEnv, type RunResult } from '../helpers/env.js';
import { initVault, setSecret, type Json } from '../helpers/daemon.js';
import { findClipboardTool, scheduleClear } from '../../src/cli/clipboard.js';

const V1 = 'sk-first-0123456789abcdef';
const V2 = 'sk-second-\u00e9\u00e8-0123456789';
let env: AkcEnv;
const pw = `${PASSWORD}\n`;

before(async () => {
  env = await initVault({ K: V1 });
  await setSecret(env, 'K', V2);
});

function fails(r: RunResult, code: number, error: string, hint?: string): void {
  const show = `exit ${r.code}\n${r.stdout}${r.stderr}`;
  assert.equal(r.code, code, show);
  assert.equal(r.stdout, '', show);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines[0], `akc: error: ${error}`, show);
  if (hint !== undefined) assert.ok(lines.includes(`akc: hint: ${hint}`), show);
  for (const v of [V1, V2]) assert.ok(!r.stderr.includes(v), 'no value in an error');
}

async function reveals(): Promise<Json[]> {
  const r = await akc(env, ['audit', '--json', '--limit', '1000']);
  return (JSON.parse(r.stdout) as { entries: Json[] }).entries.filter((e: Json) => e.event === 'secret.reveal');
}

/** A stand-in clipboard tool: `xclip -selection clipboard [-o]` over a file. */
function fakeXclip(): { dir: string; board: string } {
  const dir = tempDir('akc-clip-');
  const board = path.join(dir, 'board');
  fs.writeFileSync(
    path.join(dir, 'xclip'),
    `#!/bin/sh\ncase "$*" in *-o*) cat ${JSON.stringify(board)} 2>/dev/null ;; *) cat > ${JSON.stringify(board)} ;; esac\n`,
    { mode: 0o755 },
  );
  return { dir, board };
}

describe('akc secret reveal', () => {
  test('to a pipe: refused before the password, nothing audited; --force writes the value byte for byte', async () => {
    const before = (await reveals()).length;
    fails(
      await akc(env, ['secret', 'reveal', 'K', '--password-stdin'], pw),
      1,
      'refusing to write a secret value to a pipe or file',
      'run it on a terminal, copy it with --clipboard, or pass --force (or --json) to write it anyway',
    );
    assert.equal((await reveals()).length, before);
    const forced = await akc(env, ['secret', 'reveal', 'K', '--force', '--password-stdin'], pw);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(forced.stdout, V2, 'exactly the value, no newline added');
    const v1 = await akc(env, ['secret', 'reveal', 'K', '--version', '1', '--json', '--password-stdin'], pw);
    assert.deepEqual(JSON.parse(v1.stdout), { name: 'K', version: 1, value: V1 });
    const audited = (await reveals()).slice(before);
    assert.deepEqual(
      audited.map((e: Json) => [e.secret, e.version, e.reason]),
      [
        ['K', 2, 'written to stdout (--force) by cli'],
        ['K', 1, 'printed as JSON by cli'],
      ],
    );
    assert.ok(!JSON.stringify(audited).includes(V1) && !JSON.stringify(audited).includes(V2), 'never the value in the log');
  });

  test('bad input: wrong password, unknown name (before the password), bad --version, flags that contradict', async () => {
    const before = (await reveals()).length;
    fails(await akc(env, ['secret', 'reveal', 'K', '--force', '--password-stdin'], 'wrong\n'), 1, 'wrong master password');
    fails(await akc(env, ['secret', 'reveal', 'NOPE', '--force']), 1, 'no secret named NOPE');
    fails(await akc(env, ['secret', 'reveal', 'K', '--force', '--version', '9', '--password-stdin'], pw), 1, 'secret K has no version 9');
    fails(
      await akc(env, ['secret', 'reveal', 'K', '--version', 'x', '--force']),
      2,
      'invalid --version "x": expected a version number (see `akc secret show NAME`)',
    );
    fails(await akc(env, ['secret', 'reveal', 'K', '--clipboard', '--json']), 2, '--clipboard and --json: choose where the value goes');
    fails(await akc(env, ['secret', 'reveal']), 2, 'missing secret NAME');
    // Without --password-stdin and without a terminal there is no password: never the keychain.
    fails(await akc(env, ['secret', 'reveal', 'K', '--force']), 1, 'no terminal to read the password from');
    assert.equal((await reveals()).length, before, 'nothing revealed, nothing audited');
  });

  test('--clipboard with no clipboard tool: a clear error naming the tools', async () => {
    const bare = { ...env, env: { ...env.env, PATH: tempDir('akc-nopath-'), DISPLAY: '', WAYLAND_DISPLAY: '' } };
    fails(
      await akc(bare, ['secret', 'reveal', 'K', '--clipboard', '--password-stdin'], pw),
      1,
      'no clipboard tool found (and no graphical session: DISPLAY and WAYLAND_DISPLAY are not set): akc uses wl-copy, xclip, xsel or pbcopy',
      'install one (e.g. apt-get install wl-clipboard or xclip), or print the value on a terminal: `akc secret reveal NAME`',
    );
  });

  test('--clipboard copies through the tool’s stdin (never argv), says when it clears, audits', async () => {
    const { dir, board } = fakeXclip();
    const withClip = { ...env, env: { ...env.env, PATH: `${dir}:${env.env.PATH}`, DISPLAY: ':99', WAYLAND_DISPLAY: '' } };
    const r = await akc(withClip, ['secret', 'reveal', 'K', '--clipboard', '--password-stdin'], pw);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'akc: copied K (version 2) to the clipboard; it is cleared in 30 s\n');
    assert.equal(fs.readFileSync(board, 'utf8'), V2);
    assert.equal((await reveals()).at(-1).reason, 'copied to the clipboard (xclip) by cli');
  });

  test('the clear: after the delay the clipboard is emptied, unless something else was copied meanwhile', async () => {
    const { dir, board } = fakeXclip();
    const clipEnv = { ...process.env, PATH: `${dir}:${process.env.PATH}`, DISPLAY: ':99', WAYLAND_DISPLAY: '' };
    const tool = findClipboardTool(clipEnv, 'linux');
    assert.equal(tool?.name, 'xclip');
    const value = Buffer.from(V1);
    fs.writeFileSync(board, V1);
    scheduleClear(tool!, value, 300, clipEnv);
    await waitFor(() => fs.readFileSync(board, 'utf8') === '', 'the clipboard to be cleared');
    // Copied over before the clear: left alone.
    fs.writeFileSync(board, V1);
    scheduleClear(tool!, value, 600, clipEnv);
    fs.writeFileSync(board, 'something the user copied since');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(fs.readFileSync(board, 'utf8'), 'something the user copied since');
  });

  test(
    'on a terminal: asks for the password, prints the value with a newline',
    { skip: spawnSync('script', ['--version']).status !== 0 && 'needs util-linux script' },
    async () => {
      const screen = await onTerminal(['secret', 'reveal', 'K'], 'Master password: ', `${PASSWORD}\r`);
      assert.match(screen.text, new RegExp(`Master password: \\r?\\n${V2.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r?\\n`));
      assert.equal(screen.code, 0);
      assert.ok(!screen.text.includes(PASSWORD), 'the password is not echoed');
      assert.equal((await reveals()).at(-1).reason, 'shown on the terminal by cli');
    },
  );
});

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs akc on a pseudo-terminal (util-linux `script`), typing `answer` once `prompt` shows. */
function onTerminal(args: string[], prompt: string, answer: string): Promise<{ code: number | null; text: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, AKC_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let text = '';
    let typed = false;
    const onData = (d: Buffer): void => {
      text += d.toString();
      if (!typed && text.includes(prompt)) {
        typed = true;
        child.stdin.write(answer);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, text });
    });
  });
}
