import { TvaType, VmaAdvice, type HookInput } from '@thp-fleet/policy';
import { describe, expect, it } from 'vitest';
import { PAGEBLOCK_PAGES } from './constants.js';
import { M, MTHP_STAT_COUNT, V } from './counters.js';
import { ThpDisable, type Kernel } from './kernel.js';
import { makeBench } from './sim.test-util.js';
import { applySysfsPatch } from './sysfs.js';
import { Region, VmaKind } from './vma.js';

const mthp = (k: Kernel, order: number, stat: number): number => k.mthp[order * MTHP_STAT_COUNT + stat]!;
const vm = (k: Kernel, i: number): number => k.vm[i]!;

/** Fills memory with page cache so that free memory is in scattered pages, not free pageblocks. */
function fragment(b: ReturnType<typeof makeBench>, freeTarget: number): void {
  const k = b.k;
  const t = b.task('filler');
  k.cur = t.slot;
  k.fileRead(t, false, k.phys.freePages - 64);
  // Free every other frame of enough pageblocks to leave `freeTarget` pages free, scattered.
  let freed = 0;
  for (let blk = 0; blk < k.phys.nPb && k.phys.freePages < freeTarget; blk++) {
    if (k.phys.pbHuge[blk] === 1 || k.phys.pbMt[blk] !== 0) continue;
    const got = k.phys.freeInBlockSparse(t.fileColdOwner, blk, PAGEBLOCK_PAGES, 2);
    k.fileFreed(t.fileColdOwner, got);
    freed += got;
  }
  expect(freed).toBeGreaterThan(0);
  expect(k.phys.freeBlockCount()).toBe(0);
}

