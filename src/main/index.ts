/**
 * The Electron main: the desktop composition root, kept thin. It hosts the same core as
 * `akc daemon` (DesktopService → Host + AgentServer, same data dir and socket), and adds
 * windows, the approval popup, the tray, notifications, auto-lock and the IPC generated
 * from the shared contract. Everything with logic lives in src/core/desktop and is tested
 * in Node; this file only wires Electron to it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, Menu, nativeTheme, Notification, session, type IpcMainInvokeEvent } from 'electron';
import { DesktopService } from '../core/desktop/service';
import { rendererSource } from '../core/desktop/renderer-source';
import { hardenProcess } from '../core/host/harden-process';
import { assertHostPlatform } from '../core/host/platform';
import { parseTrayAction, type TrayAction } from '../core/desktop/tray-model';
import { NapiKeychain } from '../core/keychain/napi-keychain';
import type { Logger } from '../core/logger';
import { resolvePaths } from '../core/paths';
import { forwardEvents, registerIpc, type CallerKind } from './ipc';
import { ApprovalPopup } from './popup';
import { startAutoLock } from './power';
import { electronClipboard, electronSaveDialog } from './ports';
import { APP_ORIGIN, CSP, devCsp, hardenSession, hardenWebContents, registerAppScheme, serveRenderer } from './security';
import { TrayController } from './tray';

const here = path.dirname(fileURLToPath(import.meta.url));
const PRELOAD = path.join(here, '../preload/index.cjs');
const RENDERER_DIR = path.join(here, '../renderer');
const RENDERER = rendererSource(process.env, app.isPackaged);
const DEV_URL = RENDERER.kind === 'dev' ? RENDERER.url : undefined;

const logger: Logger = {
  info: (m) => process.stderr.write(`agent-keychain info: ${m}\n`),
  warn: (m) => process.stderr.write(`agent-keychain warn: ${m}\n`),
  error: (m) => process.stderr.write(`agent-keychain error: ${m}\n`),
};

function urlFor(hash: string): string {
  return DEV_URL ? `${DEV_URL}${hash}` : `${APP_ORIGIN}/index.html${hash}`;
}

// Non-dumpable before the vault key exists here (no ptrace, core dump or /proc/<pid>/mem).
const hardened = hardenProcess();
if (!hardened.applied) logger.warn(`the host's memory is readable by your other processes: ${hardened.method}`);
// Files we create (vault.db, the socket, exports) are private to the user.
process.umask(0o077);
app.setName('Agent Keychain');

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  registerAppScheme();
  hardenWebContents();
  // fatal() for a failure anywhere in start(), not only in whenReady.
  void app
    .whenReady()
    .then(start)
    .catch((err: unknown) => fatal(err));
}

let mainWindow: BrowserWindow | null = null;
let popup: ApprovalPopup | null = null;
let tray: TrayController | null = null;
let service: DesktopService | null = null;
let stopAutoLock: (() => void) | null = null;
let quitting = false;

function fatal(err: unknown): void {
  const e = err as { message?: unknown; hint?: unknown };
  const message = typeof e?.message === 'string' ? e.message : 'the app failed to start';
  dialog.showErrorBox('Agent Keychain', typeof e?.hint === 'string' ? `${message}\n\n${e.hint}` : message);
  app.exit(1);
}

async function start(): Promise<void> {
  assertHostPlatform();
  const paths = resolvePaths();
  hardenSession(session.defaultSession, DEV_URL ? devCsp(DEV_URL) : CSP);
  if (!DEV_URL) serveRenderer(RENDERER_DIR);
  if (process.platform === 'darwin') {
    Menu.setApplicationMenu(Menu.buildFromTemplate([{ role: 'appMenu' }, { role: 'editMenu' }, { role: 'windowMenu' }]));
  } else {
    Menu.setApplicationMenu(null);
  }

  const svc = new DesktopService({
    dataDir: paths.dataDir,
    socketPath: paths.socket,
    keychain: new NapiKeychain(paths.keychainService),
    clipboard: electronClipboard,
    saveDialog: electronSaveDialog(() => mainWindow),
    logger,
    onQuit: () => app.quit(),
  });
  service = svc;

  popup = new ApprovalPopup({ service: svc, preload: PRELOAD, urlFor, log: logger.warn });
  registerIpc(svc, callerOf);
  forwardEvents(svc, () => [mainWindow?.webContents, popup?.webContents]);
  svc.on('approvalsChanged', (list) => {
    const arrived = popup?.update(list) ?? [];
    if (arrived.length > 0) notify(list.filter((a) => arrived.includes(a.id)));
  });

  await svc.start({ unlockWithKeychain: true });

  createMainWindow();
  try {
    tray = new TrayController(svc, path.join(app.getAppPath(), 'resources'), onTrayAction);
  } catch (err) {
    logger.warn(`no tray: ${err instanceof Error ? err.message : 'error'}`);
  }
  stopAutoLock = startAutoLock(svc, logger.info);
  popup.update(await svc.dispatch('listApprovals', {}).catch(() => []));
}

function createMainWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1120,
    height: 740,
    minWidth: 760,
    minHeight: 520,
    show: false,
    title: 'Agent Keychain',
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#18181b' : '#ffffff',
    autoHideMenuBar: true,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      spellcheck: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      devTools: !app.isPackaged,
    },
  });
  win.once('ready-to-show', () => win.show());
  // The app lives in the tray: closing the window hides it; Quit (tray or app) quits.
  win.on('close', (e) => {
    if (!quitting) {
      e.preventDefault();
      win.hide();
    }
  });
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  // Rejects when the load is aborted (the window closed meanwhile) or fails: nothing to do.
  win
    .loadURL(urlFor('#/'))
    .catch((err: unknown) => logger.warn(`main window did not load: ${err instanceof Error ? err.message : 'error'}`));
  mainWindow = win;
  return win;
}

function showMainWindow(hash?: string): void {
  const win = mainWindow && !mainWindow.isDestroyed() ? mainWindow : createMainWindow();
  if (hash) {
    // Same-document navigation: the renderer routes on the hash.
    void win.webContents.executeJavaScript(`location.hash = ${JSON.stringify(hash)}`).catch(() => undefined);
  }
  if (win.isMinimized()) win.restore();
  win.show();
  win.focus();
}

/** Which of our windows sent an IPC call; null for anything else (refused). */
function callerOf(e: IpcMainInvokeEvent): CallerKind {
  const frame = e.senderFrame;
  if (!frame) return null;
  if (!DEV_URL && !frame.url.startsWith(APP_ORIGIN + '/')) return null;
  if (mainWindow && !mainWindow.isDestroyed() && frame === mainWindow.webContents.mainFrame) return 'main';
  const popupContents = popup?.webContents;
  if (popupContents && frame === popupContents.mainFrame) return 'popup';
  return null;
}

