import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { judgeMetric } from './judge.js';
import { createRng } from './prng.test-util.js';
import {
  DESIGN_MIXTURE_SPREAD,
  DESIGN_MIXTURE_WEIGHT,
  mixtureBoundary,
  mixtureLogE,
  mixtureVariance,
  oneSidedMixtureBoundary,
  oneSidedMixtureLogE,
  sequentialLook,
  truncatedNormalMixtureLogE,
  type Mixture,
} from './sequential.js';
import type { MetricSpec } from './spec.js';

/** ∫₀^∞ 2φ_ρ(λ) exp(λW - λ²v/2) dλ by composite Simpson: an independent check of the closed form. */
function mixtureByQuadrature(w: number, v: number, rho2: number): number {
  const rho = Math.sqrt(rho2);
  const upper = 12 * rho + Math.max(0, (2 * w) / v) + 1;
  const steps = 20000;
  const h = upper / steps;
  const f = (lambda: number): number => (2 / (rho * Math.sqrt(2 * Math.PI))) * Math.exp(-(lambda * lambda) / (2 * rho2) + lambda * w - (lambda * lambda * v) / 2);
  let sum = f(0) + f(upper);
  for (let i = 1; i < steps; i++) sum += (i % 2 === 1 ? 4 : 2) * f(i * h);
  return (sum * h) / 3;
}

/** Two-sided Gaussian-mixture margin in z units (Waudby-Smith et al.; `std_conjmix_margin` · √t). */
function twoSidedBoundary(t: number, rho2: number, alpha: number): number {
  return Math.sqrt(t) * Math.sqrt((2 * (t * rho2 + 1) * Math.log(Math.sqrt(t * rho2 + 1) / alpha)) / (t * t * rho2));
}

describe('one-sided normal mixture', () => {
  it.each([
    [0, 10, 0.05],
    [3, 10, 0.05],
    [-2, 50, 0.2],
    [12, 200, 0.03],
    [25, 400, 0.01],
  ])('closed form equals numerical integration at W=%f, v=%f, rho2=%f', (w, v, rho2) => {
    const closed = Math.exp(oneSidedMixtureLogE(w, v, rho2));
    expect(closed / mixtureByQuadrature(w, v, rho2)).toBeCloseTo(1, 6);
  });

  it('the boundary is where the mixture reaches 1/alpha', () => {
    for (const v of [5, 30, 250, 5000]) {
      for (const alpha of [0.01, 0.05, 0.1]) {
        const rho2 = mixtureVariance(alpha, 250);
        const kappa = oneSidedMixtureBoundary(v, rho2, alpha);
        expect(oneSidedMixtureLogE(kappa * Math.sqrt(v), v, rho2)).toBeCloseTo(Math.log(1 / alpha), 9);
      }
    }
  });

  it('lies between the two-sided boundaries at 2·alpha and at alpha (M <= M⁺ <= 2M)', () => {
    for (const v of [10, 100, 1000, 10000]) {
      const rho2 = mixtureVariance(0.05, 250);
      const oneSided = oneSidedMixtureBoundary(v, rho2, 0.05);
      expect(oneSided).toBeGreaterThan(twoSidedBoundary(v, rho2, 0.1));
      expect(oneSided).toBeLessThan(twoSidedBoundary(v, rho2, 0.05));
    }
  });

  it('uses the published rho² for a planned sample size', () => {
    // best_rho2_approx(t_opt, alpha) = (2 log(1/alpha) + log(1 + 2 log(1/alpha))) / t_opt.
    expect(mixtureVariance(0.025, 100)).toBeCloseTo((2 * Math.log(40) + Math.log(1 + 2 * Math.log(40))) / 100, 12);
    // And it is (close to) the minimiser of the boundary at that time.
    const rho2 = mixtureVariance(0.05, 250);
    const at = (r2: number): number => oneSidedMixtureBoundary(250, r2, 0.05);
    expect(at(rho2)).toBeLessThan(at(rho2 * 3));
    expect(at(rho2)).toBeLessThan(at(rho2 / 3));
  });

  it("Ville's inequality: Gaussian walks at the null cross the alpha boundary in at most an alpha fraction of runs", () => {
    // Known unit variance, so M⁺ is an exact martingale: P(ever crossing) <= alpha, here at
    // every one of 2000 steps. A fixed one-sided z = 1.645 checked as often crosses in most runs.
    const alpha = 0.05;
    const rho2 = mixtureVariance(alpha, 250);
    const steps = 2000;
    const kappa = Float64Array.from({ length: steps }, (_, i) => oneSidedMixtureBoundary(i + 1, rho2, alpha));
    const rng = createRng(7);
    const runs = 2000;
    let crossed = 0;
    let naiveCrossed = 0;
    for (let r = 0; r < runs; r++) {
      let sum = 0;
      let hit = false;
      let naiveHit = false;
      for (let t = 1; t <= steps; t++) {
        sum += rng.normal();
        const z = sum / Math.sqrt(t);
        if (z >= kappa[t - 1]!) hit = true;
        if (z >= 1.645) naiveHit = true;
      }
      if (hit) crossed++;
      if (naiveHit) naiveCrossed++;
    }
    const slack = 3 * Math.sqrt((alpha * (1 - alpha)) / runs);
    expect(crossed / runs).toBeLessThanOrEqual(alpha + slack);
    expect(naiveCrossed / runs).toBeGreaterThan(0.3);
  });
});

