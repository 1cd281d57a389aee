/**
 * The metrics snapshot of a node: /proc/vmstat counters and gauges, per-size mTHP stats under
 * their sysfs file names, buddyinfo, PSI, fault-latency histograms, per-cgroup memory.stat,
 * and per-workload throughput, latency, memory and TLB figures.
 */
import {
  TvaType as TvaType_,
} from '@thp-fleet/policy';
import { FAULT_LATENCY_BOUNDS_US, PAGEBLOCK_PAGES, PAGE_SIZE, WINDOW_SLOTS } from './constants.js';
import {
  ANON_ONLY_STATS,
  C,
  CGROUP_STATS,
  CGROUP_STAT_COUNT,
  MTHP_STATS,
  MTHP_STAT_COUNT,
  VMSTAT_EVENTS,
  type CgroupStat,
  type MthpStat,
  type VmstatEvent,
  type VmstatGauge,
} from './counters.js';
import { emptySnapshot, type HistogramSnapshot } from './histogram.js';
import type { NodeImpl } from './node.js';
import {
  Mt as Mt_,
} from './physmem.js';
import type { PsiSnapshot } from './psi.js';
import { MIN_ANON_ORDER, SYSFS_SIZE_ORDERS, sizeDirName } from './sysfs.js';
import {
  VmaKind as VmaKind_,
} from './vma.js';
import type { WorkloadKind } from './workloads.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const TvaType = TvaType_;
const Mt = Mt_;
const VmaKind = VmaKind_;

export interface WorkloadMetrics {
  readonly id: number;
  readonly name: string;
  readonly kind: WorkloadKind;
  readonly cgroupId: number;
  readonly cgroupPath: string;
  /** Unit of one operation (req, MiB, op). */
  readonly unit: string;
  /** Operations per second over the last 60 s (or since start if shorter). */
  readonly throughput: number;
  readonly totalOps: number;
  /** Requests that arrived while the service had no capacity left (open-loop services). */
  readonly droppedOps: number;
  /** Per-operation latency over the last 60 s, µs. */
  readonly latencyUs: { readonly p50: number; readonly p99: number; readonly p999: number; readonly mean: number };
  /** Page-fault latency of the workload's cgroup over the last 60 s, µs. */
  readonly faultLatencyUs: { readonly p50: number; readonly p99: number; readonly count: number };
  /** Mapped private and shmem pages (VmRSS), bytes. */
  readonly rssBytes: number;
  /** Pages written by the program, bytes (RSS can never be below this). */
  readonly touchedBytes: number;
  /** memory.current of the workload's cgroup, bytes. */
  readonly memoryCurrentBytes: number;
  readonly anonThpBytes: number;
  readonly shmemThpBytes: number;
  /** Share of written pages that are mapped by PMD THPs. */
  readonly thpCoverage: number;
  readonly tlb: { readonly missRate: number; readonly nsPerAccess: number; readonly overheadFraction: number };
  /** Time the workload's threads were blocked by faults, compaction, reclaim, collapse, per second of wall time (ms/s), last 60 s. */
  readonly stallMsPerSec: number;
  readonly psi: PsiSnapshot;
}

export interface CgroupMetrics {
  readonly id: number;
  readonly path: string;
  readonly parentId: number | null;
  /** memory.stat items: sizes in bytes, events as counts. */
  readonly memoryStat: Readonly<Record<CgroupStat, number>>;
  readonly memoryCurrentBytes: number;
  /** anon + shmem bytes charged (resident set of the cgroup's processes). */
  readonly rssBytes: number;
  readonly memoryMaxBytes: number | null;
  readonly psi: PsiSnapshot;
  readonly faultLatency: HistogramSnapshot;
  readonly faultLatencyRecent: HistogramSnapshot;
}

