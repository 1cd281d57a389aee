/**
 * TLB cost model: the average translation cost of one random access into a workload's hot set,
 * given how much of that hot set is mapped by 2 MiB PMD entries and how much by 4 KiB PTEs.
 *
 * - Reach: a unified STLB of E entries holds 4K and 2M translations (Skylake-SP). With accesses
 *   spread uniformly over the hot set, an ideal cache keeps the most-referenced translations:
 *   2 MiB entries first (each covers 512× more of the hot set), then 4 KiB entries with the
 *   remaining capacity. Miss rate per access = share of accesses whose translation is not held.
 * - Walk cost: a walk whose leaf entry is cached costs WALK_CACHED_NS; the leaf entry misses the
 *   LLC with probability max(0, 1 - PT_CACHE_BYTES / leaf footprint), adding WALK_DRAM_NS. The
 *   leaf footprint is 8 bytes per 4 KiB page (PTEs) or per 2 MiB page (PMD entries) of hot set,
 *   which is why 4K walks on a multi-GiB hot set go to DRAM and 2M walks stay cached.
 */
import {
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGE_SIZE as PAGE_SIZE_,
  PTE_BYTES as PTE_BYTES_,
  PT_CACHE_BYTES as PT_CACHE_BYTES_,
  STLB_ENTRIES as STLB_ENTRIES_,
  WALK_CACHED_NS as WALK_CACHED_NS_,
  WALK_DRAM_NS as WALK_DRAM_NS_,
} from './constants.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGE_SIZE = PAGE_SIZE_;
const PTE_BYTES = PTE_BYTES_;
const PT_CACHE_BYTES = PT_CACHE_BYTES_;
const STLB_ENTRIES = STLB_ENTRIES_;
const WALK_CACHED_NS = WALK_CACHED_NS_;
const WALK_DRAM_NS = WALK_DRAM_NS_;

export interface TlbResult {
  /** Probability that an access misses the STLB. */
  readonly missRate: number;
  /** Mean translation cost per access in ns (miss rate × walk latency, by page size). */
  readonly nsPerAccess: number;
  /** Share of hot-set accesses that land in PMD-mapped memory. */
  readonly hugeShare: number;
}

/**
 * @param hotSmallPages hot 4 KiB pages mapped by PTEs
 * @param hotHugeRegions PMD-mapped 2 MiB regions that hold hot data
 * @param hotPagesInHuge hot 4 KiB-sized data pages inside those regions (access weight)
 */
export function tlbCost(hotSmallPages: number, hotHugeRegions: number, hotPagesInHuge: number, entries = STLB_ENTRIES): TlbResult {
  const totalWeight = hotSmallPages + hotPagesInHuge;
  if (totalWeight <= 0) return { missRate: 0, nsPerAccess: 0, hugeShare: 0 };
  const hugeShare = hotPagesInHuge / totalWeight;
  const heldHuge = Math.min(hotHugeRegions, entries);
  const missHuge = hotHugeRegions > 0 ? 1 - heldHuge / hotHugeRegions : 0;
  const spare = entries - heldHuge;
  const missSmall = hotSmallPages > 0 ? 1 - Math.min(1, spare / hotSmallPages) : 0;
  const footprint = hotSmallPages * PTE_BYTES + hotHugeRegions * PTE_BYTES;
  const leafMiss = footprint > PT_CACHE_BYTES ? 1 - PT_CACHE_BYTES / footprint : 0;
  const walkNs = WALK_CACHED_NS + leafMiss * WALK_DRAM_NS;
  const missRate = hugeShare * missHuge + (1 - hugeShare) * missSmall;
  return { missRate, nsPerAccess: missRate * walkNs, hugeShare };
}

/** Bytes covered by a region (for docs and tests). */
export const REGION_BYTES = PAGEBLOCK_PAGES * PAGE_SIZE;
