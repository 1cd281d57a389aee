// The sequential gate: a one-sided normal-mixture test martingale (mixture SPRT) on the
// contrast between canary and baseline means, with plug-in variances, evaluated afresh from
// all data at every look. Its time-uniform guarantee (Ville's inequality) makes it valid
// however often the controller looks. Sources:
//  - Robbins (1970), "Statistical methods related to the law of the iterated logarithm":
//    the normal mixture martingale.
//  - Howard, Ramdas, McAuliffe, Sekhon (2021), "Time-uniform, nonparametric, nonasymptotic
//    confidence sequences", Ann. Statist. 49(2): the one-sided normal mixture boundary.
//  - Johari, Koomen, Pekelis, Walsh (2017/2022), "Always valid inference: continuous
//    monitoring of A/B tests", Oper. Res.: the mixture SPRT on a difference of means with a
//    plug-in variance, as used in production A/B testing.
//  - Waudby-Smith, Arnold, Wu, Howard, Ramdas (2024), "Time-uniform central limit theory and
//    asymptotic confidence sequences", Ann. Statist.: validity with estimated variances
//    (asymptotic), and the choice of the mixture variance ρ² for a planned sample size.
import { logStandardNormalCdf } from './normal.js';

/**
 * Effective samples per side at which the boundary is tightest. The boundary is flat around
 * its optimum (within 5 % of its minimum from about 80 to 1000 samples at α = 0.05, see
 * docs/judge.md), so a fixed planning value serves canaries of very different lengths.
 */
export const SEQUENTIAL_PLANNED_SAMPLES = 250;

/**
 * Mixture variance ρ² of the standardized effect that makes the boundary tightest near
 * `plannedSamples`: ρ² = (-2 ln α + ln(1 - 2 ln α)) / t* (Waudby-Smith et al. 2024; the
 * authors' R code names it `best_rho2_approx`, package drconfseq).
 */
export function mixtureVariance(alpha: number, plannedSamples: number): number {
  const l = -2 * Math.log(alpha);
  return (l + Math.log(1 + l)) / plannedSamples;
}

/**
 * ln M⁺ for the one-sided normal mixture martingale: with W the standardized sum (drift
 * positive when the alternative holds) at intrinsic time v, mixing λ ~ half-normal(ρ²),
 *   M⁺ = ∫₀^∞ 2φ_ρ(λ) exp(λW - λ²v/2) dλ = 2 exp(W²/2a) Φ(W/√a) / √(1 + ρ²v),  a = v + 1/ρ².
 * Under the null M⁺ is a nonnegative martingale with mean 1, so P(sup M⁺ >= 1/α) <= α.
 */
export function oneSidedMixtureLogE(w: number, v: number, rho2: number): number {
  const a = v + 1 / rho2;
  return Math.log(2) - 0.5 * Math.log1p(rho2 * v) + (w * w) / (2 * a) + logStandardNormalCdf(w / Math.sqrt(a));
}

/** The z-value (W/√v) at which M⁺ reaches 1/α: the decision boundary at intrinsic time v. */
export function oneSidedMixtureBoundary(v: number, rho2: number, alpha: number): number {
  if (!(v > 0)) throw new RangeError(`oneSidedMixtureBoundary: v must be > 0, got ${v}`);
  const target = -Math.log(alpha);
  // M⁺ is increasing in W; ln M⁺(0) = -½ ln(1 + ρ²v) < target.
  let low = 0;
  let high = Math.sqrt(v) * 4 + 4;
  while (oneSidedMixtureLogE(high, v, rho2) < target) high *= 2;
  for (let i = 0; i < 200 && high - low > 1e-12 * high; i++) {
    const mid = (low + high) / 2;
    if (oneSidedMixtureLogE(mid, v, rho2) < target) low = mid;
    else high = mid;
  }
  return high / Math.sqrt(v);
}

export interface SequentialInput {
  readonly canaryMean: number;
  readonly canaryVariance: number;
  readonly canaryCount: number;
  readonly baselineMean: number;
  readonly baselineVariance: number;
  readonly baselineCount: number;
  /** +1 when an increase is bad, -1 when a decrease is bad. */
  readonly badSign: 1 | -1;
  readonly tolerance: number;
  readonly alpha: number;
  readonly plannedSamples?: number;
}

export type SequentialDecision = 'fail' | 'pass' | 'continue';

export interface SequentialOutcome {
  readonly decision: SequentialDecision;
  /** Standardized contrast at the tolerance boundary, positive = canary worse than the tolerance allows. */
  readonly z: number;
  /** |z| needed for a decision at this look (∞ when undefined). */
  readonly boundary: number;
  /** Evidence against "within tolerance" (a fail needs >= 1/α). */
  readonly eValueFail: number;
  /** Evidence against "beyond tolerance" (a pass needs >= 1/α). */
  readonly eValuePass: number;
  /** Intrinsic time: the number of pairs that would carry the same information. */
  readonly effectiveSamples: number;
  readonly mixtureVariance: number;
  /** Relative change of means, (canary - baseline) / |baseline|; NaN when the baseline mean is 0. */
  readonly relativeChange: number;
  /** The 1 - 2α confidence sequence for the relative change (null ends: unbounded). */
  readonly lower: number | null;
  readonly upper: number | null;
}

