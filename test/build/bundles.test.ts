/**
 * What actually ships, checked on the built output rather than on the sources: the SDK
 * (tsc output in dist/) loads nothing but Node built-ins, the sandboxed preload bundle
 * loads nothing but electron and contains no zod, and the Electron main bundle ships the
 * WAL checkpoint worker as a file that runs. The lint rule (test/lint) catches these at
 * the source; this is the proof that the source rule is enough.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { openDatabase, vaultPath } from '../../src/core/store/database.js';
import { ROOT, tempDir } from '../helpers/env.js';

/** Every module specifier `file` loads (static, dynamic, require), with the relative ones followed; returns the non-relative ones. */
function externalImports(entry: string): Map<string, string> {
  const found = new Map<string, string>(); // specifier → first file that loads it
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      if (spec.startsWith('./') || spec.startsWith('../')) walk(path.resolve(path.dirname(file), spec));
      else if (!found.has(spec)) found.set(spec, path.relative(ROOT, file));
    }
  };
  walk(entry);
  return found;
}

/** Names zod's own code registers its classes under ("ZodType", "$ZodObject", …); they survive bundling and minifying. */
const ZOD_MARKER = /["'`]\$?Zod[A-Z]\w*["'`]/;

describe('the SDK as compiled', () => {
  const sdkDir = path.join(ROOT, 'dist/src/sdk');

  test('the import walk sees zod where it is (the check below can fail)', () => {
    const imports = externalImports(path.join(ROOT, 'dist/src/shared/service-protocol.js'));
    assert.equal(imports.get('zod'), 'dist/src/shared/service-protocol.js');
  });

  test('loads only Node built-ins, from every module of dist/src/sdk', () => {
    const entries = fs.readdirSync(sdkDir).filter((f) => f.endsWith('.js'));
    assert.ok(entries.includes('index.js'), 'dist/src/sdk/index.js exists');
    for (const entry of entries) {
      const packages = [...externalImports(path.join(sdkDir, entry))].filter(([spec]) => !spec.startsWith('node:'));
      assert.deepEqual(packages, [], `${entry} loads packages (specifier, loaded by)`);
    }
  });
});

describe('the Electron bundles (electron-vite build)', () => {
  // Inside the repository, so that the built main bundle resolves node_modules the way
  // out/main does; removed afterwards (and out/ is ignored by git anyway).
  let outDir = '';

  before(async () => {
    fs.mkdirSync(path.join(ROOT, 'out'), { recursive: true });
    outDir = fs.mkdtempSync(path.join(ROOT, 'out', '.bundle-test-'));
    const cli = path.join(ROOT, 'node_modules/electron-vite/bin/electron-vite.js');
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [cli, 'build', '--outDir', outDir, '--logLevel', 'warn'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, output }));
    });
    assert.equal(code, 0, `electron-vite build failed:\n${output.slice(-4000)}`);
  });

  after(() => {
    if (outDir) fs.rmSync(outDir, { recursive: true, force: true });
  });

  test('the zod marker matches zod’s own code (the check below can fail)', () => {
    for (const f of ['node_modules/zod/v4/classic/schemas.js', 'node_modules/zod/v4/core/schemas.js']) {
      assert.match(fs.readFileSync(path.join(ROOT, f), 'utf8'), ZOD_MARKER, f);
    }
  });

  test('the preload requires only electron and contains no zod', () => {
    const file = path.join(outDir, 'preload/index.cjs');
    const text = fs.readFileSync(file, 'utf8');
    const required = [...externalImports(file).keys()];
    assert.deepEqual(required, ['electron']);
    assert.doesNotMatch(text, ZOD_MARKER);
  });

  test('the main bundle ships the WAL checkpoint worker next to index.js, and it checkpoints', async () => {
    const main = path.join(outDir, 'main');
    assert.match(
      fs.readFileSync(path.join(main, 'index.js'), 'utf8'),
      /new URL\(["']\.\/wal-checkpoint-worker\.js["'], import\.meta\.url\)/,
    );
    const workerFile = path.join(main, 'wal-checkpoint-worker.js');
    assert.deepEqual([...externalImports(workerFile).keys()].sort(), ['better-sqlite3', 'node:worker_threads']);

    const dir = tempDir();
    const db = openDatabase(dir, { create: true })!;
    try {
      db.exec('CREATE TABLE IF NOT EXISTS t (x BLOB)');
      db.pragma('wal_autocheckpoint = 0');
      for (let i = 0; i < 50; i++) db.prepare('INSERT INTO t VALUES (randomblob(3000))').run();
      const closed = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(pathToFileURL(workerFile), { workerData: { file: vaultPath(dir), closed } });
      const replies: unknown[] = [];
      const next = () =>
        new Promise<unknown>((resolve, reject) => {
          worker.once('message', resolve);
          worker.once('error', reject);
        });
      replies.push(await next());
      worker.postMessage('checkpoint');
      replies.push(await next());
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('close');
      await exited;
      assert.deepEqual(replies[0], { ready: true });
      const done = replies[1] as { done: boolean; frames: number };
      assert.equal(done.done, true);
      assert.ok(done.frames > 50, `the worker saw ${done.frames} WAL frames`);
      assert.equal(Atomics.load(closed, 0), 1, 'the worker closed its connection');
      // Everything was copied into vault.db: a restart of the WAL now has nothing to do.
      const [after] = db.pragma('wal_checkpoint(PASSIVE)') as { log: number; checkpointed: number }[];
      assert.equal(after?.checkpointed, after?.log);
    } finally {
      db.close();
    }
  });
});
