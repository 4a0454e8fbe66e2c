/**
 * The test bridge: the renderer in real Chromium against a real core, without Electron.
 *
 * `startBridge()` starts a real DesktopService (real Host, real vault in a temp dir, real
 * agent socket, the real OS keychain when AKC_TEST_KEYRING=ready) and serves the built
 * renderer over HTTP on 127.0.0.1. `attach(page)` runs the built preload bundle
 * (out/preload/index.cjs) in the page, so `window.keychain` is the one the Electron preload
 * exposes, made by the same factory; its IPC goes to `DesktopService.dispatchEnvelope`,
 * i.e. the same validation and error mapping as the main process, and errors reject with
 * plain `{ code, message, hint? }` objects, as through the preload.
 *
 * The only stand-ins are the ports that are Electron's in the app: the clipboard (in
 * memory, inspectable) and the save dialog (answers with a path in the bridge's temp dir).
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { EVENTS, type EventName, type Verb } from '../../src/shared/contract.js';
import { AkcError } from '../../src/shared/errors.js';
import { DesktopService } from '../../src/core/desktop/service.js';
import type { ClipboardPort, SaveDialogPort } from '../../src/core/desktop/ports.js';
import { NapiKeychain } from '../../src/core/keychain/napi-keychain.js';
import type { KeychainPort } from '../../src/core/keychain/port.js';
import type { Logger } from '../../src/core/logger.js';
import { Vault } from '../../src/core/vault/vault.js';
import { ensureRendererBuilt, PRELOAD_OUT, serveStatic } from './bridge-server.js';

export interface BridgeOptions {
  /** Defaults to a fresh temp dir (removed on close). */
  dataDir?: string;
  /** Defaults to `<temp>/run/agent.sock`. */
  socketPath?: string;
  /** Clipboard clear delay (default 30 s, as in the app). */
  clipboardClearMs?: number;
  /** How often the service looks for log rows written by other processes (default 500 ms). */
  activityPollMs?: number;
  /** Whether to try the OS keychain at start (as the app does); default true. */
  unlockWithKeychainAtStart?: boolean;
}

/** The clipboard port in memory: what the app would have put on the system clipboard. */
export class MemoryClipboard implements ClipboardPort {
  text = '';
  writes = 0;
  clears = 0;
  writeText(text: string): void {
    this.text = text;
    this.writes += 1;
  }
  readText(): string {
    return this.text;
  }
  clear(): void {
    this.text = '';
    this.clears += 1;
  }
}

/** The save dialog port: answers with a file in `dir`, or null (cancel) when `cancelNext` is set. */
export class TempSaveDialog implements SaveDialogPort {
  cancelNext = false;
  lastPath: string | null = null;
  constructor(readonly dir: string) {}
  chooseSavePath(opts: { defaultName: string }): Promise<string | null> {
    if (this.cancelNext) {
      this.cancelNext = false;
      return Promise.resolve(null);
    }
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.lastPath = path.join(this.dir, opts.defaultName);
    return Promise.resolve(this.lastPath);
  }
}

/** When no isolated OS keychain runs: every keychain call fails as it would without one. */
class NoKeychain implements KeychainPort {
  readonly description = 'Secret Service (not running in this test)';
  private fail(): never {
    throw new AkcError('KEYCHAIN_UNAVAILABLE', 'no OS keychain is available in this test run', {
      hint: 'run the tests through scripts/with-keyring.sh',
    });
  }
  get(): Promise<string | null> {
    return Promise.resolve().then(() => this.fail());
  }
  set(): Promise<void> {
    return Promise.resolve().then(() => this.fail());
  }
  delete(): Promise<boolean> {
    return Promise.resolve(false);
  }
}

export interface Bridge {
  service: DesktopService;
  /** The renderer's URL (append `#/approval?id=…` etc.). */
  url: string;
  dataDir: string;
  socketPath: string;
  /** Environment for an agent process (`akc get`, SDK) talking to this bridge's host. */
  agentEnv: NodeJS.ProcessEnv;
  clipboard: MemoryClipboard;
  saveDialog: TempSaveDialog;
  /** What the service logged (never values). */
  logs: string[];
  /** Whether the renderer asked to quit (quitApp). */
  quitRequested: () => boolean;
  /** Wires `window.keychain` into a page. Call before `page.goto(url)`. */
  attach(page: Page): Promise<void>;
  close(): Promise<void>;
}

