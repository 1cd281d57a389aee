/**
 * Metrics as collected (cumulative counters, instantaneous gauges) and the pure step that
 * turns two consecutive samples into one report interval: counters become deltas, gauges stay
 * as they are, histograms become per-interval bucket counts. A counter that went down was
 * reset (a cgroup recreated under the same path, a simulator restarted): its delta is its new
 * value, as Prometheus' rate() treats resets.
 */

export type MetricKindName = 'counter' | 'gauge';

export interface MetricPoint {
  readonly name: string;
  readonly kind: MetricKindName;
  /** Counters: the cumulative value. Gauges: the value now. */
  readonly value: number;
}

export interface CgroupSample {
  readonly id: number;
  readonly path: string;
  readonly metrics: readonly MetricPoint[];
}

/** A cumulative histogram, Prometheus style: counts[i] = observations <= upperBounds[i]. */
export interface HistogramSample {
  readonly name: string;
  /** "" for a node-wide histogram. */
  readonly cgroupPath: string;
  readonly upperBounds: readonly number[];
  readonly counts: readonly number[];
  readonly count: number;
  readonly sum: number;
}

export interface MetricsSample {
  /** Wall-clock time of the sample (ms since the epoch). */
  readonly at: number;
  readonly node: readonly MetricPoint[];
  readonly cgroups: readonly CgroupSample[];
  readonly histograms: readonly HistogramSample[];
}

export interface MetricsInterval {
  readonly start: number;
  readonly end: number;
  /** Counters as deltas over [start, end], gauges at end. */
  readonly node: readonly MetricPoint[];
  readonly cgroups: readonly CgroupSample[];
  readonly histograms: readonly HistogramSample[];
}

function delta(now: number, before: number | undefined): number {
  if (before === undefined) return 0;
  return now >= before ? now - before : now;
}

function intervalPoints(now: readonly MetricPoint[], before: ReadonlyMap<string, number> | undefined, isNew: boolean): MetricPoint[] {
  return now.map((p) =>
    p.kind === 'gauge'
      ? p
      : { name: p.name, kind: 'counter', value: isNew ? 0 : delta(p.value, before?.get(p.name)) },
  );
}

function indexPoints(points: readonly MetricPoint[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const p of points) if (p.kind === 'counter') map.set(p.name, p.value);
  return map;
}

/**
 * The report for the interval between `before` and `now`. A cgroup or counter first seen in
 * `now` reports a delta of 0 (its history before the interval is unknown), never its lifetime
 * total, so a new cgroup cannot masquerade as a burst.
 */
export function metricsInterval(before: MetricsSample, now: MetricsSample): MetricsInterval {
  const beforeNode = indexPoints(before.node);
  const beforeCgroups = new Map<number, { path: string; counters: Map<string, number> }>();
  for (const c of before.cgroups) beforeCgroups.set(c.id, { path: c.path, counters: indexPoints(c.metrics) });
  const node = now.node.map((p) =>
    p.kind === 'gauge' ? p : { name: p.name, kind: 'counter' as const, value: beforeNode.has(p.name) ? delta(p.value, beforeNode.get(p.name)) : 0 },
  );
  const cgroups = now.cgroups.map((c) => {
    const prior = beforeCgroups.get(c.id);
    const isNew = !prior || prior.path !== c.path;
    return { id: c.id, path: c.path, metrics: intervalPoints(c.metrics, prior?.counters, isNew) };
  });
  const beforeHistograms = new Map<string, HistogramSample>();
  for (const h of before.histograms) beforeHistograms.set(`${h.cgroupPath}\u0000${h.name}`, h);
  const histograms = now.histograms.map((h) => {
    const prior = beforeHistograms.get(`${h.cgroupPath}\u0000${h.name}`);
    const comparable = prior && prior.upperBounds.length === h.upperBounds.length && prior.count <= h.count;
    if (!comparable) return { ...h, counts: h.counts.map(() => 0), count: 0, sum: 0 };
    return {
      ...h,
      counts: h.counts.map((c, i) => Math.max(0, c - (prior.counts[i] ?? 0))),
      count: h.count - prior.count,
      sum: Math.max(0, h.sum - prior.sum),
    };
  });
  return { start: before.at, end: now.at, node, cgroups, histograms };
}
