/**
 * Process entry: `node --import tsx apps/controller/src/main.ts` (or `node dist/main.js`).
 *
 * NestJS needs TypeScript's legacy decorators. tsx takes its compiler options from the
 * tsconfig.json of the working directory, which at the repository root is a solution file
 * that includes no sources, so under tsx the application is loaded through tsx's scoped
 * import with this project's tsconfig.lib.json (experimentalDecorators). Compiled code
 * (dist/) is imported directly.
 */
import { fileURLToPath } from 'node:url';

if (import.meta.url.endsWith('.ts')) {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport('./run.ts', { parentURL: import.meta.url, tsconfig: fileURLToPath(new URL('../tsconfig.lib.json', import.meta.url)) });
} else {
  await import('./run.js');
}
