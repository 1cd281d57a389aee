/**
 * From metric_samples rows to the judge's input: which rows a gate reads (node-wide, or the
 * cgroups a glob selects) and how they are made comparable across nodes. Pure.
 *
 * Nodes differ (memory size, workload mix), so the same metric has different levels on
 * different nodes even when nothing changed. With `per-series` normalization every series
 * (a node's node-wide values, or one cgroup's values on one node) is divided by its own mean
 * over the pre-window, the same span of time before the step's canary nodes were assigned, for
 * canary and baseline alike. What the judge then compares is each series' change from where it
 * was, so a canary on a large node is not judged against a baseline of small ones. When a
 * series has no pre-window mean to divide by (no samples, or a mean of 0, e.g. a stall counter
 * that was 0 before), the gate falls back to raw values and says so in its evidence.
 */
import { cgroupGlobMatcher } from '@thp-fleet/policy';

export interface SampleRow {
  readonly nodeId: string;
  /** ms since the epoch. */
  readonly ts: number;
  /** '' for a node-wide series. */
  readonly cgroup: string;
  readonly value: number;
}

export const NORMALIZATIONS = ['per-series', 'none'] as const;
export type Normalization = (typeof NORMALIZATIONS)[number];

/** The rows a gate reads: node-wide rows, or rows of cgroups the glob selects. */
export function gateRows(rows: readonly SampleRow[], cgroupGlob: string | null): SampleRow[] {
  if (cgroupGlob === null) return rows.filter((r) => r.cgroup === '');
  const match = cgroupGlobMatcher(cgroupGlob);
  return rows.filter((r) => r.cgroup !== '' && match(r.cgroup));
}

const seriesKey = (r: SampleRow): string => `${r.nodeId}\u0000${r.cgroup}`;

export interface GateSamples {
  readonly canary: number[];
  readonly baseline: number[];
  /** What was actually applied (a requested per-series normalization may fall back to none). */
  readonly normalization: Normalization;
  /** Why per-series normalization fell back to raw values, or which series it left out. */
  readonly fallback: string | null;
  /** Series (node and cgroup) on each side. */
  readonly series: { readonly canary: number; readonly baseline: number };
}

/**
 * The judge's samples for one gate. `window` holds the rows since the step's nodes acknowledged,
 * `pre` the rows of the pre-window; both already limited to the gate's metric and cgroups.
 */
export function gateSamples(input: {
  readonly window: readonly SampleRow[];
  readonly pre: readonly SampleRow[];
  readonly canary: ReadonlySet<string>;
  readonly baseline: ReadonlySet<string>;
  readonly normalize: Normalization;
}): GateSamples {
  const side = (r: SampleRow): 'canary' | 'baseline' | null => (input.canary.has(r.nodeId) ? 'canary' : input.baseline.has(r.nodeId) ? 'baseline' : null);
  const rows = input.window.filter((r) => side(r) !== null && Number.isFinite(r.value));
  const seriesCount = (which: 'canary' | 'baseline'): number => new Set(rows.filter((r) => side(r) === which).map(seriesKey)).size;
  const series = { canary: seriesCount('canary'), baseline: seriesCount('baseline') };
  const raw = (fallback: string | null): GateSamples => ({
    canary: rows.filter((r) => side(r) === 'canary').map((r) => r.value),
    baseline: rows.filter((r) => side(r) === 'baseline').map((r) => r.value),
    normalization: 'none',
    fallback,
    series,
  });
  if (input.normalize === 'none') return raw(null);

  const sums = new Map<string, { sum: number; n: number }>();
  for (const r of input.pre) {
    if (side(r) === null || !Number.isFinite(r.value)) continue;
    const entry = sums.get(seriesKey(r)) ?? { sum: 0, n: 0 };
    entry.sum += r.value;
    entry.n += 1;
    sums.set(seriesKey(r), entry);
  }
  const level = new Map<string, number>();
  for (const [key, { sum, n }] of sums) level.set(key, sum / n);
  // A series that was 0 before and is still 0 says nothing changed on it and has no level to
  // divide by (a workload without latency on a node that has no such workload): it is left out.
  const moved = new Set(rows.filter((r) => r.value !== 0).map(seriesKey));
  const constantZero = new Set(rows.map(seriesKey).filter((key) => level.get(key) === 0 && !moved.has(key)));
  const missing = new Set<string>();
  const zero = new Set<string>();
  for (const r of rows) {
    const key = seriesKey(r);
    const l = level.get(key);
    if (l === undefined) missing.add(key);
    else if (l === 0 && !constantZero.has(key)) zero.add(key);
  }
  if (missing.size > 0 || zero.size > 0) {
    const parts: string[] = [];
    if (missing.size > 0) parts.push(`${missing.size} series without samples before the step`);
    if (zero.size > 0) parts.push(`${zero.size} series with a pre-window mean of 0`);
    return raw(`raw values: ${parts.join(', ')}`);
  }
  const kept = rows.filter((r) => !constantZero.has(seriesKey(r)));
  const normalized = (which: 'canary' | 'baseline'): number[] => kept.filter((r) => side(r) === which).map((r) => r.value / Math.abs(level.get(seriesKey(r))!));
  return {
    canary: normalized('canary'),
    baseline: normalized('baseline'),
    normalization: 'per-series',
    fallback: constantZero.size > 0 ? `${constantZero.size} series left out: 0 before and since` : null,
    series,
  };
}
