// A small seeded generator for tests and the benchmark (never Math.random: every run sees
// the same numbers). xoshiro128** (Blackman & Vigna, "Scrambled linear pseudorandom number
// generators", 2018) seeded through splitmix32, with Box-Muller normals.

export interface Rng {
  /** Uniform in (0, 1), 53 random bits. */
  uniform(): number;
  /** Standard normal. */
  normal(): number;
  /** exp(mu + sigma·Z): a log-normal with median e^mu. */
  logNormal(mu: number, sigma: number): number;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export function createRng(seed: number): Rng {
  const init = splitmix32(seed);
  let s0 = init();
  let s1 = init();
  let s2 = init();
  let s3 = init();
  const next32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    s0 >>>= 0;
    s1 >>>= 0;
    s2 >>>= 0;
    return result;
  };
  let spare: number | null = null;
  const uniform = (): number => {
    // 53 bits: 27 high + 26 low; +0.5 ulp keeps the result strictly inside (0, 1).
    const hi = next32() >>> 5;
    const lo = next32() >>> 6;
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  };
  const normal = (): number => {
    if (spare !== null) {
      const value = spare;
      spare = null;
      return value;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const theta = 2 * Math.PI * uniform();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
  return { uniform, normal, logNormal: (mu, sigma) => Math.exp(mu + sigma * normal()) };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** n draws of `draw`. */
export function sample(n: number, draw: () => number): number[] {
  return Array.from({ length: n }, draw);
}
