// electron-vite: main (ESM, Node deps external), preload (CommonJS: sandboxed preloads
// cannot load ES modules), renderer (React, src/renderer/index.html → out/renderer).
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

// Source maps for the main and preload bundles only when asked (the Electron tests build
// with them so line coverage maps back to src/); the shipped build stays as it is.
const sourcemap = process.env.AKC_BUILD_SOURCEMAPS === '1';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      sourcemap,
      lib: {
        entry: {
          index: resolve(import.meta.dirname, 'src/main/index.ts'),
          // Loaded by path (new URL('./wal-checkpoint-worker.js', import.meta.url) in the
          // bundled index.js), so it must be a file of its own next to index.js.
          'wal-checkpoint-worker': resolve(import.meta.dirname, 'src/core/host/wal-checkpoint-worker.ts'),
        },
        formats: ['es'],
        fileName: (_format, name) => `${name}.js`,
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      sourcemap,
      // Nothing but electron may be required from a sandboxed preload: bundle everything.
      externalizeDeps: false,
      lib: { entry: resolve(import.meta.dirname, 'src/preload/index.ts'), formats: ['cjs'], fileName: () => 'index.cjs' },
    },
  },
  renderer: {
    root: resolve(import.meta.dirname, 'src/renderer'),
    base: './',
    plugins: [
      react(),
      {
        // The strict CSP meta tag blocks Vite's injected styles and its reload socket, so
        // it is dropped only while `npm run dev` serves; built files keep it (and the main
        // process sends the same policy as a header either way).
        name: 'akc-dev-csp',
        apply: 'serve',
        transformIndexHtml: (html: string) => html.replace(/<meta\s+http-equiv="Content-Security-Policy"[^>]*>/i, ''),
      },
    ],
    build: {
      outDir: resolve(import.meta.dirname, 'out/renderer'),
      emptyOutDir: true,
      rolldownOptions: { input: resolve(import.meta.dirname, 'src/renderer/index.html') },
    },
  },
});
