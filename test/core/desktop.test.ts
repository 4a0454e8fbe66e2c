/**
 * The desktop's pure models, tested in Node: the tray menu, the auto-lock policy (and the
 * Linux session-signal parser), and the approval popup queue.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { autoLockDecision, parseSessionSignal } from '../../src/core/desktop/auto-lock.js';
import { PopupQueue } from '../../src/core/desktop/popup-queue.js';
import {
  parseTrayAction,
  TRAY_LIST_MAX,
  trayIconFor,
  trayMenuModel,
  trayTooltip,
  type TrayItem,
  type TrayState,
} from '../../src/core/desktop/tray-model.js';

const base: TrayState = { vault: 'locked', hostConflict: false, approvals: [], secrets: [] };

function find(items: TrayItem[], label: RegExp): TrayItem | undefined {
  return items.find((i) => i.kind !== 'separator' && label.test(i.label));
}

function actions(items: TrayItem[]): string[] {
  return items.flatMap((i) => (i.kind === 'action' ? [i.action] : i.kind === 'submenu' ? actions(i.items) : []));
}

describe('tray menu model', () => {
  test('locked: Unlock…, no Lock, Rotate disabled, Open / Activity / Quit', () => {
    const items = trayMenuModel(base);
    assert.ok(find(items, /^Unlock…$/));
    assert.equal(find(items, /^Lock$/), undefined);
    const rotate = find(items, /^Rotate$/);
    assert.equal(rotate?.kind, 'submenu');
    assert.equal(rotate?.kind === 'submenu' && rotate.enabled, false);
    assert.deepEqual(actions(items), ['unlock', 'open', 'activity', 'quit']);
    const activity = items.find((i) => i.kind === 'action' && i.action === 'activity');
    assert.equal(activity?.kind === 'action' && activity.enabled, false, 'the activity log needs an unlocked vault');
    assert.equal(trayIconFor(base), 'locked');
  });

  test('unlocked: Lock, Rotate lists every secret with an action that opens the rotate dialog', () => {
    const state: TrayState = { ...base, vault: 'unlocked', secrets: ['GITHUB_TOKEN', 'OPENAI_API_KEY'] };
    const items = trayMenuModel(state);
    assert.ok(find(items, /^Lock$/));
    assert.equal(find(items, /^Unlock/), undefined);
    const rotate = find(items, /^Rotate$/);
    assert.ok(rotate && rotate.kind === 'submenu' && rotate.enabled);
    assert.deepEqual(actions(rotate.items), ['rotate:GITHUB_TOKEN', 'rotate:OPENAI_API_KEY']);
    assert.deepEqual(parseTrayAction('rotate:OPENAI_API_KEY'), { kind: 'rotate', arg: 'OPENAI_API_KEY' });
    assert.equal(trayIconFor(state), 'unlocked');
    assert.match(trayTooltip(state), /unlocked/);
  });

  test('unlocked with no secrets: a disabled "No secrets" item, never a placeholder action', () => {
    const rotate = find(trayMenuModel({ ...base, vault: 'unlocked' }), /^Rotate$/);
    assert.ok(rotate && rotate.kind === 'submenu');
    assert.deepEqual(rotate.items, [{ kind: 'label', label: 'No secrets' }]);
  });

  test('pending approvals: a submenu with each request, the pending icon, and a count', () => {
    const approvals = [
      { id: 'a_1', program: 'claude-code', secrets: ['OPENAI_API_KEY'], count: 1 },
      { id: 'a_2', program: 'node agent.js', secrets: ['A', 'B', 'C'], count: 3 },
    ];
    const state: TrayState = { ...base, vault: 'unlocked', approvals };
    const items = trayMenuModel(state);
    const pending = find(items, /^Pending approvals \(2\)$/);
    assert.ok(pending && pending.kind === 'submenu');
    assert.deepEqual(actions(pending.items), ['approval:a_1', 'approval:a_2']);
    assert.equal(pending.items[0]!.kind === 'action' && pending.items[0]!.label, 'claude-code → OPENAI_API_KEY');
    assert.equal(pending.items[1]!.kind === 'action' && pending.items[1]!.label, 'node agent.js → A, B +1 (×3)');
    assert.equal(trayIconFor(state), 'pending');
    assert.equal(trayIconFor({ vault: 'locked', approvals }), 'pending', 'pending wins over locked');
    assert.match(trayTooltip(state), /2 pending approvals/);
    assert.deepEqual(parseTrayAction('approval:a_2'), { kind: 'approval', arg: 'a_2' });
  });

  test('long lists are capped with an "n more…" label', () => {
    const secrets = Array.from({ length: TRAY_LIST_MAX + 5 }, (_, i) => `S${i}`);
    const rotate = find(trayMenuModel({ ...base, vault: 'unlocked', secrets }), /^Rotate$/);
    assert.ok(rotate && rotate.kind === 'submenu');
    assert.equal(rotate.items.length, TRAY_LIST_MAX + 1);
    assert.deepEqual(rotate.items.at(-1), { kind: 'label', label: '5 more…' });
  });

  test('no vault yet: set up; another host: says so and offers only open and quit', () => {
    assert.deepEqual(actions(trayMenuModel({ ...base, vault: 'uninitialized' })), ['setup', 'open', 'activity', 'quit']);
    const conflict = trayMenuModel({ ...base, vault: 'unlocked', hostConflict: true });
    assert.ok(find(conflict, /another Agent Keychain host/i));
    assert.equal(find(conflict, /^Lock$/), undefined);
    assert.match(trayTooltip({ ...base, hostConflict: true }), /another host/);
  });
});

describe('auto-lock policy', () => {
  const settings = { autoLockMinutes: 10, lockOnSleep: true };

  test('locks after the configured idle minutes, not before', () => {
    assert.equal(autoLockDecision(settings, 'unlocked', { kind: 'idle', idleSeconds: 599 }).lock, false);
    assert.deepEqual(autoLockDecision(settings, 'unlocked', { kind: 'idle', idleSeconds: 600 }), { lock: true, reason: 'idle 10 min' });
  });

  test('0 minutes never locks for idleness; a locked vault is never "locked again"', () => {
    assert.equal(autoLockDecision({ ...settings, autoLockMinutes: 0 }, 'unlocked', { kind: 'idle', idleSeconds: 1e9 }).lock, false);
    assert.equal(autoLockDecision(settings, 'locked', { kind: 'idle', idleSeconds: 1e9 }).lock, false);
    assert.equal(autoLockDecision(settings, 'uninitialized', { kind: 'session', event: 'suspend' }).lock, false);
    assert.equal(autoLockDecision(settings, 'unlocked', { kind: 'idle', idleSeconds: Number.NaN }).lock, false);
  });

  test('screen lock and suspend lock only with lockOnSleep; unlock and resume never lock', () => {
    assert.deepEqual(autoLockDecision(settings, 'unlocked', { kind: 'session', event: 'lock-screen' }), {
      lock: true,
      reason: 'screen locked',
    });
    assert.deepEqual(autoLockDecision(settings, 'unlocked', { kind: 'session', event: 'suspend' }), {
      lock: true,
      reason: 'system suspended',
    });
    assert.equal(autoLockDecision(settings, 'unlocked', { kind: 'session', event: 'unlock-screen' }).lock, false);
    assert.equal(autoLockDecision(settings, 'unlocked', { kind: 'session', event: 'resume' }).lock, false);
    const off = { ...settings, lockOnSleep: false };
    assert.equal(autoLockDecision(off, 'unlocked', { kind: 'session', event: 'lock-screen' }).lock, false);
    assert.equal(autoLockDecision(off, 'unlocked', { kind: 'session', event: 'suspend' }).lock, false);
  });

  test('Linux session signals from gdbus monitor', () => {
    assert.equal(parseSessionSignal('/org/freedesktop/ScreenSaver: org.freedesktop.ScreenSaver.ActiveChanged (true,)'), 'lock-screen');
    assert.equal(parseSessionSignal('/org/gnome/ScreenSaver: org.gnome.ScreenSaver.ActiveChanged (false,)'), 'unlock-screen');
    assert.equal(parseSessionSignal('/org/freedesktop/login1/session/_32: org.freedesktop.login1.Session.Lock ()'), 'lock-screen');
    assert.equal(parseSessionSignal('/org/freedesktop/login1/session/_32: org.freedesktop.login1.Session.Unlock ()'), 'unlock-screen');
    assert.equal(parseSessionSignal('/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (true,)'), 'suspend');
    assert.equal(parseSessionSignal('/org/freedesktop/login1: org.freedesktop.login1.Manager.PrepareForSleep (false,)'), 'resume');
    // Not ours, or malformed: nothing.
    assert.equal(parseSessionSignal('/org/example: org.example.Thing.ActiveChanged (true,)'), null);
    assert.equal(parseSessionSignal('/org/example: org.example.Thing.Lock ()'), null);
    assert.equal(parseSessionSignal('The name org.freedesktop.ScreenSaver is owned by :1.23'), null);
    assert.equal(parseSessionSignal(''), null);
  });
});

describe('approval popup queue', () => {
  test('one popup at a time, oldest first, with the number waiting behind it', () => {
    const q = new PopupQueue();
    assert.deepEqual(q.update([]), { action: { kind: 'none' }, arrived: [] });
    assert.deepEqual(q.update(['a']), { action: { kind: 'open', id: 'a', waiting: 0 }, arrived: ['a'] });
    assert.deepEqual(q.update(['a', 'b', 'c']), { action: { kind: 'keep', id: 'a', waiting: 2 }, arrived: ['b', 'c'] });
    assert.equal(q.showing, 'a');
    assert.equal(q.waiting, 2);
  });

  test('when the shown request ends, the popup switches to the next, then closes', () => {
    const q = new PopupQueue();
    q.update(['a', 'b']);
    assert.deepEqual(q.update(['b']).action, { kind: 'switch', id: 'b', waiting: 0 });
    assert.deepEqual(q.update([]).action, { kind: 'close' });
    assert.equal(q.showing, null);
    assert.deepEqual(q.update([]).action, { kind: 'none' });
  });

  test('closing the popup denies its request and never shows it again', () => {
    const q = new PopupQueue();
    q.update(['a', 'b']);
    assert.equal(q.closed(), 'a');
    assert.equal(q.showing, null);
    assert.deepEqual(q.next(), { kind: 'open', id: 'b', waiting: 0 });
    // The deny of "a" has not landed yet: it is still pending, but is not shown again.
    assert.deepEqual(q.update(['a', 'b']).action, { kind: 'keep', id: 'b', waiting: 0 });
    assert.deepEqual(q.update(['b']).action, { kind: 'keep', id: 'b', waiting: 0 });
  });

  test('a popup that cannot be shown denies its request and moves on', () => {
    const q = new PopupQueue();
    q.update(['a']);
    assert.equal(q.failed(), 'a');
    assert.deepEqual(q.next(), { kind: 'none' });
    assert.equal(q.closed(), null, 'nothing left to deny');
  });

  test('focus shows a chosen request (tray menu); unknown ids change nothing', () => {
    const q = new PopupQueue();
    q.update(['a', 'b', 'c']);
    assert.deepEqual(q.focus('c'), { kind: 'switch', id: 'c', waiting: 2 });
    assert.deepEqual(q.focus('c'), { kind: 'keep', id: 'c', waiting: 2 });
    assert.deepEqual(q.focus('zzz'), { kind: 'keep', id: 'c', waiting: 2 });
    // Ending "c" goes back to the oldest.
    assert.deepEqual(q.update(['a', 'b']).action, { kind: 'switch', id: 'a', waiting: 1 });
    const fresh = new PopupQueue();
    fresh.update(['x']);
    fresh.closed();
    assert.deepEqual(fresh.focus('x'), { kind: 'none' }, 'a request being denied cannot be brought back');
  });
});
