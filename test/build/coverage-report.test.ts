/**
 * scripts/coverage-report.js, on real V8 coverage of a real bundle (rolldown, the bundler
 * electron-vite uses): top-level code of every bundled module counts as run — the case
 * Node's own reporter drops as "not mappable" — and an uncalled function does not; then
 * the json-summary, lcov and threshold derived from it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ROOT, tempDir } from '../helpers/env.js';

type Coverage = Map<string, Map<number, number>>;
interface Metric {
  total: number;
  covered: number;
  pct: number;
}
interface Report {
  decodeMappings(m: string): number[][][];
  collectCoverage(dir: string, root: string): Coverage;
  summarize(c: Coverage): Record<string, { lines: Metric; statements: Metric }>;
  toLcov(c: Coverage): string;
  belowThreshold(s: ReturnType<Report['summarize']>, files: string[], min: number): { file: string; pct: number }[];
}
const load = async (): Promise<Report> => (await import(pathToFileURL(path.join(ROOT, 'scripts/coverage-report.js')).href)) as Report;

describe('coverage-report (V8 coverage through source maps)', () => {
  test('decodes source map mappings (VLQ, relative fields)', async () => {
    const { decodeMappings } = await load();
    assert.deepEqual(decodeMappings('AAAA,SAAS;;AACA,EAAE'), [
      [
        [0, 0, 0],
        [9, 0, 0],
      ],
      [],
      [
        [0, 0, 1],
        [2, 0, 1],
      ],
    ]);
    assert.deepEqual(decodeMappings('AAgBC'), [[[0, 0, 16]]], 'multi-digit values');
  });

  test('a bundle of two modules: both modules’ top-level lines ran, the uncalled function did not, comments do not count', async () => {
    const { collectCoverage, summarize, toLcov, belowThreshold } = await load();
    const dir = tempDir('akc-cov-');
    fs.writeFileSync(
      path.join(dir, 'lib.js'),
      [
        '// a comment: not executable',
        'export const BASE = Number(process.env.BASE ?? 1);',
        'export function used(n) {',
        '  return n + BASE;',
        '}',
        'export function unused() {',
        '  return 42;',
        '}',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(
      path.join(dir, 'main.js'),
      ["import { used } from './lib.js';", 'const out = used(2);', 'console.log(out);', "export { unused } from './lib.js';", ''].join(
        '\n',
      ),
    );
    const { rolldown } = (await import(pathToFileURL(path.join(ROOT, 'node_modules/rolldown/dist/index.mjs')).href)) as {
      rolldown(o: object): Promise<{ write(o: object): Promise<unknown>; close(): Promise<void> }>;
    };
    const bundle = await rolldown({ input: path.join(dir, 'main.js'), cwd: dir, logLevel: 'silent' });
    await bundle.write({ file: path.join(dir, 'out/bundle.mjs'), format: 'esm', sourcemap: true });
    await bundle.close();
    const raw = path.join(dir, 'v8');
    const r = spawnSync(process.execPath, ['--enable-source-maps', path.join(dir, 'out/bundle.mjs')], {
      env: { ...process.env, NODE_V8_COVERAGE: raw },
    });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(r.stdout.toString(), '3\n');

    const coverage = collectCoverage(raw, dir);
    assert.deepEqual([...coverage.keys()].sort(), ['lib.js', 'main.js']);
    const lib = coverage.get('lib.js')!;
    assert.equal(lib.has(1), false, 'the comment line is not executable');
    assert.ok(lib.get(2)! > 0, 'lib.js top-level code ran (inside the bundle)');
    assert.ok(lib.get(4)! > 0, 'used() ran');
    assert.equal(lib.get(7), 0, 'unused() did not');
    const main = coverage.get('main.js')!;
    assert.ok(main.get(2)! > 0 && main.get(3)! > 0, 'main.js top-level code ran');

    const summary = summarize(coverage);
    const libLines = summary['lib.js']!.lines;
    assert.equal(libLines.covered, libLines.total - [...lib.values()].filter((c) => c === 0).length);
    assert.ok(libLines.pct < 100 && libLines.pct > 0);
    assert.deepEqual(summary['lib.js']!.statements, libLines);
    assert.match(toLcov(coverage), /^SF:lib\.js\n(DA:\d+,\d+\n)+LF:\d+\nLH:\d+\nend_of_record\n/);
    assert.deepEqual(
      belowThreshold(summary, ['lib.js', 'main.js', 'missing.js'], 90).map((x) => x.file),
      ['lib.js', 'missing.js'],
    );
  });
});
