/**
 * The approval popup of the built Electron main, on the Electron stand-in, with real agent
 * processes asking a real host over its socket: the popup appears on top, protected from
 * capture, on every workspace; it may call only its few verbs; queued requests follow one
 * another; closing it denies; a popup that cannot be shown denies; a hidden main window
 * means a notification that brings the popup back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { VERBS, type KeychainApi, type Verb } from '../../src/shared/contract.js';
import { launchApp, until, type Launched } from '../electron-standin/launch.js';
import type { StandinBrowserWindow } from '../electron-standin/windows.js';
import { PASSWORD } from '../helpers/env.js';
import { assertSecureWindow, keychainOf, rejection, runAgent } from './fixture.js';

const POPUP_TITLE = 'Agent Keychain — approval request';
/** What the popup page needs, and all it may call. */
const POPUP_VERBS: Verb[] = ['getAppState', 'listApprovals', 'decideApproval', 'getSettings'];

describe('the approval popup (built main + preload on the Electron stand-in, real agents)', () => {
  let app: Launched;
  let keychain: KeychainApi;
  const popups = (): StandinBrowserWindow[] => app.world.liveWindows().filter((w) => w.$options.title === POPUP_TITLE);
  const popupShowing = async (approvalId: string): Promise<StandinBrowserWindow> => {
    const url = `app://renderer/index.html#/approval?id=${encodeURIComponent(approvalId)}`;
    await until(
      () => popups().length === 1 && popups()[0]!.webContents.getURL() === url && popups()[0]!.isVisible(),
      `the popup for ${approvalId}`,
    );
    return popups()[0]!;
  };

  before(async () => {
    app = await launchApp();
    keychain = keychainOf(app.mainWindow());
    await keychain.setupVault({ password: PASSWORD, keychain: false });
    for (const name of ['ALPHA', 'BRAVO', 'CHARLIE', 'DELTA', 'ECHO', 'FOXTROT', 'GOLF']) {
      await keychain.saveSecret({ name, type: 'api_key', description: '', value: `value-of-${name}` });
    }
  });

  after(async () => {
    await app?.quit();
  });

  let first: ReturnType<typeof runAgent>;
  let firstId = '';
  let popup: StandinBrowserWindow;

  test('a pending request opens the popup: secure, frameless, on top at screen-saver level, protected, on every workspace', async () => {
    assert.equal(popups().length, 0);
    first = runAgent(app.socketPath, 'ALPHA');
    firstId = await first.pending;
    popup = await popupShowing(firstId);
    assertSecureWindow(popup, app.build, 'popup');
    const o = popup.$options;
    assert.equal(o.webPreferences?.devTools, false, 'no devtools in the popup');
    assert.deepEqual(
      [o.frame, o.resizable, o.minimizable, o.maximizable, o.fullscreenable, o.alwaysOnTop, o.show],
      [false, false, false, false, false, true, false],
    );
    assert.equal(popup.isAlwaysOnTop(), true);
    assert.equal(popup.$alwaysOnTopLevel, 'screen-saver');
    assert.equal(popup.isContentProtected(), true);
    assert.equal(popup.isVisibleOnAllWorkspaces(), true);
    assert.equal(popup.$visibleOnFullScreen, true);
    assert.equal(popup.isFocused(), true);
    assert.ok(popup.$raised >= 1, 'raised above other windows');
    // Centred horizontally, in the upper third of the primary display's work area.
    const area = app.world.screen.$display.workArea;
    assert.deepEqual(
      [o.x, o.y, o.width, o.height],
      [area.x + (area.width - 440) / 2, Math.round(area.y + (area.height - 360) / 3), 440, 360],
    );
  });

  test('the popup may call its four verbs and is refused every other', async () => {
    const pk = keychainOf(popup) as unknown as Record<Verb, (i: unknown) => Promise<unknown>>;
    for (const verb of VERBS) {
      let code: unknown = null;
      try {
        await pk[verb]({});
      } catch (err) {
        code = (err as { code?: unknown }).code;
      }
      if (POPUP_VERBS.includes(verb)) assert.notEqual(code, 'DENIED', `the popup may call ${verb}`);
      else assert.equal(code, 'DENIED', `the popup may not call ${verb}`);
    }
    assert.equal((await keychain.getAppState({})).vault, 'unlocked', 'nothing the popup tried ran');
  });

  let second: ReturnType<typeof runAgent>;
  let secondId = '';

  test('queued requests wait behind the shown one; deciding it shows the next in a new popup', async () => {
    second = runAgent(app.socketPath, 'BRAVO');
    secondId = await second.pending;
    await until(() => app.world.windows.length >= 2, 'the second request to be queued');
    assert.deepEqual(
      (await keychain.listApprovals({})).map((a) => a.id),
      [firstId, secondId],
    );
    assert.deepEqual(popups(), [popup], 'still one popup, on the first request');
    await keychainOf(popup).decideApproval({ approvalId: firstId, allow: true, scope: 'once', block: false });
    const delivered = await first.result;
    assert.deepEqual([delivered.ev, delivered.name, delivered.value], ['value', 'ALPHA', 'value-of-ALPHA']);
    const next = await popupShowing(secondId);
    assert.notEqual(next, popup, 'a fresh window (its Allow delay starts again)');
    assert.equal(popup.isDestroyed(), true);
    assertSecureWindow(next, app.build, 'the next popup');
    assert.equal(next.isContentProtected(), true);
    popup = next;
  });

  test('closing the popup denies its request; with nothing left, no popup remains', async () => {
    popup.close();
    const r = await second.result;
    assert.equal(r.ev, 'error');
    assert.equal(r.reason, 'DENIED');
    await until(() => popups().length === 0, 'the popup to go');
    assert.deepEqual(await keychain.listApprovals({}), []);
    const { entries } = await keychain.queryActivity({ secret: 'BRAVO' });
    const decided = entries.find((e) => e.event === 'approval.decide');
    assert.deepEqual([decided?.decision, decided?.reason], ['deny', 'deny by ui (popup closed)'], 'the log says why');
  });

  test('with the main window hidden, a request notifies, and the notification brings the popup', async () => {
    const win = app.mainWindow();
    win.close(); // closing the main window only hides it
    assert.equal(win.isDestroyed(), false);
    assert.equal(win.isVisible(), false);
    const before = app.world.notifications.length;
    const agent = runAgent(app.socketPath, 'CHARLIE');
    const id = await agent.pending;
    const shown = await popupShowing(id);
    await until(() => app.world.notifications.length === before + 1, 'a notification');
    const n = app.world.notifications.at(-1)!;
    assert.equal(n.title, 'Approval requested');
    assert.match(n.body, / wants CHARLIE$/);
    assert.equal(n.$shown, true);
    shown.hide();
    n.$click();
    assert.equal(shown.isVisible(), true);
    assert.equal(shown.isFocused(), true);
    await keychainOf(shown).decideApproval({ approvalId: id, allow: false, scope: 'once', block: false });
    assert.equal((await agent.result).reason, 'DENIED');

    // Notifications off in the settings: none.
    await keychain.updateSettings({ notifications: false });
    const quiet = runAgent(app.socketPath, 'DELTA');
    (await popupShowing(await quiet.pending)).close();
    assert.equal((await quiet.result).reason, 'DENIED');
    assert.equal(app.world.notifications.length, before + 1);
    await keychain.updateSettings({ notifications: true });
  });

  test('a popup whose page cannot load, whose renderer dies, or that cannot be created denies its request', async () => {
    const protocol = app.world.session.protocol;
    const handler = protocol.$handlers.get('app')!;
    protocol.unhandle('app');
    try {
      const agent = runAgent(app.socketPath, 'ECHO');
      const id = await agent.pending;
      assert.equal((await agent.result).reason, 'DENIED');
      assert.ok(
        app.logs.some((l) => l.includes(`approval popup failed (load failed: -302 ERR_UNKNOWN_URL_SCHEME): denying ${id}`)),
        app.logs.join('\n'),
      );
    } finally {
      protocol.handle('app', handler);
    }

    const crashing = runAgent(app.socketPath, 'FOXTROT');
    const crashId = await crashing.pending;
    (await popupShowing(crashId)).webContents.$crash('oom');
    assert.equal((await crashing.result).reason, 'DENIED');
    assert.ok(app.logs.some((l) => l.includes(`approval popup failed (renderer gone: oom): denying ${crashId}`)));

    app.world.screen.$failure = 'no display';
    try {
      const headless = runAgent(app.socketPath, 'GOLF');
      await headless.pending;
      assert.equal((await headless.result).reason, 'DENIED');
      assert.ok(app.logs.some((l) => l.includes('approval popup could not be created: no display')));
    } finally {
      app.world.screen.$failure = null;
    }
    await until(() => popups().length === 0, 'no popup left');
    assert.deepEqual(await keychain.listApprovals({}), []);
    const err = await rejection(keychain.decideApproval({ approvalId: crashId, allow: true, scope: 'once', block: false }));
    assert.equal(err.code, 'NOT_FOUND', 'a denied request cannot be allowed afterwards');
  });
});
