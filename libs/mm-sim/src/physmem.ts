/**
 * Physical memory of one node: every 4 KiB frame has an owner (1..255) and a used bit; frames are
 * grouped in pageblocks of 512 with a migratetype, and the buddy allocator is modelled at
 * pageblock granularity: each pageblock sits on one free list keyed by (migratetype, largest
 * free buddy order inside it), 0..8 for partly free blocks and 9 for a fully free block
 * (order 10 = two adjacent free blocks, computed for buddyinfo only).
 *
 * Allocation follows the kernel's preferences: smallest free order first within the
 * requested migratetype, then the fallback migratetypes with "steal the largest block" and
 * the pageblock-claim rule of `try_to_claim_block` (mm/page_alloc.c). That is what lets
 * unmovable allocations (page tables, slab) pollute movable pageblocks once memory is full,
 * which is where fragmentation comes from.
 *
 * Everything is in typed arrays; nothing here allocates after construction. The hot paths work
 * a word at a time: 32 used bits, a per-word owner summary (`wordOwner`: the one owner of all
 * the word's used frames, or MIXED), and, for MIXED words only, the owners of the 32 frames as
 * eight bit planes (plane k holds bit k of each frame's owner), so the frames of one owner in a
 * word are eight loads and ANDs, and giving frames to an owner is eight masked stores. A word
 * of a single owner needs no planes: they are written when it becomes MIXED.
 */
import {
  CLAIM_THRESHOLD_PAGES as CLAIM_THRESHOLD_PAGES_,
  PAGEBLOCK_ORDER as PAGEBLOCK_ORDER_,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGEBLOCK_WORDS as PAGEBLOCK_WORDS_,
  STEAL_CLAIM_ORDER as STEAL_CLAIM_ORDER_,
} from './constants.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const CLAIM_THRESHOLD_PAGES = CLAIM_THRESHOLD_PAGES_;
const PAGEBLOCK_ORDER = PAGEBLOCK_ORDER_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGEBLOCK_WORDS = PAGEBLOCK_WORDS_;
const STEAL_CLAIM_ORDER = STEAL_CLAIM_ORDER_;

/** Migratetypes (MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, MIGRATE_RECLAIMABLE). */
export const Mt = { Movable: 0, Unmovable: 1, Reclaimable: 2 } as const;
export type Mt = (typeof Mt)[keyof typeof Mt];
export const MT_COUNT = 3;
/** Fallback order of the kernel's `fallbacks[]` table. */
const FALLBACKS: readonly (readonly Mt[])[] = [
  [Mt.Reclaimable, Mt.Unmovable],
  [Mt.Reclaimable, Mt.Movable],
  [Mt.Unmovable, Mt.Movable],
];
const LIST_ORDERS = PAGEBLOCK_ORDER + 1; // 0..9
export const MAX_OWNERS = 255;
/** Entries of the allocation chunk log; an allocPages call of n frames fills at most n entries. */
export const CHUNK_LOG_CAPACITY = 1024;

/** Population count of a 32-bit word. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Bit positions (aligned) where a free run of 2^order starts, order 0..4. */
function alignedFreeStarts(usedWord: number, order: number): number {
  const free = ~usedWord >>> 0;
  switch (order) {
    case 0:
      return free;
    case 1:
      return free & (free >>> 1) & 0x55555555;
    case 2: {
      const a1 = free & (free >>> 1);
      return a1 & (a1 >>> 2) & 0x11111111;
    }
    case 3: {
      const a1 = free & (free >>> 1);
      const a2 = a1 & (a1 >>> 2);
      return a2 & (a2 >>> 4) & 0x01010101;
    }
    default: {
      const a1 = free & (free >>> 1);
      const a2 = a1 & (a1 >>> 2);
      const a3 = a2 & (a2 >>> 4);
      return a3 & (a3 >>> 8) & 0x00010001;
    }
  }
}

