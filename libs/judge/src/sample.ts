// Sample cleaning and descriptive statistics shared by both tests.

/** The finite values of a sample (NaN and ±Infinity dropped) and how many were dropped. */
export interface CleanSample {
  readonly values: Float64Array;
  readonly dropped: number;
}

/**
 * Keeps the finite numbers. Non-finite values (a scrape that failed, a division by zero)
 * carry no information about the metric, so they are removed and counted, as Kayenta's
 * default NaN strategy does.
 */
export function cleanSample(input: readonly unknown[]): CleanSample {
  const values: number[] = [];
  let dropped = 0;
  for (const v of input) {
    if (typeof v === 'number' && Number.isFinite(v)) values.push(v);
    else dropped++;
  }
  return { values: Float64Array.from(values), dropped };
}

/** A sorted copy. */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  // Float64Array#sort is numeric (not lexicographic) and stable.
  return Float64Array.from(values).sort();
}

/** Median of an already sorted, non-empty array. */
export function medianOfSorted(sorted: ArrayLike<number>): number {
  const n = sorted.length;
  const mid = n >> 1;
  if (n % 2 === 1) return sorted[mid]!;
  return sorted[mid - 1]! / 2 + sorted[mid]! / 2;
}

/** Mean and unbiased variance (Welford's update: no catastrophic cancellation). */
export function meanAndVariance(values: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    const delta = x - mean;
    mean += delta / (i + 1);
    m2 += delta * (x - mean);
  }
  const variance = values.length > 1 ? m2 / (values.length - 1) : 0;
  return { mean, variance };
}
