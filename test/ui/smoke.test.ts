/**
 * Smoke test of the test bridge: the built renderer in Debian Chromium (playwright-core)
 * against a real DesktopService. Checks that the app renders under the app's CSP, that
 * `window.keychain` has exactly the contract's verbs plus `on`, that inputs are validated
 * and errors arrive as plain `{ code, message }` objects, and that events reach the page.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { VERBS } from '../../src/shared/contract.js';
import { PASSWORD } from '../helpers/env.js';
import { startBridge, type Bridge } from './bridge.js';

const CHROMIUM = '/usr/bin/chromium';

function chromiumSkip(): string | false {
  if (fs.existsSync(CHROMIUM)) return false;
  if (process.env.AKC_TEST_REQUIRE_CHROMIUM === '1') throw new Error(`AKC_TEST_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing`);
  return `no ${CHROMIUM} (apt-get install chromium)`;
}

const skip = chromiumSkip();

describe('renderer in Chromium through the test bridge', { skip }, () => {
  let browser: Browser;
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge({ unlockWithKeychainAtStart: false });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  after(async () => {
    await browser?.close();
    await bridge?.close();
  });

  test('the app renders under the CSP, with window.keychain as the contract defines it', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    await bridge.attach(page);
    await page.goto(bridge.url);

    // First run: the setup screen.
    await page.getByRole('heading', { name: /create your vault/i }).waitFor({ timeout: 15_000 });
    const rootChildren = await page.evaluate(() => document.getElementById('root')?.childElementCount ?? 0);
    assert.ok(rootChildren > 0, 'the React root rendered');

    const keys = await page.evaluate(() => Object.keys((window as unknown as { keychain: object }).keychain).sort());
    assert.deepEqual(keys, [...VERBS, 'on'].sort(), 'exactly the contract verbs and on()');

    const state = await page.evaluate(() =>
      (window as unknown as { keychain: { getAppState(i: object): Promise<{ vault: string }> } }).keychain.getAppState({}),
    );
    assert.equal(state.vault, 'uninitialized');

    // Validation at the receiver; the error is a plain object with code and message only.
    const err = await page.evaluate(async () => {
      const k = (window as unknown as { keychain: { unlock(i: unknown): Promise<unknown> } }).keychain;
      try {
        await k.unlock({ password: '', extra: 1 });
        return null;
      } catch (e) {
        return { isError: e instanceof Error, keys: Object.keys(e as object).sort(), code: (e as { code: string }).code };
      }
    });
    assert.deepEqual(err, { isError: false, keys: ['code', 'message'], code: 'INVALID_ARGUMENT' });

    assert.deepEqual(problems, [], 'no page errors and no CSP violations');
    await page.close();
  });

  test('events from the core reach listeners registered with on()', async () => {
    const page = await browser.newPage();
    await bridge.attach(page);
    await page.goto(bridge.url);
    await page.evaluate(() => {
      const w = window as unknown as { keychain: { on(e: string, l: (p: unknown) => void): () => void }; seen: unknown[] };
      w.seen = [];
      w.keychain.on('stateChanged', (p) => w.seen.push(p));
    });
    const result = await page.evaluate(
      (password) =>
        (window as unknown as { keychain: { setupVault(i: object): Promise<{ vault: string }> } }).keychain.setupVault({
          password,
          keychain: false,
        }),
      PASSWORD,
    );
    assert.equal(result.vault, 'unlocked');
    await page.waitForFunction(() => (window as unknown as { seen: { vault: string }[] }).seen.some((s) => s.vault === 'unlocked'));
    // The app follows the event: the setup screen is gone.
    await page.getByRole('heading', { name: /create your vault/i }).waitFor({ state: 'detached', timeout: 15_000 });
    await page.close();
  });
});
