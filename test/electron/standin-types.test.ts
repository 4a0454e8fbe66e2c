/**
 * The Electron stand-in is held to Electron's own types: its classes implement
 * `Pick<Electron.X, …>` of electron.d.ts, so a member Electron does not have, or one whose
 * signature differs, does not compile. Checked here on copies of the stand-in with one
 * such change each (and the unchanged copy, which must compile).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';
import { ROOT, tempDir } from '../helpers/env.js';

const SRC = path.join(ROOT, 'test/electron-standin');
/** The stand-in's API files (launch.ts is the test harness around them). */
const FILES = ['events.ts', 'windows.ts', 'renderer.ts', 'session.ts', 'shell.ts', 'app.ts', 'world.ts', 'electron.ts'];

/** Type errors of a copy of the stand-in with `change` applied to `file` (null: unchanged). */
function typeErrors(change: { file: string; from: string; to: string } | null): string[] {
  const dir = tempDir('akc-standin-types-');
  for (const f of FILES) {
    let text = fs.readFileSync(path.join(SRC, f), 'utf8');
    // Outside the repository, point at the same electron.d.ts by path.
    text = text.replace(
      '/// <reference types="electron" />',
      `/// <reference path=${JSON.stringify(path.join(ROOT, 'node_modules/electron/electron.d.ts'))} />`,
    );
    if (change && change.file === f) {
      assert.ok(text.includes(change.from), `${f} contains ${change.from}`);
      text = text.replace(change.from, change.to);
    }
    fs.writeFileSync(path.join(dir, f), text);
  }
  const program = ts.createProgram(
    FILES.map((f) => path.join(dir, f)),
    {
      target: ts.ScriptTarget.ES2023,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noImplicitOverride: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      noEmit: true,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      typeRoots: [path.join(ROOT, 'node_modules/@types')],
    },
  );
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName.startsWith(dir))
    .map((d) => `${path.basename(d.file!.fileName)}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

describe('the Electron stand-in against electron.d.ts', () => {
  test('as it is, it compiles', () => {
    assert.deepEqual(typeErrors(null), []);
  });

  test('a member Electron does not have fails', () => {
    const errors = typeErrors({ file: 'windows.ts', from: "  | 'moveTop'\n", to: "  | 'moveTop'\n  | 'moveToTheVeryTop'\n" });
    assert.ok(
      errors.some((e) => /moveToTheVeryTop/.test(e)),
      errors.join('\n'),
    );
  });

  test('a parameter of the wrong type fails', () => {
    const errors = typeErrors({ file: 'shell.ts', from: 'setToolTip(toolTip: string): void {', to: 'setToolTip(toolTip: number): void {' });
    assert.ok(
      errors.some((e) => /setToolTip/.test(e)),
      errors.join('\n'),
    );
  });

  test('a result of the wrong type fails (Electron’s clipboard is asynchronous)', () => {
    const errors = typeErrors({
      file: 'shell.ts',
      from: 'readText(): Promise<string> {\n    return Promise.resolve(this.$text);',
      to: 'readText(): string {\n    return this.$text;',
    });
    assert.ok(
      errors.some((e) => /readText/.test(e)),
      errors.join('\n'),
    );
  });
});
