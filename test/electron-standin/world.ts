/**
 * TEST-ONLY (Electron stand-in): everything one launch of the app sees — one `app`, one
 * default session, the windows, trays and notifications it created. Each import of the
 * stand-in module (one per launch, see launch.ts) makes a new World.
 */
import { StandinApp, StandinIpcMain } from './app.js';
import { StandinSession, type StandinProtocol } from './session.js';
import {
  StandinClipboard,
  StandinDialog,
  StandinNativeTheme,
  StandinPowerMonitor,
  StandinScreen,
  type StandinMenu,
  type StandinNotification,
  type StandinTray,
} from './shell.js';
import type { StandinBrowserWindow, StandinWebContents } from './windows.js';

export interface WorldConfig {
  /** app.getAppPath(): the directory holding package.json (and resources/). */
  appPath: string;
  /** What app.requestSingleInstanceLock() answers (false: another instance runs). */
  singleInstanceLock: boolean;
  /** What Notification.isSupported() answers. */
  notificationsSupported: boolean;
}

export class World {
  readonly config: WorldConfig = { appPath: process.cwd(), singleInstanceLock: true, notificationsSupported: true };
  readonly app: StandinApp;
  readonly ipcMain = new StandinIpcMain();
  readonly session: StandinSession;
  readonly protocol: StandinProtocol;
  readonly powerMonitor = new StandinPowerMonitor();
  readonly clipboard = new StandinClipboard();
  readonly dialog = new StandinDialog();
  readonly nativeTheme = new StandinNativeTheme();
  readonly screen = new StandinScreen();
  readonly windows: StandinBrowserWindow[] = [];
  readonly contents: StandinWebContents[] = [];
  readonly trays: StandinTray[] = [];
  readonly notifications: StandinNotification[] = [];
  readonly privilegedSchemes: Electron.CustomScheme[] = [];
  /** undefined: never set; null: removed (setApplicationMenu(null)). */
  applicationMenu: StandinMenu | null | undefined = undefined;
  private ids = 0;

  constructor() {
    this.app = new StandinApp(this);
    this.session = new StandinSession(this);
    this.protocol = this.session.protocol;
  }

  nextId(): number {
    return ++this.ids;
  }

  /** Windows not destroyed, oldest first. */
  liveWindows(): StandinBrowserWindow[] {
    return this.windows.filter((w) => !w.isDestroyed());
  }

  $windowGone(): void {
    this.app.$windowGone();
  }
}
