/**
 * The test bridge's HTTP side: makes sure the renderer and the preload are built (runs
 * `electron-vite build` when out/renderer or out/preload is missing or older than its
 * sources) and serves out/renderer on 127.0.0.1 with the app's Content-Security-Policy.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { RENDERER_CSP } from '../../src/core/desktop/csp.js';
import { ROOT } from '../helpers/env.js';

export const RENDERER_OUT = path.join(ROOT, 'out/renderer');
/** The preload bundle the bridge runs in the page (the same file Electron loads). */
export const PRELOAD_OUT = path.join(ROOT, 'out/preload/index.cjs');
const SOURCES = [
  path.join(ROOT, 'src/renderer'),
  path.join(ROOT, 'src/preload'),
  path.join(ROOT, 'src/shared'),
  path.join(ROOT, 'electron.vite.config.ts'),
];
const LOCK = path.join(ROOT, 'out/.renderer-build.lock');
const BUILD_TIMEOUT_MS = 180_000;

function newestMtime(p: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of fs.readdirSync(p)) newest = Math.max(newest, newestMtime(path.join(p, name)));
  return newest;
}

function isFresh(): boolean {
  const index = path.join(RENDERER_OUT, 'index.html');
  if (!fs.existsSync(index) || !fs.existsSync(PRELOAD_OUT)) return false;
  const built = Math.min(fs.statSync(index).mtimeMs, fs.statSync(PRELOAD_OUT).mtimeMs);
  return SOURCES.every((s) => newestMtime(s) <= built);
}

async function withBuildLock<T>(fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (Date.now() > deadline) throw new Error('timed out waiting for another renderer build', { cause: err });
      // Another test process is building; a lock older than the timeout is stale.
      try {
        if (Date.now() - fs.statSync(LOCK).mtimeMs > BUILD_TIMEOUT_MS) fs.rmSync(LOCK, { recursive: true, force: true });
      } catch {
        // released meanwhile
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Builds the renderer and preload once if either is missing or stale. Returns out/renderer. */
export async function ensureRendererBuilt(): Promise<string> {
  if (isFresh()) return RENDERER_OUT;
  await withBuildLock(async () => {
    if (isFresh()) return;
    const cli = path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js');
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0 && fs.existsSync(path.join(RENDERER_OUT, 'index.html')) && fs.existsSync(PRELOAD_OUT)) resolve();
        else reject(new Error(`electron-vite build failed (exit ${code}):\n${out.slice(-4000)}`));
      });
    });
    // The build may keep the sources' mtimes newer than its output on coarse clocks: touch it.
    const now = new Date();
    fs.utimesSync(path.join(RENDERER_OUT, 'index.html'), now, now);
    fs.utimesSync(PRELOAD_OUT, now, now);
  });
  return RENDERER_OUT;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `dir` on 127.0.0.1 (random port), GET only, no path escapes, CSP on every response. */
export async function serveStatic(dir: string, csp = RENDERER_CSP): Promise<StaticServer> {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const headers = { 'Content-Security-Policy': csp, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, headers).end();
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400, headers).end();
      return;
    }
    if (rel === '/') rel = '/index.html';
    if (rel === '/favicon.ico' && !fs.existsSync(path.join(root, 'favicon.ico'))) {
      res.writeHead(204, headers).end(); // the browser asks on its own; the app has none
      return;
    }
    const file = path.resolve(root, '.' + path.posix.normalize(rel));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(404, headers).end();
      return;
    }
    fs.readFile(file, (err, body) => {
      if (err) {
        res.writeHead(404, headers).end('not found');
        return;
      }
      res.writeHead(200, { ...headers, 'Content-Type': MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
