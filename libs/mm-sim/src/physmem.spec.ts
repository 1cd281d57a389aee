import { describe, expect, it } from 'vitest';
import { PAGEBLOCK_PAGES } from './constants.js';
import { Mt, PhysMem, popcount32 } from './physmem.js';

const MIB = 1024 * 1024;

function owned(ph: PhysMem, o: number): number {
  let n = 0;
  for (let p = 0; p < ph.nPages; p++) if (ph.ownerOf(p) === o) n++;
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
    let src = 0;
    while (ph.ownerOf(src) !== a) src++;
    const dst = 20 * PAGEBLOCK_PAGES + 3;
    ph.movePage(src, dst);
    expect(ph.ownerOf(src)).toBe(0);
    expect(ph.ownerOf(dst)).toBe(a);
    expect(ph.ownerPages[a]).toBe(10);
    expect(ph.pbFree[20]).toBe(PAGEBLOCK_PAGES - 1);
  });
});

/** A deterministic scramble of owners over the frames of a PhysMem (tests drive frames directly). */
function scrambled(seed: number): { ph: PhysMem; owners: number[] } {
  const ph = new PhysMem(64 * MIB);
  const owners = [ph.registerOwner(Mt.Movable, true), ph.registerOwner(Mt.Movable, true), ph.registerOwner(Mt.Unmovable, false)];
  let x = seed;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  // Interleaved small allocations, then scattered frees: every kind of owner word occurs.
  while (ph.freePages > 2 * PAGEBLOCK_PAGES) ph.allocPages(owners[next(3)]!, 1 + next(40));
  for (let i = 0; i < 400; i++) ph.freeInRange(owners[next(3)]!, next(ph.nPb), 1 + next(60), next(3) === 0 ? 0 : 2 + next(6), 0, PAGEBLOCK_PAGES - 1);
  ph.resetChunkLog();
  return { ph, owners };
}

/** The owner of every frame (0 = free), as ownerOf() reports it. */
function ownersOf(ph: PhysMem): Uint8Array {
  const out = new Uint8Array(ph.nPages);
  for (let p = 0; p < ph.nPages; p++) out[p] = ph.ownerOf(p);
  return out;
}

/** Index of the first frame whose owner differs, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** Frame-by-frame reference of freeInRange: groups of 4 frames from the top of [lo, hi], frames high to low in each. */
function referenceFree(owner: Uint8Array, o: number, b: number, n: number, keepOneIn: number, lo: number, hi: number): { freed: number[]; kept: number } {
  const start = b * PAGEBLOCK_PAGES;
  const freed: number[] = [];
  let seen = 0;
  for (let g = (start + hi) >>> 2; g >= (start + lo) >>> 2 && seen < n; g--) {
    for (let p = g * 4 + 3; p >= g * 4 && seen < n; p--) {
      if (owner[p] !== o) continue;
      seen++;
      if (keepOneIn > 0 && seen % keepOneIn === 0) continue;
      freed.push(p);
    }
  }
  return { freed, kept: seen - freed.length };
}

