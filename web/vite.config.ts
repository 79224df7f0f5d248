import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web app. `npm run build:web` writes web/dist, which `billfold serve` serves at `/`;
 * `npm run dev:web` serves it with hot reload and sends the API paths to a running Billfold
 * (BILLFOLD_URL, default http://localhost:8080), so the session cookie stays same-origin.
 */
const target = process.env.BILLFOLD_URL ?? 'http://localhost:8080';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true },
  server: { proxy: { '/api': { target, changeOrigin: false } } },
});
