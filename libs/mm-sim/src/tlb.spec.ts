import { describe, expect, it } from 'vitest';
import { STLB_ENTRIES, WALK_CACHED_NS, WALK_DRAM_NS } from './constants.js';
import { tlbCost } from './tlb.js';

describe('TLB cost model', () => {
  it('a hot set within STLB reach costs nothing', () => {
    expect(tlbCost(STLB_ENTRIES, 0, 0).nsPerAccess).toBe(0);
    expect(tlbCost(0, STLB_ENTRIES, STLB_ENTRIES * 512).nsPerAccess).toBe(0);
  });

  it('matches the hand-computed 10 GiB example of docs/simulator.md', () => {
    const pages = (10 * 2 ** 30) / 4096;
    const small = tlbCost(pages, 0, 0);
    // PTE footprint 20 MiB over an 8 MiB cache share: 60% of leaf reads go to DRAM.
    expect(small.missRate).toBeCloseTo(1 - STLB_ENTRIES / pages, 6);
    expect(small.nsPerAccess).toBeCloseTo(small.missRate * (WALK_CACHED_NS + 0.6 * WALK_DRAM_NS), 3);
    const huge = tlbCost(0, pages / 512, pages);
    expect(huge.missRate).toBeCloseTo(1 - STLB_ENTRIES / (pages / 512), 6);
    expect(huge.nsPerAccess).toBeCloseTo(huge.missRate * WALK_CACHED_NS, 3);
    expect(small.nsPerAccess / huge.nsPerAccess).toBeGreaterThan(5);
  });

  it('cost falls monotonically as PMD coverage of the hot set grows', () => {
    const pages = 2 ** 21;
    let prev = Number.POSITIVE_INFINITY;
    for (let share = 0; share <= 1.0001; share += 0.125) {
      const inHuge = Math.round(pages * share);
      const c = tlbCost(pages - inHuge, inHuge / 512, inHuge).nsPerAccess;
      expect(c).toBeLessThanOrEqual(prev + 1e-9);
      prev = c;
    }
  });
});
