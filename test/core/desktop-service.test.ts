/**
 * DesktopService against real parts: a vault.db in a temp dir, real Argon2 (weak test
 * parameters), the real OS keychain when scripts/with-keyring.sh runs one, the real agent
 * socket, and agents that are real child processes using the SDK. Every call goes through
 * `dispatch`, as the Electron IPC and the test bridge do.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import type { ApprovalView, ContractError, EventName, EventPayloads } from '../../src/shared/contract.js';
import { DesktopService } from '../../src/core/desktop/service.js';
import type { ClipboardPort, SaveDialogPort } from '../../src/core/desktop/ports.js';
import { NapiKeychain } from '../../src/core/keychain/napi-keychain.js';
import type { KeychainPort } from '../../src/core/keychain/port.js';
import { socketIsLive } from '../../src/core/server/socket-file.js';
import { keyringAvailable, PASSWORD, ROOT, tempDir } from '../helpers/env.js';

const SDK_URL = pathToFileURL(path.join(ROOT, 'dist/src/sdk/index.js')).href;
const VALUE = 'sk-test-9f8e7d6c5b4a';

class TestClipboard implements ClipboardPort {
  text = '';
  clears = 0;
  writeText(t: string): void {
    this.text = t;
  }
  readText(): Promise<string> {
    return Promise.resolve(this.text);
  }
  clear(): void {
    this.text = '';
    this.clears += 1;
  }
}

class TestSaveDialog implements SaveDialogPort {
  answer: string | null = null;
  chooseSavePath(): Promise<string | null> {
    return Promise.resolve(this.answer);
  }
}

/** A keychain that is not there (when no test keyring runs). */
const noKeychain: KeychainPort = {
  description: 'none',
  get: () => Promise.reject(new Error('no keychain')),
  set: () => Promise.reject(new Error('no keychain')),
  delete: () => Promise.resolve(false),
};

/** Calls a verb; on failure returns the ContractError instead of throwing. */
async function call(svc: DesktopService, verb: string, input: unknown = {}): Promise<unknown> {
  return svc.dispatch(verb as never, input);
}

async function fails(p: Promise<unknown>, code: string, message?: RegExp): Promise<ContractError> {
  try {
    await p;
  } catch (err) {
    const e = err as ContractError;
    assert.ok(!(err instanceof Error), 'a plain object, not an Error');
    assert.deepEqual(
      Object.keys(e).filter((k) => !['code', 'message', 'hint'].includes(k)),
      [],
      'only code, message and hint',
    );
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected ${code}`);
}

/** Collects a service's events. */
function recorder(svc: DesktopService) {
  const seen: { [E in EventName]: EventPayloads[E][] } = {
    stateChanged: [],
    approvalsChanged: [],
    activityAppended: [],
    secretsChanged: [],
  };
  for (const name of Object.keys(seen) as EventName[]) {
    (svc.on as (n: string, l: (p: unknown) => void) => unknown).call(svc, name, (p: unknown) => {
      (seen[name] as unknown[]).push(p);
    });
  }
  return seen;
}

function waitFor<E extends EventName>(
  svc: DesktopService,
  name: E,
  pred: (p: EventPayloads[E]) => boolean,
  ms = 10_000,
): Promise<EventPayloads[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${name}`)), ms);
    const listener = (p: EventPayloads[E]): void => {
      if (!pred(p)) return;
      clearTimeout(timer);
      svc.off(name, listener as never);
      resolve(p);
    };
    svc.on(name, listener as never);
  });
}

interface AgentRun {
  pid: number;
  /** kill -9 while it waits: its connection closes with no goodbye. */
  kill: () => void;
  script: string;
  pending: Promise<string>;
  result: Promise<{ value?: string; version?: number; error?: string }>;
}

