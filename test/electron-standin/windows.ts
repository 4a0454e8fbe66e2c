/**
 * TEST-ONLY (Electron stand-in): BrowserWindow, its WebContents and main frame.
 *
 * Loading is real where it can be: `loadURL('app://…')` calls the protocol handler the
 * app registered and applies its `onHeadersReceived` hook, and every load runs the
 * window's preload file (from the build output) in a fresh renderer world, the way a
 * sandboxed Electron renderer does. Members starting with `$` are the tests' controls and
 * records; every other member is Electron API, checked against electron.d.ts by the
 * `implements Pick<Electron.…>` clauses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Emitter, electronEvent } from './events.js';
import { RendererWorld } from './renderer.js';
import { NetError } from './session.js';
import type { World } from './world.js';

export class StandinWebFrame implements Pick<Electron.WebFrameMain, 'url' | 'origin' | 'processId' | 'routingId' | 'name' | 'isDestroyed'> {
  url = '';
  readonly name = '';
  private destroyed = false;
  constructor(
    readonly processId: number,
    readonly routingId: number,
  ) {}
  get origin(): string {
    try {
      return new URL(this.url).origin;
    } catch {
      return '';
    }
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  $destroy(): void {
    this.destroyed = true;
  }
}

export interface LoadedResponse {
  url: string;
  status: number;
  headers: Record<string, string[]>;
  body: string;
}

type WebContentsApi =
  | 'id'
  | 'isDestroyed'
  | 'send'
  | 'executeJavaScript'
  | 'setWindowOpenHandler'
  | 'getURL'
  | 'isLoading'
  | 'loadURL'
  | 'on'
  | 'once'
  | 'off'
  | 'removeListener';

export class StandinWebContents extends Emitter implements Pick<Electron.WebContents, WebContentsApi> {
  readonly id: number;
  mainFrame: StandinWebFrame;
  /** The session this page loads through (always the default one here). */
  readonly session;
  /** The page's JavaScript world (null before the first load). */
  $renderer: RendererWorld | null = null;
  /** Every executeJavaScript call, in order. */
  readonly $executed: string[] = [];
  /** The last main-frame response, after the session's header hooks. */
  $lastResponse: LoadedResponse | null = null;
  private url = '';
  private loading = false;
  private destroyed = false;
  private openHandler: ((details: Electron.HandlerDetails) => Electron.WindowOpenHandlerResponse) | null = null;

  constructor(
    private readonly world: World,
    readonly $preferences: Electron.WebPreferences,
    readonly $owner: StandinBrowserWindow | null,
  ) {
    super();
    this.id = world.nextId();
    this.session = world.session;
    this.mainFrame = new StandinWebFrame(world.nextId(), world.nextId());
    world.contents.push(this);
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  getURL(): string {
    return this.url;
  }

  isLoading(): boolean {
    return this.loading;
  }

  /** IPC to the renderer: delivered asynchronously, arguments structured-cloned (as Electron does). */
  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    const cloned = structuredClone(args);
    const renderer = this.$renderer;
    setImmediate(() => renderer?.$deliver(channel, cloned));
  }

  executeJavaScript(code: string, _userGesture?: boolean): Promise<unknown> {
    if (this.destroyed) return Promise.reject(new Error('Object has been destroyed'));
    this.$executed.push(code);
    // The one statement the app runs: a same-document navigation to a hash route.
    const hash = /^location\.hash = (".*")$/.exec(code);
    if (hash?.[1]) {
      const u = new URL(this.url);
      u.hash = JSON.parse(hash[1]) as string;
      this.url = u.href;
      this.mainFrame.url = u.href;
    }
    return Promise.resolve(undefined);
  }

  setWindowOpenHandler(handler: (details: Electron.HandlerDetails) => Electron.WindowOpenHandlerResponse): void {
    this.openHandler = handler;
  }

  async loadURL(url: string, _options?: Electron.LoadURLOptions): Promise<void> {
    if (this.destroyed) throw new Error('Object has been destroyed');
    this.loading = true;
    let response: LoadedResponse;
    try {
      response = await this.world.session.$load(url, this);
    } catch (err) {
      this.loading = false;
      const { code, description } = err instanceof NetError ? err : new NetError(-2, 'ERR_FAILED');
      if (this.destroyed) throw new Error(`ERR_ABORTED (-3) loading '${url}'`, { cause: err });
      this.emit('did-fail-load', electronEvent(), code, description, url, true, this.mainFrame.processId, this.mainFrame.routingId);
      throw new Error(`${description} (${code}) loading '${url}'`, { cause: err });
    }
    this.loading = false;
    if (this.destroyed) throw new Error(`ERR_ABORTED (-3) loading '${url}'`);
    // A navigation: a new document, so a new main frame and a fresh renderer world.
    this.mainFrame.$destroy();
    this.mainFrame = new StandinWebFrame(this.mainFrame.processId, this.world.nextId());
    this.mainFrame.url = url;
    this.url = url;
    this.$lastResponse = response;
    this.$renderer = new RendererWorld(this.world, this, this.mainFrame);
    const preload = this.$preferences.preload;
    if (preload) this.$renderer.$runPreload(preload);
    this.emit('dom-ready', electronEvent());
    this.emit('did-finish-load', electronEvent());
    this.$owner?.$firstPaint();
  }

  /** The page tries to navigate (a link, `location = …`): returns whether the app refused it. */
  $navigate(url: string): boolean {
    const e = electronEvent({ url, isSameDocument: false, isMainFrame: true, frame: null, initiator: null });
    this.emit('will-navigate', e, url, false, true, this.mainFrame.processId, this.mainFrame.routingId);
    if (!e.defaultPrevented) void this.loadURL(url).catch(() => undefined);
    return e.defaultPrevented;
  }

  /** A server redirect during a load: returns whether the app refused it. */
  $redirect(url: string): boolean {
    const e = electronEvent({ url, isSameDocument: false, isMainFrame: true, frame: null, initiator: null });
    this.emit('will-redirect', e, url, false, true, this.mainFrame.processId, this.mainFrame.routingId);
    return e.defaultPrevented;
  }

  /** The page adds a <webview>: returns whether the app refused it. */
  $attachWebview(src: string): boolean {
    const e = electronEvent();
    const prefs: Electron.WebPreferences = {};
    this.emit('will-attach-webview', e, prefs, { src, instanceId: String(this.world.nextId()) });
    return e.defaultPrevented;
  }

  /** The page calls window.open: returns the handler's answer (Electron allows when there is none). */
  $windowOpen(url: string): Electron.WindowOpenHandlerResponse {
    const details: Electron.HandlerDetails = {
      url,
      frameName: '',
      features: '',
      disposition: 'new-window',
      referrer: { url: this.url, policy: 'strict-origin-when-cross-origin' },
    };
    const answer = this.openHandler ? this.openHandler(details) : { action: 'allow' as const };
    if (answer.action === 'allow') {
      const child = new StandinBrowserWindow(this.world, {});
      void child.loadURL(url).catch(() => undefined);
    }
    return answer;
  }

  /** The renderer process dies. */
  $crash(reason: Electron.RenderProcessGoneDetails['reason'] = 'crashed'): void {
    const details: Electron.RenderProcessGoneDetails = { reason, exitCode: 139 };
    this.$renderer = null;
    this.emit('render-process-gone', electronEvent(), details);
  }

  $destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.mainFrame.$destroy();
    this.$renderer = null;
    this.emit('destroyed');
  }
}

