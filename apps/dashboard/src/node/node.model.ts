/**
 * The node page's live charts (pure): which metrics each chart shows and how, from the names
 * the agent reports (docs/agent.md "Metrics": /proc/vmstat counters, PSI in percent, memory.stat
 * per cgroup, and the simulator's workload figures).
 */
import type { CapabilitiesView, MetricSampleView, NodeView, ThpSysfsView } from '../api/types.js';
import { align, byCgroup, deltaRate, type AlignedData, type Series } from '../charts/series.model.js';

export type ValueFormat = 'number' | 'bytes' | 'percent' | 'rate';

export interface ChartLine {
  readonly metric: string;
  /** `rate`: a cumulative counter shown per second; `value`: a gauge as reported. */
  readonly as: 'rate' | 'value';
  readonly label: string;
}

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly format: ValueFormat;
  readonly lines: readonly ChartLine[];
  /** One line per cgroup (the lines' metric must be per-cgroup); else node-wide only. */
  readonly perCgroup: boolean;
}

export const NODE_CHARTS: readonly ChartSpec[] = [
  {
    id: 'thp-faults',
    title: 'THP fault allocations and fallbacks',
    unit: '/s',
    format: 'rate',
    perCgroup: false,
    lines: [
      { metric: 'thp_fault_alloc', as: 'rate', label: 'thp_fault_alloc' },
      { metric: 'thp_fault_fallback', as: 'rate', label: 'thp_fault_fallback' },
    ],
  },
  {
    id: 'compaction',
    title: 'Direct compaction stalls',
    unit: '/s',
    format: 'rate',
    perCgroup: false,
    lines: [
      { metric: 'compact_stall', as: 'rate', label: 'compact_stall' },
      { metric: 'compact_fail', as: 'rate', label: 'compact_fail' },
    ],
  },
  {
    id: 'psi',
    title: 'Memory pressure (PSI, 10 s average)',
    unit: '%',
    format: 'percent',
    perCgroup: false,
    lines: [
      { metric: 'psi_memory_some_avg10', as: 'value', label: 'some' },
      { metric: 'psi_memory_full_avg10', as: 'value', label: 'full' },
    ],
  },
  { id: 'rss', title: 'RSS per workload cgroup', unit: 'bytes', format: 'bytes', perCgroup: true, lines: [{ metric: 'workload_rss_bytes', as: 'value', label: 'rss' }] },
  { id: 'anon-thp', title: 'Anonymous THP per cgroup (memory.stat anon_thp)', unit: 'bytes', format: 'bytes', perCgroup: true, lines: [{ metric: 'anon_thp', as: 'value', label: 'anon_thp' }] },
  { id: 'throughput', title: 'Workload throughput', unit: 'ops/s', format: 'number', perCgroup: true, lines: [{ metric: 'workload_throughput', as: 'value', label: 'throughput' }] },
  { id: 'latency', title: 'Workload latency p99 (µs)', unit: 'µs', format: 'number', perCgroup: true, lines: [{ metric: 'workload_latency_p99_us', as: 'value', label: 'p99' }] },
  { id: 'fault-latency', title: 'Page-fault latency p99 per workload (µs)', unit: 'µs', format: 'number', perCgroup: true, lines: [{ metric: 'workload_fault_latency_p99_us', as: 'value', label: 'fault p99' }] },
];

/** Per-cgroup charts show at most this many cgroups (the largest by their latest value). */
export const MAX_CGROUP_LINES = 8;

/** Every metric name the charts need (one request each). */
export function chartMetricNames(charts: readonly ChartSpec[] = NODE_CHARTS): string[] {
  return [...new Set(charts.flatMap((c) => c.lines.map((l) => l.metric)))];
}

/** The shortest readable name of a cgroup path: its last component, or the path when ambiguous. */
export function cgroupLabel(path: string, all: readonly string[]): string {
  const last = path.split('/').filter(Boolean).pop() ?? path;
  const clash = all.filter((p) => (p.split('/').filter(Boolean).pop() ?? p) === last).length > 1;
  return clash || last === '' ? path || 'node' : last;
}

/** The aligned data of one chart from the samples of its metrics (keyed by metric name). */
export function chartData(spec: ChartSpec, samples: ReadonlyMap<string, readonly MetricSampleView[]>): AlignedData & { readonly hiddenCgroups: number } {
  const series: Series[] = [];
  let hiddenCgroups = 0;
  for (const line of spec.lines) {
    const groups = byCgroup(samples.get(line.metric) ?? []);
    const transform = line.as === 'rate' ? deltaRate : (p: readonly { t: number; v: number }[]) => [...p];
    if (spec.perCgroup) {
      const all = [...groups.keys()].filter((p) => p !== '').sort();
      const latest = (path: string): number => groups.get(path)?.at(-1)?.v ?? 0;
      const kept = new Set([...all].sort((a, b) => latest(b) - latest(a)).slice(0, MAX_CGROUP_LINES));
      hiddenCgroups += all.length - kept.size;
      for (const path of all.filter((p) => kept.has(p))) series.push({ label: spec.lines.length > 1 ? `${cgroupLabel(path, all)} ${line.label}` : cgroupLabel(path, all), points: transform(groups.get(path) ?? []) });
    } else {
      series.push({ label: line.label, points: transform(groups.get('') ?? []) });
    }
  }
  return { ...align(series), hiddenCgroups };
}

