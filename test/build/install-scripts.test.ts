/**
 * Install scripts (issue 15, Medium 11): npm ≥ 11.16 lists every dependency whose install
 * script nobody reviewed, and npm 12 will stop running them. package.json `allowScripts`
 * records the review: each install script in the lock is named there, and the native
 * modules' scripts are denied because their packages carry prebuilt binaries (the scripts
 * only rebuild from source when no prebuild fits). Checked on the committed lock and on the
 * installed packages, so a new dependency with an install script, or a platform without a
 * prebuild, fails here instead of at someone's `npm install`.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../helpers/env.js';

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean | string> };
const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean; dev?: boolean }>;
};

/** `node_modules/a/node_modules/@s/b` → `@s/b`. */
const nameOf = (lockPath: string): string => lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);

const withScripts = Object.entries(lock.packages)
  .filter(([p, v]) => p !== '' && v.hasInstallScript)
  .map(([p]) => nameOf(p))
  .sort();

/** Where each denied native module keeps the binary for this platform instead of building it. */
const PREBUILDS: Record<string, () => boolean> = {
  // linux-x64.node (glibc) or linuxmusl-x64.node.
  'better-sqlite3': () =>
    ['', 'musl'].some((libc) =>
      fs.existsSync(path.join(ROOT, `node_modules/better-sqlite3/prebuilds/${process.platform}${libc}-${process.arch}.node`)),
    ),
  argon2: () => {
    const dir = path.join(ROOT, `node_modules/argon2/prebuilds/${process.platform}-${process.arch}`);
    return fs.existsSync(dir) && fs.readdirSync(dir).some((f) => f.endsWith('.node'));
  },
  koffi: () => fs.existsSync(path.join(ROOT, `node_modules/@koromix/koffi-${process.platform}-${process.arch}/package.json`)),
};

describe('install scripts are reviewed (package.json allowScripts)', () => {
  test('the lock has install scripts (so the check below checks something)', () => {
    assert.ok(withScripts.includes('better-sqlite3'), withScripts.join(', '));
  });

  test('every dependency with an install script is named in allowScripts, and nothing else is', () => {
    const reviewed = Object.keys(pkg.allowScripts ?? {})
      .map((k) => k.replace(/(.)@[^@]*$/, '$1'))
      .sort();
    assert.deepEqual(reviewed, withScripts, 'review the new install script and add it to allowScripts (or remove a stale entry)');
  });

  test('each denied native module ships a prebuilt binary for this platform', () => {
    for (const [name, allowed] of Object.entries(pkg.allowScripts ?? {})) {
      if (allowed !== false || !(name in PREBUILDS)) continue;
      assert.ok(PREBUILDS[name]!(), `${name} has no prebuild for ${process.platform}-${process.arch}: its install script would be needed`);
    }
    assert.deepEqual(
      Object.keys(PREBUILDS).filter((n) => pkg.allowScripts?.[n] !== false),
      [],
      'the native modules are denied their build scripts',
    );
  });
});
