/**
 * `akc run` end to end: a real `akc daemon` on a real socket, the real CLI, real child
 * processes. Covers redaction (whole, split across writes with a pause, base64, a 10 MiB
 * stream with akc's memory bounded; escaped forms as real Python, Node and bash print
 * them; a multi-line key line by line),
 * exit codes and signals, the value kept out of akc's argv and environment, and one
 * approval for several secrets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AKC_BIN, tempDir, type AkcEnv } from '../helpers/env.js';
import { approve, Child, Daemon, deny, initVault, pendingApprovals, verifyAudit } from '../helpers/daemon.js';
import { realPython } from '../helpers/python.js';

const OPENAI = 'sk-test-7d1f0c9a4b2e8f6a5c3d1e0b9a8f7e6d';
const GITHUB = 'ghp_Q2xvdWRzIGFyZSBub3Qgc2VjcmV0cyBhdCBhbGw';
const M_OPENAI = '[REDACTED:openai]';
const M_GITHUB = '[REDACTED:github]';
// Both quotes, a backslash, a dollar and a non-ASCII letter: every quoting style escapes it.
const QUOTED = 'pa"ss\\wo\'rd-é7Qz$x';
const M_QUOTED = '[REDACTED:quoted]';
const KEY_LINES = [
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACDq1x0yv9Tn4M2aL6kR8pH3cW5sJ7dF0gB2eN9uY4iZQwAAAJiR7zE3ke8x',
  'NwAAAAtzc2gtZWQyNTUxOQAAACDq1x0yv9Tn4M2aL6kR8pH3cW5sJ7dF0gB2eN9uY4iZQw',
];
const SSH_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${KEY_LINES.join('\n')}\n-----END OPENSSH PRIVATE KEY-----`;
const M_KEY = '[REDACTED:sshkey]';

let env: AkcEnv;
let daemon: Daemon;

before(async () => {
  env = await initVault({ openai: OPENAI, github: GITHUB, quoted: QUOTED, sshkey: SSH_KEY });
  daemon = await Daemon.start(env, { approvalTimeout: 60 });
});

after(async () => {
  await daemon?.stop();
});

/** `akc run ARGS` in the background; stdin stays open unless `input` is given. */
function akcRun(args: string[], input?: string): Child {
  return Child.spawn(process.execPath, [AKC_BIN, 'run', ...args], env, input === undefined ? {} : { input });
}

/** Waits for the run's "waiting for approval" line and approves that request once. */
async function approveRun(run: Child): Promise<string> {
  const m = await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
  const r = await approve(env, m[1]!);
  assert.equal(r.code, 0, r.stderr);
  return m[1]!;
}

/** A node child running `script` (argv: [node, -e, script]). */
const node = (script: string): string[] => ['--', process.execPath, '-e', script];

function noValues(text: string): void {
  for (const v of [OPENAI, GITHUB]) {
    assert.ok(!text.includes(v), 'a value leaked');
    assert.ok(!text.includes(Buffer.from(v).toString('base64').slice(0, 24)), 'a base64 form leaked');
    assert.ok(!text.includes(Buffer.from(v).toString('hex').slice(0, 24)), 'a hex form leaked');
  }
}

function procFile(pid: number, name: string): Buffer {
  return fs.readFileSync(`/proc/${pid}/${name}`);
}

function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(procFile(pid, 'status').toString());
  return Number(m![1]);
}

