/**
 * The approval popup: a small frameless window, always on top (screen-saver
 * level), on every workspace, excluded from screenshots, showing one pending request at
 * `#/approval?id=<id>`. One window shows one request: when it ends, the window is
 * replaced by one for the next (so the renderer's "Allow after 1 s" starts again).
 * Closing it denies the request; if it cannot be shown, the request is denied too.
 */
import { BrowserWindow, screen } from 'electron';
import type { ApprovalView } from '../shared/contract';
import { PopupQueue, type PopupAction } from '../core/desktop/popup-queue';
import type { DesktopService } from '../core/desktop/service';

export const POPUP_WIDTH = 440;
export const POPUP_HEIGHT = 360;
const SHOW_TIMEOUT_MS = 10_000;

export interface PopupDeps {
  service: DesktopService;
  preload: string;
  /** The renderer URL for a hash route. */
  urlFor(hash: string): string;
  log(message: string): void;
}

export class ApprovalPopup {
  private win: BrowserWindow | null = null;
  private readonly queue = new PopupQueue();

  constructor(private readonly deps: PopupDeps) {}

  get webContents(): Electron.WebContents | null {
    return this.win && !this.win.isDestroyed() ? this.win.webContents : null;
  }

  /** Pending requests changed. Returns the ids that just arrived (for notifications). */
  update(approvals: readonly ApprovalView[]): string[] {
    const { action, arrived } = this.queue.update(approvals.map((a) => a.id));
    this.apply(action);
    return arrived;
  }

  /** Brings a specific request to the popup (tray menu). */
  focus(id: string): void {
    this.apply(this.queue.focus(id));
    if (this.win && !this.win.isDestroyed()) {
      this.win.show();
      this.win.focus();
    }
  }

  /** Brings the popup to the front (a notification was clicked). */
  reveal(): void {
    if (this.win && !this.win.isDestroyed()) {
      this.win.show();
      this.win.focus();
    }
  }

  closeAll(): void {
    this.destroyWindow();
  }

  private apply(action: PopupAction): void {
    switch (action.kind) {
      case 'none':
        return;
      case 'keep':
        if (!this.win) this.open(action.id);
        return;
      case 'open':
      case 'switch':
        this.destroyWindow();
        this.open(action.id);
        return;
      case 'close':
        this.destroyWindow();
        return;
    }
  }

  private open(id: string): void {
    let win: BrowserWindow;
    try {
      const area = screen.getPrimaryDisplay().workArea;
      win = new BrowserWindow({
        width: POPUP_WIDTH,
        height: POPUP_HEIGHT,
        useContentSize: true,
        x: Math.round(area.x + (area.width - POPUP_WIDTH) / 2),
        y: Math.round(area.y + (area.height - POPUP_HEIGHT) / 3),
        frame: false,
        resizable: false,
        minimizable: false,
        maximizable: false,
        fullscreenable: false,
        skipTaskbar: false,
        show: false,
        title: 'Agent Keychain — approval request',
        alwaysOnTop: true,
        webPreferences: {
          preload: this.deps.preload,
          contextIsolation: true,
          sandbox: true,
          nodeIntegration: false,
          webSecurity: true,
          spellcheck: false,
          webviewTag: false,
          navigateOnDragDrop: false,
          devTools: false,
        },
      });
      win.setContentProtection(true);
      win.setAlwaysOnTop(true, 'screen-saver');
      win.setVisibleOnAllWorkspaces(true, { visibleOnFullScreen: true });
    } catch (err) {
      this.deps.log(`approval popup could not be created: ${err instanceof Error ? err.message : 'error'}`);
      this.fail(id);
      return;
    }
    this.win = win;
    let shown = false;
    const failOnce = (why: string): void => {
      if (this.win !== win) return;
      this.deps.log(`approval popup failed (${why}): denying ${id}`);
      this.destroyWindow();
      this.fail(id);
    };
    const timer = setTimeout(() => {
      if (!shown) failOnce('not shown in time');
    }, SHOW_TIMEOUT_MS);
    win.once('ready-to-show', () => {
      shown = true;
      clearTimeout(timer);
      win.show();
      win.moveTop();
      win.focus();
    });
    win.webContents.on('did-fail-load', (_e, code, desc, _url, isMainFrame) => {
      if (isMainFrame) failOnce(`load failed: ${code} ${desc}`);
    });
    win.webContents.on('render-process-gone', (_e, d) => failOnce(`renderer gone: ${d.reason}`));
    win.on('closed', () => {
      clearTimeout(timer);
      if (this.win !== win) return; // closed on purpose (replaced or nothing left)
      this.win = null;
      // The human closed the popup: closing = deny.
      const denied = this.queue.closed();
      if (denied) void this.deps.service.denyApproval(denied, 'popup closed');
      this.apply(this.queue.next());
    });
    win.loadURL(this.deps.urlFor(`#/approval?id=${encodeURIComponent(id)}`)).catch(() => failOnce('load rejected'));
  }

  private fail(id: string): void {
    if (this.queue.showing === id) this.queue.failed();
    void this.deps.service.denyApproval(id, 'popup could not be shown').then(() => this.apply(this.queue.next()));
  }

  private destroyWindow(): void {
    const win = this.win;
    this.win = null;
    if (win && !win.isDestroyed()) win.destroy();
  }
}
