/**
 * Fixed-bound histograms in typed arrays. Counts are Float64 because batched events are
 * recorded with weights (one sample standing for many requests).
 */
import {
  LATENCY_BUCKETS_PER_OCTAVE as LATENCY_BUCKETS_PER_OCTAVE_,
  REQUEST_LATENCY_BOUNDS_US as REQUEST_LATENCY_BOUNDS_US_,
  WINDOW_SLOTS as WINDOW_SLOTS_,
} from './constants.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const LATENCY_BUCKETS_PER_OCTAVE = LATENCY_BUCKETS_PER_OCTAVE_;
const REQUEST_LATENCY_BOUNDS_US = REQUEST_LATENCY_BOUNDS_US_;
const WINDOW_SLOTS = WINDOW_SLOTS_;

export interface HistogramSnapshot {
  /** Upper bounds of the buckets, ascending, the last one +Infinity. */
  readonly boundsUs: readonly number[];
  readonly counts: readonly number[];
  readonly total: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly mean: number;
}

/** Index of the first bucket whose upper bound is >= v, by binary search. */
export function bucketIndex(bounds: readonly number[], v: number): number {
  let lo = 0;
  let hi = bounds.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v <= (bounds[mid] as number)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Fast bucket index for REQUEST_LATENCY_BOUNDS_US (log-spaced). */
export function latencyBucket(us: number): number {
  if (us <= 1) return 0;
  const i = Math.ceil(Math.log2(us) * LATENCY_BUCKETS_PER_OCTAVE - 1e-9);
  const last = REQUEST_LATENCY_BOUNDS_US.length - 1;
  return i > last ? last : i;
}

/**
 * Quantile from bucket counts, interpolating geometrically inside the bucket (the bounds are
 * log-spaced). Returns 0 for an empty histogram.
 */
export function quantile(bounds: readonly number[], counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total <= 0) return 0;
  const target = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c <= 0) continue;
    if (acc + c >= target) {
      const upper = bounds[i] as number;
      const lower = i === 0 ? upper / 2 : (bounds[i - 1] as number);
      if (!Number.isFinite(upper)) return lower;
      const frac = c > 0 ? (target - acc) / c : 1;
      return lower * Math.pow(upper / lower, Math.min(1, Math.max(0, frac)));
    }
    acc += c;
  }
  const lastFinite = bounds[bounds.length - 2] as number;
  return lastFinite;
}

export function emptySnapshot(bounds: readonly number[]): HistogramSnapshot {
  return { boundsUs: bounds, counts: bounds.map(() => 0), total: 0, p50: 0, p90: 0, p99: 0, p999: 0, mean: 0 };
}

/** Histogram with cumulative counts plus a sliding window of WINDOW_SLOTS slots. */
export class WindowedHistogram {
  readonly n: number;
  readonly total: Float64Array;
  readonly slots: Float64Array;
  sumTotal = 0;
  readonly slotSums: Float64Array;
  private slot = 0;

  constructor(readonly bounds: readonly number[]) {
    this.n = bounds.length;
    this.total = new Float64Array(this.n);
    this.slots = new Float64Array(this.n * WINDOW_SLOTS);
    this.slotSums = new Float64Array(WINDOW_SLOTS);
  }

  add(bucket: number, weight: number, valueUs: number): void {
    this.total[bucket] = (this.total[bucket] as number) + weight;
    const k = this.slot * this.n + bucket;
    this.slots[k] = (this.slots[k] as number) + weight;
    this.sumTotal += weight * valueUs;
    this.slotSums[this.slot] = (this.slotSums[this.slot] as number) + weight * valueUs;
  }

  /** Starts a new window slot (the oldest is dropped). */
  rotate(): void {
    this.slot = (this.slot + 1) % WINDOW_SLOTS;
    this.slots.fill(0, this.slot * this.n, (this.slot + 1) * this.n);
    this.slotSums[this.slot] = 0;
  }

  /** Counts over the recent window. */
  windowCounts(): Float64Array {
    const out = new Float64Array(this.n);
    for (let s = 0; s < WINDOW_SLOTS; s++) {
      const base = s * this.n;
      for (let i = 0; i < this.n; i++) out[i] = (out[i] as number) + (this.slots[base + i] as number);
    }
    return out;
  }

  windowSum(): number {
    let s = 0;
    for (let i = 0; i < WINDOW_SLOTS; i++) s += this.slotSums[i] as number;
    return s;
  }

  snapshot(window: boolean): HistogramSnapshot {
    const counts = window ? this.windowCounts() : this.total;
    let total = 0;
    for (let i = 0; i < counts.length; i++) total += counts[i] as number;
    const sum = window ? this.windowSum() : this.sumTotal;
    return {
      boundsUs: this.bounds,
      counts: Array.from(counts),
      total,
      p50: quantile(this.bounds, counts, 0.5),
      p90: quantile(this.bounds, counts, 0.9),
      p99: quantile(this.bounds, counts, 0.99),
      p999: quantile(this.bounds, counts, 0.999),
      mean: total > 0 ? sum / total : 0,
    };
  }
}
