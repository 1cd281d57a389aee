/**
 * Background kernel activity of a node: slab churn (unmovable kernel allocations such as
 * socket buffers and inodes, the main source of pageblock pollution), watermark boosting on
 * fragmentation events, kswapd, and kcompactd (woken for high-order requests and proactive
 * compaction). Kernel-thread memory stalls count toward the node's PSI.
 */
import {
  PMD_ORDER as PMD_ORDER_,
} from '@thp-fleet/policy';
import {
  COMPACTION_PROACTIVENESS as COMPACTION_PROACTIVENESS_,
  COMPACT_BLOCK_BUDGET_SYNC_LIGHT as COMPACT_BLOCK_BUDGET_SYNC_LIGHT_,
  COMPACT_MAX_DEFER_SHIFT as COMPACT_MAX_DEFER_SHIFT_,
  KCOMPACTD_PAGES_PER_SEC as KCOMPACTD_PAGES_PER_SEC_,
  KSWAPD_PAGES_PER_SEC as KSWAPD_PAGES_PER_SEC_,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGE_SIZE as PAGE_SIZE_,
  PROACTIVE_CHECK_MS as PROACTIVE_CHECK_MS_,
  RECLAIM_US_PER_PAGE as RECLAIM_US_PER_PAGE_,
} from './constants.js';
import {
  V as V_,
} from './counters.js';
import { compactZone as compactZone_ } from './compaction.js';
import type { Kernel } from './kernel.js';
import type { Rng } from './rng.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const compactZone = compactZone_;
const PMD_ORDER = PMD_ORDER_;
const COMPACTION_PROACTIVENESS = COMPACTION_PROACTIVENESS_;
const COMPACT_BLOCK_BUDGET_SYNC_LIGHT = COMPACT_BLOCK_BUDGET_SYNC_LIGHT_;
const COMPACT_MAX_DEFER_SHIFT = COMPACT_MAX_DEFER_SHIFT_;
const KCOMPACTD_PAGES_PER_SEC = KCOMPACTD_PAGES_PER_SEC_;
const KSWAPD_PAGES_PER_SEC = KSWAPD_PAGES_PER_SEC_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGE_SIZE = PAGE_SIZE_;
const PROACTIVE_CHECK_MS = PROACTIVE_CHECK_MS_;
const RECLAIM_US_PER_PAGE = RECLAIM_US_PER_PAGE_;
const V = V_;

/** Slab pages freed per scattered free call (objects die independently, pages empty one by one). */
const SLAB_FREE_CHUNK = 4;
/** At most this many scattered free calls per tick (bounds the cost of the churn model). */
const SLAB_FREE_CALLS = 4;
/** Period of the slow swing of kernel slab demand, ms (model). */
const SLAB_SWING_PERIOD_MS = 1_800_000;

export class Daemons {
  private readonly slabBase: number;
  private readonly slabPhase: number;
  private lastFallbacks = 0;
  private proactiveNextMs = PROACTIVE_CHECK_MS;
  private proactiveDefer = 0;
  kcompactdWakes = 0;

  /**
   * @param slabFraction unmovable kernel memory allocated at boot, as a share of RAM
   */
  constructor(
    k: Kernel,
    memoryBytes: number,
    slabFraction: number,
    private readonly rng: Rng,
  ) {
    this.slabBase = Math.floor((memoryBytes * slabFraction) / PAGE_SIZE);
    this.slabPhase = rng.float() * 2 * Math.PI;
    k.cur = -1;
    k.slabAlloc(false, this.slabBase);
    k.slabAlloc(true, Math.floor(this.slabBase * 0.3));
    this.lastFallbacks = k.phys.fallbackEvents;
  }

  /** Starts a tick: kswapd may reclaim up to its throughput over the tick, in several steps. */
  beginTick(dtMs: number): void {
    this.kswapdBudget = Math.ceil((KSWAPD_PAGES_PER_SEC * dtMs) / 1000);
  }
  private kswapdBudget = 0;

  /**
   * kswapd runs concurrently with the workloads: the node calls this after each workload's
   * allocations, so free memory oscillates between the watermarks instead of following the
   * tick boundaries.
   */
  kswapdStep(k: Kernel): void {
    const cur = k.cur;
    const lat = k.evLat;
    const stall = k.evStall;
    k.cur = -1;
    this.kswapd(k);
    k.cur = cur;
    k.evLat = lat;
    k.evStall = stall;
  }

  tick(k: Kernel, dtMs: number, nowMs: number, churnPagesPerSec: number): void {
    k.cur = -1;
    k.evLat = 0;
    k.evStall = 0;
    this.slab(k, dtMs, nowMs, churnPagesPerSec);
    // boost_watermark(): every fragmentation event (fallback to another migratetype) raises the
    // watermarks by a pageblock, up to watermark_boost_factor, and wakes kswapd.
    const fb = k.phys.fallbackEvents;
    if (fb > this.lastFallbacks) {
      k.boostPages = Math.min(k.maxBoostPages, k.boostPages + (fb - this.lastFallbacks) * PAGEBLOCK_PAGES);
      k.wakeKswapd(0);
      this.lastFallbacks = fb;
    }
    this.kswapd(k);
    this.kcompactd(k, dtMs, nowMs);
    k.kthreadStallUs += k.evStall;
    k.evLat = 0;
    k.evStall = 0;
  }