export interface NodeMetrics {
  readonly timeMs: number;
  readonly seed: number;
  readonly memoryBytes: number;
  readonly vmstat: Readonly<Record<VmstatEvent | VmstatGauge, number>>;
  /** hugepages-<size>kB -> stats file -> value, for every size directory (files per kif 5.6). */
  readonly mthp: Readonly<Record<string, Readonly<Partial<Record<MthpStat, number>>>>>;
  /** Free buddies per order 0..10 (/proc/buddyinfo, one zone). */
  readonly buddyinfo: readonly number[];
  readonly memory: {
    readonly totalBytes: number;
    readonly freeBytes: number;
    readonly anonBytes: number;
    readonly fileBytes: number;
    readonly shmemBytes: number;
    readonly anonThpBytes: number;
    readonly shmemThpBytes: number;
    readonly pageTablesBytes: number;
    readonly slabBytes: number;
    readonly watermarks: { readonly min: number; readonly low: number; readonly high: number; readonly boost: number };
  };
  readonly fragmentation: {
    /** extfrag score for order 9: % of free memory outside free pageblocks. */
    readonly score: number;
    readonly freePageblocks: number;
    readonly unmovablePageblocks: number;
    readonly reclaimablePageblocks: number;
    /** Movable pageblocks holding unmovable or reclaimable frames. */
    readonly pollutedPageblocks: number;
    readonly pageblockClaims: number;
  };
  readonly psi: PsiSnapshot;
  readonly faultLatency: HistogramSnapshot;
  readonly faultLatencyRecent: HistogramSnapshot;
  readonly khugepaged: { readonly pages_collapsed: number; readonly full_scans: number; readonly wakes: number; readonly next_wake_ms: number };
  readonly hook: {
    readonly attached: boolean;
    readonly abi: string;
    readonly calls: Readonly<Record<'smaps' | 'pagefault' | 'khugepaged' | 'forced_collapse' | 'swap_pagefault', number>>;
    /** Calls a kernel would make (it asks once per 4K fault on the mTHP path; the sim batches identical calls). */
    readonly kernelEquivalentCalls: number;
  };
  readonly cgroups: readonly CgroupMetrics[];
  readonly workloads: readonly WorkloadMetrics[];
}

