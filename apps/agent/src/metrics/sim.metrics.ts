/**
 * A simulated node's metrics (libs/mm-sim `NodeMetrics`) in the same names and kinds as a real
 * node's (kernel-stats.ts), plus what only a simulator knows: per-workload throughput,
 * latency, stall time and TLB overhead, reported on the workload's cgroup as `workload_*`.
 * Pure: a snapshot in, a sample out.
 */
import type { HistogramSnapshot, NodeMetrics, PsiSnapshot } from '@thp-fleet/mm-sim';
import { memoryStatPoints, mthpPoint, psiPoints, vmstatPoints } from './kernel-stats.js';
import type { CgroupSample, HistogramSample, MetricPoint, MetricsSample } from './metrics-sample.js';

function psi(snapshot: PsiSnapshot): MetricPoint[] {
  return psiPoints({ some: snapshot.some, full: snapshot.full });
}

/** mm-sim buckets (per bucket, last bound +Inf) -> cumulative buckets without the +Inf one (the proto's shape). */
export function cumulativeHistogram(name: string, cgroupPath: string, h: HistogramSnapshot): HistogramSample {
  const upperBounds: number[] = [];
  const counts: number[] = [];
  let running = 0;
  for (let i = 0; i < h.counts.length; i++) {
    running += h.counts[i] ?? 0;
    const bound = h.boundsUs[i] ?? Number.POSITIVE_INFINITY;
    if (!Number.isFinite(bound)) continue;
    upperBounds.push(bound);
    counts.push(running);
  }
  return { name, cgroupPath, upperBounds, counts, count: h.total, sum: h.mean * h.total };
}

export function simMetricsSample(m: NodeMetrics, at: number): MetricsSample {
  const node: MetricPoint[] = [...vmstatPoints(new Map(Object.entries(m.vmstat))), ...psi(m.psi)];
  for (const [dir, stats] of Object.entries(m.mthp)) {
    for (const [stat, value] of Object.entries(stats)) {
      if (value === undefined) continue;
      const point = mthpPoint(dir, stat, value);
      if (point) node.push(point);
    }
  }
  node.push({ name: 'khugepaged_pages_collapsed', kind: 'counter', value: m.khugepaged.pages_collapsed });
  node.push({ name: 'khugepaged_full_scans', kind: 'counter', value: m.khugepaged.full_scans });
  node.push({ name: 'thp_policy_calls', kind: 'counter', value: m.hook.kernelEquivalentCalls });
  node.push({ name: 'fragmentation_score', kind: 'gauge', value: m.fragmentation.score });

  const byCgroup = new Map(m.cgroups.map((c) => [c.id, c]));
  const cgroups: CgroupSample[] = [];
  const histograms: HistogramSample[] = [cumulativeHistogram('fault_latency_us', '', m.faultLatency)];
  for (const w of m.workloads) {
    const c = byCgroup.get(w.cgroupId);
    const metrics: MetricPoint[] = [];
    if (c) metrics.push(...memoryStatPoints(new Map(Object.entries(c.memoryStat))), ...psi(c.psi));
    metrics.push(
      { name: 'workload_throughput', kind: 'gauge', value: w.throughput },
      { name: 'workload_ops', kind: 'counter', value: w.totalOps },
      { name: 'workload_dropped_ops', kind: 'counter', value: w.droppedOps },
      { name: 'workload_latency_p50_us', kind: 'gauge', value: w.latencyUs.p50 },
      { name: 'workload_latency_p99_us', kind: 'gauge', value: w.latencyUs.p99 },
      { name: 'workload_latency_p999_us', kind: 'gauge', value: w.latencyUs.p999 },
      { name: 'workload_fault_latency_p99_us', kind: 'gauge', value: w.faultLatencyUs.p99 },
      { name: 'workload_stall_ms_per_s', kind: 'gauge', value: w.stallMsPerSec },
      { name: 'workload_rss_bytes', kind: 'gauge', value: w.rssBytes },
      { name: 'workload_thp_coverage', kind: 'gauge', value: w.thpCoverage },
      { name: 'workload_tlb_overhead', kind: 'gauge', value: w.tlb.overheadFraction },
    );
    cgroups.push({ id: w.cgroupId, path: w.cgroupPath, metrics });
    if (c) histograms.push(cumulativeHistogram('fault_latency_us', w.cgroupPath, c.faultLatency));
  }
  return { at, node, cgroups, histograms };
}
