import { defineConfig } from 'vitest/config';

// `npm test` runs every project's suite in one vitest process (one summary, shared workers).
// Each project's own vitest.config.ts (from vitest.shared.ts) still works alone: `nx test <project>`.
export default defineConfig({
  test: {
    projects: ['libs/*/vitest.config.ts', 'apps/*/vitest.config.ts', 'test/vitest.config.ts'],
    reporters: ['default', ['json', { outputFile: '.reports/vitest.json' }]],
  },
});
