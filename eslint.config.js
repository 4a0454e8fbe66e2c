// Lint: typescript-eslint recommended rules plus the layering rules from DESIGN §2.
// The folder says where code runs; these rules keep imports honest.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const noElectronOrUi = [
  { name: 'electron', message: 'only src/main and src/preload may import electron' },
  { name: 'react', message: 'only src/renderer may import react' },
  { name: 'react-dom', message: 'only src/renderer may import react-dom' },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'out/', 'release/', 'bench-results/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      // Secrets must never reach a log: console output in library code is reviewed by hand.
      'no-console': 'error',
    },
  },
  {
    files: ['src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: noElectronOrUi,
          patterns: [
            { group: ['node:*'], message: 'src/shared runs anywhere: no node imports' },
            {
              group: ['../core/*', '../cli/*', '../sdk/*', '../main/*', '../renderer/*', '../preload/*'],
              message: 'src/shared imports only shared code',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: noElectronOrUi,
          patterns: [
            {
              group: ['**/cli/*', '**/main/*', '**/renderer/*', '**/preload/*', '**/sdk/*'],
              message: 'src/core imports only core and shared',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/sdk/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...noElectronOrUi, { name: 'zod', message: 'the SDK has no runtime dependencies' }],
          patterns: [{ group: ['**/core/*', '**/cli/*', '**/main/*', '**/renderer/*'], message: 'the SDK imports only node:* and shared' }],
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: noElectronOrUi, patterns: [{ group: ['**/main/*', '**/renderer/*', '**/preload/*'] }] }],
      'no-console': 'off',
    },
  },
  {
    files: ['src/renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'the renderer talks to window.keychain only' }],
          patterns: [
            { group: ['node:*'], message: 'the renderer has no Node access' },
            {
              group: ['**/core/*', '**/cli/*', '**/main/*', '**/preload/*', '**/sdk/*'],
              message: 'the renderer imports only renderer and shared code',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.js', 'bin/**/*.js', '*.config.*'],
    rules: { 'no-console': 'off' },
  },
);