export interface SysfsRow {
  readonly setting: string;
  /** As the node reported at registration (capabilities). */
  readonly reported: string;
  /** As last observed (ObservedState), when it differs from or adds to the reported value. */
  readonly observed: string;
}

const show = (v: string | number | boolean | undefined): string => (v === undefined || v === '' ? '–' : String(v));

/** The THP sysfs modes of a node: what it registered with and what it reports now. */
export function sysfsRows(reported: ThpSysfsView | undefined, observed: ThpSysfsView | null | undefined): SysfsRow[] {
  const r = reported ?? {};
  const o = observed ?? {};
  const rows: SysfsRow[] = [
    { setting: 'enabled', reported: show(r.enabled), observed: show(o.enabled) },
    { setting: 'defrag', reported: show(r.defrag), observed: show(o.defrag) },
    { setting: 'shmem_enabled', reported: show(r.shmemEnabled), observed: show(o.shmemEnabled) },
  ];
  const sizes = [...new Set([...Object.keys(r.perSizeEnabled ?? {}), ...Object.keys(o.perSizeEnabled ?? {})])].sort((a, b) => (parseInt(a.replace(/\D/g, ''), 10) || 0) - (parseInt(b.replace(/\D/g, ''), 10) || 0));
  for (const size of sizes) rows.push({ setting: `${size}/enabled`, reported: show(r.perSizeEnabled?.[size]), observed: show(o.perSizeEnabled?.[size]) });
  rows.push({ setting: 'khugepaged/max_ptes_none', reported: show(r.khugepagedMaxPtesNone), observed: show(o.khugepagedMaxPtesNone) });
  rows.push({ setting: 'khugepaged/pages_to_scan', reported: show(r.khugepagedPagesToScan), observed: show(o.khugepagedPagesToScan) });
  return rows;
}

const ABI_NAMES: Readonly<Record<string, string>> = {
  HOOK_ABI_V7: 'v7 (4 arguments, negative = unchanged)',
  HOOK_ABI_V8: 'v8 (3 arguments, orders &= BIT(ret))',
  HOOK_ABI_V12: 'v12 (3 arguments, per-pid or global, negative = unchanged)',
};

/** The kernel hook in words: which ABI (docs/kernel.md), or why it is absent. */
export function hookText(capabilities: CapabilitiesView): string {
  const abi = capabilities.hookAbi ?? 'HOOK_ABI_UNSPECIFIED';
  const named = ABI_NAMES[abi];
  if (named) return `bpf_thp_ops ${named}`;
  const why = capabilities.hookDetail ? `: ${capabilities.hookDetail}` : '';
  return abi === 'HOOK_ABI_ABSENT' ? `absent${why}` : `not reported (${abi})${why}`;
}

/** The hook in a word, for tables: "v8", "absent" (the simulator: "sim, v8"). */
export function hookShort(capabilities: CapabilitiesView): string {
  const abi = capabilities.hookAbi ?? 'HOOK_ABI_UNSPECIFIED';
  const word = ABI_NAMES[abi] ? abi.replace(/^HOOK_ABI_/, '').toLowerCase() : abi === 'HOOK_ABI_ABSENT' ? 'absent' : 'unknown';
  return capabilities.activeBackend === 'BACKEND_SIM' ? `sim, ${word}` : word;
}

export function backendText(capabilities: CapabilitiesView): string {
  const active = (capabilities.activeBackend ?? 'BACKEND_UNSPECIFIED').replace(/^BACKEND_/, '').toLowerCase();
  const all = (capabilities.backends ?? []).map((b) => b.replace(/^BACKEND_/, '').toLowerCase());
  return all.length > 0 ? `${active} (available: ${all.join(', ')})` : active;
}

/** The rows "intended vs acknowledged vs observed" for one node. */
export function policyStages(node: NodeView): { stage: string; meaning: string; ref: NodeView['desired'] | NodeView['acked']; at: string | null; extra: string }[] {
  return [
    { stage: 'desired', meaning: 'what an operator or a rollout wants', ref: node.desired, at: node.desired?.updatedAt ?? null, extra: node.desired?.rolloutId ? `rollout ${node.desired.rolloutId}` : (node.desired?.updatedBy ?? '') },
    { stage: 'intended', meaning: 'what the controller last sent', ref: node.intent, at: node.intent?.at ?? null, extra: node.intent?.nonce ? `nonce ${node.intent.nonce}` : '' },
    { stage: 'acknowledged', meaning: 'what the node accepted', ref: node.acked, at: node.acked?.at ?? null, extra: '' },
    { stage: 'observed', meaning: 'what the node reports it runs', ref: node.observed, at: node.observed?.at ?? null, extra: node.observed?.enforcement ? `enforcement ${node.observed.enforcement}` : '' },
  ];
}
