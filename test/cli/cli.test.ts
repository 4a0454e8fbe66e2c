/**
 * CLI transcripts: the real `akc` (bin/akc.js) as a child process per command, with its
 * own data dir, socket path and OS keychain service (test/helpers/env.ts). Prompts are
 * exercised on a real pseudo-terminal through util-linux `script`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { COMMANDS } from '../../src/cli/registry.js';
import { parseArgs } from '../../src/cli/args.js';
import { makeContext, openVault, unlockForRead } from '../../src/cli/context.js';
import { Vault } from '../../src/core/vault/vault.js';
import { SecretStore } from '../../src/core/vault/secrets.js';
import { NapiKeychain } from '../../src/core/keychain/napi-keychain.js';
import { vaultPath } from '../../src/core/store/database.js';
import { akc, AKC_BIN, akcEnv, keyringSkip, PASSWORD, type AkcEnv, type RunResult } from '../helpers/env.js';

const NEW_PASSWORD = 'a brand new passphrase';

function show(r: RunResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function ok(r: RunResult): RunResult {
  assert.equal(r.code, 0, show(r));
  return r;
}

/**
 * A failure per DESIGN §9: the given exit code, nothing on stdout, and on stderr one
 * `akc: error: …` line optionally followed by `akc: hint: …` lines (no stack trace).
 */
function fails(r: RunResult, code: number, error: RegExp | string, hint?: RegExp | string): void {
  assert.equal(r.code, code, show(r));
  assert.equal(r.stdout, '', show(r));
  const lines = r.stderr.split('\n');
  assert.equal(lines.pop(), '', 'stderr ends with a newline');
  assert.ok(lines.length >= 1, show(r));
  const [first, ...rest] = lines;
  if (typeof error === 'string') assert.equal(first, `akc: error: ${error}`, show(r));
  else assert.match(first!, error, show(r));
  assert.match(first!, /^akc: error: \S/);
  for (const l of rest) assert.match(l, /^akc: hint: \S/, show(r));
  if (hint !== undefined) {
    assert.ok(rest.length >= 1, `expected a hint\n${show(r)}`);
    if (typeof hint === 'string') assert.ok(rest.includes(`akc: hint: ${hint}`), show(r));
    else
      assert.ok(
        rest.some((l) => (hint as RegExp).test(l)),
        show(r),
      );
  }
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
}

const init = (env: AkcEnv, extra: string[] = ['--no-keychain']): Promise<RunResult> =>
  akc(env, ['init', '--password-stdin', ...extra], `${PASSWORD}\n`);
const setSecret = (env: AkcEnv, name: string, value: string, extra: string[] = [], password = PASSWORD): Promise<RunResult> =>
  akc(env, ['secret', 'set', name, '--password-stdin', '--value-stdin', ...extra], `${password}\n${value}\n`);
const statusJson = async (env: AkcEnv): Promise<Record<string, unknown>> =>
  JSON.parse(ok(await akc(env, ['status', '--json'])).stdout) as Record<string, unknown>;

async function initedEnv(extra: NodeJS.ProcessEnv = {}): Promise<AkcEnv> {
  const env = akcEnv(extra);
  ok(await init(env));
  return env;
}

/** Opens the vault in-process (as a second reader of the same files) and reveals values. */
async function reveal(env: AkcEnv, name: string, version?: number, password = PASSWORD): Promise<string> {
  const vault = Vault.open({ dataDir: env.home, keychain: new NapiKeychain(env.env.AKC_KEYCHAIN_SERVICE) });
  try {
    await vault.unlockWithPassword(Buffer.from(password));
    return new SecretStore(vault).reveal(name, version).value.toString('utf8');
  } finally {
    vault.close();
  }
}

function keyringLookup(env: AkcEnv, account: string): string | null {
  const r = spawnSync('secret-tool', ['lookup', 'service', env.env.AKC_KEYCHAIN_SERVICE!, 'username', account], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : null;
}

function keyringClear(env: AkcEnv, account: string): void {
  spawnSync('secret-tool', ['clear', 'service', env.env.AKC_KEYCHAIN_SERVICE!, 'username', account]);
}

const hasScript = spawnSync('script', ['--version']).status === 0;

/**
 * Runs `akc ARGS` on a real pseudo-terminal and answers prompts: each [prompt, answer]
 * pair waits for the prompt text before typing (so nothing is typed while the terminal
 * still echoes). Returns everything the terminal showed.
 */
function akcOnTerminal(env: AkcEnv, args: string[], answers: [string, string][]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [process.execPath, AKC_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let next = 0;
    let searchFrom = 0;
    const onData = (d: Buffer): void => {
      screen += d.toString();
      while (next < answers.length) {
        const at = screen.indexOf(answers[next]![0], searchFrom);
        if (at === -1) break;
        searchFrom = at + answers[next]![0].length;
        child.stdin.write(answers[next]![1]);
        next += 1;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, screen });
    });
  });
}

describe('help and usage', () => {
  test('`akc`, `akc --help`, `akc help CMD` and `--version` exit 0', async () => {
    const env = akcEnv();
    for (const args of [[], ['--help'], ['-h'], ['help']]) {
      const r = ok(await akc(env, args));
      assert.match(r.stdout, /^akc — Agent Keychain/);
      for (const c of COMMANDS) assert.ok(r.stdout.includes(c.path.join(' ')), `overview lists ${c.path.join(' ')}`);
      assert.equal(r.stderr, '');
    }
    assert.match(ok(await akc(env, ['help', 'secret', 'set'])).stdout, /usage: akc secret set NAME/);
    assert.match(ok(await akc(env, ['--version'])).stdout, /^akc \d+\.\d+\.\d+\n$/);
    assert.equal(fs.existsSync(env.home), false, 'help creates nothing');
  });

  test("every command's --help (and -h) exits 0 with its usage", async () => {
    const env = akcEnv();
    await Promise.all(
      COMMANDS.flatMap((c) =>
        ['--help', '-h'].map(async (flag) => {
          const r = ok(await akc(env, [...c.path, flag]));
          assert.ok(r.stdout.includes(`usage: ${c.usage}`), show(r));
          assert.equal(r.stderr, '');
        }),
      ),
    );
    assert.equal(fs.existsSync(env.home), false);
  });

  test('unknown command or option → usage error, exit 2', async () => {
    const env = akcEnv();
    fails(await akc(env, ['frobnicate']), 2, 'unknown command "frobnicate"', 'run `akc --help` for the list of commands');
    fails(await akc(env, ['secret', 'frob']), 2, 'unknown command "secret frob"', /akc --help/);
    fails(await akc(env, ['status', '--bogus']), 2, 'unknown option --bogus', 'see `akc status --help`');
    fails(await akc(env, ['secret', 'set', 'x', '--type']), 2, 'option --type needs a value', /akc secret set --help/);
    fails(await akc(env, ['init', '--no-keychain=yes']), 2, 'option --no-keychain takes no value');
    fails(await akc(env, ['secret', 'show']), 2, 'missing secret NAME');
  });
});

