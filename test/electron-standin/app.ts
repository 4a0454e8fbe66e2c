/**
 * TEST-ONLY (Electron stand-in): `app` (ready, single instance, quit / exit) and `ipcMain`.
 *
 * Quitting follows Electron's order: 'before-quit' (preventable), then every window is
 * closed ('close' may be prevented, which cancels the quit), then 'will-quit' and 'quit'.
 * When the last window closes outside a quit, 'window-all-closed' is emitted — and, as in
 * Electron, an app that does not listen to it quits.
 */
import { Emitter, electronEvent } from './events.js';
import type { World } from './world.js';

type AppApi =
  | 'setName'
  | 'getName'
  | 'requestSingleInstanceLock'
  | 'quit'
  | 'exit'
  | 'whenReady'
  | 'isReady'
  | 'isPackaged'
  | 'getAppPath'
  | 'on'
  | 'once'
  | 'off'
  | 'removeListener'
  | 'emit';

export class StandinApp extends Emitter implements Pick<Electron.App, AppApi> {
  readonly isPackaged = false;
  /** Set by app.exit(code). */
  $exitCode: number | null = null;
  /** The app went through 'quit'. */
  $quitted = false;
  /** How many times quit() was called. */
  $quitCalls = 0;
  private name = 'Electron';
  private ready = false;
  private quitting = false;
  private markReady!: () => void;
  private readonly readyPromise = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(private readonly world: World) {
    super();
  }

  setName(name: string): void {
    this.name = name;
  }

  getName(): string {
    return this.name;
  }

  getAppPath(): string {
    return this.world.config.appPath;
  }

  requestSingleInstanceLock(_additionalData?: Record<string, unknown>): boolean {
    return this.world.config.singleInstanceLock;
  }

  whenReady(): Promise<void> {
    return this.readyPromise;
  }

  isReady(): boolean {
    return this.ready;
  }

  quit(): void {
    this.$quitCalls += 1;
    if (this.$quitted || this.$exitCode !== null || this.quitting) return;
    const before = electronEvent();
    this.emit('before-quit', before);
    if (before.defaultPrevented) return;
    this.quitting = true;
    for (const w of this.world.windows.filter((x) => !x.isDestroyed())) {
      w.close();
      if (!w.isDestroyed()) {
        this.quitting = false; // a window refused to close: the quit is cancelled
        return;
      }
    }
    const will = electronEvent();
    this.emit('will-quit', will);
    if (will.defaultPrevented) {
      this.quitting = false;
      return;
    }
    this.$quitted = true;
    this.emit('quit', electronEvent(), 0);
  }

  exit(exitCode = 0): void {
    if (this.$exitCode !== null) return;
    this.$exitCode = exitCode;
    for (const w of this.world.windows) w.$vanish();
  }

  /** The app is ready (Electron: after the main script ran). */
  $ready(): void {
    if (this.ready) return;
    this.ready = true;
    this.emit('ready', electronEvent(), {});
    this.markReady();
  }

  /** A second copy of the app was started (it exits; this one is told). */
  $secondInstance(argv: string[] = ['electron', '.'], cwd = process.cwd()): void {
    this.emit('second-instance', electronEvent(), argv, cwd, {});
  }

  /** macOS: the dock icon was clicked. */
  $activate(): void {
    this.emit('activate', electronEvent(), false);
  }

  /** Called by windows as they are destroyed. */
  $windowGone(): void {
    if (this.quitting || this.$quitted || this.$exitCode !== null) return;
    if (this.world.windows.some((w) => !w.isDestroyed())) return;
    if (this.listenerCount('window-all-closed') > 0) this.emit('window-all-closed');
    else this.quit();
  }
}

type InvokeHandler = (event: Electron.IpcMainInvokeEvent, ...args: unknown[]) => unknown;

export class StandinIpcMain
  extends Emitter
  implements Pick<Electron.IpcMain, 'handle' | 'handleOnce' | 'removeHandler' | 'on' | 'once' | 'off' | 'removeListener'>
{
  /** Channel → handler, as registered with handle(). */
  readonly $handlers = new Map<string, InvokeHandler>();

  handle(channel: string, listener: InvokeHandler): void {
    if (this.$handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.$handlers.set(channel, listener);
  }

  handleOnce(channel: string, listener: InvokeHandler): void {
    this.handle(channel, (event, ...args) => {
      this.removeHandler(channel);
      return listener(event, ...args);
    });
  }

  removeHandler(channel: string): void {
    this.$handlers.delete(channel);
  }
}
