import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web app. `npm run build:web` writes web/dist, which `billfold serve` serves at `/`;
 * `npm run dev` (server and app) or `npm run dev:web` (the app alone) serve it with hot reload
 * and send the server's paths — the API and its docs, the BILLmanager-compatible endpoints — to
 * Billfold (BILLFOLD_URL, default http://127.0.0.1:8080), so the session cookie stays same-origin.
 */
const target = process.env.BILLFOLD_URL ?? 'http://127.0.0.1:8080';
const toBillfold = { target, changeOrigin: false };

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true },
  server: { proxy: { '/api': toBillfold, '/billmgr': toBillfold, '/manager': toBillfold } },
});
