/**
 * Issue 15 (High 2), replayed end to end: "the approval for `akc run` and MCP
 * `run_with_secrets` never shows which command gets the secret". A real `akc daemon`, the
 * real CLI and MCP server, real child processes:
 *
 * - the pending approval of `akc run -- mynode -e …` shows the command line and the
 *   executable it resolves to (PATH lookup, symlink resolved), in `akc approvals` (JSON and
 *   table), in the daemon's prompt and in the audit log (never a value);
 * - MCP `run_with_secrets` is marked as chosen by the agent;
 * - approving command A for 15 min covers A; command B of the same program asks again;
 * - a command field from a program that is not `akc run` is refused (nothing is asked);
 * - on the daemon's terminal (tmux), escape sequences in argv arrive as visible escapes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { akc, AKC_BIN, PASSWORD, tempDir, type AkcEnv } from '../helpers/env.js';
import {
  approve,
  Child,
  Daemon,
  DEFAULT_WAIT_MS,
  deny,
  initVault,
  ok,
  pendingApprovals,
  RawClient,
  vaultDb,
  type Json,
} from '../helpers/daemon.js';

const VALUE = 'sk-consent-4f1c9a7e2b8d6f0a3c5e';
const NODE_REAL = fs.realpathSync(process.execPath);

/** A PATH dir holding `mynode`, a symlink to this node: the prompt must show where it really leads. */
function pathWithMyNode(): string {
  const dir = tempDir('akc-path-');
  fs.symlinkSync(process.execPath, path.join(dir, 'mynode'));
  return `${dir}${path.delimiter}${process.env.PATH ?? ''}`;
}

function auditRows(env: AkcEnv, event: string): { agent: string; detail: Json; reason: string | null }[] {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    const rows = db.prepare('SELECT agent, detail, reason FROM audit WHERE event = ? ORDER BY seq').all(event) as {
      agent: string;
      detail: string | null;
      reason: string | null;
    }[];
    return rows.map((r) => ({ ...r, detail: r.detail === null ? null : JSON.parse(r.detail) }));
  } finally {
    db.close();
  }
}

function allAudit(env: AkcEnv): string {
  const db = new Database(vaultDb(env), { readonly: true });
  try {
    return JSON.stringify(db.prepare('SELECT * FROM audit').all());
  } finally {
    db.close();
  }
}

