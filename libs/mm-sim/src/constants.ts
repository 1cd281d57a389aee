/**
 * Every calibration constant of the simulator, with where its value comes from.
 *
 * "mech" = /work/shared/reference/thp-mechanics.md (section), "kif" =
 * reference/kernel-interface.md (section). Kernel source names are given where the value is a
 * kernel constant. Values marked "model" are modelling choices, explained in docs/simulator.md.
 */
import { PMD_ORDER } from '@thp-fleet/policy';

// ---------------------------------------------------------------------------------------------
// Geometry (x86-64, 4 KiB pages)
// ---------------------------------------------------------------------------------------------

/** Base page size (kif 5.1). */
export const PAGE_SIZE = 4096;
/** pageblock_order = HPAGE_PMD_ORDER on x86-64 (include/linux/pageblock-flags.h). */
export const PAGEBLOCK_ORDER = PMD_ORDER;
/** Pages per pageblock and per PMD THP: 512 (kif 5.1). */
export const PAGEBLOCK_PAGES = 1 << PAGEBLOCK_ORDER;
/** 32-bit words of a per-pageblock page bitmap. */
export const PAGEBLOCK_WORDS = PAGEBLOCK_PAGES / 32;
/** MAX_PAGE_ORDER = 10 on x86-64 (include/linux/mmzone.h): buddy orders 0..10. */
export const MAX_PAGE_ORDER = 10;
/** HPAGE_PMD_NR (kif 5.1). */
export const HPAGE_PMD_NR = PAGEBLOCK_PAGES;
/** Bytes of a PMD-mapped THP, `hpage_pmd_size` (kif 5.1: 2097152). */
export const HPAGE_PMD_SIZE = HPAGE_PMD_NR * PAGE_SIZE;
/** PAGE_ALLOC_COSTLY_ORDER (include/linux/mmzone.h). */
export const PAGE_ALLOC_COSTLY_ORDER = 3;

// ---------------------------------------------------------------------------------------------
// Fault, zeroing and allocation costs (mech 1C, 2.1 and 7)
// ---------------------------------------------------------------------------------------------

/** Non-zeroing overhead of one 4 KiB fault: thpfioscale 600 µs / 512 minus zeroing (mech 7). */
export const BASE_FAULT_OVERHEAD_US = 0.9;
/** Zeroing one 4 KiB page at 13.7 GB/s (mech 1C, commit cb431accb36e; mech 7). */
export const ZERO_4K_US = 0.3;
/** Clearing bandwidth range for 2 MiB folios, GB/s: 11.76 to 23.58 (commit 9890ecab6ad9, mech 1C). */
export const CLEAR_BW_GBPS_MIN = 11.76;
export const CLEAR_BW_GBPS_MAX = 23.58;
/** Median of an order-9 buddy allocation with a free block available: 2-8 µs, mode 2-4 (mech 1C, scylladb#8828). */
export const BUDDY_ALLOC_HUGE_MEDIAN_US = 3.5;
/** Log-normal shape that keeps most draws of the buddy allocation inside 2-8 µs (model, fits mech 1C). */
export const BUDDY_ALLOC_SIGMA = 0.35;
/** Small-order buddy allocation from the free lists (order < 9): a fraction of the order-9 cost (model). */
export const BUDDY_ALLOC_SMALL_US = 0.4;

// ---------------------------------------------------------------------------------------------
// Compaction and reclaim (mech 1D, 1H, 2.1, 7; mm/compaction.c, mm/page_alloc.c, mm/vmscan.c)
// ---------------------------------------------------------------------------------------------

/**
 * Cost of migrating one 4 KiB page during compaction (isolate, unmap, copy, remap, flush).
 * Copy alone is ~0.76 µs/page (collapse data, mech 1E: (523-233) µs / (384-1) pages); the
 * rest of migration roughly doubles it. Chosen so that a successful direct compaction
 * (reclaim of compact_gap + migration of half a pageblock) lands in the measured
 * 0.6-3.5 ms band (mech 7, thpfioscale MADV_HUGEPAGE). Model.
 */
