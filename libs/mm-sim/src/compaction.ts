/**
 * Memory compaction (mm/compaction.c), at pageblock granularity with real page moves.
 *
 * A migrate scanner walks pageblocks upward from a cached position, a free scanner walks
 * downward from the top of the zone; movable frames of a source block are moved into free
 * frames of target blocks taken by the free scanner. When the scanners meet the pass is
 * complete: positions and skip hints are reset and the attempt fails. Async direct compaction
 * skips MIGRATE_UNMOVABLE/RECLAIMABLE blocks and abandons a block at its first frame that
 * cannot be isolated (skip_on_failure); sync modes migrate anyway, so unmovable pollution
 * makes compaction expensive and fruitless, as on a real fragmented machine.
 */
import {
  COMPACT_MIGRATE_US_PER_PAGE as COMPACT_MIGRATE_US_PER_PAGE_,
  COMPACT_SCAN_US_PER_PAGE as COMPACT_SCAN_US_PER_PAGE_,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGEBLOCK_WORDS as PAGEBLOCK_WORDS_,
} from './constants.js';
import {
  V as V_,
} from './counters.js';
import type { Kernel } from './kernel.js';
import {
  Mt as Mt_,
} from './physmem.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const Mt = Mt_;
const COMPACT_MIGRATE_US_PER_PAGE = COMPACT_MIGRATE_US_PER_PAGE_;
const COMPACT_SCAN_US_PER_PAGE = COMPACT_SCAN_US_PER_PAGE_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGEBLOCK_WORDS = PAGEBLOCK_WORDS_;
const V = V_;

/**
 * Runs one compaction pass for `order` with a budget of source pageblocks. Returns true when a
 * free buddy of at least `order` exists at the end (proactive: when a source block was
 * emptied). The time spent is left in k.compactCostUs, the frames moved in k.compactMigrated.
 */
export function compactZone(k: Kernel, order: number, budgetBlocks: number, async: boolean, direct: boolean, proactive = false): boolean {
  const ph = k.phys;
  let cost = 0;
  let scanned = 0;
  let migrated = 0;
  let freeScanned = 0;
  // Proactive compaction frees one more pageblock per call; the caller watches the score.
  let success = proactive ? false : ph.hasFreeOrder(order);
  let blocks = 0;
  // Target state of the free scanner: current block and its free frames.
  let target = -1;
  while (!success && blocks < budgetBlocks) {
    if (k.migCursor >= k.freeCursor) {
      // COMPACT_COMPLETE: both scanners met; restart from the zone edges next time.
      k.migCursor = 0;
      k.freeCursor = ph.nPb - 1;
      ph.pbSkip.fill(0);
      break;
    }
    const b = k.migCursor++;
    blocks++;
    const free = ph.pbFree[b]!;
    if (ph.pbSkip[b] === 1 || ph.pbHuge[b] === 1 || free === PAGEBLOCK_PAGES) {
      cost += 8 * COMPACT_SCAN_US_PER_PAGE;
      continue;
    }
    if (async && ph.pbMt[b] !== Mt.Movable) {
      cost += 8 * COMPACT_SCAN_US_PER_PAGE;
      continue;
    }
    const pinned = ph.pbPinned[b]!;
    const movable = PAGEBLOCK_PAGES - free - pinned;
    if (pinned > 0 && async && direct) {
      // skip_on_failure: scanning stops at the first frame that cannot be isolated.
      const seen = Math.min(PAGEBLOCK_PAGES, Math.ceil(PAGEBLOCK_PAGES / (pinned + 1)));
      scanned += seen;
      cost += seen * COMPACT_SCAN_US_PER_PAGE;
      ph.pbSkip[b] = 1;
      continue;
    }
    scanned += PAGEBLOCK_PAGES;
    cost += PAGEBLOCK_PAGES * COMPACT_SCAN_US_PER_PAGE;
    if (movable === 0) continue;
    // Migrate every movable frame of b into free frames found by the free scanner.
    const start = b * PAGEBLOCK_PAGES;
    let moved = 0;
    let out = false;
    for (let p = start; p < start + PAGEBLOCK_PAGES; p++) {
      const o = ph.ownerOf(p);
      if (o === 0 || ph.ownerMovable[o] === 0) continue;
      // Find a free frame in a target block above b.
      while (target < 0 || ph.pbFree[target] === 0) {
        if (target >= 0) ph.relist(target);
        target = nextTarget(k, b);
        if (target < 0) break;
        freeScanned += PAGEBLOCK_PAGES;
        cost += PAGEBLOCK_PAGES * COMPACT_SCAN_US_PER_PAGE;
      }
      if (target < 0) {
        out = true;
        break;
      }
      const dst = firstFreeFrame(k, target);
      ph.movePage(p, dst);
      k.pageMoved(o, dst);
      moved++;
    }
    if (target >= 0) ph.relist(target);
    ph.relist(b);
    migrated += moved;
    cost += moved * COMPACT_MIGRATE_US_PER_PAGE;
    if (out) {
      // The free scanner reached the migrate scanner: the pass is complete.
      k.migCursor = 0;
      k.freeCursor = ph.nPb - 1;
      ph.pbSkip.fill(0);
      break;
    }
    success = proactive ? ph.pbFree[b] === PAGEBLOCK_PAGES : ph.hasFreeOrder(order);
  }
  const vm = k.vm;
  vm[V.pgmigrate_success] = vm[V.pgmigrate_success]! + migrated;
  vm[V.compact_isolated] = vm[V.compact_isolated]! + 2 * migrated;
  if (direct) {
    vm[V.compact_migrate_scanned] = vm[V.compact_migrate_scanned]! + scanned;
    vm[V.compact_free_scanned] = vm[V.compact_free_scanned]! + freeScanned;
  } else {
    vm[V.compact_daemon_migrate_scanned] = vm[V.compact_daemon_migrate_scanned]! + scanned;
    vm[V.compact_daemon_free_scanned] = vm[V.compact_daemon_free_scanned]! + freeScanned;
  }
  k.compactCostUs = cost;
  k.compactMigrated = migrated;
  return success;
}

/** Free scanner: the next pageblock below the cursor that can receive migrated frames. */
function nextTarget(k: Kernel, source: number): number {
  const ph = k.phys;
  while (k.freeCursor > source) {
    const t = k.freeCursor;
    const f = ph.pbFree[t]!;
    // suitable_migration_target: not a whole free block (it would be split), not a THP,
    // a movable block (or any block in the last resort of a full zone).
    if (f > 0 && f < PAGEBLOCK_PAGES && ph.pbHuge[t] === 0 && ph.pbMt[t] === Mt.Movable) return t;
    k.freeCursor--;
  }
  return -1;
}

function firstFreeFrame(k: Kernel, b: number): number {
  const ph = k.phys;
  const base = b * PAGEBLOCK_WORDS;
  for (let w = PAGEBLOCK_WORDS - 1; w >= 0; w--) {
    const x = ph.used[base + w]!;
    if (x !== 0xffffffff) {
      const free = ~x >>> 0;
      const bit = 31 - Math.clz32(free);
      return (base + w) * 32 + bit;
    }
  }
  throw new Error(`compaction: pageblock ${b} has no free frame`);
}