describe('fault path (thp_vma_allowable_orders, allocation, fallback)', () => {
  it('enabled=never: every page faults as a base page', () => {
    const b = makeBench(256, { enabled: 'never' });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 8);
    b.ops.touchRange(v, 0, v.nPages);
    expect(vm(b.k, V.thp_fault_alloc)).toBe(0);
    expect(vm(b.k, V.pgfault)).toBe(v.nPages);
    expect(v.presentPages).toBe(v.nPages);
    expect(v.tableRegions).toBe(4);
    expect(b.k.checkInvariants()).toEqual([]);
  });

  it('enabled=always: aligned whole regions get PMD THPs, the partial tail gets base pages', () => {
    const b = makeBench(256, { enabled: 'always' });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 5); // 2.5 regions
    b.ops.touchRange(v, 0, v.nPages);
    expect(vm(b.k, V.thp_fault_alloc)).toBe(2);
    expect(mthp(b.k, 9, M.anon_fault_alloc)).toBe(2);
    expect(mthp(b.k, 9, M.nr_anon)).toBe(2);
    expect(v.pmdRegions).toBe(2);
    expect(v.regState[2]).toBe(Region.Pte);
    expect(vm(b.k, V.pgfault)).toBe(2 + 256);
    expect(b.k.checkInvariants()).toEqual([]);
  });

  it('enabled=madvise: only VM_HUGEPAGE VMAs; MADV_NOHUGEPAGE and prctl disable win over always', () => {
    const b = makeBench(256, { enabled: 'madvise' });
    const t = b.task('w');
    const plain = b.vma(t, 'plain', 4);
    const advised = b.vma(t, 'advised', 4, VmaAdvice.Hugepage);
    b.ops.touchRange(plain, 0, plain.nPages);
    b.ops.touchRange(advised, 0, advised.nPages);
    expect(plain.pmdRegions).toBe(0);
    expect(advised.pmdRegions).toBe(2);

    const a = makeBench(256, { enabled: 'always' });
    const t1 = a.task('nohuge');
    const no = a.vma(t1, 'x', 4, VmaAdvice.Nohugepage);
    a.ops.touchRange(no, 0, no.nPages);
    expect(no.pmdRegions).toBe(0);
    const t2 = a.task('except', { disable: ThpDisable.ExceptAdvised });
    const e1 = a.vma(t2, 'plain', 4);
    const e2 = a.vma(t2, 'advised', 4, VmaAdvice.Hugepage);
    a.ops.touchRange(e1, 0, e1.nPages);
    a.ops.touchRange(e2, 0, e2.nPages);
    expect(e1.pmdRegions).toBe(0);
    expect(e2.pmdRegions).toBe(2);
    const t3 = a.task('off', { disable: ThpDisable.Completely });
    const c = a.vma(t3, 'advised', 4, VmaAdvice.Hugepage);
    a.ops.touchRange(c, 0, c.nPages);
    expect(c.pmdRegions).toBe(0);
  });

  it('mTHP: the highest enabled order whose PTEs are all none, falling back order by order', () => {
    const b = makeBench(256, {
      enabled: 'never',
      hugepages: { 'hugepages-2048kB': { enabled: 'never' }, 'hugepages-64kB': { enabled: 'always' }, 'hugepages-16kB': { enabled: 'always' } },
    });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 2);
    // One written page maps a whole 64 KiB folio (16 pages present, 1 written).
    b.ops.touchRange(v, 5, 1);
    expect(v.presentPages).toBe(16);
    expect(v.touchedPages).toBe(1);
    expect(mthp(b.k, 4, M.anon_fault_alloc)).toBe(1);
    expect(vm(b.k, V.thp_fault_alloc)).toBe(0);
    // Pages 20..21 lie in [16,32): 64K range has no present PTEs -> another 64K folio.
    b.ops.touchRange(v, 20, 2);
    expect(mthp(b.k, 4, M.anon_fault_alloc)).toBe(2);
    // Zap an aligned 16K of the first folio, then fault one page of it again: the 64K range is
    // not all none any more, the 16K range is, so a 16K folio is used.
    b.ops.zapRange(v, 4, 4, false);
    b.ops.touchRange(v, 5, 1);
    expect(mthp(b.k, 4, M.anon_fault_alloc)).toBe(2);
    expect(mthp(b.k, 2, M.anon_fault_alloc)).toBe(1);
    expect(b.k.checkInvariants()).toEqual([]);
  });

  it('defrag decides who stalls in direct compaction (compact_stall only with __GFP_DIRECT_RECLAIM)', () => {
    const run = (defrag: 'always' | 'defer' | 'madvise' | 'never' | 'defer+madvise', advice: VmaAdvice): Kernel => {
      const b = makeBench(256, { enabled: 'always', defrag }, { daemons: false });
      fragment(b, b.k.lowPages + 4 * PAGEBLOCK_PAGES);
      const t = b.task('w');
      const v = b.vma(t, 'heap', 2, advice);
      b.ops.touchRange(v, 0, 1);
      expect(b.k.checkInvariants()).toEqual([]);
      return b.k;
    };
    const always = run('always', VmaAdvice.None);
    expect(vm(always, V.compact_stall)).toBeGreaterThan(0);
    expect(vm(always, V.compact_success) + vm(always, V.compact_fail)).toBe(vm(always, V.compact_stall));
    for (const d of ['defer', 'madvise', 'never', 'defer+madvise'] as const) {
      const k = run(d, VmaAdvice.None);
      expect(vm(k, V.compact_stall), d).toBe(0);
      expect(vm(k, V.thp_fault_fallback), d).toBe(1);
      expect(vm(k, V.thp_fault_alloc), d).toBe(0);
    }
    // defer wakes kswapd (and through it kcompactd) for the huge order; madvise does not.
    expect(run('defer', VmaAdvice.None).kswapdOrder).toBe(9);
    expect(run('madvise', VmaAdvice.None).kswapdOrder).toBe(0);
    expect(vm(run('madvise', VmaAdvice.Hugepage), V.compact_stall)).toBeGreaterThan(0);
    expect(vm(run('defer+madvise', VmaAdvice.Hugepage), V.compact_stall)).toBeGreaterThan(0);
    expect(vm(run('never', VmaAdvice.Hugepage), V.compact_stall)).toBe(0);
  });

  it('a successful direct compaction makes the THP fault take milliseconds, not microseconds', () => {
    const b = makeBench(256, { enabled: 'always', defrag: 'always' }, { daemons: false });
    fragment(b, b.k.lowPages + 4 * PAGEBLOCK_PAGES);
    const t = b.task('w');
    const v = b.vma(t, 'heap', 2);
    b.ops.touchRange(v, 0, 1);
    expect(v.pmdRegions).toBe(1);
    expect(vm(b.k, V.compact_success)).toBe(1);
    expect(t.stallCount).toBe(1);
    expect(t.stalls[0]).toBeGreaterThan(300);
    expect(t.memstallUs).toBeGreaterThan(100);
  });

  it('memory.max: a THP that does not fit the charge falls back (thp_fault_fallback_charge)', () => {
    const b = makeBench(256, { enabled: 'always' });
    const t = b.task('w');
    b.k.cgMax[t.cg] = 300;
    const v = b.vma(t, 'heap', 2);
    b.ops.touchRange(v, 0, 10);
    expect(vm(b.k, V.thp_fault_fallback_charge)).toBe(1);
    expect(mthp(b.k, 9, M.anon_fault_fallback_charge)).toBe(1);
    expect(v.presentPages).toBe(10);
  });

  it('shmem follows shmem_enabled and VM_HUGEPAGE, with the file counters', () => {
    const b = makeBench(256, { enabled: 'never', shmem_enabled: 'advise' });
    const t = b.task('jvm');
    const heap = b.vma(t, 'heap', 4, VmaAdvice.Hugepage, VmaKind.Shmem);
    const other = b.vma(t, 'other', 4, VmaAdvice.None, VmaKind.Shmem);
    b.ops.touchRange(heap, 0, heap.nPages);
    b.ops.touchRange(other, 0, other.nPages);
    expect(heap.pmdRegions).toBe(2);
    expect(other.pmdRegions).toBe(0);
    expect(vm(b.k, V.thp_file_alloc)).toBe(2);
    expect(vm(b.k, V.thp_file_mapped)).toBe(2);
    expect(vm(b.k, V.thp_fault_alloc)).toBe(0);
    expect(mthp(b.k, 9, M.shmem_alloc)).toBe(2);
  });
});

