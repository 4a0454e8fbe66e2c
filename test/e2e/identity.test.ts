/**
 * Who is asking comes from the kernel (DESIGN §5): a peer of another uid is refused, and a
 * grant stops applying when the program's executable changes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type AkcEnv } from '../helpers/env.js';
import { approve, Child, Daemon, deny, initVault, ok, pendingApprovals, RAW_PEER, rpc, startAgent, type Json } from '../helpers/daemon.js';

/** A directory every user can enter (mkdtemp makes 0700 ones), removed at exit. */
function publicDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-e2e-public-'));
  fs.chmodSync(dir, 0o755);
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** This node binary at `dest`: a hard link when possible (cheap), else a copy. */
function placeNode(dest: string, opts: { copy?: boolean } = {}): void {
  if (!opts.copy) {
    try {
      fs.linkSync(process.execPath, dest);
      return;
    } catch {
      // another filesystem: copy
    }
  }
  fs.copyFileSync(process.execPath, dest);
  fs.chmodSync(dest, 0o755);
}

const NOBODY = 65534;
const canSwitchUser = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

describe(
  'a peer running as another user',
  { skip: canSwitchUser ? false : 'needs root and setpriv (util-linux) to run a client as another uid' },
  () => {
    let env: AkcEnv;
    let daemon: Daemon;
    let dir: string;
    let link: string;

    before(async () => {
      env = await initVault({ OTHER_UID_KEY: 'other-uid-value' });
      daemon = await Daemon.start(env);
      // The host keeps its socket in a 0700 dir as a 0600 file. A hard link in an open dir,
      // and the inode made 0666, let the other user reach it: only the uid check is left.
      dir = publicDir();
      link = path.join(dir, 'agent.sock');
      fs.linkSync(env.socket, link);
      fs.chmodSync(link, 0o666);
      placeNode(path.join(dir, 'node'));
      fs.copyFileSync(RAW_PEER, path.join(dir, 'raw-peer.js'));
      fs.chmodSync(path.join(dir, 'raw-peer.js'), 0o644);
    });
    after(async () => {
      await daemon?.stop();
    });

    async function runPeer(asOtherUser: boolean): Promise<Json> {
      // The control only says hello; the other user also asks for the secret.
      const cmd = [path.join(dir, 'node'), path.join(dir, 'raw-peer.js'), link, ...(asOtherUser ? ['OTHER_UID_KEY'] : [])];
      const args = asOtherUser ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...cmd] : cmd;
      const child = Child.spawn(
        asOtherUser ? 'setpriv' : cmd[0]!,
        asOtherUser ? args : cmd.slice(1),
        { ...env, env: { PATH: '/usr/bin:/bin' } },
        {
          cwd: dir,
          input: '',
        },
      );
      const r = await child.exited;
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout);
    }

    it('the same user reaches the host through the link (control)', async () => {
      const summary = await runPeer(false);
      assert.equal(summary.connected, true);
      assert.equal(summary.lines.length, 1);
      const hello = JSON.parse(summary.lines[0]);
      assert.equal(hello.id, 1);
      assert.equal(hello.result.protocol, 1);
    });

    it('is refused by uid: an error line with DENIED, then the connection closes; the host keeps serving', async () => {
      const from = daemon.log.text.length;
      const summary = await runPeer(true);
      assert.equal(summary.connected, true, 'the socket file let it connect; the refusal is the host’s');
      assert.equal(summary.closed, true);
      const messages = summary.lines.map((l: string) => JSON.parse(l));
      assert.ok(messages.length <= 1, `at most the refusal: ${summary.lines}`);
      for (const m of messages) {
        assert.equal(m.id, null);
        assert.equal(m.error.code, -32002);
        assert.equal(m.error.data.reason, 'DENIED');
        assert.equal('result' in m, false);
      }
      assert.ok(!summary.lines.join('').includes('other-uid-value'));
      await daemon.log.waitFor(new RegExp(`refused a connection from pid \\d+: uid ${NOBODY} is not ours`), { from });

      assert.equal(daemon.running, true);
      assert.equal((await rpc(env.socket, 'status')).result.vault, 'unlocked');
      assert.deepEqual(await pendingApprovals(env), [], 'the refused peer queued nothing');
    });
  },
);

describe('a grant stops applying when the executable changes', () => {
  let env: AkcEnv;
  let daemon: Daemon;
  let node: string;

  before(async () => {
    env = await initVault({ HASHED_KEY: 'hashed-value' });
    daemon = await Daemon.start(env, { approvalTimeout: 60 });
    node = path.join(publicDir(), 'node');
    placeNode(node, { copy: true });
  });
  after(async () => {
    await daemon?.stop();
  });

  it('"always" for a program holds until one byte of its executable changes', async () => {
    const first = startAgent(env, ['HASHED_KEY'], { node });
    const pending = await first.pending();
    const [listed] = await pendingApprovals(env);
    assert.equal(listed.exe, node, 'the executable as the kernel reports it');
    assert.equal(listed.badge, 'new');
    ok(await approve(env, pending.approvalId!, 'always'), 'akc approve --always');
    const events = await first.done();
    assert.equal(events.find((e) => e.ev === 'hello')!.exe, node);
    assert.equal(events.find((e) => e.ev === 'value')!.value, 'hashed-value');

    const again = await startAgent(env, ['HASHED_KEY'], { node }).done();
    assert.deepEqual(
      again.filter((e) => e.ev !== 'hello' && e.ev !== 'done').map((e) => e.ev),
      ['value'],
      'same binary: the grant applies',
    );

    // Same path, new content: its SHA-256 changes.
    fs.appendFileSync(node, Buffer.from([0]));
    const changed = startAgent(env, ['HASHED_KEY'], { node });
    const asked = await changed.pending();
    const [relisted] = await pendingApprovals(env);
    assert.equal(relisted.id, asked.approvalId);
    assert.equal(relisted.badge, 'changed');
    assert.notEqual(relisted.exeSha256, listed.exeSha256);
    ok(await deny(env, asked.approvalId!), 'akc deny');
    const events3 = (await changed.done()).filter((e) => e.ev === 'value' || e.ev === 'error');
    assert.deepEqual(
      events3.map((e) => [e.ev, e.reason]),
      [['error', 'DENIED']],
    );
  });
});
