import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  exactUCdf,
  exactUDistribution,
  exactUQuantile,
  hodgesLehmannEstimate,
  hodgesLehmannShift,
  kthSmallestDifference,
  rankSumTest,
} from './mann-whitney.js';

// Hollander & Wolfe (1973), p. 69f, as used in R's ?wilcox.test examples: permeability
// constants of the human chorioamnion at term (x) and at 12-26 weeks gestational age (y).
const permeabilityTerm = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
const permeabilityEarly = [1.15, 0.88, 0.9, 0.74, 1.21];

// R's `airquality` data set (New York, 1973), Ozone (ppb) in May and August with NAs removed,
// as in R's ?wilcox.test example `wilcox.test(Ozone ~ Month, data = airquality,
// subset = Month %in% c(5, 8))`. Values from the data set's published table.
const ozoneMay = [41, 36, 12, 18, 28, 23, 19, 8, 7, 16, 11, 14, 18, 14, 34, 6, 30, 11, 1, 11, 4, 32, 23, 45, 115, 37];
const ozoneAugust = [39, 9, 16, 78, 35, 66, 122, 89, 110, 44, 28, 65, 22, 59, 23, 31, 44, 21, 9, 45, 168, 73, 76, 118, 84, 85];

// Kirkwood & Sterne, Essentials of Medical Statistics (2nd ed.), Table 30.4: birth weights (kg)
// of children of 15 non-smokers and 14 heavy smokers. R and SAS results published by the PHUSE
// CAMIS project, https://psiaims.github.io/CAMIS/ (Comp/r-sas-wilcoxon-ranksum_hl, SAS/ranksum).
const birthWeightNonSmokers = [3.99, 3.89, 3.6, 3.73, 3.31, 3.7, 4.08, 3.61, 3.83, 3.41, 4.13, 3.36, 3.54, 3.51, 2.71];
const birthWeightSmokers = [3.18, 2.74, 2.9, 3.27, 3.65, 3.42, 3.23, 2.86, 3.6, 3.65, 3.69, 3.53, 2.38, 2.34];

describe('rankSumTest against published R and SAS output', () => {
  it('Hollander & Wolfe permeability, exact: W = 35, one-sided p = 0.1272', () => {
    // R: wilcox.test(x, y, alternative = "g") -> W = 35, p-value = 0.1272 (R ?wilcox.test
    // example); Geyer, Stat 5601 Rweb examples (stat.umn.edu/geyer/5601/examp/ranksum.html):
    // "P = 0.1272061" for the same data (lower tail with the samples swapped).
    const r = rankSumTest(permeabilityTerm, permeabilityEarly, { exact: 'auto' });
    expect(r.method).toBe('exact');
    expect(r.u).toBe(35);
    expect(r.pValueGreater).toBeCloseTo(0.1272061, 6);
    expect(r.pValueTwoSided).toBeCloseTo(2 * 0.1272061, 6);
  });

  it('Hollander & Wolfe permeability, large-sample approximation: p = 0.1103', () => {
    // R: wilcox.test(x, y, alternative = "greater", exact = FALSE, correct = FALSE)
    // -> W = 35, p-value = 0.1103 (the "H&W large sample approximation" line of ?wilcox.test).
    const r = rankSumTest(permeabilityTerm, permeabilityEarly, { exact: false, correct: false });
    expect(r.method).toBe('normal');
    expect(r.u).toBe(35);
    expect(r.pValueGreater).toBeCloseTo(0.1103, 4);
  });

  it('airquality Ozone, May vs August (ties, continuity correction): W = 127.5, p = 0.0001208', () => {
    // R: wilcox.test(Ozone ~ Month, data = airquality, subset = Month %in% c(5, 8))
    // -> W = 127.5, p-value = 0.0001208.
    const r = rankSumTest(ozoneMay, ozoneAugust);
    expect(r.ties).toBe(true);
    expect(r.method).toBe('normal');
    expect(r.u).toBe(127.5);
    expect(r.pValueTwoSided).toBeCloseTo(0.0001208, 7);
  });

  it('endmemo.com R examples with ties: W = 51.5, p = 0.5966 and W = 0, p = 0.001364', () => {
    // https://endmemo.com/r/wilcoxon.php: wilcox.test(x, y) on these vectors prints
    // "W = 51.5, p-value = 0.5966" and, with the second y, "W = 0, p-value = 0.001364".
    const x = [1, 5, 9, 24, 56, 21, 3, 7, 21, 4];
    const r1 = rankSumTest(x, [12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5]);
    expect(r1.u).toBe(51.5);
    expect(r1.pValueTwoSided).toBeCloseTo(0.5966, 4);
    const r2 = rankSumTest(x, [1233, 4356, 987, 39999, 1111, 200000]);
    expect(r2.u).toBe(0);
    expect(r2.pValueTwoSided).toBeCloseTo(0.001364, 6);
  });

  it('birth weights (ties): SAS Z = -2.5756, p = 0.0100 (corrected), 0.009392 (uncorrected), one-sided 0.0050', () => {
    // CAMIS: {stats} two-sided 0.01001 with continuity correction, 0.009392 without;
    // SAS PROC NPAR1WAY: Z = -2.5756, Pr < Z = 0.0050, Pr > |Z| = 0.0100.
    const corrected = rankSumTest(birthWeightSmokers, birthWeightNonSmokers);
    expect(corrected.z).toBeCloseTo(-2.5756, 4);
    expect(corrected.pValueTwoSided).toBeCloseTo(0.01001, 5);
    expect(corrected.pValueLess).toBeCloseTo(0.005, 4);
    const uncorrected = rankSumTest(birthWeightSmokers, birthWeightNonSmokers, { correct: false });
    expect(uncorrected.pValueTwoSided).toBeCloseTo(0.009392, 6);
  });
});

