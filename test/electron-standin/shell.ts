/**
 * TEST-ONLY (Electron stand-in): the desktop-shell modules — Tray, Menu, nativeImage,
 * Notification, dialog, clipboard, nativeTheme, powerMonitor, screen. `$` members are the
 * tests' controls and records; the rest is Electron API checked against electron.d.ts.
 */
import fs from 'node:fs';
import { Emitter, electronEvent } from './events.js';
import type { StandinBrowserWindow } from './windows.js';
import type { World } from './world.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An image from a file: empty unless the file is a PNG (as nativeImage decodes it). */
export class StandinNativeImage implements Pick<Electron.NativeImage, 'isEmpty' | 'getSize' | 'toPNG'> {
  private readonly png: Buffer | null;
  constructor(readonly $path: string) {
    let data: Buffer | null;
    try {
      data = fs.readFileSync($path);
    } catch {
      data = null;
    }
    this.png = data && data.length > 24 && data.subarray(0, 8).equals(PNG_SIGNATURE) ? data : null;
  }
  isEmpty(): boolean {
    return this.png === null;
  }
  getSize(): Electron.Size {
    return this.png ? { width: this.png.readUInt32BE(16), height: this.png.readUInt32BE(20) } : { width: 0, height: 0 };
  }
  toPNG(): Buffer {
    return this.png ?? Buffer.alloc(0);
  }
}

export const nativeImage = {
  // The app only hands the image back to Tray: the subset above is what it gets.
  createFromPath: (path: string): Electron.NativeImage => new StandinNativeImage(path) as unknown as Electron.NativeImage,
} satisfies Pick<typeof Electron.nativeImage, 'createFromPath'>;

type MenuTemplateItem = Electron.MenuItemConstructorOptions | Electron.MenuItem;

export class StandinMenuItem implements Pick<Electron.MenuItem, 'label' | 'enabled' | 'visible' | 'type' | 'id'> {
  readonly label: string;
  readonly enabled: boolean;
  readonly visible: boolean;
  readonly type: Electron.MenuItem['type'];
  readonly id: string;
  readonly role: Electron.MenuItemConstructorOptions['role'] | undefined;
  readonly submenu: StandinMenu | undefined;
  private readonly onClick: Electron.MenuItemConstructorOptions['click'] | undefined;

  constructor(options: Electron.MenuItemConstructorOptions) {
    this.label = options.label ?? '';
    this.enabled = options.enabled ?? true;
    this.visible = options.visible ?? true;
    this.id = options.id ?? '';
    this.role = options.role;
    const sub = options.submenu;
    this.submenu =
      sub === undefined ? undefined : sub instanceof StandinMenu ? sub : new StandinMenu((sub as MenuTemplateItem[]).map(toItem));
    this.type = options.type ?? (this.submenu ? 'submenu' : 'normal');
    this.onClick = options.click;
  }

  /** What a click on the item does in Electron: nothing when disabled, else the template's click. */
  click(): void {
    if (!this.enabled || !this.visible) return;
    this.onClick?.(this as unknown as Electron.MenuItem, undefined, {});
  }
}

function toItem(t: MenuTemplateItem): StandinMenuItem {
  return t instanceof StandinMenuItem ? t : new StandinMenuItem(t as Electron.MenuItemConstructorOptions);
}

export class StandinMenu extends Emitter implements Pick<Electron.Menu, 'on' | 'once' | 'off'> {
  constructor(readonly items: StandinMenuItem[]) {
    super();
  }

  /** The item labelled `label`, searching submenus (a test helper). */
  $find(label: string | RegExp): StandinMenuItem | undefined {
    for (const item of this.items) {
      if (typeof label === 'string' ? item.label === label : label.test(item.label)) return item;
      const inner = item.submenu?.$find(label);
      if (inner) return inner;
    }
    return undefined;
  }

  /** The menu as text, one item a line, submenus indented (for readable assertions). */
  $outline(depth = 0): string[] {
    return this.items.flatMap((i) => {
      const mark = i.type === 'separator' ? '---' : `${i.label}${i.enabled ? '' : ' (disabled)'}${i.role ? ` [${i.role}]` : ''}`;
      return [`${'  '.repeat(depth)}${mark}`, ...(i.submenu?.$outline(depth + 1) ?? [])];
    });
  }
}

/** Menu's statics, bound to one world (the application menu is per app). */
export function menuStatics(world: World): Pick<typeof Electron.Menu, 'buildFromTemplate' | 'setApplicationMenu'> & {
  getApplicationMenu(): StandinMenu | null;
} {
  return {
    buildFromTemplate: (template: MenuTemplateItem[]): Electron.Menu => new StandinMenu(template.map(toItem)) as unknown as Electron.Menu,
    setApplicationMenu: (menu: Electron.Menu | null): void => {
      world.applicationMenu = menu as unknown as StandinMenu | null;
    },
    getApplicationMenu: (): StandinMenu | null => world.applicationMenu ?? null,
  };
}

type TrayApi = 'setImage' | 'setToolTip' | 'setContextMenu' | 'destroy' | 'isDestroyed' | 'on' | 'once' | 'off' | 'removeListener';

export class StandinTray extends Emitter implements Pick<Electron.Tray, TrayApi> {
  $image: StandinNativeImage | string;
  $toolTip = '';
  $menu: StandinMenu | null = null;
  /** How many times the context menu was set (the app rebuilds it on every change). */
  $menuUpdates = 0;
  private destroyed = false;

