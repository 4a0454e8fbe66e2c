/**
 * The built Electron main and preload, run against the Electron stand-in over a real
 * DesktopService, Host and vault: the main window's security options, the app:// scheme
 * and its CSP, permissions, navigation and window.open, and the IPC table — exactly the
 * contract's verbs, inputs validated, callers outside our own windows refused.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RENDERER_CSP } from '../../src/core/desktop/csp.js';
import { VERBS, type KeychainApi } from '../../src/shared/contract.js';
import { launchApp, until, type Launched } from '../electron-standin/launch.js';
import { StandinWebFrame, type StandinBrowserWindow } from '../electron-standin/windows.js';
import { PASSWORD } from '../helpers/env.js';
import { assertSecureWindow, keychainOf, rejection } from './fixture.js';

describe('the main window, its pages and IPC (built main + preload on the Electron stand-in)', () => {
  let app: Launched;
  let win: StandinBrowserWindow;
  let keychain: KeychainApi;

  before(async () => {
    app = await launchApp();
    win = app.mainWindow();
    keychain = keychainOf(win);
  });

  after(async () => {
    await app?.quit();
  });

  test('app:// is registered as a privileged standard, secure scheme before the app is ready', () => {
    // The stand-in throws if this happens after ready, as Electron does.
    assert.deepEqual(app.world.privilegedSchemes, [
      { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } },
    ]);
  });

  test('the main window: isolated, sandboxed, no Node, the built preload; shown once painted', () => {
    assertSecureWindow(win, app.build, 'main window');
    assert.equal(win.$options.show, false, 'created hidden (shown on ready-to-show)');
    assert.equal(win.isVisible(), true);
    assert.equal(win.webContents.getURL(), 'app://renderer/index.html#/');
    assert.equal(app.world.applicationMenu, null, 'no application menu on Linux');
    assert.equal(app.world.windows.length, 1, 'one window, no popup: nothing is pending');
  });

  test('the renderer is served from the build over app:// with the CSP on the page', () => {
    const page = win.webContents.$lastResponse!;
    assert.equal(page.status, 200);
    assert.equal(page.body, fs.readFileSync(path.join(app.build.renderer, 'index.html'), 'utf8'));
    const csp = Object.entries(page.headers).filter(([k]) => k.toLowerCase() === 'content-security-policy');
    assert.deepEqual(csp, [['Content-Security-Policy', [RENDERER_CSP]]], 'exactly one CSP header, the app’s');
    assert.deepEqual(page.headers['x-content-type-options'], ['nosniff']);
  });

  test('app:// serves the build’s files and nothing else', async () => {
    const fetch = (url: string, init?: RequestInit) => app.world.session.$fetch(url, init);
    const asset = fs.readdirSync(path.join(app.build.renderer, 'assets')).find((f) => f.endsWith('.js'))!;
    const js = await fetch(`app://renderer/assets/${asset}`);
    assert.equal(js.status, 200);
    assert.deepEqual(js.headers['content-type'], ['text/javascript; charset=utf-8']);
    assert.equal((await fetch('app://renderer/')).body, fs.readFileSync(path.join(app.build.renderer, 'index.html'), 'utf8'));
    // The main bundle exists right next to the renderer dir: a path escape would find it.
    assert.ok(fs.existsSync(path.join(app.build.renderer, '../main/index.js')));
    assert.equal((await fetch('app://renderer/%2e%2e/main/index.js')).status, 404);
    assert.equal((await fetch('app://renderer/..%2fmain%2findex.js')).status, 404);
    assert.equal((await fetch('app://renderer/assets/%2e%2e%2f%2e%2e%2fmain/index.js')).status, 404);
    assert.equal((await fetch('app://other/index.html')).status, 404, 'another host');
    assert.equal((await fetch('app://renderer/index.html', { method: 'POST', body: 'x' })).status, 404, 'not GET');
    assert.equal((await fetch('app://renderer/%E0%A4%A')).status, 400, 'bad escape');
    assert.equal((await fetch('app://renderer/nope.js')).status, 404);
    for (const r of [js, await fetch('app://renderer/nope.js')]) assert.deepEqual(r.headers['Content-Security-Policy'], [RENDERER_CSP]);
  });

  test('every response in the session gets the app’s CSP instead of its own', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-security-policy': "default-src *; script-src * 'unsafe-eval'", 'content-type': 'text/html' }).end('hi');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await app.world.session.$fetch(`http://127.0.0.1:${port}/`);
      const csp = Object.entries(r.headers).filter(([k]) => k.toLowerCase() === 'content-security-policy');
      assert.deepEqual(csp, [['Content-Security-Policy', [RENDERER_CSP]]]);
    } finally {
      server.close();
    }
  });

  test('permissions are refused but writing non-secret text to the clipboard; devices and downloads too', async () => {
    const ses = app.world.session;
    const wc = win.webContents;
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'display-capture', 'fullscreen'] as const) {
      assert.equal(await ses.$requestPermission(wc, p), false, `request ${p}`);
      assert.equal(ses.$checkPermission(wc, p), false, `check ${p}`);
    }
    assert.equal(await ses.$requestPermission(wc, 'clipboard-sanitized-write'), true);
    assert.equal(ses.$checkPermission(wc, 'clipboard-sanitized-write'), true);
    for (const d of ['hid', 'serial', 'usb'] as const) assert.equal(ses.$checkDevice(d), false, d);
    assert.equal(ses.$download(wc), true, 'downloads are cancelled');
  });

  test('navigation, redirects, webviews and window.open are refused, in every web contents', async () => {
    const other = app.foreignWindow({});
    for (const wc of [win.webContents, other.webContents]) {
      const before = wc.getURL();
      assert.equal(wc.$navigate('https://example.com/'), true, 'will-navigate prevented');
      assert.equal(wc.$redirect('https://example.com/'), true, 'will-redirect prevented');
      assert.equal(wc.$attachWebview('https://example.com/'), true, 'will-attach-webview prevented');
      assert.deepEqual(wc.$windowOpen('https://example.com/'), { action: 'deny' });
      assert.equal(wc.getURL(), before);
    }
    assert.equal(app.world.windows.length, 2, 'window.open opened nothing');
    other.destroy();
  });

  test('the IPC table is exactly the contract’s verbs, and the preload exposes exactly those and on()', () => {
    const channels = [...app.world.ipcMain.$handlers.keys()].sort();
    assert.deepEqual(channels, VERBS.map((v) => `akc:${v}`).sort());
    assert.deepEqual(Object.keys(keychain).sort(), [...VERBS, 'on'].sort());
  });

  test('verbs reach the real service: set up a vault, the agent socket is served', async () => {
    assert.equal((await keychain.getAppState({})).vault, 'uninitialized');
    const state = await keychain.setupVault({ password: PASSWORD, keychain: false });
    assert.equal(state.vault, 'unlocked');
    assert.equal(state.socketPath, app.socketPath);
    assert.ok(fs.lstatSync(app.socketPath).isSocket());
  });

  test('malformed payloads are rejected with a plain { code, message } and change nothing', async () => {
    const bad: [keyof KeychainApi, unknown][] = [
      ['unlock', { password: 42 }],
      ['lock', { revokeAll: 'yes' }],
      ['lock', { revokeAll: false, extra: 1 }],
      ['saveSecret', { name: 'no spaces allowed', type: 'api_key', description: '', value: 'x' }],
      ['saveSecret', { name: 'OK_NAME', type: 'not-a-type', description: '', value: 'x' }],
      ['getSecretDetail', 'NAME'],
      ['decideApproval', { approvalId: 'x'.repeat(65), allow: true, scope: 'once', block: false }],
    ];
    for (const [verb, input] of bad) {
      const err = await rejection((keychain[verb] as (i: unknown) => Promise<unknown>)(input));
      assert.ok(!(err instanceof Error), `${verb}: a plain object crosses the bridge`);
      assert.equal(err.code, 'INVALID_ARGUMENT', `${verb} ${JSON.stringify(input)}`);
      assert.match(String(err.message), new RegExp(`^malformed ${verb} input`));
    }
    assert.equal((await keychain.getAppState({})).vault, 'unlocked', 'lock did not run');
    const ipc = win.webContents.$renderer!.ipcRenderer;
    await assert.rejects(ipc.invoke('akc:evaluate', { code: '1' }), /No handler registered for 'akc:evaluate'/);
    const raw = (await ipc.invoke('akc:getAppState', { sneaky: true })) as { ok: boolean; error?: { code: string } };
    assert.deepEqual([raw.ok, raw.error?.code], [false, 'INVALID_ARGUMENT'], 'the raw reply is an envelope');
  });

  test('calls from frames that are not our windows’ main frames are refused', async () => {
    const denied = (verb: string) => ({ code: 'DENIED', message: `denied: ${verb} is not available here` });
    // A window the app did not open, with our preload and our page.
    const foreign = app.foreignWindow({ webPreferences: { preload: app.build.preload, sandbox: true, contextIsolation: true } });
    await foreign.loadURL('app://renderer/index.html');
    assert.deepEqual(await rejection(keychainOf(foreign).getAppState({})), denied('getAppState'));
    foreign.destroy();

    const renderer = win.webContents.$renderer!;
    const own = renderer.$senderFrame;
    try {
      // A subframe of the main window (same origin).
      const sub = new StandinWebFrame(own!.processId, 999_999);
      sub.url = 'app://renderer/index.html';
      renderer.$senderFrame = sub;
      assert.deepEqual(await rejection(keychain.listSecrets({})), denied('listSecrets'));
      // A frame that is gone by the time the call arrives.
      renderer.$senderFrame = null;
      assert.deepEqual(await rejection(keychain.listSecrets({})), denied('listSecrets'));
      // The main frame itself, showing something that is not our renderer.
      renderer.$senderFrame = own;
      own!.url = 'https://example.com/';
      assert.deepEqual(await rejection(keychain.listSecrets({})), denied('listSecrets'));
    } finally {
      renderer.$senderFrame = own;
      own!.url = win.webContents.getURL();
    }
    assert.deepEqual(await keychain.listSecrets({}), [], 'and the main frame itself still may');
  });

  test('events reach on() listeners until unsubscribed; unknown events are refused', async () => {
    const seen: string[] = [];
    const off = keychain.on('stateChanged', (s) => seen.push(s.vault));
    await keychain.lock({});
    await until(() => seen.includes('locked'), 'a stateChanged event');
    off();
    await keychain.unlock({ password: PASSWORD });
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!seen.includes('unlocked'), `no event after unsubscribing (saw ${seen.join(', ')})`);
    assert.throws(() => keychain.on('secretValues' as 'stateChanged', () => undefined), /unknown event/);
  });

  test('copying a secret uses the system clipboard and clears it on lock; exports ask where to save', async () => {
    await keychain.saveSecret({ name: 'CLIP_ME', type: 'api_key', description: '', value: 'sk-clip-value' });
    await keychain.copySecret({ name: 'CLIP_ME' });
    assert.equal(app.world.clipboard.$text, 'sk-clip-value');
    await keychain.lock({});
    await until(() => app.world.clipboard.$text === '', 'the clipboard to be cleared');
    await keychain.unlock({ password: PASSWORD });

    app.world.dialog.$saveAnswer = { canceled: true, filePath: '' };
    assert.deepEqual(await keychain.exportActivity({}), { count: 0, path: null });
    const target = path.join(app.dataDir, '..', 'activity.jsonl');
    app.world.dialog.$saveAnswer = { canceled: false, filePath: target };
    const exported = await keychain.exportActivity({});
    assert.equal(exported.path, target);
    assert.ok(exported.count > 0 && fs.readFileSync(target, 'utf8').split('\n').filter(Boolean).length === exported.count);
    const asked = app.world.dialog.$saveDialogs.at(-1)!;
    assert.equal(asked.parent, win, 'the dialog belongs to the main window');
    assert.match(String(asked.options.defaultPath), /\.jsonl$/);
  });
});
