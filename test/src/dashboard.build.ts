/**
 * The built dashboard (apps/dashboard/dist) for browser tests: built with `vite build` (a
 * process, as CI would) when it is missing or older than any of its sources, including the
 * libraries it bundles (libs/policy, libs/judge).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DASHBOARD_DIR = join(REPO_ROOT, 'apps/dashboard');
export const DASHBOARD_DIST = join(DASHBOARD_DIR, 'dist');
const SOURCES = ['apps/dashboard/src', 'apps/dashboard/index.html', 'apps/dashboard/vite.config.ts', 'apps/dashboard/package.json', 'libs/policy/src', 'libs/judge/src'];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** Build the dashboard unless dist/index.html is newer than every source. Returns the dist directory. */
export function ensureDashboardBuilt(): string {
  const index = join(DASHBOARD_DIST, 'index.html');
  const built = existsSync(index) ? statSync(index).mtimeMs : 0;
  const sources = Math.max(...SOURCES.map((s) => newestMtime(join(REPO_ROOT, s))));
  if (built > sources) return DASHBOARD_DIST;
  const vite = join(REPO_ROOT, 'node_modules/vite/bin/vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: DASHBOARD_DIR, encoding: 'utf8', timeout: 300_000 });
  if (result.status !== 0 || !existsSync(index)) {
    throw new Error(`vite build of the dashboard failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return DASHBOARD_DIST;
}
