// Vite build for the dashboard. The server embeds `dist/` and serves hashed files under
// `assets/` as immutable, so names keep their content hash. The `precache` plugin writes
// `sw-precache.js`, the list of files the service worker stores for offline start-up.
import { defineConfig, loadEnv, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

function precache(): Plugin {
  return {
    name: 'observatory-precache',
    apply: 'build',
    generateBundle(_options, bundle) {
      const assets = Object.keys(bundle)
        .filter((f) => f.startsWith('assets/'))
        .sort()
        .map((f) => '/' + f);
      const urls = ['/', '/manifest.webmanifest', ...assets];
      const version = assets.join('|');
      let hash = 0;
      for (let i = 0; i < version.length; i++) hash = (hash * 31 + version.charCodeAt(i)) >>> 0;
      this.emitFile({
        type: 'asset',
        fileName: 'sw-precache.js',
        source: `self.PRECACHE = ${JSON.stringify({ version: hash.toString(36), urls })};\n`,
      });
    },
  };
}

export default defineConfig(({ mode }) => ({
  base: '/',
  plugins: [react(), precache()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    proxy: {
      // OBSERVATORY_API=http://127.0.0.1:24319 npm run dev  to use another server.
      '/api': {
        target: loadEnv(mode, '.', '').OBSERVATORY_API || 'http://127.0.0.1:4319',
        ws: true,
      },
    },
  },
}));
