// Mann-Whitney U (Wilcoxon rank-sum) test and the Hodges-Lehmann shift estimate with its
// distribution-free (Moses) confidence interval, following R's `wilcox.test` (which Kayenta's
// Mann-Whitney classifier ports) and Hollander & Wolfe, Nonparametric Statistical Methods
// (2nd ed. 1999), §4.1-4.3.
import { standardNormalCdf, standardNormalQuantile, standardNormalUpperTail } from './normal.js';
import { sortedCopy } from './sample.js';

/**
 * R's rule for the exact null distribution: "an exact p-value is computed if the samples
 * contain less than 50 finite values and there are no ties" (R documentation, ?wilcox.test).
 */
export const EXACT_MAX_SAMPLE_SIZE = 49;

export type TestMethod = 'exact' | 'normal';

export interface RankSumOptions {
  /** Continuity correction of the normal approximation (R's `correct`, default true). */
  readonly correct?: boolean;
  /** `'auto'` (default): exact when both samples have < 50 values and there are no ties. */
  readonly exact?: boolean | 'auto';
}

export interface RankSumResult {
  /** U of the first sample: #{xᵢ > yⱼ} + ½ #{xᵢ = yⱼ}. R reports it as W. */
  readonly u: number;
  readonly n1: number;
  readonly n2: number;
  /** Whether any two values of the combined sample are equal. */
  readonly ties: boolean;
  readonly method: TestMethod;
  /**
   * Normal method: (U - n1·n2/2 ∓ ½) / σ with the tie-corrected σ and the continuity
   * correction toward zero (as SAS prints it); null for the exact method.
   */
  readonly z: number | null;
  /** H1: the distributions differ by a location shift in either direction. */
  readonly pValueTwoSided: number;
  /** H1: the first sample is shifted up (stochastically greater). */
  readonly pValueGreater: number;
  /** H1: the first sample is shifted down. */
  readonly pValueLess: number;
}

interface Ranking {
  readonly rankSumX: number;
  /** Σ (t³ - t) over groups of t tied values in the combined sample. */
  readonly tieSum: number;
}

function rankCombined(x: ArrayLike<number>, y: ArrayLike<number>): Ranking {
  const n1 = x.length;
  const n = n1 + y.length;
  const values = new Float64Array(n);
  for (let i = 0; i < n1; i++) values[i] = x[i]!;
  for (let j = 0; j < y.length; j++) values[n1 + j] = y[j]!;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  let rankSumX = 0;
  let tieSum = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && values[order[end]!] === values[order[start]!]) end++;
    const t = end - start;
    const midRank = (start + 1 + end) / 2; // average of ranks start+1 .. end
    for (let k = start; k < end; k++) if (order[k]! < n1) rankSumX += midRank;
    if (t > 1) tieSum += t * t * t - t;
    start = end;
  }
  return { rankSumX, tieSum };
}

const exactCache = new Map<string, Float64Array>();
const EXACT_CACHE_LIMIT = 128;

/**
 * P(U = u), u = 0..m·n, for the U statistic of samples of sizes m and n under H0 with no ties,
 * by the standard recurrence on the largest observation (Mann & Whitney 1947, eq. 1): it
 * belongs to the first sample with probability m/(m+n) and then exceeds all n others, so
 *   p(u; m, n) = m/(m+n) · p(u - n; m-1, n) + n/(m+n) · p(u; m, n-1).
 * Probabilities rather than counts keep every term in [0, 1] (counts reach C(98,49) ≈ 2.5e28).
 */
export function exactUDistribution(m: number, n: number): Float64Array {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 0 || n < 0) {
    throw new RangeError(`exactUDistribution: sample sizes must be non-negative integers, got m=${m}, n=${n}`);
  }
  const key = `${m},${n}`;
  const cached = exactCache.get(key);
  if (cached) return cached;
  let previous: Float64Array[] = Array.from({ length: n + 1 }, () => Float64Array.of(1));
  for (let i = 1; i <= m; i++) {
    const current: Float64Array[] = [Float64Array.of(1)];
    for (let j = 1; j <= n; j++) {
      const dist = new Float64Array(i * j + 1);
      const fromX = previous[j]!; // p(.; i-1, j), support 0..(i-1)j
      const fromY = current[j - 1]!; // p(.; i, j-1), support 0..i(j-1)
      const px = i / (i + j);
      const py = j / (i + j);
      for (let u = 0; u < fromX.length; u++) dist[u + j]! += px * fromX[u]!;
      for (let u = 0; u < fromY.length; u++) dist[u]! += py * fromY[u]!;
      current.push(dist);
    }
    previous = current;
  }
  const result = previous[n]!;
  if (exactCache.size >= EXACT_CACHE_LIMIT) exactCache.delete(exactCache.keys().next().value!);
  exactCache.set(key, result);
  return result;
}