  constructor(world: World, image: Electron.NativeImage | string, _guid?: string) {
    super();
    this.$image = image as unknown as StandinNativeImage | string;
    world.trays.push(this);
  }

  setImage(image: Electron.NativeImage | string): void {
    this.alive();
    this.$image = image as unknown as StandinNativeImage | string;
  }

  setToolTip(toolTip: string): void {
    this.alive();
    this.$toolTip = toolTip;
  }

  setContextMenu(menu: Electron.Menu | null): void {
    this.alive();
    // Menus come from our Menu.buildFromTemplate.
    this.$menu = menu as unknown as StandinMenu | null;
    this.$menuUpdates += 1;
  }

  destroy(): void {
    this.destroyed = true;
  }

  isDestroyed(): boolean {
    return this.destroyed;
  }

  /** A click on the icon (Windows, macOS). */
  $click(): void {
    this.emit('click', electronEvent(), { x: 0, y: 0, width: 16, height: 16 }, { x: 8, y: 8 });
  }

  /** The image file the icon shows now. */
  get $imagePath(): string {
    return typeof this.$image === 'string' ? this.$image : this.$image.$path;
  }

  private alive(): void {
    if (this.destroyed) throw new TypeError('Object has been destroyed');
  }
}

export class StandinNotification
  extends Emitter
  implements Pick<Electron.Notification, 'show' | 'close' | 'title' | 'body' | 'silent' | 'on' | 'once' | 'off'>
{
  title: string;
  body: string;
  silent: boolean;
  $shown = false;

  constructor(world: World, options: Electron.NotificationConstructorOptions = {}) {
    super();
    this.title = options.title ?? '';
    this.body = options.body ?? '';
    this.silent = options.silent ?? false;
    world.notifications.push(this);
  }

  show(): void {
    this.$shown = true;
    this.emit('show', electronEvent());
  }

  close(): void {
    this.emit('close', electronEvent());
  }

  $click(): void {
    this.emit('click', electronEvent());
  }
}

export class StandinDialog implements Pick<Electron.Dialog, 'showErrorBox' | 'showSaveDialog'> {
  readonly $errorBoxes: { title: string; content: string }[] = [];
  readonly $saveDialogs: { parent: StandinBrowserWindow | null; options: Electron.SaveDialogOptions }[] = [];
  /** What the next save dialog answers. */
  $saveAnswer: Electron.SaveDialogReturnValue = { canceled: true, filePath: '' };

  showErrorBox(title: string, content: string): void {
    this.$errorBoxes.push({ title, content });
  }

  showSaveDialog(
    windowOrOptions: Electron.BaseWindow | Electron.SaveDialogOptions,
    maybeOptions?: Electron.SaveDialogOptions,
  ): Promise<Electron.SaveDialogReturnValue> {
    const parent = maybeOptions ? (windowOrOptions as unknown as StandinBrowserWindow) : null;
    const options = maybeOptions ?? (windowOrOptions as Electron.SaveDialogOptions);
    this.$saveDialogs.push({ parent, options });
    return Promise.resolve(this.$saveAnswer);
  }
}

export class StandinClipboard implements Pick<Electron.Clipboard, 'writeText' | 'readText' | 'clear'> {
  $text = '';

  writeText(text: string): Promise<void> {
    this.$text = text;
    return Promise.resolve();
  }

  readText(): Promise<string> {
    return Promise.resolve(this.$text);
  }

  clear(): void {
    this.$text = '';
  }
}

export class StandinNativeTheme extends Emitter implements Pick<Electron.NativeTheme, 'shouldUseDarkColors' | 'themeSource'> {
  $dark = false;
  themeSource: Electron.NativeTheme['themeSource'] = 'system';

  get shouldUseDarkColors(): boolean {
    return this.themeSource === 'dark' || (this.themeSource === 'system' && this.$dark);
  }
}

export class StandinPowerMonitor
  extends Emitter
  implements Pick<Electron.PowerMonitor, 'getSystemIdleTime' | 'on' | 'once' | 'off' | 'removeListener'>
{
  /** Seconds since the last input, as the OS would report. */
  $idleSeconds = 0;

  getSystemIdleTime(): number {
    return this.$idleSeconds;
  }
}

export class StandinScreen extends Emitter implements Pick<Electron.Screen, 'getPrimaryDisplay' | 'getAllDisplays'> {
  /** When set, the screen module throws this (as Electron's does before ready or without a display). */
  $failure: string | null = null;
  readonly $display: Electron.Display = {
    accelerometerSupport: 'unknown',
    bounds: { x: 0, y: 0, width: 1920, height: 1080 },
    colorDepth: 24,
    colorSpace: 'srgb',
    depthPerComponent: 8,
    detected: true,
    displayFrequency: 60,
    id: 1,
    internal: false,
    label: 'stand-in display',
    maximumCursorSize: { width: 64, height: 64 },
    monochrome: false,
    nativeOrigin: { x: 0, y: 0 },
    rotation: 0,
    scaleFactor: 1,
    size: { width: 1920, height: 1080 },
    touchSupport: 'unknown',
    workArea: { x: 0, y: 27, width: 1920, height: 1053 },
    workAreaSize: { width: 1920, height: 1053 },
  };

  getPrimaryDisplay(): Electron.Display {
    if (this.$failure) throw new Error(this.$failure);
    return this.$display;
  }

  getAllDisplays(): Electron.Display[] {
    if (this.$failure) throw new Error(this.$failure);
    return [this.$display];
  }
}