describe('akc run: redaction', () => {
  test('whole value, split across two writes with a pause, base64, on stdout and stderr', async () => {
    const script = `
      const v = process.env.OPENAI_API_KEY;
      process.stdout.write('whole=' + v + '\\n');
      process.stdout.write('split=' + v.slice(0, 9));
      setTimeout(() => {
        process.stdout.write(v.slice(9) + '\\n');
        process.stdout.write('b64=' + Buffer.from(v).toString('base64') + '\\n');
        process.stdout.write('url=' + encodeURIComponent(v + '/x') + '\\n');
        process.stdout.write('hex=' + Buffer.from(v).toString('hex') + '\\n');
        process.stderr.write('err=' + v + ' ' + process.env.GH + '\\n');
      }, 400);`;
    const run = akcRun(['--env', 'OPENAI_API_KEY=openai', '--env', 'GH=github', ...node(script)], '');
    await approveRun(run);
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `whole=${M_OPENAI}\nsplit=${M_OPENAI}\nb64=${M_OPENAI}\nurl=${M_OPENAI}%2Fx\nhex=${M_OPENAI}\n`);
    assert.match(r.stderr, new RegExp(`^err=\\[REDACTED:openai\\] \\[REDACTED:github\\]$`, 'm'));
    noValues(r.stdout + r.stderr);
  });

  test('a 10 MiB stream: redacted throughout, akc memory bounded; the value is absent from akc argv and environment', async (t) => {
    // The child prints 10 MiB (the value twice per line), then waits for a line on stdin
    // (akc's stdin, passed through) before exiting.
    const script = `
      const v = process.env.K;
      const line = 'log line ' + '.'.repeat(40) + ' key=' + v + ' hex=' + Buffer.from(v).toString('hex') + '\\n';
      const total = 10 * 1024 * 1024;
      let sent = 0;
      const block = line.repeat(Math.ceil(65536 / line.length));
      function pump() {
        while (sent < total) {
          sent += block.length;
          if (!process.stdout.write(block)) return process.stdout.once('drain', pump);
        }
        process.stdout.write('DONE\\n');
        process.stdin.once('data', () => process.exit(0));
      }
      pump();`;
    const run = akcRun(['--env', 'K=openai', ...node(script)]);
    await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    const baseline = rssKiB(run.pid, 'VmRSS');
    await approveRun(run);
    await run.stdout.waitFor(/DONE\n$/, { timeoutMs: 60_000 });

    // While the child runs: akc's argv and environment hold no value.
    const cmdline = procFile(run.pid, 'cmdline');
    const environ = procFile(run.pid, 'environ');
    for (const v of [OPENAI, GITHUB]) {
      assert.equal(cmdline.indexOf(v), -1, 'value in akc argv');
      assert.equal(environ.indexOf(v), -1, 'value in akc environment');
    }
    const peak = rssKiB(run.pid, 'VmHWM');
    run.proc.stdin!.end('go\n');
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr.slice(-2000));

    const lines = r.stdout.split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.pop(), 'DONE');
    assert.ok(lines.length * 100 > (10 * 1024 * 1024) / 2, `only ${lines.length} lines`);
    for (const l of lines) assert.equal(l, `log line ${'.'.repeat(40)} key=${M_OPENAI} hex=${M_OPENAI}`);
    noValues(r.stdout);
    const growthMiB = (peak - baseline) / 1024;
    t.diagnostic(`akc RSS ${(baseline / 1024).toFixed(1)} MiB before, peak ${(peak / 1024).toFixed(1)} MiB while relaying 10 MiB`);
    assert.ok(growthMiB < 32, `akc grew by ${growthMiB.toFixed(1)} MiB while relaying 10 MiB`);
  });
});