type BrowserWindowApi =
  | 'id'
  | 'isDestroyed'
  | 'loadURL'
  | 'show'
  | 'hide'
  | 'focus'
  | 'isFocused'
  | 'isVisible'
  | 'minimize'
  | 'isMinimized'
  | 'restore'
  | 'close'
  | 'destroy'
  | 'moveTop'
  | 'getTitle'
  | 'setContentProtection'
  | 'isContentProtected'
  | 'setAlwaysOnTop'
  | 'isAlwaysOnTop'
  | 'setVisibleOnAllWorkspaces'
  | 'isVisibleOnAllWorkspaces'
  | 'on'
  | 'once'
  | 'off'
  | 'removeListener';

type AlwaysOnTopLevel = NonNullable<Parameters<Electron.BrowserWindow['setAlwaysOnTop']>[1]>;

export class StandinBrowserWindow extends Emitter implements Pick<Electron.BrowserWindow, BrowserWindowApi> {
  readonly id: number;
  readonly webContents: StandinWebContents;
  /** The options the app constructed the window with. */
  readonly $options: Electron.BrowserWindowConstructorOptions;
  $alwaysOnTopLevel: AlwaysOnTopLevel | null;
  $visibleOnFullScreen = false;
  /** How many times the window was raised with moveTop(). */
  $raised = 0;
  private visible = false;
  private focused = false;
  private minimized = false;
  private destroyed = false;
  private painted = false;
  private contentProtected = false;
  private allWorkspaces = false;

