/**
 * Settings → Proxy bindings in real Chromium (playwright-core) against a real
 * DesktopService through the test bridge (issue 13: the app manages bindings through the
 * verbs `akc proxy` uses). The human adds a binding in the dialog (a mistake and a wrong
 * password first), sees one made with `akc proxy add` appear, edits one and removes one;
 * the CLI sees what the app did. Screenshots (light and dark) go to a temporary directory,
 * or docs/screenshots with AKC_UPDATE_SCREENSHOTS=1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AKC_BIN, PASSWORD, ROOT } from '../helpers/env.js';
import { startBridge, type Bridge } from './bridge.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS =
  process.env.AKC_UPDATE_SCREENSHOTS === '1'
    ? path.join(ROOT, 'docs/screenshots')
    : fs.mkdtempSync(path.join(os.tmpdir(), 'akc-screenshots-'));

function chromiumSkip(): string | false {
  if (fs.existsSync(CHROMIUM)) return false;
  if (process.env.AKC_TEST_REQUIRE_CHROMIUM === '1') throw new Error(`AKC_TEST_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing`);
  return `no ${CHROMIUM} (apt-get install chromium)`;
}

function cli(bridge: Bridge, args: string[], input = ''): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [AKC_BIN, ...args], { env: bridge.agentEnv, input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function screenshots(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.screenshot({ path: path.join(SHOTS, `${name}-${colorScheme}.png`), animations: 'disabled', caret: 'hide' });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

describe('Settings → Proxy bindings in Chromium against the real core', { skip: chromiumSkip() }, () => {
  let browser: Browser;
  let bridge: Bridge;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    bridge = await startBridge({ unlockWithKeychainAtStart: false });
    await bridge.service.dispatch('setupVault', { password: PASSWORD, keychain: false });
    for (const name of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY']) {
      await bridge.service.dispatch('saveSecret', { name, type: 'api_key', description: '', value: `value-of-${name}` });
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--font-render-hinting=none',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 900 }, deviceScaleFactor: 1 });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(bridge.url)) problems.push(`network request to ${r.url()}`);
    });
    await bridge.attach(page);
    await page.goto(bridge.url + '#/settings');
  });

  after(async () => {
    await browser?.close();
    await bridge?.close();
    assert.deepEqual(problems, [], 'no page errors, CSP violations or network requests');
  });

  const section = () => page.locator('section', { has: page.getByRole('heading', { name: 'Proxy bindings' }) });
  const dialog = () => page.getByRole('dialog');

  test('empty: says what to do, with the command', async () => {
    await section().getByText('No bindings yet.').waitFor();
    assert.match((await section().textContent()) ?? '', /akc proxy add NAME --upstream URL --secret SECRET/);
  });

  test('add: a mistake is explained, a wrong password is refused, then the binding is listed', async () => {
    await section().getByRole('button', { name: 'Add binding' }).first().click();
    await dialog().getByRole('heading', { name: 'Add proxy binding' }).waitFor();
    const add = dialog().getByRole('button', { name: 'Add binding' });
    assert.equal(await add.isDisabled(), true, 'nothing to add yet');
    await dialog().getByLabel('Name').fill('openai');
    await dialog().getByLabel('Secret').fill('OPENAI_API_KEY');
    await dialog().getByLabel('Upstream').fill('http://api.openai.com/v1');
    await dialog().getByLabel('Allowed requests').fill('POST /chat/completions\nGET /models');
    await dialog().getByLabel('Base URL variable').fill('OPENAI_BASE_URL');
    await dialog().getByLabel('Master password').fill('not the password');
    await add.click();
    // The core's rule, before the password is even checked.
    await dialog()
      .getByText(/the upstream must use https:\/\//i)
      .waitFor();
    await dialog().getByLabel('Upstream').fill('https://api.openai.com/v1');
    await add.click();
    await dialog().getByText('Wrong password.').waitFor();
    assert.equal(await dialog().getByLabel('Master password').inputValue(), '', 'the field is cleared');
    await dialog().getByLabel('Master password').fill(PASSWORD);
    await add.click();
    await page.getByText('Added openai').waitFor();
    const row = section().locator('li', { hasText: 'openai' });
    await row.getByText('https://api.openai.com/v1').waitFor();
    await row.getByText('Authorization: Bearer {{secret}}').waitFor();
    await row.getByText('POST /chat/completions, GET /models').waitFor();
    // The CLI sees the binding the app stored.
    const listed = cli(bridge, ['proxy', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const bindings = (JSON.parse(listed.stdout) as { bindings: { name: string; upstream: string; allow: string[] }[] }).bindings;
    assert.deepEqual(
      bindings.map((b) => [b.name, b.upstream, b.allow]),
      [['openai', 'https://api.openai.com/v1', ['POST /chat/completions', 'GET /models']]],
    );
  });

  test('a binding added with `akc proxy add` appears without a reload', async () => {
    const r = cli(
      bridge,
      [
        'proxy',
        'add',
        'anthropic',
        '--upstream',
        'https://api.anthropic.com',
        '--secret',
        'ANTHROPIC_API_KEY',
        '--header',
        'x-api-key: {{secret}}',
        '--allow',
        'POST /v1/messages',
        '--password-stdin',
      ],
      `${PASSWORD}\n`,
    );
    assert.equal(r.code, 0, r.stderr);
    await section().locator('li', { hasText: 'anthropic' }).getByText('x-api-key: {{secret}}').waitFor({ timeout: 10_000 });
    await page.locator('.toast').waitFor({ state: 'detached' });
    await section().evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await screenshots(page, 'settings-proxy');
  });

  test('edit changes the rules; remove asks first, then the binding is gone', async () => {
    const openai = section().locator('li', { hasText: 'openai' });
    await openai.getByRole('button', { name: 'Edit' }).click();
    await dialog().getByRole('heading', { name: 'Edit openai' }).waitFor();
    assert.equal(await dialog().getByLabel('Name').getAttribute('readonly'), '', 'the name stays');
    await dialog().getByLabel('Allowed requests').fill('POST /chat/**');
    await screenshots(page, 'settings-proxy-edit');
    await dialog().getByLabel('Master password').fill(PASSWORD);
    await dialog().getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved openai').waitFor();
    await openai.getByText('POST /chat/**').waitFor();

    await section().getByRole('button', { name: 'Remove anthropic' }).click();
    await dialog().getByRole('heading', { name: 'Remove anthropic?' }).waitFor();
    await dialog().getByRole('button', { name: 'Remove binding' }).click();
    await page.getByText('Removed anthropic').waitFor();
    await section().locator('li', { hasText: 'anthropic' }).waitFor({ state: 'detached' });
    const view = await bridge.service.dispatch('listProxyBindings', {});
    assert.deepEqual(
      view.bindings.map((b) => [b.name, b.allow]),
      [['openai', ['POST /chat/**']]],
    );
  });
});
