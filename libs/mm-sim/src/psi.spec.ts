import { describe, expect, it } from 'vitest';
import { PSI_EXP_10S } from './constants.js';
import { PsiTracker } from './psi.js';

describe('PSI', () => {
  const parents = Int32Array.from([-1, 0, 1, 1, ...new Array<number>(252).fill(-1)]);

  it('folds 2 s periods with the kernel EXP_10s factor', () => {
    const p = new PsiTracker(parents);
    // One thread stalled for the whole first period.
    for (let i = 0; i < 20; i++) {
      p.beginTick();
      p.addTasks(2, 1, 100_000, 100_000);
      p.endTick(100);
    }
    const s = p.snapshot(2);
    expect(s.some.avg10).toBeCloseTo(100 * (1 - PSI_EXP_10S), 1);
    expect(s.full.avg10).toBeCloseTo(100 * (1 - PSI_EXP_10S), 1);
    expect(s.some.total).toBe(2_000_000);
    expect(p.someAvg10Hundredths(2)).toBe(Math.round(100 * 100 * (1 - PSI_EXP_10S)));
  });

  it('converges to the stalled share and separates some from full', () => {
    const p = new PsiTracker(parents);
    for (let i = 0; i < 6000; i++) {
      p.beginTick();
      // 4 threads, 10% of thread time stalled: some = 1 - 0.9^4, full = 0.1^4.
      p.addTasks(2, 4, 40_000, 100_000);
      p.addTasks(3, 1, 0, 100_000);
      p.endTick(100);
    }
    const leaf = p.snapshot(2);
    expect(leaf.some.avg60).toBeCloseTo(100 * (1 - 0.9 ** 4), 0);
    expect(leaf.full.avg60).toBeCloseTo(100 * 0.1 ** 4, 1);
    // The parent holds both groups: some combines them, full needs every task stalled.
    const parent = p.snapshot(1);
    expect(parent.some.avg60).toBeCloseTo(leaf.some.avg60, 1);
    expect(parent.full.avg60).toBe(0);
  });
});