describe('akc run: the approval shows and binds the command', () => {
  let env: AkcEnv;
  let daemon: Daemon;
  let PATH: string;

  before(async () => {
    env = await initVault({ OPENAI_API_KEY: VALUE });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    PATH = pathWithMyNode();
  });
  after(async () => {
    await daemon?.stop();
  });

  /** `akc run --env K=OPENAI_API_KEY -- mynode -e SCRIPT`, started from a shell-less parent (this test). */
  function runNode(script: string): Child {
    return Child.spawn(process.execPath, [AKC_BIN, 'run', '--env', 'K=OPENAI_API_KEY', '--', 'mynode', '-e', script], env, {
      env: { ...env.env, PATH },
      input: '',
    });
  }

  async function pendingOf(run: Child): Promise<Json> {
    const id = (await run.stderr.waitFor(/request (a_[0-9a-f]+)/))[1]!;
    const listed = (await pendingApprovals(env)).find((a: Json) => a.id === id);
    assert.ok(listed, `approval ${id} is listed`);
    return listed;
  }

  it('the pending approval shows the command line and its resolved executable (akc approvals, daemon prompt, audit)', async () => {
    const from = daemon.log.text.length;
    const script = 'console.log("len=" + process.env.K.length)';
    const run = runNode(script);
    const p = await pendingOf(run);
    assert.deepEqual(p.command, { argv: ['mynode', '-e', script], exe: NODE_REAL, agentChosen: false });

    const table = ok(await akc(env, ['approvals']), 'akc approvals').stdout;
    const row = table.split('\n').find((l) => l.startsWith(p.id));
    assert.ok(row?.includes(`mynode -e 'console.log("len=" + process.env.K.length)' (${NODE_REAL})`), table);
    assert.match(table.split('\n')[0]!, /COMMAND \(exe\)$/);

    // The daemon's prompt (no terminal here: the same lines go to its log).
    await daemon.log.waitFor(new RegExp(`exe ${escapeRe(NODE_REAL)} · gets the value in its environment`), { from });
    assert.match(daemon.log.text.slice(from), /command {2}mynode -e 'console\.log\("len=" \+ process\.env\.K\.length\)'\n/);
    assert.doesNotMatch(daemon.log.text.slice(from), /CHOSEN BY THE AGENT/);

    ok(await approve(env, p.id, 'once'), 'akc approve');
    const r = await run.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `len=${VALUE.length}\n`);

    const request = auditRows(env, 'approval.request').find((e) => e.reason === p.id)!;
    assert.equal(request.detail.command, `mynode -e 'console.log("len=" + process.env.K.length)'`);
    assert.equal(request.detail.commandExe, NODE_REAL);
    const delivered = auditRows(env, 'secret.deliver').at(-1)!;
    assert.equal(delivered.detail.commandExe, NODE_REAL);
    assert.ok(!allAudit(env).includes(VALUE), 'no value in the audit log');
  });

  it('approving command A for 15 min covers A; command B of the same program asks again', async () => {
    const A = 'console.log("A")';
    const B = 'console.log("B")';
    const first = runNode(A);
    ok(await approve(env, (await pendingOf(first)).id, '15m'), 'akc approve --for 15m');
    assert.equal((await first.exited).stdout, 'A\n');

    const again = runNode(A);
    const r = await again.exited;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'A\n');
    assert.doesNotMatch(r.stderr, /waiting for approval/, 'A is covered by the grant');

    const other = runNode(B);
    const p = await pendingOf(other);
    assert.deepEqual(p.command.argv, ['mynode', '-e', B], 'B asks, showing B');
    ok(await deny(env, p.id), 'akc deny');
    const rb = await other.exited;
    assert.notEqual(rb.code, 0);
    assert.equal(rb.stdout, '', 'B never ran');

    // `akc grants --json` shows the grant is bound to A.
    const grants = JSON.parse(ok(await akc(env, ['grants', '--json', '--password-stdin'], `${PASSWORD}\n`), 'akc grants').stdout).grants;
    const bound = grants.filter((g: Json) => g.scope === 'duration');
    assert.equal(bound.length, 1);
    assert.equal(bound[0].command.exe, NODE_REAL);
  });

  it('a command field from a program that is not akc run is refused: no approval, audited', async () => {
    const before = (await pendingApprovals(env)).length;
    const c = await RawClient.connect(env.socket);
    try {
      const r = await c.request('secret.getMany', {
        names: ['OPENAI_API_KEY'],
        command: { argv: ['git', 'status'], exe: '/usr/bin/git' },
      });
      assert.equal(r.error?.code, -32602, JSON.stringify(r));
      assert.equal(r.error.data.reason, 'INVALID_PARAMS');
      assert.match(r.error.message, /only `akc run` may name the command/);
      assert.equal(
        c.messages.some((m: Json) => m.method === 'approval.pending'),
        false,
        'nobody was asked',
      );
    } finally {
      c.close();
    }
    assert.equal((await pendingApprovals(env)).length, before);
    assert.match(auditRows(env, 'secret.deny').at(-1)!.reason ?? '', /command claim from a program that is not akc run/);
    // The same request without the field is an ordinary request (it waits for a human).
    const plain = await RawClient.connect(env.socket);
    try {
      await plain.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'secret.getMany', params: { names: ['OPENAI_API_KEY'] } }) + '\n');
      const pending = await plain.waitMessage((m: Json) => m.method === 'approval.pending', 'approval.pending');
      const listed = (await pendingApprovals(env)).find((a: Json) => a.id === pending.params.approvalId);
      assert.equal(listed.command, undefined);
      ok(await deny(env, pending.params.approvalId), 'akc deny');
    } finally {
      plain.close();
    }
  });
});

describe('MCP run_with_secrets: the command is marked as chosen by the agent', () => {
  let env: AkcEnv;
  let daemon: Daemon;
  let client: Client;

  before(async () => {
    env = await initVault({ OPENAI_API_KEY: VALUE });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [AKC_BIN, 'mcp'],
      env: env.env as Record<string, string>,
      stderr: 'pipe',
    });
    client = new Client({ name: 'akc-consent-e2e', version: '1.0.0' });
    await client.connect(transport);
  });
  after(async () => {
    await client?.close();
    await daemon?.stop();
  });

  it('the approval shows the agent’s command, its exe, and that the agent chose it', async () => {
    const from = daemon.log.text.length;
    const script = 'console.log(process.env.TOKEN.length)';
    const call = client.callTool(
      { name: 'run_with_secrets', arguments: { command: process.execPath, args: ['-e', script], env: { TOKEN: 'OPENAI_API_KEY' } } },
      undefined,
      { timeout: 60_000 },
    );
    const id = (await daemon.log.waitFor(/wants OPENAI_API_KEY.*\[(a_[0-9a-f]+)\]/, { from }))[1]!;
    const p = (await pendingApprovals(env)).find((a: Json) => a.id === id);
    assert.deepEqual(p.command, { argv: [process.execPath, '-e', script], exe: NODE_REAL, agentChosen: true });
    await daemon.log.waitFor(/command {2}.*-e 'console\.log\(process\.env\.TOKEN\.length\)' {2}⚠ CHOSEN BY THE AGENT/, { from });
    const table = ok(await akc(env, ['approvals']), 'akc approvals').stdout;
    assert.match(table, /\[chosen by the agent\]/);

    ok(await deny(env, id), 'akc deny');
    const r = (await call) as Json;
    assert.equal(r.isError, true);
    assert.equal(auditRows(env, 'approval.request').find((e) => e.reason === id)!.detail.agentChosen, true);
  });
});

