/**
 * Probes for the layering rule (eslint-rules/layering.js, table in eslint.config.js): each
 * planted import must be reported by the repository's own ESLint config, and the imports
 * each folder is meant to use must pass. Plus: every tsconfig keeps the base's strictness.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';
import ts from 'typescript';
import { ROOT, tempDir } from '../helpers/env.js';

interface Probe {
  file: string;
  code: string;
  /** The layering message expected, or null for an import that must pass. */
  expect: RegExp | null;
}

const eslint = new ESLint({ cwd: ROOT });

async function layeringMessages(cwd: string, linter: ESLint, file: string, code: string): Promise<string[]> {
  const [result] = await linter.lintText(code, { filePath: path.join(cwd, file) });
  assert.ok(result, 'eslint returned a result');
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${file} parses`);
  return result.messages.filter((m) => m.ruleId === 'akc/layering').map((m) => m.message);
}

async function check(probes: Probe[], cwd = ROOT, linter = eslint): Promise<void> {
  for (const { file, code, expect } of probes) {
    const messages = await layeringMessages(cwd, linter, file, code);
    if (expect === null) assert.deepEqual(messages, [], `${file}: ${code}`);
    else {
      assert.equal(messages.length, 1, `${file}: ${code} → ${JSON.stringify(messages)}`);
      assert.match(messages[0]!, expect, `${file}: ${code}`);
    }
  }
}

const BUILTIN = /may not import the Node built-in/;
const PACKAGE = /may not import the package/;
const LAYER = /may not import from src\//;
const ZOD = /loads zod at run time/;

describe('layering lint rule', () => {
  test('src/shared: no Node (bare or prefixed), no UI, no other layer; zod (any subpath) is fine', async () => {
    await check([
      { file: 'src/shared/probe.ts', code: "import fs from 'fs';\nexport const a = fs;", expect: BUILTIN },
      { file: 'src/shared/probe.ts', code: "import { join } from 'path';\nexport const a = join;", expect: BUILTIN },
      { file: 'src/shared/probe.ts', code: "import { promises } from 'fs/promises';\nexport const a = promises;", expect: BUILTIN },
      { file: 'src/shared/probe.ts', code: "import os from 'node:os';\nexport const a = os;", expect: BUILTIN },
      { file: 'src/shared/probe.ts', code: "export const a = import('node:crypto');", expect: BUILTIN },
      { file: 'src/shared/probe.ts', code: "import React from 'react';\nexport const a = React;", expect: PACKAGE },
      { file: 'src/shared/probe.ts', code: "export * from '../core/vault/vault.js';", expect: LAYER },
      {
        file: 'src/shared/probe.ts',
        code: "import type { Lease } from '../core/policy/leases.js';\nexport type L = Lease;",
        expect: LAYER,
      },
      { file: 'src/shared/probe.ts', code: "import { z } from 'zod/v4';\nexport const s = z.string();", expect: null },
      { file: 'src/shared/probe.ts', code: "import { AkcError } from './errors.js';\nexport const e = AkcError;", expect: null },
    ]);
  });

  test('src/core: no electron or react, by static, dynamic or require import, subpaths included', async () => {
    await check([
      { file: 'src/core/probe.ts', code: "export const e = import('electron');", expect: PACKAGE },
      { file: 'src/core/probe.ts', code: "import { app } from 'electron/main';\nexport const a = app;", expect: PACKAGE },
      { file: 'src/core/probe.ts', code: "export const r = require('react-dom/client');", expect: PACKAGE },
      {
        file: 'src/core/probe.ts',
        code: "import { createRequire } from 'node:module';\nexport const r = createRequire(import.meta.url)('react');",
        expect: PACKAGE,
      },
      { file: 'src/core/probe.ts', code: "import type { Page } from 'playwright-core';\nexport type P = Page;", expect: PACKAGE },
      { file: 'src/core/probe.ts', code: "type Z = import('electron').App;\nexport type A = Z;", expect: PACKAGE },
      { file: 'src/core/probe.ts', code: "import fs from 'fs';\nexport const a = fs;", expect: /as 'node:fs'/ },
      { file: 'src/core/probe.ts', code: "export { main } from '../cli/main.js';", expect: LAYER },
      { file: 'src/core/probe.ts', code: "import pkg from '../../package.json';\nexport const p = pkg;", expect: /from outside src/ },
      { file: 'src/core/probe.ts', code: 'export const load = (name: string) => import(name);', expect: /not a string literal/ },
      {
        file: 'src/core/probe.ts',
        code: "import fs from 'node:fs';\nimport Database from 'better-sqlite3';\nimport { z } from 'zod';\nimport { AkcError } from '../shared/errors.js';\nexport const a = [fs, Database, z, AkcError];",
        expect: null,
      },
    ]);
  });

  test('src/cli: no electron or react, no main, preload or renderer', async () => {
    await check([
      { file: 'src/cli/probe.ts', code: "export const r = require('react');", expect: PACKAGE },
      { file: 'src/cli/probe.ts', code: "export const m = import('../main/index.js');", expect: LAYER },
      { file: 'src/cli/probe.ts', code: "import '../renderer/App.js';", expect: LAYER },
      {
        file: 'src/cli/probe.ts',
        code: "import net from 'node:net';\nimport { connect } from '../sdk/index.js';\nimport { Vault } from '../core/vault/vault.js';\nimport { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';\nexport const a = [net, connect, Vault, McpServer];",
        expect: null,
      },
    ]);
  });

  test('src/sdk: no packages at all, and no zod reached through shared', async () => {
    await check([
      { file: 'src/sdk/probe.ts', code: "import 'zod';", expect: PACKAGE },
      // Not even its types: the SDK's .d.ts files would then need zod installed.
      { file: 'src/sdk/probe.ts', code: "import type { ZodType } from 'zod';\nexport type Z = ZodType;", expect: PACKAGE },
      { file: 'src/sdk/probe.ts', code: "import yaml from 'yaml';\nexport const y = yaml;", expect: PACKAGE },
      { file: 'src/sdk/probe.ts', code: "import { Vault } from '../core/vault/vault.js';\nexport const v = Vault;", expect: LAYER },
      { file: 'src/sdk/probe.ts', code: "import { VERBS } from '../shared/contract.js';\nexport const v = VERBS;", expect: ZOD },
      { file: 'src/sdk/probe.ts', code: "export { adminChallengeSchema } from '../shared/admin-protocol.js';", expect: ZOD },
      { file: 'src/sdk/probe.ts', code: "export const p = import('../shared/protocol-schemas.js');", expect: ZOD },
      // Under verbatimModuleSyntax this still loads the module (as `import {} from`).
      { file: 'src/sdk/probe.ts', code: "import { type Verb } from '../shared/contract.js';\nexport type V = Verb;", expect: ZOD },
      { file: 'src/sdk/probe.ts', code: "import type { Verb } from '../shared/contract.js';\nexport type V = Verb;", expect: null },
      {
        file: 'src/sdk/probe.ts',
        code: "import net from 'node:net';\nimport { AkcError } from '../shared/errors.js';\nimport { PROTOCOL_VERSION } from '../shared/protocol.js';\nexport const a = [net, AkcError, PROTOCOL_VERSION];",
        expect: null,
      },
    ]);
  });

  test('src/preload: electron and zod-free shared code only', async () => {
    await check([
      { file: 'src/preload/probe.ts', code: "import { x } from '../core/y.js';\nexport const a = x;", expect: LAYER },
      { file: 'src/preload/probe.ts', code: "import fs from 'node:fs';\nexport const a = fs;", expect: BUILTIN },
      { file: 'src/preload/probe.ts', code: "import { VERBS } from '../shared/contract';\nexport const v = VERBS;", expect: ZOD },
      { file: 'src/preload/probe.ts', code: "import { z } from 'zod';\nexport const a = z;", expect: PACKAGE },
      {
        file: 'src/preload/probe.ts',
        code: "import { contextBridge } from 'electron/renderer';\nimport type { Verb } from '../shared/contract';\nexport const a = contextBridge;\nexport type V = Verb;",
        expect: null,
      },
    ]);
  });

  test('src/main: electron and core, no UI code', async () => {
    await check([
      { file: 'src/main/probe.ts', code: "import { jsx } from 'react/jsx-runtime';\nexport const a = jsx;", expect: PACKAGE },
      { file: 'src/main/probe.ts', code: "import { App } from '../renderer/App';\nexport const a = App;", expect: LAYER },
      { file: 'src/main/probe.ts', code: "import { main } from '../cli/main.js';\nexport const a = main;", expect: LAYER },
      { file: 'src/main/probe.ts', code: "export const a = require('playwright-core');", expect: PACKAGE },
      {
        file: 'src/main/probe.ts',
        code: "import path from 'node:path';\nimport { app } from 'electron';\nimport { DesktopService } from '../core/desktop/service';\nexport const a = [path, app, DesktopService];",
        expect: null,
      },
    ]);
  });

  test('src/renderer: React and shared only, no Node and no electron', async () => {
    await check([
      { file: 'src/renderer/probe.tsx', code: "import { ipcRenderer } from 'electron';\nexport const a = ipcRenderer;", expect: PACKAGE },
      { file: 'src/renderer/probe.tsx', code: "import os from 'node:os';\nexport const a = os;", expect: BUILTIN },
      { file: 'src/renderer/probe.tsx', code: "import { Vault } from '../core/vault/vault';\nexport const a = Vault;", expect: LAYER },
      { file: 'src/renderer/probe.tsx', code: "import { VERBS } from '../preload/index';\nexport const a = VERBS;", expect: LAYER },
      {
        file: 'src/renderer/probe.tsx',
        code: "import { useState } from 'react';\nimport { createRoot } from 'react-dom/client';\nimport { SECRET_TYPES } from '../shared/secrets';\nexport const a = [useState, createRoot, SECRET_TYPES];\nexport const B = () => <b />;",
        expect: null,
      },
    ]);
  });

  test('a file in no known folder of src/ is reported', async () => {
    await check([{ file: 'src/elsewhere/probe.ts', code: 'export const a = 1;', expect: /in no layer/ }]);
  });

  test('zod is followed through chains and cycles of shared modules', async () => {
    // A scratch project with the repository's lint config, and shared modules made for
    // the probe: sdk → a → b → a (a cycle) and b → c → zod.
    const dir = tempDir('akc-lint-');
    for (const f of ['eslint.config.js', 'package.json']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    fs.cpSync(path.join(ROOT, 'eslint-rules'), path.join(dir, 'eslint-rules'), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.mkdirSync(path.join(dir, 'src/shared'), { recursive: true });
    const write = (f: string, text: string) => fs.writeFileSync(path.join(dir, f), text);
    write('src/shared/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
    write(
      'src/shared/b.ts',
      "import { a } from './a.js';\nimport type { T } from './types.js';\nexport { c } from './c.js';\nexport const b = (t: T) => [a, t];\n",
    );
    write('src/shared/c.ts', "import { z } from 'zod';\nexport const c = z.string();\n");
    write('src/shared/types.ts', "import type { ZodType } from 'zod';\nexport type T = ZodType;\n");
    write('src/shared/clean.ts', "import type { T } from './types.js';\nexport const clean = (t: T) => t;\n");
    const linter = new ESLint({ cwd: dir });
    const [message] = await layeringMessages(dir, linter, 'src/sdk/probe.ts', "import { a } from '../shared/a.js';\nexport const x = a;");
    assert.match(message ?? '', /'\.\.\/shared\/a\.js' loads zod at run time \(\.\.\/shared\/a\.js → \.\/b\.js → \.\/c\.js → zod\)/);
    await check(
      [
        { file: 'src/preload/probe.ts', code: "import { b } from '../shared/b';\nexport const x = b;", expect: ZOD },
        { file: 'src/sdk/probe.ts', code: "import { clean } from '../shared/clean.js';\nexport const x = clean;", expect: null },
      ],
      dir,
      linter,
    );
  });
  // The repository itself is linted by `npm run lint` (part of `npm test`).
});

describe('tsconfig files', () => {
  // Flags whose loss would let code compile that the base refuses.
  const STRICT = [
    'strict',
    'noUncheckedIndexedAccess',
    'noImplicitOverride',
    'noFallthroughCasesInSwitch',
    'isolatedModules',
    'verbatimModuleSyntax',
  ] as const;

  test('every project keeps the base config’s strictness flags', () => {
    const configs = fs.readdirSync(ROOT).filter((f) => /^tsconfig\..+\.json$/.test(f) && f !== 'tsconfig.build.json');
    assert.ok(configs.includes('tsconfig.web.json') && configs.includes('tsconfig.electron.json'));
    for (const name of configs) {
      const parsed = ts.getParsedCommandLineOfConfigFile(
        path.join(ROOT, name),
        {},
        { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
      );
      assert.ok(parsed, name);
      assert.deepEqual(parsed.errors, [], name);
      for (const flag of STRICT) assert.equal(parsed.options[flag], true, `${name}: ${flag}`);
    }
  });
});
