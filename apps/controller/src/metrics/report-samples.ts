/**
 * A MetricsReport as rows of metric_samples (pure). Histograms are stored as their count, sum
 * and estimated p50/p90/p99, interpolated within buckets the way Prometheus'
 * histogram_quantile does (linear within the bucket; the +Inf bucket reports the highest
 * finite bound), so latency gates can be judged from rows like any other metric.
 */
import { MetricKind, type Histogram, type MetricsReport } from '@thp-fleet/proto';
import type { MetricSample, SampleKind } from './metric-sample.repository.js';

/** Samples accepted per report; a report above this is cut and the rest counted as dropped. */
export const MAX_SAMPLES_PER_REPORT = 5_000;
const MAX_NAME_LENGTH = 200;
const MAX_CGROUP_LENGTH = 4_096;
/** Report timestamps further than this from the controller's clock are replaced by the receive time. */
export const MAX_CLOCK_SKEW_MS = 10 * 60_000;
export const QUANTILES: readonly [number, string][] = [
  [0.5, 'p50'],
  [0.9, 'p90'],
  [0.99, 'p99'],
];

export function histogramQuantile(q: number, histogram: Pick<Histogram, 'upperBounds' | 'counts' | 'count'>): number | undefined {
  const total = Number(histogram.count);
  if (total <= 0 || histogram.upperBounds.length === 0) return undefined;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (let i = 0; i < histogram.upperBounds.length; i++) {
    const upper = histogram.upperBounds[i] ?? 0;
    const cumulative = Number(histogram.counts[i] ?? 0n);
    if (cumulative >= rank) {
      const inBucket = cumulative - lowerCount;
      if (inBucket <= 0) return upper;
      return lowerBound + ((upper - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = upper;
    lowerCount = cumulative;
  }
  return histogram.upperBounds[histogram.upperBounds.length - 1];
}

export interface ConvertedReport {
  readonly samples: MetricSample[];
  /** Samples refused (non-finite values, bad names, over the per-report limit). */
  readonly rejected: number;
}

function kindOf(kind: MetricKind): SampleKind {
  return kind === MetricKind.COUNTER ? 1 : 2;
}

export function samplesFromReport(nodeId: string, report: MetricsReport, receivedAt: Date): ConvertedReport {
  const reported = report.end ? new Date(Number(report.end.seconds) * 1_000 + Math.floor(report.end.nanos / 1e6)) : undefined;
  const ts = reported && Math.abs(reported.getTime() - receivedAt.getTime()) <= MAX_CLOCK_SKEW_MS ? reported : receivedAt;
  const samples: MetricSample[] = [];
  let rejected = 0;
  const add = (name: string, cgroup: string, kind: SampleKind, value: number): void => {
    if (!Number.isFinite(value) || name === '' || name.length > MAX_NAME_LENGTH || cgroup.length > MAX_CGROUP_LENGTH || name.includes('\u0000') || cgroup.includes('\u0000') || samples.length >= MAX_SAMPLES_PER_REPORT) {
      rejected += 1;
      return;
    }
    samples.push({ nodeId, ts, name, cgroup, kind, value });
  };
  for (const metric of report.node) add(metric.name, '', kindOf(metric.kind), metric.value);
  for (const group of report.cgroups) for (const metric of group.metrics) add(metric.name, group.path, kindOf(metric.kind), metric.value);
  for (const histogram of report.histograms) {
    add(`${histogram.name}_count`, histogram.cgroupPath, 3, Number(histogram.count));
    add(`${histogram.name}_sum`, histogram.cgroupPath, 3, histogram.sum);
    for (const [q, suffix] of QUANTILES) {
      const value = histogramQuantile(q, histogram);
      if (value !== undefined) add(`${histogram.name}_${suffix}`, histogram.cgroupPath, 3, value);
    }
  }
  return { samples, rejected };
}
