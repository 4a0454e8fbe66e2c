/**
 * Shared by the Electron glue tests: the renderer's `window.keychain` of a stand-in
 * window, the security options every window must have, and real agent processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { KeychainApi } from '../../src/shared/contract.js';
import type { Build } from '../electron-standin/launch.js';
import type { StandinBrowserWindow } from '../electron-standin/windows.js';
import { ROOT } from '../helpers/env.js';

/** What the page sees as `window.keychain` (made by the preload in the stand-in's renderer). */
export function keychainOf(win: StandinBrowserWindow): KeychainApi {
  const renderer = win.webContents.$renderer;
  assert.ok(renderer, 'the window has loaded a page');
  assert.equal(renderer.$preloadError, null, 'the preload ran');
  return renderer.$exposed<KeychainApi>('keychain');
}

/** The rejection of `p` (fails when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    return err as Record<string, unknown>;
  }
  assert.fail('expected a rejection');
}

/** Every window the app opens: isolated, sandboxed, no Node, our preload from the build. */
export function assertSecureWindow(win: StandinBrowserWindow, build: Build, what: string): void {
  const prefs = win.$options.webPreferences ?? {};
  assert.equal(prefs.contextIsolation, true, `${what}: contextIsolation`);
  assert.equal(prefs.sandbox, true, `${what}: sandbox`);
  assert.equal(prefs.nodeIntegration, false, `${what}: nodeIntegration`);
  assert.equal(prefs.nodeIntegrationInWorker ?? false, false, `${what}: nodeIntegrationInWorker`);
  assert.equal(prefs.nodeIntegrationInSubFrames ?? false, false, `${what}: nodeIntegrationInSubFrames`);
  assert.equal(prefs.webSecurity, true, `${what}: webSecurity`);
  assert.equal(prefs.allowRunningInsecureContent ?? false, false, `${what}: allowRunningInsecureContent`);
  assert.equal(prefs.webviewTag, false, `${what}: webviewTag`);
  assert.equal(prefs.navigateOnDragDrop, false, `${what}: navigateOnDragDrop`);
  assert.equal(prefs.experimentalFeatures ?? false, false, `${what}: experimentalFeatures`);
  assert.equal(prefs.preload, build.preload, `${what}: the preload is the build's`);
  assert.ok(fs.statSync(build.preload).isFile(), `${what}: the preload file exists`);
}

export interface AgentEvent {
  ev: 'hello' | 'pending' | 'value' | 'error' | 'done';
  name?: string;
  approvalId?: string;
  value?: string;
  code?: string;
  reason?: string | null;
}

export interface AgentRun {
  events: AgentEvent[];
  /** The approval it waits for. */
  pending: Promise<string>;
  /** Its value or its error. */
  result: Promise<AgentEvent>;
  kill(): void;
}

const AGENT = path.join(ROOT, 'dist/test/helpers/agent-client.js');

/** A real agent process asking for `name` over the socket (SDK, peer identified by the kernel). */
export function runAgent(socketPath: string, name: string, purpose = 'electron glue test'): AgentRun {
  const child = spawn(process.execPath, [AGENT, '--socket', socketPath, '--purpose', purpose, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: AgentEvent[] = [];
  let onPending!: (id: string) => void;
  let onResult!: (e: AgentEvent) => void;
  const pending = new Promise<string>((r) => (onPending = r));
  const result = new Promise<AgentEvent>((r) => (onResult = r));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const e = JSON.parse(line) as AgentEvent;
    events.push(e);
    if (e.ev === 'pending' && e.approvalId) onPending(e.approvalId);
    if (e.ev === 'value' || e.ev === 'error') onResult(e);
  });
  child.on('exit', () => onResult({ ev: 'error', code: 'EXITED' }));
  return { events, pending, result, kill: () => child.kill('SIGKILL') };
}