describe('policy hook (ABI semantics, narrowing, inputs)', () => {
  const setup = (abi: 'v7' | 'v8' | 'v12', ret: (i: HookInput) => number, patch = {}) => {
    const b = makeBench(256, { enabled: 'always', ...patch });
    const t = b.task('w');
    const seen: { tva: number; advice: number; requested: number; chain: number[] }[] = [];
    b.k.setHook((i) => {
      seen.push({ tva: i.tva, advice: i.advice, requested: i.requestedOrders, chain: Array.from(i.cgroupChain) });
      return ret(i);
    }, abi);
    const v = b.vma(t, 'heap', 2);
    b.ops.touchRange(v, 0, v.nPages);
    return { b, t, v, seen };
  };

  it('passes the cgroup chain (leaf first), tva, advice and requested orders', () => {
    const { b, t, seen } = setup('v12', () => -1);
    expect(seen[0]).toEqual({ tva: TvaType.Pagefault, advice: VmaAdvice.None, requested: 1 << 9, chain: Array.from(t.chain) });
    expect(seen[0]!.chain[seen[0]!.chain.length - 1]).toBe(1);
    expect(seen[0]!.chain).toHaveLength(3);
    expect(b.k.hookCalls[TvaType.Pagefault]).toBe(1);
  });

  it('0 denies under every ABI; -1 is "unchanged" in v7 and v12 but denies in v8', () => {
    for (const abi of ['v7', 'v8', 'v12'] as const) expect(setup(abi, () => 0).v.pmdRegions, abi).toBe(0);
    expect(setup('v7', () => -1).v.pmdRegions).toBe(1);
    expect(setup('v12', () => -1).v.pmdRegions).toBe(1);
    expect(setup('v8', () => -1).v.pmdRegions).toBe(0);
    // An order above the request: v7 leaves it unchanged, v8/v12 deny.
    expect(setup('v7', () => 30).v.pmdRegions).toBe(1);
    expect(setup('v12', () => 30).v.pmdRegions).toBe(0);
  });

  it('v7 returns BIT(k) even for an order not requested: a PMD fault proceeds when sysfs allows k (kernel-interface.md 2.6)', () => {
    const patch = { enabled: 'never' as const, hugepages: { 'hugepages-64kB': { enabled: 'always' as const } } };
    const v7 = setup('v7', () => 4, patch);
    expect(v7.v.pmdRegions).toBe(1);
    const v12 = setup('v12', (i) => ((i.requestedOrders >> 4) & 1 ? 4 : 0), patch);
    expect(v12.v.pmdRegions).toBe(0);
    expect(v12.v.mthpPages).toBeGreaterThan(0);
  });

  it('cannot widen what sysfs forbids and is not called when sysfs or madvise rule THP out', () => {
    const { v, seen } = setup('v12', () => 9, { enabled: 'never' });
    expect(v.pmdRegions).toBe(0);
    expect(seen).toHaveLength(0);
  });

  it('rejects a non-integer return with a clear error', () => {
    expect(() => setup('v12', () => Number.NaN)).toThrow(/THP hook returned NaN .*expected an integer/);
  });
});

