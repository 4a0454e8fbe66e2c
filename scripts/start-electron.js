#!/usr/bin/env node
// `npm start`: finds the Electron binary first, then builds (electron-vite) and runs the app.
// The electron package downloads its binary on first run; where that cannot happen (no
// internet beyond the npm registry) this ends with one `error:` line and hints — the
// headless `akc daemon`, and how to supply Electron from a local copy, cache or mirror —
// instead of the package's stack trace.
//   AKC_ELECTRON_SKIP_BUILD=1   run the existing out/ build (e.g. right after `npm run build`)
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const electronDir = path.join(root, 'node_modules/electron');
const PREFIX = 'agent-keychain';

function fail(message, hints) {
  process.stderr.write(`${PREFIX}: error: ${message}\n`);
  for (const h of hints) process.stderr.write(`${PREFIX}: hint: ${h}\n`);
  process.exit(1);
}

/** One line, no control characters, bounded: what a failed download said. */
function oneLine(text) {
  const lines = String(text)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const error = lines.find((l) => /error/i.test(l) && !/^\s*at /.test(l)) ?? lines[0] ?? 'no output';
  return error.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

if (process.platform === 'win32') {
  fail('windows is not supported yet: the host cannot identify the programs that connect to it there', [
    'run Agent Keychain on Linux or macOS',
  ]);
}

let version = '?';
try {
  version = JSON.parse(fs.readFileSync(path.join(electronDir, 'package.json'), 'utf8')).version;
} catch {
  fail('the electron package is not installed (node_modules/electron)', ['run `npm ci` first']);
}
const arch = process.arch;
const zip = `electron-v${version}-${process.platform}-${arch}.zip`;
const executable = process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron';

/** Where the electron package would run the binary from (its index.js, without downloading). */
function binaryPath() {
  const pathFile = path.join(electronDir, 'path.txt');
  const recorded = fs.existsSync(pathFile) ? fs.readFileSync(pathFile, 'utf8') : null;
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  if (override) return path.join(override, recorded || executable);
  return path.join(electronDir, 'dist', recorded || executable);
}

function usable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The directory @electron/get looks in for the zip (its cache layout: a hash of the download URL's folder). */
function cacheDirForZip() {
  const cacheRoot =
    process.env.electron_config_cache ||
    (process.platform === 'darwin'
      ? path.join(os.homedir(), 'Library/Caches/electron')
      : path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'electron'));
  const mirror =
    process.env.ELECTRON_MIRROR || process.env.npm_config_electron_mirror || 'https://github.com/electron/electron/releases/download/';
  const dir = process.env.ELECTRON_CUSTOM_DIR || `v${version}`;
  const url = new URL(`${mirror}${dir}/${zip}`);
  url.hash = '';
  url.search = '';
  url.pathname = path.posix.dirname(url.pathname);
  return path.join(cacheRoot, createHash('sha256').update(url.toString()).digest('hex'));
}

const hints = () => [
  'without Electron, `npx akc daemon` serves the same vault headless, with approvals in its terminal',
  `to supply Electron ${version}: ELECTRON_OVERRIDE_DIST_PATH=<a directory holding an unpacked ${zip}>`,
  `or put ${zip} in ${cacheDirForZip()}/ (electron_config_cache moves that cache), or set ELECTRON_MIRROR to a reachable mirror; then run npm start again`,
];

let electron = binaryPath();
if (process.env.ELECTRON_OVERRIDE_DIST_PATH && !usable(electron)) {
  fail(`ELECTRON_OVERRIDE_DIST_PATH has no Electron executable: ${electron} is missing or not executable`, hints());
}
if (!usable(electron)) {
  // The package's own lazy download (install.js honours electron_config_cache and ELECTRON_MIRROR).
  process.stderr.write(`${PREFIX}: Electron ${version} is not installed yet; downloading it…\n`);
  const timeout = Number(process.env.AKC_ELECTRON_DOWNLOAD_TIMEOUT_MS ?? 120_000);
  const r = spawnSync(process.execPath, [path.join(electronDir, 'install.js')], { cwd: electronDir, encoding: 'utf8', timeout });
  electron = binaryPath();
  if (r.status !== 0 || !usable(electron)) {
    const why = r.error?.code === 'ETIMEDOUT' ? `no answer within ${timeout / 1000} s` : oneLine(`${r.stderr}\n${r.stdout}`);
    fail(`cannot start the desktop app: the Electron ${version} binary is missing and could not be downloaded (${why})`, hints());
  }
}

if (process.env.AKC_ELECTRON_SKIP_BUILD !== '1') {
  const build = spawnSync(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (build.status !== 0) fail('the build failed (electron-vite build, output above)', ['fix the error above and run npm start again']);
}

const child = spawn(electron, ['.', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
child.on('error', (err) => fail(`cannot run ${electron}: ${err.message}`, hints()));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGUSR2']) process.on(signal, () => child.kill(signal));
child.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
