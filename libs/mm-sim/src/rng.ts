/**
 * Seeded randomness for the simulator. No `Math.random` anywhere: every random draw comes
 * from an `Rng` created from the node seed.
 *
 * Generator: sfc32 ("Small Fast Chaotic", 128-bit state, by Chris Doty-Humphrey, from the
 * PractRand test suite, where it passes 32 TB without failure). The state is filled with
 * splitmix32 (the 32-bit variant of Steele, Lea and Flood's SplitMix, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014), which turns any seed, even 0, into a
 * well-mixed state.
 */

/** One splitmix32 step: returns the next state and the output (as [state, out]). */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [s, z >>> 0];
}

/** FNV-1a over a string (32-bit), used to derive independent streams from labels. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Mixes a seed with labels into a new 32-bit seed (deterministic, order-sensitive). */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  let h = seed >>> 0;
  for (const label of labels) {
    const v = typeof label === 'number' ? label >>> 0 : hashString(label);
    const [, out] = splitmix32((h ^ v) >>> 0);
    h = Math.imul(out ^ (h >>> 7), 0x9e3779b1) >>> 0;
  }
  return h;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal = 0;
  private hasSpare = false;

  constructor(seed: number) {
    let s = seed >>> 0;
    let out: number;
    [s, out] = splitmix32(s);
    this.a = out;
    [s, out] = splitmix32(s);
    this.b = out;
    [s, out] = splitmix32(s);
    this.c = out;
    [, out] = splitmix32(s);
    this.d = out;
    // Discard the first outputs, as the reference implementation recommends.
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Next 32-bit unsigned integer (sfc32). */
  u32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.c = (r + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n), n >= 1 (n up to 2^32). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Standard normal (Marsaglia polar method; keeps the second value). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spareNormal;
    }
    let u = 0;
    let v = 0;
    let s = 0;
    do {
      u = this.float() * 2 - 1;
      v = this.float() * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const m = Math.sqrt((-2 * Math.log(s)) / s);
    this.spareNormal = v * m;
    this.hasSpare = true;
    return u * m;
  }

  /** Log-normal with the given median and shape sigma (of the underlying normal). */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float());
  }

  /** Poisson count: exact (Knuth) for small means, normal approximation above 30. */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 30) {
      const x = Math.round(mean + Math.sqrt(mean) * this.normal());
      return x < 0 ? 0 : x;
    }
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.float();
    while (p > limit) {
      k++;
      p *= this.float();
    }
    return k;
  }

  /** Rounds a non-negative real count to an integer, randomly, keeping its expectation. */
  roundStochastic(x: number): number {
    const f = Math.floor(x);
    return this.float() < x - f ? f + 1 : f;
  }
}