export function buildMetrics(node: NodeImpl): NodeMetrics {
  const k = node.k;
  const ph = k.phys;
  const vmstat = {} as Record<VmstatEvent | VmstatGauge, number>;
  VMSTAT_EVENTS.forEach((name, i) => (vmstat[name] = k.vm[i]!));
  // Gauges (pages).
  let anon = 0;
  let shmem = 0;
  let anonThp = 0;
  let shmemThp = 0;
  let shmemPmdMapped = 0;
  let mapped = 0;
  let tables = 0;
  for (const v of k.vmas) {
    if (v === null) continue;
    if (v.kind === VmaKind.Shmem) {
      shmem += v.physPages;
      shmemPmdMapped += v.pmdRegions;
    } else anon += v.physPages;
    mapped += v.presentPages;
  }
  for (const t of k.tasks) {
    if (t === null) continue;
    tables += ph.ownerPages[t.ptOwner]!;
    for (const v of t.vmas) {
      for (let r = 0; r < v.nRegions; r++) {
        if (v.regThp[r]! < 0) continue;
        if (v.kind === VmaKind.Shmem) shmemThp++;
        else anonThp++;
      }
    }
  }
  let fileHot = 0;
  let fileCold = 0;
  for (const t of k.tasks) {
    if (t === null) continue;
    fileHot += ph.ownerPages[t.fileHotOwner]!;
    fileCold += ph.ownerPages[t.fileColdOwner]!;
  }
  const slabU = ph.ownerPages[k.slabUnmovable]!;
  const slabR = ph.ownerPages[k.slabReclaimable]!;
  vmstat.pgfree = ph.freedFrames;
  vmstat.pgalloc_normal = ph.allocatedFrames;
  vmstat.nr_free_pages = ph.freePages;
  vmstat.nr_anon_pages = anon;
  vmstat.nr_mapped = mapped;
  vmstat.nr_file_pages = fileHot + fileCold + shmem;
  vmstat.nr_shmem = shmem;
  vmstat.nr_shmem_hugepages = shmemThp;
  vmstat.nr_shmem_pmdmapped = shmemPmdMapped;
  vmstat.nr_anon_transparent_hugepages = anonThp;
  vmstat.nr_page_table_pages = tables;
  vmstat.nr_slab_reclaimable = slabR;
  vmstat.nr_slab_unreclaimable = slabU;
  vmstat.nr_active_file = fileHot;
  vmstat.nr_inactive_file = fileCold;

  const mthp: Record<string, Partial<Record<MthpStat, number>>> = {};
  for (const order of SYSFS_SIZE_ORDERS) {
    const stats: Partial<Record<MthpStat, number>> = {};
    const isAnon = order >= MIN_ANON_ORDER;
    MTHP_STATS.forEach((name, i) => {
      // Order 1 (8 kB) has only the shmem and "any" stats; orders 2..9 have all (kif 5.6).
      if (ANON_ONLY_STATS.has(name) && !isAnon) return;
      stats[name] = k.mthp[order * MTHP_STAT_COUNT + i]!;
    });
    mthp[sizeDirName(order)] = stats;
  }

  let unmovableBlocks = 0;
  let reclaimableBlocks = 0;
  let polluted = 0;
  for (let b = 0; b < ph.nPb; b++) {
    const mt = ph.pbMt[b]!;
    if (mt === Mt.Unmovable) unmovableBlocks++;
    else if (mt === Mt.Reclaimable) reclaimableBlocks++;
    else if (ph.pbPinned[b]! > 0) polluted++;
  }

  const cgroups: CgroupMetrics[] = [];
  for (const slot of k.cgroups.liveSlots()) {
    const base = slot * CGROUP_STAT_COUNT;
    const stat = {} as Record<CgroupStat, number>;
    CGROUP_STATS.forEach((name, i) => (stat[name] = k.cgStat[base + i]!));
    for (const name of ['anon', 'file', 'shmem', 'pagetables', 'slab'] as const) stat[name] *= PAGE_SIZE;
    stat.anon_thp *= PAGEBLOCK_PAGES * PAGE_SIZE;
    stat.shmem_thp *= PAGEBLOCK_PAGES * PAGE_SIZE;
    const current = k.usage(slot) * PAGE_SIZE;
    const hist = k.cgFaultHist[slot];
    const max = k.cgMax[slot]!;
    cgroups.push({
      id: k.cgroups.ids[slot]!,
      path: k.cgroups.paths[slot]!,
      parentId: slot === 0 ? null : k.cgroups.ids[k.cgroups.parent[slot]!]!,
      memoryStat: stat,
      memoryCurrentBytes: current,
      rssBytes: (k.cgStat[base + C.anon]! + k.cgStat[base + C.shmem]!) * PAGE_SIZE,
      memoryMaxBytes: Number.isFinite(max) ? max * PAGE_SIZE : null,
      psi: node.psiSnapshot(slot),
      faultLatency: hist ? hist.snapshot(false) : emptySnapshot(FAULT_LATENCY_BOUNDS_US),
      faultLatencyRecent: hist ? hist.snapshot(true) : emptySnapshot(FAULT_LATENCY_BOUNDS_US),
    });
  }

  const workloads: WorkloadMetrics[] = node.runtimes.map((rt) => {
    const t = rt.task;
    let ops = 0;
    let stall = 0;
    let windowMs = 0;
    for (let i = 0; i < WINDOW_SLOTS; i++) {
      ops += rt.opsSlots[i]!;
      stall += rt.stallSlots[i]!;
      windowMs += rt.slotMs[i]!;
    }
    let rss = 0;
    let touched = 0;
    let inPmd = 0;
    for (const v of t.vmas) {
      rss += v.presentPages;
      touched += v.touchedPages;
      inPmd += v.touchedInPmd;
    }
    const lat = rt.latency.snapshot(true);
    const fh = k.cgFaultHist[t.cg]?.snapshot(true);
    const base = t.cg * CGROUP_STAT_COUNT;
    const s = rt.model.shape;
    const tlbUs = (s.tlbAccessesPerOp * rt.tlb.nsPerAccess) / 1000;
    return {
      id: rt.id,
      name: rt.name,
      kind: rt.kind,
      cgroupId: k.cgroups.ids[t.cg]!,
      cgroupPath: rt.cgroupPath,
      unit: s.unit,
      throughput: windowMs > 0 ? ops / (windowMs / 1000) : 0,
      totalOps: rt.totalOps,
      droppedOps: rt.droppedOps,
      latencyUs: { p50: lat.p50, p99: lat.p99, p999: lat.p999, mean: lat.mean },
      faultLatencyUs: { p50: fh?.p50 ?? 0, p99: fh?.p99 ?? 0, count: fh?.total ?? 0 },
      rssBytes: rss * PAGE_SIZE,
      touchedBytes: touched * PAGE_SIZE,
      memoryCurrentBytes: k.usage(t.cg) * PAGE_SIZE,
      anonThpBytes: k.cgStat[base + C.anon_thp]! * PAGEBLOCK_PAGES * PAGE_SIZE,
      shmemThpBytes: k.cgStat[base + C.shmem_thp]! * PAGEBLOCK_PAGES * PAGE_SIZE,
      thpCoverage: touched > 0 ? inPmd / touched : 0,
      tlb: { missRate: rt.tlb.missRate, nsPerAccess: rt.tlb.nsPerAccess, overheadFraction: rt.lastOpUs > 0 ? tlbUs / rt.lastOpUs : 0 },
      stallMsPerSec: windowMs > 0 ? stall / 1000 / (windowMs / 1000) : 0,
      psi: node.psiSnapshot(t.cg),
    };
  });

  return {
    timeMs: node.now(),
    seed: node.seed,
    memoryBytes: node.memoryBytes,
    vmstat,
    mthp,
    buddyinfo: ph.buddyinfo(),
    memory: {
      totalBytes: ph.nPages * PAGE_SIZE,
      freeBytes: ph.freePages * PAGE_SIZE,
      anonBytes: anon * PAGE_SIZE,
      fileBytes: (fileHot + fileCold) * PAGE_SIZE,
      shmemBytes: shmem * PAGE_SIZE,
      anonThpBytes: anonThp * PAGEBLOCK_PAGES * PAGE_SIZE,
      shmemThpBytes: shmemThp * PAGEBLOCK_PAGES * PAGE_SIZE,
      pageTablesBytes: tables * PAGE_SIZE,
      slabBytes: (slabU + slabR) * PAGE_SIZE,
      watermarks: { min: k.minPages * PAGE_SIZE, low: k.lowPages * PAGE_SIZE, high: k.highPages * PAGE_SIZE, boost: k.boostPages * PAGE_SIZE },
    },
    fragmentation: {
      score: Math.round(ph.fragmentationScore() * 100) / 100,
      freePageblocks: ph.freeBlockCount(),
      unmovablePageblocks: unmovableBlocks,
      reclaimablePageblocks: reclaimableBlocks,
      pollutedPageblocks: polluted,
      pageblockClaims: ph.blockClaims,
    },
    psi: node.psiSnapshot(0),
    faultLatency: k.faultHist.snapshot(false),
    faultLatencyRecent: k.faultHist.snapshot(true),
    khugepaged: {
      pages_collapsed: node.khugepaged.pagesCollapsed,
      full_scans: node.khugepaged.fullScans,
      wakes: node.khugepaged.wakes,
      next_wake_ms: node.khugepaged.nextWakeMs,
    },
    hook: {
      attached: k.hook !== null,
      abi: k.abi,
      calls: {
        smaps: k.hookCalls[TvaType.Smaps]!,
        pagefault: k.hookCalls[TvaType.Pagefault]!,
        khugepaged: k.hookCalls[TvaType.Khugepaged]!,
        forced_collapse: k.hookCalls[TvaType.ForcedCollapse]!,
        swap_pagefault: k.hookCalls[TvaType.SwapPagefault]!,
      },
      kernelEquivalentCalls: k.hookEquivalentCalls,
    },
    cgroups,
    workloads,
  };
}
