/**
 * `akc grants` and `akc unblock` as a user meets them (issue 15, Medium 6): grants and
 * blocks made from prompts name the program with its paths — not `program node
 * (prog:<hash>)` — and a run grant its command; a program blocked from a prompt is lifted
 * with `akc unblock prog:…` or by the block's grant id. A real `akc daemon`, real agent
 * programs (node scripts that run `akc`), the real CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { akc, AKC_BIN, PASSWORD, tempDir, type AkcEnv, type RunResult } from '../helpers/env.js';
import { approve, Child, Daemon, deny, initVault, ok, type Json } from '../helpers/daemon.js';

let env: AkcEnv;
let daemon: Daemon;
let dir: string;

before(async () => {
  env = await initVault({ K: 'k-value-0123456789abcdef' });
  daemon = await Daemon.start(env, { approvalTimeout: 60 });
  dir = fs.realpathSync(tempDir('akc-grants-'));
});

after(async () => {
  await daemon?.stop();
});

/** A one-line CLI failure (DESIGN §9): exit code, nothing on stdout, the error line and hint. */
function fails(r: RunResult, code: number, error: string, hint?: string): void {
  const show = `exit ${r.code}\n${r.stdout}${r.stderr}`;
  assert.equal(r.code, code, show);
  assert.equal(r.stdout, '', show);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines[0], `akc: error: ${error}`, show);
  if (hint !== undefined) assert.ok(lines.includes(`akc: hint: ${hint}`), show);
}

/** An agent program: a node script at `name` that runs `akc ARGS` (so akc asks "via" it). */
function agentScript(name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    `const { spawn } = require('node:child_process');\n` +
      `spawn(process.execPath, [${JSON.stringify(AKC_BIN)}, ...process.argv.slice(2)], { stdio: 'inherit' }).on('exit', (c) => process.exit(c ?? 1));\n`,
  );
  return file;
}

/** Runs `node SCRIPT ARGS…` and resolves with it and the approval id it waits for. */
async function asking(script: string, args: string[]): Promise<{ child: Child; id: string }> {
  const child = Child.spawn(process.execPath, [script, ...args], env, { input: '' });
  const m = await child.stderr.waitFor(/request (a_[0-9a-f]+)/);
  return { child, id: m[1]! };
}

const grantsJson = async (): Promise<Json[]> =>
  (JSON.parse(ok(await akc(env, ['grants', '--json']), 'akc grants').stdout) as { grants: Json[] }).grants;
const password = `${PASSWORD}\n`;

describe('akc grants names the program, with paths, and a run grant its command', () => {
  test('an approval, a run approval and a block from prompts', async () => {
    const agent = agentScript('agent.cjs');
    const get = await asking(agent, ['get', 'K']);
    ok(await approve(env, get.id, '15m'), 'approve');
    assert.equal((await get.child.exited).code, 0);

    const runner = agentScript('runner.cjs');
    const run = await asking(runner, ['run', '--env', 'X=K', '--', 'printenv', 'X']);
    ok(await approve(env, run.id, '15m'), 'approve run');
    assert.equal((await run.child.exited).stdout, '[REDACTED:K]\n');

    const text = ok(await akc(env, ['grants']), 'akc grants').stdout;
    const [header, ...rows] = text.trimEnd().split('\n');
    assert.match(header!, /^ID +AGENT +SECRET +EFFECT +SCOPE +EXPIRES +USES +CREATED +COMMAND$/);
    assert.equal(rows.length, 2, text);
    assert.match(rows[0]!, new RegExp(`^g_[0-9a-f]+ +akc get via node ${agent} \\(prog:[0-9a-f]{8}\\) +K +allow +duration .* -$`));
    assert.match(
      rows[1]!,
      new RegExp(`^g_[0-9a-f]+ +akc run via node ${runner} \\(prog:[0-9a-f]{8}\\) +K +allow +duration .* printenv X$`),
    );
    assert.doesNotMatch(text, /program node/);
    const json = await grantsJson();
    assert.deepEqual(
      json.map((g) => [g.label, g.command?.line ?? null]),
      [
        [`akc get via node ${agent}`, null],
        [`akc run via node ${runner}`, 'printenv X'],
      ],
    );
  });
});

describe('akc unblock lifts a block made from a prompt', () => {
  test('by the fingerprint `akc grants` shows, then by grant id; bad targets are one-line errors', async () => {
    const bad = agentScript('bad.cjs');
    const first = await asking(bad, ['get', 'K']);
    ok(await deny(env, first.id, { block: true }), 'deny --block');
    assert.equal((await first.child.exited).code, 1);
    const block = (await grantsJson()).find((g) => g.effect === 'deny')!;
    assert.equal(block.label, `akc get via node ${bad}`);
    const text = ok(await akc(env, ['grants']), 'akc grants').stdout;
    const short = (block.program as string).slice(0, 'prog:'.length + 8);
    assert.ok(text.includes(`akc get via node ${bad} (${short})`), text);

    // A blocked program's next request is denied at once, without a prompt.
    const denied = await Child.spawn(process.execPath, [bad, 'get', 'K'], env, { input: '' }).exited;
    assert.equal(denied.code, 1);
    assert.doesNotMatch(denied.stderr, /waiting for approval/);

    fails(
      await akc(env, ['unblock', 'prog:12', '--password-stdin'], password),
      1,
      'invalid program "prog:12": expected prog: and at least 8 hex digits',
      'copy it from `akc grants`',
    );
    fails(
      await akc(env, ['unblock', 'prog:00000000', '--password-stdin'], password),
      1,
      'no block for program prog:00000000',
      'see `akc grants`',
    );
    const allow = (await grantsJson()).find((g) => g.effect === 'allow')!;
    fails(
      await akc(env, ['unblock', allow.id, '--password-stdin'], password),
      1,
      `grant ${allow.id} is not a block`,
      `revoke it with \`akc ungrant ${allow.id}\``,
    );
    fails(
      await akc(env, ['unblock', 'g_000000000000', '--password-stdin'], password),
      1,
      'no live grant g_000000000000',
      'see `akc grants`',
    );
    // A wrong password changes nothing.
    fails(await akc(env, ['unblock', short, '--password-stdin'], 'not the password\n'), 1, 'wrong master password');

    const lifted = ok(await akc(env, ['unblock', short, '--password-stdin'], password), 'unblock prog:');
    assert.equal(lifted.stdout, `Unblocked akc get via node ${bad} (${short}): grant ${block.id} revoked.\n`);
    assert.ok(!(await grantsJson()).some((g) => g.effect === 'deny'));
    const audit = JSON.parse(ok(await akc(env, ['audit', '--json']), 'audit').stdout) as Json;
    const entries = (audit.entries ?? audit) as Json[];
    const unblock = entries.filter((e) => e.event === 'agent.unblock').at(-1);
    assert.equal(unblock.agent, `akc get via node ${bad}`);

    // Asked again, blocked again; lifted by the block's grant id this time (--json).
    const second = await asking(bad, ['get', 'K']);
    ok(await deny(env, second.id, { block: true }), 'deny --block');
    await second.child.exited;
    const again = (await grantsJson()).find((g) => g.effect === 'deny')!;
    const byId = JSON.parse(ok(await akc(env, ['unblock', again.id, '--json', '--password-stdin'], password), 'unblock g_').stdout) as Json;
    assert.deepEqual(byId, { target: again.id, blocked: false, revokedGrants: [again.id] });
    fails(await akc(env, ['unblock', again.id, '--password-stdin'], password), 1, `no live grant ${again.id}`, 'see `akc grants`');
  });
});
