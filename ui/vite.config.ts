import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The build is committed under src/inloop/server/ui and CI checks that a fresh
// `npm ci && npm run build` reproduces it byte for byte: keep it free of
// timestamps and absolute paths.
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: '../src/inloop/server/ui',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:4200' },
  },
});
