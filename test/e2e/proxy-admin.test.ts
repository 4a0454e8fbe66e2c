/**
 * Proxy bindings managed from the desktop app (issue 13, finding 3): the app's verbs call
 * the functions `akc proxy add|list|rm` calls (core/proxy/admin.ts), so a binding made in
 * the app is the same row (with its MAC), the same audit entry and the same listing as one
 * made with the CLI — and the app's running proxy serves it to a real caller, after a real
 * approval, against a real upstream. Every bad payload is refused at the receiver.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { DesktopService } from '../../src/core/desktop/service.js';
import type { ContractError, VerbInput } from '../../src/shared/contract.js';
import { akc, PASSWORD, type AkcEnv } from '../helpers/env.js';
import { initVault } from '../helpers/daemon.js';
import { noKeychain } from '../helpers/lifecycle.js';

const VALUE = 'sk-proxy-admin-Xy7Wv6Ut5';
const PW = `${PASSWORD}\n`;

async function withDesktop<T>(env: AkcEnv, fn: (svc: DesktopService) => Promise<T>): Promise<T> {
  const svc = new DesktopService({ dataDir: env.home, socketPath: env.socket, keychain: noKeychain, activityPollMs: 0 });
  await svc.start();
  try {
    await svc.dispatch('unlock', { password: PASSWORD });
    return await fn(svc);
  } finally {
    await svc.close();
  }
}

async function fails(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    const e = err as ContractError;
    assert.equal(e.code, code, `${e.code}: ${e.message}`);
    if (message) assert.match(e.message, message);
    return;
  }
  assert.fail(`expected ${code}`);
}

function db<T>(env: AkcEnv, fn: (d: Database.Database) => T, readonly = true): T {
  const d = new Database(path.join(env.home, 'vault.db'), { readonly });
  try {
    return fn(d);
  } finally {
    d.close();
  }
}

function binding(over: Partial<VerbInput<'saveProxyBinding'>> = {}): VerbInput<'saveProxyBinding'> {
  return {
    name: 'openai',
    upstream: 'https://api.openai.com/v1/',
    secret: 'OPENAI_KEY',
    auth: { kind: 'header', header: 'Authorization', template: 'Bearer {{secret}}' },
    allow: ['post /chat/**', 'GET /models'],
    allowPrivate: false,
    baseUrlEnv: 'OPENAI_BASE_URL',
    replace: false,
    password: PASSWORD,
    ...over,
  };
}

/** An upstream on loopback that records what it was sent. */
async function upstream(): Promise<{ url: string; seen: http.IncomingHttpHeaders[]; close: () => Promise<void> }> {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

function post(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer mine' } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

describe('proxy bindings from the desktop app', () => {
  test('a binding saved in the app: signed, audited, listed by `akc proxy list`, and served by the app’s proxy', async () => {
    const env = await initVault({ OPENAI_KEY: VALUE });
    const up = await upstream();
    try {
      await withDesktop(env, async (svc) => {
        const saved = await svc.dispatch(
          'saveProxyBinding',
          binding({ name: 'local', upstream: up.url, allowPrivate: true, allow: ['POST /v1/**'], baseUrlEnv: null }),
        );
        assert.equal(saved.integrity, 'trusted');
        assert.equal(saved.secretExists, true);
        const listed = await svc.dispatch('listProxyBindings', {});
        assert.equal(listed.proxy.running, true);
        assert.ok(listed.proxy.url, 'the app’s proxy listens on loopback');
        assert.deepEqual(
          listed.bindings.map((b) => [b.name, b.upstream, b.integrity, b.url]),
          [['local', up.url, 'trusted', `${listed.proxy.url}/local`]],
        );
        // A real caller, a real approval in the app, a real upstream.
        const reply = post(`${listed.proxy.url}/local/v1/chat`);
        let approvals: Awaited<ReturnType<typeof svc.dispatch<'listApprovals'>>> = [];
        for (let i = 0; i < 200 && approvals.length === 0; i++) {
          approvals = await svc.dispatch('listApprovals', {});
          if (approvals.length === 0) await new Promise((r) => setTimeout(r, 25));
        }
        assert.equal(approvals.length, 1, 'the proxied call waits for the human');
        assert.deepEqual(approvals[0]!.http, { method: 'POST', host: new URL(up.url).host, path: '/v1/chat' });
        await svc.dispatch('decideApproval', { approvalId: approvals[0]!.id, allow: true, scope: 'once', block: false });
        const r = await reply;
        assert.equal(r.status, 200, r.body);
        assert.equal(up.seen[0]!.authorization, `Bearer ${VALUE}`, 'the upstream gets the binding’s credential, not the caller’s');
      });
    } finally {
      await up.close();
    }
    // The CLI lists what the app stored.
    const list = await akc(env, ['proxy', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const cli = JSON.parse(list.stdout) as { bindings: Record<string, unknown>[] };
    assert.deepEqual(
      cli.bindings.map((b) => [b.name, b.upstream, b.secret, b.auth, b.allow, b.allowPrivate]),
      [['local', up.url, 'OPENAI_KEY', { kind: 'header', header: 'Authorization', template: 'Bearer {{secret}}' }, ['POST /v1/**'], true]],
    );
    assert.equal(
      db(env, (d) => d.prepare("SELECT row_mac IS NOT NULL FROM proxy_bindings WHERE name = 'local'").pluck().get()),
      1,
    );
  });

  test('the app and `akc proxy add` write the same row and the same audit entry', async () => {
    const env = await initVault({ OPENAI_KEY: VALUE });
    const r = await akc(
      env,
      [
        'proxy',
        'add',
        'from-cli',
        '--upstream',
        'https://api.openai.com/v1/',
        '--secret',
        'OPENAI_KEY',
        '--allow',
        'post /chat/**',
        '--allow',
        'GET /models',
        '--base-url-env',
        'OPENAI_BASE_URL',
        '--password-stdin',
      ],
      PW,
    );
    assert.equal(r.code, 0, r.stderr);
    await withDesktop(env, async (svc) => {
      await svc.dispatch('saveProxyBinding', binding({ name: 'from-app' }));
      const listed = await svc.dispatch('listProxyBindings', {});
      assert.deepEqual(
        listed.bindings.map((b) => b.integrity),
        ['trusted', 'trusted'],
        'each row’s MAC verifies',
      );
    });
    const rows = db(env, (d) =>
      d
        .prepare(
          'SELECT upstream, secret_name, auth_kind, auth_name, auth_template, allow_rules, allow_private, base_url_env FROM proxy_bindings ORDER BY name',
        )
        .all(),
    );
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0], rows[1]);
    assert.deepEqual(rows[0], {
      upstream: 'https://api.openai.com/v1',
      secret_name: 'OPENAI_KEY',
      auth_kind: 'header',
      auth_name: 'Authorization',
      auth_template: 'Bearer {{secret}}',
      allow_rules: '["POST /chat/**","GET /models"]',
      allow_private: 0,
      base_url_env: 'OPENAI_BASE_URL',
    });
    const entries = db(env, (d) =>
      (
        d.prepare("SELECT agent, secret, reason, detail FROM audit WHERE event = 'proxy.add' ORDER BY seq").all() as {
          agent: string;
          detail: string;
        }[]
      ).map((e) => ({ ...e, detail: { ...(JSON.parse(e.detail) as object), binding: '<name>' } })),
    );
    assert.deepEqual(
      entries.map((e) => e.agent),
      ['cli', 'ui'],
    );
    assert.deepEqual({ ...entries[0], agent: '<who>' }, { ...entries[1], agent: '<who>' });
  });

  test('bad payloads are refused at the receiver; mistakes come before the password; a wrong password stores nothing', async () => {
    const env = await initVault({ OPENAI_KEY: VALUE });
    await withDesktop(env, async (svc) => {
      const save = (input: unknown) => svc.dispatch('saveProxyBinding', input);
      const bad: [string, unknown][] = [
        ['an unknown field', { ...binding(), extra: 1 }],
        ['a path as the name', binding({ name: '../etc' })],
        ['an unknown credential kind', { ...binding(), auth: { kind: 'cookie', name: 'x' } }],
        ['a header auth without its template', { ...binding(), auth: { kind: 'header', header: 'Authorization' } }],
        ['no password', (({ password: _, ...rest }) => rest)(binding())],
        ['rules that are not a list', { ...binding(), allow: 'POST /**' }],
        ['an upstream longer than any URL', binding({ upstream: 'https://x.example/' + 'a'.repeat(3000) })],
        ['a secret name with spaces', binding({ secret: 'OPENAI KEY' })],
        ['a null payload', null],
      ];
      for (const [what, input] of bad)
        await fails(save(input), 'INVALID_ARGUMENT', /^malformed saveProxyBinding input/).catch((err: Error) => {
          throw new Error(`${what}: ${err.message}`);
        });
      // Checked by the core before Argon2: a wrong password does not even get looked at.
      const wrong = { password: 'not the password' };
      await fails(save(binding({ upstream: 'http://api.openai.com', ...wrong })), 'INVALID_ARGUMENT', /must use https/);
      await fails(
        save(binding({ auth: { kind: 'header', header: 'Authorization', template: 'Bearer' }, ...wrong })),
        'INVALID_ARGUMENT',
        /\{\{secret\}\} exactly once/,
      );
      await fails(
        save(binding({ auth: { kind: 'header', header: 'Host', template: '{{secret}}' }, ...wrong })),
        'INVALID_ARGUMENT',
        /owns the Host header/,
      );
      await fails(save(binding({ allow: ['DELETE'], ...wrong })), 'INVALID_ARGUMENT', /METHOD \/path-glob/);
      await fails(save(binding(wrong)), 'WRONG_PASSWORD');
      assert.deepEqual((await svc.dispatch('listProxyBindings', {})).bindings, [], 'nothing stored');

      await svc.dispatch('saveProxyBinding', binding());
      await fails(save(binding()), 'ALREADY_EXISTS');
      const changed = await svc.dispatch('saveProxyBinding', binding({ replace: true, allow: [] }));
      assert.deepEqual(changed.allow, []);
      await fails(svc.dispatch('removeProxyBinding', { name: 'nope' }), 'NOT_FOUND');
      await fails(svc.dispatch('removeProxyBinding', { name: 'x y' }), 'INVALID_ARGUMENT');
      await svc.dispatch('lock', {});
      await fails(svc.dispatch('listProxyBindings', {}), 'LOCKED');
    });
    const reasons = db(env, (d) => d.prepare("SELECT reason FROM audit WHERE event = 'proxy.add' ORDER BY seq").pluck().all());
    assert.deepEqual(reasons, ['added', 'replaced']);
  });

  test('a binding changed outside Agent Keychain shows as tampered, is not served, and can still be removed', async () => {
    const env = await initVault({ OPENAI_KEY: VALUE });
    await withDesktop(env, (svc) => svc.dispatch('saveProxyBinding', binding()));
    // An attacker with disk access points the binding at their own server.
    db(env, (d) => d.prepare("UPDATE proxy_bindings SET upstream = 'https://evil.example' WHERE name = 'openai'").run(), false);
    await withDesktop(env, async (svc) => {
      const listed = await svc.dispatch('listProxyBindings', {});
      assert.deepEqual(
        listed.bindings.map((b) => [b.name, b.upstream, b.integrity]),
        [['openai', 'https://evil.example', 'refused']],
      );
      // The proxy treats it as absent: a JSON 404, nobody is asked, nothing is sent.
      const r = await post(`${listed.proxy.url}/openai/chat/completions`);
      assert.equal(r.status, 404, r.body);
      assert.match(r.body, /no proxy binding named openai/);
      assert.deepEqual(await svc.dispatch('listApprovals', {}), []);
      assert.deepEqual(await svc.dispatch('removeProxyBinding', { name: 'openai' }), { name: 'openai' });
      assert.deepEqual((await svc.dispatch('listProxyBindings', {})).bindings, []);
    });
    const rm = db(env, (d) => d.prepare("SELECT agent, secret, reason, detail FROM audit WHERE event = 'proxy.rm'").all());
    assert.deepEqual(rm, [
      { agent: 'ui', secret: 'OPENAI_KEY', reason: 'removed', detail: '{"binding":"openai","upstream":"https://evil.example"}' },
    ]);
  });
});