describe('akc run: escaped and multi-line values', () => {
  /** Runs `args` under one approval; returns stdout (exit 0 required). */
  async function runApproved(args: string[]): Promise<string> {
    const run = akcRun(args, '');
    await approveRun(run);
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(QUOTED) && !r.stdout.includes(SSH_KEY), 'a value leaked');
    return r.stdout;
  }

  test('real Python: json.dumps (ASCII and not), nested, repr, ascii; one dump split across writes with a pause', async () => {
    const script = [
      'import json, os, sys, time',
      'v = os.environ["Q"]',
      'print(json.dumps(v)); print(json.dumps(v, ensure_ascii=False)); print(json.dumps({"k": json.dumps(v)}))',
      'print(repr(v)); print(ascii(v))',
      'd = json.dumps({"password": v})',
      'sys.stdout.write(d[:20]); sys.stdout.flush(); time.sleep(0.3); sys.stdout.write(d[20:] + "\\n")',
    ].join('\n');
    const out = await runApproved(['--env', 'Q=quoted', '--', realPython(), '-c', script]);
    const m = M_QUOTED;
    assert.equal(out, `"${m}"\n"${m}"\n{"k": "\\"${m}\\""}\n'${m}'\n'${m}'\n{"password": "${m}"}\n`);
  });

  test('Node JSON.stringify (plain and nested) and bash printf %q / ${v@Q}', async () => {
    const js = 'const v = process.env.Q; console.log(JSON.stringify(v)); console.log(JSON.stringify(JSON.stringify({ k: v })))';
    assert.equal(await runApproved(['--env', 'Q=quoted', ...node(js)]), `"${M_QUOTED}"\n"{\\"k\\":\\"${M_QUOTED}\\"}"\n`);
    const sh = 'printf "%q\\n" "$Q"; printf "%s\\n" "${Q@Q}"';
    assert.equal(await runApproved(['--env', 'Q=quoted', '--', 'bash', '-c', sh]), `${M_QUOTED}\n'${M_QUOTED}'\n`);
  });

  test('a multi-line key: whole, line by line (CRLF, each line split across writes), one line only', async () => {
    const script = `
      const k = process.env.K;
      const lines = k.split('\\n');
      const w = (s) => new Promise((r) => process.stdout.write(s, r));
      const pause = () => new Promise((r) => setTimeout(r, 150));
      (async () => {
        await w('whole:\\n' + k + '\\n');
        for (const l of lines) { await w(l.slice(0, 30)); await pause(); await w(l.slice(30) + '\\r\\n'); }
        await w('only: ' + lines[2] + '\\n');
        await w('json: ' + JSON.stringify(k) + '\\n');
      })();`;
    const out = await runApproved(['--env', 'K=sshkey', ...node(script)]);
    assert.equal(
      out,
      `whole:\n${M_KEY}\n` +
        `-----BEGIN OPENSSH PRIVATE KEY-----\r\n${M_KEY}\r\n${M_KEY}\r\n${M_KEY}\r\n-----END OPENSSH PRIVATE KEY-----\r\n` +
        `only: ${M_KEY}\njson: "${M_KEY}"\n`,
    );
    for (const l of KEY_LINES) assert.ok(!out.includes(l.slice(0, 30)), 'part of a line leaked');
  });
});