/** ∫₀^∞ exp(λW - λ²v/2) N(λ; μ, τ²) dλ / P(λ >= 0) by composite Simpson, independent of the closed form. */
function truncatedNormalByQuadrature(w: number, v: number, mean: number, variance: number): number {
  const tau = Math.sqrt(variance);
  const peak = Math.max(0, (w + mean / variance) / (v + 1 / variance));
  const spread = 1 / Math.sqrt(v + 1 / variance);
  const upper = peak + 14 * spread + 14 * tau;
  const steps = 40000;
  const h = upper / steps;
  const f = (lambda: number): number => Math.exp(-((lambda - mean) ** 2) / (2 * variance) + lambda * w - (lambda * lambda * v) / 2) / (tau * Math.sqrt(2 * Math.PI));
  let sum = f(0) + f(upper);
  for (let i = 1; i < steps; i++) sum += (i % 2 === 1 ? 4 : 2) * f(i * h);
  // P(λ >= 0) for N(μ, τ²), also by quadrature, over the same grid shape.
  const g = (lambda: number): number => Math.exp(-((lambda - mean) ** 2) / (2 * variance)) / (tau * Math.sqrt(2 * Math.PI));
  const gUpper = Math.max(mean, 0) + 14 * tau;
  const gh = gUpper / steps;
  let mass = g(0) + g(gUpper);
  for (let i = 1; i < steps; i++) mass += (i % 2 === 1 ? 4 : 2) * g(i * gh);
  return (sum * h) / 3 / ((mass * gh) / 3);
}

