/**
 * One audit verify and one audit export (issue 13, finding 3), on real vaults: the
 * offline `akc audit verify` / `akc audit export` (real CLI processes), the desktop app's
 * verify and "Export log" (a real DesktopService and its host), and the hardened host's
 * `audit.verify` / `audit.export` verbs (ServiceVerbs on a real Host) report the same
 * problem and write the same bytes — for a tampered log too, where copies used to differ.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { sealAnchor, writeAnchor } from '../../src/core/audit/anchor.js';
import { DesktopService } from '../../src/core/desktop/service.js';
import type { SaveDialogPort } from '../../src/core/desktop/ports.js';
import { Host, type Session } from '../../src/core/host/host.js';
import { ServiceVerbs } from '../../src/core/service/admin-verbs.js';
import type { ServiceConfig } from '../../src/shared/service-protocol.js';
import { akc, PASSWORD, type AkcEnv } from '../helpers/env.js';
import { initVault } from '../helpers/daemon.js';
import { identity, noKeychain } from '../helpers/lifecycle.js';

const PW = `${PASSWORD}\n`;

class FileDialog implements SaveDialogPort {
  constructor(readonly file: string) {}
  chooseSavePath(): Promise<string> {
    return Promise.resolve(this.file);
  }
}

async function withDesktop<T>(env: AkcEnv, fn: (svc: DesktopService) => Promise<T>, file = ''): Promise<T> {
  const svc = new DesktopService({
    dataDir: env.home,
    socketPath: env.socket,
    keychain: noKeychain,
    saveDialog: new FileDialog(file),
    activityPollMs: 0,
  });
  await svc.start();
  try {
    await svc.dispatch('unlock', { password: PASSWORD });
    return await fn(svc);
  } finally {
    await svc.close();
  }
}

/** The hardened host's verbs on `host`, called as the desktop user's CLI would (no socket in between). */
function serviceVerbs(host: Host, env: AkcEnv): { call: (method: string, params: Record<string, unknown>) => Promise<unknown> } {
  const config: ServiceConfig = {
    mode: 'service',
    serviceUser: 'akc-test',
    serviceUid: process.getuid!(),
    allowUid: process.getuid!(),
    dataDir: env.home,
    socket: env.socket,
  };
  const verbs = new ServiceVerbs({ config, host: () => host, initVault: () => Promise.reject(new Error('not in this test')) });
  const session: Session = { identity: identity({ pid: process.pid }) };
  return { call: (method, params) => verbs.call(session, method, params) };
}

async function withServiceHost<T>(
  env: AkcEnv,
  fn: (call: (m: string, p: Record<string, unknown>) => Promise<unknown>) => Promise<T>,
): Promise<T> {
  const host = Host.open({ dataDir: env.home, keychain: noKeychain });
  try {
    await host.unlockWithPassword(Buffer.from(PASSWORD), 'test');
    return await fn(serviceVerbs(host, env).call);
  } finally {
    host.close();
  }
}