  constructor(
    private readonly world: World,
    options: Electron.BrowserWindowConstructorOptions = {},
  ) {
    super();
    this.id = world.nextId();
    this.$options = options;
    this.$alwaysOnTopLevel = options.alwaysOnTop ? 'floating' : null;
    this.webContents = new StandinWebContents(world, options.webPreferences ?? {}, this);
    world.windows.push(this);
    world.app.emit('web-contents-created', electronEvent(), this.webContents);
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  loadURL(url: string, options?: Electron.LoadURLOptions): Promise<void> {
    return this.webContents.loadURL(url, options);
  }

  getTitle(): string {
    return this.$options.title ?? '';
  }

  show(): void {
    this.alive();
    this.visible = true;
    this.minimized = false;
    this.focused = true;
    this.emit('show');
  }

  hide(): void {
    this.alive();
    this.visible = false;
    this.focused = false;
    this.emit('hide');
  }

  focus(): void {
    this.alive();
    if (this.visible) this.focused = true;
  }

  isFocused(): boolean {
    return this.focused;
  }

  isVisible(): boolean {
    return this.visible && !this.minimized;
  }

  minimize(): void {
    this.alive();
    this.minimized = true;
    this.focused = false;
  }

  isMinimized(): boolean {
    return this.minimized;
  }

  restore(): void {
    this.alive();
    this.minimized = false;
  }

  moveTop(): void {
    this.alive();
    this.$raised += 1;
  }

  setContentProtection(enable: boolean): void {
    this.alive();
    this.contentProtected = enable;
  }

  isContentProtected(): boolean {
    return this.contentProtected;
  }

  setAlwaysOnTop(flag: boolean, level?: AlwaysOnTopLevel, _relativeLevel?: number): void {
    this.alive();
    this.$alwaysOnTopLevel = flag ? (level ?? 'floating') : null;
  }

  isAlwaysOnTop(): boolean {
    return this.$alwaysOnTopLevel !== null;
  }

  setVisibleOnAllWorkspaces(visible: boolean, options?: Electron.VisibleOnAllWorkspacesOptions): void {
    this.alive();
    this.allWorkspaces = visible;
    this.$visibleOnFullScreen = visible && options?.visibleOnFullScreen === true;
  }

  isVisibleOnAllWorkspaces(): boolean {
    return this.allWorkspaces;
  }

  /** Like the window's close button: 'close' may be prevented; otherwise the window is destroyed. */
  close(): void {
    if (this.destroyed) return;
    const e = electronEvent();
    this.emit('close', e);
    if (!e.defaultPrevented) this.destroy();
  }

  /** Destroys without 'close' (as Electron does); 'closed' follows. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.visible = false;
    this.focused = false;
    this.webContents.$destroy();
    this.emit('closed');
    this.world.$windowGone();
  }

  /** Electron emits 'ready-to-show' once, after the first load paints. */
  $firstPaint(): void {
    if (this.painted || this.destroyed) return;
    this.painted = true;
    this.emit('ready-to-show');
  }

  /** Gone without events (app.exit). */
  $vanish(): void {
    this.destroyed = true;
    this.visible = false;
    this.webContents.$destroy();
  }

  private alive(): void {
    if (this.destroyed) throw new TypeError('Object has been destroyed');
  }
}

/** Whether `file` is what Electron accepts as a preload: an absolute path to an existing file. */
export function usablePreload(file: string): boolean {
  return path.isAbsolute(file) && fs.existsSync(file) && fs.statSync(file).isFile();
}
