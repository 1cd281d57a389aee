/**
 * Benchmark: CPU and memory per simulated node at --time-scale 60 with the standard workload
 * mix; the target is 100 simulated nodes in one process on one core (issue 6).
 *
 *   npx nx bench agent                      # 10, 50, 100 nodes on the standard mix, 100 varied
 *   BENCH_NODES=100 BENCH_MIX=standard BENCH_MEASURE_S=60 npx nx bench agent
 *
 * The target's condition is the standard workload mix (all six workloads) on every node
 * (`--sim-mix standard`); the demo fleet's default `varied` (standard, jvm-heavy and kv-heavy
 * by node) is lighter and is measured at 100 nodes for comparison.
 * Each fleet size runs in a fresh process (so RSS is that fleet's), connected to a small gRPC
 * controller in another process (so its CPU is not counted), with every node assigned a
 * policy. After a warm-up it measures, over a window: CPU seconds per wall second of the
 * agent process (1.0 = one core busy), RSS, the simulated time each node actually covered per
 * wall second (the achieved time scale: 60 when the core keeps up), the event loop's p99
 * delay (responsiveness of the streams), and what reached the controller.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseAgentConfig } from '../config/agent.config.js';
import { createLogger } from '../log/logger.js';
import { startSimFleet } from './sim.fleet.js';

const TIME_SCALE = Number(process.env['BENCH_TIME_SCALE'] ?? 60);
// One simulated hour at 60x: past the workloads' load phase, when memory first fills up and costs more.
const WARMUP_S = Number(process.env['BENCH_WARMUP_S'] ?? 60);
const MEASURE_S = Number(process.env['BENCH_MEASURE_S'] ?? 30);
const SIM_TICK = process.env['BENCH_SIM_TICK'] ?? '1s';
const MIX_FLAGS = (process.env['BENCH_ARGS'] ?? '').split(' ').filter(Boolean);

interface Result {
  nodes: number;
  mix: string;
  cpuCoresUsed: number;
  cpuMsPerNodePerWallS: number;
  rssMiB: number;
  rssPerNodeMiB: number;
  heapUsedMiB: number;
  achievedTimeScale: { min: number; mean: number };
  eventLoopP99Ms: number;
  connected: number;
  controller: Record<string, number>;
}

function startController(): Promise<{ child: ChildProcessByStdio<Writable, Readable, null>; port: number; report(): Promise<Record<string, number>> }> {
  const script = fileURLToPath(new URL('./bench-controller.test-util.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@thp-fleet/source', '--import', 'tsx', script, '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  return next().then((first) => ({
    child,
    port: (JSON.parse(first) as { port: number }).port,
    report: async () => {
      const answer = next();
      child.stdin.write('report\n');
      return JSON.parse(await answer) as Record<string, number>;
    },
  }));
}

async function measure(nodes: number, mix: string): Promise<Result> {
  const controller = await startController();
  const stateDir = mkdtempSync(join(tmpdir(), 'thp-fleet-bench-'));
  const parsed = parseAgentConfig(
    ['--controller', `127.0.0.1:${controller.port}`, '--sim-nodes', String(nodes), '--time-scale', String(TIME_SCALE), '--sim-tick', SIM_TICK, '--sim-mix', mix, '--state-dir', stateDir, '--log-level', 'warn', ...MIX_FLAGS],
    { THP_AGENT_SECRET: 'bench-secret-bench-secret-bench-secret' },
    { hostname: () => 'bench', readFile: () => Buffer.alloc(0) },
  );
  if (parsed.ok !== true) throw new Error(JSON.stringify(parsed));
  const rssBefore = process.memoryUsage().rss;
  const fleet = await startSimFleet(parsed.config, undefined, createLogger({ format: 'text', level: 'warn' }), false);
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const simBefore = fleet.backends.map((b) => b.node.now());
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await new Promise((r) => setTimeout(r, MEASURE_S * 1000));
  const cpu = process.cpuUsage(cpuBefore);
  const wall = (performance.now() - wallBefore) / 1000;
  loop.disable();
  const scales = fleet.backends.map((b, i) => (b.node.now() - simBefore[i]!) / 1000 / wall);
  const memory = process.memoryUsage();
  const counts = await controller.report();
  const connected = fleet.agents.filter((a) => a.isConnected()).length;
  await fleet.close();
  controller.child.stdin.write('exit\n');
  rmSync(stateDir, { recursive: true, force: true });
  const cores = (cpu.user + cpu.system) / 1e6 / wall;
  return {
    nodes,
    mix,
    cpuCoresUsed: round(cores, 3),
    cpuMsPerNodePerWallS: round((cores * 1000) / nodes, 2),
    rssMiB: round(memory.rss / 2 ** 20, 1),
    rssPerNodeMiB: round((memory.rss - rssBefore) / 2 ** 20 / nodes, 2),
    heapUsedMiB: round(memory.heapUsed / 2 ** 20, 1),
    achievedTimeScale: { min: round(Math.min(...scales), 1), mean: round(scales.reduce((a, b) => a + b, 0) / scales.length, 1) },
    eventLoopP99Ms: round(loop.percentile(99) / 1e6, 1),
    connected,
    controller: counts,
  };
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

const child = process.argv.indexOf('--child');
if (child >= 0) {
  const result = await measure(Number(process.argv[child + 1]), process.argv[child + 2] ?? 'standard');
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
} else {
  const runs: [number, string][] = process.env['BENCH_NODES']
    ? process.env['BENCH_NODES'].split(',').map((n) => [Number(n), process.env['BENCH_MIX'] ?? 'standard'])
    : [[10, 'standard'], [50, 'standard'], [100, 'standard'], [100, 'varied']];
  process.stdout.write(`fleet benchmark: --time-scale ${TIME_SCALE}, --sim-tick ${SIM_TICK}, warm-up ${WARMUP_S} s, window ${MEASURE_S} s ${MIX_FLAGS.join(' ')}\n`);
  for (const [n, mix] of runs) {
    const out = await new Promise<string>((resolve, reject) => {
      const proc = spawn(process.execPath, ['--conditions=@thp-fleet/source', '--import', 'tsx', fileURLToPath(import.meta.url), '--child', String(n), mix], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
      let text = '';
      proc.stdout.on('data', (d: Buffer) => (text += d.toString()));
      proc.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`bench child for ${n} nodes exited with ${code}`))));
    });
    const line = out.split('\n').find((l) => l.startsWith('RESULT '));
    if (!line) throw new Error(`no result for ${n} nodes:\n${out}`);
    const r = JSON.parse(line.slice(7)) as Result;
    process.stdout.write(
      `${String(r.nodes).padStart(4)} nodes (${r.mix}): CPU ${r.cpuCoresUsed.toFixed(2)} cores (${r.cpuMsPerNodePerWallS} ms/node/s), RSS ${r.rssMiB} MiB (${r.rssPerNodeMiB} MiB/node), ` +
        `achieved time scale min ${r.achievedTimeScale.min} mean ${r.achievedTimeScale.mean} of ${TIME_SCALE}, event loop p99 ${r.eventLoopP99Ms} ms, ` +
        `connected ${r.connected}/${r.nodes}, acks ${r.controller['acks']}, metrics reports ${r.controller['metrics']}\n`,
    );
  }
}