/** P(U <= u) under the exact null distribution (u may be fractional; it is floored). */
export function exactUCdf(u: number, m: number, n: number): number {
  const dist = exactUDistribution(m, n);
  const top = Math.min(Math.floor(u), dist.length - 1);
  let sum = 0;
  for (let v = 0; v <= top; v++) sum += dist[v]!;
  return Math.min(1, sum);
}

/** R's `qwilcox(p, m, n)`: the smallest u with P(U <= u) >= p. */
export function exactUQuantile(p: number, m: number, n: number): number {
  const dist = exactUDistribution(m, n);
  let sum = 0;
  // A relative tolerance like R's (it compares against p·(1 - 64ε)) so that rounding in the
  // sum does not push an exactly attained probability past p.
  const target = p * (1 - 64 * Number.EPSILON);
  for (let u = 0; u < dist.length; u++) {
    sum += dist[u]!;
    if (sum >= target) return u;
  }
  return dist.length - 1;
}

function useExact(option: boolean | 'auto' | undefined, n1: number, n2: number, ties: boolean): boolean {
  if (ties || n1 === 0 || n2 === 0) return false;
  if (option === true) return true;
  if (option === false) return false;
  return n1 <= EXACT_MAX_SAMPLE_SIZE && n2 <= EXACT_MAX_SAMPLE_SIZE;
}

/** Tie-corrected standard deviation of U under H0 (Hollander & Wolfe eq. 4.10). */
function sigmaU(n1: number, n2: number, tieSum: number): number {
  const n = n1 + n2;
  return Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1))));
}

/**
 * The Mann-Whitney U test of x against y. p-values match R's `wilcox.test(x, y, ...)` for
 * the same `exact` and `correct` choices.
 */
export function rankSumTest(x: ArrayLike<number>, y: ArrayLike<number>, options: RankSumOptions = {}): RankSumResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError(`rankSumTest: both samples need values (got ${n1} and ${n2})`);
  const { rankSumX, tieSum } = rankCombined(x, y);
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const ties = tieSum > 0;
  const mean = (n1 * n2) / 2;
  if (useExact(options.exact, n1, n2, ties)) {
    const pLess = exactUCdf(u, n1, n2);
    const pGreater = 1 - exactUCdf(u - 1, n1, n2);
    const pTwo = Math.min(1, 2 * (u > mean ? pGreater : pLess));
    return { u, n1, n2, ties, method: 'exact', z: null, pValueTwoSided: pTwo, pValueGreater: Math.min(1, pGreater), pValueLess: pLess };
  }
  const correct = options.correct ?? true;
  const sigma = sigmaU(n1, n2, tieSum);
  const d = u - mean;
  if (!(sigma > 0)) {
    // Every value is tied: the data cannot order the samples.
    return { u, n1, n2, ties, method: 'normal', z: 0, pValueTwoSided: 1, pValueGreater: 1, pValueLess: 1 };
  }
  const c = correct ? 0.5 : 0;
  const zTwo = (d - Math.sign(d) * c) / sigma;
  const zGreater = (d - c) / sigma;
  const zLess = (d + c) / sigma;
  const pTwo = Math.min(1, 2 * Math.min(standardNormalCdf(zTwo), standardNormalUpperTail(zTwo)));
  return {
    u,
    n1,
    n2,
    ties,
    method: 'normal',
    z: zTwo,
    pValueTwoSided: pTwo,
    pValueGreater: standardNormalUpperTail(zGreater),
    pValueLess: standardNormalCdf(zLess),
  };
}

/**
 * The k-th smallest (1-based) of the n1·n2 differences xᵢ - yⱼ, without forming them: a
 * bisection on the value that keeps both ends on actual differences, each step counting
 * #{xᵢ - yⱼ <= d} with one merge pass over the sorted samples. O((n1 + n2) · log) time,
 * O(1) extra space (the naive sort of all differences is O(n1·n2·log) and O(n1·n2) memory).
 */
