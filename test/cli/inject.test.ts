/**
 * `akc inject` end to end (real daemon, real CLI): references filled under one approval,
 * --json / --yaml escaping checked by parsing the result, strict parsing errors naming the
 * line, -o writing a 0600 file (replacing, not following, a symlink) with a warning, and
 * what --json / --yaml write redacted when a command under `akc run` prints it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { AKC_BIN, tempDir, type AkcEnv } from '../helpers/env.js';
import { approve, Child, Daemon, initVault, pendingApprovals } from '../helpers/daemon.js';
import { jsonEscape, parseTemplate, yamlEscape } from '../../src/cli/commands/inject.js';

const TOKEN = 'tok_8c1e2f9a7b6d5c4e3f2a1b0c';
const WEIRD = "quote\" back\\slash\nnew\tline\u0001ctl é €😀 \u2028sep \u0085nel #: - [x] {y} 'z'";

let env: AkcEnv;
let daemon: Daemon;
let dir: string;

before(async () => {
  env = await initVault({ token: TOKEN, weird: WEIRD });
  daemon = await Daemon.start(env, { approvalTimeout: 60 });
  dir = tempDir('akc-inject-');
});

after(async () => {
  await daemon?.stop();
});

function akcInject(args: string[], input = ''): Child {
  return Child.spawn(process.execPath, [AKC_BIN, 'inject', ...args], env, { input });
}

/** Runs inject, approving its one request; returns the result. */
async function injectApproved(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = akcInject(args, input);
  const m = await Promise.race([run.stderr.waitFor(/request (a_[0-9a-f]+)/), run.exited.then(() => null)]);
  if (m) assert.equal((await approve(env, m[1]!)).code, 0);
  return run.exited;
}

