/**
 * `akc scan` end to end (the real CLI on a real vault): fixtures with each encoding and
 * an old version, the walk rules (symlinks, .git, node_modules), a git repository with
 * a secret in an old commit that was removed since, and a clean tree with near misses.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { akc, PASSWORD, tempDir, type AkcEnv } from '../helpers/env.js';
import { initVault, setSecret } from '../helpers/daemon.js';
import { python } from '../helpers/python.js';

// Chosen so its base64 has '+' and '/' (base64url differs) and URL-encoding differs from raw.
const OLD = 'old-api-key-5b7c9d1e3f';
const API = 'k3y>>>?value/with+chars&=~ok';
const DB = 'postgres-pw-Zq81Lm04Xv';

let env: AkcEnv;

function scan(args: string[]): ReturnType<typeof akc> {
  return akc(env, ['scan', ...args, '--password-stdin'], `${PASSWORD}\n`);
}

function write(root: string, rel: string, text: string | Buffer): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

function noValue(text: string): void {
  for (const v of [OLD, API, DB]) assert.ok(!text.includes(v), 'a value was printed');
}

before(async () => {
  env = await initVault({ api: OLD, db: DB });
  await setSecret(env, 'api', API); // api v1 = OLD (previous, in grace), v2 = API (current)
  const b = Buffer.from(API);
  assert.notEqual(b.toString('base64'), b.toString('base64url'));
  assert.notEqual(encodeURIComponent(API), API);
});

describe('akc scan: files', () => {
  test('each encoding, an old version, binary data; path:line NAME (vN, encoding); exit 1', async () => {
    const root = tempDir('akc-scan-');
    const b = Buffer.from(API);
    write(root, 'raw.txt', `line one\nline two\nAPI_KEY=${API}\n`);
    write(root, 'b64.txt', `\n${b.toString('base64')}\n`);
    write(root, 'b64url.txt', `x ${b.toString('base64url')} y`);
    write(root, 'hex.txt', `\n\n\n${b.toString('hex')}`);
    write(root, 'HEX.txt', `${b.toString('hex').toUpperCase()}\n`);
    write(root, 'url.txt', `https://example.com/?key=${encodeURIComponent(API)}&x=1\n`);
    write(root, 'embedded.b64', Buffer.from(`{"auth":"Bearer ${API}","n":1}`).toString('base64') + '\n');
    write(root, 'sub/dir/old.env', `# rotated long ago\nDB=${DB}\nAPI=${OLD}\n`);
    write(root, 'blob.bin', Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.from(DB), Buffer.from([0])]));
    const r = await scan([root]);
    assert.equal(r.code, 1, r.stderr);
    noValue(r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n').sort();
    assert.deepEqual(
      lines,
      [
        `${root}/HEX.txt:1 api (v2, HEX)`,
        `${root}/b64.txt:2 api (v2, base64)`,
        `${root}/b64url.txt:1 api (v2, base64url)`,
        `${root}/blob.bin:1 db (v1, raw)`,
        `${root}/embedded.b64:1 api (v2, base64)`,
        `${root}/hex.txt:4 api (v2, hex)`,
        `${root}/raw.txt:3 api (v2, raw)`,
        `${root}/sub/dir/old.env:2 db (v1, raw)`,
        `${root}/sub/dir/old.env:3 api (v1, raw)`,
        `${root}/url.txt:1 api (v2, url)`,
      ].sort(),
    );
    assert.match(r.stderr, /found 10 occurrences of 2 secret\(s\) in 9 files/);
  });

  test('--json: findings with state, and scan totals', async () => {
    const root = tempDir('akc-scan-');
    write(root, 'a.txt', `${OLD}\n${API}\n`);
    const r = await scan([root, '--json']);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { findings: Record<string, unknown>[]; scanned: Record<string, number> };
    assert.deepEqual(
      out.findings.map((f) => [f.path, f.line, f.secret, f.version, f.state, f.encoding]),
      [
        [`${root}/a.txt`, 1, 'api', 1, 'previous', 'raw'],
        [`${root}/a.txt`, 2, 'api', 2, 'current', 'raw'],
      ],
    );
    assert.equal(out.scanned.files, 1);
    assert.equal(out.scanned.secretVersions, 3);
    noValue(r.stdout);
  });

  test('symlinks are not followed; .git and node_modules are skipped (node_modules scanned when given)', async () => {
    const root = tempDir('akc-scan-');
    const outside = tempDir('akc-scan-outside-');
    const target = write(outside, 'leak.txt', API);
    fs.symlinkSync(target, path.join(root, 'link.txt'));
    fs.symlinkSync(outside, path.join(root, 'linkdir'));
    write(root, '.git/config', API);
    write(root, 'node_modules/pkg/leak.js', `module.exports = '${API}';\n`);
    write(root, 'clean.txt', 'nothing here\n');
    let r = await scan([root]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    r = await scan([path.join(root, 'node_modules')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, `${root}/node_modules/pkg/leak.js:1 api (v2, raw)\n`);
  });

  test('no false positive on a clean tree with near misses', async () => {
    const root = tempDir('akc-scan-');
    const near = [
      API.slice(0, -1),
      API.slice(1),
      API.replace('value', 'valve'),
      API.toUpperCase(),
      Buffer.from(API.slice(0, -2)).toString('hex'),
      Buffer.from(API.slice(2)).toString('base64').slice(0, 10),
      DB.replace('Zq', 'zq'),
      OLD.slice(0, 12),
    ];
    write(root, 'near.txt', near.join('\n') + '\n');
    for (let i = 0; i < 50; i++) {
      write(root, `src/file${i}.ts`, `export const x${i} = ${JSON.stringify('abc'.repeat(i))};\n`.repeat(200));
    }
    write(
      root,
      'random.b64',
      fs
        .readFileSync(process.execPath)
        .subarray(0, 2 * 1024 * 1024)
        .toString('base64'),
    );
    const r = await scan([root]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no secrets found in 52 files/);
  });

  test('usage: no PATH → exit 2; wrong password → exit 1', async () => {
    let r = await akc(env, ['scan', '--password-stdin'], `${PASSWORD}\n`);
    assert.equal(r.code, 2);
    r = await akc(env, ['scan', '.', '--password-stdin'], 'wrong password\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /akc: error: wrong master password/);
  });

  test('a PATH that does not exist → exit 2 with one error line, before any password; nothing audited', async () => {
    const root = tempDir('akc-scan-');
    write(root, 'a.txt', `${API}\n`);
    const gone = path.join(root, 'no-such-dir');
    const auditBefore = (await akc(env, ['audit', '--json'])).stdout;
    // Even next to a PATH with a finding, and even without --password-stdin (no prompt is reached).
    for (const r of [await scan([root, gone]), await akc(env, ['scan', gone])]) {
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        `akc: error: cannot scan ${gone}: no such file or directory\nakc: hint: check the PATH; nothing was scanned\n`,
      );
    }
    assert.equal((await akc(env, ['audit', '--json'])).stdout, auditBefore, 'no scan.run entry: nothing was decrypted');
    // A dangling symlink given as PATH is not "missing": it is skipped (not followed), as before.
    fs.symlinkSync(gone, path.join(root, 'dangling'));
    const r = await scan([path.join(root, 'dangling')]);
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('akc scan --git', () => {
  let repo: string;
  let leakCommit: string;

  function git(...args: string[]): string {
    const r = spawnSync('git', ['-C', repo, ...args], {
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 't',
        GIT_AUTHOR_EMAIL: 't@example.com',
        GIT_COMMITTER_NAME: 't',
        GIT_COMMITTER_EMAIL: 't@example.com',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_NOSYSTEM: '1',
      },
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  before(() => {
    repo = tempDir('akc-scan-git-');
    git('init', '-q', '-b', 'main');
    write(repo, 'README.md', '# demo\n');
    git('add', '.');
    git('commit', '-qm', 'initial');
    write(repo, 'config/app.env', `NAME=demo\nAPI_KEY=${API}\nDB_B64=${Buffer.from(DB).toString('base64')}\n`);
    git('add', '.');
    git('commit', '-qm', 'add config (oops)');
    leakCommit = git('rev-parse', 'HEAD');
    fs.rmSync(path.join(repo, 'config/app.env'));
    write(repo, 'config/app.env.example', 'NAME=demo\nAPI_KEY=\n');
    git('add', '-A');
    git('commit', '-qm', 'remove the secret');
    // A branch with a hex-encoded old version.
    git('checkout', '-q', '-b', 'feature');
    write(repo, 'notes.txt', `old key hex: ${Buffer.from(OLD).toString('hex')}\n`);
    git('add', '.');
    git('commit', '-qm', 'notes');
    git('checkout', '-q', 'main');
  });

  test('the working tree is clean: exit 0 without --git', async () => {
    const r = await scan([repo]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test('--git finds the secret in the old commit (and on another branch): commit:path:line', async () => {
    const r = await scan([repo, '--git']);
    assert.equal(r.code, 1, r.stderr);
    noValue(r.stdout + r.stderr);
    const notesCommit = git('rev-parse', 'feature');
    assert.deepEqual(
      r.stdout.trim().split('\n').sort(),
      [
        `${leakCommit.slice(0, 12)}:config/app.env:2 api (v2, raw)`,
        `${leakCommit.slice(0, 12)}:config/app.env:3 db (v1, base64)`,
        `${notesCommit.slice(0, 12)}:notes.txt:1 api (v1, hex)`,
      ].sort(),
    );
    const j = JSON.parse((await scan([repo, '--git', '--json'])).stdout) as {
      findings: { commit: string; blob: string }[];
      scanned: { blobs: number };
    };
    assert.ok(j.findings.every((f) => /^[0-9a-f]{40}$/.test(f.commit) && /^[0-9a-f]{40}$/.test(f.blob)));
    assert.equal(j.scanned.blobs, 4);
  });

  test('--git on a directory that is not a repository → clear error', async () => {
    const r = await scan([tempDir('akc-scan-nogit-'), '--git']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /akc: error: git rev-parse failed/);
  });
});

describe('akc scan: escaped forms and multi-line values', () => {
  const QUOTED = 'pa"ss\\wo\'rd-7Qz$x';
  const lines = [
    'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
    'QyNTUxOQAAACDq1x0yv9Tn4M2aL6kR8pH3cW5sJ7dF0gB2eN9uY4iZQwAAAJiR7zE3ke8x',
    'NwAAAAtzc2gtZWQyNTUxOQAAACDq1x0yv9Tn4M2aL6kR8pH3cW5sJ7dF0gB2eN9uY4iZQw',
    'AAAEB',
  ];
  const KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`;
  let env2: AkcEnv;

  const scan2 = (args: string[]): ReturnType<typeof akc> => akc(env2, ['scan', ...args, '--password-stdin'], `${PASSWORD}\n`);

  before(async () => {
    env2 = await initVault({ quoted: QUOTED, sshkey: KEY });
  });

  test('JSON, Python repr, bash %q; a key whole, JSON-escaped, or one line of it', async () => {
    const root = tempDir('akc-scan-esc-');
    write(root, 'config.json', python('import json,sys; print(json.dumps({"db": {"password": sys.argv[1]}}, indent=2))', [QUOTED]));
    write(root, 'settings.py', python('import sys; print("PASSWORD = " + repr(sys.argv[1]))', [QUOTED]));
    write(
      root,
      'deploy.sh',
      `#!/bin/sh\nexport PW=${spawnSync('bash', ['-c', 'printf %q "$1"', 'bash', QUOTED], { encoding: 'utf8' }).stdout}\n`,
    );
    write(root, 'id_ed25519', `${KEY}\n`);
    write(root, 'key.json', python('import json,sys; print(json.dumps({"key": sys.argv[1]}))', [KEY]));
    write(root, 'notes.md', `# notes\nthe middle of the key: ${lines[1]}\n`);
    const r = await scan2([root]);
    assert.equal(r.code, 1, r.stderr);
    for (const v of [QUOTED, KEY, ...lines.slice(0, 3)]) assert.ok(!(r.stdout + r.stderr).includes(v), 'a value was printed');
    assert.deepEqual(
      r.stdout.trim().split('\n').sort(),
      [
        `${root}/config.json:3 quoted (v1, json)`,
        `${root}/deploy.sh:2 quoted (v1, shell)`,
        `${root}/id_ed25519:1 sshkey (v1, raw)`,
        `${root}/key.json:1 sshkey (v1, json)`,
        `${root}/notes.md:2 sshkey (v1, raw, line 3 of the value)`,
        `${root}/settings.py:1 quoted (v1, repr)`,
      ].sort(),
    );
    const j = JSON.parse((await scan2([path.join(root, 'notes.md'), '--json'])).stdout) as { findings: Record<string, unknown>[] };
    assert.deepEqual(
      j.findings.map((f) => [f.line, f.secret, f.encoding, f.valueLine]),
      [[2, 'sshkey', 'raw', 3]],
    );
  });

  test('a key in a YAML block scalar: each of its long lines; the short last line and the armour are not findings', async () => {
    const root = tempDir('akc-scan-esc-');
    write(
      root,
      'values.yaml',
      `tls:\n  key: |\n${KEY.split('\n')
        .map((l) => `    ${l}`)
        .join('\n')}\n`,
    );
    const r = await scan2([root]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      `${root}/values.yaml:4 sshkey (v1, raw, line 2 of the value)`,
      `${root}/values.yaml:5 sshkey (v1, raw, line 3 of the value)`,
      `${root}/values.yaml:6 sshkey (v1, raw, line 4 of the value)`,
    ]);
    write(root, 'values.yaml', `armour only:\n-----BEGIN OPENSSH PRIVATE KEY-----\n${lines[3]}\n-----END OPENSSH PRIVATE KEY-----\n`);
    assert.equal((await scan2([root])).code, 0);
  });
});
