/**
 * Parsers for the kernel's statistics files and the choice of which series the agent
 * reports, with names and kinds. Pure: text in, points out.
 *
 * Names follow the kernel: /proc/vmstat names as they are (kernel-interface.md 5.5),
 * per-size mTHP stats as `mthp_<size>kB_<stat>` (5.6), cgroup memory.stat keys as they are,
 * PSI as `psi_memory_{some,full}_{avg10,avg60,avg300}` (percent) and `..._total_us`.
 */
import type { MetricPoint } from './metrics-sample.js';
import type { Psi } from '../pressure/psi.js';

/** `name value` lines (/proc/vmstat, memory.stat); throws naming the source and line on garbage. */
export function parseKeyValueLines(text: string, source: string): Map<string, number> {
  const values = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const [name, raw, extra] = line.trim().split(/\s+/);
    const value = Number(raw);
    if (!name || raw === undefined || extra !== undefined || !Number.isFinite(value)) {
      throw new Error(`${source}:${i + 1}: expected "name value", got "${line}"`);
    }
    values.set(name, value);
  }
  return values;
}

/** /proc/vmstat gauges the agent reports (page counts); everything else reported is a counter. */
const VMSTAT_GAUGES = ['nr_anon_transparent_hugepages', 'nr_shmem_hugepages', 'nr_shmem_pmdmapped', 'nr_file_hugepages', 'nr_anon_pages', 'nr_free_pages', 'nr_page_table_pages'];
/** Event counters besides the thp_* and compact_* families (kernel-interface.md 5.5). */
const VMSTAT_COUNTERS = [
  'pgfault',
  'pgmajfault',
  'pswpin',
  'pswpout',
  'allocstall_normal',
  'pgscan_kswapd',
  'pgscan_direct',
  'pgsteal_kswapd',
  'pgsteal_direct',
  'pgmigrate_success',
  'pgmigrate_fail',
  'workingset_refault_file',
];

export function vmstatPoints(vmstat: ReadonlyMap<string, number>): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const [name, value] of vmstat) {
    if (VMSTAT_GAUGES.includes(name)) points.push({ name, kind: 'gauge', value });
    else if (name.startsWith('thp_') || name.startsWith('compact_') || VMSTAT_COUNTERS.includes(name)) points.push({ name, kind: 'counter', value });
  }
  return points;
}

/** memory.stat byte gauges and event counters reported per cgroup. */
const MEMORY_STAT_GAUGES = ['anon', 'file', 'shmem', 'anon_thp', 'file_thp', 'shmem_thp'];
const MEMORY_STAT_COUNTERS = ['pgfault', 'pgmajfault', 'thp_fault_alloc', 'thp_collapse_alloc', 'thp_swpout', 'thp_swpout_fallback'];

export function memoryStatPoints(stat: ReadonlyMap<string, number>): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const name of MEMORY_STAT_GAUGES) {
    const value = stat.get(name);
    if (value !== undefined) points.push({ name, kind: 'gauge', value });
  }
  for (const name of MEMORY_STAT_COUNTERS) {
    const value = stat.get(name);
    if (value !== undefined) points.push({ name, kind: 'counter', value });
  }
  return points;
}

/** Per-size stats that are gauges (counts of THPs that exist now); the rest count events (kernel-interface.md 5.6). */
const MTHP_GAUGE_STATS = new Set(['nr_anon', 'nr_anon_partially_mapped']);

/** `hugepages-2048kB` + `anon_fault_alloc` + value -> `mthp_2048kB_anon_fault_alloc`. */
export function mthpPoint(directory: string, stat: string, value: number): MetricPoint | undefined {
  const size = /^hugepages-(\d+kB)$/.exec(directory)?.[1];
  if (!size || !/^[a-z_]+$/.test(stat)) return undefined;
  return { name: `mthp_${size}_${stat}`, kind: MTHP_GAUGE_STATS.has(stat) ? 'gauge' : 'counter', value };
}

export function psiPoints(psi: Psi): MetricPoint[] {
  const points: MetricPoint[] = [];
  const lines = [['some', psi.some] as const, ...(psi.full ? [['full', psi.full] as const] : [])];
  for (const [kind, line] of lines) {
    points.push({ name: `psi_memory_${kind}_avg10`, kind: 'gauge', value: line.avg10 });
    points.push({ name: `psi_memory_${kind}_avg60`, kind: 'gauge', value: line.avg60 });
    points.push({ name: `psi_memory_${kind}_avg300`, kind: 'gauge', value: line.avg300 });
    points.push({ name: `psi_memory_${kind}_total_us`, kind: 'counter', value: line.total });
  }
  return points;
}
