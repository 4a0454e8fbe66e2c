/**
 * The installer config (electron-builder.yml) against the real production dependency tree
 * and the real build output: no native `.node` binary inside the asar, no tests or sources
 * in `files`, `main` a file the build produces — and the controls that the check fails on
 * configs that get each of these wrong.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import YAML from 'yaml';
import { builtApp } from '../electron-standin/launch.js';
import { ROOT } from '../helpers/env.js';
import {
  nativeBinaries,
  packagingProblems,
  productionPackages,
  projectFiles,
  type BuilderConfig,
  type PackagingInput,
} from './packaging-check.js';

/** Paths that must never ship, whether or not they exist right now. */
const PROBES = [
  'src/main/index.ts',
  'src/preload/api.ts',
  'test/electron/windows.test.ts',
  'dist/test/electron/windows.test.js',
  'dist/src/cli/main.js.map',
  'out/main/index.js.map',
  'out/.test-electron-x/main/index.js',
  'scripts/coverage.js',
  'tsconfig.json',
];

describe('packaging (electron-builder.yml)', () => {
  let input: PackagingInput;
  const withConfig = (change: Partial<BuilderConfig>): string[] => packagingProblems({ ...input, config: { ...input.config, ...change } });

  before(async () => {
    const build = await builtApp();
    const builtFiles = (fs.readdirSync(build.dir, { recursive: true }) as string[])
      .filter((f) => fs.statSync(path.join(build.dir, f)).isFile())
      .map((f) => `out/${f.split(path.sep).join('/')}`);
    const packages = productionPackages(ROOT);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { main?: string };
    input = {
      config: YAML.parse(fs.readFileSync(path.join(ROOT, 'electron-builder.yml'), 'utf8')) as BuilderConfig,
      packageMain: pkg.main,
      packages,
      binaries: nativeBinaries(ROOT, packages),
      projectFiles: [...new Set([...projectFiles(ROOT), ...PROBES])],
      builtFiles,
    };
  });

  test('the dependency walk finds every native module’s binary for this machine', () => {
    const all = [...input.binaries.values()].flat();
    for (const re of [
      /better-sqlite3\/.*\.node$/,
      /argon2\/.*\.node$/,
      /@napi-rs\/keyring-[^/]+\/.*\.node$/,
      /@koromix\/koffi-[^/]+\/.*\.node$/,
    ]) {
      assert.ok(
        all.some((b) => re.test(b)),
        `${re} in ${all.join(', ')}`,
      );
    }
    assert.ok(!input.packages.some((p) => p.name === 'electron'), 'devDependencies are not in the tree');
  });

  test('the real config: binaries unpacked, nothing of tests or sources shipped, main is built and shipped', () => {
    assert.deepEqual(packagingProblems(input), []);
  });

  test('control: a native binary left inside the asar is caught, for each native module', () => {
    assert.ok(withConfig({ asarUnpack: [] }).length > 0);
    for (const name of ['better-sqlite3', 'argon2', '@napi-rs/keyring', 'koffi']) {
      assert.ok(
        withConfig({ asarUnpack: [] }).some((p) => p.startsWith(`${name}: `) && p.endsWith('.node is not unpacked')),
        name,
      );
    }
    // Unpacking the koffi package itself is not enough: its binary is in @koromix/koffi-<platform>.
    const byPackage = withConfig({
      asarUnpack: ['node_modules/better-sqlite3/**', 'node_modules/argon2/**', 'node_modules/@napi-rs/**', 'node_modules/koffi/**'],
    });
    assert.ok(byPackage.length > 0 && byPackage.every((p) => p.includes('@koromix/koffi-')), byPackage.join('\n'));
    assert.ok(
      withConfig({ asarUnpack: ['node_modules/argon2/**', 'node_modules/@napi-rs/**', 'node_modules/@koromix/**'] }).some((p) =>
        /^node_modules\/better-sqlite3\/.*\.node would be packed inside the asar/.test(p),
      ),
    );
    assert.deepEqual(withConfig({ asar: false, asarUnpack: [] }), [], 'no asar, nothing to unpack');
  });

  test('control: files that would ship tests, sources, maps or scratch builds are caught', () => {
    const everything = withConfig({ files: ['**/*'] });
    for (const f of ['src/main/index.ts', 'test/electron/windows.test.ts', 'dist/test/electron/windows.test.js', 'tsconfig.json']) {
      assert.ok(everything.includes(`files would ship ${f}`), f);
    }
    const outAll = withConfig({ files: ['out/**', 'dist/src/**', 'bin/**', 'resources/**', 'package.json', '!**/*.map'] });
    assert.ok(outAll.includes('files would ship out/.test-electron-x/main/index.js'), outAll.join('\n'));
    assert.ok(
      outAll.every((p) => p.startsWith('files would ship out/.')),
      'only the scratch builds (whatever exists now) are wrong',
    );
    const maps = withConfig({ files: (input.config.files ?? []).filter((f) => f !== '!**/*.map') });
    assert.ok(maps.includes('files would ship dist/src/cli/main.js.map'));
    assert.ok(maps.includes('files would ship out/main/index.js.map'));
  });

  test('control: a main the build does not produce, or a build output left out, is caught', () => {
    assert.ok(
      withConfig({ extraMetadata: { main: 'out/main/main.js' } }).some((p) =>
        p.startsWith('main out/main/main.js is not a file the build produces'),
      ),
    );
    assert.ok(
      withConfig({ extraMetadata: { main: 'dist/src/main/index.js' } }).some((p) =>
        p.startsWith('main dist/src/main/index.js is not a file'),
      ),
    );
    const noPreload = withConfig({ files: (input.config.files ?? []).filter((f) => f !== 'out/preload/**') });
    assert.ok(noPreload.includes('files would leave out out/preload/index.cjs'), noPreload.join('\n'));
  });
});
