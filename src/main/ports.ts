/** The desktop service's ports, implemented with Electron's clipboard and save dialog. */
import { clipboard, dialog, type BrowserWindow } from 'electron';
import type { ClipboardPort, SaveDialogPort } from '../core/desktop/ports';

export const electronClipboard: ClipboardPort = {
  writeText: (text) => clipboard.writeText(text),
  readText: () => clipboard.readText(),
  clear: () => clipboard.clear(),
};

export function electronSaveDialog(parent: () => BrowserWindow | null): SaveDialogPort {
  return {
    async chooseSavePath(opts) {
      const win = parent();
      const options = { title: opts.title, defaultPath: opts.defaultName, filters: opts.filters, properties: ['createDirectory' as const] };
      const r = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
      return r.canceled || !r.filePath ? null : r.filePath;
    },
  };
}
