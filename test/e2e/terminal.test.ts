/**
 * The daemon's terminal against a same-user adversary, for real: `akc daemon` runs in a
 * tmux pane (a real terminal emulator, so what a human would SEE is `tmux capture-pane`),
 * agents are real processes, and the adversary uses the same tools a prompt-injected
 * agent would have.
 *
 * - A script whose file name carries ESC [2K (erase line) and CR, and a purpose with a
 *   bidi override, used to rewrite the prompt ("claude ✓ known" over the real program)
 *   and `akc approvals`. Now they show up as visible escapes, the real program beside them.
 * - `tmux send-keys o` types into the daemon's terminal: without --approve-with-password
 *   that approves (the documented risk); with it, a key is not enough, a wrong password is
 *   audited and leaves the request pending, three deny it, and only the password allows.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { akc, AKC_BIN, PASSWORD, tempDir, type AkcEnv } from '../helpers/env.js';
import { Agent, AGENT_CLIENT, DEFAULT_WAIT_MS, initVault, ok, pendingApprovals, type AgentEvent, type Json } from '../helpers/daemon.js';

const haveTmux = spawnSync('tmux', ['-V']).status === 0;

/** The spoof: erase the line, back to column 0, then what the human should believe. */
const SPOOF = '\x1b[2K\rclaude ✓ known';
const SCRIPT_NAME = `x${SPOOF}.mjs`;
const PURPOSE = `fix tests\x1b[2K\r claude ✓ known \u202eevil\u202c\x9b2K`;

/** `akc daemon` in a detached tmux session on a private tmux server. */
class TmuxDaemon {
  private constructor(
    readonly socket: string,
    readonly rawFile: string,
  ) {}

