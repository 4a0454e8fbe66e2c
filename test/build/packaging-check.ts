/**
 * What `electron-builder --config electron-builder.yml` would pack, checked without running
 * it (it downloads Electron): the app's files selected by `files`, the `.node` binaries of
 * the production dependency tree against `asarUnpack`, and `main` against the build output.
 * Patterns are matched the way electron-builder matches them: minimatch with dot files,
 * in order, a later `!pattern` excluding what an earlier one included.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Minimatch } from 'minimatch';

export interface BuilderConfig {
  files?: string[];
  asarUnpack?: string[];
  asar?: boolean;
  extraMetadata?: { main?: string };
}

/** The native modules whose binaries must load from outside the asar archive. */
export const NATIVE_MODULES = ['better-sqlite3', 'argon2', '@napi-rs/keyring', 'koffi'];

/**
 * Whether electron-builder copies the app file `file` given the `files` patterns: its own
 * exclusions around them (node_modules is copied separately; .d.ts, editor and VCS files
 * never), as app-builder-lib's getMainFileMatchers adds them.
 */
export function shipped(file: string, files: readonly string[]): boolean {
  const user = files.includes('package.json') ? files : [...files, 'package.json'];
  return selected(file, [
    '!**/node_modules/**',
    ...user,
    '!**/*.{iml,hprof,orig,pyc,pyo,rbc,swp,csproj,sln,suo,xproj,cc,d.ts,mk,a,o,obj,forge-meta,pdb}',
    '!**/._*',
    '!**/electron-builder.{yaml,yml,json,json5,toml,ts}',
    '!**/{.git,.hg,.svn,.DS_Store,.gitignore,.npmignore,.github,package-lock.json,npm-debug.log}',
  ]);
}

/** electron-builder's minimatchAll: ordered, negations re-exclude. */
export function selected(file: string, patterns: readonly string[]): boolean {
  let match = false;
  for (const p of patterns) {
    const m = new Minimatch(p.startsWith('./') ? p.slice(2) : p, { dot: true });
    if (match !== m.negate) continue;
    match = m.match(file);
  }
  return match;
}

export interface ProdPackage {
  name: string;
  /** Relative to the project root, with `/`. */
  dir: string;
  /** The packages it depends on at run time (installed ones). */
  deps: string[];
}

/** The production dependency tree as installed: dependencies and installed optionalDependencies, from the root package.json. */
export function productionPackages(root: string): ProdPackage[] {
  const found = new Map<string, ProdPackage>();
  const resolve = (name: string, fromDir: string): string | null => {
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, 'node_modules', name, 'package.json');
      if (fs.existsSync(candidate)) return path.dirname(candidate);
      if (path.relative(root, dir) === '' || dir === path.dirname(dir)) return null;
    }
  };
  const visit = (dir: string, optional: Set<string>, deps: string[]): void => {
    for (const name of deps) {
      const pkgDir = resolve(name, dir);
      if (!pkgDir) {
        if (optional.has(name)) continue; // another platform's binary package
        throw new Error(`${name} (needed by ${path.relative(root, dir) || 'the app'}) is not installed`);
      }
      const rel = path.relative(root, pkgDir).split(path.sep).join('/');
      if (found.has(rel)) continue;
      const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
        dependencies?: Record<string, string>;
        optionalDependencies?: Record<string, string>;
      };
      const own = Object.keys(pkg.dependencies ?? {});
      const opt = Object.keys(pkg.optionalDependencies ?? {});
      const entry: ProdPackage = { name, dir: rel, deps: [] };
      found.set(rel, entry);
      visit(pkgDir, new Set(opt), [...own, ...opt]);
      entry.deps = [...own, ...opt].filter((d) => resolve(d, pkgDir) !== null);
    }
  };
  const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const opt = Object.keys(rootPkg.optionalDependencies ?? {});
  visit(root, new Set(opt), [...Object.keys(rootPkg.dependencies ?? {}), ...opt]);
  return [...found.values()];
}

