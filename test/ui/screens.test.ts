/**
 * The renderer's screens end to end: real Chromium (Debian `chromium` + playwright-core)
 * against a real DesktopService (real Host, real vault, real agent socket) through the
 * test bridge, with real agent processes (`akc get`) asking for secrets.
 *
 * Scenarios (issue 4): first-run setup; unlock with a wrong then the right password; add,
 * edit, reveal (confirmed, re-hidden after 30 s) and delete a secret; an agent asks →
 * the popup shows its pid and executable → Allow once → the agent prints the value; Deny →
 * DENIED; no answer → APPROVAL_TIMEOUT; the activity log updates live and filters; locking
 * from the UI makes the next request wait for unlock in the popup. Lifecycle (issue 5):
 * badges, the tray's `#/secrets?rotate=NAME`, alerts with Dismiss, guard settings behind
 * the password. The Activity list stays virtualised and paged with 100 000 entries.
 *
 * Every screen is screenshotted in light and dark: into docs/screenshots/ when
 * AKC_UPDATE_SCREENSHOTS=1 (`npm run screenshots`), else into a temporary directory, so
 * `npm test` leaves the work tree clean.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { RENDERER_CSP } from '../../src/core/desktop/csp.js';
import type { Host } from '../../src/core/host/host.js';
import { insertAlert } from '../../src/core/lifecycle/alerts.js';
import { applyPolicy } from '../../src/core/lifecycle/policy.js';
import type { ApprovalView } from '../../src/shared/contract.js';
import { AKC_BIN, PASSWORD, ROOT } from '../helpers/env.js';
import { startBridge, type Bridge } from './bridge.js';
import { grantsOf, agentsOf } from '../helpers/stores.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS =
  process.env.AKC_UPDATE_SCREENSHOTS === '1'
    ? path.join(ROOT, 'docs/screenshots')
    : fs.mkdtempSync(path.join(os.tmpdir(), 'akc-screenshots-'));
const MAIN = { width: 1200, height: 780 };
const POPUP = { width: 440, height: 360 };

function chromiumSkip(): string | false {
  if (fs.existsSync(CHROMIUM)) return false;
  if (process.env.AKC_TEST_REQUIRE_CHROMIUM === '1') throw new Error(`AKC_TEST_REQUIRE_CHROMIUM=1 but ${CHROMIUM} is missing`);
  return `no ${CHROMIUM} (apt-get install chromium)`;
}
const skip = chromiumSkip();

async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--font-render-hinting=none',
    ],
  });
}

// ------------------------------------------------------------------------------ helpers

interface AgentRun {
  pid: number;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** A real agent: `akc get NAME --purpose "run evals"` against the bridge's host. */
