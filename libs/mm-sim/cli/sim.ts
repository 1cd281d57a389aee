/**
 * `npm run sim -- --scenario <name> [--policy <p> | --compare <p1,p2,...>] [--duration 30m]
 *  [--seed N] [--memory 64G] [--json] [--list]`
 *
 * Runs a named scenario under one or more named policies (same seed, same node) and prints
 * the metrics side by side. This file is the only part of mm-sim that touches Node (argv,
 * stdout); the simulator itself is pure.
 */
import { POLICIES, SCENARIOS, createScenarioNode, type NodeMetrics, type WorkloadMetrics } from '../src/index.js';

interface Args {
  scenario: string;
  policies: string[];
  durationMs: number | undefined;
  seed: number;
  memoryBytes: number | undefined;
  json: boolean;
  list: boolean;
}

function usage(): string {
  return [
    'usage: npm run sim -- --scenario <name> [--policy <name> | --compare <a,b,...>] [--duration 30m] [--seed N] [--memory 64G] [--json]',
    '       npm run sim -- --list',
    '',
    `scenarios: ${Object.keys(SCENARIOS).join(', ')}`,
    `policies:  ${Object.keys(POLICIES).join(', ')}`,
  ].join('\n');
}

function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (m === null) throw new Error(`--duration ${JSON.stringify(text)}: expected e.g. 90s, 30m, 2h`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'm';
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}

