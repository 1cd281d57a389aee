/**
 * What a simulated program does to its address space, expressed as region-sized batches for
 * the kernel: write a range, write scattered pages of a region, MADV_DONTNEED or munmap a
 * range, free scattered pages. One scratch mask is reused; nothing allocates.
 */
import {
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGEBLOCK_WORDS as PAGEBLOCK_WORDS_,
} from './constants.js';
import type { Kernel } from './kernel.js';
import { popcount32 as popcount32_ } from './physmem.js';
import type { Rng } from './rng.js';
import type { Vma } from './vma.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const popcount32 = popcount32_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGEBLOCK_WORDS = PAGEBLOCK_WORDS_;

export class MemOps {
  private readonly mask = new Uint32Array(PAGEBLOCK_WORDS);
  private readonly left = new Int32Array(PAGEBLOCK_WORDS);

  constructor(private readonly k: Kernel) {}

  /** Sets mask bits for pages [a, b) of a region (0 <= a < b <= 512). */
  private rangeMask(a: number, b: number): void {
    const m = this.mask;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      const lo = Math.max(a, w * 32);
      const hi = Math.min(b, w * 32 + 32);
      if (lo >= hi) {
        m[w] = 0;
        continue;
      }
      const len = hi - lo;
      m[w] = len === 32 ? 0xffffffff : ((((1 << len) - 1) << (lo - w * 32)) >>> 0);
    }
  }

  /** Writes pages [start, start + count) of the VMA. */
  touchRange(v: Vma, start: number, count: number): void {
    const end = Math.min(v.nPages, start + count);
    let p = Math.max(0, start);
    while (p < end) {
      const r = (p / PAGEBLOCK_PAGES) | 0;
      const regionEnd = Math.min(end, (r + 1) * PAGEBLOCK_PAGES);
      this.rangeMask(p - r * PAGEBLOCK_PAGES, regionEnd - r * PAGEBLOCK_PAGES);
      this.k.touch(v, r, this.mask);
      p = regionEnd;
    }
  }

  /** MADV_DONTNEED (unmap = false) or munmap (unmap = true) of pages [start, start + count). */
  zapRange(v: Vma, start: number, count: number, unmap: boolean): void {
    const end = Math.min(v.nPages, start + count);
    let p = Math.max(0, start);
    while (p < end) {
      const r = (p / PAGEBLOCK_PAGES) | 0;
      const regionEnd = Math.min(end, (r + 1) * PAGEBLOCK_PAGES);
      this.rangeMask(p - r * PAGEBLOCK_PAGES, regionEnd - r * PAGEBLOCK_PAGES);
      this.k.zapRegion(v, r, this.mask, unmap);
      p = regionEnd;
    }
  }

  /** Writes the first `n` unwritten pages of region r (filling holes from the bottom). */
  touchHoles(v: Vma, r: number, n: number): void {
    const m = this.mask;
    const base = r * PAGEBLOCK_WORDS;
    let left = n;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      let free = (~v.touched[base + w]! & v.validMask(r, w)) >>> 0;
      let bits = 0;
      while (free !== 0 && left > 0) {
        const low = free & -free;
        bits |= low;
        free = (free & (free - 1)) >>> 0;
        left--;
      }
      m[w] = bits >>> 0;
    }
    this.k.touch(v, r, m);
  }

  /** Writes `n` random pages of region r (duplicates collapse, so fewer may be new). */
  touchRandom(v: Vma, r: number, n: number, rng: Rng): void {
    const m = this.mask;
    m.fill(0);
    const pages = v.regionPages(r);
    for (let i = 0; i < n; i++) {
      const p = rng.int(pages);
      m[p >>> 5] = (m[p >>> 5]! | (1 << (p & 31))) >>> 0;
    }
    this.k.touch(v, r, m);
  }

  /** Frees (MADV_DONTNEED) up to `n` random written pages of region r. Returns pages freed. */
  zapRandomTouched(v: Vma, r: number, n: number, rng: Rng): number {
    const have = v.regTouched[r]!;
    if (have === 0 || n <= 0) return 0;
    const m = this.mask;
    m.fill(0);
    const base = r * PAGEBLOCK_WORDS;
    let picked = 0;
    if (n >= have) {
      for (let w = 0; w < PAGEBLOCK_WORDS; w++) m[w] = v.touched[base + w]!;
      picked = have;
    } else {
      // Pick the k-th written pages for random k (no retries, exact count); `left[w]`: written
      // pages of word w not picked yet.
      const left = this.left;
      for (let w = 0; w < PAGEBLOCK_WORDS; w++) left[w] = popcount32(v.touched[base + w]!);
      for (let i = 0; i < n; i++) {
        let target = rng.int(have - picked);
        for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
          const c = left[w]!;
          if (target >= c) {
            target -= c;
            continue;
          }
          left[w] = c - 1;
          let x = (v.touched[base + w]! & ~m[w]!) >>> 0;
          while (target > 0) {
            x &= x - 1;
            target--;
          }
          m[w] = (m[w]! | (x & -x)) >>> 0;
          break;
        }
        picked++;
      }
    }
    this.k.zapRegion(v, r, m, false);
    return picked;
  }
}