/**
 * One look of the sequential gate. The hypothesis on the boundary of the tolerance is
 *   H_tol:  μ_c = u·μ_b,  u = 1 + s·tol·sign(μ_b)   (s = +1 if an increase is bad, else -1),
 * tested with the contrast D = x̄_c - u·x̄_b, se² = s²_c/n_c + u²s²_b/n_b, and two one-sided
 * mixture martingales, one for "worse than tolerance" (fail) and one for "better" (pass), each
 * at level α. Inverting the same boundary for every u (Fieller's construction) gives the
 * confidence sequence for the ratio of means reported next to the decision.
 */
export function sequentialLook(input: SequentialInput): SequentialOutcome {
  const { canaryMean: a, baselineMean: b, badSign: s, tolerance, alpha } = input;
  const planned = input.plannedSamples ?? SEQUENTIAL_PLANNED_SAMPLES;
  const rho2 = mixtureVariance(alpha, planned);
  const varA = input.canaryVariance / input.canaryCount;
  const varB = input.baselineVariance / input.baselineCount;
  const signB = b < 0 ? -1 : 1;
  const uTol = 1 + s * tolerance * signB;
  const contrast = a - uTol * b;
  const se2 = varA + uTol * uTol * varB;
  const relativeChange = b === 0 ? NaN : (a - b) / Math.abs(b);
  const undecided: SequentialOutcome = {
    decision: 'continue',
    z: NaN,
    boundary: NaN,
    eValueFail: NaN,
    eValuePass: NaN,
    effectiveSamples: NaN,
    mixtureVariance: rho2,
    relativeChange,
    lower: null,
    upper: null,
  };
  // Values so large that the moments overflow say nothing usable about a change.
  if (!Number.isFinite(contrast) || !Number.isFinite(se2)) return undecided;

  if (se2 === 0) {
    // No variability on either side: the observed means are the truth, so the change either
    // exceeds the tolerance or it does not.
    const worse = s * contrast > 0;
    return {
      decision: worse ? 'fail' : 'pass',
      z: worse ? Infinity : -Infinity,
      boundary: 0,
      eValueFail: worse ? Infinity : 0,
      eValuePass: worse ? 0 : Infinity,
      effectiveSamples: Math.min(input.canaryCount, input.baselineCount),
      mixtureVariance: rho2,
      relativeChange,
      lower: relativeChange,
      upper: relativeChange,
    };
  }

  const z = (s * contrast) / Math.sqrt(se2);
  const v = (input.canaryVariance + uTol * uTol * input.baselineVariance) / se2;
  if (!Number.isFinite(v) || !(v > 0)) return undecided;
  const boundary = oneSidedMixtureBoundary(v, rho2, alpha);
  const w = z * Math.sqrt(v);
  const eValueFail = Math.exp(oneSidedMixtureLogE(w, v, rho2));
  const eValuePass = Math.exp(oneSidedMixtureLogE(-w, v, rho2));
  const threshold = 1 / alpha;
  const decision: SequentialDecision = eValueFail >= threshold ? 'fail' : eValuePass >= threshold ? 'pass' : 'continue';
  const { lower, upper } = fiellerRelativeBounds(a, b, varA, varB, boundary);
  return { decision, z, boundary, eValueFail, eValuePass, effectiveSamples: v, mixtureVariance: rho2, relativeChange, lower, upper };
}

/**
 * The set of ratios u = μ_c/μ_b with (a - u·b)² <= κ²(varA + u²·varB), expressed as the
 * relative change (u - 1)·sign(b). It is a bounded interval only when the baseline mean is
 * itself distinguishable from zero at this boundary (b² > κ²·varB); otherwise both ends are null.
 */
function fiellerRelativeBounds(a: number, b: number, varA: number, varB: number, kappa: number): { lower: number | null; upper: number | null } {
  const k2 = kappa * kappa;
  const qa = b * b - k2 * varB;
  if (!(qa > 0)) return { lower: null, upper: null };
  const disc = a * a * b * b - qa * (a * a - k2 * varA);
  const root = Math.sqrt(Math.max(0, disc));
  const u1 = (a * b - root) / qa;
  const u2 = (a * b + root) / qa;
  const sign = b < 0 ? -1 : 1;
  const r1 = (u1 - 1) * sign;
  const r2 = (u2 - 1) * sign;
  return { lower: Math.min(r1, r2), upper: Math.max(r1, r2) };
}
