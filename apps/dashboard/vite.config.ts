/**
 * The dashboard build: a static single-page app in dist/, served by the controller at `/`
 * (THP_DASHBOARD_DIR). Workspace libraries (libs/policy) are bundled from their TypeScript
 * sources through the "@thp-fleet/source" export condition, so no library build is needed.
 *
 * `npx vite` (the `dev` target) serves it with hot reload and proxies /api to the controller at
 * THP_CONTROLLER_URL (default http://127.0.0.1:8080).
 */
import react from '@vitejs/plugin-react';
import { defaultClientConditions, defineConfig } from 'vite';

const controller = process.env['THP_CONTROLLER_URL'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  resolve: { conditions: ['@thp-fleet/source', ...defaultClientConditions] },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    // The fleet page is in the first chunk (~260 kB, React included); the pages that need the
    // YAML parser (libs/policy) or uPlot are loaded on first visit (React.lazy in app/App.tsx).
    chunkSizeWarningLimit: 1_000,
  },
  server: { proxy: { '/api': { target: controller, changeOrigin: false } } },
});
