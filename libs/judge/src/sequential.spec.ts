import { describe, expect, it } from 'vitest';
import { judgeMetric } from './judge.js';
import { createRng } from './prng.test-util.js';
import { mixtureVariance, oneSidedMixtureBoundary, oneSidedMixtureLogE, sequentialLook } from './sequential.js';
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