/** Every file of a package, not descending into its own node_modules (those are packages of their own). */
function packageFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const child = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(child);
      } else out.push(child);
    }
  };
  walk(dir);
  return out;
}

/** The `.node` binaries of the production tree, by package. */
export function nativeBinaries(root: string, packages: readonly ProdPackage[]): Map<string, string[]> {
  const byPackage = new Map<string, string[]>();
  for (const p of packages) {
    const binaries = packageFiles(root, p.dir).filter((f) => f.endsWith('.node'));
    if (binaries.length > 0) byPackage.set(p.dir, binaries);
  }
  return byPackage;
}

export interface PackagingInput {
  config: BuilderConfig;
  /** package.json's own `main` (used when extraMetadata does not set one). */
  packageMain: string | undefined;
  packages: readonly ProdPackage[];
  binaries: ReadonlyMap<string, string[]>;
  /** Paths (relative to the project) that exist in the project and might be selected by `files`. */
  projectFiles: readonly string[];
  /** The files the build produces under out/, relative to the project (`out/main/index.js`, …). */
  builtFiles: readonly string[];
}

/** Paths that are tests, sources, tooling or scratch output: never in an installer. */
const NOT_SHIPPED = [
  /^(src|test|bench|scripts|docs|eslint-rules|\.ci|\.github|coverage|release)\//,
  /^dist\/(test|bench)\//,
  /^out\/\./,
  /\.(ts|tsx|mts|cts)$/,
  /\.map$/,
  /(^|\/)tsconfig[^/]*\.json$/,
];

/** What would be wrong with the installer this config builds; empty when nothing is. */
export function packagingProblems(input: PackagingInput): string[] {
  const problems: string[] = [];
  const { config } = input;
  const files = config.files ?? ['**/*'];
  const unpack = config.asarUnpack ?? [];

  // Native binaries cannot load from inside app.asar.
  if (config.asar !== false) {
    for (const binaries of input.binaries.values()) {
      for (const b of binaries) if (!selected(b, unpack)) problems.push(`${b} would be packed inside the asar (not matched by asarUnpack)`);
    }
    // Each native module's binary lives in it or in a platform package it depends on.
    for (const name of NATIVE_MODULES) {
      const pkg = input.packages.find((p) => p.name === name && p.dir === `node_modules/${name}`);
      if (!pkg) {
        problems.push(`${name} is not in the production dependency tree`);
        continue;
      }
      const holders = [pkg.dir, ...pkg.deps.map((d) => input.packages.find((p) => p.name === d)?.dir ?? '')];
      const own = holders.flatMap((h) => input.binaries.get(h) ?? []);
      if (own.length === 0) problems.push(`${name}: no .node binary found in it or its platform packages`);
      for (const b of own) if (!selected(b, unpack)) problems.push(`${name}: ${b} is not unpacked`);
    }
  }

  // Tests, sources and scratch output never ship.
  for (const f of input.projectFiles) {
    if (NOT_SHIPPED.some((re) => re.test(f)) && shipped(f, files)) problems.push(`files would ship ${f}`);
  }

  // `main` is a file the build produces, and it ships.
  const main = config.extraMetadata?.main ?? input.packageMain;
  if (!main) problems.push('no main entry (extraMetadata.main or package.json main)');
  else {
    const normal = path.posix.normalize(main);
    if (!input.builtFiles.includes(normal))
      problems.push(
        `main ${main} is not a file the build produces (${input.builtFiles.filter((f) => f.startsWith('out/main/')).join(', ')})`,
      );
    if (!shipped(normal, files)) problems.push(`main ${main} is not selected by files`);
  }
  // Everything the build produces (but source maps) ships: the main loads its worker, preload and renderer by path.
  for (const f of input.builtFiles) if (!f.endsWith('.map') && !shipped(f, files)) problems.push(`files would leave out ${f}`);
  return problems;
}

/** The project's own files (no node_modules, no .git), relative with `/`. */
export function projectFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      if (rel === '' && (e.name === 'node_modules' || e.name === '.git')) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk('');
  return out;
}