export function kthSmallestDifference(xSorted: ArrayLike<number>, ySorted: ArrayLike<number>, k: number): number {
  const n1 = xSorted.length;
  const n2 = ySorted.length;
  if (!Number.isInteger(k) || k < 1 || k > n1 * n2) throw new RangeError(`kthSmallestDifference: k=${k} outside 1..${n1 * n2}`);
  let low = xSorted[0]! - ySorted[n2 - 1]!; // smallest difference: the answer is >= low
  let high = xSorted[n1 - 1]! - ySorted[0]!; // largest difference: count(<= high) >= k
  while (low < high) {
    let mid = low / 2 + high / 2;
    if (!(mid > low && mid < high)) mid = low;
    // For each i, the first j with xᵢ - yⱼ <= mid; it only moves right as i grows.
    // fl(xᵢ - yⱼ) is monotone in yⱼ, so the pass agrees with the differences as computed.
    let count = 0;
    let below = -Infinity; // largest difference <= mid
    let above = Infinity; // smallest difference > mid
    let j = 0;
    for (let i = 0; i < n1; i++) {
      const xi = xSorted[i]!;
      while (j < n2 && xi - ySorted[j]! > mid) j++;
      count += n2 - j;
      if (j < n2) below = Math.max(below, xi - ySorted[j]!);
      if (j > 0) above = Math.min(above, xi - ySorted[j - 1]!);
    }
    if (count >= k) high = below;
    else low = above;
  }
  return high;
}

function medianDifference(xSorted: ArrayLike<number>, ySorted: ArrayLike<number>): number {
  const total = xSorted.length * ySorted.length;
  return total % 2 === 1
    ? kthSmallestDifference(xSorted, ySorted, (total + 1) / 2)
    : kthSmallestDifference(xSorted, ySorted, total / 2) / 2 + kthSmallestDifference(xSorted, ySorted, total / 2 + 1) / 2;
}

/** The Hodges-Lehmann shift estimate alone: the median of all differences xᵢ - yⱼ. */
export function hodgesLehmannEstimate(x: ArrayLike<number>, y: ArrayLike<number>): number {
  if (x.length === 0 || y.length === 0) throw new RangeError(`hodgesLehmannEstimate: both samples need values (got ${x.length} and ${y.length})`);
  return medianDifference(sortedCopy(x), sortedCopy(y));
}

export interface ShiftEstimate {
  /** Hodges-Lehmann estimate: the median of all differences xᵢ - yⱼ. */
  readonly estimate: number;
  /** Moses confidence bounds (order statistics of the differences); null when the samples are too small to reach the level. */
  readonly lower: number | null;
  readonly upper: number | null;
  /** Requested two-sided level. */
  readonly confidenceLevel: number;
  /** Level actually attained: exact for the exact method, normal approximation otherwise. */
  readonly achievedConfidence: number;
  readonly method: TestMethod;
}

/**
 * Hodges-Lehmann shift of x relative to y and its distribution-free confidence interval
 * (Moses 1953; Bauer 1972; Hollander & Wolfe §4.3): the interval [D(k), D(N+1-k)] of the
 * ordered N = n1·n2 differences, with k from the exact distribution of U (as R's
 * `wilcox.test(conf.int = TRUE)`) or, with ties or large samples, k = round(N/2 - z·σ)
 * with the tie-corrected σ (the asymptotic Moses interval SAS reports).
 * Unlike R, when the samples are too small for any k >= 1 the bounds are null (unbounded)
 * rather than silently falling back to a lower level.
 */
export function hodgesLehmannShift(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  confidenceLevel: number,
  options: Pick<RankSumOptions, 'exact'> = {},
): ShiftEstimate {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError(`hodgesLehmannShift: both samples need values (got ${n1} and ${n2})`);
  if (!(confidenceLevel > 0 && confidenceLevel < 1)) throw new RangeError(`hodgesLehmannShift: confidenceLevel must be in (0, 1), got ${confidenceLevel}`);
  const xs = sortedCopy(x);
  const ys = sortedCopy(y);
  const total = n1 * n2;
  const estimate = medianDifference(xs, ys);
  const { tieSum } = rankCombined(x, y);
  const ties = tieSum > 0;
  const tail = (1 - confidenceLevel) / 2;
  let k: number;
  let achievedConfidence: number;
  let method: TestMethod;
  if (useExact(options.exact, n1, n2, ties)) {
    method = 'exact';
    k = exactUQuantile(tail, n1, n2);
    achievedConfidence = 1 - 2 * (k >= 1 ? exactUCdf(k - 1, n1, n2) : 0);
  } else {
    method = 'normal';
    const sigma = sigmaU(n1, n2, tieSum);
    k = Math.round(total / 2 - standardNormalQuantile(1 - tail) * sigma);
    achievedConfidence = sigma > 0 ? 1 - 2 * standardNormalCdf((k - 0.5 - total / 2) / sigma) : 0;
  }
  if (k < 1) return { estimate, lower: null, upper: null, confidenceLevel, achievedConfidence: 1, method };
  const lower = kthSmallestDifference(xs, ys, k);
  const upper = kthSmallestDifference(xs, ys, total + 1 - k);
  return { estimate, lower, upper, confidenceLevel, achievedConfidence, method };
}
