import { describe, expect, it } from 'vitest';
import { PAGEBLOCK_PAGES } from './constants.js';
import { Mt, PhysMem, popcount32 } from './physmem.js';

const MIB = 1024 * 1024;

function owned(ph: PhysMem, o: number): number {
  let n = 0;
  for (let p = 0; p < ph.nPages; p++) if (ph.owner[p] === o) n++;
  return n;
}

describe('PhysMem (pageblocks, buddy free lists, migratetypes)', () => {
  it('boots with every pageblock free and movable', () => {
    const ph = new PhysMem(64 * MIB);
    expect(ph.nPb).toBe(32);
    expect(ph.freePages).toBe(32 * PAGEBLOCK_PAGES);
    expect(ph.freeBlockCount()).toBe(32);
    // buddyinfo: 16 order-10 pairs.
    expect(ph.buddyinfo()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]);
    expect(() => new PhysMem(16 * MIB)).toThrow('below 16 pageblocks');
  });

  it('fills partly used pageblocks before splitting a free one (smallest order first)', () => {
    const ph = new PhysMem(64 * MIB);
    const a = ph.registerOwner(Mt.Movable, true);
    expect(ph.allocPages(a, 700)).toBe(700);
    expect(ph.freeBlockCount()).toBe(30);
    // Free a few frames in the first block, then allocate: the holes are reused.
    const first = ph.lastBlock === 1 ? 0 : ph.lastBlock;
    expect(ph.freeInBlock(a, first, 10)).toBe(10);
    const before = ph.freeBlockCount();
    ph.allocPages(a, 10);
    expect(ph.freeBlockCount()).toBe(before);
    expect(owned(ph, a)).toBe(700);
    expect(ph.ownerPages[a]).toBe(700);
  });

  it('allocates and frees whole order-9 blocks and aligned small orders', () => {
    const ph = new PhysMem(64 * MIB);
    const a = ph.registerOwner(Mt.Movable, true);
    const b = ph.allocHugeBlock(a);
    expect(b).toBeGreaterThanOrEqual(0);
    expect(ph.pbHuge[b]).toBe(1);
    expect(ph.freePages).toBe(31 * PAGEBLOCK_PAGES);
    const p = ph.allocOrder(a, 4);
    expect(p % 16).toBe(0);
    expect(ph.ownerPages[a]).toBe(512 + 16);
    ph.freeHugeBlock(b);
    expect(ph.pbHuge[b]).toBe(0);
    expect(ph.freePages).toBe(32 * PAGEBLOCK_PAGES - 16);
    // Exhaust the free blocks: order 9 then fails.
    let n = 0;
    while (ph.allocHugeBlock(a) >= 0) n++;
    expect(n).toBe(31);
    expect(ph.allocHugeBlock(a)).toBe(-1);
  });

  it('lets unmovable allocations steal and claim a whole free block when their own lists are empty', () => {
    const ph = new PhysMem(64 * MIB);
    const slab = ph.registerOwner(Mt.Unmovable, false);
    ph.allocPages(slab, 3);
    const b = ph.lastBlock;
    expect(ph.pbMt[b]).toBe(Mt.Unmovable);
    expect(ph.pbPinned[b]).toBe(3);
    expect(ph.blockClaims).toBe(1);
    // The next unmovable frames go into the same (now unmovable) block.
    ph.allocPages(slab, 5);
    expect(ph.lastBlock).toBe(b);
    expect(ph.blockClaims).toBe(1);
  });

  it('pollutes a movable block when no free block is left (fallback without claim)', () => {
    const ph = new PhysMem(32 * MIB);
    const a = ph.registerOwner(Mt.Movable, true);
    const slab = ph.registerOwner(Mt.Unmovable, false);
    ph.allocPages(a, ph.nPages);
    // Free a small hole in one movable block; an unmovable allocation must take it.
    ph.freeInBlock(a, 5, 4);
    expect(ph.allocPages(slab, 2)).toBe(2);
    expect(ph.lastBlock).toBe(5);
    expect(ph.pbMt[5]).toBe(Mt.Movable);
    expect(ph.pbPinned[5]).toBe(2);
    expect(ph.fallbackEvents).toBeGreaterThan(0);
  });

  it('buddyinfo accounts for every free frame', () => {
    const ph = new PhysMem(64 * MIB);
    const a = ph.registerOwner(Mt.Movable, true);
    ph.allocPages(a, 5000);
    for (let b = 0; b < 10; b++) ph.freeInBlock(a, b, 37 + b);
    const info = ph.buddyinfo();
    const frames = info.reduce((s, n, order) => s + n * 2 ** order, 0);
    expect(frames).toBe(ph.freePages);
    let used = 0;
    for (const w of ph.used) used += popcount32(w);
    expect(used + ph.freePages).toBe(ph.nPages);
  });

  it('moves a frame (migration) without changing ownership counts', () => {
    const ph = new PhysMem(64 * MIB);
    const a = ph.registerOwner(Mt.Movable, true);
    ph.allocPages(a, 10);
    const src = ph.owner.indexOf(a);
    const dst = 20 * PAGEBLOCK_PAGES + 3;
    ph.movePage(src, dst);
    expect(ph.owner[src]).toBe(0);
    expect(ph.owner[dst]).toBe(a);
    expect(ph.ownerPages[a]).toBe(10);
    expect(ph.pbFree[20]).toBe(PAGEBLOCK_PAGES - 1);
  });
});
