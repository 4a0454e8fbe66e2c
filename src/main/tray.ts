/**
 * The tray: icon for locked / unlocked / pending, and the menu from the pure model in
 * core/desktop/tray-model.ts, rebuilt with `setContextMenu` on every change (Linux trays
 * show only the context menu and ignore clicks on the icon).
 */
import path from 'node:path';
import { Menu, nativeImage, Tray, type MenuItemConstructorOptions, type NativeImage } from 'electron';
import { trayIconFor, trayMenuModel, trayTooltip, type TrayAction, type TrayIcon, type TrayItem } from '../core/desktop/tray-model';
import type { DesktopService } from '../core/desktop/service';

export class TrayController {
  private readonly tray: Tray;
  private readonly icons: Record<TrayIcon, NativeImage>;
  private scheduled = false;

  constructor(
    private readonly service: DesktopService,
    resourcesDir: string,
    private readonly onAction: (action: TrayAction) => void,
  ) {
    const load = (name: TrayIcon): NativeImage => nativeImage.createFromPath(path.join(resourcesDir, `tray-${name}.png`));
    this.icons = { locked: load('locked'), unlocked: load('unlocked'), pending: load('pending') };
    this.tray = new Tray(this.icons.locked);
    // Windows and macOS: a click on the icon opens the window (Linux shows the menu instead).
    this.tray.on('click', () => onAction('open'));
    for (const e of ['stateChanged', 'approvalsChanged', 'secretsChanged'] as const) service.on(e, () => this.refresh());
    this.rebuild();
  }

  /** Rebuilds soon (several events often arrive together). */
  refresh(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.rebuild();
    }, 50);
  }

  destroy(): void {
    if (!this.tray.isDestroyed()) this.tray.destroy();
  }

  private rebuild(): void {
    if (this.tray.isDestroyed()) return;
    const state = this.service.traySnapshot();
    this.tray.setImage(this.icons[trayIconFor(state)]);
    this.tray.setToolTip(trayTooltip(state));
    this.tray.setContextMenu(Menu.buildFromTemplate(trayMenuModel(state).map((i) => this.toTemplate(i))));
  }

  private toTemplate(item: TrayItem): MenuItemConstructorOptions {
    switch (item.kind) {
      case 'separator':
        return { type: 'separator' };
      case 'label':
        return { label: item.label, enabled: false };
      case 'submenu':
        return { label: item.label, enabled: item.enabled, submenu: item.items.map((i) => this.toTemplate(i)) };
      case 'action':
        return { label: item.label, enabled: item.enabled, click: () => this.onAction(item.action) };
    }
  }
}