// ------------------------------------------------------------------ the daemon's terminal

const haveTmux = spawnSync('tmux', ['-V']).status === 0;

/** `akc daemon` in a detached tmux pane: what a human would see is `tmux capture-pane`. */
class TmuxDaemon {
  private constructor(
    readonly socket: string,
    readonly rawFile: string,
  ) {}

  static async start(env: AkcEnv): Promise<TmuxDaemon> {
    const dir = tempDir('akc-tmux-');
    const t = new TmuxDaemon(path.join(dir, 'tmux.sock'), path.join(dir, 'raw.log'));
    const cmd = [process.execPath, AKC_BIN, 'daemon', '--approval-timeout', '120'].map(shellQuote).join(' ');
    t.tmux(['new-session', '-d', '-s', 'akc', '-x', '220', '-y', '50', cmd], env);
    t.tmux(['pipe-pane', '-o', '-t', 'akc', `cat >> ${shellQuote(t.rawFile)}`]);
    await t.waitScreen(/Master password to unlock the vault:/);
    t.tmux(['send-keys', '-t', 'akc', '-l', PASSWORD]);
    t.tmux(['send-keys', '-t', 'akc', 'Enter']);
    await t.waitScreen(/approval requests will be asked here/);
    return t;
  }

  tmux(args: string[], env?: AkcEnv): string {
    const r = spawnSync('tmux', ['-S', this.socket, ...args], {
      encoding: 'utf8',
      env: { ...(env?.env ?? process.env), TERM: 'xterm-256color' },
    });
    if (r.status !== 0) throw new Error(`tmux ${args[0]} failed: ${r.stderr}`);
    return r.stdout;
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-t', 'akc', '-S', '-']).replace(/\s+$/, '');
  }

  raw(): string {
    return fs.existsSync(this.rawFile) ? fs.readFileSync(this.rawFile, 'utf8') : '';
  }

  async waitScreen(re: RegExp): Promise<string> {
    const deadline = Date.now() + DEFAULT_WAIT_MS;
    for (;;) {
      const screen = this.screen();
      if (re.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} on the daemon's terminal:\n${screen.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  stop(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      // already gone
    }
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('the daemon terminal prompt shows the command, sanitised', { skip: haveTmux ? false : 'no tmux' }, () => {
  let env: AkcEnv;
  let tmux: TmuxDaemon;

  before(async () => {
    env = await initVault({ OPENAI_API_KEY: VALUE });
    tmux = await TmuxDaemon.start(env);
  });
  after(() => tmux?.stop());

  it('escape sequences in argv reach the terminal as visible escapes, never as themselves', async () => {
    // The spoof: erase the line, back to column 0, then an innocent-looking command.
    const spoof = 'x\x1b[2K\rcommand  ls -l\u202e';
    const run = Child.spawn(
      process.execPath,
      [AKC_BIN, 'run', '--env', 'K=OPENAI_API_KEY', '--', process.execPath, '-e', '1', spoof],
      env,
      {
        input: '',
      },
    );
    await run.stderr.waitFor(/request (a_[0-9a-f]+)/);
    const screen = await tmux.waitScreen(/\(Esc = deny\)/);
    const line = screen.split('\n').find((l) => l.startsWith('  command  '));
    assert.ok(line, screen);
    assert.ok(line.includes(`${process.execPath} -e 1 'x␛[2K␍command  ls -l\\u202e'`), line);
    assert.ok(screen.includes(`exe ${NODE_REAL} · gets the value`), screen);
    assert.ok(!screen.split('\n').some((l) => l.startsWith('command  ls -l')), 'no line was rewritten into the spoof');
    const raw = tmux.raw();
    const prompt = raw.slice(raw.lastIndexOf('wants OPENAI_API_KEY'));
    // The terminal driver turns LF into CRLF: line ends aside, no ESC, CR or bidi from argv.
    // eslint-disable-next-line no-control-regex -- the control characters are what is looked for
    assert.doesNotMatch(prompt.replace(/\r+\n/g, '\n'), /[\x1b\r\u202e]/);

    tmux.tmux(['send-keys', '-t', 'akc', 'Escape']);
    const r = await run.exited;
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /denied/);
  });
});
