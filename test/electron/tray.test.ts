/**
 * The tray of the built Electron main, on the Electron stand-in over a real host: its icon,
 * tooltip and menu for not-set-up / unlocked / pending / locked, and every menu action
 * reaching what it names (the lock verb, the main window and its routes, the popup, quit).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { KeychainApi } from '../../src/shared/contract.js';
import { launchApp, until, type Launched } from '../electron-standin/launch.js';
import type { StandinNativeImage, StandinTray } from '../electron-standin/shell.js';
import type { StandinBrowserWindow } from '../electron-standin/windows.js';
import { PASSWORD, ROOT } from '../helpers/env.js';
import { keychainOf, runAgent } from './fixture.js';

describe('the tray (built main on the Electron stand-in)', () => {
  let app: Launched;
  let keychain: KeychainApi;
  let tray: StandinTray;
  let win: StandinBrowserWindow;

  const outline = (): string[] => tray.$menu?.$outline() ?? [];
  const click = (label: string | RegExp): void => {
    const item = tray.$menu?.$find(label);
    assert.ok(item, `the menu has ${String(label)}: ${outline().join(' | ')}`);
    item.click();
  };
  const icon = (): string => path.basename(tray.$imagePath);
  const TAIL = ['---', 'Open Agent Keychain', 'Activity log', '---', 'Quit Agent Keychain'];

  before(async () => {
    app = await launchApp();
    win = app.mainWindow();
    keychain = keychainOf(win);
    assert.equal(app.world.trays.length, 1);
    tray = app.world.trays[0]!;
  });

  after(async () => {
    if (!app.world.app.$quitted) await app.quit();
  });

  test('icons are the PNGs in resources/', () => {
    for (const name of ['locked', 'unlocked', 'pending']) {
      const file = path.join(ROOT, 'resources', `tray-${name}.png`);
      assert.ok(fs.existsSync(file), file);
    }
    const image = tray.$image as StandinNativeImage;
    assert.equal(image.isEmpty(), false, 'the icon decodes');
    assert.deepEqual(image.getSize(), { width: 16, height: 16 });
  });

  test('before setup: locked icon, "not set up", and Set up… opens the main window', () => {
    assert.equal(icon(), 'tray-locked.png');
    assert.equal(tray.$toolTip, 'Agent Keychain — not set up');
    assert.deepEqual(outline(), ['Set up Agent Keychain…', ...TAIL.map((l) => (l === 'Activity log' ? 'Activity log (disabled)' : l))]);
    win.hide();
    click('Set up Agent Keychain…');
    assert.equal(win.isVisible(), true);
    assert.equal(win.isFocused(), true);
  });

  test('unlocked: unlocked icon, Lock, the secrets to rotate', async () => {
    await keychain.setupVault({ password: PASSWORD, keychain: false });
    await keychain.saveSecret({ name: 'TRAY_ONE', type: 'api_key', description: '', value: 'v1' });
    await until(() => outline().includes('  TRAY_ONE…'), 'the secret in the Rotate menu');
    assert.equal(icon(), 'tray-unlocked.png');
    assert.equal(tray.$toolTip, 'Agent Keychain — unlocked');
    assert.deepEqual(outline(), [
      'Vault unlocked (disabled)',
      'Lock',
      '---',
      'No pending approvals (disabled)',
      'Rotate',
      '  TRAY_ONE…',
      ...TAIL,
    ]);
  });

  test('Activity log and Rotate… open the main window on their routes; Open restores a minimized window', () => {
    win.hide();
    click('Activity log');
    assert.equal(win.isVisible(), true);
    assert.equal(win.webContents.$executed.at(-1), 'location.hash = "#/activity"');
    assert.equal(win.webContents.getURL(), 'app://renderer/index.html#/activity');
    click('TRAY_ONE…');
    assert.equal(win.webContents.$executed.at(-1), 'location.hash = "#/secrets?rotate=TRAY_ONE"');
    win.minimize();
    const executed = win.webContents.$executed.length;
    click('Open Agent Keychain');
    assert.equal(win.isMinimized(), false);
    assert.equal(win.isVisible(), true);
    assert.equal(win.webContents.$executed.length, executed, 'Open keeps the current route');
  });

  test('pending: pending icon and count; choosing a request shows it in the popup', async () => {
    const one = runAgent(app.socketPath, 'TRAY_ONE', 'first');
    const oneId = await one.pending;
    const two = runAgent(app.socketPath, 'TRAY_ONE', 'second');
    const twoId = await two.pending;
    await until(() => tray.$toolTip === 'Agent Keychain — unlocked · 2 pending approvals', `the tooltip (${tray.$toolTip})`);
    assert.equal(icon(), 'tray-pending.png');
    const pending = tray.$menu!.$find('Pending approvals (2)');
    assert.ok(pending?.submenu, outline().join(' | '));
    assert.equal(pending.submenu.items.length, 2);
    assert.match(pending.submenu.items[0]!.label, / → TRAY_ONE$/);

    const popupFor = (id: string) =>
      app.world.liveWindows().find((w) => w.webContents.getURL() === `app://renderer/index.html#/approval?id=${id}`);
    await until(() => popupFor(oneId)?.isVisible() === true, 'the popup on the first request');
    pending.submenu.items[1]!.click();
    await until(() => popupFor(twoId)?.isVisible() === true, 'the popup on the chosen request');
    assert.equal(popupFor(oneId), undefined, 'one popup at a time');
    const shown = popupFor(twoId)!;
    shown.hide();
    pending.submenu.items[1]!.click(); // the one already shown: brought back, not replaced
    assert.equal(shown.isVisible(), true);
    assert.equal(popupFor(twoId), shown);

    shown.close();
    assert.equal((await two.result).reason, 'DENIED');
    await until(() => popupFor(oneId)?.isVisible() === true, 'the first request again');
    popupFor(oneId)!.close();
    assert.equal((await one.result).reason, 'DENIED');
    await until(() => tray.$toolTip === 'Agent Keychain — unlocked', 'no pending approvals');
    assert.equal(icon(), 'tray-unlocked.png');
  });

  test('Lock runs the lock verb; the menu then offers Unlock…, which opens the window', async () => {
    click('Lock');
    await until(() => tray.$toolTip === 'Agent Keychain — locked', 'the locked tooltip');
    assert.equal((await keychain.getAppState({})).vault, 'locked');
    assert.equal(icon(), 'tray-locked.png');
    assert.deepEqual(outline().slice(0, 6), [
      'Vault locked (disabled)',
      'Unlock…',
      '---',
      'No pending approvals (disabled)',
      'Rotate (disabled)',
      '  Unlock to rotate (disabled)',
    ]);
    assert.ok(outline().includes('Activity log (disabled)'));
    win.hide();
    click('Unlock…');
    assert.equal(win.isVisible(), true);
  });

  test('a click on the icon opens the window', () => {
    win.hide();
    tray.$click();
    assert.equal(win.isVisible(), true);
    assert.equal(win.isFocused(), true);
  });

  test('Quit quits the app: the host stops and the socket goes', async () => {
    assert.ok(fs.existsSync(app.socketPath));
    click('Quit Agent Keychain');
    await until(() => app.world.app.$quitted, 'the app to quit');
    assert.equal(fs.existsSync(app.socketPath), false);
    assert.equal(tray.isDestroyed(), true);
  });
});
