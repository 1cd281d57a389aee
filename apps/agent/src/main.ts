#!/usr/bin/env node
/**
 * `thp-agent`: `node --import tsx apps/agent/src/main.ts --controller 127.0.0.1:8081 ...`
 * (or `node dist/main.js`; `npx nx start agent -- --controller ...`).
 *
 * Workspace libraries resolve to their TypeScript sources only under the `@thp-fleet/source`
 * export condition. When this file runs from source without it, it starts itself again with
 * the condition (same arguments, same stdio, signals forwarded), so the plain command above
 * works on a fresh clone without a build.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CONDITION = '@thp-fleet/source';

function conditionActive(): boolean {
  const flags = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  return flags.some((f, i) => f === `--conditions=${CONDITION}` || f === `-C${CONDITION}` || ((f === '--conditions' || f === '-C') && flags[i + 1] === CONDITION));
}

if (import.meta.url.endsWith('.ts') && !conditionActive()) {
  const child = spawn(process.execPath, [`--conditions=${CONDITION}`, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 15 : 1)));
} else {
  const { run } = await import('./run.js');
  process.exitCode = await run(process.argv.slice(2), process.env);
}
