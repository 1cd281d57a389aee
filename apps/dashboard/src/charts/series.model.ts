/**
 * From metric samples (GET /api/v1/nodes/{id}/metrics) to chart series (pure): counters (sent
 * as per-interval deltas) become per-second rates, gauges are shown as they are, several series are aligned on one time axis
 * (uPlot wants `[xs, ys1, ys2, ...]` with null where a series has no point).
 */
import type { MetricSampleView } from '../api/types.js';

export interface Point {
  /** Unix seconds (uPlot's time unit). */
  readonly t: number;
  readonly v: number;
}

export interface Series {
  readonly label: string;
  readonly points: readonly Point[];
}

export interface AlignedData {
  readonly xs: number[];
  readonly series: { readonly label: string; readonly values: (number | null)[] }[];
}

/** Samples of one metric split by cgroup ('' = node-wide), oldest first. */
export function byCgroup(samples: readonly MetricSampleView[]): Map<string, Point[]> {
  const out = new Map<string, Point[]>();
  for (const s of samples) {
    const t = Date.parse(s.ts) / 1000;
    if (!Number.isFinite(t) || !Number.isFinite(s.value)) continue;
    let list = out.get(s.cgroup);
    if (!list) out.set(s.cgroup, (list = []));
    list.push({ t, v: s.value });
  }
  for (const list of out.values()) list.sort((a, b) => a.t - b.t);
  return out;
}

/**
 * Per-second rate of a counter as the agents report it: each sample is the increase over one
 * report interval (docs/agent.md "Counters are sent as deltas over the report interval"), so
 * the rate at t[i] is v[i] / (t[i] - t[i-1]). The first sample has no known interval start and
 * gives no rate. After a gap (the agent was disconnected) the next report covers the whole gap,
 * so dividing by the gap spreads it evenly, as the agent did. Negative deltas cannot come from
 * a counter and are left out.
 */
export function deltaRate(points: readonly Point[]): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    const dt = b.t - a.t;
    if (dt <= 0 || b.v < 0) continue;
    out.push({ t: b.t, v: b.v / dt });
  }
  return out;
}

/** Align series on the union of their timestamps (each point keeps its own time; others get null). */
export function align(series: readonly Series[]): AlignedData {
  const times = new Set<number>();
  for (const s of series) for (const p of s.points) times.add(p.t);
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  return {
    xs,
    series: series.map((s) => {
      const values: (number | null)[] = new Array<number | null>(xs.length).fill(null);
      for (const p of s.points) values[index.get(p.t)!] = p.v;
      return { label: s.label, values };
    }),
  };
}

/**
 * Put points into buckets of `widthS` seconds and average each bucket, for series whose
 * timestamps differ from node to node (canary vs baseline means). Returns bucket-centre times.
 */
export function bucketMean(points: readonly Point[], widthS: number): Point[] {
  if (points.length === 0 || !(widthS > 0)) return [];
  const sums = new Map<number, { sum: number; n: number }>();
  for (const p of points) {
    const key = Math.floor(p.t / widthS);
    const entry = sums.get(key) ?? { sum: 0, n: 0 };
    entry.sum += p.v;
    entry.n += 1;
    sums.set(key, entry);
  }
  return [...sums]
    .sort((a, b) => a[0] - b[0])
    .map(([key, { sum, n }]) => ({ t: (key + 0.5) * widthS, v: sum / n }));
}

/** The typical spacing of a series' samples (median gap), at least 1 s; 15 s when unknown. */
export function typicalInterval(seriesList: readonly (readonly Point[])[]): number {
  const gaps: number[] = [];
  for (const points of seriesList) for (let i = 1; i < points.length; i++) gaps.push(points[i]!.t - points[i - 1]!.t);
  if (gaps.length === 0) return 15;
  gaps.sort((a, b) => a - b);
  return Math.max(1, gaps[Math.floor(gaps.length / 2)]!);
}

export function mean(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Short numbers for axes and tables: 1.2k, 3.4M, 0.012. */
export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const abs = Math.abs(value);
  if (abs >= 1e12) return `${(value / 1e12).toPrecision(digits)}T`;
  if (abs >= 1e9) return `${(value / 1e9).toPrecision(digits)}G`;
  if (abs >= 1e6) return `${(value / 1e6).toPrecision(digits)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toPrecision(digits)}k`;
  if (abs === 0) return '0';
  if (abs < 0.001) return value.toExponential(1);
  return String(Number(value.toPrecision(digits)));
}

/** Binary sizes for memory charts: 512 MiB, 1.5 GiB. */
export function formatBytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(value);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${value < 0 ? '-' : ''}${Number(v.toPrecision(3))} ${units[u]}`;
}

/** "+12.3 %" from a relative change 0.123. */
export function formatPercent(relative: number | null | undefined, digits = 1): string {
  if (relative === null || relative === undefined || !Number.isFinite(relative)) return '–';
  const p = relative * 100;
  return `${p > 0 ? '+' : ''}${p.toFixed(digits)} %`;
}