  private slab(k: Kernel, dtMs: number, nowMs: number, churnPagesPerSec: number): void {
    const target = this.slabBase * (1 + 0.1 * Math.sin((2 * Math.PI * nowMs) / SLAB_SWING_PERIOD_MS + this.slabPhase));
    const churn = this.rng.roundStochastic((churnPagesPerSec * dtMs) / 1000);
    const current = k.phys.ownerPages[k.slabUnmovable]!;
    const alloc = Math.max(0, churn + Math.round((target - current) * 0.01));
    let toFree = Math.max(0, churn + Math.round((current - target) * 0.01));
    // Scattered frees: a few pages in each of up to SLAB_FREE_CALLS random places.
    const chunk = Math.max(SLAB_FREE_CHUNK, Math.ceil(toFree / SLAB_FREE_CALLS));
    while (toFree > 0) {
      const n = Math.min(chunk, toFree);
      k.slabFree(false, n);
      toFree -= n;
    }
    if (alloc > 0) k.slabAlloc(false, alloc);
  }

  private kswapd(k: Kernel): void {
    const ph = k.phys;
    const target = k.highPages + k.boostPages;
    if (!k.kswapdWake && ph.freePages >= k.lowPages) return;
    const need = target - ph.freePages;
    if (need > 0 && this.kswapdBudget > 0) {
      // balance_pgdat: priority drops from DEF_PRIORITY until one pass scans the high
      // watermark's worth of pages; shrinkers run at every priority of the cycle.
      const freedBySplit = k.shrinkSlabSweep(k.reclaimPriority(k.highPages));
      const got = freedBySplit + k.reclaim(Math.max(0, Math.min(need, this.kswapdBudget) - freedBySplit), false);
      this.kswapdBudget -= got;
      // balance_pgdat() runs inside psi_memstall_enter/leave.
      k.kthreadStallUs += got * RECLAIM_US_PER_PAGE;
    }
    if (ph.freePages >= target || need <= 0) {
      k.kswapdWake = false;
      k.boostPages = 0;
      // A balanced kswapd hands high-order requests to kcompactd (wakeup_kcompactd).
      if (k.kswapdOrder > 0) k.kcompactdOrder = Math.max(k.kcompactdOrder, k.kswapdOrder);
      k.kswapdOrder = 0;
    }
  }

  private kcompactd(k: Kernel, dtMs: number, nowMs: number): void {
    const ph = k.phys;
    const pageBudget = Math.ceil((KCOMPACTD_PAGES_PER_SEC * dtMs) / 1000);
    let migrated = 0;
    if (k.kcompactdOrder >= 0) {
      const order = k.kcompactdOrder;
      k.kcompactdOrder = -1;
      if (!ph.hasFreeOrder(order) && k.compactionSuitable(order)) {
        k.vm[V.compact_daemon_wake] = k.vm[V.compact_daemon_wake]! + 1;
        this.kcompactdWakes++;
        let guard = 0;
        while (!ph.hasFreeOrder(order) && migrated < pageBudget && guard++ < 16) {
          const ok = compactZone(k, order, COMPACT_BLOCK_BUDGET_SYNC_LIGHT, false, false);
          migrated += k.compactMigrated;
          k.kthreadStallUs += k.compactCostUs;
          if (!ok && k.compactMigrated === 0) break;
        }
      }
    }
    // Proactive compaction (vm.compaction_proactiveness): keep the fragmentation score of the
    // node between 100 - proactiveness (low) and low + 10 (high).
    if (nowMs < this.proactiveNextMs) return;
    this.proactiveNextMs = nowMs + PROACTIVE_CHECK_MS;
    if (this.proactiveDefer > 0) {
      this.proactiveDefer--;
      return;
    }
    const low = Math.max(5, 100 - COMPACTION_PROACTIVENESS);
    const high = Math.min(100, low + 10);
    const before = ph.fragmentationScore();
    if (before <= high || !k.compactionSuitable(PMD_ORDER)) return;
    k.vm[V.compact_daemon_wake] = k.vm[V.compact_daemon_wake]! + 1;
    this.kcompactdWakes++;
    let guard = 0;
    while (ph.fragmentationScore() > low && migrated < pageBudget && guard++ < 32) {
      compactZone(k, PMD_ORDER, COMPACT_BLOCK_BUDGET_SYNC_LIGHT, false, false, true);
      migrated += k.compactMigrated;
      k.kthreadStallUs += k.compactCostUs;
      if (k.compactMigrated === 0) break;
    }
    if (ph.fragmentationScore() >= before) this.proactiveDefer = 1 << COMPACT_MAX_DEFER_SHIFT;
  }
}