function lowestBit(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** wordOwner value of a used word whose frames belong to several owners (or may). */
const MIXED = 0xffff;

/** The `k` highest set bits of `x` (k < popcount(x) = c), as an int32. */
function highestBits(x: number, k: number, c: number): number {
  if (k <= c - k) {
    let keep = 0;
    for (let i = 0; i < k; i++) {
      const hb = 1 << (31 - Math.clz32(x));
      keep |= hb;
      x ^= hb;
    }
    return keep;
  }
  for (let i = k; i < c; i++) x &= x - 1;
  return x;
}

/** The `k` lowest set bits of `x` (k < popcount(x)), as an int32. */
function lowestBits(x: number, k: number): number {
  let keep = 0;
  for (let i = 0; i < k; i++) {
    const lb = x & -x;
    keep |= lb;
    x &= x - 1;
  }
  return keep;
}

/** Largest aligned free buddy order (0..4) inside a 32-frame used word that is neither full nor free. */
function wordMaxFreeOrder(x: number): number {
  const f = ~x;
  const a1 = f & (f >>> 1);
  if ((a1 & 0x55555555) === 0) return 0;
  const a2 = a1 & (a1 >>> 2);
  if ((a2 & 0x11111111) === 0) return 1;
  const a3 = a2 & (a2 >>> 4);
  if ((a3 & 0x01010101) === 0) return 2;
  if ((a3 & (a3 >>> 8) & 0x00010001) === 0) return 3;
  return 4;
}

/** Order 5..8 from the wholly free words of a block (`candidates`: words to look at, at least one free). */
function zeroWordsOrder(u: Int32Array, base: number, candidates: number): number {
  let zeroMask = 0;
  for (let ws = candidates; ws !== 0; ws &= ws - 1) {
    const w = 31 - Math.clz32(ws & -ws);
    if (u[base + w] === 0) zeroMask |= 1 << w;
  }
  return ordFromZeroMask(zeroMask);
}

/** Buddy order of the largest aligned run of free words: 5 = one word, 6 = pair, 7 = quad, 8 = octet. */
function ordFromZeroMask(zeroMask: number): number {
  if ((zeroMask & 0xff) === 0xff || (zeroMask & 0xff00) === 0xff00) return 8;
  for (let g = 0; g < 16; g += 4) if (((zeroMask >>> g) & 0xf) === 0xf) return 7;
  for (let g = 0; g < 16; g += 2) if (((zeroMask >>> g) & 0x3) === 0x3) return 6;
  return 5;
}

/** POP8[x]: set bits of the byte x. SELECT_HIGH[8x + j]: the (j+1)-th highest set bit of x, as a mask. */
const POP8 = new Uint8Array(256);
const SELECT_HIGH = new Uint8Array(256 * 8);
for (let x = 0; x < 256; x++) {
  let j = 0;
  for (let bit = 7; bit >= 0; bit--) {
    if (((x >>> bit) & 1) === 0) continue;
    SELECT_HIGH[x * 8 + j++] = 1 << bit;
  }
  POP8[x] = j;
}

/** Bit planes per used word (one per bit of the owner byte). */
const PLANES = 8;

export class PhysMem {
  readonly nPb: number;
  readonly nPages: number;
  /**
   * Owner bit planes of the MIXED used words: int32 `wi * 8 + k` has bit j set when bit k of the
   * owner of frame 32 * wi + j is set. Meaningful only for the used frames of MIXED words (see
   * ownerOf): a single-owner word's owner is its wordOwner, and freeing clears used bits only.
   */
  private readonly planes: Int32Array;
  /** Used bit per frame, 16 words per pageblock. */
  readonly used: Uint32Array;
  /** The same words as int32. */
  private readonly usedI: Int32Array;
  /**
   * Per used word (32 frames): 0 when all its frames are free, the owner when every used frame
   * of the word belongs to that one owner, MIXED otherwise (or when not known: a word that was
   * mixed stays MIXED until it is empty or a free path finds one owner left). Lets the free
   * paths skip words of other owners and take a single owner's word from its used bits alone;
   * only MIXED words keep owner planes.
   */
  private readonly wordOwner: Uint16Array;

  readonly pbFree: Uint16Array;
  /** Used frames that cannot be migrated (unmovable and reclaimable owners). */
  readonly pbPinned: Uint16Array;
  /** 1 when the pageblock is one order-9 folio (a PMD THP). */
  readonly pbHuge: Uint8Array;
  readonly pbMt: Uint8Array;
  /** Largest free order inside the block: -1 full, 0..8 partly free, 9 fully free. */
  readonly pbMaxOrd: Int8Array;
  /** Compaction skip hint (PB_migrate_skip). */
  readonly pbSkip: Uint8Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly listOf: Int16Array;
  private readonly head: Int32Array;
  readonly listCount: Int32Array;
  /**
   * Owner presence bits (may be stale-positive; cleared when a scan finds none): one row of
   * nPb bits per owner, so an owner's pageblocks are found 32 at a time.
   */
  readonly presence: Uint32Array;
  /** 32-bit words per presence row. */
  private readonly rowWords: number;
  readonly ownerPages: Int32Array;
  readonly ownerMovable: Uint8Array;
  readonly ownerMt: Uint8Array;
  readonly ownerInUse: Uint8Array;
  freePages: number;
  /** Pageblocks whose migratetype changed by stealing (for metrics). */
  blockClaims = 0;
  /** External fragmentation events: a fallback allocation from another migratetype. */
  fallbackEvents = 0;
  private readonly cursor: Int32Array;

  constructor(memoryBytes: number) {
    const pages = Math.floor(memoryBytes / 4096);
    this.nPb = Math.floor(pages / PAGEBLOCK_PAGES);
    if (this.nPb < 16) throw new Error(`PhysMem: memory ${memoryBytes} bytes is below 16 pageblocks (32 MiB)`);
    this.nPages = this.nPb * PAGEBLOCK_PAGES;
    this.planes = new Int32Array(this.nPb * PAGEBLOCK_WORDS * PLANES);
    this.used = new Uint32Array(this.nPb * PAGEBLOCK_WORDS);
    this.usedI = new Int32Array(this.used.buffer);
    this.wordOwner = new Uint16Array(this.nPb * PAGEBLOCK_WORDS);
    this.pbFree = new Uint16Array(this.nPb).fill(PAGEBLOCK_PAGES);
    this.pbPinned = new Uint16Array(this.nPb);
    this.pbHuge = new Uint8Array(this.nPb);
    this.pbMt = new Uint8Array(this.nPb);
    this.pbMaxOrd = new Int8Array(this.nPb).fill(-1);
    this.pbSkip = new Uint8Array(this.nPb);
    this.next = new Int32Array(this.nPb).fill(-1);
    this.prev = new Int32Array(this.nPb).fill(-1);
    this.listOf = new Int16Array(this.nPb).fill(-1);
    this.head = new Int32Array(MT_COUNT * LIST_ORDERS).fill(-1);
    this.listCount = new Int32Array(MT_COUNT * LIST_ORDERS);
    this.rowWords = (this.nPb + 31) >>> 5;
    this.presence = new Uint32Array((MAX_OWNERS + 1) * this.rowWords);
    this.ownerPages = new Int32Array(MAX_OWNERS + 1);
    this.ownerMovable = new Uint8Array(MAX_OWNERS + 1);
    this.ownerMt = new Uint8Array(MAX_OWNERS + 1);
    this.ownerInUse = new Uint8Array(MAX_OWNERS + 1);
    this.cursor = new Int32Array(MT_COUNT).fill(-1);
    this.freePages = this.nPages;
    // Boot: every pageblock is MIGRATE_MOVABLE and free; insert in reverse so block 0 is the head.
    for (let b = this.nPb - 1; b >= 0; b--) this.relist(b);
  }

  // ---------------------------------------------------------------- owners

  registerOwner(mt: Mt, movable: boolean): number {
    for (let o = 1; o <= MAX_OWNERS; o++) {
      if (this.ownerInUse[o] === 0) {
        this.ownerInUse[o] = 1;
        this.ownerMt[o] = mt;
        this.ownerMovable[o] = movable ? 1 : 0;
        this.ownerPages[o] = 0;
        return o;
      }
    }
    throw new Error(`PhysMem: more than ${MAX_OWNERS} memory owners (VMAs, caches, kernel pools) on one node`);
  }

  releaseOwner(o: number): void {
    if (this.ownerPages[o] !== 0) throw new Error(`PhysMem: owner ${o} released with ${this.ownerPages[o]} pages`);
    this.ownerInUse[o] = 0;
    this.presence.fill(0, o * this.rowWords, (o + 1) * this.rowWords);
  }

  private markPresent(b: number, o: number): void {
    const i = o * this.rowWords + (b >>> 5);
    this.presence[i] = this.presence[i]! | (1 << (b & 31));
  }

  isPresentHint(b: number, o: number): boolean {
    return (this.presence[o * this.rowWords + (b >>> 5)]! & (1 << (b & 31))) !== 0;
  }

  clearPresent(b: number, o: number): void {
    const i = o * this.rowWords + (b >>> 5);
    this.presence[i] = this.presence[i]! & ~(1 << (b & 31));
  }

  /** The first pageblock in [b, end) whose presence bit for `o` is set, or `end`. */
  private nextPresent(o: number, b: number, end: number): number {
    const p = this.presence;
    const row = o * this.rowWords;
    while (b < end) {
      const x = p[row + (b >>> 5)]! >>> (b & 31);
      if (x !== 0) {
        const nb = b + 31 - Math.clz32(x & -x);
        return nb < end ? nb : end;
      }
      b = (b | 31) + 1;
    }
    return end;
  }

  // ---------------------------------------------------------------- free lists

  private computeMaxOrd(b: number): number {
    if (this.pbHuge[b] === 1) return -1;
    const free = this.pbFree[b]!;
    if (free === PAGEBLOCK_PAGES) return PAGEBLOCK_ORDER;
    if (free === 0) return -1;
    const base = b * PAGEBLOCK_WORDS;
    const u = this.usedI;
    // One pass: which words are wholly free, and which aligned runs of 2..16 free frames
    // exist inside the others (a1..a4: runs of 2, 4, 8, 16 starting at each bit).
    let zeroMask = 0;
    let o1 = 0;
    let o2 = 0;
    let o3 = 0;
    let o4 = 0;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      const x = u[base + w]!;
      if (x === 0) {
        zeroMask |= 1 << w;
        continue;
      }
      const f = ~x;
      const a1 = f & (f >>> 1);
      const a2 = a1 & (a1 >>> 2);
      const a3 = a2 & (a2 >>> 4);
      o1 |= a1;
      o2 |= a2;
      o3 |= a3;
      o4 |= a3 & (a3 >>> 8);
    }
    // Whole-word runs: order 5 = one free word, 6 = aligned pair, 7 = aligned quad, 8 = aligned octet.
    if (zeroMask !== 0) return ordFromZeroMask(zeroMask);
    if ((o4 & 0x00010001) !== 0) return 4;
    if ((o3 & 0x01010101) !== 0) return 3;
    if ((o2 & 0x11111111) !== 0) return 2;
    if ((o1 & 0x55555555) !== 0) return 1;
    return 0;
  }

  private unlink(b: number): void {
    const l = this.listOf[b]!;
    if (l < 0) return;
    const p = this.prev[b]!;
    const n = this.next[b]!;
    if (p >= 0) this.next[p] = n;
    else this.head[l] = n;
    if (n >= 0) this.prev[n] = p;
    this.prev[b] = -1;
    this.next[b] = -1;
    this.listOf[b] = -1;
    this.listCount[l] = this.listCount[l]! - 1;
  }

  /** Re-files a pageblock on the free list matching its current state. */
  relist(b: number): void {
    this.file(b, this.computeMaxOrd(b));
  }

  /**
   * relist() after frames were freed in the words `changed` (bit w = used word w of the
   * block) of a block whose pbMaxOrd was up to date: freeing only raises orders, and only the
   * changed words can have new free runs, so the rest of the block need not be looked at.
   */
  private relistFreed(b: number, changed: number): void {
    const old = this.pbMaxOrd[b]!;
    let ord: number;
    if (this.pbFree[b] === PAGEBLOCK_PAGES) ord = PAGEBLOCK_ORDER;
    else if (old >= 5) ord = zeroWordsOrder(this.usedI, b * PAGEBLOCK_WORDS, 0xffff);
    else {
      // No word was wholly free before: new free words are among the changed ones.
      const u = this.usedI;
      const base = b * PAGEBLOCK_WORDS;
      let zero = 0;
      ord = old;
      for (let ws = changed; ws !== 0; ws &= ws - 1) {
        const w = 31 - Math.clz32(ws & -ws);
        const x = u[base + w]!;
        if (x === 0) zero |= 1 << w;
        else {
          const o = wordMaxFreeOrder(x);
          if (o > ord) ord = o;
        }
      }
      if (zero !== 0) ord = zeroWordsOrder(u, base, zero);
    }
    this.file(b, ord);
  }

  /** Puts block b on the free list of order `ord` (-1 = none) unless it is there already. */
  private file(b: number, ord: number): void {
    this.pbMaxOrd[b] = ord;
    const want = ord < 0 ? -1 : this.pbMt[b]! * LIST_ORDERS + ord;
    if (this.listOf[b] === want) return;
    this.unlink(b);
    if (want < 0) return;
    const h = this.head[want]!;
    this.next[b] = h;
    this.prev[b] = -1;
    if (h >= 0) this.prev[h] = b;
    this.head[want] = b;
    this.listOf[b] = want;
    this.listCount[want] = this.listCount[want]! + 1;
  }

  listHead(mt: number, ord: number): number {
    return this.head[mt * LIST_ORDERS + ord]!;
  }

  nextInList(b: number): number {
    return this.next[b]!;
  }

  /** Fully free pageblocks (free order-9 buddies), all migratetypes. */
  freeBlockCount(): number {
    let n = 0;
    for (let mt = 0; mt < MT_COUNT; mt++) n += this.listCount[mt * LIST_ORDERS + PAGEBLOCK_ORDER]!;
    return n;
  }

  /** Is there a free buddy of at least `order` in any migratetype? (order <= 9) */
  hasFreeOrder(order: number): boolean {
    for (let mt = 0; mt < MT_COUNT; mt++) {
      for (let j = order; j <= PAGEBLOCK_ORDER; j++) if (this.listCount[mt * LIST_ORDERS + j]! > 0) return true;
    }
    return false;
  }

  private setMt(b: number, mt: Mt): void {
    if (this.pbMt[b] === mt) return;
    this.pbMt[b] = mt;
    this.blockClaims++;
    this.relist(b);
  }

  /**
   * Picks a pageblock with a free buddy of at least `order` for an allocation of migratetype
   * `mt`, following __rmqueue_smallest and __rmqueue_fallback. Returns -1 when memory has none.
   */
  private pickBlock(mt: Mt, order: number): number {
    for (let j = order; j <= PAGEBLOCK_ORDER; j++) {
      const b = this.head[mt * LIST_ORDERS + j]!;
      if (b >= 0) return b;
    }
    // Fallback: find the largest free block in the fallback migratetypes.
    const fb = FALLBACKS[mt]!;
    for (let j = PAGEBLOCK_ORDER; j >= order; j--) {
      for (const other of fb) {
        const b = this.head[other * LIST_ORDERS + j]!;
        if (b < 0) continue;
        const canSteal = j >= STEAL_CLAIM_ORDER || mt !== Mt.Movable;
        if (!canSteal) {
          // Movable may not claim an unmovable block for a small order: take the smallest instead.
          return this.pickSmallestFallback(mt, order);
        }
        this.fallbackEvents++;
        if (j >= PAGEBLOCK_ORDER) this.setMt(b, mt);
        else {
          const alike = mt === Mt.Movable ? PAGEBLOCK_PAGES - this.pbFree[b]! - this.pbPinned[b]! : this.pbPinned[b]!;
          if (this.pbFree[b]! + alike >= CLAIM_THRESHOLD_PAGES) this.setMt(b, mt);
        }
        return b;
      }
    }
    return -1;
  }

  private pickSmallestFallback(mt: Mt, order: number): number {
    const fb = FALLBACKS[mt]!;
    for (let j = order; j <= PAGEBLOCK_ORDER; j++) {
      for (const other of fb) {
        const b = this.head[other * LIST_ORDERS + j]!;
        if (b >= 0) {
          this.fallbackEvents++;
          return b;
        }
      }
    }
    return -1;
  }

  // ---------------------------------------------------------------- allocation

  private takePage(b: number, page: number, o: number, pinned: boolean): void {
    this.giveFrames(page >>> 5, 1 << (page & 31), o);
    if (pinned) this.pbPinned[b] = this.pbPinned[b]! + 1;
  }

  /**
   * Gives the free frames `take` (bit per frame) of used word `wi` to owner `o`: used bits,
   * wordOwner, and the owner planes when the word holds several owners from now on.
   */
  private giveFrames(wi: number, take: number, o: number): void {
    const x = this.usedI[wi]!;
    this.usedI[wi] = x | take;
    if (x === 0) {
      this.wordOwner[wi] = o;
      return;
    }
    const who = this.wordOwner[wi]!;
    if (who === o) return;
    const pl = this.planes;
    const i = wi << 3;
    if (who === MIXED) {
      for (let k = 0; k < PLANES; k++) pl[i + k] = (pl[i + k]! & ~take) | (-((o >>> k) & 1) & take);
    } else {
      // The word becomes MIXED: its planes get the previous single owner everywhere, `o` on `take`.
      for (let k = 0; k < PLANES; k++) pl[i + k] = (-((who >>> k) & 1) & ~take) | (-((o >>> k) & 1) & take);
      this.wordOwner[wi] = MIXED;
    }
  }

  /**
   * Allocates up to `n` order-0 frames for owner `o`. Consecutive calls keep filling the same
   * pageblock (the per-cpu free lists hand out pages in batches from one area). Returns the
   * number allocated (less than `n` only when memory is exhausted); `lastBlock` holds the
   * pageblock of the last frame.
   */
  allocPages(o: number, n: number): number {
    const mt = this.ownerMt[o]! as Mt;
    const pinned = this.ownerMovable[o] === 0;
    let done = 0;
    while (done < n) {
      let b = this.cursor[mt]!;
      if (b < 0 || this.pbFree[b] === 0 || this.pbHuge[b] === 1 || this.pbMt[b] !== mt) {
        b = this.pickBlock(mt, 0);
        if (b < 0) break;
        this.cursor[mt] = b;
      }
      done += this.fillBlock(b, o, n - done, pinned);
      this.lastBlock = b;
    }
    return done;
  }

  lastBlock = -1;

  /** Takes up to `n` free frames of block `b`, partly used words first (keeps free words whole), lowest frames first. */
  private fillBlock(b: number, o: number, n: number, pinned: boolean): number {
    const base = b * 16; // PAGEBLOCK_WORDS
    const u = this.usedI;
    // The block has pbFree[b] free frames: stop once they are all taken.
    const limit = Math.min(n, this.pbFree[b]!);
    let got = 0;
    let lo = 512;
    let hi = -1;
    // Partly used words first, then free words (each in address order).
    let partial = 0;
    let empty = 0;
    for (let w = 0; w < 16; w++) {
      const x = u[base + w]!;
      if (x === 0) empty |= 1 << w;
      else if (x !== -1) partial |= 1 << w;
    }
    if (limit === this.pbFree[b]) {
      // Every free frame of the block is taken: the order does not matter, one pass does.
      partial |= empty;
      empty = 0;
    }
    for (let pass = 0; pass < 2 && got < limit; pass++) {
      for (let ws = pass === 0 ? partial : empty; ws !== 0 && got < limit; ws &= ws - 1) {
        const w = 31 - Math.clz32(ws & -ws);
        const x = u[base + w]!;
        let take = ~x;
        const c = x === 0 ? 32 : popcount32(take);
        const want = limit - got;
        if (c > want) {
          take = lowestBits(take, want);
          got += want;
        } else got += c;
        this.giveFrames(base + w, take, o);
        const first = (w << 5) + 31 - Math.clz32(take & -take);
        const last = (w << 5) + 31 - Math.clz32(take);
        if (first < lo) lo = first;
        if (last > hi) hi = last;
      }
    }
    if (got > 0) this.afterFill(b, o, got, pinned, lo, hi);
    return got;
  }

  /** Counters, free list and chunk log after fillBlock gave `got` frames (offsets lo..hi) of block `b` to `o`. */
  private afterFill(b: number, o: number, got: number, pinned: boolean, lo: number, hi: number): void {
    const free = this.pbFree[b]! - got;
    this.pbFree[b] = free;
    if (pinned) this.pbPinned[b] = this.pbPinned[b]! + got;
    this.freePages -= got;
    this.allocatedFrames += got;
    this.ownerPages[o] = this.ownerPages[o]! + got;
    this.markPresent(b, o);
    this.relist(b);
    if (this.chunkN < CHUNK_LOG_CAPACITY) {
      this.chunkBlock[this.chunkN] = b;
      this.chunkCount[this.chunkN] = got;
      this.chunkLo[this.chunkN] = lo;
      this.chunkHi[this.chunkN] = hi;
      this.chunkN++;
    }
  }

  /**
   * Chunk log of the last allocPages calls since resetChunkLog(): which pageblocks received how
   * many frames (the page-cache LRU records these). Holds up to CHUNK_LOG_CAPACITY entries.
   */
  readonly chunkBlock = new Int32Array(CHUNK_LOG_CAPACITY);
  readonly chunkCount = new Int32Array(CHUNK_LOG_CAPACITY);
  /** Lowest and highest frame offset (0..511) inside the block that the chunk received. */
  readonly chunkLo = new Int16Array(CHUNK_LOG_CAPACITY);
  readonly chunkHi = new Int16Array(CHUNK_LOG_CAPACITY);
  chunkN = 0;
  resetChunkLog(): void {
    this.chunkN = 0;
  }

  /** Allocates one whole free pageblock as an order-9 folio. Returns the block or -1. */
  allocHugeBlock(o: number): number {
    const mt = this.ownerMt[o]! as Mt;
    const b = this.pickBlock(mt, PAGEBLOCK_ORDER);
    if (b < 0) return -1;
    if (this.pbFree[b] !== PAGEBLOCK_PAGES) throw new Error(`PhysMem: pageblock ${b} picked for order 9 is not free`);
    if (this.pbMt[b] !== mt) this.setMt(b, mt);
    const base = b * PAGEBLOCK_WORDS;
    this.used.fill(0xffffffff, base, base + PAGEBLOCK_WORDS);
    this.wordOwner.fill(o, base, base + PAGEBLOCK_WORDS);
    this.pbFree[b] = 0;
    if (this.ownerMovable[o] === 0) this.pbPinned[b] = PAGEBLOCK_PAGES;
    this.pbHuge[b] = 1;
    this.freePages -= PAGEBLOCK_PAGES;
    this.allocatedFrames += PAGEBLOCK_PAGES;
    this.ownerPages[o] = this.ownerPages[o]! + PAGEBLOCK_PAGES;
    this.markPresent(b, o);
    this.relist(b);
    return b;
  }

  /** Allocates an aligned order-`order` folio (1..8) inside one pageblock. Returns its first frame or -1. */
  allocOrder(o: number, order: number): number {
    const mt = this.ownerMt[o]! as Mt;
    const b = this.pickBlock(mt, order);
    if (b < 0) return -1;
    const base = b * PAGEBLOCK_WORDS;
    const u = this.used;
    let start = -1;
    if (order <= 4) {
      for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
        const starts = alignedFreeStarts(u[base + w]!, order);
        if (starts !== 0) {
          start = (base + w) * 32 + lowestBit(starts);
          break;
        }
      }
    } else {
      const words = 1 << (order - 5);
      for (let w = 0; w < PAGEBLOCK_WORDS && start < 0; w += words) {
        let ok = true;
        for (let k = 0; k < words; k++) if (u[base + w + k] !== 0) ok = false;
        if (ok) start = (base + w) * 32;
      }
    }
    if (start < 0) throw new Error(`PhysMem: pageblock ${b} listed with a free order-${order} buddy but has none`);
    const count = 1 << order;
    const pinned = this.ownerMovable[o] === 0;
    for (let p = start; p < start + count; p++) this.takePage(b, p, o, pinned);
    this.pbFree[b] = this.pbFree[b]! - count;
    this.freePages -= count;
    this.allocatedFrames += count;
    this.ownerPages[o] = this.ownerPages[o]! + count;
    this.markPresent(b, o);
    this.relist(b);
    return start;
  }

  // ---------------------------------------------------------------- freeing

  private dropPage(page: number): void {
    const w = page >>> 5;
    this.used[w] = (this.used[w]! & ~(1 << (page & 31))) >>> 0;
    if (this.used[w] === 0) this.wordOwner[w] = 0;
    this.freedFrames++;
  }
  /** Frames freed and allocated since boot (vmstat pgfree / pgalloc_normal; migration excluded). */
  freedFrames = 0;
  allocatedFrames = 0;

  /** Frees up to `n` frames of owner `o` in block `b` (not a huge block), highest frames first. Returns frames freed. */
  freeInBlock(o: number, b: number, n: number): number {
    if (n <= 0) return 0;
    if (this.pbHuge[b] === 1) throw new Error(`PhysMem: freeInBlock on huge pageblock ${b}`);
    const used = this.usedI;
    const wordOwner = this.wordOwner;
    const base = b * 16; // PAGEBLOCK_WORDS
    let freed = 0;
    let changed = 0;
    for (let w = 15; w >= 0 && freed < n; w--) {
      const wi = base + w;
      const who = wordOwner[wi]!;
      if (who !== o && who !== MIXED) continue; // free, or all another owner's
      let drop = who === o ? used[wi]! : this.framesOf(wi, o);
      if (drop === 0) continue;
      // A word found to hold only o's frames is known to be o's again.
      if (who === MIXED && drop === used[wi]) wordOwner[wi] = o;
      const c = popcount32(drop);
      if (c > n - freed) drop = highestBits(drop, n - freed, c);
      freed += c > n - freed ? n - freed : c;
      this.dropFrames(wi, drop);
      changed |= 1 << w;
    }
    if (freed < n) this.clearPresent(b, o);
    if (freed > 0) this.afterFree(o, b, freed, changed);
    return freed;
  }

  /** Frames (bit per frame) of the MIXED used word `wi` that owner `o` holds (from the planes). */
  private framesOf(wi: number, o: number): number {
    const pl = this.planes;
    const i = wi << 3;
    // Plane k where bit k of o is set, its complement where it is clear: AND of the eight.
    let m = pl[i]! ^ ((o & 1) - 1);
    m &= pl[i + 1]! ^ (((o >>> 1) & 1) - 1);
    m &= pl[i + 2]! ^ (((o >>> 2) & 1) - 1);
    m &= pl[i + 3]! ^ (((o >>> 3) & 1) - 1);
    m &= pl[i + 4]! ^ (((o >>> 4) & 1) - 1);
    m &= pl[i + 5]! ^ (((o >>> 5) & 1) - 1);
    m &= pl[i + 6]! ^ (((o >>> 6) & 1) - 1);
    m &= pl[i + 7]! ^ (((o >>> 7) & 1) - 1);
    return m & this.usedI[wi]!;
  }

  /** Frees the frames `drop` (bit per frame) of used word `wi`: used bits and wordOwner. */
  private dropFrames(wi: number, drop: number): void {
    const rest = this.usedI[wi]! & ~drop;
    this.usedI[wi] = rest;
    if (rest === 0) this.wordOwner[wi] = 0;
    // Planes of free frames are not cleared (ownerOf() reads the used bit first).
  }

  /** Counters and free lists after `freed` frames of `o` were freed in the used words `changed` of block `b`. */
  private afterFree(o: number, b: number, freed: number, changed: number): void {
    this.freedFrames += freed;
    this.pbFree[b] = this.pbFree[b]! + freed;
    if (this.ownerMovable[o] === 0) this.pbPinned[b] = this.pbPinned[b]! - freed;
    this.freePages += freed;
    this.ownerPages[o] = this.ownerPages[o]! - freed;
    this.relistFreed(b, changed);
  }

  /**
   * Frees up to `n` frames of owner `o` among the frame offsets [lo, hi] of block `b`, from the
   * top, but keeps every `keepOneIn`-th frame it meets (0 = keep none): kept frames stay
   * allocated, scattered over the range. Returns frames freed; the number kept is in `lastKept`.
   * (The whole 4-frame groups holding lo and hi are examined.)
   */
  freeInRange(o: number, b: number, n: number, keepOneIn: number, lo: number, hi: number): number {
    if (this.pbHuge[b] === 1) throw new Error(`PhysMem: freeInRange on huge pageblock ${b}`);
    const used = this.usedI;
    const wordOwner = this.wordOwner;
    // The 4-frame groups gLo..gHi of the range, in used words wiLo..wiHi.
    const gLo = (b * PAGEBLOCK_PAGES + lo) >>> 2;
    const gHi = (b * PAGEBLOCK_PAGES + hi) >>> 2;
    const wiLo = gLo >>> 3;
    const wiHi = gHi >>> 3;
    let freed = 0;
    let seen = 0;
    let changed = 0;
    // Frames of o met are numbered 1, 2, ... from the top; the next kept is number seen + toKeep.
    let toKeep = keepOneIn > 0 ? keepOneIn : 0x40000000;
    for (let wi = wiHi; wi >= wiLo && seen < n; wi--) {
      const who = wordOwner[wi]!;
      if (who !== o && who !== MIXED) continue; // free, or all another owner's
      const qLo = wi === wiLo ? gLo & 7 : 0;
      const qHi = wi === wiHi ? gHi & 7 : 7;
      // The frames of the range's groups.
      const groups = ~((1 << (qLo << 2)) - 1) & (qHi === 7 ? -1 : (1 << ((qHi + 1) << 2)) - 1);
      let bits: number;
      if (who === o) bits = used[wi]! & groups; // every used frame of the word is o's
      else {
        const mine = this.framesOf(wi, o);
        if (mine !== 0 && mine === used[wi]) wordOwner[wi] = o;
        bits = mine & groups;
      }
      if (bits === 0) continue;
      let c = popcount32(bits);
      if (c > n - seen) {
        bits = highestBits(bits, n - seen, c);
        c = n - seen;
      }
      seen += c;
      let drop = bits;
      let kept = 0;
      if (toKeep <= c) {
        // Keep the toKeep-th highest frame of the word and every keepOneIn-th after it, found a
        // byte at a time from the top (`above`: frames in the bytes already passed).
        let r = toKeep;
        let above = 0;
        for (let sh = 24; r <= c; sh -= 8) {
          const byte = (bits >>> sh) & 255;
          const cnt = POP8[byte]!;
          for (; r - above <= cnt; r += keepOneIn) {
            drop ^= SELECT_HIGH[(byte << 3) + r - above - 1]! << sh;
            kept++;
          }
          above += cnt;
        }
        toKeep = r - c;
        if (drop === 0) continue;
      } else toKeep -= c;
      freed += c - kept;
      this.dropFrames(wi, drop);
      changed |= 1 << (wi & 15);
    }
    this.lastKept = seen - freed;
    if (freed > 0) this.afterFree(o, b, freed, changed);
    return freed;
  }

  /** Frees up to `n` frames of `o` in block `b`, keeping every `keepOneIn`-th (whole block range). */
  freeInBlockSparse(o: number, b: number, n: number, keepOneIn: number): number {
    return this.freeInRange(o, b, n, keepOneIn, 0, PAGEBLOCK_PAGES - 1);
  }
  lastKept = 0;

  /** Frees a whole order-9 folio. */
  freeHugeBlock(b: number): void {
    if (this.pbHuge[b] !== 1) throw new Error(`PhysMem: freeHugeBlock on pageblock ${b}, which is not huge`);
    const o = this.ownerOf(b * PAGEBLOCK_PAGES);
    const base = b * PAGEBLOCK_WORDS;
    this.used.fill(0, base, base + PAGEBLOCK_WORDS);
    this.wordOwner.fill(0, base, base + PAGEBLOCK_WORDS);
    this.pbHuge[b] = 0;
    this.pbFree[b] = PAGEBLOCK_PAGES;
    this.pbPinned[b] = 0;
    this.freePages += PAGEBLOCK_PAGES;
    this.freedFrames += PAGEBLOCK_PAGES;
    this.ownerPages[o] = this.ownerPages[o]! - PAGEBLOCK_PAGES;
    this.clearPresent(b, o);
    this.relist(b);
  }

  /** Turns an order-9 folio into 512 order-0 frames of the same owner (split_huge_page). */
  splitHugeBlock(b: number): void {
    if (this.pbHuge[b] !== 1) throw new Error(`PhysMem: split of pageblock ${b}, which is not huge`);
    this.pbHuge[b] = 0;
    this.relist(b);
  }

  /**
   * Frees `n` frames of owner `o`, starting with block `hint` (if it holds some), then walking
   * the owner's pageblocks from `start` (or, when start < 0, from where the owner's last walk
   * stopped). Returns frames freed.
   */
  freeOwnerPages(o: number, n: number, hint: number, start: number): number {
    let freed = 0;
    if (hint >= 0 && hint < this.nPb && this.pbHuge[hint] === 0 && this.isPresentHint(hint, o)) {
      freed += this.freeInBlock(o, hint, n);
    }
    if (freed >= n || this.ownerPages[o]! <= 0) return freed;
    const nPb = this.nPb;
    const from = start >= 0 ? start % nPb : this.ownerCursor[o]!;
    // Blocks from..nPb-1, then 0..from-1; the walk stops at the block that completes the
    // request (the next walk starts there) or, having gone round, back at `from`.
    let cursor = from;
    for (let pass = 0; pass < 2 && freed < n; pass++) {
      const end = pass === 0 ? nPb : from;
      let b = pass === 0 ? from : 0;
      for (;;) {
        b = this.nextPresent(o, b, end);
        if (b >= end) break;
        if (this.pbHuge[b] === 0) freed += this.freeInBlock(o, b, n - freed);
        if (freed >= n) {
          cursor = b;
          break;
        }
        b++;
      }
    }
    this.ownerCursor[o] = cursor;
    return freed;
  }
  private readonly ownerCursor = new Int32Array(MAX_OWNERS + 1);

  /**
   * Moves the owner's walk position to the `k`-th pageblock holding its frames after the
   * current one (going round once at most; it stays put when there are fewer).
   */
  skipOwnerBlocks(o: number, k: number): void {
    if (this.ownerPages[o]! <= 0 || k <= 0) return;
    const nPb = this.nPb;
    const cur = this.ownerCursor[o]!;
    let left = k;
    // Blocks cur+1..nPb-1, then 0..cur.
    for (let pass = 0; pass < 2; pass++) {
      const end = pass === 0 ? nPb : cur + 1;
      let b = pass === 0 ? cur + 1 : 0;
      for (;;) {
        b = this.nextPresent(o, b, end);
        if (b >= end) break;
        if (--left === 0) {
          this.ownerCursor[o] = b;
          return;
        }
        b++;
      }
    }
  }

  /** Frees every non-huge frame of owner `o`; returns the number freed. */
  freeAllOf(o: number): number {
    let freed = 0;
    const nPb = this.nPb;
    for (let b = this.nextPresent(o, 0, nPb); b < nPb; b = this.nextPresent(o, b + 1, nPb)) {
      if (this.pbHuge[b] === 1) {
        if (this.ownerOf(b * PAGEBLOCK_PAGES) === o) {
          this.freeHugeBlock(b);
          freed += PAGEBLOCK_PAGES;
        }
        continue;
      }
      freed += this.freeInBlock(o, b, PAGEBLOCK_PAGES);
    }
    return freed;
  }

  /** Moves the frame `src` to the free frame `dst` (page migration). */
  movePage(src: number, dst: number): void {
    const o = this.ownerOf(src);
    const bs = (src / PAGEBLOCK_PAGES) | 0;
    const bd = (dst / PAGEBLOCK_PAGES) | 0;
    this.dropPage(src);
    this.freedFrames--;
    this.giveFrames(dst >>> 5, 1 << (dst & 31), o);
    this.pbFree[bs] = this.pbFree[bs]! + 1;
    this.pbFree[bd] = this.pbFree[bd]! - 1;
    this.markPresent(bd, o);
  }

  /** Count of frames of owner `o` in block `b` (scan). */
  countInBlock(o: number, b: number): number {
    let c = 0;
    const start = b * PAGEBLOCK_PAGES;
    for (let p = start; p < start + PAGEBLOCK_PAGES; p++) if (this.ownerOf(p) === o) c++;
    return c;
  }

  /** Owner of frame `p`, 0 when the frame is free. */
  ownerOf(p: number): number {
    const wi = p >>> 5;
    const bit = p & 31;
    if (((this.usedI[wi]! >>> bit) & 1) === 0) return 0;
    const who = this.wordOwner[wi]!;
    if (who !== MIXED) return who;
    let o = 0;
    for (let k = 0; k < PLANES; k++) o |= ((this.planes[(wi << 3) + k]! >>> bit) & 1) << k;
    return o;
  }

  /** Free buddies per order 0..10, as /proc/buddyinfo would show for the one zone (derived from the bitmaps). */
  buddyinfo(): number[] {
    const out = new Array<number>(11).fill(0);
    let prevFree = false;
    for (let b = 0; b < this.nPb; b++) {
      if (this.pbFree[b] === PAGEBLOCK_PAGES) {
        // Pair aligned free blocks into order 10.
        if ((b & 1) === 1 && prevFree) {
          out[9]! -= 1;
          out[10]! += 1;
          prevFree = false;
        } else {
          out[9]! += 1;
          prevFree = (b & 1) === 0;
        }
        continue;
      }
      prevFree = false;
      if (this.pbHuge[b] === 1 || this.pbFree[b] === 0) continue;
      this.decomposeBlock(b, out);
    }
    return out;
  }

  /** Adds the buddy decomposition of a partly free block's free frames to `out`. */
  private decomposeBlock(b: number, out: number[]): void {
    const base = b * PAGEBLOCK_WORDS;
    const zero = new Uint8Array(PAGEBLOCK_WORDS);
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) zero[w] = this.used[base + w] === 0 ? 1 : 0;
    const consumed = new Uint8Array(PAGEBLOCK_WORDS);
    for (let order = 8; order >= 5; order--) {
      const words = 1 << (order - 5);
      for (let w = 0; w < PAGEBLOCK_WORDS; w += words) {
        let ok = true;
        for (let k = 0; k < words; k++) if (zero[w + k] === 0 || consumed[w + k] === 1) ok = false;
        if (ok) {
          out[order]! += 1;
          for (let k = 0; k < words; k++) consumed[w + k] = 1;
        }
      }
    }
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      if (consumed[w] === 1) continue;
      let free = ~this.used[base + w]! >>> 0;
      for (let order = 4; order >= 0 && free !== 0; order--) {
        const size = 1 << order;
        const mask = size === 32 ? 0xffffffff : (1 << size) - 1;
        for (let s = 0; s < 32; s += size) {
          const m = (mask << s) >>> 0;
          if ((free & m) >>> 0 === m) {
            out[order]! += 1;
            free = (free & ~m) >>> 0;
          }
        }
      }
    }
  }

  /**
   * Consistency of the derived structures (tests): every pageblock on the free list of its
   * migratetype and largest free order, list links and counts intact, and a presence bit for
   * every owner that has frames in a block (presence may be stale-positive, never negative).
   * Returns the violations found.
   */
  checkStructures(): string[] {
    const errs: string[] = [];
    for (let b = 0; b < this.nPb && errs.length < 20; b++) {
      const ord = this.computeMaxOrd(b);
      if (ord !== this.pbMaxOrd[b]) errs.push(`pageblock ${b}: largest free order ${ord}, recorded ${this.pbMaxOrd[b]}`);
      const want = ord < 0 ? -1 : this.pbMt[b]! * LIST_ORDERS + ord;
      if (this.listOf[b] !== want) errs.push(`pageblock ${b}: on free list ${this.listOf[b]}, should be on ${want}`);
      for (let p = b * PAGEBLOCK_PAGES; p < (b + 1) * PAGEBLOCK_PAGES; p++) {
        const o = this.ownerOf(p);
        if (o !== 0 && !this.isPresentHint(b, o)) {
          errs.push(`pageblock ${b}: owner ${o} has frames but no presence bit`);
          break;
        }
      }
      for (let wi = b * PAGEBLOCK_WORDS; wi < (b + 1) * PAGEBLOCK_WORDS; wi++) {
        const who = this.wordOwner[wi]!;
        if ((who === 0) !== (this.used[wi] === 0)) errs.push(`used word ${wi}: word owner ${who} but used bits ${this.used[wi]}`);
        if (who !== 0 && who !== MIXED && this.ownerInUse[who] !== 1) errs.push(`used word ${wi}: word owner ${who} is not a registered owner`);
        if (who !== MIXED) continue;
        for (let p = wi * 32; p < wi * 32 + 32; p++) {
          const o = this.ownerOf(p);
          if (o !== 0 && this.ownerInUse[o] !== 1) {
            errs.push(`used word ${wi}: frame ${p} belongs to owner ${o}, which is not registered`);
            break;
          }
        }
      }
    }
    for (let l = 0; l < MT_COUNT * LIST_ORDERS; l++) {
      let n = 0;
      let prev = -1;
      for (let b = this.head[l]!; b >= 0 && n <= this.nPb; b = this.next[b]!) {
        if (this.listOf[b] !== l) errs.push(`free list ${l}: pageblock ${b} says it is on list ${this.listOf[b]}`);
        if (this.prev[b] !== prev) errs.push(`free list ${l}: pageblock ${b} has prev ${this.prev[b]}, expected ${prev}`);
        prev = b;
        n++;
      }
      if (n !== this.listCount[l]) errs.push(`free list ${l}: ${n} pageblocks linked, count says ${this.listCount[l]}`);
    }
    return errs;
  }

  /** Fragmentation score (extfrag for order 9): % of free memory not in free pageblocks. */
  fragmentationScore(): number {
    if (this.freePages === 0) return 0;
    const inBlocks = this.freeBlockCount() * PAGEBLOCK_PAGES;
    return (100 * (this.freePages - inBlocks)) / this.freePages;
  }
}
