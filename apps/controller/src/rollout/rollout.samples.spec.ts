import { judgeMetric } from '@thp-fleet/judge';
import { describe, expect, it } from 'vitest';
import { cgroupGlobMatcher } from '@thp-fleet/policy';
import { gateRows, gateSamples, type SampleRow } from './rollout.samples.js';

describe('cgroupGlobMatcher', () => {
  it('matches like policy globs: segments, subtrees, alternatives, classes', () => {
    const latency = cgroupGlobMatcher('/workloads.slice/latency-*');
    expect(latency('/workloads.slice/latency-svc')).toBe(true);
    expect(latency('/workloads.slice/latency-svc/child')).toBe(true);
    expect(latency('/workloads.slice/kv-store')).toBe(false);
    expect(latency('/workloads.slice')).toBe(false);
    expect(latency('/other.slice/workloads.slice/latency-svc')).toBe(false);
    const deep = cgroupGlobMatcher('/kubepods.slice/**/zgc-*');
    expect(deep('/kubepods.slice/a/b/zgc-orders')).toBe(true);
    expect(deep('/kubepods.slice/zgc-orders')).toBe(true);
    expect(deep('/kubepods.slice/a/kv')).toBe(false);
    const alt = cgroupGlobMatcher('/workloads.slice/{kv-*,redis}');
    expect(alt('/workloads.slice/kv-cache')).toBe(true);
    expect(alt('/workloads.slice/redis')).toBe(true);
    expect(alt('/workloads.slice/redis2')).toBe(false);
    const cls = cgroupGlobMatcher('/w/[ab]?');
    expect(cls('/w/ax')).toBe(true);
    expect(cls('/w/cx')).toBe(false);
    expect(cgroupGlobMatcher('/**')('/anything/at/all')).toBe(true);
    expect(cgroupGlobMatcher('/a.b')('/aXb')).toBe(false);
  });

  it('selects node-wide rows without a glob and cgroup rows with one', () => {
    const rows: SampleRow[] = [
      { nodeId: 'a', ts: 1, cgroup: '', value: 1 },
      { nodeId: 'a', ts: 1, cgroup: '/workloads.slice/kv-store', value: 2 },
      { nodeId: 'a', ts: 1, cgroup: '/workloads.slice/zgc-jvm', value: 3 },
    ];
    expect(gateRows(rows, null).map((r) => r.value)).toEqual([1]);
    expect(gateRows(rows, '/workloads.slice/kv-*').map((r) => r.value)).toEqual([2]);
  });
});

function series(nodeId: string, cgroup: string, values: readonly number[], start = 0): SampleRow[] {
  return values.map((value, i) => ({ nodeId, cgroup, ts: start + i, value }));
}

describe('gateSamples', () => {
  // Two node sizes: series levels 100 and 400. The canary (one of each size) is 30% worse.
  const pre = [...series('c1', '', [100, 100, 100]), ...series('c2', '', [400, 400, 400]), ...series('b1', '', [100, 100]), ...series('b2', '', [400, 400]), ...series('b3', '', [100]), ...series('b4', '', [400])];
  const noise = (i: number): number => 1 + 0.02 * Math.sin(i * 1.7);
  const window = [
    ...series('c1', '', Array.from({ length: 30 }, (_, i) => 130 * noise(i)), 10),
    ...series('c2', '', Array.from({ length: 30 }, (_, i) => 520 * noise(i + 3)), 10),
    ...['b1', 'b3'].flatMap((id, k) => series(id, '', Array.from({ length: 30 }, (_, i) => 100 * noise(i + 5 * k)), 10)),
    ...['b2', 'b4'].flatMap((id, k) => series(id, '', Array.from({ length: 30 }, (_, i) => 400 * noise(i + 7 * k)), 10)),
  ];
  const canary = new Set(['c1', 'c2']);
  const baseline = new Set(['b1', 'b2', 'b3', 'b4']);

  it('divides each series by its own pre-window mean', () => {
    const s = gateSamples({ window, pre, canary, baseline, normalize: 'per-series' });
    expect(s.normalization).toBe('per-series');
    expect(s.series).toEqual({ canary: 2, baseline: 4 });
    expect(s.canary).toHaveLength(60);
    expect(s.baseline).toHaveLength(120);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(s.canary)).toBeCloseTo(1.3 * mean(s.baseline), 1);
    // With the node sizes taken out, the judge sees the 30% regression against a 10% tolerance.
    const verdict = judgeMetric({ name: 'psi', direction: 'increase-is-bad', tolerance: 0.1, critical: true }, s.canary, s.baseline);
    expect(verdict.verdict).toBe('fail');
  });

  it('falls back to raw values when a series has no level to divide by, and says why', () => {
    const s = gateSamples({ window, pre: pre.filter((r) => r.nodeId !== 'b4').map((r) => (r.nodeId === 'c1' ? { ...r, value: 0 } : r)), canary, baseline, normalize: 'per-series' });
    expect(s.normalization).toBe('none');
    expect(s.fallback).toBe('raw values: 1 series without samples before the step, 1 series with a pre-window mean of 0');
    expect(s.canary[0]).toBeCloseTo(130 * noise(0));
  });

  it('leaves out series that were 0 before and still are, and normalizes the rest', () => {
    const zeros = [...series('c1', '/w/none', [0, 0]), ...series('b1', '/w/none', [0, 0])];
    const s = gateSamples({ window: [...window, ...zeros.map((r) => ({ ...r, ts: r.ts + 10 }))], pre: [...pre, ...zeros], canary, baseline, normalize: 'per-series' });
    expect(s.normalization).toBe('per-series');
    expect(s.fallback).toBe('2 series left out: 0 before and since');
    expect(s.canary).toHaveLength(60);
    // A series that was 0 and is not any more cannot be normalized: raw values for the gate.
    const woke = gateSamples({ window: [...window, { nodeId: 'c1', cgroup: '/w/none', ts: 20, value: 3 }], pre: [...pre, ...zeros], canary, baseline, normalize: 'per-series' });
    expect(woke.normalization).toBe('none');
    expect(woke.fallback).toBe('raw values: 1 series with a pre-window mean of 0');
  });

  it('leaves values raw when asked and ignores nodes on neither side', () => {
    const s = gateSamples({ window: [...window, ...series('x', '', [9e9])], pre, canary, baseline, normalize: 'none' });
    expect(s.normalization).toBe('none');
    expect(s.fallback).toBeNull();
    expect(s.canary.length + s.baseline.length).toBe(180);
  });
});
