/**
 * What the desktop service needs from its host environment. The Electron main implements
 * these with `clipboard` and `dialog`; the test bridge implements them in memory / a temp
 * dir. The service never imports electron.
 */

/** The system clipboard (text only). */
export interface ClipboardPort {
  writeText(text: string): Promise<void> | void;
  readText(): Promise<string> | string;
  clear(): Promise<void> | void;
}

/** Asks the human where to save a file. Resolves null when they cancel. */
export interface SaveDialogPort {
  chooseSavePath(opts: { title: string; defaultName: string; filters: { name: string; extensions: string[] }[] }): Promise<string | null>;
}

/** Used when no clipboard exists (e.g. a headless host): copying fails with a clear error. */
export const noClipboard: ClipboardPort = {
  writeText() {
    throw new Error('no clipboard');
  },
  readText: () => '',
  clear() {},
};

export const noSaveDialog: SaveDialogPort = {
  chooseSavePath: () => Promise.resolve(null),
};