function tamper(env: AkcEnv, sql: string): void {
  const db = new Database(path.join(env.home, 'vault.db'));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

interface Verdict {
  ok: boolean;
  firstBadSeq: number | null;
  problem: string | null;
}

describe('audit verify: one check, whoever asks', () => {
  test('an audit anchor from another vault: the CLI, the desktop app and the hardened host all report it', async () => {
    const env = await initVault({ API_KEY: 'sk-audit-one-3c2b1a' });
    // Someone replaced the anchor with another vault's (a copied data dir, or a forgery).
    writeAnchor(env.home, sealAnchor(randomBytes(32), { vaultId: 'v_someone_else', seq: 2, hash: randomBytes(32) }));

    const cli = await akc(env, ['audit', 'verify', '--json', '--password-stdin'], PW);
    assert.notEqual(cli.code, 0, cli.stdout);
    const offline = JSON.parse(cli.stdout) as { ok: boolean; firstBadSeq: number; problem: string };
    assert.match(
      cli.stderr,
      /^akc: error: audit log altered at entry 2: the audit anchor file \(audit-anchor\) belongs to another vault\n/,
    );
    const expected: Verdict = { ok: false, firstBadSeq: 2, problem: 'the audit anchor file (audit-anchor) belongs to another vault' };
    assert.deepEqual({ ok: offline.ok, firstBadSeq: offline.firstBadSeq, problem: offline.problem }, expected);

    const app = await withDesktop(env, (svc) => svc.dispatch('verifyActivity', {}));
    assert.deepEqual({ ok: app.ok, firstBadSeq: app.firstBadSeq, problem: app.problem }, expected);
    assert.equal(app.macChecked, true);

    const hardened = (await withServiceHost(env, (call) => call('audit.verify', {}))) as typeof offline;
    assert.deepEqual({ ok: hardened.ok, firstBadSeq: hardened.firstBadSeq, problem: hardened.problem }, expected);
    // The host answers in the offline command's words, so `akc audit verify` prints the same in both modes.
    assert.deepEqual(Object.keys(hardened), Object.keys(offline));
  });

  test('a clean log: every path says ok, with the checkpoints checked', async () => {
    const env = await initVault({ API_KEY: 'sk-audit-one-3c2b1a' });
    const cli = await akc(env, ['audit', 'verify', '--password-stdin'], PW);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^verified · \d+ entries · 1 checkpoint\n$/);
    const app = await withDesktop(env, (svc) => svc.dispatch('verifyActivity', {}));
    assert.deepEqual([app.ok, app.macChecked, app.problem], [true, true, null]);
    assert.ok(app.checkpointsVerified >= 1);
    const hardened = (await withServiceHost(env, (call) => call('audit.verify', {}))) as Record<string, unknown>;
    assert.deepEqual(Object.keys(hardened), ['ok', 'entries', 'checkpointsChecked', 'checkpoints']);
    assert.equal(hardened.ok, true);
    assert.equal(hardened.checkpointsChecked, true);
  });
});

describe('audit export: one exporter, the same bytes', () => {
  test('the CLI, the hardened host and the desktop app export the same log byte for byte, tampered rows included', async () => {
    const env = await initVault({ API_KEY: 'sk-audit-one-3c2b1a', DB_PASSWORD: 'hunter2', GH_TOKEN: 'ghp-1', NPM_TOKEN: 'npm-1' });
    // What an investigation exports: rows someone edited, with details that are not
    // objects, or not JSON at all, and a time before 1970.
    tamper(
      env,
      `UPDATE audit SET detail = '[1,2]' WHERE seq = 2;
       UPDATE audit SET detail = '"just text"' WHERE seq = 3;
       UPDATE audit SET detail = '{broken' WHERE seq = 4;
       UPDATE audit SET ts = -5 WHERE seq = 5;`,
    );
    const file = path.join(path.dirname(env.home), 'app-export.jsonl');
    const { cli, hardened, app } = await withDesktop(
      env,
      async (svc) => {
        // The app's host is running: nothing appends until its own export records itself.
        const cli = await akc(env, ['audit', 'export']);
        assert.equal(cli.code, 0, cli.stderr);
        const hardened = await pagesOf(serviceVerbs(svc.currentHost!, env).call);
        const r = await svc.dispatch('exportActivity', {});
        assert.equal(r.path, file);
        return { cli: cli.stdout, hardened, app: fs.readFileSync(file, 'utf8') };
      },
      file,
    );
    const lines = cli
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const at = (seq: number): Record<string, unknown> => lines.find((l) => l.seq === seq)!;
    assert.deepEqual(at(2).detail, [1, 2], 'a detail that is not an object, as stored');
    assert.equal(at(3).detail, 'just text');
    assert.deepEqual(at(4).detail, { unparsable: true });
    assert.equal(at(5).ts, -5, 'every row, whatever its time says');
    assert.deepEqual(
      lines.map((l) => l.seq),
      lines.map((_, i) => i + 1),
    );
    assert.equal(hardened, cli, 'the hardened host pages join to the same bytes');
    assert.equal(app, cli, 'the desktop export is the same file');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  });
});

/** The hardened host's export pages, joined the way a JSON Lines file is (one object per line). */
async function pagesOf(call: (m: string, p: Record<string, unknown>) => Promise<unknown>): Promise<string> {
  let text = '';
  let afterSeq = 0;
  for (;;) {
    const page = (await call('audit.export', { afterSeq })) as { entries: unknown[]; next: number | null };
    for (const e of page.entries) text += JSON.stringify(e) + '\n';
    if (page.next === null) return text;
    afterSeq = page.next;
  }
}