function template(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('akc inject', () => {
  test('fills references (spaces optional, repeated names) to stdout under one approval', async () => {
    const tpl = template('plain.tpl', 'a={{ akc://token }}\nb={{akc://token}} c={{  akc://weird  }}\nend\n');
    const run = akcInject(['-i', tpl]);
    const m = await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    const pending = await pendingApprovals(env);
    assert.equal(pending.length, 1);
    assert.deepEqual([...pending[0].secrets].sort(), ['token', 'weird']);
    await approve(env, m[1]!);
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `a=${TOKEN}\nb=${TOKEN} c=${WEIRD}\nend\n`);
    assert.equal(r.stderr.match(/waiting for approval/g)?.length, 1);
  });

  test('--json escapes values as JSON string content', async () => {
    const tpl = template('c.json.tpl', '{"token": "{{ akc://token }}", "weird": "{{ akc://weird }}"}\n');
    const r = await injectApproved(['-i', tpl, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { token: TOKEN, weird: WEIRD });
  });

  test('--yaml escapes values as a YAML double-quoted scalar body', async () => {
    const tpl = template('c.yaml.tpl', 'token: "{{ akc://token }}"\nnested:\n  weird: "{{ akc://weird }}"\n');
    const r = await injectApproved(['-i', tpl, '--yaml']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(YAML.parse(r.stdout), { token: TOKEN, nested: { weird: WEIRD } });
    assert.ok(!r.stdout.slice(r.stdout.indexOf('weird')).split('\n')[0]!.includes('\t'), 'a tab is escaped');
  });

  test('what --json and --yaml write is redacted when a command under `akc run` prints it', async () => {
    const outputs: string[] = [];
    for (const [flag, text] of [
      ['--json', '{"weird": "{{ akc://weird }}"}\n'],
      ['--yaml', 'weird: "{{ akc://weird }}"\n'],
    ] as const) {
      const output = path.join(dir, `redact${flag}.out`);
      const r = await injectApproved(['-i', template(`redact${flag}.tpl`, text), flag, '-o', output]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!fs.readFileSync(output, 'utf8').includes(WEIRD), `${flag} escaped the value (else this tests nothing)`);
      outputs.push(output);
    }
    const run = Child.spawn(process.execPath, [AKC_BIN, 'run', '--env', 'W=weird', '--', 'cat', ...outputs], env, { input: '' });
    const m = await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    assert.equal((await approve(env, m[1]!)).code, 0);
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '{"weird": "[REDACTED:weird]"}\nweird: "[REDACTED:weird]"\n');
  });

  test('escapers alone: every code point round-trips', () => {
    let all = '';
    for (let c = 0; c < 0x3000; c++) if (c < 0xd800 || c > 0xdfff) all += String.fromCodePoint(c);
    all += '😀\uFEFF\uFFFE';
    assert.equal(JSON.parse(`"${jsonEscape(all)}"`), all);
    assert.equal(YAML.parse(`k: "${yamlEscape(all)}"`).k, all);
  });

  test('-i - reads the template from stdin', async () => {
    const r = await injectApproved(['-i', '-'], 'x={{ akc://token }}');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `x=${TOKEN}`);
  });

  test('-o writes a 0600 file, replaces (never follows) a symlink, and warns', async () => {
    const tpl = template('o.tpl', 'k={{ akc://token }}\n');
    const out = path.join(dir, 'out.env');
    fs.writeFileSync(out, 'old', { mode: 0o644 });
    fs.chmodSync(out, 0o644);
    let r = await injectApproved(['-i', tpl, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(fs.readFileSync(out, 'utf8'), `k=${TOKEN}\n`);
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    assert.match(r.stderr, /akc: warning: .*out\.env now holds 1 secret value in plain text on disk/);

    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'keep me');
    const link = path.join(dir, 'link.env');
    fs.symlinkSync(victim, link);
    r = await injectApproved(['-i', tpl, '-o', link]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
    assert.equal(fs.lstatSync(link).isSymbolicLink(), false);
    assert.equal(fs.statSync(link).mode & 0o777, 0o600);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.akc-')),
      [],
      'no temporary file left',
    );
  });

  test('a template without references needs no approval', async () => {
    const r = await akcInject(['-i', template('none.tpl', 'just text {{ not.akc }}\n')]).exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'just text {{ not.akc }}\n');
  });

  test('errors name the line; nothing is printed and nothing asked', async () => {
    const cases: [string, RegExp][] = [
      ['ok\nok\n{{ akc://token }\n', /^akc: error: template line 3: malformed reference/],
      ['{{ akc://bad name }}\n', /^akc: error: template line 1: malformed reference/],
      ['x\n{{ akc:/token }}\n', /^akc: error: template line 2: malformed reference/],
      ['x\ny\nz\n{{ akc://token }} {{ akc://nope }}\n', /^akc: error: template line 4: unknown secret nope/],
      ['url: akc://token\n', /^akc: error: template line 1: akc:\/\/ reference outside \{\{ \}\}/],
      ['{{ akc:// }}\n', /^akc: error: template line 1: malformed reference/],
    ];
    for (const [text, re] of cases) {
      const r = await akcInject(['-i', '-'], text).exited;
      assert.equal(r.code, 1, `${JSON.stringify(text)}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, re);
    }
    assert.deepEqual(await pendingApprovals(env), []);
  });

  test('usage errors', async () => {
    for (const args of [[], ['-i', 'x', '--json', '--yaml'], ['-i', 'x', 'extra']]) {
      const r = await akcInject(args).exited;
      assert.equal(r.code, 2, r.stderr);
    }
    const r = await akcInject(['-i', path.join(dir, 'missing.tpl')]).exited;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /failed to read the template .*ENOENT/);
  });

  test('parseTemplate keeps text verbatim and records lines', () => {
    assert.deepEqual(parseTemplate('a\r\nb {{ akc://x/y.z }} c\n'), [{ text: 'a\r\nb ' }, { ref: 'x/y.z', line: 2 }, { text: ' c\n' }]);
  });
});
