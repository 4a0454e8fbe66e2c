#!/usr/bin/env node
// Compiles the sources and tests, then runs them with Node's test runner.
// Usage: node scripts/test.js [path-filter …]   (e.g. `node scripts/test.js core/audit`)
// Tests that need Chromium or the OS keychain find them on their own (see test/helpers).
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.test.json'], {
  cwd: root,
  stdio: 'inherit',
});

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}
const filters = process.argv.slice(2);
const files = walk(path.join(root, 'dist/test'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('test.js: no test files matched');
  process.exit(1);
}
const concurrency = process.env.AKC_TEST_CONCURRENCY ?? '2';
const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, AKC_DANGEROUS_TEST_WEAK_KDF: process.env.AKC_DANGEROUS_TEST_WEAK_KDF ?? '1' },
});
process.exit(result.status ?? 1);