export const COMPACT_MIGRATE_US_PER_PAGE = 2.0;
/** Cost of scanning one page frame in the migrate or free scanner (model; sub-µs per 512-page block). */
export const COMPACT_SCAN_US_PER_PAGE = 0.004;
/**
 * Pageblocks one direct compaction pass may scan before giving up, by priority:
 * async (MIGRATE_ASYNC, aborts early on contention), sync-light, sync (full zone). Model of
 * the kernel's abort conditions; yields the 2-43 ms failed-compaction band (mech 7).
 */
export const COMPACT_BLOCK_BUDGET_ASYNC = 24;
export const COMPACT_BLOCK_BUDGET_SYNC_LIGHT = 96;
export const COMPACT_BLOCK_BUDGET_SYNC = 512;
/** COMPACT_MAX_DEFER_SHIFT (mm/compaction.c): up to 64 attempts skipped after failures. */
export const COMPACT_MAX_DEFER_SHIFT = 6;
/** Compaction retries of a madvised (no __GFP_NORETRY) costly allocation; kernel's MAX_COMPACT_RETRIES is 16, the sim stops after priority escalation (model). */
export const COMPACT_MADVISE_ROUNDS = 3;
/** Direct reclaim cost per page reclaimed (clean page cache), µs (model; 1024 pages ≈ 1 ms, mech 7 band). */
export const RECLAIM_US_PER_PAGE = 1.0;
/** SWAP_CLUSTER_MAX (include/linux/swap.h): reclaim batch. */
export const SWAP_CLUSTER_MAX = 32;
/** kswapd reclaim throughput, pages per second of clean page cache (model: ~1 GiB/s on one core). */
export const KSWAPD_PAGES_PER_SEC = 262144;
/** kcompactd migration budget per second of simulated time, pages (model: one core at 2 µs/page → 500k/s, capped lower). */
export const KCOMPACTD_PAGES_PER_SEC = 200000;
/** vm.compaction_proactiveness default 20 (mm/compaction.c); thresholds 80 (low) and 90 (high). */
export const COMPACTION_PROACTIVENESS = 20;
/** HPAGE_FRAG_CHECK_INTERVAL_MSEC (mm/compaction.c): proactive compaction check period. */
export const PROACTIVE_CHECK_MS = 500;
/** SHRINK_BATCH (include/linux/shrinker.h): objects a shrinker scans per call. */
export const SHRINK_BATCH = 128;
/** Lognormal sigma applied to compaction/reclaim stall durations: lock contention and scheduling make a heavy tail (mech 1D: 333 ms outliers). Model. */
export const STALL_JITTER_SIGMA = 0.55;

// ---------------------------------------------------------------------------------------------
// Watermarks (mm/page_alloc.c, mm/khugepaged.c)
// ---------------------------------------------------------------------------------------------

/** min_free_kbytes = int_sqrt(lowmem_kbytes * 16) (mm/page_alloc.c calculate_min_free_kbytes). */
export function defaultMinFreeKbytes(memoryBytes: number): number {
  return Math.floor(Math.sqrt((memoryBytes / 1024) * 16));
}
/**
 * set_recommended_min_free_kbytes (mm/khugepaged.c): pageblock_nr_pages * nr_zones * 2 +
 * pageblock_nr_pages * nr_zones * MIGRATE_PCPTYPES^2, capped at 5% of memory. Two populated
 * zones (DMA32 + Normal) assumed on a server.
 */
export function thpRecommendedMinFreeKbytes(memoryBytes: number): number {
  const zones = 2;
  const pages = PAGEBLOCK_PAGES * zones * 2 + PAGEBLOCK_PAGES * zones * 3 * 3;
  return Math.min((pages * PAGE_SIZE) / 1024, (memoryBytes / 1024) * 0.05);
}
/** vm.watermark_scale_factor default 10 (0.1% of memory between watermarks). */
export const WATERMARK_SCALE_FACTOR = 10;
/** vm.watermark_boost_factor default 15000 (150% of the high watermark). */
export const WATERMARK_BOOST_FACTOR = 15000;