function agentGet(bridge: Bridge, name: string): AgentRun {
  const child = spawn(process.execPath, [AKC_BIN, 'get', name, '--purpose', 'run evals'], {
    env: bridge.agentEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { pid: child.pid!, done };
}

async function until<T>(
  what: string,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pending approval of process `pid`, once the host has it. */
async function approvalOf(bridge: Bridge, pid: number): Promise<ApprovalView> {
  return until(`an approval from pid ${pid}`, async () => (await bridge.service.dispatch('listApprovals', {})).find((a) => a.pid === pid));
}

function host(bridge: Bridge): Host {
  const h = bridge.service.currentHost;
  assert.ok(h, 'the bridge has a host');
  return h;
}

/** Both themes of the current view, as docs/screenshots/<name>-<light|dark>.png. */
async function screenshots(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.screenshot({ path: path.join(SHOTS, `${name}-${colorScheme}.png`), animations: 'disabled', caret: 'hide' });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

async function waitEnabled(page: Page, name: string | RegExp, timeoutMs = 5000): Promise<void> {
  const button = page.getByRole('button', { name, exact: typeof name === 'string' });
  const deadline = Date.now() + timeoutMs;
  while (!(await button.isEnabled())) {
    if (Date.now() > deadline) throw new Error(`button ${String(name)} never enabled`);
    await page.waitForTimeout(25);
  }
}

// ------------------------------------------------------------------------------ suite

describe('screens in Chromium against the real core', { skip }, () => {
  let browser: Browser;
  let bridge: Bridge;
  const problems: string[] = [];
  const pages: Page[] = [];

  async function open(hash: string, viewport = MAIN, opts: { clock?: boolean } = {}): Promise<Page> {
    const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
    pages.push(page);
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('request', (r) => {
      if (!r.url().startsWith(bridge.url)) problems.push(`network request to ${r.url()}`);
    });
    await bridge.attach(page);
    if (opts.clock) await page.clock.install();
    await page.goto(bridge.url + hash);
    return page;
  }

  before(async () => {
    bridge = await startBridge({ unlockWithKeychainAtStart: false });
    browser = await launch();
  });

  afterEach(async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => undefined);
    assert.deepEqual(problems.splice(0), [], 'no page errors, CSP violations or network requests');
  });

  after(async () => {
    await browser?.close();
    await bridge?.close();
  });

  test('the CSP meta tag matches the policy the app sends', () => {
    const html = fs.readFileSync(path.join(ROOT, 'src/renderer/index.html'), 'utf8');
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    assert.ok(meta, 'index.html has a CSP meta tag');
    // frame-ancestors is ignored (and warned about) in a meta tag: header only.
    const expected = RENDERER_CSP.split('; ').filter((d) => !d.startsWith('frame-ancestors'));
    assert.deepEqual(meta.split('; '), expected);
  });

  test('first-run setup: strength meter, confirmation, keychain off by default on Linux (opt-in)', async () => {
    const page = await open('#/');
    await page.getByRole('heading', { name: 'Create your vault' }).waitFor();
    const keychain = page.getByRole('checkbox', { name: /Unlock with/ });
    assert.equal(await keychain.isChecked(), false, 'keychain unlock is off by default where any same-user program can read it');
    assert.match(
      (await page.locator('.check-note').textContent()) ?? '',
      /any program running as your user — an agent included — can read it/,
    );
    await keychain.check();

    const create = page.getByRole('button', { name: 'Create vault' });
    await page.locator('#setup-password').fill('password1');
    await page.getByText('Very weak').waitFor();
    await page.getByText('This is one of the most common passwords.').waitFor();
    await page.locator('#setup-password').fill(PASSWORD);
    await page
      .locator('.meter-text strong')
      .filter({ hasText: /Fair|Good|Strong/ })
      .waitFor();
    await page.locator('#setup-confirm').fill(PASSWORD + 'x');
    await page.getByText('The passwords do not match.').waitFor();
    assert.equal(await create.isDisabled(), true, 'Create is disabled while the confirmation differs');
    await page.locator('#setup-confirm').fill(PASSWORD);
    await waitEnabled(page, 'Create vault');
    assert.equal(await page.locator('#setup-password').getAttribute('value'), null, 'the password never becomes an attribute');
    await page.locator('#setup-password').focus();
    await screenshots(page, 'setup');

    await create.click();
    await page.getByRole('heading', { name: 'Secrets' }).waitFor();
    await page.getByText('No secrets yet').waitFor();
    const state = await bridge.service.dispatch('getAppState', {});
    assert.equal(state.vault, 'unlocked');
    assert.equal(state.keychainUnlock, process.env.AKC_TEST_KEYRING === 'ready', 'keychain unlock as chosen (when a keyring runs)');
  });

  test('unlock: a wrong password shows an error, the right one opens the vault', async () => {
    const page = await open('#/secrets');
    await page.getByRole('heading', { name: 'Secrets' }).waitFor();
    await page.getByRole('button', { name: /^Lock/ }).click();
    await page.getByRole('heading', { name: 'Agent Keychain is locked' }).waitFor();
    await screenshots(page, 'unlock');

    await page.locator('#unlock-password').fill('not the password');
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    await page.getByText('Wrong password.').waitFor();
    assert.equal(await page.locator('#unlock-password').inputValue(), '', 'the field is cleared');
    await page.locator('#unlock-password').fill(PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Secrets' }).waitFor();
  });

  test('secrets: add, edit, reveal (confirmed, re-hidden after 30 s) and delete', async () => {
    const value = 'sk-test-reveal-4f8a9c2e71d3';
    const page = await open('#/secrets', MAIN, { clock: true });
    await page.getByRole('heading', { name: 'Secrets' }).waitFor();

    // Add.
    await page.getByRole('button', { name: 'Add secret' }).first().click();
    const add = page.getByRole('dialog', { name: 'Add secret' });
    await add.getByLabel('Name').fill('OPENAI_API_KEY');
    await add.getByLabel('Description').fill('Evals and the nightly batch');
    await add.getByLabel('Value', { exact: true }).fill(value);
    assert.equal(await add.getByLabel('Value', { exact: true }).getAttribute('type'), 'password', 'the value field is masked');
    await add.getByRole('button', { name: 'Add secret' }).click();
    await page.getByRole('heading', { name: 'OPENAI_API_KEY', level: 2 }).waitFor();
    assert.ok(!(await page.content()).includes(value), 'the value is not in the DOM after saving');

    // Edit: metadata only, then a new value (a new version).
    await page.getByRole('button', { name: 'Edit' }).click();
    const edit = page.getByRole('dialog', { name: 'Edit OPENAI_API_KEY' });
    await edit.getByLabel('Description').fill('Evals, nightly batch and CI');
    await edit.getByLabel('Tags').fill('prod, evals');
    await edit.getByRole('button', { name: 'Save', exact: true }).click();
    await page.locator('.panel-desc', { hasText: 'Evals, nightly batch and CI' }).waitFor();
    await page.locator('.panel .tag', { hasText: 'evals' }).waitFor();
    await page.getByRole('button', { name: 'Edit' }).click();
    await page
      .getByRole('dialog', { name: 'Edit OPENAI_API_KEY' })
      .getByLabel('New value')
      .fill(value + '-v2');
    await page.getByRole('button', { name: 'Save new version' }).click();
    await page.locator('.panel .list-row', { hasText: 'v2' }).filter({ hasText: 'current' }).waitFor();

    // Reveal: nothing before the confirmation, the value after, nothing again after 30 s.
    assert.ok(!(await page.content()).includes(value), 'no value in the DOM before reveal');
    await page.getByRole('button', { name: 'Reveal', exact: true }).click();
    const confirm = page.getByRole('dialog', { name: 'Reveal OPENAI_API_KEY?' });
    await confirm.waitFor();
    assert.ok(!(await page.content()).includes(value), 'still nothing while confirming');
    await confirm.getByRole('button', { name: /Reveal for 30 s/ }).click();
    await page.getByLabel('Revealed value').waitFor();
    assert.ok((await page.content()).includes(value + '-v2'), 'the value is shown after the confirmation');
    await page.getByText(/Hides in 0:[23]\d/).waitFor();
    await page.clock.fastForward('00:31');
    await page.getByLabel('Revealed value').waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(value), 'the value is gone after 30 s');

    // Copy goes through the main process (never the renderer).
    await page.getByRole('button', { name: 'Copy', exact: true }).click();
    await page.getByText(/Copied · clears in 30 s/).waitFor();
    assert.equal(bridge.clipboard.text, value + '-v2');
    assert.ok(!(await page.content()).includes(value));

    // Delete: the name must be typed.
    await page.getByRole('button', { name: 'Delete' }).click();
    const del = page.getByRole('dialog', { name: 'Delete OPENAI_API_KEY?' });
    const confirmDelete = del.getByRole('button', { name: 'Delete secret' });
    assert.equal(await confirmDelete.isDisabled(), true);
    await del.getByRole('textbox').fill('OPENAI_API_KEY');
    await confirmDelete.click();
    await page.getByText('No secrets yet').waitFor();
    assert.deepEqual(await bridge.service.dispatch('listSecrets', {}), []);
  });

  test('an agent asks: the popup shows its pid and executable; Allow once delivers the value', async () => {
    await bridge.service.dispatch('saveSecret', {
      name: 'OPENAI_API_KEY',
      type: 'api_key',
      description: 'Evals',
      value: 'sk-live-allow-7c1e',
    });
    const agent = agentGet(bridge, 'OPENAI_API_KEY');
    await approvalOf(bridge, agent.pid);
    const popup = await open('#/approval', POPUP);
    await popup.getByText(`pid ${agent.pid}`, { exact: false }).waitFor();
    const text = (await popup.locator('.approval').textContent()) ?? '';
    assert.match(text, /wants\s*OPENAI_API_KEY/);
    assert.match(text, /run evals/, 'the claimed purpose');
    assert.match(text, /claimed/);
    assert.match(text, /node/, 'the executable');
    const exe = await popup.locator('.program-line .mono').getAttribute('title');
    assert.ok(exe === path.join(ROOT, 'bin/akc.js') || exe === process.execPath, `the verified executable or script (${exe})`);

    const allow = popup.getByRole('button', { name: 'Allow', exact: true });
    assert.equal(await allow.isDisabled(), true, 'Allow starts disabled');
    assert.equal(await popup.evaluate(() => document.activeElement?.textContent), 'Deny', 'Deny has the focus');
    await waitEnabled(popup, 'Allow');
    await allow.click();
    const r = await agent.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'sk-live-allow-7c1e');
    await popup.getByText('No pending requests').or(popup.getByText('Allowed')).first().waitFor();
  });

  test('Deny: the agent exits 1 with DENIED', async () => {
    const agent = agentGet(bridge, 'OPENAI_API_KEY');
    const approval = await approvalOf(bridge, agent.pid);
    const popup = await open(`#/approval?id=${encodeURIComponent(approval.id)}`, POPUP);
    await popup.getByText(`pid ${agent.pid}`, { exact: false }).waitFor();
    await popup.getByRole('button', { name: 'Deny', exact: true }).click();
    const r = await agent.done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DENIED|denied/);
    await popup.getByText('Denied', { exact: true }).waitFor();
  });

  test('akc run: the popup shows the command, the executable it runs and that the agent chose it', async () => {
    const child = spawn(
      process.execPath,
      [AKC_BIN, 'run', '--env', 'K=OPENAI_API_KEY', '--agent-chosen', '--', process.execPath, '-e', '1'],
      {
        env: bridge.agentEnv,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const done = new Promise<number | null>((resolve) => child.on('close', resolve));
    const approval = await approvalOf(bridge, child.pid!);
    assert.deepEqual(approval.command, { line: `${process.execPath} -e 1`, exe: fs.realpathSync(process.execPath), agentChosen: true });
    const popup = await open(`#/approval?id=${encodeURIComponent(approval.id)}`, POPUP);
    await popup.getByText('agent-chosen', { exact: true }).waitFor();
    const text = (await popup.locator('.approval').textContent()) ?? '';
    assert.match(text, /Command/);
    assert.ok(text.includes('-e 1'), text);
    assert.match(text, /gets the value/);
    await popup.getByRole('button', { name: 'Deny', exact: true }).click();
    assert.notEqual(await done, 0);
  });

  test('no answer: the countdown runs out and the agent gets APPROVAL_TIMEOUT', async () => {
    const h0 = host(bridge);
    const before = h0.approvalTimeoutMs;
    h0.approvalTimeoutMs = 6000;
    try {
      const agent = agentGet(bridge, 'OPENAI_API_KEY');
      const approval = await approvalOf(bridge, agent.pid);
      const main = await open('#/secrets');
      await main.getByRole('button', { name: /1 pending approval/ }).waitFor();
      const popup = await open(`#/approval?id=${encodeURIComponent(approval.id)}`, POPUP);
      const timer = popup.getByRole('timer');
      await timer.waitFor();
      assert.match((await timer.textContent()) ?? '', /^0:0[0-6]$/);
      await popup.locator('.countdown-urgent').waitFor();
      const r = await agent.done;
      assert.equal(r.code, 1);
      assert.match(r.stderr, /APPROVAL_TIMEOUT|timed out|nobody answered/i);
      await popup.getByText('Timed out').waitFor();
    } finally {
      h0.approvalTimeoutMs = before;
    }
  });

  test('activity: new events appear live, and the filters narrow the list', async () => {
    const page = await open('#/activity');
    await page.getByRole('heading', { name: 'Activity' }).waitFor();
    await page.getByText(/verified · \d+ entries/).waitFor();
    await page.locator('.log-row[data-seq]').first().waitFor();
    await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
    const headBefore = Number(await page.locator('.log-row[data-seq]').first().getAttribute('data-seq'));

    // Something happens elsewhere (an agent is denied): the row appears without a reload.
    const agent = agentGet(bridge, 'OPENAI_API_KEY');
    const approval = await approvalOf(bridge, agent.pid);
    await bridge.service.dispatch('decideApproval', { approvalId: approval.id, allow: false, scope: 'once', block: false });
    await agent.done;
    await until(
      'a new row at the top',
      async () => Number(await page.locator('.log-row[data-seq]').first().getAttribute('data-seq')) > headBefore,
    );
    await page.locator('.log-row', { hasText: 'Request denied' }).first().waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload), true, 'no reload happened');

    // Filters: decision, secret, text.
    await page.getByLabel('Filter by decision').selectOption('deny');
    await until('only denials', async () => {
      const decisions = await page.locator('.log-row[data-seq] .c-decision').allTextContents();
      return decisions.length > 0 && decisions.every((d) => d.includes('denied'));
    });
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    await page.getByLabel('Filter by secret').fill('OPENAI_API_KEY');
    await until('only OPENAI_API_KEY', async () => {
      const secrets = await page.locator('.log-row[data-seq] .c-secret .secret-name').allTextContents();
      const rows = await page.locator('.log-row[data-seq]').count();
      return rows > 0 && secrets.length === rows && secrets.every((s) => s === 'OPENAI_API_KEY');
    });
    await page.getByLabel('Filter by secret').fill('');
    await page.getByLabel('Search events').fill('vault.lock');
    await until('only lock events', async () => {
      const events = await page.locator('.log-row[data-seq] .c-event').allTextContents();
      return events.length > 0 && events.every((e) => e === 'Vault locked');
    });
    await page.getByLabel('Search events').fill('no such thing anywhere');
    await page.getByText('No events match these filters').waitFor();
  });

  test('locking from the UI makes the next request wait; the popup unlocks and allows', async () => {
    const page = await open('#/secrets');
    await page.getByRole('heading', { name: 'Secrets' }).waitFor();
    await page.getByRole('button', { name: /^Lock/ }).click();
    await page.getByRole('heading', { name: 'Agent Keychain is locked' }).waitFor();

    const agent = agentGet(bridge, 'OPENAI_API_KEY');
    await approvalOf(bridge, agent.pid);
    await page.getByText('A request is waiting for unlock').waitFor();
    const popup = await open('#/approval', POPUP);
    await popup.getByText(`pid ${agent.pid}`, { exact: false }).waitFor();
    await popup.getByLabel(/the vault is locked/).waitFor();
    const allow = popup.getByRole('button', { name: 'Unlock & allow' });
    await popup.waitForTimeout(1100);
    await screenshots(popup, 'approval-locked');
    assert.equal(await allow.isDisabled(), true, 'needs the password first');
    await popup.getByLabel(/the vault is locked/).fill('wrong password');
    await allow.click();
    await popup.getByText('Wrong password.').waitFor();
    await popup.getByLabel(/the vault is locked/).fill(PASSWORD);
    await allow.click();
    const r = await agent.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'sk-live-allow-7c1e');
    await page.getByRole('heading', { name: 'Secrets' }).waitFor();
  });

  test('lifecycle: badges, the tray’s rotate link, alerts and guard settings', async () => {
    const h = host(bridge);
    for (const [name, type] of [
      ['STRIPE_WEBHOOK_SECRET', 'webhook_secret'],
      ['DEPLOY_TOKEN', 'token'],
      ['CANARY_AWS_KEY', 'api_key'],
    ] as const) {
      await bridge.service.dispatch('saveSecret', { name, type, description: '', value: `initial-${name}-value` });
    }
    applyPolicy(
      h.vault,
      'STRIPE_WEBHOOK_SECRET',
      { owner: 'payments', rotator: 'generate:length=40', rotateEveryMs: 30 * 86_400_000 },
      'test',
    );
    applyPolicy(h.vault, 'DEPLOY_TOKEN', { rotator: 'manual', expiresInMs: 3 * 86_400_000 }, 'test');
    applyPolicy(h.vault, 'CANARY_AWS_KEY', { canary: true }, 'test');
    insertAlert(h.vault.db, { kind: 'rotation.failed', secret: 'STRIPE_WEBHOOK_SECRET', message: 'generate: test failure' }, Date.now());

    const page = await open('#/secrets');
    const row = (name: string) => page.locator('tr.row', { hasText: name });
    await row('DEPLOY_TOKEN')
      .locator('.badge-amber', { hasText: /expires in/ })
      .waitFor();
    await row('CANARY_AWS_KEY').locator('.badge', { hasText: 'canary' }).waitFor();
    await row('STRIPE_WEBHOOK_SECRET').locator('.badge-red', { hasText: 'rotation failed' }).waitFor();

    // The side panel's Lifecycle block.
    await row('STRIPE_WEBHOOK_SECRET').click();
    const lifecycle = page.getByRole('region', { name: 'Lifecycle' });
    await lifecycle.getByText('payments').waitFor();
    await lifecycle.getByText('30 days').waitFor();
    await lifecycle.getByText(/generate/).waitFor();

    // Tray → "#/secrets?rotate=DEPLOY_TOKEN" (manual): a masked field, the new version, never a value.
    await page.evaluate(() => (location.hash = '#/secrets?rotate=DEPLOY_TOKEN'));
    const manual = page.getByRole('dialog', { name: 'Rotate DEPLOY_TOKEN' });
    const field = manual.getByLabel('New value');
    assert.equal(await field.getAttribute('type'), 'password');
    await field.fill('deploy-token-rotated-91ab');
    await manual.getByRole('button', { name: 'Save new version' }).click();
    await page.getByRole('dialog', { name: 'Rotated DEPLOY_TOKEN' }).getByText('v2').waitFor();
    assert.ok(!(await page.content()).includes('deploy-token-rotated-91ab'));
    assert.equal(await page.evaluate(() => location.hash), '#/secrets', 'the one-shot query is dropped');
    await page.getByRole('button', { name: 'Done' }).click();

    // A generating rotator: "Rotate now", again from the tray link.
    await page.evaluate(() => (location.hash = '#/secrets?rotate=STRIPE_WEBHOOK_SECRET'));
    const auto = page.getByRole('dialog', { name: 'Rotate STRIPE_WEBHOOK_SECRET' });
    await auto.getByText(/A new random value is generated/).waitFor();
    await auto.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByRole('dialog', { name: 'Rotated STRIPE_WEBHOOK_SECRET' }).getByText('v2').waitFor();
    await page.getByRole('button', { name: 'Done' }).click();
    // A successful rotation ends the failure alert.
    await until('the failure badge to go', async () => (await row('STRIPE_WEBHOOK_SECRET').locator('.badge-red').count()) === 0);

    // Alerts in the Activity header, with Dismiss.
    insertAlert(
      h.vault.db,
      { kind: 'guard.fired', rule: 'burst', agent: 'node akc.js', message: 'burst: 9 distinct secrets in 60 s' },
      Date.now(),
    );
    const activity = await open('#/activity');
    const alerts = activity.getByRole('region', { name: 'Open alerts' });
    await alerts.getByText('Guard fired').waitFor();
    await activity.locator('.rail-count').waitFor();
    await alerts.getByRole('button', { name: 'Dismiss' }).first().click();
    await alerts.waitFor({ state: 'detached' });
    assert.equal((await bridge.service.dispatch('getLifecycle', {}))!.alerts.length, 0);

    // Guard settings: a change needs the master password.
    const settings = await open('#/settings');
    await settings.getByRole('heading', { name: 'Anomaly guard' }).waitFor();
    const burst = settings.locator('.guard-card', { hasText: 'Burst of requests' });
    await burst.getByRole('switch', { name: /rule on/ }).click();
    const dialog = settings.getByRole('dialog', { name: 'Change the anomaly guard?' });
    await dialog.getByText(/Rule on: on → off/).waitFor();
    await dialog.getByLabel('Master password').fill('wrong password');
    await dialog.getByRole('button', { name: 'Change' }).click();
    await dialog.getByText('Wrong password.').waitFor();
    await dialog.getByLabel('Master password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Change' }).click();
    await dialog.waitFor({ state: 'detached' });
    await until('the guard setting to change', async () => {
      const g = (await bridge.service.dispatch('getLifecycle', {}))!.guard.find((x) => x.key === 'guard.burst.enabled');
      return g?.value === false;
    });
    await until(
      'the switch to follow',
      async () => (await burst.getByRole('switch', { name: /rule on/ }).getAttribute('aria-checked')) === 'false',
    );
    // Turn it back on (the rest of the suite runs with the defaults).
    await burst.getByRole('switch', { name: /rule on/ }).click();
    await dialog.getByLabel('Master password').fill(PASSWORD);
    await dialog.getByRole('button', { name: 'Change' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  test('screenshots of every screen with realistic data, light and dark', async () => {
    const h = host(bridge);
    const now = Date.now();
    // Secrets with every kind of badge.
    const add = async (
      name: string,
      type: 'api_key' | 'token' | 'password' | 'db_credential' | 'ssh_key',
      description: string,
      tags: string[] = [],
    ) => bridge.service.dispatch('saveSecret', { name, type, description, owner: '', tags, value: `value-of-${name}` });
    await add('GITHUB_TOKEN', 'token', 'Release automation', ['ci']);
    await add('ANTHROPIC_API_KEY', 'api_key', 'Claude Code and the eval harness', ['evals']);
    await add('POSTGRES_PROD', 'db_credential', 'Read-only replica for reports', ['prod']);
    await add('LEGACY_SMTP_PASSWORD', 'password', 'Old mail relay, to be removed');
    await add('DEPLOY_SSH_KEY', 'ssh_key', 'Deploy key for the web servers', ['prod']);
    applyPolicy(h.vault, 'GITHUB_TOKEN', { owner: 'platform', purpose: 'tag and publish releases', expiresInMs: 5 * 86_400_000 }, 'test');
    applyPolicy(
      h.vault,
      'ANTHROPIC_API_KEY',
      { owner: 'ana', purpose: 'evals', rotator: 'manual', rotateEveryMs: 90 * 86_400_000 },
      'test',
    );
    applyPolicy(
      h.vault,
      'POSTGRES_PROD',
      { owner: 'data', rotator: 'command:/usr/local/bin/rotate-pg --replica', rotateEveryMs: 7 * 86_400_000, graceMs: 2 * 3_600_000 },
      'test',
    );
    applyPolicy(h.vault, 'LEGACY_SMTP_PASSWORD', { expiresInMs: 1000 }, 'test');
    h.vault.db
      .prepare('UPDATE secrets SET expires_at = ?, expire_after_ms = NULL WHERE name = ?')
      .run(now - 2 * 86_400_000, 'LEGACY_SMTP_PASSWORD');
    insertAlert(
      h.vault.db,
      { kind: 'rotation.due', secret: 'ANTHROPIC_API_KEY', message: 'ANTHROPIC_API_KEY is due for rotation (manual rotator)' },
      now - 3_600_000,
    );
    applyPolicy(h.vault, 'STRIPE_WEBHOOK_SECRET', { purpose: 'verify Stripe webhooks', graceMs: 3_600_000 }, 'test');
    await bridge.service.dispatch('saveSecret', {
      name: 'STRIPE_WEBHOOK_SECRET',
      type: 'webhook_secret',
      description: 'Signs the payment webhooks',
      owner: 'payments',
      tags: ['prod', 'billing'],
    });

    // An agent with grants, and a blocked program.
    await bridge.service.dispatch('registerAgent', {
      name: 'claude-code',
      exePath: process.execPath,
      pinSha256: true,
      argPattern: '*claude*',
    });
    await bridge.service.dispatch('registerAgent', {
      name: 'eval-runner',
      exePath: '/usr/bin/python3',
      pinSha256: false,
      cwdPattern: '/home/ana/src/evals',
    });
    const agent = agentsOf(h).find('claude-code')!;
    const evalRunner = agentsOf(h).find('eval-runner')!;
    h.vault.db.transaction(() => {
      grantsOf(h).create(
        {
          agentId: agent.id,
          secretPattern: 'OPENAI_API_KEY',
          effect: 'allow',
          scope: 'duration',
          expiresAt: now + 42 * 60_000,
          createdBy: 'ui',
        },
        now - 18 * 60_000,
      );
      grantsOf(h).create(
        { agentId: agent.id, secretPattern: 'GITHUB_TOKEN', effect: 'allow', scope: 'until_lock', createdBy: 'ui' },
        now - 3_600_000,
      );
      grantsOf(h).create(
        { agentId: evalRunner.id, secretPattern: 'ANTHROPIC_API_KEY', effect: 'allow', scope: 'always', createdBy: 'ui' },
        now - 86_400_000,
      );
      grantsOf(h).create(
        {
          fingerprint: 'prog:screenshot-example',
          exePath: '/tmp/.cache/x/curl-wrapper',
          secretPattern: '*',
          effect: 'deny',
          scope: 'always',
          createdBy: 'ui',
        },
        now - 2 * 86_400_000,
      );
    })();

    // 300 events over the last hours, through the audit chain (unsigned rows, then a signed head).
    const AGENTS = ['claude-code', 'eval-runner', 'node akc.js', 'cursor'];
    const SECRETS = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GITHUB_TOKEN', 'POSTGRES_PROD', 'STRIPE_WEBHOOK_SECRET'];
    h.vault.db.transaction(() => {
      for (let i = 0; i < 300; i++) {
        const ts = now - (300 - i) * 47_000;
        const a = AGENTS[i % AGENTS.length]!;
        const secret = SECRETS[(i * 7) % SECRETS.length]!;
        const kind = i % 11 === 0 ? 'deny' : i % 5 === 0 ? 'request' : 'deliver';
        const fields =
          kind === 'deliver'
            ? {
                event: 'secret.deliver',
                agent: a,
                pid: 40_000 + i,
                exe: '/usr/bin/node',
                secret,
                version: 1,
                decision: 'allow',
                purpose: i % 3 ? 'run the eval suite' : null,
              }
            : kind === 'deny'
              ? {
                  event: 'secret.deny',
                  agent: a,
                  pid: 40_000 + i,
                  exe: '/usr/bin/node',
                  secret,
                  decision: 'deny',
                  reason: 'denied in the app',
                }
              : { event: 'approval.request', agent: a, pid: 40_000 + i, exe: '/usr/bin/node', secret, purpose: 'deploy the preview' };
        h.vault.audit.appendInTransaction([fields], ts, null);
      }
      h.vault.auditInTransaction([{ event: 'settings.update', reason: 'screenshots' }]);
    })();
    await bridge.service.dispatch('getAppState', {}); // emits the new rows now

    // Secrets, with the side panel open.
    const secrets = await open('#/secrets');
    await secrets.locator('tr.row', { hasText: 'LEGACY_SMTP_PASSWORD' }).locator('.badge-red', { hasText: 'expired' }).waitFor();
    await secrets.locator('tr.row', { hasText: 'STRIPE_WEBHOOK_SECRET' }).click();
    await secrets.getByRole('region', { name: 'Lifecycle' }).waitFor();
    await secrets.locator('tr.row', { hasText: 'STRIPE_WEBHOOK_SECRET' }).blur();
    await screenshots(secrets, 'secrets');

    const agents = await open('#/agents');
    await agents.getByRole('table', { name: 'Registered agents' }).getByText('claude-code').waitFor();
    await agents.getByRole('table', { name: 'Grants' }).waitFor();
    await screenshots(agents, 'agents');

    const activity = await open('#/activity');
    await activity.getByText(/verified · [\d ]+ entries/).waitFor();
    await activity.locator('.log-row[data-seq]').nth(10).waitFor();
    await screenshots(activity, 'activity');

    const settings = await open('#/settings');
    await settings.getByRole('heading', { name: 'Anomaly guard' }).waitFor();
    await screenshots(settings, 'settings');
    await settings.getByRole('heading', { name: 'Anomaly guard' }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await screenshots(settings, 'settings-guard');

    // The approval popup (440 × 360).
    const run = agentGet(bridge, 'OPENAI_API_KEY');
    const approval = await approvalOf(bridge, run.pid);
    const popup = await open(`#/approval?id=${encodeURIComponent(approval.id)}`, POPUP);
    await waitEnabled(popup, 'Allow');
    await popup.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await screenshots(popup, 'approval');
    await popup.getByRole('button', { name: 'Deny', exact: true }).click();
    assert.equal((await run.done).code, 1);
  });

  test('Deny & block: the program is blocked without asking, until unblocked in Agents', async () => {
    const first = agentGet(bridge, 'OPENAI_API_KEY');
    await approvalOf(bridge, first.pid);
    const popup = await open('#/approval', POPUP);
    await popup.getByText(`pid ${first.pid}`, { exact: false }).waitFor();
    await popup.getByRole('button', { name: 'Deny & block' }).click();
    assert.equal((await first.done).code, 1);
    await popup.getByText('Denied and blocked').waitFor();

    // The next request from the same program is denied without a prompt.
    const second = await agentGet(bridge, 'OPENAI_API_KEY').done;
    assert.equal(second.code, 1);
    assert.match(second.stderr, /DENIED|denied|blocked/i);

    const agents = await open('#/agents');
    const blocked = agents.getByRole('table', { name: 'Blocked programs' });
    const row = blocked.locator('tr', { hasText: 'akc' });
    await row.waitFor();
    await row.getByRole('button', { name: 'Unblock' }).click();
    await row.waitFor({ state: 'detached' });
    const third = agentGet(bridge, 'OPENAI_API_KEY');
    await approvalOf(bridge, third.pid); // asks again
    const list = await bridge.service.dispatch('listApprovals', {});
    await bridge.service.dispatch('decideApproval', { approvalId: list[0]!.id, allow: false, scope: 'once', block: false });
    assert.equal((await third.done).code, 1);
  });
});

describe('activity with 100 000 entries', { skip }, () => {
  let browser: Browser;
  let bridge: Bridge;

  before(async () => {
    bridge = await startBridge({ unlockWithKeychainAtStart: false });
    browser = await launch();
    await bridge.service.dispatch('setupVault', { password: PASSWORD, keychain: false });
  });

  after(async () => {
    await browser?.close();
    await bridge?.close();
  });

  test('the list stays virtualised and loads older pages as the user scrolls', async () => {
    const h = bridge.service.currentHost!;
    const TOTAL = 100_000;
    const start = Date.now() - TOTAL * 1000;
    h.vault.db.transaction(() => {
      for (let i = 0; i < TOTAL; i += 1000) {
        const batch = [];
        for (let j = i; j < i + 1000; j++) {
          batch.push({
            event: 'secret.deliver',
            agent: `agent-${j % 17}`,
            pid: 1000 + (j % 5000),
            exe: '/usr/bin/node',
            secret: `SECRET_${j % 50}`,
            version: 1,
            decision: 'allow',
            reason: `row ${j}`,
          });
        }
        h.vault.audit.appendInTransaction(batch, start + i * 1000, null);
      }
      h.vault.auditInTransaction([{ event: 'settings.update', reason: 'bulk rows for the test' }]);
    })();
    await bridge.service.dispatch('getAppState', {}); // emits the appended rows before any page listens
    const head = h.vault.audit.headSeq();
    assert.ok(head > TOTAL);

    // Every queryActivity the page makes (its beforeSeq, 0 for the first page).
    const calls: number[] = [];
    const service = bridge.service;
    const dispatchEnvelope = service.dispatchEnvelope.bind(service);
    service.dispatchEnvelope = ((verb, input) => {
      if (verb === 'queryActivity') calls.push((input as { beforeSeq?: number }).beforeSeq ?? 0);
      return dispatchEnvelope(verb, input);
    }) as typeof service.dispatchEnvelope;

    const page = await browser.newPage({ viewport: MAIN });
    await bridge.attach(page);
    await page.goto(bridge.url + '#/activity');
    await page.getByText(/verified · [\d ]+ entries/).waitFor({ timeout: 30_000 });
    await page.locator(`.log-row[data-seq="${head}"]`).waitFor();
    const rowsInDom = () => page.locator('.log-row').count();
    assert.ok((await rowsInDom()) < 60, `only the visible rows are rendered (${await rowsInDom()})`);
    assert.match((await page.locator('.log-foot').textContent()) ?? '', /100 0\d\d events · 500 loaded/);

    // Scroll to the end of the first page: the next (older) page is fetched with beforeSeq.
    const scrollTo = (rows: number) => page.locator('.log-scroll').evaluate((el, top) => (el.scrollTop = top), rows * 36);
    await scrollTo(480);
    await until('a second page', () => calls.some((b) => b > 0));
    await page.locator(`.log-row[data-seq="${head - 490}"]`).waitFor();
    assert.ok((await rowsInDom()) < 60);

    // A long jump (dragging the scrollbar): pages load until the rows there exist.
    const t0 = Date.now();
    await scrollTo(20_000);
    await page.locator(`.log-row[data-seq="${head - 20_005}"]`).waitFor({ timeout: 20_000 });
    const jumpMs = Date.now() - t0;
    assert.ok((await rowsInDom()) < 60, 'still only the visible rows');
    assert.ok(jumpMs < 15_000, `the jump loaded in ${jumpMs} ms`);
    const older = calls.filter((b) => b > 0);
    assert.ok(older.length >= 2, `older pages were fetched (${older.length})`);
    assert.ok(
      older.every((b, i) => i === 0 || b < older[i - 1]!),
      'older pages, in order',
    );

    // Scrolling stays cheap: frames keep coming while scrolling through loaded rows.
    const frameMs = await page.locator('.log-scroll').evaluate(async (el) => {
      const startTop = el.scrollTop;
      let frames = 0;
      const t = performance.now();
      for (let i = 0; i < 60; i++) {
        el.scrollTop = startTop - i * 120;
        await new Promise((r) => requestAnimationFrame(r));
        frames++;
      }
      return (performance.now() - t) / frames;
    });
    assert.ok(frameMs < 50, `scrolling at ${frameMs.toFixed(1)} ms per frame`);
    await page.close();
  });
});
