/**
 * Controller benchmarks (issue 5, "Speed"), run side by side in one process tree:
 *
 *   bench.ts (this driver)
 *     ├─ the controller: `node --import tsx apps/controller/src/main.ts` on the real Postgres
 *     ├─ the load generator (load-agents.ts): N agents, one TCP connection each
 *     └─ the raw floor (raw-floor.ts): a bare grpc-js server, for the push-latency baseline
 *
 * For each N (default 1k, 5k, 10k):
 *   streams held  controller CPU (10 s idle window with heartbeats) and RSS with N streams open;
 *   push latency  from POST /api/v1/assignments (desired state of all N nodes changes) to the
 *                 last ACK written by the agents, three pushes; next to the raw floor: the bare
 *                 server writing the same bytes to N streams and collecting the same ACKs;
 *   ingest        metric samples per second stored, under an offered 50,000 samples/s.
 *
 * Everything listens on 127.0.0.1 only. Usage:
 *   node --conditions=@thp-fleet/source --import tsx test/bench/controller/bench.ts [--sizes 1000,5000,10000] [--only streams,push,ingest] [--offered 50000]
 * Results go to stdout (a markdown table) and .reports/controller-bench.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createTestDatabase } from '@thp-fleet/testing';
import { now, type AgentStats, type FromAgents, type FromFloor, type ToAgents, type ToFloor } from './protocol.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = fileURLToPath(new URL('./', import.meta.url));
const REPORTS = join(ROOT, '.reports');
const ADMIN_TOKEN = `thp_bench${'0'.repeat(40)}`;
const AGENT_SECRET = `bench-agent-secret-${'x'.repeat(24)}`;
/** Offered ingest load: samples per second across the fleet (target: store >= 20,000/s). */
const DEFAULT_OFFERED_SAMPLES_PER_SECOND = 50_000;
const SAMPLES_PER_REPORT = 200;
const PUSHES = 3;
const IDLE_WINDOW_MS = 10_000;
const INGEST_WINDOW_MS = 15_000;

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
};
const SIZES = (flag('sizes') ?? '1000,5000,10000').split(',').map(Number);
const ONLY = new Set((flag('only') ?? 'streams,push,ingest').split(','));
const OFFERED_SAMPLES_PER_SECOND = Number(flag('offered') ?? DEFAULT_OFFERED_SAMPLES_PER_SECOND);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, pollMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(pollMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

function tsxChild(file: string, extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env, stdio: 'ipc' | 'pipe' = 'ipc'): ChildProcess {
  return spawn(process.execPath, ['--conditions=@thp-fleet/source', '--import', 'tsx', file, ...extraArgs], {
    cwd: ROOT,
    env,
    stdio: stdio === 'ipc' ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
}

class Ipc<In, Out extends { type: string }> {
  private readonly waiting: { type: string; resolve: (message: Out) => void }[] = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (message: Out) => {
      const index = this.waiting.findIndex((w) => w.type === message.type);
      if (index >= 0) this.waiting.splice(index, 1)[0]?.resolve(message);
      if (message.type === 'failed') throw new Error(`child failed: ${JSON.stringify(message)}`);
    });
  }
  send(message: In): void {
    this.child.send(message as object);
  }
  next<T extends Out['type']>(type: T, timeoutMs = 600_000): Promise<Extract<Out, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} from child within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push({
        type,
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as Extract<Out, { type: T }>);
        },
      });
    });
  }
  async request<T extends Out['type']>(message: In, reply: T): Promise<Extract<Out, { type: T }>> {
    const answer = this.next(reply);
    this.send(message);
    return answer;
  }
}

interface Controller {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly httpUrl: string;
  readonly grpcAddress: string;
}

