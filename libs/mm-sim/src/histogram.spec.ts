import { describe, expect, it } from 'vitest';
import { FAULT_LATENCY_BOUNDS_US, REQUEST_LATENCY_BOUNDS_US, WINDOW_SLOTS } from './constants.js';
import { WindowedHistogram, bucketIndex, latencyBucket, quantile } from './histogram.js';

describe('histograms', () => {
  it('finds buckets by upper bound', () => {
    expect(bucketIndex(FAULT_LATENCY_BOUNDS_US, 0.5)).toBe(0);
    expect(bucketIndex(FAULT_LATENCY_BOUNDS_US, 1)).toBe(0);
    expect(bucketIndex(FAULT_LATENCY_BOUNDS_US, 1.2)).toBe(1);
    expect(bucketIndex(FAULT_LATENCY_BOUNDS_US, 1e9)).toBe(FAULT_LATENCY_BOUNDS_US.length - 1);
    for (const v of [0.3, 1, 1.7, 3, 100, 12345, 1e7]) {
      expect(latencyBucket(v)).toBe(bucketIndex(REQUEST_LATENCY_BOUNDS_US, v));
    }
  });

  it('interpolates quantiles inside log-spaced buckets', () => {
    const counts = new Float64Array(FAULT_LATENCY_BOUNDS_US.length);
    counts[1] = 99; // (1, 2] µs
    counts[8] = 1; // (128, 256] µs
    expect(quantile(FAULT_LATENCY_BOUNDS_US, counts, 0.5)).toBeGreaterThan(1);
    expect(quantile(FAULT_LATENCY_BOUNDS_US, counts, 0.5)).toBeLessThanOrEqual(2);
    expect(quantile(FAULT_LATENCY_BOUNDS_US, counts, 0.999)).toBeGreaterThan(128);
    expect(quantile(FAULT_LATENCY_BOUNDS_US, new Float64Array(counts.length), 0.99)).toBe(0);
  });

  it('keeps cumulative counts and a sliding window', () => {
    const h = new WindowedHistogram(FAULT_LATENCY_BOUNDS_US);
    h.add(3, 10, 6);
    for (let i = 0; i < WINDOW_SLOTS; i++) h.rotate();
    h.add(5, 2, 20);
    expect(h.snapshot(false).total).toBe(12);
    expect(h.snapshot(true).total).toBe(2);
    expect(h.snapshot(true).mean).toBe(20);
    expect(h.snapshot(false).mean).toBeCloseTo(100 / 12);
  });
});