describe('PhysMem word-level paths against a frame-by-frame reference', () => {
  it('freeInRange and freeInBlock free exactly the frames the frame-by-frame rule picks', () => {
    const { ph, owners } = scrambled(11);
    let x = 5;
    const next = (n: number): number => {
      x = (Math.imul(x, 22695477) + 1) >>> 0;
      return (x >>> 8) % n;
    };
    for (let i = 0; i < 600; i++) {
      const o = owners[next(3)]!;
      const b = next(ph.nPb);
      const n = 1 + next(200);
      const keep = [0, 0, 1, 2, 3, 6][next(6)]!;
      const lo = next(PAGEBLOCK_PAGES);
      const hi = lo + next(PAGEBLOCK_PAGES - lo);
      const whole = i % 4 === 0;
      const before = ownersOf(ph);
      const ref = whole ? referenceFree(before, o, b, n, 0, 0, PAGEBLOCK_PAGES - 1) : referenceFree(before, o, b, n, keep, lo, hi);
      const got = whole ? ph.freeInBlock(o, b, n) : ph.freeInRange(o, b, n, keep, lo, hi);
      expect(got).toBe(ref.freed.length);
      if (!whole) expect(ph.lastKept).toBe(ref.kept);
      for (const p of ref.freed) before[p] = 0;
      expect(firstDifference(ownersOf(ph), before)).toBe(-1);
      for (const p of ref.freed) expect((ph.used[p >>> 5]! >>> (p & 31)) & 1).toBe(0);
      if (i % 50 === 0) expect(ph.checkStructures()).toEqual([]);
    }
    expect(ph.checkStructures()).toEqual([]);
  });

  it('fills partly used words before free ones, lowest frames first, and records the chunk', () => {
    const { ph, owners } = scrambled(23);
    for (let i = 0; i < 200; i++) {
      const o = owners[i % 3]!;
      const usedBefore = ph.used.slice();
      const ownerBefore = ownersOf(ph);
      ph.resetChunkLog();
      const n = 1 + ((i * 37) % 150);
      expect(ph.allocPages(o, n)).toBe(n);
      let total = 0;
      for (let c = 0; c < ph.chunkN; c++) {
        const b = ph.chunkBlock[c]!;
        const count = ph.chunkCount[c]!;
        total += count;
        // Expected: partly used words in address order, then free words; low frames first.
        const expected: number[] = [];
        for (const pass of [0, 1]) {
          for (let w = 0; w < 16 && expected.length < count; w++) {
            const word = usedBefore[b * 16 + w]!;
            if (word === 0xffffffff || (pass === 0) === (word === 0)) continue;
            for (let bit = 0; bit < 32 && expected.length < count; bit++) if (((word >>> bit) & 1) === 0) expected.push(b * PAGEBLOCK_PAGES + w * 32 + bit);
          }
        }
        expect(expected.length).toBe(count);
        for (const p of expected) {
          expect(ownerBefore[p]).toBe(0);
          expect(ph.ownerOf(p)).toBe(o);
        }
        expect(ph.chunkLo[c]).toBe(Math.min(...expected) - b * PAGEBLOCK_PAGES);
        expect(ph.chunkHi[c]).toBe(Math.max(...expected) - b * PAGEBLOCK_PAGES);
        for (const p of expected) ownerBefore[p] = o;
      }
      expect(total).toBe(n);
      expect(firstDifference(ownersOf(ph), ownerBefore)).toBe(-1);
      if (ph.freePages < 400) for (let b = 0; b < ph.nPb; b++) ph.freeInBlock(owners[b % 3]!, b, 40);
    }
    expect(ph.checkStructures()).toEqual([]);
  });

  it('keeps the owner of every frame through allocation, freeing and migration, for owner ids using all eight bits', () => {
    // Owners are kept per word (one owner) or as eight bit planes (mixed words): ids 1, 77, 128,
    // 200 and 255 set every plane. A shadow built only from which used bits each call set or
    // cleared must agree with ownerOf() for every frame.
    const ph = new PhysMem(32 * MIB);
    const all = Array.from({ length: 255 }, (_, i) => ph.registerOwner(i % 5 === 3 ? Mt.Unmovable : Mt.Movable, i % 5 !== 3));
    const owners = [all[0]!, all[76]!, all[127]!, all[199]!, all[254]!];
    expect(owners).toEqual([1, 77, 128, 200, 255]);
    const shadow = new Uint8Array(ph.nPages);
    let x = 99;
    const next = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const smallBlock = (): number => {
      for (;;) {
        const b = next(ph.nPb);
        if (ph.pbHuge[b] === 0) return b;
      }
    };
    const huge: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const o = owners[next(owners.length)]!;
      const before = Uint32Array.from(ph.used);
      const op = next(10);
      if (op < 4 && ph.freePages > 2 * PAGEBLOCK_PAGES) ph.allocPages(o, 1 + next(90));
      else if (op === 4 && ph.freePages > 2 * PAGEBLOCK_PAGES) ph.allocOrder(o, 1 + next(4));
      else if (op === 5 && huge.length < 4) {
        const b = ph.allocHugeBlock(o);
        if (b >= 0) huge.push(b);
      } else if (op === 6 && huge.length > 0) {
        const b = huge.splice(next(huge.length), 1)[0]!;
        expect(ph.ownerOf(b * PAGEBLOCK_PAGES)).toBe(shadow[b * PAGEBLOCK_PAGES]);
        ph.freeHugeBlock(b);
      } else if (op === 7) {
        // Migrate a used frame of a small block to a free frame of another.
        const sb = smallBlock();
        const db = smallBlock();
        let src = -1;
        let dst = -1;
        for (let p = sb * PAGEBLOCK_PAGES; p < (sb + 1) * PAGEBLOCK_PAGES && src < 0; p++) if (shadow[p] !== 0) src = p;
        for (let p = db * PAGEBLOCK_PAGES; p < (db + 1) * PAGEBLOCK_PAGES && dst < 0; p++) if (shadow[p] === 0) dst = p;
        if (src >= 0 && dst >= 0) {
          ph.movePage(src, dst);
          // The caller (compaction) re-files both blocks on their free lists.
          ph.relist(sb);
          ph.relist(db);
          shadow[dst] = shadow[src]!;
          shadow[src] = 0;
          continue;
        }
      } else if (op === 8) {
        const lo = next(PAGEBLOCK_PAGES);
        ph.freeInRange(o, smallBlock(), 1 + next(120), next(2) === 0 ? 0 : 6, lo, lo + next(PAGEBLOCK_PAGES - lo));
      } else ph.freeInBlock(o, smallBlock(), 1 + next(120));
      for (let w = 0; w < before.length; w++) {
        const changed = (before[w]! ^ ph.used[w]!) >>> 0;
        for (let bit = 0; bit < 32; bit++) {
          if (((changed >>> bit) & 1) === 0) continue;
          const p = w * 32 + bit;
          if (((ph.used[w]! >>> bit) & 1) === 1) shadow[p] = o;
          else {
            expect(shadow[p], `frame ${p} freed by owner ${o}`).toBe(op === 6 ? shadow[p] : o);
            shadow[p] = 0;
          }
        }
      }
      if (i % 500 === 0) {
        expect(firstDifference(ownersOf(ph), shadow)).toBe(-1);
        expect(ph.checkStructures()).toEqual([]);
      }
    }
    expect(firstDifference(ownersOf(ph), shadow)).toBe(-1);
    for (const o of owners) expect(ph.ownerPages[o]).toBe(shadow.filter((v) => v === o).length);
    expect(ph.checkStructures()).toEqual([]);
  });

  it('walks an owner’s pageblocks in address order from its cursor, wrapping round', () => {
    const ph = new PhysMem(64 * MIB);
    const a = ph.registerOwner(Mt.Movable, true);
    const filler = ph.registerOwner(Mt.Movable, true);
    // Frames of a in blocks 3, 9 and 20 only.
    ph.allocPages(filler, ph.nPages);
    for (const b of [3, 9, 20]) {
      ph.freeInBlock(filler, b, 10);
      ph.allocPages(a, 10);
      expect(ph.lastBlock).toBe(b);
    }
    // From block 10: 20 first, then round to 3.
    expect(ph.freeOwnerPages(a, 15, -1, 10)).toBe(15);
    expect(ph.freeInBlock(a, 20, 10)).toBe(0);
    expect(ph.freeInBlock(a, 3, 10)).toBe(5);
    expect(ph.freeInBlock(a, 9, 10)).toBe(10);
    expect(ph.ownerPages[a]).toBe(0);
    expect(ph.checkStructures()).toEqual([]);
  });
});