describe('the design part of the mixture (a normal centred on the design effect, truncated to λ >= 0)', () => {
  it.each([
    [0, 10, 0.13, 0.002],
    [5, 100, 0.13, 0.0019],
    [40, 300, 0.13, 0.0019],
    [-10, 300, 0.13, 0.0019],
    [12, 50, 0.5, 0.03],
    [3, 20, 0.05, 0.01],
  ])('closed form equals numerical integration at W=%f, v=%f, mu=%f, tau2=%f', (w, v, mean, variance) => {
    const closed = Math.exp(truncatedNormalMixtureLogE(w, v, mean, variance));
    expect(closed / truncatedNormalByQuadrature(w, v, mean, variance)).toBeCloseTo(1, 6);
  });

  it('is the half-normal mixture of Howard et al. when centred at 0', () => {
    fc.assert(
      fc.property(fc.double({ min: -50, max: 80, noNaN: true }), fc.double({ min: 1, max: 5000, noNaN: true }), fc.double({ min: 1e-4, max: 1, noNaN: true }), (w, v, rho2) => {
        expect(truncatedNormalMixtureLogE(w, v, 0, rho2)).toBeCloseTo(oneSidedMixtureLogE(w, v, rho2), 9);
      }),
    );
  });

  it("tends to Wald's likelihood ratio exp(μW - μ²v/2) as its spread goes to 0", () => {
    for (const [w, v, mean] of [
      [10, 100, 0.13],
      [-3, 40, 0.3],
      [60, 500, 0.1],
    ] as const) {
      const wald = mean * w - (mean * mean * v) / 2;
      expect(truncatedNormalMixtureLogE(w, v, mean, 1e-12)).toBeCloseTo(wald, 6);
      expect(truncatedNormalMixtureLogE(w, v, mean, 0)).toBe(wald);
    }
  });

  it('the whole mixture is increasing in W and is w·design + (1 - w)·broad (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -40, max: 60, noNaN: true }),
        fc.double({ min: 0.01, max: 5, noNaN: true }),
        fc.double({ min: 1, max: 3000, noNaN: true }),
        fc.double({ min: 0.01, max: 3, noNaN: true }),
        (w, dw, v, delta) => {
          const mixture: Mixture = { rho2: mixtureVariance(0.05, 250), designEffect: delta, designWeight: DESIGN_MIXTURE_WEIGHT, designSpread: DESIGN_MIXTURE_SPREAD };
          expect(mixtureLogE(w + dw, v, mixture)).toBeGreaterThan(mixtureLogE(w, v, mixture));
          // In logs: the e-values themselves overflow a double for large W.
          const design = Math.log(DESIGN_MIXTURE_WEIGHT) + truncatedNormalMixtureLogE(w, v, delta, (DESIGN_MIXTURE_SPREAD * delta) ** 2);
          const broad = Math.log(1 - DESIGN_MIXTURE_WEIGHT) + oneSidedMixtureLogE(w, v, mixture.rho2);
          const top = Math.max(design, broad);
          const logSum = top + Math.log(Math.exp(design - top) + Math.exp(broad - top));
          expect(mixtureLogE(w, v, mixture) - logSum).toBeCloseTo(0, 9);
        },
      ),
    );
  });

  it('without a design effect the mixture is the broad half-normal one, boundary included', () => {
    const rho2 = mixtureVariance(0.05, 250);
    for (const v of [10, 250, 4000]) {
      const none: Mixture = { rho2, designEffect: null, designWeight: DESIGN_MIXTURE_WEIGHT, designSpread: DESIGN_MIXTURE_SPREAD };
      expect(mixtureBoundary(v, none, 0.05)).toBe(oneSidedMixtureBoundary(v, rho2, 0.05));
    }
  });

  it('the boundary is where the mixture reaches 1/alpha, and is lowest near the design effect\'s own sample size', () => {
    const rho2 = mixtureVariance(0.05, 250);
    const delta = 0.13;
    const mixture: Mixture = { rho2, designEffect: delta, designWeight: DESIGN_MIXTURE_WEIGHT, designSpread: DESIGN_MIXTURE_SPREAD };
    for (const v of [10, 100, 400, 3000]) {
      const kappa = mixtureBoundary(v, mixture, 0.05);
      expect(mixtureLogE(kappa * Math.sqrt(v), v, mixture)).toBeCloseTo(Math.log(20), 9);
    }
    // Wald's SPRT for δ crosses at drift δ after 2 ln(1/α)/δ² ≈ 354 pairs: there the tuned
    // boundary is lower than the broad one, and at 10 pairs it is higher (the price).
    const at = 2 * Math.log(20) / (delta * delta);
    expect(mixtureBoundary(at, mixture, 0.05)).toBeLessThan(oneSidedMixtureBoundary(at, rho2, 0.05) - 0.1);
    expect(mixtureBoundary(10, mixture, 0.05)).toBeGreaterThan(oneSidedMixtureBoundary(10, rho2, 0.05));
  });

  it("Ville's inequality with the tuned mixture: Gaussian walks at the null cross in at most an alpha fraction of runs", () => {
    const alpha = 0.05;
    const mixture: Mixture = { rho2: mixtureVariance(alpha, 250), designEffect: 0.13, designWeight: DESIGN_MIXTURE_WEIGHT, designSpread: DESIGN_MIXTURE_SPREAD };
    const steps = 2000;
    const kappa = Float64Array.from({ length: steps }, (_, i) => mixtureBoundary(i + 1, mixture, alpha));
    const rng = createRng(17);
    const runs = 2000;
    let crossed = 0;
    for (let r = 0; r < runs; r++) {
      let sum = 0;
      for (let t = 1; t <= steps; t++) {
        sum += rng.normal();
        if (sum / Math.sqrt(t) >= kappa[t - 1]!) {
          crossed++;
          break;
        }
      }
    }
    const slack = 3 * Math.sqrt((alpha * (1 - alpha)) / runs);
    expect(crossed / runs).toBeLessThanOrEqual(alpha + slack);
  });

  it('is not needlessly conservative: the point-mass limit crosses at close to the exp(-2ab) rate of Brownian motion', () => {
    // For Brownian motion, P(∃t: B_t >= a + b·t) = exp(-2ab) (Doob 1949, "Heuristic approach to
    // the Kolmogorov-Smirnov theorems"; Siegmund 1985, Sequential Analysis). Wald's LR for μ
    // reaches 1/α on the line W = ln(1/α)/μ + μv/2, so 2ab = ln(1/α) and the continuous crossing
    // probability is exactly α. A walk checked at integer times crosses a little less often.
    const alpha = 0.05;
    const mean = 0.1;
    const rng = createRng(23);
    const runs = 4000;
    const steps = 4000;
    let crossed = 0;
    for (let r = 0; r < runs; r++) {
      let sum = 0;
      for (let t = 1; t <= steps; t++) {
        sum += rng.normal();
        if (truncatedNormalMixtureLogE(sum, t, mean, 0) >= Math.log(1 / alpha)) {
          crossed++;
          break;
        }
      }
    }
    const slack = 3 * Math.sqrt((alpha * (1 - alpha)) / runs);
    // Checking at integer times moves the line up by about 0.583 (Siegmund's correction for
    // discrete monitoring): exp(-2·0.05·(29.96 + 0.583)) ≈ 4.7 %. By step 4000 the line is at
    // 230, 3.6 standard deviations of the walk, so stopping there loses almost nothing.
    expect(crossed / runs).toBeLessThanOrEqual(alpha + slack);
    expect(crossed / runs).toBeGreaterThan(0.7 * alpha);
  });
});