describe('before init', () => {
  test('every vault command → `akc: error: no vault…` + `akc: hint: run `akc init``, exit 1, nothing created', async () => {
    const env = akcEnv();
    const commands = [
      ['secret', 'list'],
      ['secret', 'list', '--json'],
      ['secret', 'show', 'x'],
      ['secret', 'set', 'x', '--value-stdin'],
      ['secret', 'rm', 'x'],
      ['passwd'],
      ['keychain', 'enable'],
      ['keychain', 'disable'],
    ];
    for (const args of commands) {
      const r = await akc(env, [...args, '--password-stdin'], `${PASSWORD}\nvalue\n`);
      fails(r, 1, `no vault in ${env.home}`, 'run `akc init` to create one (or set AKC_HOME)');
    }
    assert.equal(fs.existsSync(env.home), false);
  });

  test('status --json: vault absent, dataDir, socket, host not running', async () => {
    const env = akcEnv();
    const s = await statusJson(env);
    assert.equal(s.vault, 'absent');
    assert.equal(s.dataDir, env.home);
    assert.equal(s.vaultFile, null);
    assert.equal(s.socket, env.socket);
    assert.deepEqual(s.host, { running: false });
    assert.equal(s.keychainUnlock, null);
    assert.equal(s.secrets, null);
    const text = ok(await akc(env, ['status'])).stdout;
    assert.match(text, /^vault +absent \(run `akc init`\)$/m);
    assert.match(text, /^host +not running$/m);
    assert.equal(fs.existsSync(env.home), false);
  });
});