/** A real agent: a node child process using the SDK over the real socket. */
function runAgent(dir: string, socketPath: string, secret: string, purpose: string): AgentRun {
  const script = path.join(dir, 'agent.mjs');
  if (!fs.existsSync(script)) {
    fs.writeFileSync(
      script,
      `import { connect } from ${JSON.stringify(SDK_URL)};
const [socketPath, name, purpose] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const c = await connect({ socketPath });
try {
  const r = await c.getSecret(name, { purpose, onPending: (p) => out({ pending: p.approvalId }) });
  out({ value: r.value, version: r.version });
} catch (e) {
  out({ error: e.code });
}
await c.close();
`,
    );
  }
  const child = spawn(process.execPath, [script, socketPath, secret, purpose], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  let onPending!: (id: string) => void;
  let onResult!: (r: { value?: string; error?: string }) => void;
  const pending = new Promise<string>((r) => (onPending = r));
  const result = new Promise<{ value?: string; error?: string }>((r) => (onResult = r));
  lines.on('line', (line) => {
    const msg = JSON.parse(line) as { pending?: string; value?: string; error?: string };
    if (msg.pending) onPending(msg.pending);
    else onResult(msg);
  });
  child.on('exit', () => onResult({ error: 'EXITED' }));
  return { pid: child.pid!, kill: () => child.kill('SIGKILL'), script, pending, result };
}

describe('DesktopService against a real host', () => {
  const dir = tempDir('akc-desktop-');
  const dataDir = path.join(dir, 'home');
  const socketPath = path.join(dir, 'run', 'agent.sock');
  const useKeychain = keyringAvailable();
  const keychain: KeychainPort = useKeychain ? new NapiKeychain(`akc-test-desktop-${randomUUID()}`) : noKeychain;
  const clipboard = new TestClipboard();
  const saveDialog = new TestSaveDialog();
  let svc: DesktopService;
  let seen: ReturnType<typeof recorder>;
  let quit = 0;

  before(async () => {
    svc = new DesktopService({
      dataDir,
      socketPath,
      keychain,
      clipboard,
      saveDialog,
      clipboardClearMs: 300,
      activityPollMs: 100,
      onQuit: () => (quit += 1),
    });
    seen = recorder(svc);
    await svc.start({ unlockWithKeychain: true });
  });

  after(async () => {
    await svc.close();
  });

  test('before setup: no vault, verbs that need one say so, inputs are validated', async () => {
    const state = (await call(svc, 'getAppState')) as { vault: string; hostConflict: string | null; socketPath: string };
    assert.equal(state.vault, 'uninitialized');
    assert.equal(state.hostConflict, null);
    assert.equal(state.socketPath, socketPath);
    await fails(call(svc, 'listSecrets'), 'NOT_INITIALIZED');
    await fails(call(svc, 'unlock', { password: PASSWORD }), 'NOT_INITIALIZED');
    await fails(call(svc, 'setupVault', { password: PASSWORD }), 'INVALID_ARGUMENT', /malformed setupVault input: keychain/);
    await fails(call(svc, 'getAppState', { extra: 1 }), 'INVALID_ARGUMENT');
    await fails(call(svc, 'nope'), 'INVALID_ARGUMENT', /unknown verb/);
    await fails(call(svc, '__proto__'), 'INVALID_ARGUMENT', /unknown verb/);
    await fails(call(svc, 'setupVault', { password: 'short', keychain: false }), 'INVALID_ARGUMENT', /at least 8 characters/);
    const settings = (await call(svc, 'getSettings')) as { autoLockMinutes: number; approvalTimeoutSeconds: number };
    assert.equal(settings.approvalTimeoutSeconds, 60);
    assert.equal(await socketIsLive(socketPath), false, 'no socket before a vault exists');
  });

  test('setupVault creates the vault, opens the host, serves the socket, and unlocks', async () => {
    const state = (await call(svc, 'setupVault', { password: PASSWORD, keychain: useKeychain })) as {
      vault: string;
      keychainUnlock: boolean;
    };
    assert.equal(state.vault, 'unlocked');
    assert.equal(state.keychainUnlock, useKeychain);
    assert.equal(await socketIsLive(socketPath), true);
    assert.ok(seen.stateChanged.some((s) => s.vault === 'unlocked'));
    await fails(call(svc, 'setupVault', { password: PASSWORD, keychain: false }), 'ALREADY_INITIALIZED');
  });

  test('lock, wrong password, right password, keychain unlock', async () => {
    assert.equal(((await call(svc, 'lock', {})) as { vault: string }).vault, 'locked');
    await fails(call(svc, 'listSecrets'), 'LOCKED');
    await fails(call(svc, 'queryActivity', {}), 'LOCKED');
    await fails(call(svc, 'unlock', { password: 'not the password' }), 'WRONG_PASSWORD');
    assert.equal(((await call(svc, 'unlock', { password: PASSWORD })) as { vault: string }).vault, 'unlocked');
    if (useKeychain) {
      await call(svc, 'lock', {});
      assert.equal(((await call(svc, 'unlockWithKeychain')) as { vault: string }).vault, 'unlocked');
    } else {
      await call(svc, 'lock', {});
      await fails(call(svc, 'unlockWithKeychain'), 'LOCKED', /keychain unlock is off/);
      await call(svc, 'unlock', { password: PASSWORD });
    }
  });

  test('secrets: save, update metadata, new version, detail, reveal, copy (cleared after), delete', async () => {
    const changes = seen.secretsChanged.length;
    assert.deepEqual(await call(svc, 'saveSecret', { name: 'OPENAI_API_KEY', type: 'api_key', description: 'evals', value: VALUE }), {
      name: 'OPENAI_API_KEY',
      version: 1,
    });
    assert.ok(seen.secretsChanged.length > changes);
    await fails(call(svc, 'saveSecret', { name: 'NEW_ONE', type: 'token', description: '' }), 'INVALID_ARGUMENT', /needs a value/);
    const bad = await fails(
      call(svc, 'saveSecret', { name: 'bad name!', type: 'token', description: '', value: VALUE }),
      'INVALID_ARGUMENT',
    );
    assert.ok(!bad.message.includes(VALUE), 'no value in errors');
    assert.deepEqual(
      await call(svc, 'saveSecret', { name: 'OPENAI_API_KEY', type: 'api_key', description: 'eval suite', tags: ['ml'] }),
      { name: 'OPENAI_API_KEY', version: 1 },
      'metadata only keeps the version',
    );
    assert.deepEqual(
      await call(svc, 'saveSecret', { name: 'OPENAI_API_KEY', type: 'api_key', description: 'eval suite', value: VALUE + '-2' }),
      {
        name: 'OPENAI_API_KEY',
        version: 2,
      },
    );
    const rows = (await call(svc, 'listSecrets')) as {
      name: string;
      description: string;
      tags: string[];
      currentVersion: number;
      lastUsedAt: number | null;
      usedBy: string[];
    }[];
    assert.equal(rows.length, 1);
    assert.deepEqual(
      {
        name: rows[0]!.name,
        description: rows[0]!.description,
        tags: rows[0]!.tags,
        v: rows[0]!.currentVersion,
        last: rows[0]!.lastUsedAt,
        by: rows[0]!.usedBy,
      },
      { name: 'OPENAI_API_KEY', description: 'eval suite', tags: ['ml'], v: 2, last: null, by: [] },
    );
    assert.ok(!JSON.stringify(rows).includes(VALUE), 'listing never carries a value');
    const detail = (await call(svc, 'getSecretDetail', { name: 'OPENAI_API_KEY' })) as { versions: { version: number; state: string }[] };
    assert.deepEqual(
      detail.versions.map((v) => [v.version, v.state]),
      [
        [2, 'current'],
        [1, 'previous'],
      ],
    );
    await fails(call(svc, 'getSecretDetail', { name: 'MISSING' }), 'NOT_FOUND');

    assert.deepEqual(await call(svc, 'revealSecret', { name: 'OPENAI_API_KEY' }), {
      name: 'OPENAI_API_KEY',
      version: 2,
      value: VALUE + '-2',
    });
    assert.deepEqual(await call(svc, 'revealSecret', { name: 'OPENAI_API_KEY', version: 1 }), {
      name: 'OPENAI_API_KEY',
      version: 1,
      value: VALUE,
    });

    // Copy: on the clipboard, cleared after the delay if it is still there.
    assert.deepEqual(await call(svc, 'copySecret', { name: 'OPENAI_API_KEY' }), { name: 'OPENAI_API_KEY', clearsInSeconds: 0 });
    assert.equal(clipboard.text, VALUE + '-2');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(clipboard.text, '');
    assert.equal(clipboard.clears, 1);
    // Something else copied meanwhile: left alone.
    await call(svc, 'copySecret', { name: 'OPENAI_API_KEY', version: 1 });
    clipboard.text = 'the user copied this';
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(clipboard.text, 'the user copied this');
    assert.equal(clipboard.clears, 1);
    // Locking clears a copied value at once.
    await call(svc, 'copySecret', { name: 'OPENAI_API_KEY' });
    await call(svc, 'lock', {});
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(clipboard.text, '');
    await call(svc, 'unlock', { password: PASSWORD });

    await call(svc, 'saveSecret', { name: 'TEMP', type: 'generic', description: '', value: 'x' });
    assert.deepEqual(await call(svc, 'deleteSecret', { name: 'TEMP' }), { name: 'TEMP' });
    await fails(call(svc, 'deleteSecret', { name: 'TEMP' }), 'NOT_FOUND');
    const events = (await call(svc, 'queryActivity', { text: 'OPENAI_API_KEY' })) as { entries: { event: string }[] };
    const names = events.entries.map((e) => e.event);
    assert.ok(names.includes('secret.reveal') && names.includes('secret.copy'), 'reveals and copies are audited');
  });

  test('lifecycle verbs: badges and schedule, rotate with a value (manual), alerts, guard settings need the password', async () => {
    await call(svc, 'saveSecret', { name: 'ROTATE_ME', type: 'token', description: '', value: 'first-value-123456' });
    const view = (await call(svc, 'getLifecycle')) as {
      secrets: { name: string; badge: unknown }[];
      alerts: unknown[];
      guard: { key: string }[];
    };
    assert.ok(view.secrets.some((s) => s.name === 'ROTATE_ME'));
    assert.ok(view.guard.length > 0, 'guard settings are listed');
    assert.ok(!JSON.stringify(view).includes('first-value-123456'), 'no value in the lifecycle view');
    const rotated = (await call(svc, 'rotateSecret', { name: 'ROTATE_ME', value: 'second-value-654321' })) as {
      kind: string;
      version: number;
    };
    assert.deepEqual(rotated, { kind: 'rotated', name: 'ROTATE_ME', version: 2 });
    const detail = (await call(svc, 'getSecretDetail', { name: 'ROTATE_ME' })) as { versions: { version: number; state: string }[] };
    assert.deepEqual(
      detail.versions.map((v) => [v.version, v.state]),
      [
        [2, 'current'],
        [1, 'previous'],
      ],
    );
    const key = view.guard[0]!.key;
    await fails(call(svc, 'setGuardSetting', { key, value: '9', password: 'not the password' }), 'WRONG_PASSWORD');
    assert.deepEqual(await call(svc, 'clearAlert', { all: true }), { cleared: 0 });
    await call(svc, 'deleteSecret', { name: 'ROTATE_ME' });
  });

  test('approvals from a real agent process: pending view, allow once, deny, block, unblock', async () => {
    const run = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'run the eval suite');
    const approvalId = await run.pending;
    const views = (await call(svc, 'listApprovals')) as ApprovalView[];
    const view = views.find((v) => v.id === approvalId)!;
    assert.ok(view, 'listed');
    assert.equal(view.pid, run.pid, 'the pid from the kernel');
    assert.equal(view.exe, fs.realpathSync(process.execPath));
    assert.equal(view.script, run.script);
    assert.match(view.exeSha256 ?? '', /^[0-9a-f]{64}$/);
    assert.equal(view.uid, process.getuid!());
    assert.deepEqual(view.secrets, ['OPENAI_API_KEY']);
    assert.equal(view.purpose, 'run the eval suite');
    assert.equal(view.badge, 'new');
    assert.equal(view.needsUnlock, false);
    assert.ok(view.parents.length > 0 && view.parents[0]!.pid === process.pid, 'the parent chain starts at the test');
    assert.ok(view.expiresAt > view.createdAt);
    assert.ok(seen.approvalsChanged.some((list) => list.some((a) => a.id === approvalId)));
    assert.equal(((await call(svc, 'getAppState')) as { pendingApprovals: number }).pendingApprovals, 1);

    await fails(call(svc, 'decideApproval', { approvalId, allow: true, scope: 'always', block: false }), 'WRONG_PASSWORD');
    await fails(call(svc, 'decideApproval', { approvalId, allow: true, scope: 'once', block: true }), 'INVALID_ARGUMENT');
    await fails(call(svc, 'decideApproval', { approvalId: 'a_nope', allow: true, scope: 'once', block: false }), 'NOT_FOUND');
    assert.deepEqual(await call(svc, 'decideApproval', { approvalId, allow: true, scope: 'once', block: false }), { approvalId });
    assert.deepEqual(await run.result, { value: VALUE + '-2', version: 2 });
    const emptied = (await call(svc, 'listApprovals')) as ApprovalView[];
    assert.equal(emptied.length, 0);

    // Usage shows up in the list.
    const rows = (await call(svc, 'listSecrets')) as { lastUsedAt: number | null; usedBy: string[] }[];
    assert.ok(rows[0]!.lastUsedAt !== null);
    assert.deepEqual(rows[0]!.usedBy, [`node ${path.basename(run.script)}`]);

    // Deny.
    const denied = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'again');
    const id2 = await denied.pending;
    assert.equal(((await call(svc, 'listApprovals')) as ApprovalView[])[0]!.badge, 'known', 'approved before with this hash');
    await call(svc, 'decideApproval', { approvalId: id2, allow: false, scope: 'once', block: false });
    assert.deepEqual(await denied.result, { error: 'DENIED' });

    // Deny & block: the next request is refused without a prompt.
    const blocked = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'once more');
    await call(svc, 'decideApproval', { approvalId: await blocked.pending, allow: false, scope: 'once', block: true });
    assert.deepEqual(await blocked.result, { error: 'DENIED' });
    const after = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'blocked?');
    assert.deepEqual(await after.result, { error: 'DENIED' });
    const grants = (await call(svc, 'listGrants')) as { id: string; effect: string; secretPattern: string; requester: string }[];
    const block = grants.find((g) => g.effect === 'deny')!;
    assert.equal(block.secretPattern, '**');
    assert.equal(block.requester, `node ${path.basename(run.script)}`, 'labelled with the program it blocks');
    assert.deepEqual(await call(svc, 'revokeGrant', { id: block.id }), { id: block.id, revoked: true });
    assert.deepEqual(await call(svc, 'revokeGrant', { id: block.id }), { id: block.id, revoked: false });
    await fails(call(svc, 'revokeGrant', { id: 'g_nope' }), 'NOT_FOUND');

    // Block again, from its entry in the activity log.
    const page = (await call(svc, 'queryActivity', { decision: 'deny' })) as { entries: { seq: number; event: string }[] };
    const revokeEntry = page.entries.find((e) => e.event === 'grant.revoke')!;
    await fails(call(svc, 'blockRequester', { auditSeq: revokeEntry.seq }), 'INVALID_ARGUMENT', /not a request/);
    const denyEntry = page.entries.find((e) => e.event === 'secret.deny')!;
    const blockedAgain = (await call(svc, 'blockRequester', { auditSeq: denyEntry.seq })) as { effect: string; requester: string };
    assert.equal(blockedAgain.requester, `node ${path.basename(run.script)}`);
    assert.equal(blockedAgain.effect, 'deny');
    assert.deepEqual(await runAgent(dir, socketPath, 'OPENAI_API_KEY', 'x').result, { error: 'DENIED' });
    const blockGrant = ((await call(svc, 'listGrants')) as { id: string; effect: string }[]).find((g) => g.effect === 'deny')!;
    await call(svc, 'revokeGrant', { id: blockGrant.id });
  });

  test('while locked, a request asks for unlock + approval; the password unlocks and allows', async () => {
    await call(svc, 'lock', {});
    const run = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'locked');
    const approvalId = await run.pending;
    const view = ((await call(svc, 'listApprovals')) as ApprovalView[]).find((v) => v.id === approvalId)!;
    assert.equal(view.needsUnlock, true);
    await fails(call(svc, 'decideApproval', { approvalId, allow: true, scope: 'once', block: false }), 'WRONG_PASSWORD');
    await fails(
      call(svc, 'decideApproval', { approvalId, allow: true, scope: 'once', block: false, password: 'wrong password' }),
      'WRONG_PASSWORD',
    );
    await call(svc, 'decideApproval', { approvalId, allow: true, scope: 'once', block: false, password: PASSWORD });
    assert.equal((await run.result).value, VALUE + '-2');
    assert.equal(((await call(svc, 'getAppState')) as { vault: string }).vault, 'unlocked');
  });

  test('a closed or unshowable popup denies (denyApproval)', async () => {
    const run = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'popup closed');
    await svc.denyApproval(await run.pending, 'popup closed');
    assert.deepEqual(await run.result, { error: 'DENIED' });
    await svc.denyApproval('a_gone', 'popup closed'); // never throws
  });

  test('an agent killed while it waits: its request is withdrawn (popup list emptied, audited) and cannot be decided', async () => {
    const run = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'about to be killed');
    const approvalId = await run.pending;
    assert.ok(((await call(svc, 'listApprovals')) as ApprovalView[]).some((a) => a.id === approvalId));
    const emptied = waitFor(svc, 'approvalsChanged', (list) => !list.some((a) => a.id === approvalId));
    const audited = waitFor(svc, 'activityAppended', (entries) => entries.some((e) => e.event === 'approval.withdrawn'));
    run.kill();
    await emptied;
    assert.deepEqual(await run.result, { error: 'EXITED' });
    assert.equal(((await call(svc, 'getAppState')) as { pendingApprovals: number }).pendingApprovals, 0);
    const entry = (await audited).find((e) => e.event === 'approval.withdrawn')!;
    assert.equal(entry.pid, run.pid);
    assert.equal(entry.secret, 'OPENAI_API_KEY');
    assert.equal(entry.reason, 'its client disconnected');
    const e = await fails(
      call(svc, 'decideApproval', { approvalId, allow: true, scope: 'once', block: false }),
      'NOT_FOUND',
      new RegExp(`^approval ${approvalId} was withdrawn: its client disconnected$`),
    );
    assert.match(e.hint ?? '', /nothing was delivered/);
    // The popup, closed after the fact, denies nothing and does not throw.
    await svc.denyApproval(approvalId, 'popup closed');
    const page = (await call(svc, 'queryActivity', {})) as { entries: { event: string; pid: number | null }[] };
    const mine = page.entries.filter((x) => x.pid === run.pid).map((x) => x.event);
    assert.deepEqual(mine.sort(), ['approval.request', 'approval.withdrawn'], 'asked and withdrawn: no delivery, no decision');
  });

  test('activity: newest-first pages with a total, filters, live events, verify, export', async () => {
    const all = (await call(svc, 'queryActivity', {})) as { entries: { seq: number }[]; total: number; nextBeforeSeq: number | null };
    assert.ok(all.total >= 20, `a real log (${all.total} entries)`);
    assert.equal(all.nextBeforeSeq, null);
    // Page through with a small limit.
    const seqs: number[] = [];
    let before: number | undefined;
    for (let i = 0; i < 100; i++) {
      const page = (await call(svc, 'queryActivity', { limit: 7, ...(before ? { beforeSeq: before } : {}) })) as typeof all;
      assert.equal(page.total, all.total);
      seqs.push(...page.entries.map((e) => e.seq));
      if (page.nextBeforeSeq === null) break;
      before = page.nextBeforeSeq;
    }
    assert.equal(seqs.length, all.total);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => b - a),
      'newest first',
    );
    assert.deepEqual(
      seqs,
      all.entries.map((e) => e.seq),
    );

    const delivered = (await call(svc, 'queryActivity', { decision: 'allow' })) as {
      entries: { event: string; decision: string }[];
      total: number;
    };
    assert.ok(delivered.total >= 2);
    assert.ok(delivered.entries.every((e) => e.decision === 'allow'));
    const bySecret = (await call(svc, 'queryActivity', { secret: 'TEMP' })) as { entries: { secret: string }[]; total: number };
    assert.deepEqual([...new Set(bySecret.entries.map((e) => e.secret))], ['TEMP']);
    const text = (await call(svc, 'queryActivity', { text: 'POPUP CLOSED' })) as { total: number };
    assert.ok(text.total >= 1, 'text search is case-insensitive');
    const none = (await call(svc, 'queryActivity', { sinceMs: Date.now() + 60_000 })) as { total: number; entries: unknown[] };
    assert.deepEqual([none.total, none.entries.length], [0, 0]);

    // The total follows new entries.
    const live = waitFor(svc, 'activityAppended', (es) => es.some((e) => e.event === 'secret.create' && e.secret === 'LIVE'));
    await call(svc, 'saveSecret', { name: 'LIVE', type: 'generic', description: '', value: 'v' });
    await live;
    const grown = (await call(svc, 'queryActivity', {})) as { total: number };
    assert.ok(grown.total > all.total);

    const v = (await call(svc, 'verifyActivity')) as { ok: boolean; entries: number; macChecked: boolean; checkpointsVerified: number };
    assert.equal(v.ok, true);
    assert.equal(v.entries, grown.total);
    assert.equal(v.macChecked, true);

    saveDialog.answer = null;
    assert.deepEqual(await call(svc, 'exportActivity'), { count: 0, path: null }, 'cancelled');
    saveDialog.answer = path.join(dir, 'export.jsonl');
    const exported = (await call(svc, 'exportActivity')) as { count: number; path: string };
    assert.equal(exported.path, saveDialog.answer);
    assert.equal(exported.count, grown.total);
    const lines = fs
      .readFileSync(exported.path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { seq: number; hash: string });
    assert.equal(lines.length, exported.count);
    assert.deepEqual(
      lines.map((l) => l.seq),
      lines.map((_, i) => i + 1),
    );
    assert.match(lines[0]!.hash, /^[0-9a-f]{64}$/);
    assert.equal(fs.statSync(exported.path).mode & 0o777, 0o600);
    assert.ok(!fs.readFileSync(exported.path, 'utf8').includes(VALUE), 'no value in the export');
    saveDialog.answer = 'relative.jsonl';
    await fails(call(svc, 'exportActivity'), 'INVALID_ARGUMENT');
  });

  test('rows written by another process show up as live activity', async () => {
    // Another writer on the same vault.db (as `akc secret set` would be).
    const { Vault } = await import('../../src/core/vault/vault.js');
    const { SecretStore } = await import('../../src/core/vault/secrets.js');
    const other = Vault.open({ dataDir, keychain });
    try {
      await other.unlockWithPassword(Buffer.from(PASSWORD));
      const live = waitFor(svc, 'activityAppended', (es) => es.some((e) => e.secret === 'FROM_CLI'));
      const changed = waitFor(svc, 'secretsChanged', () => true);
      new SecretStore(other).set('FROM_CLI', Buffer.from('v'), {}, { reason: 'by cli' });
      await live;
      await changed;
    } finally {
      other.close();
    }
  });

  test('agents: register, register from a past request, revoke', async () => {
    const agent = (await call(svc, 'registerAgent', {
      name: 'evals',
      exePath: process.execPath,
      pinSha256: true,
      cwdPattern: '/nowhere/**',
    })) as {
      name: string;
      exePath: string;
      exeSha256: string;
      cwdPattern: string;
    };
    assert.equal(agent.exePath, fs.realpathSync(process.execPath));
    assert.match(agent.exeSha256, /^[0-9a-f]{64}$/);
    await fails(call(svc, 'registerAgent', { name: 'evals', exePath: process.execPath, pinSha256: false }), 'ALREADY_EXISTS');
    await fails(call(svc, 'registerAgent', { name: 'x', exePath: path.join(dir, 'missing'), pinSha256: false }), 'INVALID_ARGUMENT');

    const requests = (await call(svc, 'queryActivity', { text: 'approval.request' })) as { entries: { seq: number; agent: string }[] };
    const fromLog = (await call(svc, 'registerAgentFromActivity', { auditSeq: requests.entries[0]!.seq, name: 'eval-script' })) as {
      exePath: string;
      exeSha256: string | null;
    };
    assert.equal(fromLog.exePath, path.join(dir, 'agent.mjs'), 'an interpreter’s agent is its script');
    assert.match(fromLog.exeSha256 ?? '', /^[0-9a-f]{64}$/);
    await fails(call(svc, 'registerAgentFromActivity', { auditSeq: 1, name: 'nope' }), 'INVALID_ARGUMENT', /not a request/);
    await fails(call(svc, 'registerAgentFromActivity', { auditSeq: 999_999, name: 'nope' }), 'NOT_FOUND');

    // The script is now the registered agent "eval-script".
    const run = runAgent(dir, socketPath, 'OPENAI_API_KEY', 'as an agent');
    const id = await run.pending;
    assert.equal(((await call(svc, 'listApprovals')) as ApprovalView[]).find((v) => v.id === id)!.agent, 'eval-script');
    await call(svc, 'decideApproval', { approvalId: id, allow: true, scope: '15m', block: false });
    assert.equal((await run.result).value, VALUE + '-2');
    const agents = (await call(svc, 'listAgents')) as { name: string; lastSeenAt: number | null }[];
    assert.deepEqual(
      agents.map((a) => a.name),
      ['eval-script', 'evals'],
    );
    assert.ok(agents[0]!.lastSeenAt !== null);
    assert.equal(agents[1]!.lastSeenAt, null);
    const detail = (await call(svc, 'getSecretDetail', { name: 'OPENAI_API_KEY' })) as { grants: { requester: string; scope: string }[] };
    assert.deepEqual(
      detail.grants.map((g) => [g.requester, g.scope]),
      [['eval-script', 'duration']],
    );

    assert.deepEqual(await call(svc, 'revokeAgent', { name: 'eval-script' }), { name: 'eval-script' });
    assert.deepEqual(
      ((await call(svc, 'listAgents')) as { name: string }[]).map((a) => a.name),
      ['evals'],
    );
    await fails(call(svc, 'revokeAgent', { name: 'eval-script' }), 'NOT_FOUND');
  });

  test('settings persist in the vault, apply the approval timeout, and keychain unlock needs the password', async () => {
    const s = (await call(svc, 'updateSettings', { approvalTimeoutSeconds: 30, autoLockMinutes: 5, notifications: false })) as {
      approvalTimeoutSeconds: number;
      autoLockMinutes: number;
      lockOnSleep: boolean;
      notifications: boolean;
    };
    assert.deepEqual(
      { t: s.approvalTimeoutSeconds, a: s.autoLockMinutes, l: s.lockOnSleep, n: s.notifications },
      { t: 30, a: 5, l: true, n: false },
    );
    assert.equal(svc.currentHost!.approvalTimeoutMs, 30_000);
    await fails(call(svc, 'updateSettings', { approvalTimeoutSeconds: 5 }), 'INVALID_ARGUMENT');
    const audit = (await call(svc, 'queryActivity', { text: 'settings.update' })) as { total: number };
    assert.equal(audit.total, 1);

    await fails(call(svc, 'setKeychainUnlock', { enabled: !useKeychain, password: 'wrong password' }), 'WRONG_PASSWORD');
    if (useKeychain) {
      const off = (await call(svc, 'setKeychainUnlock', { enabled: false, password: PASSWORD })) as { keychainUnlock: boolean };
      assert.equal(off.keychainUnlock, false);
      assert.equal(((await call(svc, 'getAppState')) as { keychainUnlock: boolean }).keychainUnlock, false);
    }
    await fails(
      call(svc, 'updateSettings', {})
        .then(() => call(svc, 'lock', {}))
        .then(() => call(svc, 'updateSettings', { notifications: true })),
      'LOCKED',
    );
    await call(svc, 'unlock', { password: PASSWORD });
  });

  test('another host on the socket: hostConflict, and nothing but state and quit works', async () => {
    const second = new DesktopService({ dataDir, socketPath, keychain, onQuit: () => (quit += 1) });
    await second.start();
    try {
      const state = (await call(second, 'getAppState')) as { hostConflict: string | null; vault: string };
      assert.match(state.hostConflict ?? '', /already serving/);
      assert.equal(state.vault, 'locked');
      await fails(call(second, 'listSecrets'), 'HOST_RUNNING');
      await fails(call(second, 'unlock', { password: PASSWORD }), 'HOST_RUNNING');
      await fails(call(second, 'setupVault', { password: PASSWORD, keychain: false }), 'HOST_RUNNING');
      assert.deepEqual(await call(second, 'quitApp'), {});
      await new Promise((r) => setImmediate(r));
      assert.equal(quit, 1);
      assert.equal(await socketIsLive(socketPath), true, 'the first host still serves');
    } finally {
      await second.close();
    }
  });

  test('settings survive a restart; the restarted service starts locked unless the keychain unlocks it', async () => {
    await svc.close();
    const again = new DesktopService({ dataDir, socketPath, keychain });
    await again.start({ unlockWithKeychain: true });
    try {
      assert.equal(again.settings.approvalTimeoutSeconds, 30);
      assert.equal(again.currentHost!.approvalTimeoutMs, 30_000);
      assert.equal(
        ((await call(again, 'getAppState')) as { vault: string }).vault,
        'locked',
        'keychain unlock was turned off (or never on)',
      );
    } finally {
      await again.close();
    }
    if (useKeychain) {
      const { Vault } = await import('../../src/core/vault/vault.js');
      const v = Vault.open({ dataDir, keychain });
      await keychain.delete(v.id).catch(() => false);
      v.close();
    }
  });
});