describe('sequentialLook', () => {
  const base = { canaryVariance: 4, canaryCount: 100, baselineVariance: 4, baselineCount: 100, tolerance: 0.1, alpha: 0.05 } as const;

  it('fails a large increase, passes no change, and reports the ratio-of-means interval', () => {
    const fail = sequentialLook({ ...base, canaryMean: 15, baselineMean: 10, badSign: 1 });
    expect(fail.decision).toBe('fail');
    expect(fail.relativeChange).toBeCloseTo(0.5, 12);
    expect(fail.lower!).toBeGreaterThan(0.1);
    expect(fail.upper!).toBeGreaterThan(0.5);
    const pass = sequentialLook({ ...base, canaryMean: 10, baselineMean: 10, badSign: 1 });
    expect(pass.decision).toBe('pass');
    expect(pass.upper!).toBeLessThan(0.1);
    expect(pass.lower!).toBeLessThan(0);
  });

  it('the decision and the confidence sequence agree: fail iff the lower end is beyond the tolerance', () => {
    const rng = createRng(11);
    for (let i = 0; i < 2000; i++) {
      const input = {
        canaryMean: 10 + 3 * rng.normal(),
        baselineMean: 10 + rng.normal(),
        canaryVariance: 1 + 10 * rng.uniform(),
        baselineVariance: 1 + 10 * rng.uniform(),
        canaryCount: 10 + Math.floor(300 * rng.uniform()),
        baselineCount: 10 + Math.floor(300 * rng.uniform()),
        badSign: rng.uniform() < 0.5 ? (1 as const) : (-1 as const),
        tolerance: 0.2 * rng.uniform(),
        alpha: 0.05,
      };
      const look = sequentialLook(input);
      const bad = input.badSign * input.tolerance;
      if (look.lower === null || look.upper === null) continue;
      const beyond = input.badSign > 0 ? look.lower > bad : look.upper < bad;
      const within = input.badSign > 0 ? look.upper < bad : look.lower > bad;
      // Up to rounding at the boundary itself.
      const margin = 1e-9;
      if (beyond && Math.abs((input.badSign > 0 ? look.lower : look.upper) - bad) > margin) expect(look.decision).toBe('fail');
      if (within && Math.abs((input.badSign > 0 ? look.upper : look.lower) - bad) > margin) expect(look.decision).toBe('pass');
      if (!beyond && !within) expect(look.decision).toBe('continue');
    }
  });

  it('tunes to the design change: its standardized drift (design - tol)·|mean_b| / sd of a pair', () => {
    const look = sequentialLook({ ...base, canaryMean: 10.5, baselineMean: 10, badSign: 1, designChange: 0.25 });
    // σ_pair² = s²_c + u²·s²_b = 4 + 1.1²·4.
    expect(look.designEffect).toBeCloseTo((0.15 * 10) / Math.sqrt(4 + 1.21 * 4), 12);
    expect(look.designWeight).toBe(DESIGN_MIXTURE_WEIGHT);
    const untuned = sequentialLook({ ...base, canaryMean: 10.5, baselineMean: 10, badSign: 1 });
    expect(untuned.designEffect).toBeNull();
    expect(untuned.designWeight).toBe(0);
    // A baseline mean of exactly 0 has no relative change to tune for.
    expect(sequentialLook({ ...base, canaryMean: 1, baselineMean: 0, badSign: 1, designChange: 0.25 }).designEffect).toBeNull();
  });

  it('rejects a design change that is not beyond the tolerance', () => {
    for (const designChange of [0.1, 0.05, NaN, Infinity]) {
      expect(() => sequentialLook({ ...base, canaryMean: 10, baselineMean: 10, badSign: 1, designChange })).toThrow(/designChange must be a finite number > tolerance/);
    }
  });

  it('with a design change, the decision and the confidence sequence still agree (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.record({
          canaryMean: fc.double({ min: 5, max: 15, noNaN: true }),
          baselineMean: fc.double({ min: 8, max: 12, noNaN: true }),
          canaryVariance: fc.double({ min: 0.5, max: 10, noNaN: true }),
          baselineVariance: fc.double({ min: 0.5, max: 10, noNaN: true }),
          canaryCount: fc.integer({ min: 10, max: 400 }),
          baselineCount: fc.integer({ min: 10, max: 400 }),
          badSign: fc.constantFrom(1 as const, -1 as const),
          tolerance: fc.double({ min: 0, max: 0.3, noNaN: true }),
          extra: fc.double({ min: 0.01, max: 0.5, noNaN: true }),
        }),
        ({ extra, ...input }) => {
          const look = sequentialLook({ ...input, alpha: 0.05, designChange: input.tolerance + extra });
          fc.pre(look.lower !== null && look.upper !== null);
          const bad = input.badSign * input.tolerance;
          const edge = input.badSign > 0 ? look.lower : look.upper;
          const far = input.badSign > 0 ? look.upper : look.lower;
          fc.pre(Math.abs(edge - bad) > 1e-9 && Math.abs(far - bad) > 1e-9);
          const beyond = input.badSign > 0 ? edge > bad : edge < bad;
          const within = input.badSign > 0 ? far < bad : far > bad;
          expect(look.decision).toBe(beyond ? 'fail' : within ? 'pass' : 'continue');
        },
      ),
    );
  });

  it('mirrors: a decrease with decrease-is-bad behaves like an increase with increase-is-bad', () => {
    const up = sequentialLook({ ...base, canaryMean: 10, baselineMean: 9, badSign: 1, tolerance: 0 });
    const down = sequentialLook({ ...base, canaryMean: 9, baselineMean: 10, badSign: -1, tolerance: 0 });
    expect(down.decision).toBe(up.decision);
    expect(down.z).toBeCloseTo(up.z, 12);
  });

  it('decides exactly when neither sample varies, and gives no interval for a baseline mean near 0', () => {
    const same = sequentialLook({ ...base, canaryMean: 0, baselineMean: 0, canaryVariance: 0, baselineVariance: 0, badSign: 1 });
    expect(same.decision).toBe('pass');
    const worse = sequentialLook({ ...base, canaryMean: 2, baselineMean: 1, canaryVariance: 0, baselineVariance: 0, badSign: 1 });
    expect(worse.decision).toBe('fail');
    const nearZero = sequentialLook({ ...base, canaryMean: 5, baselineMean: 0.01, badSign: 1 });
    expect(nearZero.lower).toBeNull();
    expect(nearZero.upper).toBeNull();
    expect(nearZero.decision).toBe('fail'); // the contrast still shows the canary far above (1 + 10 %) · baseline
  });
});