  static async start(env: AkcEnv, flags: string[]): Promise<TmuxDaemon> {
    const dir = tempDir('akc-tmux-');
    const t = new TmuxDaemon(path.join(dir, 'tmux.sock'), path.join(dir, 'raw.log'));
    const cmd = [process.execPath, AKC_BIN, 'daemon', '--approval-timeout', '120', ...flags].map(shellQuote).join(' ');
    t.tmux(['new-session', '-d', '-s', 'akc', '-x', '200', '-y', '50', cmd], env);
    // Every byte the daemon writes to its terminal, as written (before the emulator).
    t.tmux(['pipe-pane', '-o', '-t', 'akc', `cat >> ${shellQuote(t.rawFile)}`]);
    await t.waitScreen(/Master password to unlock the vault:/);
    t.type(PASSWORD);
    t.keys('Enter');
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

  /** What the terminal shows (scrollback included), as a human would read it. */
  screen(): string {
    // Trailing blank rows trimmed, so the text only grows as the daemon writes (offsets stay valid).
    return this.tmux(['capture-pane', '-p', '-J', '-t', 'akc', '-S', '-']).replace(/\s+$/, '');
  }

  raw(): string {
    return fs.existsSync(this.rawFile) ? fs.readFileSync(this.rawFile, 'utf8') : '';
  }

  /** `tmux send-keys -l`: literal text typed into the pane, by anyone who can reach the tmux server. */
  type(text: string): void {
    this.tmux(['send-keys', '-t', 'akc', '-l', text]);
  }

  keys(...names: string[]): void {
    this.tmux(['send-keys', '-t', 'akc', ...names]);
  }

  /** Re-reads the screen until `re` matches after `from` characters (no sleeps-as-assertions: a deadline only). */
  async waitScreen(re: RegExp, from = 0): Promise<string> {
    const deadline = Date.now() + DEFAULT_WAIT_MS;
    for (;;) {
      const screen = this.screen();
      if (re.test(screen.slice(from))) return screen;
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

/** An agent whose script file name is the spoof; it runs the SDK test agent. */
function spoofingAgent(env: AkcEnv, names: string[], purpose = PURPOSE): Agent {
  const dir = tempDir('akc-spoof-');
  const script = path.join(dir, SCRIPT_NAME);
  fs.writeFileSync(script, `await import(${JSON.stringify(pathToFileURL(AGENT_CLIENT).href)});\n`);
  const proc = spawn(process.execPath, [script, '--purpose', purpose, ...names], { env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Agent(proc);
}

function plainAgent(env: AkcEnv, names: string[]): Agent {
  const proc = spawn(process.execPath, [AGENT_CLIENT, ...names], { env: env.env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Agent(proc);
}

function outcome(events: AgentEvent[]): AgentEvent {
  const e = events.find((x) => x.ev === 'value' || x.ev === 'error');
  assert.ok(e, `no outcome in ${JSON.stringify(events)}`);
  return e;
}

// eslint-disable-next-line no-control-regex -- the control characters are what is looked for
const UNSAFE_OUT = /[\x1b\r\u202e\u202c\u009b]/;

describe('untrusted strings on the daemon terminal and in akc approvals', { skip: haveTmux ? false : 'no tmux' }, () => {
  let env: AkcEnv;
  let tmux: TmuxDaemon;

  before(async () => {
    env = await initVault({ TERM_KEY: 'term-value', SEND_KEYS: 'send-keys-value', ALWAYS_KEY: 'always-value' });
    tmux = await TmuxDaemon.start(env, []);
  });
  after(() => tmux?.stop());

  it('akc approvals: no ESC, CR or bidi control in the output, and the real program is shown', async () => {
    const agent = spoofingAgent(env, ['TERM_KEY']);
    const pending = await agent.pending();

    const r = ok(await akc(env, ['approvals']), 'akc approvals');
    assert.doesNotMatch(r.stdout, UNSAFE_OUT, 'a control character reached the terminal');
    const row = r.stdout.split('\n').find((l) => l.startsWith(pending.approvalId!));
    assert.ok(row, r.stdout);
    assert.ok(row.includes(`node x␛[2K␍claude ✓ known.mjs`), `the label shows the escapes: ${row}`);
    assert.ok(row.includes(process.execPath), 'the real executable is shown');
    assert.ok(row.includes('fix tests␛[2K␍ claude ✓ known \\u202eevil\\u202c\\x9b2K'), `the purpose is escaped: ${row}`);

    // --json keeps the exact data (JSON escapes are lossless) and stays inert too.
    const json = ok(await akc(env, ['approvals', '--json']), 'akc approvals --json');
    assert.doesNotMatch(json.stdout, UNSAFE_OUT);
    const listed = (JSON.parse(json.stdout) as { approvals: Json[] }).approvals.find((a: Json) => a.id === pending.approvalId);
    assert.equal(listed.purpose, PURPOSE);

    // The daemon's prompt, as the terminal renders it.
    const screen = await tmux.waitScreen(/\(Esc = deny\)/);
    assert.match(screen, /program {2}.*node.*x␛\[2K␍claude ✓ known\.mjs {3}● new program/, 'the program line shows the escaped name');
    assert.ok(
      !screen.split('\n').some((l) => l.startsWith('claude ✓ known')),
      `no line of the screen was rewritten into the spoof:\n${screen}`,
    );
    assert.match(screen, /purpose {2}"fix tests␛\[2K␍ claude ✓ known \\u202eevil\\u202c\\x9b2K" {2}\(claimed by the agent\)/);
    // What the daemon wrote to its terminal carries none of the agent's control characters.
    const prompt = tmux.raw().slice(tmux.raw().lastIndexOf('wants TERM_KEY'));
    // The terminal driver turns each LF into CRLF, so "\r\n" arrives as "\r\r\n": line ends aside, no CR.
    // eslint-disable-next-line no-control-regex -- the control characters are what is looked for
    assert.doesNotMatch(prompt.replace(/\r+\n/g, '\n'), /[\x1b\r\u202e\u009b]/, 'no ESC, CR, bidi or C1 from the agent');

    tmux.keys('Escape');
    const e = outcome(await agent.done());
    assert.equal(e.reason, 'DENIED');
  });

  it('without --approve-with-password, `tmux send-keys o` approves (the risk the README names)', async () => {
    const from = tmux.screen().length;
    const agent = plainAgent(env, ['SEND_KEYS']);
    await agent.pending();
    await tmux.waitScreen(/wants SEND_KEYS[\s\S]*\(Esc = deny\)/, from);
    tmux.type('o'); // an agent's `tmux send-keys -t <pane> o`
    const e = outcome(await agent.done());
    assert.equal(e.ev, 'value');
    assert.equal(e.value, 'send-keys-value');
  });

  it('"always" asks for the password: Ctrl-C there cancels the prompt, not the daemon; a wrong password is audited', async () => {
    const from = tmux.screen().length;
    const agent = plainAgent(env, ['ALWAYS_KEY']);
    const pending = await agent.pending();
    await tmux.waitScreen(/wants ALWAYS_KEY[\s\S]*\(Esc = deny\)/, from);
    tmux.type('a');
    await tmux.waitScreen(/master password \(not echoed\):/, from);
    tmux.type('half-typed');
    tmux.keys('C-c');
    await tmux.waitScreen(/cancelled \(Ctrl-C again stops the daemon\)/, from);
    // The daemon still serves, and the request still waits for a key.
    ok(await akc(env, ['status']), 'akc status');
    assert.deepEqual(
      (await pendingApprovals(env)).map((a: Json) => a.id),
      [pending.approvalId],
    );
    const mark = tmux.screen().length;
    tmux.type('a');
    await tmux.waitScreen(/master password \(not echoed\):/, mark);
    tmux.type('wrong-guess');
    tmux.keys('Enter');
    await tmux.waitScreen(/wrong master password/, mark);
    const audit = JSON.parse(ok(await akc(env, ['audit', '--json', '--limit', '1000']), 'akc audit').stdout) as { entries: Json[] };
    const failed = audit.entries.filter((x: Json) => x.event === 'approval.password');
    assert.equal(failed.length, 1, 'the wrong password is on the record');
    assert.equal(failed[0].decision, 'failed');
    assert.equal(failed[0].detail.approval, pending.approvalId);
    assert.ok(!JSON.stringify(audit).includes('wrong-guess') && !JSON.stringify(audit).includes('half-typed'), 'never the typed text');
    assert.equal(
      agent.events().some((x) => x.ev === 'value'),
      false,
      'nothing was allowed',
    );
    tmux.keys('Escape');
    assert.equal(outcome(await agent.done()).reason, 'DENIED');
    assert.ok(!tmux.screen().includes('wrong-guess'), 'not echoed');
  });
});

describe('akc daemon --approve-with-password', { skip: haveTmux ? false : 'no tmux' }, () => {
  let env: AkcEnv;
  let tmux: TmuxDaemon;

  before(async () => {
    env = await initVault({ PW_KEY: 'pw-value', PW_DENY: 'pw-deny-value', PW_OK: 'pw-ok-value' });
    tmux = await TmuxDaemon.start(env, ['--approve-with-password']);
    await tmux.waitScreen(/allowing needs the master password/);
  });
  after(() => tmux?.stop());

  async function auditEvents(event: string): Promise<Json[]> {
    const r = ok(await akc(env, ['audit', '--json', '--limit', '1000']), 'akc audit');
    return (JSON.parse(r.stdout) as { entries: Json[] }).entries.filter((e: Json) => e.event === event);
  }

  it('a typed key asks for the password; wrong passwords are audited, the request stays pending, then is denied', async () => {
    const from = tmux.screen().length;
    const agent = plainAgent(env, ['PW_KEY']);
    const pending = await agent.pending();
    await tmux.waitScreen(/wants PW_KEY[\s\S]*\(Esc = deny\)/, from);

    for (let attempt = 1; attempt <= 3; attempt++) {
      const mark = tmux.screen().length;
      tmux.type('o');
      await tmux.waitScreen(/master password \(not echoed\):/, mark);
      tmux.type(`guess-${attempt}`);
      tmux.keys('Enter');
      await tmux.waitScreen(/wrong master password: nothing was allowed/, mark);
      const failed = await auditEvents('approval.password');
      assert.equal(failed.length, attempt, 'every wrong password is on the record');
      assert.equal(failed.at(-1).decision, 'failed');
      assert.equal(failed.at(-1).detail.approval, pending.approvalId);
      assert.ok(!JSON.stringify(failed).includes(`guess-${attempt}`), 'the guess itself is never recorded');
      if (attempt < 3) {
        assert.deepEqual(
          (await pendingApprovals(env)).map((a: Json) => a.id),
          [pending.approvalId],
          'still pending',
        );
        assert.equal(
          agent.events().some((e) => e.ev === 'value'),
          false,
        );
      }
    }
    await tmux.waitScreen(/3 wrong passwords: denied/, from);
    const e = outcome(await agent.done());
    assert.equal(e.ev, 'error');
    assert.equal(e.reason, 'DENIED');
    assert.ok(!tmux.screen().includes('guess-'), 'the password prompt does not echo');
  });

  it('deny stays one key (it only takes access away)', async () => {
    const from = tmux.screen().length;
    const agent = plainAgent(env, ['PW_DENY']);
    await agent.pending();
    await tmux.waitScreen(/wants PW_DENY[\s\S]*\(Esc = deny\)/, from);
    tmux.type('d');
    const e = outcome(await agent.done());
    assert.equal(e.reason, 'DENIED');
  });

  it('the human who knows the password allows', async () => {
    const from = tmux.screen().length;
    const agent = plainAgent(env, ['PW_OK']);
    await agent.pending();
    await tmux.waitScreen(/wants PW_OK[\s\S]*\(Esc = deny\)/, from);
    tmux.type('o');
    await tmux.waitScreen(/master password \(not echoed\):/, from);
    tmux.type(PASSWORD);
    tmux.keys('Enter');
    const e = outcome(await agent.done());
    assert.equal(e.ev, 'value');
    assert.equal(e.value, 'pw-ok-value');
    await tmux.waitScreen(/allowed once/, from);
    assert.ok(!tmux.screen().includes(PASSWORD), 'not echoed');
  });
});