describe('akc run: --env-file and output order', () => {
  test('--env-file: akc:// references are secrets of the run (one approval, redacted), other lines literal', async () => {
    const dir = tempDir('akc-envfile-');
    const file = path.join(dir, '.env');
    fs.writeFileSync(file, '# as op run --env-file reads it\nOPENAI_API_KEY=akc://openai\nexport GH="akc://github"\nMODE=debug\n');
    const script = 'console.log([process.env.OPENAI_API_KEY, process.env.GH, process.env.MODE].join(" "))';
    const run = akcRun(['--env-file', file, ...node(script)], '');
    await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    const pending = await pendingApprovals(env);
    assert.equal(pending.length, 1);
    assert.deepEqual([...pending[0].secrets].sort(), ['github', 'openai'], 'one approval for both references');
    await approveRun(run);
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${M_OPENAI} ${M_GITHUB} debug\n`);
    noValues(r.stdout + r.stderr);
  });

  test('--env-file mistakes are usage errors before anyone is asked; a missing FILE is reported by Node', async () => {
    const dir = tempDir('akc-envfile-');
    const bad = path.join(dir, 'bad.env');
    fs.writeFileSync(bad, 'OK=1\nsk-literal-no-equals\n');
    const literal = path.join(dir, 'literal.env');
    fs.writeFileSync(literal, 'MODE=debug\n');
    const dup = path.join(dir, 'dup.env');
    fs.writeFileSync(dup, 'K=akc://openai\n');
    const cases: [string[], string][] = [
      [['--env-file', bad, '--', 'true'], `akc: error: ${bad}:2: expected KEY=VALUE`],
      [['--env-file', literal, '--', 'true'], `akc: error: nothing to inject: ${literal} has no KEY=akc://SECRET_NAME line`],
      [['--env-file', dup, '--env', 'K=github', '--', 'true'], `akc: error: K is set by --env and in --env-file (${dup}:1)`],
    ];
    for (const [args, line] of cases) {
      const r = await akcRun(args, '').exited;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n')[0], line);
      assert.ok(!r.stderr.includes('sk-literal'), 'a line of the file is never quoted');
    }
    // Node itself reads any `--env-file X` on its command line (nodejs/node#54232, without
    // loading it) and exits 9 when X is missing or not a file, before akc runs; with a Node
    // that leaves script arguments alone akc says it (env-file.test.ts).
    const missing = path.join(dir, 'missing.env');
    const r = await akcRun(['--env-file', missing, '--', 'true'], '').exited;
    assert.ok(r.code === 9 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${missing.replace(/[.]/g, '\\.')}: (not found|no such file)`));
    assert.deepEqual(await pendingApprovals(env), []);
  });

  test("stdout and stderr to one file (2>&1): the child's lines keep their order", async () => {
    const dir = tempDir('akc-order-');
    const file = path.join(dir, 'out.log');
    const fd = fs.openSync(file, 'w');
    // A shell writes each line with one write(2), alternating the two streams.
    const shell = 'i=0; while [ $i -lt 40 ]; do echo "out $i $K"; echo "err $i" >&2; i=$((i+1)); done';
    const proc = spawn(process.execPath, [AKC_BIN, 'run', '--env', 'K=openai', '--', 'sh', '-c', shell], {
      env: env.env,
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
    let id: string | undefined;
    while (!id) {
      id = /request (a_[0-9a-f]+)/.exec(fs.readFileSync(file, 'utf8'))?.[1];
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    const ok = await approve(env, id);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await exited, 0);
    const lines = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^(out|err) /.test(l));
    const expected = Array.from({ length: 40 }, (_, i) => [`out ${i} ${M_OPENAI}`, `err ${i}`]).flat();
    assert.deepEqual(lines, expected);
  });
});

describe('akc run: exit codes, signals, stdin', () => {
  test('exit code passes through (3 → 3, 0 → 0)', async () => {
    for (const code of [3, 0]) {
      const run = akcRun(['--env', 'K=openai', ...node(`process.exit(${code})`)], '');
      await approveRun(run);
      assert.equal((await run.exited).code, code);
    }
  });

  test('a child killed by SIGTERM → akc dies of SIGTERM (or exits 143)', async () => {
    const run = akcRun(['--env', 'K=openai', ...node(`process.kill(process.pid, 'SIGTERM'); setTimeout(() => {}, 5000)`)], '');
    await approveRun(run);
    const r = await run.exited;
    assert.ok(r.signal === 'SIGTERM' || r.code === 143, `code ${r.code} signal ${r.signal}`);
  });

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    test(`${signal} sent to akc reaches the child`, async () => {
      const script = `
        process.on('${signal}', () => { console.log('child got ${signal}'); process.exit(42); });
        console.log('ready');
        setInterval(() => {}, 1000);`;
      const run = akcRun(['--env', 'K=openai', ...node(script)]);
      await approveRun(run);
      await run.stdout.waitFor(/ready\n/);
      run.proc.kill(signal);
      const r = await run.exited;
      assert.equal(r.code, 42, r.stderr);
      assert.match(r.stdout, new RegExp(`child got ${signal}`));
    });
  }

  test('stdin passes through to the child', async () => {
    const script = `let s = ''; process.stdin.on('data', (d) => (s += d)).on('end', () => console.log('got:' + s.trim() + ':' + process.env.K));`;
    const run = akcRun(['--env', 'K=openai', ...node(script)]);
    await approveRun(run);
    run.proc.stdin!.end('hello from stdin\n');
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `got:hello from stdin:${M_OPENAI}\n`);
  });

  test('a command that does not exist → 127 before anyone is asked', async () => {
    const run = akcRun(['--env', 'K=openai', '--', '/nonexistent/command-xyz'], '');
    const r = await run.exited;
    assert.equal(r.code, 127);
    assert.match(r.stderr, /^akc: error: failed to start \/nonexistent\/command-xyz: no such file$/m);
    assert.deepEqual(await pendingApprovals(env), [], 'no approval was requested for a command that cannot start');
  });
});

describe('akc run: approvals, leases, audit', () => {
  test('two secrets → ONE approval listing both; leases revoked when the child exits', async () => {
    const run = akcRun(
      ['--env', 'A=openai', '--env', 'B=github', '--purpose', 'one prompt', ...node(`console.log(process.env.A, process.env.B)`)],
      '',
    );
    const m = await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    const pending = await pendingApprovals(env);
    assert.equal(pending.length, 1);
    assert.deepEqual([...pending[0].secrets].sort(), ['github', 'openai']);
    assert.equal(pending[0].purpose, 'one prompt');
    assert.equal((await approve(env, m[1]!)).code, 0);
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${M_OPENAI} ${M_GITHUB}\n`);
    assert.equal(r.stderr.match(/waiting for approval/g)?.length, 1);
  });

  test('deny → akc fails, the command never runs', async () => {
    const marker = `${env.home}/ran-${Date.now()}`;
    const run = akcRun(['--env', 'K=openai', ...node(`require('fs').writeFileSync(${JSON.stringify(marker)}, 'x')`)], '');
    const m = await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    assert.equal((await deny(env, m[1]!)).code, 0);
    const r = await run.exited;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /akc: error: .*denied/);
    assert.equal(fs.existsSync(marker), false);
  });

  test('--no-redact: output untouched, shown in the approval and recorded in the audit log', async () => {
    const run = akcRun(['--env', 'K=openai', '--no-redact', '--purpose', 'debug', ...node(`console.log('v=' + process.env.K)`)], '');
    await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    const pending = await pendingApprovals(env);
    assert.equal(pending[0].purpose, 'debug [no-redact]');
    await approve(env, pending[0].id);
    const r = await run.exited;
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `v=${OPENAI}\n`);
    assert.match(r.stderr, /--no-redact/);
  });

  test('usage errors: no --env, bad variable, no command, command without --', async () => {
    const cases: [string[], RegExp][] = [
      [['--', 'true'], /give at least one --env/],
      [['--env', '1X=openai', '--', 'true'], /not a valid variable name/],
      [['--env', 'X=bad name', '--', 'true'], /--env X:/],
      [['--env', 'X=openai'], /no command/],
      [['--env', 'X=openai', 'true'], /put the command after --/],
      [['--env', 'X=openai', '--env', 'X=github', '--', 'true'], /given twice/],
    ];
    for (const [args, re] of cases) {
      const r = await akcRun(args, '').exited;
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  test('audit: every delivery has a lease that was revoked, no-redact recorded, chain valid', async () => {
    await daemon.stop();
    const audit = await verifyAudit(env);
    assert.equal(audit.result.ok, true, JSON.stringify(audit.result));
    const revoked = new Set(audit.entries.filter((e) => e.event === 'lease.revoke').map((e) => e.reason));
    assert.ok(audit.deliveries.size >= 2);
    for (const [lease, entry] of audit.deliveries) {
      assert.ok(revoked.has(lease), `lease ${lease} of ${entry.secret} not revoked`);
    }
    assert.ok([...audit.deliveries.values()].some((e) => e.purpose === 'debug [no-redact]'));
    const text = JSON.stringify(audit.entries);
    assert.ok(!text.includes(OPENAI) && !text.includes(GITHUB));
    daemon = await Daemon.start(env);
  });
});
