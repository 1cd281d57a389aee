#!/usr/bin/env node
// thpctl: the thp-fleet operator CLI (docs/cli.md).
//
// In the repository the TypeScript source runs through tsx, so a fresh clone works after
// `npm ci` with no build step (`npx thpctl ...` or `node apps/cli/bin/thpctl.mjs ...`). A build
// without sources (dist/ only) runs the compiled dist/main.js.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../src/main.ts', import.meta.url);
if (existsSync(fileURLToPath(source))) {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport(source.href, { parentURL: import.meta.url, tsconfig: fileURLToPath(new URL('../tsconfig.lib.json', import.meta.url)) });
} else {
  await import('../dist/main.js');
}