describe('init', () => {
  test('init --no-keychain --password-stdin; init twice → exit 1', async () => {
    const env = akcEnv();
    const r = ok(await init(env));
    assert.equal(
      r.stdout,
      `Created a vault in ${env.home}\nKeychain unlock is off: the master password is needed to unlock the host.\n` +
        'Keychain unlock (`akc keychain enable`) would let any program running as you read the unlock key; see SECURITY.md.\n',
    );
    // Only the warning that the test harness's weak KDF is in use (see 'the DANGEROUS test KDF').
    assert.match(r.stderr, /^akc: warning: this vault uses the DANGEROUS test key derivation .*\n$/);
    assert.equal(fs.statSync(env.home).mode & 0o777, 0o700);
    for (const f of fs.readdirSync(env.home)) assert.equal(fs.statSync(path.join(env.home, f)).mode & 0o777, 0o600, f);
    const s = await statusJson(env);
    assert.equal(s.vault, 'locked');
    assert.equal(s.keychainUnlock, false);
    assert.equal(s.secrets, 0);
    assert.equal(s.vaultFile, vaultPath(env.home));

    const before = fs.readFileSync(vaultPath(env.home));
    fails(await init(env), 1, `a vault already exists in ${env.home}`, /akc passwd/);
    fails(await akc(env, ['init', '--password-stdin', '--no-keychain'], 'another password\n'), 1, /already exists/);
    assert.deepEqual(fs.readFileSync(vaultPath(env.home)), before);
  });

  test('the DANGEROUS test KDF: only with the switch and a data dir in the temp directory, and it shows', async () => {
    const weakWarning =
      /^akc: warning: this vault uses the DANGEROUS test key derivation \(AKC_DANGEROUS_TEST_WEAK_KDF=1 and a data dir in the temp directory\): its master password is cheap to brute-force\n$/;
    const kdfOf = async (env: AkcEnv) => (await statusJson(env)).kdf as Record<string, unknown>;
    const defaults = { algorithm: 'argon2id', memoryKiB: 65536, timeCost: 3, parallelism: 4, weak: false };

    // scripts/test.js sets the switch for every test: here it is taken away…
    const unset = akcEnv();
    delete unset.env.AKC_DANGEROUS_TEST_WEAK_KDF;
    // …or kept, with the data dir outside the temp directory (TMPDIR moved away from it).
    const outside = akcEnv();
    outside.env.TMPDIR = path.join(path.dirname(outside.home), 'other-tmp');
    fs.mkdirSync(outside.env.TMPDIR, { recursive: true });
    for (const env of [unset, outside]) {
      const r = ok(await init(env));
      assert.equal(r.stderr, '', 'no warning: the default KDF');
      assert.deepEqual(await kdfOf(env), defaults);
      assert.match(ok(await akc(env, ['status'])).stdout, /^kdf +argon2id, 64 MiB, 3 passes, 4 lanes$/m);
      ok(await setSecret(env, 'kdf/probe', 'value')); // the password unlocks it (the KEK derives with these)
    }

    // With both, the vault is weak, and says so when created and in every status.
    const test = akcEnv();
    assert.match(ok(await init(test)).stderr, weakWarning);
    assert.deepEqual(await kdfOf(test), { algorithm: 'argon2id', memoryKiB: 8192, timeCost: 1, parallelism: 1, weak: true });
    assert.match(ok(await akc(test, ['status'])).stdout, /^kdf +weak \(test\): argon2id, 8 MiB, 1 pass, 1 lane — DANGEROUS/m);
  });

  test('init --json', async () => {
    const env = akcEnv();
    const r = ok(await akc(env, ['init', '--no-keychain', '--password-stdin', '--json'], `${PASSWORD}\n`));
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.vault, 'created');
    assert.equal(out.dataDir, env.home);
    assert.equal(out.keychainUnlock, false);
    assert.match(String(out.id), /^[0-9a-f-]{36}$/);
  });

  test('a short, missing or empty password → clear error, nothing created', async () => {
    const env = akcEnv();
    fails(
      await akc(env, ['init', '--no-keychain', '--password-stdin'], 'short\n'),
      1,
      'the master password must have at least 8 characters',
    );
    fails(await akc(env, ['init', '--no-keychain', '--password-stdin'], ''), 1, /no password on standard input/);
    fails(await akc(env, ['init', '--no-keychain', '--password-stdin'], '\nsecond line\n'), 1, /no password on standard input/);
    assert.equal(fs.existsSync(vaultPath(env.home)), false);
  });

  test('no terminal and no --password-stdin → clear error with a hint', async () => {
    const env = akcEnv();
    fails(
      await akc(env, ['init', '--no-keychain']),
      1,
      'no terminal to read the password from',
      'pass --password-stdin and pipe the password in',
    );
    assert.equal(fs.existsSync(vaultPath(env.home)), false);
    ok(await init(env));
    fails(await akc(env, ['secret', 'set', 'x']), 1, 'no terminal to read the password from', /--password-stdin/);
    fails(
      await akc(env, ['secret', 'set', 'x', '--password-stdin'], `${PASSWORD}\n`),
      1,
      'no terminal to read the value from',
      'pass --value-stdin and pipe the value in',
    );
    fails(await akc(env, ['secret', 'rm', 'x']), 1, /no secret named x/);
    fails(await akc(env, ['passwd']), 1, 'no terminal to read the password from', /--password-stdin/);
    assert.deepEqual(JSON.parse(ok(await akc(env, ['secret', 'list', '--json'])).stdout), { secrets: [] });
  });

  test('init with keychain unlock stores the unlock key in the OS keychain', { skip: keyringSkip() }, async () => {
    const env = akcEnv();
    const r = ok(await akc(env, ['init', '--keychain', '--password-stdin', '--json'], `${PASSWORD}\n`));
    const { id, keychainUnlock } = JSON.parse(r.stdout) as { id: string; keychainUnlock: boolean };
    try {
      assert.equal(keychainUnlock, true);
      const stored = keyringLookup(env, id);
      assert.ok(stored, 'entry in gnome-keyring');
      assert.equal(Buffer.from(stored, 'base64').length, 32);
      const s = await statusJson(env);
      assert.equal(s.keychainUnlock, true);
      const env2 = akcEnv();
      const text = ok(await akc(env2, ['init', '--keychain', '--password-stdin'], `${PASSWORD}\n`));
      const db = new Database(vaultPath(env2.home), { readonly: true });
      keyringClear(env2, db.prepare('SELECT id FROM vault').pluck().get() as string);
      db.close();
      assert.match(text.stdout, /Keychain unlock is on\. The unlock key is stored in Secret Service/);
      assert.match(text.stdout, /any program running as your user — an agent included — can read it/);
    } finally {
      keyringClear(env, id);
    }
  });

  test('on Linux a new vault is password-only unless --keychain: any same-user program could read the entry', async () => {
    const env = akcEnv();
    const r = ok(await akc(env, ['init', '--password-stdin', '--json'], `${PASSWORD}\n`));
    assert.equal((JSON.parse(r.stdout) as { keychainUnlock: boolean }).keychainUnlock, false);
    assert.equal((await statusJson(env)).keychainUnlock, false);
    const env2 = akcEnv();
    const text = ok(await akc(env2, ['init', '--password-stdin'], `${PASSWORD}\n`));
    assert.match(text.stdout, /Keychain unlock is off: the master password is needed to unlock the host/);
    assert.match(text.stdout, /would let any program running as you read the unlock key/);
    fails(await akc(akcEnv(), ['init', '--keychain', '--no-keychain', '--password-stdin'], `${PASSWORD}\n`), 1, /contradict/);
  });

  test('init with keychain unlock but no reachable Secret Service → clear error, nothing created', async () => {
    const env = akcEnv({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent/akc-test-bus' });
    fails(
      await akc(env, ['init', '--keychain', '--password-stdin'], `${PASSWORD}\n`),
      1,
      /^akc: error: failed to write the Secret Service .* entry: /,
      /^akc: hint: no Secret Service in this session \(headless or SSH\?\): keep keychain unlock off: `akc init --no-keychain` \(the default on Linux\), or start one first: `dbus-run-session -- bash`, then in that shell `printf %s PASSWORD \| gnome-keyring-daemon --unlock --components=secrets` .*README "Keychain on a headless Linux box"/,
    );
    assert.equal(fs.existsSync(vaultPath(env.home)), false);
    ok(await akc(env, ['init', '--password-stdin', '--no-keychain'], `${PASSWORD}\n`));
  });
});

describe('secrets', () => {
  test('secret set with --password-stdin --value-stdin: create, update, --json, metadata flags', async () => {
    const env = await initedEnv();
    const r1 = ok(
      await setSecret(env, 'openai/api-key', 'sk-first', [
        '--type',
        'api_key',
        '--description',
        'OpenAI key',
        '--owner',
        'ops',
        '--tag',
        'ai',
        '--tag',
        'prod',
      ]),
    );
    assert.equal(r1.stdout, 'Created openai/api-key (version 1).\n');
    assert.equal(r1.stderr, '');
    const r2 = ok(await setSecret(env, 'openai/api-key', 'sk-second', ['--new-version']));
    assert.match(r2.stdout, /^openai\/api-key now has version 2; version 1 stays readable to existing grants until \S+ \S+Z\.\n$/);
    const r3 = ok(await setSecret(env, 'openai/api-key', 'sk-third', ['--json', '--new-version']));
    const j3 = JSON.parse(r3.stdout) as Record<string, unknown>;
    assert.deepEqual(
      { ...j3, previousRetiresAt: typeof j3.previousRetiresAt },
      {
        name: 'openai/api-key',
        version: 3,
        created: false,
        previous: 2,
        previousState: 'previous',
        previousRetiresAt: 'string',
      },
    );
    // Within the default grace of 1h.
    const retires = Date.parse(j3.previousRetiresAt as string) - Date.now();
    assert.ok(retires > 59 * 60_000 && retires <= 60 * 60_000, String(retires));
    assert.equal(await reveal(env, 'openai/api-key'), 'sk-third');
    assert.equal(await reveal(env, 'openai/api-key', 1), 'sk-first');
    const meta = JSON.parse(ok(await akc(env, ['secret', 'show', 'openai/api-key', '--json'])).stdout) as Record<string, unknown>;
    assert.equal(meta.type, 'api_key');
    assert.equal(meta.description, 'OpenAI key');
    assert.equal(meta.owner, 'ops');
    assert.deepEqual(meta.tags, ['ai', 'prod']);
  });

  test('secret set over an existing name: refused without a terminal or --new-version; asked on a terminal', async () => {
    const env = await initedEnv();
    ok(await setSecret(env, 'K', 'first'));
    fails(
      await setSecret(env, 'K', 'second'),
      1,
      'secret K already exists (version 1); nothing was stored',
      'add --new-version to store the value as version 2 (version 1 stays readable for 1h)',
    );
    assert.equal(await reveal(env, 'K'), 'first');
    // The grace period named in the hint and the message is the secret's own.
    ok(await akc(env, ['secret', 'policy', 'K', '--grace', '0', '--password-stdin'], `${PASSWORD}\n`));
    fails(
      await setSecret(env, 'K', 'second'),
      1,
      /already exists/,
      'add --new-version to store the value as version 2 (version 1 retires at once)',
    );
    assert.equal(
      ok(await setSecret(env, 'K', 'second', ['--new-version'])).stdout,
      'K now has version 2; version 1 is retired (the grace period is 0).\n',
    );
    // A new name needs no flag, and --new-version on a new name just creates it.
    assert.equal(ok(await setSecret(env, 'NEW', 'x', ['--new-version'])).stdout, 'Created NEW (version 1).\n');
  });

  test(
    'secret set over an existing name on a terminal: "n" keeps it, "y" adds a version',
    { skip: !hasScript && 'needs util-linux script' },
    async () => {
      const env = await initedEnv();
      ok(await setSecret(env, 'K', 'first'));
      const question = 'K already exists (version 1). Store a new version 2? (version 1 stays readable for 1h) [y/N] ';
      const no = await akcOnTerminal(env, ['secret', 'set', 'K'], [[question, 'n\r']]);
      assert.equal(no.code, 1, no.screen);
      assert.match(no.screen, /akc: error: cancelled; K stays at version 1/);
      assert.doesNotMatch(no.screen, /Master password/, 'asked before the password');
      const yes = await akcOnTerminal(
        env,
        ['secret', 'set', 'K'],
        [
          [question, 'y\r'],
          ['Master password: ', `${PASSWORD}\r`],
          ['Value for K: ', 'second\r'],
        ],
      );
      assert.equal(yes.code, 0, yes.screen);
      assert.match(yes.screen, /K now has version 2; version 1 stays readable to existing grants until \S+ \S+Z\./);
      assert.ok(!yes.screen.includes('second'), 'the value is not echoed');
      assert.equal(await reveal(env, 'K'), 'second');
      assert.equal(await reveal(env, 'K', 1), 'first');
    },
  );

  test('values are taken byte for byte from stdin (only one trailing newline dropped)', async () => {
    const env = await initedEnv();
    const cases: [string, string, string][] = [
      ['multi', `${PASSWORD}\n  line one\nline two\n`, '  line one\nline two'],
      ['crlf', `${PASSWORD}\r\nvalue with crlf\r\n`, 'value with crlf'],
      ['no-newline', `${PASSWORD}\nno newline at end`, 'no newline at end'],
      ['two-newlines', `${PASSWORD}\nkeeps one\n\n`, 'keeps one\n'],
      ['unicode', `${PASSWORD}\nünïcødé ✓ 🔑\n`, 'ünïcødé ✓ 🔑'],
    ];
    for (const [name, input] of cases) ok(await akc(env, ['secret', 'set', name, '--password-stdin', '--value-stdin'], input));
    for (const [name, , expected] of cases) assert.equal(await reveal(env, name), expected, name);
    // Without --password-stdin, --value-stdin takes all of stdin: the password then comes from the terminal.
    fails(await akc(env, ['secret', 'set', 'v', '--value-stdin'], 'value\n'), 1, 'no terminal to read the password from');
  });

  test('wrong password → `akc: error: wrong master password`, exit 1, nothing stored', async () => {
    const env = await initedEnv();
    fails(await setSecret(env, 'x', 'value', [], 'not the password'), 1, 'wrong master password');
    fails(await akc(env, ['secret', 'rm', 'x', '--password-stdin'], 'not the password\n'), 1, /no secret named x/);
    ok(await setSecret(env, 'x', 'value'));
    fails(await akc(env, ['secret', 'rm', 'x', '--password-stdin'], 'not the password\n'), 1, 'wrong master password');
    fails(await akc(env, ['passwd', '--password-stdin'], `not the password\n${NEW_PASSWORD}\n`), 1, 'wrong master password');
    fails(await akc(env, ['keychain', 'enable', '--password-stdin'], 'not the password\n'), 1, 'wrong master password');
    assert.equal(await reveal(env, 'x'), 'value');
    const list = JSON.parse(ok(await akc(env, ['secret', 'list', '--json'])).stdout) as { secrets: { currentVersion: number }[] };
    assert.equal(list.secrets.length, 1);
    assert.equal(list.secrets[0]!.currentVersion, 1);
  });

  test('a value on argv → usage error, exit 2, the value is not echoed nor stored', async () => {
    const env = await initedEnv();
    const r = await akc(env, ['secret', 'set', 'x', 'sk-ON-ARGV-123', '--password-stdin'], `${PASSWORD}\n`);
    fails(r, 2, /unexpected argument after NAME \(values never come from the command line/, 'see `akc secret set --help`');
    assert.ok(!r.stderr.includes('sk-ON-ARGV-123'));
    assert.deepEqual(JSON.parse(ok(await akc(env, ['secret', 'list', '--json'])).stdout), { secrets: [] });
    // No --value flag either.
    fails(await akc(env, ['secret', 'set', 'x', '--value', 'sk-ON-ARGV-123']), 2, 'unknown option --value');
  });

  test('invalid name or unknown type → usage error, exit 2', async () => {
    const env = await initedEnv();
    for (const name of ['has space', 'semi;colon', 'x'.repeat(129), 'ünï']) {
      fails(await setSecret(env, name, 'v'), 2, /^akc: error: invalid secret name: name /, /akc secret set --help/);
    }
    fails(await akc(env, ['secret', 'show', 'bad name']), 2, /invalid secret name/);
    fails(await akc(env, ['secret', 'rm', 'bad name', '--password-stdin'], `${PASSWORD}\n`), 2, /invalid secret name/);
    fails(
      await setSecret(env, 'x', 'v', ['--type', 'nonsense']),
      2,
      'unknown type nonsense; one of: api_key, token, oauth, password, db_credential, webhook_secret, ssh_key, generic',
      'see `akc secret set --help`',
    );
    fails(await setSecret(env, 'x', 'v', ['--type', 'api_key', '--type', 'token']), 2, 'option --type given twice');
    ok(await setSecret(env, 'x'.repeat(128), 'v'));
    ok(await setSecret(env, 'A-z_0.9/ok', 'v', ['--type', 'ssh_key']));
  });

  test('empty or oversized value → clear error', async () => {
    const env = await initedEnv();
    fails(await akc(env, ['secret', 'set', 'x', '--password-stdin', '--value-stdin'], `${PASSWORD}\n`), 1, 'no value on standard input');
    fails(
      await akc(env, ['secret', 'set', 'x', '--password-stdin', '--value-stdin'], `${PASSWORD}\n${'v'.repeat(70_000)}\n`),
      1,
      /the value is larger than 65536 bytes/,
    );
    fails(
      await akc(env, ['secret', 'set', 'x', '--password-stdin', '--value-stdin'], Buffer.alloc(1024 * 1024 + 10, 0x61)),
      1,
      /standard input is larger than/,
    );
  });

  test('secret list (+ --json), secret show (+ --json) never contain the value', async () => {
    const env = await initedEnv();
    assert.equal(ok(await akc(env, ['secret', 'list'])).stdout, 'No secrets yet. Add one with `akc secret set NAME`.\n');
    const valueA = 'VALUE-A-' + randomBytes(8).toString('hex');
    const valueB = 'VALUE-B-' + randomBytes(8).toString('hex');
    ok(await setSecret(env, 'github/token', valueA, ['--type', 'token', '--description', 'CI token']));
    ok(await setSecret(env, 'db/main', valueB, ['--type', 'db_credential']));
    ok(await setSecret(env, 'db/main', valueB + '-2', ['--new-version']));

    const outputs: string[] = [];
    const list = ok(await akc(env, ['secret', 'list']));
    outputs.push(list.stdout, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME +TYPE +VERSION +UPDATED +DESCRIPTION$/);
    assert.match(lines[1]!, /^db\/main +db_credential +2 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    assert.match(lines[2]!, /^github\/token +token +1 +\S+ \S+ +CI token$/);
    assert.equal(lines.length, 3);

    const listJson = ok(await akc(env, ['secret', 'list', '--json']));
    outputs.push(listJson.stdout);
    const parsed = JSON.parse(listJson.stdout) as { secrets: Record<string, unknown>[] };
    assert.deepEqual(
      parsed.secrets.map((s) => [s.name, s.type, s.currentVersion, s.description]),
      [
        ['db/main', 'db_credential', 2, ''],
        ['github/token', 'token', 1, 'CI token'],
      ],
    );
    assert.deepEqual(Object.keys(parsed.secrets[0]!).sort(), [
      'canary',
      'createdAt',
      'currentVersion',
      'description',
      'expired',
      'expiresAt',
      'grace',
      'lastRotatedAt',
      'name',
      'nextRotationAt',
      'owner',
      'purpose',
      'rotateEvery',
      'rotationPendingSince',
      'rotator',
      'tags',
      'type',
      'updatedAt',
    ]);

    const showText = ok(await akc(env, ['secret', 'show', 'db/main']));
    outputs.push(showText.stdout, showText.stderr);
    assert.match(showText.stdout, /^name +db\/main$/m);
    assert.match(showText.stdout, /^type +db_credential$/m);
    assert.match(showText.stdout, /^VERSION +STATE +CREATED$/m);
    assert.match(showText.stdout, /^2 +current +\S+ \S+$/m);
    assert.match(showText.stdout, /^1 +previous +\S+ \S+$/m);

    const showJson = ok(await akc(env, ['secret', 'show', 'db/main', '--json']));
    outputs.push(showJson.stdout);
    const meta = JSON.parse(showJson.stdout) as { versions: { version: number; state: string }[] } & Record<string, unknown>;
    assert.equal(meta.name, 'db/main');
    assert.deepEqual(
      meta.versions.map((v) => [v.version, v.state]),
      [
        [2, 'current'],
        [1, 'previous'],
      ],
    );
    assert.ok(!('value' in meta));

    for (const out of outputs) {
      for (const v of [valueA, valueB]) assert.ok(!out.includes(v), 'a value was printed');
    }
    fails(await akc(env, ['secret', 'show', 'nope']), 1, 'no secret named nope', 'see `akc secret list`');
  });

  test('secret rm; rm of a missing secret → NOT_FOUND message', async () => {
    const env = await initedEnv();
    ok(await setSecret(env, 'doomed', 'v1'));
    ok(await setSecret(env, 'doomed', 'v2', ['--new-version']));
    ok(await setSecret(env, 'kept', 'k'));
    const r = ok(await akc(env, ['secret', 'rm', 'doomed', '--password-stdin'], `${PASSWORD}\n`));
    assert.equal(r.stdout, 'Deleted doomed and all its versions.\n');
    fails(await akc(env, ['secret', 'show', 'doomed']), 1, 'no secret named doomed');
    fails(
      await akc(env, ['secret', 'rm', 'doomed', '--password-stdin'], `${PASSWORD}\n`),
      1,
      'no secret named doomed',
      'see `akc secret list`',
    );
    assert.deepEqual(JSON.parse(ok(await akc(env, ['secret', 'rm', 'kept', '--password-stdin', '--json'], `${PASSWORD}\n`)).stdout), {
      name: 'kept',
      deleted: true,
    });
    const db = new Database(vaultPath(env.home), { readonly: true });
    try {
      assert.equal((db.prepare('SELECT count(*) AS n FROM secret_versions').get() as { n: number }).n, 0);
    } finally {
      db.close();
    }
    // A re-created secret starts over at version 1.
    ok(await setSecret(env, 'doomed', 'again'));
    assert.equal(await reveal(env, 'doomed'), 'again');
  });
});

describe('vault commands', () => {
  test('passwd with two stdin lines; old password fails afterwards, new works', async () => {
    const env = await initedEnv();
    ok(await setSecret(env, 'x', 'before-passwd'));
    const r = ok(await akc(env, ['passwd', '--password-stdin'], `${PASSWORD}\n${NEW_PASSWORD}\n`));
    assert.equal(r.stdout, 'Master password changed.\n');
    fails(await setSecret(env, 'y', 'v'), 1, 'wrong master password');
    ok(await setSecret(env, 'y', 'after-passwd', [], NEW_PASSWORD));
    assert.equal(await reveal(env, 'x', undefined, NEW_PASSWORD), 'before-passwd');
    fails(await akc(env, ['passwd', '--password-stdin'], `${NEW_PASSWORD}\n`), 1, 'no new password on line 2 of standard input');
    fails(
      await akc(env, ['passwd', '--password-stdin'], `${NEW_PASSWORD}\nshort\n`),
      1,
      'the master password must have at least 8 characters',
    );
    ok(await akc(env, ['passwd', '--password-stdin'], `${NEW_PASSWORD}\r\n${PASSWORD}\r\n`));
    ok(await setSecret(env, 'z', 'v'));
  });

  test('status --json after init and with secrets; host.running reflects a live socket', async () => {
    const env = await initedEnv();
    ok(await setSecret(env, 'a', 'v'));
    ok(await setSecret(env, 'b', 'v'));
    const s = await statusJson(env);
    assert.equal(s.vault, 'locked');
    assert.equal(s.dataDir, env.home);
    assert.equal(s.vaultFile, vaultPath(env.home));
    assert.equal(s.socket, env.socket);
    assert.deepEqual(s.host, { running: false });
    assert.equal(s.keychainUnlock, false);
    assert.equal(s.secrets, 2);
    // Something listening on the socket counts as a running host, even if it speaks no protocol.
    fs.mkdirSync(path.dirname(env.socket), { recursive: true, mode: 0o700 });
    const conns = new Set<net.Socket>();
    const server = net.createServer((c) => {
      conns.add(c);
      c.on('error', () => {});
      c.destroy();
    });
    await new Promise<void>((resolve) => server.listen(env.socket, resolve));
    try {
      assert.equal(((await statusJson(env)).host as { running: boolean }).running, true);
      assert.match(ok(await akc(env, ['status'])).stdout, /^host +running/m);
    } finally {
      server.close();
      for (const c of conns) c.destroy();
    }
    assert.deepEqual((await statusJson(env)).host, { running: false }, 'a stale socket file is not a running host');
  });

  test('keychain disable then read; enable again', { skip: keyringSkip() }, async () => {
    const env = akcEnv();
    const { id } = JSON.parse(ok(await akc(env, ['init', '--keychain', '--password-stdin', '--json'], `${PASSWORD}\n`)).stdout) as {
      id: string;
    };
    try {
      ok(await setSecret(env, 'x', 'kc-value'));
      assert.ok(keyringLookup(env, id));
      const off = ok(await akc(env, ['keychain', 'disable', '--password-stdin'], `${PASSWORD}\n`));
      assert.equal(off.stdout, 'Keychain unlock is off.\n');
      assert.equal(keyringLookup(env, id), null, 'entry removed from the OS keychain');
      assert.equal((await statusJson(env)).keychainUnlock, false);
      // Reading metadata still works; changes still need (and accept) the password.
      assert.match(ok(await akc(env, ['secret', 'list'])).stdout, /^x +generic +1 /m);
      assert.match(ok(await akc(env, ['secret', 'show', 'x'])).stdout, /^name +x$/m);
      ok(await setSecret(env, 'x', 'kc-value-2', ['--new-version']));
      assert.equal(await reveal(env, 'x'), 'kc-value-2');

      const on = ok(await akc(env, ['keychain', 'enable', '--password-stdin'], `${PASSWORD}\n`));
      assert.match(on.stdout, /^Keychain unlock is on \(Secret Service/);
      assert.ok(keyringLookup(env, id));
      assert.equal((await statusJson(env)).keychainUnlock, true);
      // Keychain unlock never replaces the password for a change.
      fails(await akc(env, ['secret', 'set', 'y', '--value-stdin'], 'v\n'), 1, 'no terminal to read the password from');
    } finally {
      keyringClear(env, id);
    }
  });

  test('keychain entry deleted → read-only unlock falls back to the password with a clear hint', { skip: keyringSkip() }, async () => {
    // No read command needs the vault key yet, so this drives the CLI's unlockForRead in-process,
    // with the real vault, the real OS keychain and a terminal stand-in for the prompt.
    const env = akcEnv();
    const { id } = JSON.parse(ok(await akc(env, ['init', '--keychain', '--password-stdin', '--json'], `${PASSWORD}\n`)).stdout) as {
      id: string;
    };
    try {
      keyringClear(env, id);
      const stdin = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => stdin });
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let err = '';
      stderr.on('data', (d: Buffer) => (err += d.toString()));
      const ctx = makeContext(
        parseArgs([], {}),
        { stdin, stdout, stderr },
        { dataDir: env.home, socket: env.socket, keychainService: env.env.AKC_KEYCHAIN_SERVICE! },
      );
      const vault = await openVault(ctx);
      try {
        stdin.write(`${PASSWORD}\r`);
        await unlockForRead(ctx, vault);
        assert.equal(vault.state, 'unlocked');
      } finally {
        vault.close();
      }
      assert.match(
        err,
        /^akc: hint: keychain unlock failed \(the Secret Service .* has no unlock key for this vault\); asking for the master password instead$/m,
      );
      assert.match(
        err,
        /^akc: hint: the entry was deleted, or this session reaches another \(new or locked\) keyring; unlock with the master password, then `akc keychain enable`/m,
      );
      assert.ok(!err.includes(PASSWORD), 'the prompt does not echo the password');
      // Re-enabling stores a new entry.
      ok(await akc(env, ['keychain', 'enable', '--password-stdin'], `${PASSWORD}\n`));
      assert.ok(keyringLookup(env, id));
    } finally {
      keyringClear(env, id);
    }
  });

  test(
    'Secret Service out of reach (no D-Bus session bus, e.g. over SSH) → "cannot be reached", never "deleted"',
    { skip: keyringSkip() },
    async () => {
      const env = akcEnv();
      const { id } = JSON.parse(ok(await akc(env, ['init', '--keychain', '--password-stdin', '--json'], `${PASSWORD}\n`)).stdout) as {
        id: string;
      };
      try {
        const bus = path.join(env.home, 'no-such-bus');
        const away = { ...env, env: { ...env.env, DBUS_SESSION_BUS_ADDRESS: `unix:path=${bus}` } };
        const r = await akc(away, ['audit', 'verify']);
        assert.match(
          r.stderr,
          new RegExp(
            `^akc: hint: keychain unlock failed \\(the Secret Service .* cannot be reached: the D-Bus session bus at ${bus} is unreachable \\(ENOENT\\)\\)`,
            'm',
          ),
          r.stderr,
        );
        assert.match(r.stderr, /^akc: hint: unlock with the master password, or run akc in the desktop session that holds the keyring/m);
        assert.doesNotMatch(r.stderr, /deleted/);
        const { DBUS_SESSION_BUS_ADDRESS: _bus, ...rest } = env.env;
        const unset = { ...env, env: { ...rest, XDG_RUNTIME_DIR: env.home } };
        assert.match(
          (await akc(unset, ['audit', 'verify'])).stderr,
          /cannot be reached: no D-Bus session bus in this session \(DBUS_SESSION_BUS_ADDRESS is not set\)/,
        );
        assert.ok(keyringLookup(env, id), 'the entry is still there');
      } finally {
        keyringClear(env, id);
      }
    },
  );

  test('a random or foreign file as vault.db → one-line CORRUPT error with a hint, exit 1', async () => {
    const junk = akcEnv();
    fs.mkdirSync(junk.home, { mode: 0o700 });
    fs.writeFileSync(vaultPath(junk.home), randomBytes(8192));
    for (const args of [
      ['secret', 'list'],
      ['status'],
      ['secret', 'set', 'x', '--password-stdin', '--value-stdin'],
      ['init', '--no-keychain', '--password-stdin'],
    ]) {
      fails(
        await akc(junk, args, `${PASSWORD}\nv\n`),
        1,
        `failed to open vault ${vaultPath(junk.home)}: file is not a database`,
        /not an Agent Keychain vault or is damaged/,
      );
    }
    const foreign = akcEnv();
    fs.mkdirSync(foreign.home, { mode: 0o700 });
    const db = new Database(vaultPath(foreign.home));
    db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
    db.close();
    fails(
      await akc(foreign, ['secret', 'list']),
      1,
      `failed to open vault ${vaultPath(foreign.home)}: it is a SQLite database of another application`,
      /AKC_HOME/,
    );
  });

  test('a crafted vault with Argon2 memory above the maximum → refused', async () => {
    const env = await initedEnv();
    const db = new Database(vaultPath(env.home));
    db.prepare('UPDATE vault SET kdf = ?').run(
      JSON.stringify({ algorithm: 'argon2id', memoryKiB: 64 * 1024 * 1024, timeCost: 3, parallelism: 4 }),
    );
    db.close();
    fails(await setSecret(env, 'x', 'v'), 1, /^akc: error: vault kdf memoryKiB 67108864 is above the maximum 1048576; refusing to derive$/);
    fails(await akc(env, ['passwd', '--password-stdin'], `${PASSWORD}\n${NEW_PASSWORD}\n`), 1, /refusing to derive/);
  });
});

describe('prompts on a real terminal', { skip: hasScript ? false : 'util-linux `script` is not installed' }, () => {
  test('init asks twice; secret set asks password then value; nothing is echoed', async () => {
    const env = akcEnv();
    const value = 'TTY-VALUE-' + randomBytes(6).toString('hex');
    const mismatch = await akcOnTerminal(
      env,
      ['init', '--no-keychain'],
      [
        ['Choose a master password: ', `${PASSWORD}\r`],
        ['Repeat it: ', 'something else\r'],
      ],
    );
    assert.equal(mismatch.code, 1, mismatch.screen);
    assert.match(mismatch.screen, /akc: error: the two passwords do not match/);

    const created = await akcOnTerminal(
      env,
      ['init', '--no-keychain'],
      [
        ['Choose a master password: ', `${PASSWORD}\r`],
        ['Repeat it: ', `${PASSWORD}\r`],
      ],
    );
    assert.equal(created.code, 0, created.screen);
    const set = await akcOnTerminal(
      env,
      ['secret', 'set', 'tty'],
      [
        ['Master password: ', `${PASSWORD}\r`],
        ['Value for tty: ', `${value}\r`],
      ],
    );
    assert.equal(set.code, 0, set.screen);
    assert.match(set.screen, /Created tty \(version 1\)\./);
    for (const screen of [mismatch.screen, created.screen, set.screen]) {
      assert.ok(!screen.includes(PASSWORD), `password echoed:\n${screen}`);
      assert.ok(!screen.includes(value), `value echoed:\n${screen}`);
    }
    assert.equal(await reveal(env, 'tty'), value);

    const wrong = await akcOnTerminal(env, ['secret', 'rm', 'tty'], [['Master password: ', 'wrong password\r']]);
    assert.equal(wrong.code, 1, wrong.screen);
    assert.match(wrong.screen, /akc: error: wrong master password/);
    const cancelled = await akcOnTerminal(env, ['secret', 'rm', 'tty'], [['Master password: ', 'abc\u0003']]);
    assert.equal(cancelled.code, 1, cancelled.screen);
    assert.match(cancelled.screen, /akc: error: cancelled/);
    assert.equal(await reveal(env, 'tty'), value);
  });
});

describe('concurrent writers', () => {
  test('CLI processes running `secret set` at the same moment (different and same names) → success or a clean one-line error; db intact', async () => {
    const env = await initedEnv();
    ok(await setSecret(env, 'shared', 'seed'));
    const runs: { name: string; value: string }[] = [];
    for (let round = 0; round < 2; round++) {
      for (const name of ['alpha', 'beta', 'gamma']) runs.push({ name: `${name}-${round}`, value: `${name}-${round}-value` });
      for (let i = 0; i < 3; i++) runs.push({ name: 'shared', value: `shared-${round}-${i}` });
    }
    const results = await Promise.all(runs.map((r) => setSecret(env, r.name, r.value)));
    const succeeded: { name: string; value: string }[] = [];
    results.forEach((r, i) => {
      if (r.code === 0) {
        assert.match(r.stdout, /^(Created|Updated) \S+ \(version \d+\)\.\n$/);
        succeeded.push(runs[i]!);
      } else {
        // A clean failure: exit 1 and one error line (plus hints), never a crash.
        fails(r, 1, /^akc: error: /);
      }
    });
    assert.ok(succeeded.length >= 1);

    const db = new Database(vaultPath(env.home), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(db.pragma('foreign_key_check'), []);
      const versions = db
        .prepare("SELECT v.version FROM secret_versions v JOIN secrets s ON s.id = v.secret_id WHERE s.name = 'shared' ORDER BY v.version")
        .pluck()
        .all();
      const sharedOk = succeeded.filter((s) => s.name === 'shared').length;
      assert.deepEqual(
        versions,
        Array.from({ length: sharedOk + 1 }, (_, i) => i + 1),
        'one version per successful write, no gaps',
      );
    } finally {
      db.close();
    }

    const vault = Vault.open({ dataDir: env.home, keychain: new NapiKeychain(env.env.AKC_KEYCHAIN_SERVICE) });
    try {
      await vault.unlockWithPassword(Buffer.from(PASSWORD));
      const verify = vault.audit.verify(vault.auditKey);
      assert.equal(verify.ok, true, JSON.stringify(verify));
      const store = new SecretStore(vault);
      for (const s of succeeded.filter((x) => x.name !== 'shared')) assert.equal(store.reveal(s.name).value.toString(), s.value);
      const sharedValues = store.versions('shared').map((v) => store.reveal('shared', v.version).value.toString());
      assert.deepEqual(new Set(sharedValues), new Set(['seed', ...succeeded.filter((x) => x.name === 'shared').map((x) => x.value)]));
      const creates = vault.audit.query({ event: 'secret.create' }).length + vault.audit.query({ event: 'secret.update' }).length;
      assert.equal(creates, succeeded.length + 1, 'one audit entry per successful write');
    } finally {
      vault.close();
    }
  });

  test('two `akc init` at the same moment → one vault, the other fails cleanly', async () => {
    const env = akcEnv();
    const results = await Promise.all([init(env), init(env), init(env)]);
    const okCount = results.filter((r) => r.code === 0).length;
    assert.equal(okCount, 1, results.map(show).join('\n'));
    for (const r of results.filter((x) => x.code !== 0)) fails(r, 1, /^akc: error: a vault already exists in /);
    ok(await setSecret(env, 'x', 'v'));
    const db = new Database(vaultPath(env.home), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
  });

  test('concurrent `akc init` with keychain unlock leaves exactly one keychain entry', { skip: keyringSkip() }, async () => {
    const env = akcEnv();
    const results = await Promise.all([0, 1, 2].map(() => akc(env, ['init', '--keychain', '--password-stdin', '--json'], `${PASSWORD}\n`)));
    const winners = results.filter((r) => r.code === 0);
    assert.equal(winners.length, 1, results.map(show).join('\n'));
    for (const r of results.filter((x) => x.code !== 0)) fails(r, 1, /^akc: error: a vault already exists in /);
    const { id } = JSON.parse(winners[0]!.stdout) as { id: string };
    try {
      const search = spawnSync('secret-tool', ['search', '--all', 'service', env.env.AKC_KEYCHAIN_SERVICE!], { encoding: 'utf8' });
      const accounts = [...`${search.stdout}${search.stderr}`.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(accounts, [id], 'the losers removed their unlock keys');
      assert.equal(((await statusJson(env)) as { keychainUnlock: boolean }).keychainUnlock, true);
    } finally {
      keyringClear(env, id);
    }
  });
});

test('grep: a full session never prints the value nor writes it to any file', async () => {
  const useKeychain = keyringSkip() === false;
  const env = akcEnv();
  const base = path.dirname(env.home);
  const value = 'GREP-CANARY-' + randomBytes(16).toString('hex');
  const value2 = 'GREP-CANARY2-' + randomBytes(16).toString('hex');
  const transcript: RunResult[] = [];
  const run = async (args: string[], input?: string, expectCode = 0): Promise<RunResult> => {
    const r = await akc(env, args, input);
    assert.equal(r.code, expectCode, `akc ${args.join(' ')}\n${show(r)}`);
    transcript.push(r);
    return r;
  };
  const initOut = await run(['init', '--password-stdin', '--json', ...(useKeychain ? [] : ['--no-keychain'])], `${PASSWORD}\n`);
  const { id } = JSON.parse(initOut.stdout) as { id: string };
  try {
    await run(['status']);
    await run(
      ['secret', 'set', 'canary', '--password-stdin', '--value-stdin', '--type', 'api_key', '--description', 'grep test'],
      `${PASSWORD}\n${value}\n`,
    );
    await run(['secret', 'set', 'canary', '--new-version', '--password-stdin', '--value-stdin', '--json'], `${PASSWORD}\n${value2}\n`);
    await run(['secret', 'set', 'other', '--password-stdin', '--value-stdin'], `${PASSWORD}\n${value}-other\n`);
    await run(['secret', 'set', 'canary', value, '--password-stdin'], `${PASSWORD}\n`, 2);
    await run(['secret', 'set', 'canary', '--new-version', '--password-stdin', '--value-stdin'], `wrong password\n${value}\n`, 1);
    await run(['secret', 'list']);
    await run(['secret', 'list', '--json']);
    await run(['secret', 'show', 'canary']);
    await run(['secret', 'show', 'canary', '--json']);
    await run(['status', '--json']);
    await run(['passwd', '--password-stdin'], `${PASSWORD}\n${NEW_PASSWORD}\n`);
    if (useKeychain) {
      await run(['keychain', 'disable', '--password-stdin'], `${NEW_PASSWORD}\n`);
      await run(['keychain', 'enable', '--password-stdin'], `${NEW_PASSWORD}\n`);
    }
    await run(['secret', 'rm', 'other', '--password-stdin'], `${NEW_PASSWORD}\n`);
    await run(['secret', 'show', 'other'], undefined, 1);

    // The values are really stored (the search below is not vacuous).
    assert.equal(await reveal(env, 'canary', 1, NEW_PASSWORD), value);
    assert.equal(await reveal(env, 'canary', 2, NEW_PASSWORD), value2);

    const needles = [value, value2, PASSWORD, NEW_PASSWORD];
    const forms = (s: string): [string, Buffer][] => [
      ['utf8', Buffer.from(s)],
      ['utf16le', Buffer.from(s, 'utf16le')],
      ['base64', Buffer.from(Buffer.from(s).toString('base64').replace(/=+$/, ''))],
      ['hex', Buffer.from(Buffer.from(s).toString('hex'))],
    ];
    transcript.forEach((r, i) => {
      for (const stream of [r.stdout, r.stderr]) {
        for (const n of needles) {
          for (const [enc, bytes] of forms(n))
            assert.equal(Buffer.from(stream).indexOf(bytes), -1, `command ${i} printed a secret (${enc})`);
        }
      }
    });
    const files = fs
      .readdirSync(base, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile())
      .map((e) => path.join(e.parentPath, e.name));
    assert.ok(files.includes(vaultPath(env.home)));
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      for (const n of needles) {
        for (const [enc, b] of forms(n)) assert.equal(bytes.indexOf(b), -1, `${path.relative(base, file)} contains a secret (${enc})`);
      }
    }
  } finally {
    if (useKeychain) keyringClear(env, id);
  }
});