describe('deferred split and the underused-THP shrinker', () => {
  it('a partial MADV_DONTNEED splits the PMD; the THP is freed by the shrinker under pressure', () => {
    const b = makeBench(256, { enabled: 'always' });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 2);
    b.ops.touchRange(v, 0, 200);
    expect(v.physPages).toBe(512);
    b.ops.zapRange(v, 0, 10, false);
    expect(vm(b.k, V.thp_split_pmd)).toBe(1);
    expect(vm(b.k, V.thp_deferred_split_page)).toBe(1);
    expect(mthp(b.k, 9, M.split_deferred)).toBe(1);
    expect(v.physPages).toBe(512);
    expect(v.presentPages).toBe(502);
    // DEF_PRIORITY: nothing is due; a low priority (real pressure) splits it.
    b.k.shrinkSlabSweep(12);
    expect(vm(b.k, V.thp_split_page)).toBe(0);
    b.k.shrinkSlabSweep(0);
    expect(vm(b.k, V.thp_split_page)).toBe(1);
    expect(v.physPages).toBe(190);
    expect(v.presentPages).toBe(190);
    expect(b.k.checkInvariants()).toEqual([]);
  });

  it('refaults next to a split-pending THP with base pages and keeps the accounting through the split', () => {
    const b = makeBench(256, { enabled: 'always', hugepages: { 'hugepages-16kB': { enabled: 'always' } } });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 2);
    b.ops.touchRange(v, 0, 1);
    expect(v.physPages).toBe(512);
    b.ops.zapRange(v, 0, 4, false);
    expect(vm(b.k, V.thp_split_pmd)).toBe(1);
    // Page 0 faults again while the THP waits for its split: one base page, no 16 kB folio.
    b.ops.touchRange(v, 0, 1);
    expect(mthp(b.k, 2, M.anon_fault_alloc)).toBe(0);
    expect(v.physPages).toBe(512 + 1);
    expect(b.k.checkInvariants()).toEqual([]);
    b.k.shrinkSlabSweep(0);
    expect(vm(b.k, V.thp_split_page)).toBe(1);
    expect(v.physPages).toBe(1);
    expect(b.k.checkInvariants()).toEqual([]);
    // Once split, the region takes mTHP folios again.
    b.ops.touchRange(v, 64, 1);
    expect(mthp(b.k, 2, M.anon_fault_alloc)).toBe(1);
    expect(b.k.checkInvariants()).toEqual([]);
  });

  it('splits fully mapped THPs with more than max_ptes_none zero-filled pages when shrink_underused=1', () => {
    const make = (maxNone: number, shrink: 0 | 1) => {
      const b = makeBench(256, { enabled: 'always', shrink_underused: shrink, khugepaged: { max_ptes_none: maxNone } });
      const t = b.task('w');
      const v = b.vma(t, 'heap', 2);
      b.ops.touchRange(v, 0, 100);
      b.k.shrinkSlabSweep(0);
      return { k: b.k, v };
    };
    const meta = make(409, 1);
    expect(vm(meta.k, V.thp_underused_split_page)).toBe(1);
    expect(meta.v.physPages).toBe(100);
    expect(meta.k.checkInvariants()).toEqual([]);
    expect(vm(make(511, 1).k, V.thp_underused_split_page)).toBe(0);
    expect(vm(make(409, 0).k, V.thp_underused_split_page)).toBe(0);
  });

  it('looks again at a queue it found all in use once a zap, a new THP or a sysfs change may have changed an entry', () => {
    const b = makeBench(256, { enabled: 'always', shrink_underused: 1, khugepaged: { max_ptes_none: 409 } });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 8);
    // Four THPs with 300 of 512 pages touched: 212 zero-filled <= 409, so each stays queued.
    for (let r = 0; r < 4; r++) b.ops.touchRange(v, r * PAGEBLOCK_PAGES, 300);
    expect(v.pmdRegions).toBe(4);
    for (let i = 0; i < 3; i++) b.k.shrinkSlabSweep(0);
    expect(vm(b.k, V.thp_split_page)).toBe(0);
    // A partial MADV_DONTNEED of one: split at the next sweep.
    b.ops.zapRange(v, PAGEBLOCK_PAGES, 10, false);
    b.k.shrinkSlabSweep(0);
    expect(vm(b.k, V.thp_split_page)).toBe(1);
    for (let i = 0; i < 3; i++) b.k.shrinkSlabSweep(0);
    // A new THP with one page touched is underused at once.
    const w = b.vma(t, 'arena', 2);
    b.ops.touchRange(w, 0, 1);
    b.k.shrinkSlabSweep(0);
    expect(vm(b.k, V.thp_underused_split_page)).toBe(1);
    expect(w.physPages).toBe(1);
    for (let i = 0; i < 3; i++) b.k.shrinkSlabSweep(0);
    // max_ptes_none lowered to 100: the three fully mapped THPs left are underused now.
    b.k.setSysfs(applySysfsPatch(b.k.sysfs, { khugepaged: { max_ptes_none: 100 } }));
    b.k.shrinkSlabSweep(0);
    expect(vm(b.k, V.thp_underused_split_page)).toBe(4);
    expect(v.pmdRegions).toBe(0);
    expect(b.k.checkInvariants()).toEqual([]);
  });
});