async function startController(databaseUrl: string, label: string): Promise<Controller> {
  const child = tsxChild(
    join(ROOT, 'apps/controller/src/main.ts'),
    [],
    {
      PATH: process.env['PATH'] ?? '',
      DATABASE_URL: databaseUrl,
      THP_HTTP_HOST: '127.0.0.1',
      THP_HTTP_PORT: '0',
      THP_GRPC_HOST: '127.0.0.1',
      THP_GRPC_PORT: '0',
      THP_ADMIN_TOKEN: ADMIN_TOKEN,
      THP_AGENT_SECRET: AGENT_SECRET,
      THP_REPLICA_ID: `bench-${label}`,
      THP_LOG_LEVEL: 'warn',
    },
    'pipe',
  );
  const log = createWriteStream(join(REPORTS, `controller-bench-${label}.log`));
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    log.write(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
  const addresses = await until(
    () => {
      if (child.exitCode !== null) throw new Error(`controller exited with ${child.exitCode}; see .reports/controller-bench-${label}.log`);
      const http = /REST \+ dashboard: (\S+)/.exec(stdout)?.[1];
      const grpc = /agent gRPC: +(\S+)/.exec(stdout)?.[1];
      return http && grpc ? { http, grpc } : undefined;
    },
    120_000,
    'controller start',
    100,
  );
  return { child, pid: child.pid ?? 0, httpUrl: addresses.http, grpcAddress: addresses.grpc };
}

async function api(controller: Controller, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: unknown; text: string }> {
  const response = await fetch(`${controller.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Prometheus text
  }
  return { status: response.status, body: parsed, text };
}

async function promValue(controller: Controller, name: string): Promise<number> {
  const { text } = await api(controller, 'GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

// ---------------------------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------------------------

const CLOCK_TICKS = 100; // USER_HZ on Linux x86-64 (sysconf(_SC_CLK_TCK))

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name: state is field 3; utime and stime are fields 14 and 15 (proc(5)).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function memory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}

async function cpuPercent(pid: number, windowMs: number): Promise<number> {
  const c0 = cpuSeconds(pid);
  const t0 = now();
  await sleep(windowMs);
  return ((cpuSeconds(pid) - c0) / ((now() - t0) / 1000)) * 100;
}

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

function policyYaml(orders: number[]): string {
  return [
    'apiVersion: thp.fleet/v1',
    'kind: ThpPolicy',
    'metadata: { name: bench, description: "push-latency benchmark policy" }',
    'spec:',
    '  default: { action: deny }',
    '  rules:',
    ...['zgc', 'tcmalloc', 'analytics', 'kv'].map((name, i) => `    - name: ${name}\n      match: { cgroups: ["/kubepods.slice/**/${name}-*"], contexts: [pagefault, khugepaged] }\n      allow: { orders: [${orders.slice(0, i + 1).join(', ')}] }`),
    '',
  ].join('\n');
}

function startAgents(): Ipc<ToAgents, FromAgents> {
  return new Ipc(tsxChild(join(HERE, 'load-agents.ts')));
}

async function agentStats(agents: Ipc<ToAgents, FromAgents>): Promise<AgentStats> {
  return agents.request({ type: 'stats' }, 'stats');
}

interface PushResult {
  readonly version: number;
  readonly requestMs: number;
  readonly lastAckMs: number;
  readonly processedMs: number | null;
}

interface SizeResult {
  n: number;
  connectMs?: number;
  idleCpuPercent?: number;
  rssMiB?: number;
  peakRssMiB?: number;
  pushes?: PushResult[];
  floorPushes?: { lastAckMs: number; writeMs: number }[];
  floorRssMiB?: number;
  assignmentBytes?: number;
  /** The version the controller pushed last, so the floor writes the very same document. */
  pushed?: { specHash: string; canonical: string };
  ingest?: { offeredPerSecond: number; sentPerSecond: number; storedPerSecond: number; dropped: number; backlogAtEnd: number; cpuPercent: number; rssMiB: number; rowsInTable: number };
}

async function runController(n: number, result: SizeResult): Promise<void> {
  const db = await createTestDatabase(`bench_${n}`);
  if (db.kind !== 'postgres') throw new Error('the controller benchmarks need the real Postgres (DATABASE_URL or 127.0.0.1:5432)');
  const controller = await startController(db.url, String(n));
  const agents = startAgents();
  try {
    for (const [i, orders] of [[9], [4, 9], [2, 4, 9]].entries()) {
      const response = i === 0 ? await api(controller, 'POST', '/api/v1/policies', policyYaml(orders), 'application/yaml') : await api(controller, 'POST', `/api/v1/policies/bench/versions?expectedVersion=${i}`, policyYaml(orders), 'application/yaml');
      if (response.status !== 201) throw new Error(`policy setup failed: ${response.text}`);
    }
    const started = now();
    const ready = await agents.request({ type: 'start', address: controller.grpcAddress, count: n, perConnection: 1, secret: AGENT_SECRET, nodePrefix: `bench${n}`, labels: { bench: 'yes' }, heartbeats: true, metrics: null }, 'ready');
    await until(async () => ((await promValue(controller, 'thp_agent_streams_connected')) >= n ? true : undefined), 120_000, 'controller holds every stream', 100);
    // Every registration written (the nodes must exist before they can be assigned).
    await until(async () => (((await api(controller, 'GET', '/api/v1/nodes?labels=bench=yes&limit=1')).body as { total: number }).total >= n ? true : undefined), 120_000, 'nodes registered', 200);
    result.connectMs = now() - started;
    console.error(`  [${n}] ${ready.connected} agents connected in ${(result.connectMs / 1000).toFixed(1)} s`);

    if (ONLY.has('streams')) {
      await sleep(3_000);
      result.idleCpuPercent = await cpuPercent(controller.pid, IDLE_WINDOW_MS);
      const mem = memory(controller.pid);
      result.rssMiB = mem.rssMiB;
      result.peakRssMiB = mem.peakMiB;
      console.error(`  [${n}] streams held: CPU ${result.idleCpuPercent.toFixed(1)} %, RSS ${mem.rssMiB.toFixed(0)} MiB (peak ${mem.peakMiB.toFixed(0)})`);
    }

    if (ONLY.has('push')) {
      result.pushes = [];
      for (let version = 1; version <= PUSHES; version++) {
        await agents.request({ type: 'reset' }, 'stats');
        const acksBefore = await promValue(controller, 'thp_acks_total');
        const t0 = now();
        const response = await api(controller, 'POST', '/api/v1/assignments', { policy: 'bench', version, selector: { labels: { bench: 'yes' } } });
        const requestMs = now() - t0;
        if (response.status !== 200) throw new Error(`assignment failed: ${response.text}`);
        const stats = await until(async () => {
          const s = await agentStats(agents);
          return s.acks >= n ? s : undefined;
        }, 120_000, `${n} ACKs`);
        const lastAckMs = (stats.lastAckAt ?? now()) - t0;
        let processedMs: number | null = null;
        await until(async () => ((await promValue(controller, 'thp_acks_total')) - acksBefore >= n ? true : undefined), 60_000, 'controller counted every ACK', 20);
        processedMs = now() - t0;
        result.pushes.push({ version, requestMs, lastAckMs, processedMs });
        console.error(`  [${n}] push v${version}: request ${requestMs.toFixed(0)} ms, last ACK ${lastAckMs.toFixed(0)} ms, all ACKs processed ${processedMs.toFixed(0)} ms`);
        await sleep(1_000);
      }
    }

    const latest = (await api(controller, 'GET', `/api/v1/policies/bench/versions/${PUSHES}`)).body as { specHash: string; canonical: string };
    result.pushed = { specHash: latest.specHash, canonical: latest.canonical };

    if (ONLY.has('ingest')) {
      const intervalMs = Math.round(((n * SAMPLES_PER_REPORT) / OFFERED_SAMPLES_PER_SECOND) * 1000);
      agents.send({ type: 'metrics', samples: SAMPLES_PER_REPORT, intervalMs });
      await sleep(3_000); // ramp up
      const stored0 = await promValue(controller, 'thp_metric_samples_ingested_total');
      const sent0 = (await agentStats(agents)).samplesSent;
      const c0 = cpuSeconds(controller.pid);
      const t0 = now();
      await sleep(INGEST_WINDOW_MS);
      const seconds = (now() - t0) / 1000;
      const stored1 = await promValue(controller, 'thp_metric_samples_ingested_total');
      const sent1 = (await agentStats(agents)).samplesSent;
      const cpu = ((cpuSeconds(controller.pid) - c0) / seconds) * 100;
      const dropped = (await api(controller, 'GET', '/metrics')).text
        .split('\n')
        .filter((l) => l.startsWith('thp_metric_samples_dropped_total'))
        .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
      const backlog = await promValue(controller, 'thp_metric_ingest_backlog');
      const pg = await import('pg');
      const client = new pg.default.Client({ connectionString: db.url });
      await client.connect();
      const rows = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM metric_samples')).rows[0]?.n ?? 0);
      await client.end();
      result.ingest = {
        offeredPerSecond: OFFERED_SAMPLES_PER_SECOND,
        sentPerSecond: (sent1 - sent0) / seconds,
        storedPerSecond: (stored1 - stored0) / seconds,
        dropped,
        backlogAtEnd: backlog,
        cpuPercent: cpu,
        rssMiB: memory(controller.pid).rssMiB,
        rowsInTable: rows,
      };
      console.error(`  [${n}] ingest: sent ${result.ingest.sentPerSecond.toFixed(0)}/s, stored ${result.ingest.storedPerSecond.toFixed(0)}/s, dropped ${dropped}, backlog ${backlog}, CPU ${cpu.toFixed(0)} %`);
    }
  } finally {
    agents.send({ type: 'stop' });
    await sleep(500);
    await stop(controller.child);
    await db.drop();
  }
}

async function runFloor(n: number, result: SizeResult): Promise<void> {
  const floor = new Ipc<ToFloor, FromFloor>(tsxChild(join(HERE, 'raw-floor.ts')));
  const agents = startAgents();
  try {
    const { address } = await floor.request({ type: 'listen' }, 'listening');
    await agents.request({ type: 'start', address, count: n, perConnection: 1, secret: null, nodePrefix: `floor${n}`, labels: { bench: 'yes' }, heartbeats: true, metrics: null }, 'ready');
    await until(async () => ((await floor.request({ type: 'stats' }, 'stats')).streams >= n ? true : undefined), 60_000, 'floor holds every stream', 50);
    await sleep(3_000);
    result.floorRssMiB = memory(floor.child.pid ?? 0).rssMiB;
    // The very document the controller pushed (its canonical JSON and hash).
    const spec = result.pushed?.canonical ?? '';
    const specHash = result.pushed?.specHash ?? '';
    result.floorPushes = [];
    for (let version = 1; version <= PUSHES; version++) {
      await agents.request({ type: 'reset' }, 'stats');
      const t0 = now();
      const pushed = await floor.request({ type: 'push', policy: 'bench', version, specHash, spec }, 'pushed');
      result.assignmentBytes = pushed.bytes;
      const stats = await until(async () => {
        const s = await agentStats(agents);
        return s.acks >= n ? s : undefined;
      }, 120_000, `${n} ACKs from the floor`);
      result.floorPushes.push({ lastAckMs: (stats.lastAckAt ?? now()) - t0, writeMs: pushed.wroteAt - t0 });
      console.error(`  [${n}] floor push ${version}: writes done ${(pushed.wroteAt - t0).toFixed(0)} ms, last ACK ${((stats.lastAckAt ?? now()) - t0).toFixed(0)} ms (${pushed.bytes} bytes each)`);
      await sleep(1_000);
    }
  } finally {
    agents.send({ type: 'stop' });
    floor.send({ type: 'stop' });
    await sleep(500);
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function main(): Promise<void> {
  mkdirSync(REPORTS, { recursive: true });
  const results: SizeResult[] = [];
  for (const n of SIZES) {
    console.error(`N = ${n}`);
    const result: SizeResult = { n };
    await runController(n, result);
    if (ONLY.has('push')) await runFloor(n, result);
    results.push(result);
  }
  const full = flag('sizes') === undefined && flag('only') === undefined && flag('offered') === undefined;
  const file = full ? 'controller-bench.json' : `controller-bench-${[...ONLY].join('+')}-${SIZES.join('+')}.json`;
  writeFileSync(join(REPORTS, file), `${JSON.stringify({ at: new Date().toISOString(), results: results.map(({ pushed: _pushed, ...rest }) => rest) }, null, 2)}\n`);

  const rows = ['| N | connect (s) | idle CPU (%) | RSS (MiB) | push: last ACK, median of 3 (ms) | raw floor, median (ms) | ratio | all ACKs processed (ms) | ingest stored (samples/s) |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of results) {
    const push = r.pushes ? median(r.pushes.map((p) => p.lastAckMs)) : Number.NaN;
    const floorMs = r.floorPushes ? median(r.floorPushes.map((p) => p.lastAckMs)) : Number.NaN;
    const processed = r.pushes ? median(r.pushes.map((p) => p.processedMs ?? Number.NaN)) : Number.NaN;
    rows.push(
      `| ${r.n} | ${((r.connectMs ?? Number.NaN) / 1000).toFixed(1)} | ${(r.idleCpuPercent ?? Number.NaN).toFixed(1)} | ${(r.rssMiB ?? Number.NaN).toFixed(0)} | ${push.toFixed(0)} | ${floorMs.toFixed(0)} | ${(push / floorMs).toFixed(2)} | ${processed.toFixed(0)} | ${(r.ingest?.storedPerSecond ?? Number.NaN).toFixed(0)} |`,
    );
  }
  console.log(rows.join('\n'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
