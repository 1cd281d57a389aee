/**
 * Physical memory of one node: every 4 KiB frame has an owner byte and a used bit; frames are
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
 * Everything is in typed arrays; nothing here allocates after construction.
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
const PRESENCE_WORDS = 8; // 256 owner bits per pageblock
/** Entries of the allocation chunk log; an allocPages call of n frames fills at most n entries. */
export const CHUNK_LOG_CAPACITY = 1024;

/** Population count of a 32-bit word. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Largest aligned free buddy order (0..4) inside one 32-page word, or -1 if the word is full. */
function wordMaxFreeOrder(usedWord: number): number {
  const free = ~usedWord >>> 0;
  if (free === 0) return -1;
  const a1 = free & (free >>> 1);
  if ((a1 & 0x55555555) === 0) return 0;
  const a2 = a1 & (a1 >>> 2);
  if ((a2 & 0x11111111) === 0) return 1;
  const a3 = a2 & (a2 >>> 4);
  if ((a3 & 0x01010101) === 0) return 2;
  const a4 = a3 & (a3 >>> 8);
  if ((a4 & 0x00010001) === 0) return 3;
  return 4;
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

export class PhysMem {
  readonly nPb: number;
  readonly nPages: number;
  /** Owner of each frame; 0 = free. */
  readonly owner: Uint8Array;
  /** The same bytes viewed four at a time. */
  private readonly owner32: Uint32Array;
  /** Used bit per frame, 16 words per pageblock. */
  readonly used: Uint32Array;
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
  /** Owner presence bits per pageblock (may be stale-positive; cleared when a scan finds none). */
  readonly presence: Uint32Array;
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
    this.owner = new Uint8Array(this.nPages);
    this.owner32 = new Uint32Array(this.owner.buffer);
    this.used = new Uint32Array(this.nPb * PAGEBLOCK_WORDS);
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
    this.presence = new Uint32Array(this.nPb * PRESENCE_WORDS);
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
    for (let b = 0; b < this.nPb; b++) this.clearPresent(b, o);
  }

  private markPresent(b: number, o: number): void {
    const i = b * PRESENCE_WORDS + (o >>> 5);
    this.presence[i] = this.presence[i]! | (1 << (o & 31));
  }

  isPresentHint(b: number, o: number): boolean {
    return (this.presence[b * PRESENCE_WORDS + (o >>> 5)]! & (1 << (o & 31))) !== 0;
  }

  clearPresent(b: number, o: number): void {
    const i = b * PRESENCE_WORDS + (o >>> 5);
    this.presence[i] = this.presence[i]! & ~(1 << (o & 31));
  }

  // ---------------------------------------------------------------- free lists

  private computeMaxOrd(b: number): number {
    if (this.pbHuge[b] === 1) return -1;
    const free = this.pbFree[b]!;
    if (free === PAGEBLOCK_PAGES) return PAGEBLOCK_ORDER;
    if (free === 0) return -1;
    const base = b * PAGEBLOCK_WORDS;
    const u = this.used;
    // Whole-word runs: order 5 = one free word, 6 = aligned pair, 7 = aligned quad, 8 = aligned octet.
    let zeroMask = 0;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) if (u[base + w] === 0) zeroMask |= 1 << w;
    if (zeroMask !== 0) {
      if ((zeroMask & 0xff) === 0xff || (zeroMask & 0xff00) === 0xff00) return 8;
      for (let g = 0; g < 16; g += 4) if (((zeroMask >>> g) & 0xf) === 0xf) return 7;
      for (let g = 0; g < 16; g += 2) if (((zeroMask >>> g) & 0x3) === 0x3) return 6;
      return 5;
    }
    let best = -1;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      const m = wordMaxFreeOrder(u[base + w]!);
      if (m > best) {
        best = m;
        if (best === 4) break;
      }
    }
    return best;
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
    const ord = this.computeMaxOrd(b);
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
    const w = page >>> 5;
    this.used[w] = (this.used[w]! | (1 << (page & 31))) >>> 0;
    this.owner[page] = o;
    if (pinned) this.pbPinned[b] = this.pbPinned[b]! + 1;
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

  /** Takes up to `n` free frames of block `b`, partly used words first (keeps free words whole). */
  private fillBlock(b: number, o: number, n: number, pinned: boolean): number {
    const base = b * PAGEBLOCK_WORDS;
    const u = this.used;
    let got = 0;
    let lo = PAGEBLOCK_PAGES;
    let hi = -1;
    for (let pass = 0; pass < 2 && got < n; pass++) {
      for (let w = 0; w < PAGEBLOCK_WORDS && got < n; w++) {
        let x = u[base + w]!;
        if (x === 0xffffffff) continue;
        if (pass === 0 && x === 0) continue;
        if (x === 0 && n - got >= 32) {
          // A whole free word: 32 frames at once.
          u[base + w] = 0xffffffff;
          this.owner.fill(o, (base + w) * 32, (base + w) * 32 + 32);
          got += 32;
          if (w * 32 < lo) lo = w * 32;
          if (w * 32 + 31 > hi) hi = w * 32 + 31;
          continue;
        }
        let free = ~x >>> 0;
        const pageBase = (base + w) * 32;
        while (free !== 0 && got < n) {
          const bitIdx = lowestBit(free);
          free &= free - 1;
          x = (x | (1 << bitIdx)) >>> 0;
          const page = pageBase + bitIdx;
          this.owner[page] = o;
          got++;
          const off = w * 32 + bitIdx;
          if (off < lo) lo = off;
          if (off > hi) hi = off;
        }
        u[base + w] = x;
      }
    }
    if (got > 0) {
      this.pbFree[b] = this.pbFree[b]! - got;
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
    return got;
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
    this.owner.fill(o, b * PAGEBLOCK_PAGES, (b + 1) * PAGEBLOCK_PAGES);
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
    this.owner[page] = 0;
    this.freedFrames++;
  }
  /** Frames freed and allocated since boot (vmstat pgfree / pgalloc_normal; migration excluded). */
  freedFrames = 0;
  allocatedFrames = 0;

  /** Frees up to `n` frames of owner `o` in block `b` (not a huge block). Returns frames freed. */
  freeInBlock(o: number, b: number, n: number): number {
    if (n <= 0) return 0;
    if (this.pbHuge[b] === 1) throw new Error(`PhysMem: freeInBlock on huge pageblock ${b}`);
    const own = this.owner;
    const own32 = this.owner32;
    const pat = Math.imul(o, 0x01010101) >>> 0;
    const start = b * PAGEBLOCK_PAGES;
    let freed = 0;
    // Four owner bytes at a time: a word without a byte equal to o is skipped (SWAR zero-byte
    // test); a word of four frames of o is freed in one go.
    const used = this.used;
    for (let w = (start + PAGEBLOCK_PAGES) / 4 - 1; w >= start / 4 && freed < n; w--) {
      const x = (own32[w]! ^ pat) >>> 0;
      if (x === 0 && freed + 4 <= n) {
        own32[w] = 0;
        const uw = w >>> 3;
        used[uw] = (used[uw]! & ~(0xf << ((w & 7) * 4))) >>> 0;
        freed += 4;
        this.freedFrames += 4;
        continue;
      }
      if ((((x - 0x01010101) & ~x & 0x80808080) >>> 0) === 0) continue;
      for (let p = w * 4 + 3; p >= w * 4 && freed < n; p--) {
        if (own[p] === o) {
          this.dropPage(p);
          freed++;
        }
      }
    }
    if (freed < n) this.clearPresent(b, o);
    if (freed > 0) {
      this.pbFree[b] = this.pbFree[b]! + freed;
      if (this.ownerMovable[o] === 0) this.pbPinned[b] = this.pbPinned[b]! - freed;
      this.freePages += freed;
      this.ownerPages[o] = this.ownerPages[o]! - freed;
      this.relist(b);
    }
    return freed;
  }

  /**
   * Frees up to `n` frames of owner `o` among the frame offsets [lo, hi] of block `b`, from the
   * top, but keeps every `keepOneIn`-th frame it meets (0 = keep none): kept frames stay
   * allocated, scattered over the range. Returns frames freed; the number kept is in `lastKept`.
   */
  freeInRange(o: number, b: number, n: number, keepOneIn: number, lo: number, hi: number): number {
    if (this.pbHuge[b] === 1) throw new Error(`PhysMem: freeInRange on huge pageblock ${b}`);
    const own = this.owner;
    const own32 = this.owner32;
    const pat = Math.imul(o, 0x01010101) >>> 0;
    const start = b * PAGEBLOCK_PAGES;
    let freed = 0;
    let seen = 0;
    const wLo = (start + lo) >>> 2;
    const used = this.used;
    for (let w = (start + hi) >>> 2; w >= wLo && seen < n; w--) {
      const x = (own32[w]! ^ pat) >>> 0;
      // Four frames of o with no kept frame among them: free the word at once.
      if (x === 0 && seen + 4 <= n && (keepOneIn === 0 || Math.floor((seen + 4) / keepOneIn) === Math.floor(seen / keepOneIn))) {
        own32[w] = 0;
        const uw = w >>> 3;
        used[uw] = (used[uw]! & ~(0xf << ((w & 7) * 4))) >>> 0;
        seen += 4;
        freed += 4;
        this.freedFrames += 4;
        continue;
      }
      if ((((x - 0x01010101) & ~x & 0x80808080) >>> 0) === 0) continue;
      for (let p = w * 4 + 3; p >= w * 4 && seen < n; p--) {
        if (own[p] !== o) continue;
        if (keepOneIn > 0 && ++seen % keepOneIn === 0) continue;
        if (keepOneIn === 0) seen++;
        this.dropPage(p);
        freed++;
      }
    }
    this.lastKept = seen - freed;
    if (freed > 0) {
      this.pbFree[b] = this.pbFree[b]! + freed;
      if (this.ownerMovable[o] === 0) this.pbPinned[b] = this.pbPinned[b]! - freed;
      this.freePages += freed;
      this.ownerPages[o] = this.ownerPages[o]! - freed;
      this.relist(b);
    }
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
    const o = this.owner[b * PAGEBLOCK_PAGES]!;
    const base = b * PAGEBLOCK_WORDS;
    this.used.fill(0, base, base + PAGEBLOCK_WORDS);
    this.owner.fill(0, b * PAGEBLOCK_PAGES, (b + 1) * PAGEBLOCK_PAGES);
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
    const word = o >>> 5;
    const bitm = 1 << (o & 31);
    let b = from;
    for (let i = 0; i < nPb && freed < n; i++) {
      if ((this.presence[b * PRESENCE_WORDS + word]! & bitm) !== 0 && this.pbHuge[b] === 0) freed += this.freeInBlock(o, b, n - freed);
      if (freed < n && ++b === nPb) b = 0;
    }
    this.ownerCursor[o] = b;
    return freed;
  }
  private readonly ownerCursor = new Int32Array(MAX_OWNERS + 1);

  /** Moves the owner's walk position past `k` pageblocks that hold its frames (scattered frees). */
  skipOwnerBlocks(o: number, k: number): void {
    if (this.ownerPages[o]! <= 0) return;
    const nPb = this.nPb;
    const word = o >>> 5;
    const bitm = 1 << (o & 31);
    let b = this.ownerCursor[o]!;
    let left = k;
    for (let i = 0; i < nPb && left > 0; i++) {
      if (++b === nPb) b = 0;
      if ((this.presence[b * PRESENCE_WORDS + word]! & bitm) !== 0) left--;
    }
    this.ownerCursor[o] = b;
  }

  /** Frees every non-huge frame of owner `o`; returns the number freed. */
  freeAllOf(o: number): number {
    let freed = 0;
    const word = o >>> 5;
    const bitm = 1 << (o & 31);
    for (let b = 0; b < this.nPb; b++) {
      if ((this.presence[b * PRESENCE_WORDS + word]! & bitm) === 0) continue;
      if (this.pbHuge[b] === 1) {
        if (this.owner[b * PAGEBLOCK_PAGES] === o) {
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
    const o = this.owner[src]!;
    const bs = (src / PAGEBLOCK_PAGES) | 0;
    const bd = (dst / PAGEBLOCK_PAGES) | 0;
    this.dropPage(src);
    this.freedFrames--;
    const w = dst >>> 5;
    this.used[w] = (this.used[w]! | (1 << (dst & 31))) >>> 0;
    this.owner[dst] = o;
    this.pbFree[bs] = this.pbFree[bs]! + 1;
    this.pbFree[bd] = this.pbFree[bd]! - 1;
    this.markPresent(bd, o);
  }

  /** Count of frames of owner `o` in block `b` (scan). */
  countInBlock(o: number, b: number): number {
    let c = 0;
    const start = b * PAGEBLOCK_PAGES;
    for (let p = start; p < start + PAGEBLOCK_PAGES; p++) if (this.owner[p] === o) c++;
    return c;
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

  /** Fragmentation score (extfrag for order 9): % of free memory not in free pageblocks. */
  fragmentationScore(): number {
    if (this.freePages === 0) return 0;
    const inBlocks = this.freeBlockCount() * PAGEBLOCK_PAGES;
    return (100 * (this.freePages - inBlocks)) / this.freePages;
  }
}