export async function startBridge(opts: BridgeOptions = {}): Promise<Bridge> {
  const rendererDir = await ensureRendererBuilt();
  const initScript = preloadInitScript();
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'akc-bridge-'));
  const dataDir = opts.dataDir ?? path.join(base, 'home');
  const socketPath = opts.socketPath ?? path.join(base, 'run', 'agent.sock');
  const keychainService = `agent-keychain-test-bridge-${randomUUID()}`;
  const keychain: KeychainPort = process.env.AKC_TEST_KEYRING === 'ready' ? new NapiKeychain(keychainService) : new NoKeychain();
  const clipboard = new MemoryClipboard();
  const saveDialog = new TempSaveDialog(path.join(base, 'exports'));
  const logs: string[] = [];
  const logger: Logger = {
    info: (m) => logs.push(`info: ${m}`),
    warn: (m) => logs.push(`warn: ${m}`),
    error: (m) => logs.push(`error: ${m}`),
  };
  let quit = false;
  const service = new DesktopService({
    dataDir,
    socketPath,
    keychain,
    clipboard,
    saveDialog,
    logger,
    onQuit: () => (quit = true),
    ...(opts.clipboardClearMs !== undefined ? { clipboardClearMs: opts.clipboardClearMs } : {}),
    activityPollMs: opts.activityPollMs ?? 500,
  });
  await service.start({ unlockWithKeychain: opts.unlockWithKeychainAtStart ?? true });
  const server = await serveStatic(rendererDir);

  const pages = new Set<Page>();
  const forward = (name: EventName): void => {
    (service.on as (n: string, l: (p: unknown) => void) => unknown).call(service, name, (payload: unknown) => {
      for (const page of pages) {
        if (page.isClosed()) continue;
        page
          .evaluate(([n, p]) => (window as unknown as { __akcEmit?: (n: string, p: unknown) => void }).__akcEmit?.(n, p), [
            name,
            payload,
          ] as const)
          .catch(() => undefined); // page navigating or closed
      }
    });
  };
  for (const name of EVENTS) forward(name);

  let closed = false;
  return {
    service,
    url: server.url,
    dataDir,
    socketPath,
    agentEnv: {
      ...process.env,
      AKC_HOME: dataDir,
      AKC_SOCKET: socketPath,
      AKC_KEYCHAIN_SERVICE: keychainService,
      AKC_DANGEROUS_TEST_WEAK_KDF: '1',
    },
    clipboard,
    saveDialog,
    logs,
    quitRequested: () => quit,
    async attach(page: Page): Promise<void> {
      await page.exposeBinding('__akcInvoke', (_source, verb: unknown, input: unknown) => service.dispatchEnvelope(verb as Verb, input));
      await page.addInitScript({ content: initScript });
      pages.add(page);
      page.once('close', () => pages.delete(page));
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      pages.clear();
      await server.close();
      await service.close();
      if (keychain instanceof NapiKeychain) {
        // Best effort: remove the unlock key this bridge's vault stored.
        try {
          const v = Vault.open({ dataDir, keychain });
          const id = v.state !== 'uninitialized' ? v.id : null;
          v.close();
          if (id) await keychain.delete(id);
        } catch {
          // nothing stored
        }
      }
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

/**
 * Runs in the page before its scripts (Playwright init script): gives the built preload
 * bundle what a sandboxed Electron preload gets — `require('electron')` with an
 * `ipcRenderer` (invoke over the `__akcInvoke` binding, events from `__akcEmit`) and a
 * `contextBridge` — and runs it. So `window.keychain` here is made by the preload's own
 * factory (src/preload/api.ts): the same verbs, envelope unwrapping and subscriptions.
 */
function electronForPreload(runPreload: (require: (id: string) => unknown, module: { exports: unknown }, exports: unknown) => void): void {
  type Handler = (event: unknown, ...args: unknown[]) => void;
  const w = window as unknown as { __akcInvoke: (verb: string, input: unknown) => Promise<unknown> };
  const handlers = new Map<string, Handler[]>();
  const ipcRenderer = {
    invoke(channel: string, input: unknown): Promise<unknown> {
      if (!channel.startsWith('akc:')) return Promise.reject(new Error(`No handler registered for '${channel}'`));
      return w.__akcInvoke(channel.slice('akc:'.length), input);
    },
    on(channel: string, handler: Handler) {
      handlers.set(channel, [...(handlers.get(channel) ?? []), handler]);
      return ipcRenderer;
    },
    removeListener(channel: string, handler: Handler) {
      const list = handlers.get(channel) ?? [];
      const i = list.indexOf(handler);
      if (i >= 0) handlers.set(channel, [...list.slice(0, i), ...list.slice(i + 1)]);
      return ipcRenderer;
    },
  };
  const contextBridge = {
    exposeInMainWorld(key: string, api: unknown): void {
      Object.defineProperty(window, key, { value: Object.freeze(api), enumerable: true });
    },
  };
  Object.defineProperty(window, '__akcEmit', {
    value: (name: string, payload: unknown) => {
      for (const h of handlers.get('akc:event') ?? []) {
        try {
          h({}, name, payload);
        } catch (err) {
          setTimeout(() => {
            throw err;
          });
        }
      }
    },
  });
  const module = { exports: {} as unknown };
  runPreload(
    (id) => {
      if (id === 'electron') return { ipcRenderer, contextBridge };
      throw new Error(`module not found: ${id}`);
    },
    module,
    module.exports,
  );
}

/** The init script: the shim above around the preload bundle's source (no eval: the page's CSP forbids it). */
function preloadInitScript(): string {
  const preload = fs.readFileSync(PRELOAD_OUT, 'utf8');
  return `(${electronForPreload.toString()})(function (require, module, exports) {\n${preload}\n});`;
}