describe('exact null distribution of U', () => {
  // Two-tailed alpha = 0.05 critical values of U for n1 = n2 (the largest U with
  // P(U <= U_crit) <= 0.025), as printed in the standard tables of Mann-Whitney critical values
  // (e.g. Zar, Biostatistical Analysis, appendix tables; Siegel & Castellan, Nonparametric
  // Statistics for the Behavioral Sciences).
  const criticalU: [number, number][] = [
    [5, 2],
    [6, 5],
    [7, 8],
    [8, 13],
    [9, 17],
    [10, 23],
    [15, 64],
    [20, 127],
  ];
  it.each(criticalU)('n1 = n2 = %i: critical U = %i', (n, critical) => {
    expect(exactUCdf(critical, n, n)).toBeLessThanOrEqual(0.025);
    expect(exactUCdf(critical + 1, n, n)).toBeGreaterThan(0.025);
    // R's qwilcox(0.025, n, n) is one above the table's critical value.
    expect(exactUQuantile(0.025, n, n)).toBe(critical + 1);
  });

  it('sums to 1, is symmetric and does not depend on which sample is first', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 25 }), (m, n) => {
        const p = exactUDistribution(m, n);
        expect(p.length).toBe(m * n + 1);
        expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
        for (let u = 0; u <= m * n; u++) {
          expect(p[u]).toBeCloseTo(p[m * n - u]!, 14);
          expect(p[u]).toBeCloseTo(exactUDistribution(n, m)[u]!, 14);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('matches brute-force enumeration of all arrangements for small samples', () => {
    // Every choice of which m of the m+n ranks belong to x is equally likely under H0.
    for (const [m, n] of [
      [3, 4],
      [4, 4],
      [2, 6],
    ] as const) {
      const counts = new Float64Array(m * n + 1);
      let total = 0;
      const total_n = m + n;
      for (let mask = 0; mask < 1 << total_n; mask++) {
        if (popcount(mask) !== m) continue;
        let u = 0;
        for (let i = 0; i < total_n; i++) {
          if (!(mask & (1 << i))) continue;
          for (let j = 0; j < i; j++) if (!(mask & (1 << j))) u++; // x at rank i beats y at lower rank j
        }
        counts[u]!++;
        total++;
      }
      const p = exactUDistribution(m, n);
      for (let u = 0; u <= m * n; u++) expect(p[u]).toBeCloseTo(counts[u]! / total, 14);
    }
  });

  it('rejects bad sizes with a clear error', () => {
    expect(() => exactUDistribution(-1, 3)).toThrow(/non-negative integers/);
    expect(() => exactUDistribution(2.5, 3)).toThrow(/non-negative integers/);
  });
});

function popcount(x: number): number {
  let c = 0;
  for (let v = x; v; v &= v - 1) c++;
  return c;
}

describe('Hodges-Lehmann shift and Moses interval', () => {
  it('Hollander & Wolfe permeability: estimate 0.305, exact 95% interval at achieved level 96.0%', () => {
    // Geyer, Stat 5601 (Hollander & Wolfe Examples 4.3 and 4.4): point estimate -0.305 for
    // y - x, and wilcox.test "does not report the actual achieved confidence level (here
    // 96.0%)". The bounds are the 9th smallest and 9th largest of the 50 differences, the
    // order statistics R's exact branch picks (qwilcox(0.025, 10, 5) = 9).
    const shift = hodgesLehmannShift(permeabilityTerm, permeabilityEarly, 0.95);
    expect(shift.method).toBe('exact');
    expect(shift.estimate).toBeCloseTo(0.305, 10);
    expect(shift.achievedConfidence).toBeCloseTo(0.96, 3);
    expect(shift.lower).toBeCloseTo(-0.15, 10);
    expect(shift.upper).toBeCloseTo(0.76, 10);
    expect(hodgesLehmannShift(permeabilityEarly, permeabilityTerm, 0.95).estimate).toBeCloseTo(-0.305, 10);
  });

  it('birth weights: asymptotic (Moses) 95% interval (-0.77, -0.09), as SAS and R report', () => {
    // CAMIS: "Asymptotic (Moses) | SAS (-0.77, -0.09) | {stats} (-0.77, -0.090)".
    const shift = hodgesLehmannShift(birthWeightSmokers, birthWeightNonSmokers, 0.95);
    expect(shift.method).toBe('normal');
    expect(shift.lower).toBeCloseTo(-0.77, 10);
    expect(shift.upper).toBeCloseTo(-0.09, 10);
  });

  it('returns unbounded ends when the samples are too small for the level', () => {
    // With 2 + 2 values P(U = 0) = 1/6 > 0.025: no order statistic reaches 95 %.
    const shift = hodgesLehmannShift([1, 2], [3, 4], 0.95);
    expect(shift.lower).toBeNull();
    expect(shift.upper).toBeNull();
    expect(shift.estimate).toBe(-2);
  });

  it('k-th smallest difference equals sorting all differences (fast-check)', () => {
    const value = fc.oneof(fc.integer({ min: -20, max: 20 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 30 }), fc.array(value, { minLength: 1, maxLength: 30 }), fc.nat(), (x, y, pick) => {
        const xs = Float64Array.from(x).sort();
        const ys = Float64Array.from(y).sort();
        const all = Float64Array.from(x.flatMap((a) => y.map((b) => a - b))).sort();
        const k = (pick % all.length) + 1;
        expect(kthSmallestDifference(xs, ys, k)).toBe(all[k - 1]);
      }),
      { numRuns: 300 },
    );
  });

  it('swapping the samples negates the shift and mirrors the interval (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 3, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 3, maxLength: 40 }),
        (x, y) => {
          const forward = hodgesLehmannShift(x, y, 0.9);
          const backward = hodgesLehmannShift(y, x, 0.9);
          expect(backward.estimate).toBe(-forward.estimate + 0);
          expect(backward.lower).toBe(forward.upper === null ? null : -forward.upper + 0);
          expect(backward.upper).toBe(forward.lower === null ? null : -forward.lower + 0);
          expect(hodgesLehmannEstimate(x, y)).toBe(forward.estimate);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('U of x and U of y add up to n1·n2, and the one-sided p-values swap (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 60 }),
        (x, y) => {
          const xy = rankSumTest(x, y);
          const yx = rankSumTest(y, x);
          expect(xy.u + yx.u).toBe(x.length * y.length);
          expect(xy.pValueGreater).toBeCloseTo(yx.pValueLess, 12);
          expect(xy.pValueTwoSided).toBeCloseTo(yx.pValueTwoSided, 12);
        },
      ),
      { numRuns: 200 },
    );
  });
});
