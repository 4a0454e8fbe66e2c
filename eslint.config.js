// Lint: typescript-eslint recommended rules plus the layering rules from DESIGN §2.
// The folder says where code runs; these rules keep imports honest.
import fs from 'node:fs';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import layering from './eslint-rules/layering.js';

const pkg = JSON.parse(fs.readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
/** What the packaged app and the npm package ship: devDependencies are not there at run time. */
const RUNTIME_DEPS = Object.keys(pkg.dependencies);

/**
 * DESIGN §2, one row per folder of src/: the folders it may import from (besides its own),
 * the packages (any subpath counts), whether Node built-ins are there (always as `node:x`),
 * and the packages that must not run there even through an allowed module (see
 * eslint-rules/layering.js). electron, react and react-dom are devDependencies: only the
 * layers that list them by name may use them.
 */
const LAYERS = {
  shared: { where: 'runs anywhere', layers: [], packages: ['zod'], builtins: false },
  core: { where: 'plain Node, no Electron or UI', layers: ['shared'], packages: RUNTIME_DEPS, builtins: true },
  cli: { where: 'the akc client, plain Node', layers: ['shared', 'core', 'sdk'], packages: RUNTIME_DEPS, builtins: true },
  sdk: { where: 'the zero-dependency client library', layers: ['shared'], packages: [], builtins: true, runtimeFree: ['zod'] },
  main: { where: 'the Electron main process', layers: ['shared', 'core'], packages: [...RUNTIME_DEPS, 'electron'], builtins: true },
  preload: {
    where: 'the sandboxed preload: electron only',
    layers: ['shared'],
    packages: ['electron'],
    builtins: false,
    runtimeFree: ['zod'],
  },
  renderer: { where: 'the React UI, talks to window.keychain only', layers: ['shared'], packages: ['react', 'react-dom'], builtins: false },
};

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', 'release/', 'bench-results/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node }, parserOptions: { tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Secrets must never reach a log: console output in library code is reviewed by hand.
      'no-console': 'error',
    },
  },
  {
    files: ['src/**/*.{ts,tsx,js,mjs,cjs}'],
    plugins: { akc: { rules: { layering } } },
    rules: { 'akc/layering': ['error', { layers: LAYERS }] },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.js', 'bin/**/*.js', '*.config.*'],
    rules: { 'no-console': 'off' },
  },
);
