/**
 * TEST-ONLY: the module the Electron tests load in place of `electron` (see launch.ts,
 * whose resolve hook maps the built main's `import … from "electron"` here). It exports
 * the main-process API the app uses, each backed by this module instance's World, plus
 * `standin`, the tests' handle on that World (not an Electron export: the app is
 * type-checked against electron.d.ts and cannot name it).
 *
 * Never shipped, never imported by src/: the Electron binary cannot be downloaded on the
 * machines that run the tests, and this is the thinnest faithful substitute.
 */
import { menuStatics, nativeImage as images, StandinNotification, StandinTray } from './shell.js';
import { StandinBrowserWindow } from './windows.js';
import { World } from './world.js';

const world = new World();

export const standin = world;

export const app = world.app;
export const ipcMain = world.ipcMain;
export const protocol = world.protocol;
export const session = { defaultSession: world.session };
export const powerMonitor = world.powerMonitor;
export const clipboard = world.clipboard;
export const dialog = world.dialog;
export const nativeTheme = world.nativeTheme;
export const screen = world.screen;
export const nativeImage = images;
export const Menu = menuStatics(world);

export class BrowserWindow extends StandinBrowserWindow {
  constructor(options?: Electron.BrowserWindowConstructorOptions) {
    super(world, options);
  }
}

export class Tray extends StandinTray {
  constructor(image: Electron.NativeImage | string, guid?: string) {
    super(world, image, guid);
  }
}

export class Notification extends StandinNotification {
  static isSupported(): boolean {
    return world.config.notificationsSupported;
  }
  constructor(options?: Electron.NotificationConstructorOptions) {
    super(world, options);
  }
}

// The constructors and statics take what Electron's take.
const checks: {
  BrowserWindow: new (options?: Electron.BrowserWindowConstructorOptions) => unknown;
  Tray: new (image: Electron.NativeImage | string, guid?: string) => unknown;
  Notification: Pick<typeof Electron.Notification, 'isSupported'> & (new (options?: Electron.NotificationConstructorOptions) => unknown);
} = { BrowserWindow, Tray, Notification };
void checks;