describe('the sequential judge under repeated looks (seeded simulation)', () => {
  const spec: MetricSpec = { name: 'p99 latency', direction: 'increase-is-bad', tolerance: 0.05, critical: true, alpha: 0.05 };

  /** Fraction of runs that ever fail when looking after every batch up to maxPerArm. */
  function everFails(seed: number, runs: number, draw: (rng: ReturnType<typeof createRng>, arm: 'canary' | 'baseline') => number, batch: { canary: number; baseline: number }, maxLooks: number): number {
    let fails = 0;
    for (let r = 0; r < runs; r++) {
      const rng = createRng(seed + r);
      const canary: number[] = [];
      const baseline: number[] = [];
      for (let look = 0; look < maxLooks; look++) {
        for (let i = 0; i < batch.canary; i++) canary.push(draw(rng, 'canary'));
        for (let i = 0; i < batch.baseline; i++) baseline.push(draw(rng, 'baseline'));
        const verdict = judgeMetric(spec, canary, baseline).verdict;
        if (verdict === 'fail') {
          fails++;
          break;
        }
        if (verdict === 'pass') break; // the controller stops at the first decision
      }
    }
    return fails / runs;
  }

  const runs = 400;
  const slack = 3 * Math.sqrt((0.05 * 0.95) / runs);

  it('log-normal latency exactly at the tolerance (+5 %): false fails stay below alpha over 60 looks', () => {
    // The hardest null: the true ratio of means is exactly 1.05, on the edge of "does not count".
    const rate = everFails(100_000, runs, (rng, arm) => rng.logNormal(Math.log(10), 0.4) * (arm === 'canary' ? 1.05 : 1), { canary: 10, baseline: 10 }, 60);
    expect(rate).toBeLessThanOrEqual(0.05 + slack);
  });

  it('unbalanced arms with unequal variances at the tolerance: false fails stay below alpha', () => {
    const rate = everFails(200_000, runs, (rng, arm) => (arm === 'canary' ? 105 + 30 * rng.normal() : 100 + 10 * rng.normal()), { canary: 4, baseline: 16 }, 60);
    expect(rate).toBeLessThanOrEqual(0.05 + slack);
  });

  it('a fixed-horizon test judged at every look would not keep that bound', () => {
    // Same data as the first case through the Mann-Whitney judge at every look: peeking at a
    // fixed-horizon test inflates its false fails well beyond alpha, which is why the
    // sequential test is the default gate.
    const mw: MetricSpec = { ...spec, test: 'mann-whitney' };
    let fails = 0;
    const peekRuns = 200;
    for (let r = 0; r < peekRuns; r++) {
      const rng = createRng(100_000 + r);
      const canary: number[] = [];
      const baseline: number[] = [];
      for (let look = 0; look < 60; look++) {
        for (let i = 0; i < 10; i++) canary.push(rng.logNormal(Math.log(10), 0.4) * 1.05);
        for (let i = 0; i < 10; i++) baseline.push(rng.logNormal(Math.log(10), 0.4));
        if (judgeMetric(mw, canary, baseline).verdict === 'fail') {
          fails++;
          break;
        }
      }
    }
    expect(fails / peekRuns).toBeGreaterThan(0.1);
  });

  it('catches a 30 % regression early in every run', () => {
    for (let r = 0; r < 50; r++) {
      const rng = createRng(300_000 + r);
      const canary: number[] = [];
      const baseline: number[] = [];
      let verdict = 'inconclusive';
      while (verdict === 'inconclusive' && canary.length < 400) {
        for (let i = 0; i < 10; i++) canary.push(rng.logNormal(Math.log(10), 0.4) * 1.3);
        for (let i = 0; i < 10; i++) baseline.push(rng.logNormal(Math.log(10), 0.4));
        verdict = judgeMetric(spec, canary, baseline).verdict;
      }
      expect(verdict).toBe('fail');
    }
  });
});
