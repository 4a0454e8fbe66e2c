/**
 * akc/layering: what each folder of src/ may import (DESIGN §2: the folder says where the
 * code runs). One rule and one table instead of a list of forbidden names per folder,
 * because a forbid-list has holes: `react/jsx-runtime`, `electron/main`, `zod/v4`, a bare
 * `'fs'`, `import('electron')` and `require('react')` all passed the old one. Here every
 * module specifier is checked against an allow-list:
 *
 * - static imports and re-exports (`import`, `export … from`, `import x = require()`),
 *   type-only ones included (a type is still a dependency between layers);
 * - dynamic `import()`, `require()` and `createRequire(…)(…)`; a specifier that is not a
 *   string literal cannot be checked and is reported;
 * - packages by package name, so every subpath of a package counts as that package;
 * - Node built-ins with or without the `node:` prefix (`module.builtinModules`); where they
 *   are allowed the prefix is required, so a built-in never looks like a package;
 * - relative imports by the folder of src/ they land in.
 *
 * `runtimeFree` names packages that must not run in a layer at all, not even reached through
 * an allowed module: a value import of a local module is followed transitively (type-only
 * imports are erased and are not followed) and reported when the chain reaches one. This is
 * what keeps zod out of the SDK and the preload although both import src/shared, where most
 * modules use zod. `import { type A } from` counts as a value import: under
 * verbatimModuleSyntax it compiles to `import {} from`, which still loads the module.
 */
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import ts from 'typescript';

const BUILTINS = new Set(builtinModules);
const SRC_DIR = path.resolve(import.meta.dirname, '..', 'src');

/** 'react/jsx-runtime' → 'react', '@scope/pkg/x' → '@scope/pkg'. */
function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function isRelative(spec) {
  return spec === '.' || spec === '..' || spec.startsWith('./') || spec.startsWith('../');
}

/** The file a relative specifier names: TS sources are imported as .js (NodeNext) or without extension (bundler). */
function resolveLocal(fromFile, spec) {
  const base = path.resolve(path.dirname(fromFile), spec);
  const stem = base.replace(/\.(c|m)?js$/, '');
  const candidates = [
    base,
    `${stem}.ts`,
    `${stem}.tsx`,
    `${stem}.mts`,
    `${stem}.cts`,
    path.join(base, 'index.ts'),
    path.join(base, 'index.tsx'),
  ];
  return candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile()) ?? null;
}

