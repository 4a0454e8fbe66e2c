/**
 * TEST-ONLY (Electron stand-in): one page's renderer side — the sandboxed preload's
 * `ipcRenderer` and `contextBridge`, and the page's main world (`$globals`, i.e. what the
 * renderer sees as `window`).
 *
 * The preload file is the build output, run as a sandboxed Electron preload runs: as
 * CommonJS whose `require` knows `electron` only. Arguments and replies cross the IPC
 * boundary as structured clones, and values cross the context bridge as copies (functions
 * are proxied, errors keep only their message), so a preload that leaks an object the
 * bridge cannot carry, or relies on an Error's extra fields, fails here as it would there.
 */
import fs from 'node:fs';
import Module from 'node:module';
import path from 'node:path';
import { Emitter, electronEvent } from './events.js';
import type { StandinWebContents, StandinWebFrame } from './windows.js';
import { usablePreload } from './windows.js';
import type { World } from './world.js';

/** Node's CommonJS loader, as far as running one file with our own `require` needs it. */
interface CjsModule {
  filename: string;
  paths: string[];
  require: (id: string) => unknown;
  _compile(content: string, filename: string): unknown;
}
const CjsModuleCtor = Module as unknown as {
  new (id: string, parent: null): CjsModule;
  _nodeModulePaths(dir: string): string[];
};

export class StandinIpcRenderer
  extends Emitter
  implements Pick<Electron.IpcRenderer, 'invoke' | 'send' | 'on' | 'once' | 'off' | 'removeListener'>
{
  constructor(private readonly page: RendererWorld) {
    super();
  }

  async invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    return this.page.$invoke(channel, args);
  }

  send(channel: string, ...args: unknown[]): void {
    const cloned = structuredClone(args);
    setImmediate(() => this.page.world.ipcMain.emit(channel, this.page.$mainEvent(), ...cloned));
  }
}

export class StandinContextBridge implements Pick<Electron.ContextBridge, 'exposeInMainWorld'> {
  constructor(private readonly page: RendererWorld) {}

  exposeInMainWorld(apiKey: string, api: unknown): void {
    if (Object.hasOwn(this.page.$globals, apiKey))
      throw new Error('Cannot bind an API on top of an existing property on the window object');
    this.page.$globals[apiKey] = bridged(api);
  }
}

/** A value as the main world receives it through the context bridge. */
function bridged(value: unknown, seen = new Map<object, unknown>()): unknown {
  if (typeof value === 'function') {
    const fn = value as (...a: unknown[]) => unknown;
    return (...args: unknown[]) => {
      let result: unknown;
      try {
        result = fn(...args.map((a) => bridged(a)));
      } catch (err) {
        throw bridgedError(err);
      }
      return bridged(result);
    };
  }
  if (value instanceof Promise)
    return value.then(
      (v) => bridged(v),
      (err: unknown) => Promise.reject(bridgedError(err)),
    );
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return bridgedError(value);
  if (seen.has(value)) return seen.get(value);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const v of value) out.push(bridged(v, seen));
    return out;
  }
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [k, v] of Object.entries(value)) out[k] = bridged(v, seen);
  return out;
}

function bridgedError(err: unknown): unknown {
  if (err instanceof Error) return new Error(err.message);
  return bridged(err);
}

export class RendererWorld {
  /** The page's `window` as the renderer's own scripts see it. */
  readonly $globals: Record<string, unknown> = {};
  readonly ipcRenderer: StandinIpcRenderer;
  readonly contextBridge: StandinContextBridge;
  /** Why the preload did not run (Electron logs it and loads the page without it). */
  $preloadError: Error | null = null;
  /** The frame IPC is attributed to; a test may set null (a frame that is gone) or another frame. */
  $senderFrame: StandinWebFrame | null;

  constructor(
    readonly world: World,
    readonly contents: StandinWebContents,
    frame: StandinWebFrame,
  ) {
    this.ipcRenderer = new StandinIpcRenderer(this);
    this.contextBridge = new StandinContextBridge(this);
    this.$senderFrame = frame;
  }

  /** `window.keychain` (or whatever the preload exposed under `key`). */
  $exposed<T>(key: string): T {
    const v = this.$globals[key];
    if (v === undefined) throw new Error(`the preload exposed no ${key}`);
    return v as T;
  }

  $runPreload(file: string): void {
    if (!usablePreload(file)) {
      this.$preloadError = new Error(`Unable to load preload script: ${file}`);
      return;
    }
    const electron = { ipcRenderer: this.ipcRenderer, contextBridge: this.contextBridge };
    const m = new CjsModuleCtor(file, null);
    m.filename = file;
    m.paths = CjsModuleCtor._nodeModulePaths(path.dirname(file));
    // A sandboxed preload's require: electron, and nothing from the file system or Node.
    m.require = (id: string) => {
      if (id === 'electron') return electron;
      throw new Error(`module not found: ${id}`);
    };
    try {
      m._compile(fs.readFileSync(file, 'utf8'), file);
    } catch (err) {
      this.$preloadError = err instanceof Error ? err : new Error(String(err));
    }
  }

  /** ipcRenderer.invoke as Electron carries it: cloned args, the sender's frame, cloned reply. */
  async $invoke(channel: string, args: unknown[]): Promise<unknown> {
    const cloned = structuredClone(args);
    const handler = this.world.ipcMain.$handlers.get(channel);
    if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    const frame = this.$senderFrame;
    const event = electronEvent({
      sender: this.contents,
      senderFrame: frame && !frame.isDestroyed() ? frame : null,
      frameId: frame?.routingId ?? -1,
      processId: frame?.processId ?? -1,
      type: 'frame' as const,
    });
    let result: unknown;
    try {
      // Our sender and frame stand in for Electron's WebContents and WebFrameMain.
      result = await handler(event as unknown as Electron.IpcMainInvokeEvent, ...cloned);
    } catch (err) {
      throw new Error(`Error invoking remote method '${channel}': ${String(err)}`, { cause: err });
    }
    return structuredClone(result);
  }

  $mainEvent(): Electron.Event<{ sender: StandinWebContents; senderFrame: StandinWebFrame | null }> {
    return electronEvent({ sender: this.contents, senderFrame: this.$senderFrame });
  }

  /** webContents.send arriving here. */
  $deliver(channel: string, args: unknown[]): void {
    const event = electronEvent({ sender: this.ipcRenderer, ports: [] as MessagePort[] });
    this.ipcRenderer.emit(channel, event, ...args);
  }
}
