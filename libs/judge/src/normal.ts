// Standard normal distribution, from @stdlib (a maintained, tested implementation of the
// CDF via erfc and the quantile via erfinv). Upper tails are taken as Φ(-z) so that small
// p-values keep their relative precision instead of cancelling in 1 - Φ(z).
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';

/** Φ(z): P(Z <= z) for a standard normal Z. */
export function standardNormalCdf(z: number): number {
  return normalCdf(z, 0, 1);
}

/** P(Z >= z) for a standard normal Z, accurate in the far upper tail. */
export function standardNormalUpperTail(z: number): number {
  return normalCdf(-z, 0, 1);
}

/** Φ⁻¹(p): the standard normal quantile. */
export function standardNormalQuantile(p: number): number {
  return normalQuantile(p, 0, 1);
}

/** log Φ(z), finite down to z ≈ -38 (where Φ underflows to 0 and the log is -Infinity). */
export function logStandardNormalCdf(z: number): number {
  return Math.log(normalCdf(z, 0, 1));
}
