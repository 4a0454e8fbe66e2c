/**
 * Auto-lock in the built Electron main, on the Electron stand-in over a real host: the
 * vault locks on powerMonitor's lock-screen and suspend, and after the configured idle
 * time (the app polls the system idle time on an interval; the test drives that interval
 * with mock timers instead of waiting), and not when the settings say otherwise.
 */
import assert from 'node:assert/strict';
import { after, before, describe, mock, test } from 'node:test';
import { IDLE_POLL_MS } from '../../src/core/desktop/auto-lock.js';
import type { KeychainApi } from '../../src/shared/contract.js';
import { launchApp, until, type Launched } from '../electron-standin/launch.js';
import { PASSWORD } from '../helpers/env.js';
import { keychainOf } from './fixture.js';

describe('auto-lock (built main on the Electron stand-in)', () => {
  let app: Launched;
  let keychain: KeychainApi;
  const vault = async (): Promise<string> => (await keychain.getAppState({})).vault;

  before(async () => {
    // Only intervals are mocked: the app's idle poll, and the host's own periodic checks.
    mock.timers.enable({ apis: ['setInterval'] });
    app = await launchApp();
    keychain = keychainOf(app.mainWindow());
    await keychain.setupVault({ password: PASSWORD, keychain: false });
  });

  after(async () => {
    await app?.quit();
    mock.timers.reset();
  });

  test('the screen locking locks the vault', async () => {
    assert.equal(await vault(), 'unlocked');
    app.world.powerMonitor.emit('lock-screen');
    await until(() => app.logs.includes('agent-keychain info: auto-lock: screen locked'), 'the auto-lock');
    assert.equal(await vault(), 'locked');
  });

  test('the system suspending locks the vault', async () => {
    await keychain.unlock({ password: PASSWORD });
    app.world.powerMonitor.emit('suspend');
    assert.equal(await vault(), 'locked');
    assert.ok(app.logs.includes('agent-keychain info: auto-lock: system suspended'));
  });

  test('with "lock on sleep" off, neither locks', async () => {
    await keychain.unlock({ password: PASSWORD });
    await keychain.updateSettings({ lockOnSleep: false });
    app.world.powerMonitor.emit('lock-screen');
    app.world.powerMonitor.emit('suspend');
    assert.equal(await vault(), 'unlocked');
    await keychain.updateSettings({ lockOnSleep: true });
  });

  test('idle for the configured minutes locks at the next poll; less does not', async () => {
    await keychain.updateSettings({ autoLockMinutes: 5 });
    app.world.powerMonitor.$idleSeconds = 5 * 60 - 1;
    mock.timers.tick(IDLE_POLL_MS);
    assert.equal(await vault(), 'unlocked', 'just under five minutes');
    app.world.powerMonitor.$idleSeconds = 5 * 60;
    mock.timers.tick(IDLE_POLL_MS - 1);
    assert.equal(await vault(), 'unlocked', 'not polled yet');
    mock.timers.tick(1);
    assert.equal(await vault(), 'locked');
    assert.ok(app.logs.includes('agent-keychain info: auto-lock: idle 5 min'));
  });

  test('idle locking off (0 minutes): never for idleness', async () => {
    await keychain.unlock({ password: PASSWORD });
    await keychain.updateSettings({ autoLockMinutes: 0 });
    app.world.powerMonitor.$idleSeconds = 24 * 3600;
    mock.timers.tick(IDLE_POLL_MS);
    assert.equal(await vault(), 'unlocked');
  });
});
