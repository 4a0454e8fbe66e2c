/**
 * The built Electron main's lifecycle on the Electron stand-in, one launch per scenario:
 * a second instance brings the first forward; quitting stops the host and removes the
 * socket; a second copy quits at once; a vault that cannot be opened ends in an error box
 * and exit 1; another host on the socket is reported, not replaced.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { builtApp, launchApp, until } from '../electron-standin/launch.js';
import { serveStatic } from '../ui/bridge-server.js';
import { PASSWORD, tempDir } from '../helpers/env.js';
import { assertSecureWindow, keychainOf, rejection, runAgent } from './fixture.js';

const connects = (socketPath: string): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });

describe('the app’s lifecycle (built main on the Electron stand-in)', () => {
  test('a second instance, or activate, brings the main window back; a destroyed one is re-created', async () => {
    const app = await launchApp();
    try {
      const win = app.mainWindow();
      win.close();
      assert.equal(win.isDestroyed(), false, 'closing hides: the app lives in the tray');
      assert.equal(win.isVisible(), false);
      assert.equal(app.world.app.$quitted, false);
      app.world.app.$secondInstance(['electron', '.', '--whatever']);
      assert.equal(win.isVisible(), true);
      assert.equal(win.isFocused(), true);

      win.minimize();
      app.world.app.$activate();
      assert.equal(win.isMinimized(), false);
      assert.equal(win.isVisible(), true);

      win.destroy();
      assert.equal(app.world.app.$quitted, false, 'no window is not a reason to quit');
      app.world.app.$secondInstance();
      const aborted = app.mainWindow();
      assert.notEqual(aborted, win);
      aborted.destroy(); // closed while its page loads: the app notes it and carries on
      await until(() => app.logs.some((l) => l.includes('main window did not load: ERR_ABORTED')), 'the aborted load');
      app.world.app.$secondInstance();
      const again = app.mainWindow();
      assertSecureWindow(again, app.build, 're-created main window');
      await until(() => again.webContents.$renderer !== null, 'the new window to load');
      assert.equal(again.isVisible(), true);
      assert.equal((await keychainOf(again).getAppState({})).vault, 'uninitialized', 'and it talks to the same service');
    } finally {
      await app.quit();
    }
  });

  test('quit stops the host (socket removed, no connection), closes the popup and the tray, stops auto-lock', async () => {
    const app = await launchApp();
    const keychain = keychainOf(app.mainWindow());
    await keychain.setupVault({ password: PASSWORD, keychain: false });
    await keychain.saveSecret({ name: 'QUIT_ME', type: 'api_key', description: '', value: 'v' });
    const agent = runAgent(app.socketPath, 'QUIT_ME');
    await agent.pending;
    await until(() => app.world.liveWindows().length === 2, 'the popup');
    assert.equal(await connects(app.socketPath), true);
    assert.ok(app.world.powerMonitor.listenerCount('lock-screen') > 0);

    await app.quit();
    assert.equal(app.world.app.$quitCalls, 2, 'the first quit waits for the host to stop, then quits again');
    assert.equal(fs.existsSync(app.socketPath), false, 'the socket file is removed');
    assert.equal(await connects(app.socketPath), false);
    assert.deepEqual(app.world.liveWindows(), [], 'every window closed');
    assert.equal(app.world.trays[0]!.isDestroyed(), true);
    assert.equal(app.world.powerMonitor.listenerCount('lock-screen'), 0);
    assert.equal(app.world.powerMonitor.listenerCount('suspend'), 0);
    const r = await agent.result;
    assert.equal(r.ev, 'error', 'the waiting agent is not served after quit');
  });

  test('another copy already runs: this one quits at once, opening nothing', async () => {
    const app = await launchApp({ singleInstanceLock: false });
    assert.equal(app.world.app.$quitted, true);
    assert.equal(app.world.app.isReady(), true);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(app.world.windows, []);
    assert.equal(app.world.ipcMain.$handlers.size, 0);
    assert.deepEqual(app.world.trays, []);
    assert.deepEqual(app.world.privilegedSchemes, []);
    assert.equal(fs.existsSync(app.socketPath), false);
  });

  test('a vault that cannot be opened: an error box with the message and hint, exit 1, nothing served', async () => {
    const dataDir = path.join(tempDir('akc-electron-bad-'), 'home');
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dataDir, 'vault.db'), 'this is not an SQLite database, just text of some length\n'.repeat(100));
    const app = await launchApp({ dataDir });
    assert.equal(app.world.app.$exitCode, 1);
    const [box, ...more] = app.world.dialog.$errorBoxes;
    assert.deepEqual(more, []);
    assert.equal(box?.title, 'Agent Keychain');
    assert.match(box!.content, /^failed to open .*vault/i);
    assert.match(box!.content, /\n\n\S/, 'the hint follows');
    assert.doesNotMatch(box!.content, /\n\s+at /, 'no stack');
    assert.deepEqual(app.world.liveWindows(), []);
    assert.equal(fs.existsSync(app.socketPath), false);
  });

  test('on Windows: an error box says it is not supported yet, exit 1, nothing served', async () => {
    const real = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { ...real, value: 'win32' });
    let app;
    try {
      app = await launchApp();
    } finally {
      Object.defineProperty(process, 'platform', real);
    }
    assert.equal(app.world.app.$exitCode, 1);
    assert.deepEqual(app.world.dialog.$errorBoxes, [
      {
        title: 'Agent Keychain',
        content:
          'windows is not supported yet: the host cannot identify the programs that connect to it there (peer identification exists for linux and macos only)\n\nrun Agent Keychain on Linux or macOS',
      },
    ]);
    assert.deepEqual(app.world.windows, []);
    assert.equal(fs.existsSync(app.socketPath), false);
  });

  test('a development renderer only when asked (AKC_DEV_RENDERER=1 and a loopback URL); its CSP admits that origin only', async () => {
    const build = await builtApp();
    const dev = await serveStatic(build.renderer, 'default-src *');
    try {
      const origin = dev.url.replace(/\/$/, '');
      const app = await launchApp({ devRendererUrl: dev.url });
      const win = app.mainWindow();
      assert.equal(win.webContents.getURL(), `${origin}#/`);
      const csp = win.webContents.$lastResponse!.headers['Content-Security-Policy'];
      assert.deepEqual(csp, [
        [
          "default-src 'none'",
          `script-src 'self' 'unsafe-inline' ${origin}`,
          `style-src 'self' 'unsafe-inline' ${origin}`,
          `img-src 'self' data: ${origin}`,
          `font-src 'self' ${origin}`,
          `connect-src ${origin} ${origin.replace(/^http/, 'ws')}`,
          "object-src 'none'",
          "base-uri 'none'",
          "form-action 'none'",
          "frame-ancestors 'none'",
        ].join('; '),
      ]);
      assert.equal(app.world.session.protocol.isProtocolHandled('app'), false, 'nothing served over app://');
      assert.equal((await keychainOf(win).getAppState({})).vault, 'uninitialized', 'the dev page may call');
      const foreign = app.foreignWindow({ webPreferences: { preload: build.preload } });
      await foreign.loadURL(dev.url);
      assert.equal((await rejection(keychainOf(foreign).getAppState({}))).code, 'DENIED', 'still only our own windows');
      foreign.destroy();
      await app.quit();
    } finally {
      await dev.close();
    }
  });

  test('another host serves the socket: the app says so, serves nothing, and leaves that socket alone', async () => {
    const base = tempDir('akc-electron-other-');
    const socketPath = path.join(base, 'run', 'agent.sock');
    fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
    const other = net.createServer((s) => s.end());
    await new Promise<void>((r) => other.listen(socketPath, r));
    try {
      const app = await launchApp({ socketPath });
      const state = await keychainOf(app.mainWindow()).getAppState({});
      assert.match(String(state.hostConflict), /Another Agent Keychain host is already serving/);
      const tray = app.world.trays[0]!;
      assert.equal(tray.$toolTip, 'Agent Keychain — another host is running');
      assert.deepEqual(tray.$menu!.$outline()[0], 'Another Agent Keychain host is running (disabled)');
      await app.quit();
      assert.equal(await connects(socketPath), true, 'the other host’s socket is still served');
    } finally {
      other.close();
    }
  });
});
