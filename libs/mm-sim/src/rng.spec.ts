import { describe, expect, it } from 'vitest';
import { Rng, deriveSeed, hashString } from './rng.js';

describe('Rng (sfc32 seeded by splitmix32)', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 8 }, () => a.u32());
    expect(Array.from({ length: 8 }, () => b.u32())).toEqual(sa);
    expect(Array.from({ length: 8 }, () => c.u32())).not.toEqual(sa);
  });

  it('produces uniform floats, normals, exponentials and Poisson counts with the right moments', () => {
    const r = new Rng(1);
    const n = 40_000;
    let sum = 0;
    let nsum = 0;
    let nsq = 0;
    let esum = 0;
    let psum = 0;
    let bigPsum = 0;
    for (let i = 0; i < n; i++) {
      const f = r.float();
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
      sum += f;
      const z = r.normal();
      nsum += z;
      nsq += z * z;
      esum += r.exponential(3);
      psum += r.poisson(4);
      bigPsum += r.poisson(200);
    }
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(nsum / n).toBeCloseTo(0, 1);
    expect(nsq / n).toBeCloseTo(1, 1);
    expect(esum / n).toBeCloseTo(3, 1);
    expect(psum / n).toBeCloseTo(4, 1);
    expect(bigPsum / n / 200).toBeCloseTo(1, 2);
  });

  it('int(n) stays in range and roundStochastic keeps the expectation', () => {
    const r = new Rng(9);
    let acc = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = r.int(7);
      expect(Number.isInteger(x) && x >= 0 && x < 7).toBe(true);
      acc += r.roundStochastic(2.25);
    }
    expect(acc / 20_000).toBeCloseTo(2.25, 1);
  });

  it('derives distinct, stable seeds from labels', () => {
    expect(deriveSeed(1, 'workload', 'kv')).toBe(deriveSeed(1, 'workload', 'kv'));
    expect(deriveSeed(1, 'workload', 'kv')).not.toBe(deriveSeed(1, 'workload', 'zgc'));
    expect(deriveSeed(1, 'a', 'b')).not.toBe(deriveSeed(1, 'b', 'a'));
    expect(hashString('abc')).toBe(0x1a47e90b);
  });
});
