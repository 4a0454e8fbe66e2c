/**
 * The top-level tsconfig.json is the solution: it references every layer's config, and the
 * first project that holds a file (what `tsc -b` and editors use for it) is that file's own
 * layer's — src/shared by shared, src/main and src/preload by electron, src/renderer by web.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { ROOT } from '../helpers/env.js';

const LAYER_OF: [prefix: string, config: string][] = [
  ['src/shared/', 'tsconfig.shared.json'],
  ['src/core/', 'tsconfig.core.json'],
  ['src/sdk/', 'tsconfig.sdk.json'],
  ['src/cli/', 'tsconfig.cli.json'],
  ['src/main/', 'tsconfig.electron.json'],
  ['src/preload/', 'tsconfig.electron.json'],
  ['src/renderer/', 'tsconfig.web.json'],
  ['test/', 'tsconfig.test.json'],
  ['bench/', 'tsconfig.test.json'],
];

function parse(file: string): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    path.join(ROOT, file),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  );
  assert.ok(parsed, file);
  assert.deepEqual(parsed.errors, [], file);
  return parsed;
}

function sources(dir: string): string[] {
  return (fs.readdirSync(path.join(ROOT, dir), { recursive: true }) as string[])
    .filter((f) => /\.tsx?$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => `${dir}/${f.split(path.sep).join('/')}`);
}

describe('tsconfig.json, the solution', () => {
  const solution = parse('tsconfig.json');
  const refs = (solution.projectReferences ?? []).map((r) => path.relative(ROOT, r.path));

  test('references every layer config, builds nothing itself', () => {
    const layers = fs
      .readdirSync(ROOT)
      .filter((f) => /^tsconfig\..+\.json$/.test(f) && !['tsconfig.base.json', 'tsconfig.build.json'].includes(f));
    assert.deepEqual([...refs].sort(), layers.sort());
    assert.deepEqual(solution.fileNames, []);
    for (const r of refs) assert.equal(parse(r).options.composite, true, `${r} can be built by tsc -b`);
  });

  test('each source file’s first project is its own layer’s', () => {
    const projects = refs.map((r) => ({
      name: r,
      files: new Set(parse(r).fileNames.map((f) => path.relative(ROOT, f).split(path.sep).join('/'))),
    }));
    const files = ['src', 'test', 'bench'].flatMap(sources).filter((f) => !f.includes('/out/'));
    assert.ok(files.length > 100);
    for (const f of files) {
      const first = projects.find((p) => p.files.has(f))?.name;
      const want = LAYER_OF.find(([prefix]) => f.startsWith(prefix))?.[1];
      assert.equal(first, want, f);
    }
  });
});
