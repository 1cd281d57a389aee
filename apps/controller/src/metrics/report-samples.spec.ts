import { create } from '@bufbuild/protobuf';
import { MetricKind, MetricsReportSchema } from '@thp-fleet/proto';
import { describe, expect, it } from 'vitest';
import { MAX_SAMPLES_PER_REPORT, histogramQuantile, samplesFromReport } from './report-samples.js';

describe('histogramQuantile', () => {
  // Worked example: 100 observations, buckets <=1:10, <=2:50, <=4:90, +Inf:100.
  const histogram = { upperBounds: [1, 2, 4], counts: [10n, 50n, 90n], count: 100n };
  it('interpolates linearly within the bucket, like Prometheus histogram_quantile', () => {
    expect(histogramQuantile(0.5, histogram)).toBe(2); // rank 50 is the top of (1,2]
    expect(histogramQuantile(0.3, histogram)).toBeCloseTo(1.5, 10); // rank 30: 1 + (2-1)*(30-10)/40
    expect(histogramQuantile(0.05, histogram)).toBeCloseTo(0.5, 10); // first bucket starts at 0
    expect(histogramQuantile(0.7, histogram)).toBeCloseTo(3, 10); // 2 + 2*(70-50)/40
  });
  it('reports the highest finite bound for ranks in +Inf, and nothing for an empty histogram', () => {
    expect(histogramQuantile(0.99, histogram)).toBe(4);
    expect(histogramQuantile(0.5, { upperBounds: [1], counts: [0n], count: 0n })).toBeUndefined();
  });
});

describe('samplesFromReport', () => {
  const now = new Date('2026-11-25T12:00:00.000Z');
  it('turns node, cgroup and histogram series into rows at the report end time', () => {
    const report = create(MetricsReportSchema, {
      end: { seconds: BigInt(now.getTime() / 1000 - 5), nanos: 0 },
      node: [{ name: 'thp_fault_alloc', kind: MetricKind.COUNTER, value: 12 }, { name: 'psi_memory_some_avg10', kind: MetricKind.GAUGE, value: 1.5 }],
      cgroups: [{ path: '/workloads.slice/zgc-a', cgroupId: 7n, metrics: [{ name: 'anon_thp', kind: MetricKind.GAUGE, value: 2_097_152 }] }],
      histograms: [{ name: 'fault_latency_us', cgroupPath: '', upperBounds: [1, 2, 4], counts: [10n, 50n, 90n], count: 100n, sum: 230 }],
    });
    const { samples, rejected } = samplesFromReport('n1', report, now);
    expect(rejected).toBe(0);
    expect(samples.map((s) => [s.name, s.cgroup, s.kind, s.value])).toEqual([
      ['thp_fault_alloc', '', 1, 12],
      ['psi_memory_some_avg10', '', 2, 1.5],
      ['anon_thp', '/workloads.slice/zgc-a', 2, 2_097_152],
      ['fault_latency_us_count', '', 3, 100],
      ['fault_latency_us_sum', '', 3, 230],
      ['fault_latency_us_p50', '', 3, 2],
      ['fault_latency_us_p90', '', 3, 4],
      ['fault_latency_us_p99', '', 3, 4],
    ]);
    expect(samples[0]?.ts.getTime()).toBe(now.getTime() - 5_000);
  });

  it('uses the receive time when the report clock is far off, and refuses non-finite values and floods', () => {
    const report = create(MetricsReportSchema, {
      end: { seconds: 1n, nanos: 0 },
      node: [
        { name: 'ok', kind: MetricKind.GAUGE, value: 1 },
        { name: 'nan', kind: MetricKind.GAUGE, value: Number.NaN },
        ...Array.from({ length: MAX_SAMPLES_PER_REPORT + 10 }, (_, i) => ({ name: `m${i}`, kind: MetricKind.GAUGE, value: i })),
      ],
    });
    const { samples, rejected } = samplesFromReport('n1', report, now);
    expect(samples).toHaveLength(MAX_SAMPLES_PER_REPORT);
    expect(rejected).toBe(12); // the NaN, and 11 over the limit (1 + 5010 valid, 5000 kept)
    expect(samples[0]?.ts).toEqual(now);
  });
});
