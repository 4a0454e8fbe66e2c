#!/usr/bin/env node
// Line coverage from V8 itself (NODE_V8_COVERAGE, every test process and the processes
// they start): compiles, runs the tests (all, or those matching the filters, as
// scripts/test.js does), and maps the raw coverage through source maps (see
// coverage-report.js), so the tsc output in dist/ and the electron-vite bundles the Electron
// tests load are both reported against their sources in src/. Writes
//   coverage/lcov.info              (for editors)
//   coverage/coverage-summary.json  (istanbul json-summary; keys are paths under src/)
// prints a table, and fails when a file of src/main or src/preload is under 90 % of lines.
// Usage: node scripts/coverage.js [path-filter …]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { belowThreshold, collectCoverage, summarize, table, toLcov } from './coverage-report.js';

const root = path.resolve(import.meta.dirname, '..');
const outDir = path.join(root, 'coverage');
/** Files that must reach MIN_LINES (the Electron glue, executed only through the stand-in). */
const GATED = ['src/main/', 'src/preload/'];
const MIN_LINES = 90;

const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.test.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  console.error('coverage.js: error: the TypeScript build failed (see above)');
  process.exit(1);
}

function walk(dir) {
  return fs.readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return fs.statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = walk(path.join(root, 'dist/test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('coverage.js: no test files matched');
  process.exit(1);
}

fs.rmSync(outDir, { recursive: true, force: true });
const rawDir = path.join(outDir, 'v8');
fs.mkdirSync(rawDir, { recursive: true });
const concurrency = process.env.AKC_TEST_CONCURRENCY ?? '2';
const run = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', '--enable-source-maps', ...files],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      AKC_DANGEROUS_TEST_WEAK_KDF: process.env.AKC_DANGEROUS_TEST_WEAK_KDF ?? '1',
      NODE_V8_COVERAGE: rawDir,
    },
  },
);

const all = collectCoverage(rawDir, root);
const coverage = new Map([...all].filter(([file]) => file.startsWith('src/')));
if (coverage.size === 0) {
  console.error('coverage.js: error: the test run left no coverage of src/');
  process.exit(run.status || 1);
}
const summary = summarize(coverage);
fs.writeFileSync(path.join(outDir, 'coverage-summary.json'), JSON.stringify(summary, null, 2) + '\n');
fs.writeFileSync(path.join(outDir, 'lcov.info'), toLcov(coverage));
fs.rmSync(rawDir, { recursive: true, force: true });
process.stdout.write('\n' + table(summary, coverage) + '\n');
// Every source file of the gated folders, from disk (a file no test loaded has no record at
// all); with filters that load none of them, there is nothing to gate.
const gated = GATED.flatMap((dir) =>
  fs
    .readdirSync(path.join(root, dir), { recursive: true })
    .filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => dir + String(f).split(path.sep).join('/')),
).sort();
const gate = filters.length === 0 || gated.some((f) => summary[f]) ? gated : [];
const low = belowThreshold(summary, gate, MIN_LINES);
for (const { file, pct } of low) console.error(`coverage.js: error: ${file}: ${pct} % of lines (at least ${MIN_LINES} % required)`);
if (run.status !== 0) console.error(`coverage.js: error: the tests failed (exit ${run.status})`);
process.exit(run.status !== 0 ? run.status || 1 : low.length > 0 ? 1 : 0);
