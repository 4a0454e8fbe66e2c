/**
 * TEST-ONLY: launches the *built* Electron main (electron-vite output) in this Node
 * process with the stand-in in place of `electron`, over a real DesktopService, Host,
 * vault (temp dir) and agent socket.
 *
 * - The build: `electron-vite build` into a private out/.test-electron-* directory, with
 *   source maps (AKC_BUILD_SOURCEMAPS=1) so that coverage maps back to src/. The app
 *   computes its preload and renderer paths relative to its own file, so it finds the
 *   preload and renderer of the same build.
 * - The swap: a module resolve hook (`module.registerHooks`) maps `electron`, imported by
 *   that build's main, to test/electron-standin/electron.js. Each launch imports both with
 *   its own `?launch=N` query, so every launch gets a fresh app module and a fresh World.
 * - The preload: run by the stand-in for every page a window loads (see renderer.ts).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir } from '../helpers/env.js';
import type { StandinBrowserWindow } from './windows.js';
import type { World } from './world.js';

export interface Build {
  dir: string;
  main: string;
  preload: string;
  renderer: string;
}

let building: Promise<Build> | null = null;

/** Builds the app once per process (about two seconds). */
export function builtApp(): Promise<Build> {
  building ??= build();
  return building;
}

async function build(): Promise<Build> {
  fs.mkdirSync(path.join(ROOT, 'out'), { recursive: true });
  const dir = fs.mkdtempSync(path.join(ROOT, 'out', '.test-electron-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const cli = path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js');
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'build', '--outDir', dir, '--logLevel', 'warn'], {
      cwd: ROOT,
      env: { ...process.env, AKC_BUILD_SOURCEMAPS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
  if (code !== 0) throw new Error(`electron-vite build failed (exit ${code}):\n${output.slice(-4000)}`);
  const b = {
    dir,
    main: path.join(dir, 'main/index.js'),
    preload: path.join(dir, 'preload/index.cjs'),
    renderer: path.join(dir, 'renderer'),
  };
  hookElectron(b);
  return b;
}

const STANDIN_URL = new URL('./electron.js', import.meta.url).href;
let hooked = false;

function hookElectron(b: Build): void {
  if (hooked) return;
  hooked = true;
  const mainUrl = pathToFileURL(b.main).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const parent = context.parentURL ?? '';
      if ((specifier === 'electron' || specifier.startsWith('electron/')) && parent.split('?')[0] === mainUrl) {
        return { url: STANDIN_URL + new URL(parent).search, format: 'module', shortCircuit: true };
      }
      return nextResolve(specifier, context);
    },
  });
}

export interface LaunchOptions {
  /** Defaults to a fresh temp dir. */
  dataDir?: string;
  socketPath?: string;
  /** What requestSingleInstanceLock answers (false: another copy of the app runs). */
  singleInstanceLock?: boolean;
  notificationsSupported?: boolean;
  /** `npm run dev`: AKC_DEV_RENDERER=1 and the dev server's URL (ELECTRON_RENDERER_URL). */
  devRendererUrl?: string;
}

export interface Launched {
  world: World;
  build: Build;
  dataDir: string;
  socketPath: string;
  /** What the app wrote to stderr (its logger), one line each. */
  logs: string[];
  /** The app's main window (the live one titled "Agent Keychain"). */
  mainWindow(): StandinBrowserWindow;
  /** A window the app did not create (as another part of Electron, or an attacker's page, would). */
  foreignWindow(options?: Electron.BrowserWindowConstructorOptions): StandinBrowserWindow;
  /** app.quit(), then waits until the app went through 'quit'. */
  quit(): Promise<void>;
}

let launches = 0;
let currentLogs: string[] | null = null;
let stderrHooked = false;

/** The app's own log lines go to the current launch's `logs` instead of the test output. */
function captureAppLogs(): void {
  if (stderrHooked) return;
  stderrHooked = true;
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString() : '';
    if (currentLogs && text.startsWith('agent-keychain ')) {
      currentLogs.push(...text.split('\n').filter(Boolean));
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stderr.write;
}

/** Polls `cond` until it holds (the app reacts to events asynchronously). */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

export async function launchApp(opts: LaunchOptions = {}): Promise<Launched> {
  const b = await builtApp();
  const n = ++launches;
  const base = tempDir('akc-electron-');
  const dataDir = opts.dataDir ?? path.join(base, 'home');
  const socketPath = opts.socketPath ?? path.join(base, 'run', 'agent.sock');
  // What the app reads at start (resolvePaths): its own data dir, socket and keychain entry.
  process.env.AKC_HOME = dataDir;
  process.env.AKC_SOCKET = socketPath;
  process.env.AKC_KEYCHAIN_SERVICE = `agent-keychain-test-electron-${randomUUID()}`;
  if (opts.devRendererUrl) {
    process.env.AKC_DEV_RENDERER = '1';
    process.env.ELECTRON_RENDERER_URL = opts.devRendererUrl;
  } else {
    delete process.env.AKC_DEV_RENDERER;
    delete process.env.ELECTRON_RENDERER_URL;
  }

  const electron = (await import(`${STANDIN_URL}?launch=${n}`)) as {
    standin: World;
    BrowserWindow: new (options?: Electron.BrowserWindowConstructorOptions) => StandinBrowserWindow;
  };
  const world = electron.standin;
  world.config.appPath = ROOT;
  if (opts.singleInstanceLock !== undefined) world.config.singleInstanceLock = opts.singleInstanceLock;
  if (opts.notificationsSupported !== undefined) world.config.notificationsSupported = opts.notificationsSupported;

  const logs: string[] = [];
  captureAppLogs();
  currentLogs = logs;
  await import(`${pathToFileURL(b.main).href}?launch=${n}`);
  world.app.$ready();
  // Started: the tray exists (or the app said why not) and the first page has loaded — or
  // the app gave up (exit) or quit (second instance). On a timeout the app is quit, so a
  // broken launch does not keep its host (and this test process) alive.
  try {
    await until(
      () =>
        world.app.$exitCode !== null ||
        world.app.$quitCalls > 0 ||
        ((world.trays.length > 0 || logs.some((l) => l.includes('no tray'))) &&
          world.windows.every((w) => w.isDestroyed() || w.webContents.$renderer !== null)),
      'the app to start',
      30_000,
    );
  } catch (err) {
    world.app.quit();
    throw err;
  }
  await delay(20); // the last steps of start() (auto-lock, the first popup update) are one more await
  const launched: Launched = {
    world,
    build: b,
    dataDir,
    socketPath,
    logs,
    mainWindow() {
      const w = world.windows.find((x) => !x.isDestroyed() && x.$options.title === 'Agent Keychain');
      if (!w) throw new Error('the app has no main window');
      return w;
    },
    foreignWindow(options) {
      return new electron.BrowserWindow(options);
    },
    async quit() {
      world.app.quit();
      await until(() => world.app.$quitted, 'the app to quit');
    },
  };
  return launched;
}
