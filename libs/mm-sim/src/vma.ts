/**
 * A virtual memory area of a simulated process. Per 4 KiB page it keeps two bits (written by
 * the program = "touched"; mapped to a private frame = "present"); per 2 MiB region (one PMD,
 * 512 pages) it keeps the mapping state and the counters the fault path, khugepaged and the
 * shrinker need. Regions are PMD-aligned: the VMA starts on a 2 MiB boundary (the kernel
 * aligns anonymous mappings of 2 MiB or more, and ZGC/JVM heaps are aligned), so a region is
 * PMD-eligible when it lies entirely inside the VMA.
 */
import {
  VmaAdvice as VmaAdvice_,
} from '@thp-fleet/policy';
import {
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGEBLOCK_WORDS as PAGEBLOCK_WORDS_,
} from './constants.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const VmaAdvice = VmaAdvice_;
type VmaAdvice = VmaAdvice_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGEBLOCK_WORDS = PAGEBLOCK_WORDS_;

export const VmaKind = { Anon: 0, Shmem: 1 } as const;
export type VmaKind = (typeof VmaKind)[keyof typeof VmaKind];

/** PMD state of a region: pmd_none, a PTE table, or a PMD mapping of a THP. */
export const Region = { None: 0, Pte: 1, Pmd: 2 } as const;

export class Vma {
  readonly nRegions: number;
  readonly touched: Uint32Array;
  readonly present: Uint32Array;
  readonly regState: Uint8Array;
  readonly regPresent: Uint16Array;
  readonly regTouched: Uint16Array;
  /** Pageblock of the order-9 folio backing the region (PMD-mapped or PTE-mapped after a PMD split), else -1. */
  readonly regThp: Int32Array;
  /** Base pages allocated in a region whose THP was PMD-split and is waiting for the deferred split. */
  readonly regExtra: Uint16Array;
  /** Pageblock of the last base-page allocation for the region (frees start there). */
  readonly regHome: Int32Array;
  /** Present pages backed by mTHP folios and the order used. */
  readonly regMthp: Uint16Array;
  readonly regMthpOrd: Uint8Array;
  /** Pageblock holding the region's page table (a hint for freeing it). */
  readonly regPt: Int32Array;
  /** Generation stamp of the region's deferred-split queue entry (0 = not queued). */
  readonly regQueued: Uint32Array;

  presentPages = 0;
  touchedPages = 0;
  /** Frames owned (mapped pages + unmapped subpages of split-pending THPs). */
  physPages = 0;
  pmdRegions = 0;
  touchedInPmd = 0;
  /** Regions with a page table (PTE-mapped or PMD-mapped: x86-64 deposits a table for each THP). */
  tableRegions = 0;
  mthpPages = 0;
  /** Workload-defined share of touched pages that are hot (accessed in the steady state). */
  hotFraction = 1;
  /** Whether the workload accesses this VMA (drives khugepaged's "referenced" check). */
  accessed = true;

  constructor(
    readonly slot: number,
    readonly name: string,
    readonly task: number,
    readonly kind: VmaKind,
    readonly owner: number,
    readonly nPages: number,
    public advice: VmaAdvice,
  ) {
    if (!Number.isInteger(nPages) || nPages <= 0) throw new Error(`VMA ${name}: size must be a positive number of pages, got ${nPages}`);
    this.nRegions = Math.ceil(nPages / PAGEBLOCK_PAGES);
    const words = this.nRegions * PAGEBLOCK_WORDS;
    this.touched = new Uint32Array(words);
    this.present = new Uint32Array(words);
    this.regState = new Uint8Array(this.nRegions);
    this.regPresent = new Uint16Array(this.nRegions);
    this.regTouched = new Uint16Array(this.nRegions);
    this.regThp = new Int32Array(this.nRegions).fill(-1);
    this.regExtra = new Uint16Array(this.nRegions);
    this.regHome = new Int32Array(this.nRegions).fill(-1);
    this.regMthp = new Uint16Array(this.nRegions);
    this.regMthpOrd = new Uint8Array(this.nRegions);
    this.regQueued = new Uint32Array(this.nRegions);
    this.regPt = new Int32Array(this.nRegions).fill(-1);
  }

  get shmem(): boolean {
    return this.kind === VmaKind.Shmem;
  }

  get hugepageAdvised(): boolean {
    return this.advice === VmaAdvice.Hugepage;
  }

  /** Pages of region r that lie inside the VMA (512 except possibly the last region). */
  regionPages(r: number): number {
    const end = Math.min(this.nPages, (r + 1) * PAGEBLOCK_PAGES);
    return end - r * PAGEBLOCK_PAGES;
  }

  /** A PMD mapping needs the whole 2 MiB range inside the VMA (thp_vma_suitable_order). */
  pmdSuitable(r: number): boolean {
    return (r + 1) * PAGEBLOCK_PAGES <= this.nPages;
  }

  /** Valid-page mask of word w of region r (pages beyond the VMA end are not valid). */
  validMask(r: number, w: number): number {
    const first = r * PAGEBLOCK_PAGES + w * 32;
    const left = this.nPages - first;
    if (left >= 32) return 0xffffffff;
    if (left <= 0) return 0;
    return ((1 << left) - 1) >>> 0;
  }
}