function notify(arrived: { program: string; secrets: string[] }[]): void {
  if (!service?.settings.notifications || !Notification.isSupported()) return;
  const hidden = !mainWindow || mainWindow.isDestroyed() || !mainWindow.isVisible() || mainWindow.isMinimized();
  if (!hidden) return;
  for (const a of arrived.slice(0, 3)) {
    const n = new Notification({
      title: 'Approval requested',
      body: `${a.program} wants ${a.secrets.join(', ')}`,
      silent: false,
    });
    n.on('click', () => popup?.reveal());
    n.show();
  }
}

function onTrayAction(action: TrayAction): void {
  const a = parseTrayAction(action);
  switch (a.kind) {
    case 'lock':
      void service?.dispatch('lock', {}).catch((err: { message?: string }) => logger.warn(`lock failed: ${err.message ?? 'error'}`));
      return;
    case 'unlock':
    case 'setup':
    case 'open':
      showMainWindow();
      return;
    case 'activity':
      showMainWindow('#/activity');
      return;
    case 'approval':
      popup?.focus(a.arg!);
      return;
    case 'rotate':
      showMainWindow(`#/secrets?rotate=${encodeURIComponent(a.arg!)}`);
      return;
    case 'quit':
      app.quit();
      return;
  }
}

app.on('second-instance', () => showMainWindow());
app.on('activate', () => showMainWindow());
// A tray app keeps running with no window open.
app.on('window-all-closed', () => undefined);

app.on('before-quit', (e) => {
  if (quitting) return;
  quitting = true;
  e.preventDefault();
  stopAutoLock?.();
  popup?.closeAll();
  tray?.destroy();
  const svc = service;
  service = null;
  void (svc ? svc.close() : Promise.resolve()).finally(() => app.quit());
});