describe('khugepaged', () => {
  it('collapses a sparse range when none PTEs <= max_ptes_none, at most pages_to_scan/512 ranges per wake', () => {
    const b = makeBench(256, { enabled: 'madvise', khugepaged: { pages_to_scan: 1024, scan_sleep_millisecs: 1000 } }, { daemons: false });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 16, VmaAdvice.Hugepage);
    // Enabled=madvise + VM_HUGEPAGE would fault THPs; fault base pages first under never, then switch.
    b.k.setSysfs({ ...b.k.sysfs, enabled: 'never' });
    for (let r = 0; r < 8; r++) b.ops.touchRange(v, r * PAGEBLOCK_PAGES, 3);
    b.k.setSysfs({ ...b.k.sysfs, enabled: 'madvise' });
    b.khugepaged.run(b.k, 0);
    expect(b.khugepaged.wakes).toBe(1);
    expect(vm(b.k, V.thp_collapse_alloc)).toBe(2);
    // RSS grows to the whole 2 MiB for each collapsed range.
    expect(v.pmdRegions).toBe(2);
    expect(v.physPages).toBe(2 * 512 + 6 * 3);
    b.khugepaged.run(b.k, 999);
    expect(b.khugepaged.wakes).toBe(1);
    b.khugepaged.run(b.k, 1000);
    expect(vm(b.k, V.thp_collapse_alloc)).toBe(4);
    expect(b.k.checkInvariants()).toEqual([]);
  });

  it('skips ranges with too many empty PTEs (thp_scan_exceed_none_pte) and asks the hook with TVA_KHUGEPAGED', () => {
    const b = makeBench(256, { enabled: 'never', khugepaged: { max_ptes_none: 100 } }, { daemons: false });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 4, VmaAdvice.Hugepage);
    b.ops.touchRange(v, 0, 20);
    b.ops.touchRange(v, PAGEBLOCK_PAGES, 450);
    b.k.setSysfs({ ...b.k.sysfs, enabled: 'madvise' });
    const tvas: number[] = [];
    b.k.setHook((i) => {
      tvas.push(i.tva);
      return -1;
    }, 'v12');
    b.khugepaged.run(b.k, 0);
    expect(vm(b.k, V.thp_scan_exceed_none_pte)).toBeGreaterThanOrEqual(1);
    expect(vm(b.k, V.thp_collapse_alloc)).toBe(1);
    expect(v.regState[0]).toBe(Region.Pte);
    expect(v.regState[1]).toBe(Region.Pmd);
    expect(new Set(tvas)).toEqual(new Set([TvaType.Khugepaged]));
  });

  it('sleeps alloc_sleep_millisecs after a failed huge page allocation', () => {
    const b = makeBench(256, { enabled: 'never', khugepaged: { defrag: 0, scan_sleep_millisecs: 1000, alloc_sleep_millisecs: 60000 } }, { daemons: false });
    const t = b.task('w');
    const v = b.vma(t, 'heap', 4, VmaAdvice.Hugepage);
    b.ops.touchRange(v, 0, 50);
    fragment(b, b.k.lowPages + 4 * PAGEBLOCK_PAGES);
    b.k.setSysfs({ ...b.k.sysfs, enabled: 'madvise' });
    b.khugepaged.run(b.k, 0);
    expect(vm(b.k, V.thp_collapse_alloc_failed)).toBe(1);
    expect(b.khugepaged.nextWakeMs).toBe(60000);
  });
});