// ---------------------------------------------------------------------------------------------
// Fragmentation avoidance (mm/page_alloc.c)
// ---------------------------------------------------------------------------------------------

/** can_steal_fallback: orders >= pageblock_order / 2 may claim a whole block. */
export const STEAL_CLAIM_ORDER = PAGEBLOCK_ORDER >> 1;
/** try_to_claim_block: claim when free + alike pages >= 1 << (pageblock_order - 1). */
export const CLAIM_THRESHOLD_PAGES = 1 << (PAGEBLOCK_ORDER - 1);

// ---------------------------------------------------------------------------------------------
// khugepaged (kif 5.4, mech 1E and 2.2)
// ---------------------------------------------------------------------------------------------

/** Collapse pause seen by the process: 233 µs with 511 none PTEs to 523 µs with 128 (mech 1E). */
export const COLLAPSE_BASE_US = 232;
export const COLLAPSE_COPY_US_PER_PAGE = 0.76;

// ---------------------------------------------------------------------------------------------
// PSI (kernel/sched/psi.c)
// ---------------------------------------------------------------------------------------------

/** PSI_FREQ: averages are updated every 2 s. */
export const PSI_PERIOD_MS = 2000;
/** EXP_10s, EXP_60s, EXP_300s in FIXED_1 = 2048 units: 1/exp(2s/10s) etc. */
export const PSI_EXP_10S = 1677 / 2048;
export const PSI_EXP_60S = 1981 / 2048;
export const PSI_EXP_300S = 2034 / 2048;

// ---------------------------------------------------------------------------------------------
// TLB cost model (see docs/simulator.md "TLB cost model")
// ---------------------------------------------------------------------------------------------

/** Unified STLB entries for 4K and 2M translations, Skylake-SP (Intel Optimization Reference Manual 248966-045, Table 2-15). */
export const STLB_ENTRIES = 1536;
/** Page walk whose leaf entry hits in cache: ~20-30 cycles (Haswell/Skylake measurements, e.g. pc.watch 2013 L2-TLB-miss ≈ 20 cycles) ≈ 10 ns at 2-3 GHz. */
export const WALK_CACHED_NS = 10;
/** Extra latency when the leaf page-table entry misses the LLC: one DRAM access on a server (~90 ns, typical loaded-latency figure). */
export const WALK_DRAM_NS = 90;
/** LLC capacity effectively holding page-table lines while data competes for it (model: a quarter of a 32 MiB LLC). */
export const PT_CACHE_BYTES = 8 * 1024 * 1024;
/** Bytes of a page-table entry. */
export const PTE_BYTES = 8;

// ---------------------------------------------------------------------------------------------
// Histograms
// ---------------------------------------------------------------------------------------------

/** Fault-latency histogram: upper bucket bounds in µs (powers of two, 1 µs .. 0.5 s, then +Inf). */
export const FAULT_LATENCY_BOUNDS_US: readonly number[] = Object.freeze([
  1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288,
  Number.POSITIVE_INFINITY,
]);
/** Request-latency histogram: 4 buckets per octave from 1 µs to 2^25 µs (~33 s), then +Inf. */
export const LATENCY_BUCKETS_PER_OCTAVE = 4;
export const LATENCY_OCTAVES = 25;
export const REQUEST_LATENCY_BOUNDS_US: readonly number[] = Object.freeze([
  ...Array.from({ length: LATENCY_BUCKETS_PER_OCTAVE * LATENCY_OCTAVES + 1 }, (_, i) => 2 ** (i / LATENCY_BUCKETS_PER_OCTAVE)),
  Number.POSITIVE_INFINITY,
]);

/** Width of one slot of the "recent" windows (throughput, latency percentiles). */
export const WINDOW_SLOT_MS = 10_000;
/** Slots in the recent window: 6 × 10 s = 60 s. */
export const WINDOW_SLOTS = 6;

// ---------------------------------------------------------------------------------------------
// Units
// ---------------------------------------------------------------------------------------------

export const KIB = 1024;
export const MIB = 1024 * 1024;
export const GIB = 1024 * 1024 * 1024;