/** The module specifiers a file loads at run time: its value imports, re-exports, import() and require(). */
function runtimeSpecifiers(file) {
  const text = fs.readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const specs = [];
  const visit = (node) => {
    if (ts.isImportDeclaration(node)) {
      if (!node.importClause?.isTypeOnly && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(node)) {
      if (!node.isTypeOnly && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) specs.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node)) {
      const ref = node.moduleReference;
      if (!node.isTypeOnly && ts.isExternalModuleReference(ref) && ts.isStringLiteral(ref.expression)) specs.push(ref.expression.text);
    } else if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const loads = callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require');
      const arg = node.arguments[0];
      if (loads && arg && ts.isStringLiteralLike(arg)) specs.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs;
}

// file → { mtimeMs, specs }: parsing is the cost; the walk itself is cheap.
const parsed = new Map();

function runtimeSpecifiersCached(file) {
  const mtimeMs = fs.statSync(file).mtimeMs;
  const hit = parsed.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.specs;
  const specs = runtimeSpecifiers(file);
  parsed.set(file, { mtimeMs, specs });
  return specs;
}

/**
 * The import chain from `file` to the first package of `forbidden` it loads at run time,
 * or null. A depth-first walk that enters each module once: a module already seen either
 * reached nothing or is still being walked further up the chain.
 */
function runtimeChain(file, forbidden, seen = new Set()) {
  if (seen.has(file)) return null;
  seen.add(file);
  for (const spec of runtimeSpecifiersCached(file)) {
    if (!isRelative(spec)) {
      if (forbidden.has(packageName(spec))) return [spec];
      continue;
    }
    const target = resolveLocal(file, spec);
    const rest = target ? runtimeChain(target, forbidden, seen) : null;
    if (rest) return [spec, ...rest];
  }
  return null;
}

/** @type {import('eslint').Rule.RuleModule} */
export default {
  meta: {
    type: 'problem',
    docs: { description: 'what each folder of src/ may import (DESIGN §2)' },
    schema: [
      {
        type: 'object',
        properties: {
          layers: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              properties: {
                where: { type: 'string' },
                layers: { type: 'array', items: { type: 'string' } },
                packages: { type: 'array', items: { type: 'string' } },
                builtins: { type: 'boolean' },
                runtimeFree: { type: 'array', items: { type: 'string' } },
              },
              required: ['where', 'layers', 'packages', 'builtins'],
              additionalProperties: false,
            },
          },
        },
        required: ['layers'],
        additionalProperties: false,
      },
    ],
    messages: {
      unknownLayer: "'{{file}}' is in no layer of src/ that the layering rule knows; add the folder to eslint.config.js",
      layer: "src/{{layer}} ({{where}}) may not import from src/{{target}}: '{{spec}}'",
      outside: "src/{{layer}} may not import '{{spec}}' from outside src/",
      builtin: "src/{{layer}} ({{where}}) may not import the Node built-in '{{spec}}'",
      prefix: "import the Node built-in as 'node:{{spec}}', so it cannot be mistaken for a package",
      package: "src/{{layer}} ({{where}}) may not import the package '{{name}}' ('{{spec}}')",
      runtime:
        "'{{spec}}' loads {{name}} at run time ({{chain}}), and no {{name}} may run in src/{{layer}} ({{where}}); import only its types (`import type`) or move the value to a module without {{name}}",
      computed: 'a module specifier that is not a string literal cannot be checked against the layering rules',
    },
  },

  create(context) {
    const { layers } = context.options[0];
    // The repository's src/, found from this file rather than from the working directory
    // (ESLint may run from a subfolder, or an editor from anywhere).
    const srcDir = SRC_DIR;
    const file = context.physicalFilename;
    const rel = path.relative(srcDir, file);
    if (rel.startsWith('..') || path.isAbsolute(rel)) return {};
    const layer = rel.split(path.sep)[0];
    const policy = layers[layer];
    if (!policy || !rel.includes(path.sep)) {
      return {
        Program: (node) => context.report({ node, messageId: 'unknownLayer', data: { file: path.relative(path.dirname(srcDir), file) } }),
      };
    }
    const runtimeFree = new Set(policy.runtimeFree ?? []);
    const data = { layer, where: policy.where };

    /** `typeOnly`: the import is erased at compile time (it is still a dependency, but runs nothing). */
    function check(node, spec, typeOnly) {
      const report = (messageId, extra = {}) => context.report({ node, messageId, data: { ...data, spec, ...extra } });
      if (isRelative(spec)) {
        const target = path.relative(srcDir, path.resolve(path.dirname(file), spec));
        if (target.startsWith('..') || path.isAbsolute(target)) return report('outside');
        const targetLayer = target.split(path.sep)[0];
        if (targetLayer !== layer && !policy.layers.includes(targetLayer)) return report('layer', { target: targetLayer });
        if (typeOnly || runtimeFree.size === 0) return;
        const resolved = resolveLocal(file, spec);
        const chain = resolved && runtimeChain(resolved, runtimeFree);
        if (chain) report('runtime', { name: packageName(chain.at(-1)), chain: [spec, ...chain].join(' → ') });
        return;
      }
      const bare = spec.replace(/^node:/, '');
      if (spec.startsWith('node:') || BUILTINS.has(spec)) {
        if (!policy.builtins) return report('builtin');
        if (!spec.startsWith('node:')) report('prefix', { spec: bare });
        return;
      }
      const name = packageName(spec);
      if (!policy.packages.includes(name) || (!typeOnly && runtimeFree.has(name))) report('package', { name });
    }

    function checkSource(node, source, typeOnly) {
      if (source?.type === 'Literal' && typeof source.value === 'string') return check(node, source.value, typeOnly);
      if (source?.type === 'TemplateLiteral' && source.expressions.length === 0)
        return check(node, source.quasis[0].value.cooked, typeOnly);
      context.report({ node, messageId: 'computed' });
    }

    return {
      ImportDeclaration: (node) => checkSource(node, node.source, node.importKind === 'type'),
      ExportNamedDeclaration: (node) => node.source && checkSource(node, node.source, node.exportKind === 'type'),
      ExportAllDeclaration: (node) => checkSource(node, node.source, node.exportKind === 'type'),
      ImportExpression: (node) => checkSource(node, node.source, false),
      TSImportEqualsDeclaration: (node) => {
        if (node.moduleReference.type === 'TSExternalModuleReference')
          checkSource(node, node.moduleReference.expression, node.importKind === 'type');
      },
      TSImportType: (node) => {
        const arg = node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument;
        checkSource(node, arg, true);
      },
      CallExpression: (node) => {
        const callee = node.callee;
        const isRequire =
          (callee.type === 'Identifier' && callee.name === 'require') ||
          (callee.type === 'CallExpression' && callee.callee.type === 'Identifier' && callee.callee.name === 'createRequire');
        if (isRequire) checkSource(node, node.arguments[0], false);
      },
    };
  },
};