function parseSize(text: string): number {
  const m = /^(\d+)([MG])i?B?$/i.exec(text);
  if (m === null) throw new Error(`--memory ${JSON.stringify(text)}: expected e.g. 16G or 512M`);
  return Number(m[1]) * (m[2]!.toUpperCase() === 'G' ? 2 ** 30 : 2 ** 20);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { scenario: 'standard', policies: [], durationMs: undefined, seed: 1, memoryBytes: undefined, json: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a}: missing value`);
      return v;
    };
    switch (a) {
      case '--scenario':
        args.scenario = value();
        break;
      case '--policy':
      case '--compare':
        args.policies.push(...value().split(',').filter((p) => p !== ''));
        break;
      case '--duration':
        args.durationMs = parseDuration(value());
        break;
      case '--seed':
        args.seed = Number(value());
        if (!Number.isInteger(args.seed)) throw new Error('--seed: expected an integer');
        break;
      case '--memory':
        args.memoryBytes = parseSize(value());
        break;
      case '--json':
        args.json = true;
        break;
      case '--list':
        args.list = true;
        break;
      case '--help':
      case '-h':
        args.list = true;
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  return args;
}

const gib = (b: number): string => (b / 2 ** 30).toFixed(2);
const num = (x: number, digits = 0): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const count = (x: number): string => Math.round(x).toLocaleString('en-US');

type Row = readonly [label: string, cell: (m: NodeMetrics) => string];

function workloadRows(name: string): Row[] {
  const w = (m: NodeMetrics): WorkloadMetrics | undefined => m.workloads.find((x) => x.name === name);
  const cell = (f: (x: WorkloadMetrics) => string) => (m: NodeMetrics): string => {
    const x = w(m);
    return x === undefined ? '-' : f(x);
  };
  return [
    [`${name}: throughput (/s)`, cell((x) => `${num(x.throughput, x.throughput < 1000 ? 1 : 0)} ${x.unit}`)],
    [`${name}: latency p50 / p99 (µs)`, cell((x) => `${num(x.latencyUs.p50)} / ${num(x.latencyUs.p99)}`)],
    [`${name}: fault latency p99 (µs)`, cell((x) => num(x.faultLatencyUs.p99, 1))],
    [`${name}: RSS / memory.current (GiB)`, cell((x) => `${gib(x.rssBytes)} / ${gib(x.memoryCurrentBytes)}`)],
    [`${name}: THP coverage`, cell((x) => `${num(x.thpCoverage * 100, 1)}%`)],
    [`${name}: TLB overhead`, cell((x) => `${num(x.tlb.overheadFraction * 100, 1)}%`)],
    [`${name}: stall (ms/s), PSI some avg60`, cell((x) => `${num(x.stallMsPerSec, 2)}, ${num(x.psi.some.avg60, 2)}%`)],
  ];
}

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    process.stdout.write(usage() + '\n\n');
    for (const s of Object.values(SCENARIOS)) process.stdout.write(`  scenario ${s.name.padEnd(14)} ${s.description} (default: ${s.policies.join(', ')})\n`);
    for (const p of Object.values(POLICIES)) process.stdout.write(`  policy   ${p.name.padEnd(14)} ${p.description}\n`);
    return;
  }
  const scenario = SCENARIOS[args.scenario];
  if (scenario === undefined) throw new Error(`unknown scenario ${JSON.stringify(args.scenario)}\n${usage()}`);
  const policies = args.policies.length > 0 ? args.policies : [...scenario.policies];
  for (const p of policies) if (POLICIES[p] === undefined) throw new Error(`unknown policy ${JSON.stringify(p)}\n${usage()}`);
  const durationMs = args.durationMs ?? scenario.durationMs;
  const results: NodeMetrics[] = [];
  for (const p of policies) {
    const t0 = performance.now();
    const node = createScenarioNode(scenario, p, {
      seed: args.seed,
      ...(args.memoryBytes !== undefined ? { memoryBytes: args.memoryBytes } : {}),
    });
    const step = 60_000;
    for (let t = 0; t < durationMs; t += step) {
      node.runFor(Math.min(step, durationMs - t));
      process.stderr.write(`\r${p}: ${Math.round(Math.min(durationMs, t + step) / 60_000)} / ${Math.round(durationMs / 60_000)} simulated min`);
    }
    process.stderr.write(`\r${p}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s${' '.repeat(20)}\n`);
    results.push(node.metrics());
  }
  if (args.json) {
    process.stdout.write(JSON.stringify(Object.fromEntries(policies.map((p, i) => [p, results[i]])), null, 2) + '\n');
    return;
  }
  const v = (name: keyof NodeMetrics['vmstat']) => (m: NodeMetrics): string => count(m.vmstat[name]);
  const rows: Row[] = [
    ['thp_fault_alloc', v('thp_fault_alloc')],
    ['thp_fault_fallback', v('thp_fault_fallback')],
    ['thp_file_alloc (shmem)', v('thp_file_alloc')],
    ['thp_collapse_alloc', v('thp_collapse_alloc')],
    ['thp_split_page', v('thp_split_page')],
    ['compact_stall', v('compact_stall')],
    ['compact_success / compact_fail', (m) => `${count(m.vmstat.compact_success)} / ${count(m.vmstat.compact_fail)}`],
    ['allocstall_normal', v('allocstall_normal')],
    ['AnonHugePages + ShmemHugePages (GiB)', (m) => `${gib(m.memory.anonThpBytes)} + ${gib(m.memory.shmemThpBytes)}`],
    ['anon / file / free (GiB)', (m) => `${gib(m.memory.anonBytes + m.memory.shmemBytes)} / ${gib(m.memory.fileBytes)} / ${gib(m.memory.freeBytes)}`],
    ['free pageblocks, fragmentation score', (m) => `${m.fragmentation.freePageblocks}, ${num(m.fragmentation.score, 1)}`],
    ['node PSI memory some avg10 / avg60', (m) => `${num(m.psi.some.avg10, 2)}% / ${num(m.psi.some.avg60, 2)}%`],
    ['node fault latency p99 (µs)', (m) => num(m.faultLatency.p99, 1)],
  ];
  const names = results[0]?.workloads.map((w) => w.name) ?? [];
  for (const n of names) rows.push(...workloadRows(n));
  process.stdout.write(
    `scenario ${scenario.name}: ${scenario.description}\nseed ${args.seed}, ${Math.round(durationMs / 60_000)} simulated minutes, latency and throughput over the last 60 s\n\n`,
  );
  process.stdout.write(table(['metric', ...policies], rows.map(([label, f]) => [label, ...results.map(f)])) + '\n');
}

try {
  main();
} catch (e) {
  process.stderr.write(`sim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 2;
}
