#!/usr/bin/env node
// `npm start`: the fleet demo. The controller on embedded Postgres (PGlite in .data/controller,
// or the Postgres at DATABASE_URL when that is set), one agent process hosting a simulated fleet
// of a dozen nodes with mixed workloads (libs/mm-sim at 60 simulated seconds per wall second),
// the two sample policies (one good, one bad) and the dashboard, built when its sources changed.
// Prints the dashboard URL and the admin token, then runs until Ctrl-C; stopping either process
// stops both. Secrets are kept in .data/demo/secrets.json so a restart keeps the same token.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);

const SIM_NODES = Number(process.env.THP_DEMO_NODES ?? 12);
const TIME_SCALE = Number(process.env.THP_DEMO_TIME_SCALE ?? 60);
const HTTP_PORT = process.env.THP_HTTP_PORT ?? '8080';
const GRPC_PORT = process.env.THP_GRPC_PORT ?? '8081';
const dataDir = join(root, '.data');
const demoDir = join(dataDir, 'demo');
const dashboardDir = join(root, 'apps/dashboard');
const dashboardDist = join(dashboardDir, 'dist');

const say = (line) => process.stdout.write(`[start] ${line}\n`);
const fail = (line) => {
  process.stderr.write(`[start] ${line}\n`);
  process.exit(1);
};

function secrets() {
  const file = join(demoDir, 'secrets.json');
  mkdirSync(demoDir, { recursive: true });
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const created = { adminToken: `thp_${randomBytes(24).toString('base64url')}`, agentSecret: randomBytes(32).toString('base64url') };
  writeFileSync(file, `${JSON.stringify(created, null, 2)}\n`, { mode: 0o600 });
  return created;
}

/** Newest modification time under a directory (files only), 0 when it does not exist. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** Build the dashboard when dist/ is missing or older than its sources (or libs/policy's). */
function buildDashboard() {
  const built = existsSync(join(dashboardDist, 'index.html')) ? statSync(join(dashboardDist, 'index.html')).mtimeMs : 0;
  const sources = Math.max(newest(join(dashboardDir, 'src')), statSync(join(dashboardDir, 'index.html')).mtimeMs, newest(join(root, 'libs/policy/src')));
  if (built >= sources) return;
  say('building the dashboard (apps/dashboard -> dist/)');
  const result = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: dashboardDir, stdio: 'inherit' });
  if (result.status !== 0) fail('the dashboard build failed (see above); `npx nx run dashboard:build` shows the same');
}

const children = [];
let stopping = false;
function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const force = setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  }, 10_000);
  force.unref();
  Promise.all(children.map((child) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((r) => child.once('exit', r))))).then(() => process.exit(code));
}

function launch(name, args, env) {
  const child = spawn(process.execPath, ['--conditions=@thp-fleet/source', '--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const prefix = (stream, out) => {
    let pending = '';
    stream.on('data', (chunk) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) out.write(`${name.padEnd(10)}| ${line}\n`);
    });
  };
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
  child.once('exit', (code, signal) => {
    if (!stopping) {
      process.stderr.write(`[start] the ${name} exited (${code ?? signal}); stopping the demo\n`);
      stopAll(1);
    }
  });
  return child;
}

async function waitReady(url, child) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return false;
}

async function seedPolicies(url, token) {
  for (const name of ['zgc-only', 'thp-everywhere']) {
    const body = readFileSync(join(root, 'libs/policy/examples', `${name}.yaml`), 'utf8');
    const response = await fetch(`${url}/api/v1/policies?message=${encodeURIComponent('sample policy from npm start')}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/yaml' },
      body,
    });
    if (response.status === 201) say(`sample policy ${name} created (version 1)`);
    else if (response.status === 409) say(`sample policy ${name} already present`);
    else fail(`could not create the sample policy ${name}: HTTP ${response.status} ${await response.text()}`);
  }
}

process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

buildDashboard();
const { adminToken, agentSecret } = secrets();
const controllerData = process.env.THP_DATA_DIR ?? join(dataDir, 'controller');
const store = process.env.DATABASE_URL ? `Postgres at ${new URL(process.env.DATABASE_URL).host}` : `embedded PGlite in ${controllerData}`;
say(`controller on ${store}`);
const controller = launch('controller', ['apps/controller/src/main.ts'], {
  THP_DATA_DIR: controllerData,
  THP_HTTP_PORT: HTTP_PORT,
  THP_GRPC_PORT: GRPC_PORT,
  THP_ADMIN_TOKEN: adminToken,
  THP_AGENT_SECRET: agentSecret,
  THP_DASHBOARD_DIR: dashboardDist,
  THP_METRICS_INTERVAL: process.env.THP_METRICS_INTERVAL ?? '2s',
  THP_HEARTBEAT_INTERVAL: process.env.THP_HEARTBEAT_INTERVAL ?? '2s',
  THP_STALE_AFTER: process.env.THP_STALE_AFTER ?? '15s',
  THP_ROLLOUT_INTERVAL: process.env.THP_ROLLOUT_INTERVAL ?? '1s',
  THP_LOG_LEVEL: process.env.THP_LOG_LEVEL ?? 'warn',
});
const url = `http://127.0.0.1:${HTTP_PORT}`;
if (!(await waitReady(url, controller))) {
  fail(`the controller did not become ready at ${url} (is port ${HTTP_PORT} or ${GRPC_PORT} taken? set THP_HTTP_PORT / THP_GRPC_PORT)`);
}
await seedPolicies(url, adminToken);
say(`agent: ${SIM_NODES} simulated nodes at ${TIME_SCALE}x`);
launch('agent', ['apps/agent/src/main.ts', '--controller', `127.0.0.1:${GRPC_PORT}`, '--sim-nodes', String(SIM_NODES), '--time-scale', String(TIME_SCALE), '--state-dir', join(demoDir, 'agent'), '--log-level', 'warn'], {
  THP_AGENT_SECRET: agentSecret,
});

process.stdout.write(`
  thp-fleet demo is up
    dashboard:    ${url}
    admin token:  ${adminToken}
    API docs:     ${url}/api/docs
    CLI:          export THP_SERVER=${url} THP_TOKEN=${adminToken}; npx thpctl nodes list
  sample policies: zgc-only (good), thp-everywhere (bad); start a rollout from the dashboard's
  Rollouts page or with \`npx thpctl rollout start zgc-only --to-version 1\`.
  Ctrl-C stops everything; state stays in .data/ (delete it to start over).
`);
