/**
 * Page-cache LRU at allocation-chunk granularity. Every page-cache allocation records which
 * pageblocks received how many frames, in age order, on one of two lists: inactive ("cold":
 * data read once, e.g. a streaming scan) and active ("hot": a working set that is re-read,
 * which workingset detection promotes). Reclaim frees the oldest chunks, inactive first; the
 * active list is only shrunk when the inactive list is exhausted. Reclaim therefore frees
 * frames where they were allocated at about the same time, interleaved with whatever else was
 * allocated then, which is what leaves free memory scattered over many pageblocks.
 */
import type { Kernel } from './kernel.js';

/**
 * One page in this many of a reclaimed chunk was referenced since it was read and survives one
 * more trip through the LRU (model: readahead and metadata re-use; it scatters surviving page
 * cache over pageblocks the way LRU order does on a real machine, so reclaim yields free pages,
 * not free pageblocks).
 */
const SECOND_CHANCE_ONE_IN = 6;

/** A ring of LRU chunks; the capacity is a power of two (indices wrap with a mask). */
class ChunkRing {
  o = new Int32Array(4096);
  b = new Int32Array(4096);
  c = new Int32Array(4096);
  /** 1 when the chunk already had its second chance. */
  f = new Uint8Array(4096);
  /** Frame offsets [lo, hi] inside the block where the chunk's frames are. */
  lo = new Int16Array(4096);
  hi = new Int16Array(4096);
  head = 0;
  len = 0;
  pages = 0;

  push(owner: number, block: number, count: number, flag: number, lo: number, hi: number): void {
    // Merge with the newest entry when it is the same owner and block (common for streams).
    if (this.len > 0) {
      const last = (this.head + this.len - 1) & (this.o.length - 1);
      if (this.o[last] === owner && this.b[last] === block && this.f[last] === flag) {
        this.c[last] = this.c[last]! + count;
        if (lo < this.lo[last]!) this.lo[last] = lo;
        if (hi > this.hi[last]!) this.hi[last] = hi;
        this.pages += count;
        return;
      }
    }
    if (this.len === this.o.length) this.grow();
    const i = (this.head + this.len) & (this.o.length - 1);
    this.o[i] = owner;
    this.b[i] = block;
    this.c[i] = count;
    this.f[i] = flag;
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.len++;
    this.pages += count;
  }

  private grow(): void {
    const cap = this.o.length * 2;
    const no = new Int32Array(cap);
    const nb = new Int32Array(cap);
    const nc = new Int32Array(cap);
    const nf = new Uint8Array(cap);
    const nlo = new Int16Array(cap);
    const nhi = new Int16Array(cap);
    for (let k = 0; k < this.len; k++) {
      const i = (this.head + k) & (this.o.length - 1);
      no[k] = this.o[i]!;
      nb[k] = this.b[i]!;
      nc[k] = this.c[i]!;
      nf[k] = this.f[i]!;
      nlo[k] = this.lo[i]!;
      nhi[k] = this.hi[i]!;
    }
    this.o = no;
    this.b = nb;
    this.c = nc;
    this.f = nf;
    this.lo = nlo;
    this.hi = nhi;
    this.head = 0;
  }

  popHead(): void {
    this.pages -= this.c[this.head]!;
    this.head = (this.head + 1) & (this.o.length - 1);
    this.len--;
  }

  /** Removes every entry of an owner (the owner is going away and its id may be reused). */
  purge(owner: number): void {
    let w = 0;
    const cap = this.o.length;
    const no = new Int32Array(cap);
    const nb = new Int32Array(cap);
    const nc = new Int32Array(cap);
    const nf = new Uint8Array(cap);
    const nlo = new Int16Array(cap);
    const nhi = new Int16Array(cap);
    let pages = 0;
    for (let k = 0; k < this.len; k++) {
      const i = (this.head + k) & (cap - 1);
      if (this.o[i] === owner) continue;
      no[w] = this.o[i]!;
      nb[w] = this.b[i]!;
      nc[w] = this.c[i]!;
      nf[w] = this.f[i]!;
      nlo[w] = this.lo[i]!;
      nhi[w] = this.hi[i]!;
      pages += this.c[i]!;
      w++;
    }
    this.o = no;
    this.b = nb;
    this.c = nc;
    this.f = nf;
    this.lo = nlo;
    this.hi = nhi;
    this.head = 0;
    this.len = w;
    this.pages = pages;
  }
}

export class FileLru {
  /** [0] inactive (cold), [1] active (hot). */
  private readonly lists = [new ChunkRing(), new ChunkRing()] as const;

  push(list: 0 | 1, owner: number, block: number, count: number, lo: number, hi: number): void {
    this.lists[list].push(owner, block, count, 0, lo, hi);
  }

  purgeOwner(owner: number): void {
    this.lists[0].purge(owner);
    this.lists[1].purge(owner);
  }

  /** Pages recorded on a list (may exceed what is still resident after compaction moved or memcg reclaim freed some). */
  listPages(list: 0 | 1): number {
    return this.lists[list].pages;
  }

  /**
   * Frees about `target` page-cache frames (or all there is), oldest chunk first, inactive list
   * first. A chunk frees as many of its owner's frames in its pageblock as it recorded; which
   * ones is not tracked (the model keeps counts, not page ages).
   */
  reclaim(k: Kernel, target: number): number {
    const ph = k.phys;
    let freed = 0;
    let pendingOwner = -1;
    let pendingPages = 0;
    while (freed < target) {
      const ring = this.lists[0].len > 0 ? this.lists[0] : this.lists[1];
      if (ring.len === 0) break;
      const i = ring.head;
      const owner = ring.o[i]!;
      const block = ring.b[i]!;
      const count = ring.c[i]!;
      const second = ring.f[i]!;
      const lo = ring.lo[i]!;
      const hi = ring.hi[i]!;
      ring.popHead();
      // Frames may be gone already (freed with an older chunk of the same block, or by memcg
      // reclaim); frames moved by compaction were re-entered at their destination.
      if (ph.ownerInUse[owner] !== 1 || ph.pbHuge[block] === 1 || !ph.isPresentHint(block, owner)) continue;
      let got: number;
      if (second === 0) {
        // Referenced pages get a second chance (folio_referenced -> activate/rotate): they stay,
        // scattered through the block, and come back at the tail of the list.
        got = ph.freeInRange(owner, block, count, SECOND_CHANCE_ONE_IN, lo, hi);
        if (ph.lastKept > 0) ring.push(owner, block, ph.lastKept, 1, lo, hi);
      } else got = ph.freeInRange(owner, block, count, 0, lo, hi);
      if (got > 0) {
        // Uncharges are summed per owner and applied when the owner changes (same totals).
        if (owner !== pendingOwner) {
          if (pendingPages > 0) k.fileFreed(pendingOwner, pendingPages);
          pendingOwner = owner;
          pendingPages = 0;
        }
        pendingPages += got;
        freed += got;
      }
    }
    if (pendingPages > 0) k.fileFreed(pendingOwner, pendingPages);
    return freed;
  }
}
