/**
 * The simulated memory-management core of one node: THP order selection as in
 * `thp_vma_allowable_orders()` with the policy hook, the anonymous and shmem fault paths,
 * allocation with the `defrag` rules, direct compaction and reclaim, deferred split and the
 * underused-THP shrinker, page tables, memcg charging, and the counters the kernel exports.
 *
 * Time costs are accumulated per "event" (one fault, one collapse) and attributed to the task
 * that caused it: fault latency, memory-stall time (PSI) and big stalls that block a thread.
 */
import {
  PMD_ORDER as PMD_ORDER_,
  THP_ORDERS_ALL_ANON as THP_ORDERS_ALL_ANON_,
  TvaType as TvaType_,
  VmaAdvice as VmaAdvice_,
  applyHookReturn as applyHookReturn_,
  highestOrder as highestOrder_,
  type HookAbi,
  type HookInput,
  type ThpHook,
} from '@thp-fleet/policy';
import {
  BASE_FAULT_OVERHEAD_US as BASE_FAULT_OVERHEAD_US_,
  BUDDY_ALLOC_HUGE_MEDIAN_US as BUDDY_ALLOC_HUGE_MEDIAN_US_,
  BUDDY_ALLOC_SIGMA as BUDDY_ALLOC_SIGMA_,
  BUDDY_ALLOC_SMALL_US as BUDDY_ALLOC_SMALL_US_,
  CLEAR_BW_GBPS_MAX as CLEAR_BW_GBPS_MAX_,
  CLEAR_BW_GBPS_MIN as CLEAR_BW_GBPS_MIN_,
  COMPACT_BLOCK_BUDGET_ASYNC as COMPACT_BLOCK_BUDGET_ASYNC_,
  COMPACT_BLOCK_BUDGET_SYNC as COMPACT_BLOCK_BUDGET_SYNC_,
  COMPACT_BLOCK_BUDGET_SYNC_LIGHT as COMPACT_BLOCK_BUDGET_SYNC_LIGHT_,
  COMPACT_MADVISE_ROUNDS as COMPACT_MADVISE_ROUNDS_,
  COMPACT_MAX_DEFER_SHIFT as COMPACT_MAX_DEFER_SHIFT_,
  FAULT_LATENCY_BOUNDS_US as FAULT_LATENCY_BOUNDS_US_,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGEBLOCK_WORDS as PAGEBLOCK_WORDS_,
  PAGE_ALLOC_COSTLY_ORDER as PAGE_ALLOC_COSTLY_ORDER_,
  PAGE_SIZE as PAGE_SIZE_,
  RECLAIM_US_PER_PAGE as RECLAIM_US_PER_PAGE_,
  SHRINK_BATCH as SHRINK_BATCH_,
  STALL_JITTER_SIGMA as STALL_JITTER_SIGMA_,
  SWAP_CLUSTER_MAX as SWAP_CLUSTER_MAX_,
  WATERMARK_BOOST_FACTOR as WATERMARK_BOOST_FACTOR_,
  WATERMARK_SCALE_FACTOR as WATERMARK_SCALE_FACTOR_,
  ZERO_4K_US as ZERO_4K_US_,
  defaultMinFreeKbytes,
  thpRecommendedMinFreeKbytes,
} from './constants.js';
import {
  C as C_,
  CGROUP_STAT_COUNT as CGROUP_STAT_COUNT_,
  M as M_,
  MTHP_STAT_COUNT as MTHP_STAT_COUNT_,
  V as V_,
  VMSTAT_EVENTS as VMSTAT_EVENTS_,
} from './counters.js';
import {
  CgroupTree,
  MAX_CGROUPS as MAX_CGROUPS_,
} from './cgroups.js';
import { bucketIndex as bucketIndex_, WindowedHistogram } from './histogram.js';
import {
  Mt as Mt_,
  PhysMem,
  popcount32 as popcount32_,
} from './physmem.js';
import { Rng } from './rng.js';
import {
  DefragMode as DefragMode_,
  anonSysfsMask as anonSysfsMask_,
  computeMasks,
  shmemSysfsMask as shmemSysfsMask_,
  type SysfsMasks,
  type ThpSysfs,
} from './sysfs.js';
import {
  Region as Region_,
  Vma,
  VmaKind as VmaKind_,
} from './vma.js';
import { compactZone as compactZone_ } from './compaction.js';
import { FileLru } from './reclaim.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const applyHookReturn = applyHookReturn_;
const highestOrder = highestOrder_;
const bucketIndex = bucketIndex_;
const popcount32 = popcount32_;
const anonSysfsMask = anonSysfsMask_;
const shmemSysfsMask = shmemSysfsMask_;
const compactZone = compactZone_;
const TvaType = TvaType_;
type TvaType = TvaType_;
const VmaAdvice = VmaAdvice_;
type VmaAdvice = VmaAdvice_;
const Mt = Mt_;
const DefragMode = DefragMode_;
type DefragMode = DefragMode_;
const Region = Region_;
const VmaKind = VmaKind_;
type VmaKind = VmaKind_;
const PMD_ORDER = PMD_ORDER_;
const THP_ORDERS_ALL_ANON = THP_ORDERS_ALL_ANON_;
const BASE_FAULT_OVERHEAD_US = BASE_FAULT_OVERHEAD_US_;
const BUDDY_ALLOC_HUGE_MEDIAN_US = BUDDY_ALLOC_HUGE_MEDIAN_US_;
const BUDDY_ALLOC_SIGMA = BUDDY_ALLOC_SIGMA_;
const BUDDY_ALLOC_SMALL_US = BUDDY_ALLOC_SMALL_US_;
const CLEAR_BW_GBPS_MAX = CLEAR_BW_GBPS_MAX_;
const CLEAR_BW_GBPS_MIN = CLEAR_BW_GBPS_MIN_;
const COMPACT_BLOCK_BUDGET_ASYNC = COMPACT_BLOCK_BUDGET_ASYNC_;
const COMPACT_BLOCK_BUDGET_SYNC = COMPACT_BLOCK_BUDGET_SYNC_;
const COMPACT_BLOCK_BUDGET_SYNC_LIGHT = COMPACT_BLOCK_BUDGET_SYNC_LIGHT_;
const COMPACT_MADVISE_ROUNDS = COMPACT_MADVISE_ROUNDS_;
const COMPACT_MAX_DEFER_SHIFT = COMPACT_MAX_DEFER_SHIFT_;
const FAULT_LATENCY_BOUNDS_US = FAULT_LATENCY_BOUNDS_US_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGEBLOCK_WORDS = PAGEBLOCK_WORDS_;
const PAGE_ALLOC_COSTLY_ORDER = PAGE_ALLOC_COSTLY_ORDER_;
const PAGE_SIZE = PAGE_SIZE_;
const RECLAIM_US_PER_PAGE = RECLAIM_US_PER_PAGE_;
const SHRINK_BATCH = SHRINK_BATCH_;
const STALL_JITTER_SIGMA = STALL_JITTER_SIGMA_;
const SWAP_CLUSTER_MAX = SWAP_CLUSTER_MAX_;
const WATERMARK_BOOST_FACTOR = WATERMARK_BOOST_FACTOR_;
const WATERMARK_SCALE_FACTOR = WATERMARK_SCALE_FACTOR_;
const ZERO_4K_US = ZERO_4K_US_;
const C = C_;
const CGROUP_STAT_COUNT = CGROUP_STAT_COUNT_;
const M = M_;
const MTHP_STAT_COUNT = MTHP_STAT_COUNT_;
const V = V_;
const VMSTAT_EVENTS = VMSTAT_EVENTS_;
const MAX_CGROUPS = MAX_CGROUPS_;

const PMD_BIT = 1 << PMD_ORDER;
/** Orders shmem can allocate: file default orders 1..9 (kif 5.1). */
const SHMEM_ORDERS = ((1 << (PMD_ORDER + 1)) - 1) & ~1;
/** Events at or above this latency are recorded individually (they block a thread noticeably). */
export const BIG_EVENT_US = 40;
/** Individual big events kept per task per tick; more are merged into the last slot. */
export const STALL_CAPACITY = 128;

/** prctl(PR_SET_THP_DISABLE) state of a process (kif 5.3). */
export const ThpDisable = { None: 0, Completely: 1, ExceptAdvised: 2 } as const;
export type ThpDisable = (typeof ThpDisable)[keyof typeof ThpDisable];

/** Compaction priorities (COMPACT_PRIO_ASYNC, SYNC_LIGHT, SYNC_FULL). */
export const CompactPrio = { Async: 0, SyncLight: 1, Sync: 2 } as const;
export type CompactPrio = (typeof CompactPrio)[keyof typeof CompactPrio];

/** A THP grant, for tracing (tests use it to check that no THP is granted where sysfs forbids it). */
export interface ThpGrant {
  readonly task: number;
  readonly vma: string;
  readonly shmem: boolean;
  readonly order: number;
  readonly tva: TvaType;
  readonly advice: VmaAdvice;
  readonly disable: ThpDisable;
  /** The sysfs settings in force when the grant was made. */
  readonly sysfs: ThpSysfs;
}

/** A simulated process: one mm, in one cgroup. */
export class Task {
  readonly vmas: Vma[] = [];
  // Per-tick accumulators (reset by the node each tick).
  faults = 0;
  smallFaultUs = 0;
  memstallUs = 0;
  stallCount = 0;
  readonly stalls = new Float64Array(STALL_CAPACITY);
  refaults = 0;
  failedPages = 0;

  constructor(
    readonly slot: number,
    readonly name: string,
    public cg: number,
    public chain: Uint32Array,
    public threads: number,
    public disable: ThpDisable,
    readonly ptOwner: number,
    readonly fileHotOwner: number,
    readonly fileColdOwner: number,
  ) {}

  resetTick(): void {
    this.faults = 0;
    this.smallFaultUs = 0;
    this.memstallUs = 0;
    this.stallCount = 0;
    this.refaults = 0;
    this.failedPages = 0;
  }

  addStall(us: number): void {
    if (this.stallCount < STALL_CAPACITY) {
      this.stalls[this.stallCount++] = us;
    } else {
      this.stalls[STALL_CAPACITY - 1] = this.stalls[STALL_CAPACITY - 1]! + us;
    }
  }
}

class MutableHookInput implements HookInput {
  cgroupChain: ArrayLike<number> = new Uint32Array(0);
  tva: TvaType = TvaType.Pagefault;
  advice: VmaAdvice = VmaAdvice.None;
  requestedOrders = 0;
  pressure = 0;
}

/** Deferred-split queue: a growable ring of (vma slot, region, generation); the capacity is a power of two. */
class SplitQueue {
  private v = new Int32Array(1024);
  private r = new Int32Array(1024);
  private g = new Uint32Array(1024);
  private head = 0;
  len = 0;

  push(vma: number, region: number, gen: number): void {
    if (this.turn !== 0) this.applyTurn();
    if (this.len === this.v.length) this.grow();
    const i = (this.head + this.len) & (this.v.length - 1);
    this.v[i] = vma;
    this.r[i] = region;
    this.g[i] = gen;
    this.len++;
  }

  private grow(): void {
    const cap = this.v.length * 2;
    const nv = new Int32Array(cap);
    const nr = new Int32Array(cap);
    const ng = new Uint32Array(cap);
    for (let k = 0; k < this.len; k++) {
      const i = (this.head + k) & (this.v.length - 1);
      nv[k] = this.v[i]!;
      nr[k] = this.r[i]!;
      ng[k] = this.g[i]!;
    }
    this.v = nv;
    this.r = nr;
    this.g = ng;
    this.head = 0;
  }

  /**
   * Moves the first `k` entries (k <= len) to the tail unchanged: a scan that keeps everything
   * it looks at (see `settled`). Only counted here; the entries move at the next push or pop.
   */
  rotate(k: number): void {
    if (this.len > 0) this.turn = (this.turn + k) % this.len;
  }

  /** Entries rotate() has yet to move from the head to the tail (< len). */
  private turn = 0;

  private applyTurn(): void {
    const mask = this.v.length - 1;
    const v = this.v;
    const r = this.r;
    const g = this.g;
    let h = this.head;
    let t = (h + this.len) & mask;
    for (let i = 0; i < this.turn; i++) {
      v[t] = v[h]!;
      r[t] = r[h]!;
      g[t] = g[h]!;
      h = (h + 1) & mask;
      t = (t + 1) & mask;
    }
    this.head = h;
    this.turn = 0;
  }

  /**
   * Entries at the tail that a scan found still in use (kept) and that nothing could have
   * changed since: valid while `settledEpoch` is the kernel's splitEpoch. When it covers the
   * whole queue, a scan keeps every entry it looks at, so it is a rotation.
   */
  settled = 0;
  settledEpoch = -1;

  /** Pops the head into the out fields; returns false when empty. */
  pop(): boolean {
    if (this.len === 0) return false;
    if (this.turn !== 0) this.applyTurn();
    this.outVma = this.v[this.head]!;
    this.outRegion = this.r[this.head]!;
    this.outGen = this.g[this.head]!;
    this.head = (this.head + 1) & (this.v.length - 1);
    this.len--;
    return true;
  }
  outVma = 0;
  outRegion = 0;
  outGen = 0;
}

export class Kernel {
  readonly phys: PhysMem;
  readonly cgroups = new CgroupTree();
  readonly vm = new Float64Array(VMSTAT_EVENTS.length);
  /** mTHP stats, [order * MTHP_STAT_COUNT + stat], orders 0..9. */
  readonly mthp = new Float64Array((PMD_ORDER + 1) * MTHP_STAT_COUNT);
  /** memory.stat per cgroup slot, [slot * CGROUP_STAT_COUNT + stat] (pages for sizes, counts for events). */
  readonly cgStat = new Float64Array(MAX_CGROUPS * CGROUP_STAT_COUNT);
  readonly cgMax = new Float64Array(MAX_CGROUPS).fill(Number.POSITIVE_INFINITY);
  readonly faultHist = new WindowedHistogram(FAULT_LATENCY_BOUNDS_US);
  readonly cgFaultHist: (WindowedHistogram | null)[] = new Array<WindowedHistogram | null>(MAX_CGROUPS).fill(null);
  readonly tasks: (Task | null)[] = [];
  readonly vmas: (Vma | null)[] = [];
  readonly fileLru: FileLru;
  readonly rng: Rng;

  sysfs: ThpSysfs;
  masks: SysfsMasks;
  hook: ThpHook | null = null;
  abi: HookAbi = 'v12';
  readonly hookCalls = new Float64Array(5);
  /** Calls the kernel would make with per-fault granularity (the sim batches identical calls). */
  hookEquivalentCalls = 0;
  private readonly hookInput = new MutableHookInput();
  /** Memory some avg10 of the node in hundredths of a percent (the hook's pressure input). */
  pressure = 0;
  trace: ((g: ThpGrant) => void) | null = null;

  // Watermarks and kswapd/kcompactd state (pages).
  readonly minPages: number;
  readonly lowPages: number;
  readonly highPages: number;
  boostPages = 0;
  readonly maxBoostPages: number;
  kswapdWake = false;
  kswapdOrder = 0;
  kcompactdOrder = -1;
  /** Compaction scanner positions (compact_cached_migrate_pfn / free_pfn, in pageblocks). */
  migCursor = 0;
  freeCursor: number;
  /** compact_considered, compact_defer_shift, compact_order_failed. */
  compactConsidered = 0;
  compactDeferShift = 0;
  compactOrderFailed = PMD_ORDER + 1;
  /** Output of the last compactZone call. */
  compactCostUs = 0;
  compactMigrated = 0;

  /** Time cost of the current event, µs, and the part of it that is a memory stall. */
  evLat = 0;
  evStall = 0;
  /** Task being charged for work (-1 = kernel threads). */
  cur = -1;
  /** Memory stall of kernel threads (kswapd, kcompactd, khugepaged) this tick, µs. */
  kthreadStallUs = 0;

  /** Zeroing cost of one 2 MiB folio on this node's CPU (µs), drawn from the measured bandwidth range. */
  readonly zeroHugeUs: number;
  private readonly zeroPerByteUs: number;
  /** Deferred-split queues per memcg (ds_queue of each mem_cgroup), by cgroup slot. */
  private readonly splitQueues: (SplitQueue | null)[] = new Array<SplitQueue | null>(MAX_CGROUPS).fill(null);
  /** nr_deferred of the deferred-split shrinker, per memcg. */
  private readonly splitDeferred = new Float64Array(MAX_CGROUPS);
  /** Memcg slots that have a deferred-split queue, ascending. */
  private readonly splitActive: number[] = [];
  private splitGen = 0;
  /**
   * Bumped by everything that can make a deferred-split entry actionable (stale, partially
   * mapped, or underused): queueing, zapping a queued region, mapping or re-tabling one, VMA
   * creation and removal, sysfs changes. See SplitQueue.settled.
   */
  private splitEpoch = 0;
  private rotate = 0;
  nowMs = 0;
  private readonly scratchNew = new Uint32Array(PAGEBLOCK_WORDS);
  readonly slabUnmovable: number;
  readonly slabReclaimable: number;

  constructor(memoryBytes: number, sysfs: ThpSysfs, rng: Rng) {
    this.phys = new PhysMem(memoryBytes);
    this.rng = rng;
    this.sysfs = sysfs;
    this.masks = computeMasks(sysfs);
    this.fileLru = new FileLru();
    const managed = this.phys.nPages;
    const minKb = Math.max(defaultMinFreeKbytes(memoryBytes), thpRecommendedMinFreeKbytes(memoryBytes));
    this.minPages = Math.ceil((minKb * 1024) / PAGE_SIZE);
    const gap = Math.max(this.minPages >> 2, Math.floor((managed * WATERMARK_SCALE_FACTOR) / 10000));
    this.lowPages = this.minPages + gap;
    this.highPages = this.minPages + 2 * gap;
    this.maxBoostPages = Math.floor((this.highPages * WATERMARK_BOOST_FACTOR) / 10000);
    this.freeCursor = this.phys.nPb - 1;
    const bw = CLEAR_BW_GBPS_MIN + (CLEAR_BW_GBPS_MAX - CLEAR_BW_GBPS_MIN) * rng.float();
    this.zeroPerByteUs = 1 / (bw * 1000);
    this.zeroHugeUs = PAGEBLOCK_PAGES * PAGE_SIZE * this.zeroPerByteUs;
    this.slabUnmovable = this.phys.registerOwner(Mt.Unmovable, false);
    this.slabReclaimable = this.phys.registerOwner(Mt.Reclaimable, false);
    this.cgFaultHist[0] = new WindowedHistogram(FAULT_LATENCY_BOUNDS_US);
  }

  // ------------------------------------------------------------------ configuration

  setSysfs(s: ThpSysfs): void {
    this.sysfs = s;
    this.masks = computeMasks(s);
    this.splitEpoch++;
  }

  setHook(hook: ThpHook | null, abi: HookAbi): void {
    this.hook = hook;
    this.abi = abi;
  }

  ensureCgroup(path: string): number {
    const slot = this.cgroups.ensure(path);
    for (const s of this.cgroups.ancestors(slot)) {
      if (this.cgFaultHist[s] === null) this.cgFaultHist[s] = new WindowedHistogram(FAULT_LATENCY_BOUNDS_US);
    }
    return slot;
  }

  addTask(name: string, cgSlot: number, threads: number, disable: ThpDisable): Task {
    let slot = this.tasks.indexOf(null);
    if (slot < 0) slot = this.tasks.length;
    const pt = this.phys.registerOwner(Mt.Unmovable, false);
    const hot = this.phys.registerOwner(Mt.Movable, true);
    const cold = this.phys.registerOwner(Mt.Movable, true);
    const t = new Task(slot, name, cgSlot, this.cgroups.chain(cgSlot), threads, disable, pt, hot, cold);
    this.ownerCg[pt] = cgSlot;
    this.ownerCg[hot] = cgSlot;
    this.ownerCg[cold] = cgSlot;
    this.ownerFileList[hot] = 1;
    this.ownerFileList[cold] = 0;
    this.tasks[slot] = t;
    return t;
  }

  createVma(t: Task, name: string, kind: VmaKind, nPages: number, advice: VmaAdvice): Vma {
    let slot = this.vmas.indexOf(null);
    if (slot < 0) slot = this.vmas.length;
    const owner = this.phys.registerOwner(Mt.Movable, true);
    const v = new Vma(slot, name, t.slot, kind, owner, nPages, advice);
    this.vmas[slot] = v;
    this.splitEpoch++;
    t.vmas.push(v);
    return v;
  }

  /** munmap of a whole VMA: frees frames and page tables, drops split-queue entries. */
  destroyVma(v: Vma): void {
    const t = this.tasks[v.task]!;
    this.cur = t.slot;
    for (let r = 0; r < v.nRegions; r++) {
      if (v.regState[r] !== Region.None) this.zapRegion(v, r, null, true);
    }
    this.phys.freeAllOf(v.owner);
    this.phys.releaseOwner(v.owner);
    this.vmas[v.slot] = null;
    this.splitEpoch++;
    const i = t.vmas.indexOf(v);
    if (i >= 0) t.vmas.splice(i, 1);
  }

  removeTask(t: Task): void {
    for (const v of [...t.vmas]) this.destroyVma(v);
    for (const o of [t.fileHotOwner, t.fileColdOwner]) {
      const freed = this.phys.freeAllOf(o);
      this.charge(t.cg, C.file, -freed);
      this.fileLru.purgeOwner(o);
      this.phys.releaseOwner(o);
      this.ownerFileList[o] = -1;
      this.ownerCg[o] = -1;
    }
    const pt = this.phys.freeAllOf(t.ptOwner);
    this.charge(t.cg, C.pagetables, -pt);
    this.phys.releaseOwner(t.ptOwner);
    this.ownerCg[t.ptOwner] = -1;
    this.tasks[t.slot] = null;
  }

  // ------------------------------------------------------------------ accounting helpers

  charge(cg: number, stat: number, pages: number): void {
    for (let s = cg; s >= 0; s = this.cgroups.parent[s]!) {
      const k = s * CGROUP_STAT_COUNT + stat;
      this.cgStat[k] = this.cgStat[k]! + pages;
    }
  }

  cgEvent(cg: number, stat: number, n: number): void {
    this.charge(cg, stat, n);
  }

  /** memory.current of a cgroup in pages. */
  usage(cg: number): number {
    const k = cg * CGROUP_STAT_COUNT;
    return this.cgStat[k + C.anon]! + this.cgStat[k + C.file]! + this.cgStat[k + C.shmem]! + this.cgStat[k + C.pagetables]! + this.cgStat[k + C.slab]!;
  }

  /** Would charging `pages` exceed memory.max of the cgroup or an ancestor? Tries reclaiming the cgroup's own page cache first. */
  private chargeFits(t: Task, pages: number): boolean {
    for (let s = t.cg; s >= 0; s = this.cgroups.parent[s]!) {
      const max = this.cgMax[s]!;
      if (!Number.isFinite(max)) continue;
      const over = this.usage(s) + pages - max;
      if (over <= 0) continue;
      const got = this.memcgReclaim(t, over);
      if (got < over) {
        this.cgEvent(t.cg, C.memory_max_events, 1);
        return false;
      }
    }
    return true;
  }

  private memcgReclaim(t: Task, pages: number): number {
    let got = 0;
    for (const o of [t.fileColdOwner, t.fileHotOwner]) {
      if (got >= pages) break;
      const n = this.phys.freeOwnerPages(o, pages - got, -1, this.rotate++ * 97);
      got += n;
    }
    if (got > 0) {
      this.charge(t.cg, C.file, -got);
      this.addStallCost(got * RECLAIM_US_PER_PAGE);
      this.vm[V.pgsteal_direct] = this.vm[V.pgsteal_direct]! + got;
    }
    return got;
  }

  private mthpInc(order: number, stat: number, n = 1): void {
    const k = order * MTHP_STAT_COUNT + stat;
    this.mthp[k] = this.mthp[k]! + n;
  }

  /** Adds memory-stall time (compaction, reclaim) to the current event, with scheduling jitter. */
  addStallCost(us: number): void {
    if (us <= 0) return;
    const j = us * Math.exp(STALL_JITTER_SIGMA * this.rng.normal() - (STALL_JITTER_SIGMA * STALL_JITTER_SIGMA) / 2);
    this.evLat += j;
    this.evStall += j;
  }

  private beginEvent(): void {
    this.evLat = 0;
    this.evStall = 0;
  }

  /** Records one fault event of the current task with the accumulated latency. */
  private endFault(t: Task, extraUs: number): void {
    const lat = this.evLat + extraUs;
    const bucket = bucketIndex(FAULT_LATENCY_BOUNDS_US, lat);
    this.faultHist.add(bucket, 1, lat);
    this.cgFaultHist[t.cg]?.add(bucket, 1, lat);
    t.faults++;
    if (lat >= BIG_EVENT_US) t.addStall(lat);
    else t.smallFaultUs += lat;
    t.memstallUs += this.evStall;
    this.vm[V.pgfault] = this.vm[V.pgfault]! + 1;
    this.cgEvent(t.cg, C.pgfault, 1);
    this.evLat = 0;
    this.evStall = 0;
  }

  /** Records n order-0 faults of fixed latency (batched). */
  private baseFaults(t: Task, n: number): void {
    if (n <= 0) return;
    const lat = BASE_FAULT_OVERHEAD_US + ZERO_4K_US;
    const bucket = bucketIndex(FAULT_LATENCY_BOUNDS_US, lat);
    this.faultHist.add(bucket, n, lat);
    this.cgFaultHist[t.cg]?.add(bucket, n, lat);
    t.faults += n;
    t.smallFaultUs += n * lat;
    this.vm[V.pgfault] = this.vm[V.pgfault]! + n;
    this.cgEvent(t.cg, C.pgfault, n);
  }

  // ------------------------------------------------------------------ order selection

  private callHook(t: Task, v: Vma, tva: TvaType, requested: number): number {
    const hook = this.hook!;
    const input = this.hookInput;
    input.cgroupChain = t.chain;
    input.tva = tva;
    input.advice = v.advice;
    input.requestedOrders = requested;
    input.pressure = this.pressure;
    const ret = hook(input);
    if (typeof ret !== 'number' || !Number.isInteger(ret)) {
      throw new Error(`THP hook returned ${String(ret)} for cgroup ${t.chain[0]} (${t.name}), tva ${tva}: expected an integer`);
    }
    this.hookCalls[tva] = this.hookCalls[tva]! + 1;
    this.hookEquivalentCalls++;
    return applyHookReturn(ret | 0, requested, this.abi);
  }

  /** vma_thp_disabled(): VM_NOHUGEPAGE, prctl disable (completely / except advised). */
  private thpDisabled(t: Task, v: Vma, forcedCollapse: boolean): boolean {
    if (v.advice === VmaAdvice.Nohugepage) return true;
    if (t.disable === ThpDisable.Completely) return true;
    if (v.advice === VmaAdvice.Hugepage || forcedCollapse) return false;
    return t.disable === ThpDisable.ExceptAdvised;
  }

  /** The sysfs part of the decision for an anon VMA (what the hook is intersected with). */
  sysfsAnonMask(v: Vma): number {
    return anonSysfsMask(this.masks, v.advice === VmaAdvice.Hugepage);
  }

  /**
   * thp_vma_allowable_orders() for an anonymous VMA (kif 2.1 v7 placement, 2.6, 5.3): the hook
   * first, then the sysfs mask (except forced collapse), then __thp_vma_allowable_orders
   * (supported orders, VMA/prctl disable). The hook is not consulted when sysfs, prctl or
   * MADV_NOHUGEPAGE already rule THP out ("the BPF functionality is unavailable").
   */
  allowableAnon(t: Task, v: Vma, tva: TvaType, requested: number): number {
    const forced = tva === TvaType.ForcedCollapse;
    if (this.thpDisabled(t, v, forced)) return 0;
    const mask = forced ? THP_ORDERS_ALL_ANON : this.sysfsAnonMask(v) & THP_ORDERS_ALL_ANON;
    if (mask === 0) return 0;
    let orders = requested;
    if (this.hook !== null) {
      orders = this.callHook(t, v, tva, requested);
      if (orders === 0) return 0;
    }
    return orders & mask;
  }

  /** shmem_allowable_huge_orders() with the hook applied (kif 2.6: BPF can only narrow). */
  allowableShmem(t: Task, v: Vma, tva: TvaType): number {
    const forced = tva === TvaType.ForcedCollapse;
    if (this.thpDisabled(t, v, forced)) return 0;
    const allowed = forced ? PMD_BIT : shmemSysfsMask(this.masks, v.advice === VmaAdvice.Hugepage) & SHMEM_ORDERS;
    if (allowed === 0) return 0;
    if (this.hook === null) return allowed;
    return this.callHook(t, v, tva, allowed) & allowed;
  }

  /** vma_thp_gfp_mask(): direct reclaim/compaction, __GFP_NORETRY, kswapd wake (kif 5.2). */
  private gfpDirect = false;
  private gfpNoretry = false;
  private gfpKswapd = false;
  private setFaultGfp(v: Vma): void {
    const madvised = v.advice === VmaAdvice.Hugepage;
    switch (this.masks.defrag) {
      case DefragMode.Always:
        this.gfpDirect = true;
        this.gfpNoretry = !madvised;
        this.gfpKswapd = false;
        return;
      case DefragMode.Defer:
        this.gfpDirect = false;
        this.gfpNoretry = false;
        this.gfpKswapd = true;
        return;
      case DefragMode.DeferMadvise:
        this.gfpDirect = madvised;
        this.gfpNoretry = false;
        this.gfpKswapd = !madvised;
        return;
      case DefragMode.Madvise:
        this.gfpDirect = madvised;
        this.gfpNoretry = false;
        this.gfpKswapd = false;
        return;
      case DefragMode.Never:
        this.gfpDirect = false;
        this.gfpNoretry = false;
        this.gfpKswapd = false;
        return;
    }
  }

  /** khugepaged / MADV_COLLAPSE allocations: GFP_TRANSHUGE when khugepaged/defrag=1, else _LIGHT. */
  private setCollapseGfp(): void {
    this.gfpDirect = this.sysfs.khugepaged.defrag === 1;
    this.gfpNoretry = false;
    this.gfpKswapd = false;
  }

  // ------------------------------------------------------------------ allocation

  /** Wakes kswapd for an order (wakeup_kswapd). */
  wakeKswapd(order: number): void {
    this.kswapdWake = true;
    if (order > this.kswapdOrder) this.kswapdOrder = order;
  }

  /**
   * Allocates n order-0 frames for `owner` with the zone watermarks: below low wakes kswapd,
   * below min the task reclaims directly (a memory stall). Returns the number allocated.
   */
  allocSmall(owner: number, n: number): number {
    const ph = this.phys;
    let got = 0;
    let attempts = 0;
    while (got < n) {
      if (ph.freePages - (n - got) < this.lowPages) this.wakeKswapd(0);
      const avail = ph.freePages - this.minPages;
      if (avail <= 0) {
        const rec = this.directReclaim(Math.max(SWAP_CLUSTER_MAX, n - got));
        if (rec > 0 && attempts++ < 16) continue;
        // Nothing left to reclaim: out of memory. The OOM killer is not simulated; the
        // allocation dips into the reserves and fails when they are gone (counted as oom_kill).
        this.vm[V.oom_kill] = this.vm[V.oom_kill]! + 1;
        const k = Math.min(n - got, ph.freePages);
        if (k > 0) got += ph.allocPages(owner, k);
        break;
      }
      const k = Math.min(n - got, avail);
      const a = ph.allocPages(owner, k);
      got += a;
      if (a < k) break;
    }
    return got;
  }

  private compactionDeferred(order: number): boolean {
    if (order < this.compactOrderFailed) return false;
    if (++this.compactConsidered >= 1 << this.compactDeferShift) {
      this.compactConsidered = 1 << this.compactDeferShift;
      return false;
    }
    return true;
  }

  private deferCompaction(order: number): void {
    this.compactConsidered = 0;
    if (++this.compactDeferShift > COMPACT_MAX_DEFER_SHIFT) this.compactDeferShift = COMPACT_MAX_DEFER_SHIFT;
    if (order < this.compactOrderFailed) this.compactOrderFailed = order;
  }

  private compactionDeferReset(order: number): void {
    this.compactConsidered = 0;
    this.compactDeferShift = 0;
    if (order >= this.compactOrderFailed) this.compactOrderFailed = order + 1;
  }

  /** compaction_suitable(): enough free memory above the watermark plus compact_gap (2 << order). */
  compactionSuitable(order: number): boolean {
    const wmark = order > PAGE_ALLOC_COSTLY_ORDER ? this.lowPages : this.minPages;
    return this.phys.freePages >= wmark + (2 << order);
  }

  private wmarkOkFor(order: number, wmark: number): boolean {
    return this.phys.freePages - (1 << order) >= wmark && this.phys.hasFreeOrder(order);
  }

  /**
   * One direct compaction attempt (try_to_compact_pages). Returns 2 success, 1 failed,
   * 0 skipped or deferred (no compact_stall).
   */
  private directCompact(order: number, prio: CompactPrio): number {
    if (prio !== CompactPrio.Sync && this.compactionDeferred(order)) return 0;
    if (!this.compactionSuitable(order)) return 0;
    this.vm[V.compact_stall] = this.vm[V.compact_stall]! + 1;
    const budget = prio === CompactPrio.Async ? COMPACT_BLOCK_BUDGET_ASYNC : prio === CompactPrio.SyncLight ? COMPACT_BLOCK_BUDGET_SYNC_LIGHT : COMPACT_BLOCK_BUDGET_SYNC;
    const ok = compactZone(this, order, budget, prio === CompactPrio.Async, true);
    this.addStallCost(this.compactCostUs);
    if (ok && this.wmarkOkFor(order, this.minPages)) {
      this.vm[V.compact_success] = this.vm[V.compact_success]! + 1;
      this.compactionDeferReset(order);
      return 2;
    }
    this.vm[V.compact_fail] = this.vm[V.compact_fail]! + 1;
    if (prio !== CompactPrio.Async) this.deferCompaction(order);
    return 1;
  }

  private takeHigh(owner: number, order: number): number {
    return order === PMD_ORDER ? this.phys.allocHugeBlock(owner) : this.phys.allocOrder(owner, order);
  }

  /**
   * Allocates a folio of `order` (2..9) for `owner` with the GFP set by setFaultGfp or
   * setCollapseGfp (__alloc_pages_slowpath for costly orders). Returns the pageblock (order 9)
   * or first frame (order < 9), or -1.
   */
  allocHigh(owner: number, order: number): number {
    this.evLat += order === PMD_ORDER ? this.rng.lognormal(BUDDY_ALLOC_HUGE_MEDIAN_US, BUDDY_ALLOC_SIGMA) : BUDDY_ALLOC_SMALL_US;
    // Fast path: ALLOC_WMARK_LOW.
    if (this.wmarkOkFor(order, this.lowPages)) return this.takeHigh(owner, order);
    if (this.gfpKswapd) this.wakeKswapd(order);
    // Slow path first attempt: ALLOC_WMARK_MIN.
    if (this.wmarkOkFor(order, this.minPages)) return this.takeHigh(owner, order);
    if (!this.gfpDirect) return -1;
    let r = this.directCompact(order, CompactPrio.Async);
    if (r === 2) return this.takeHigh(owner, order);
    if (this.gfpNoretry && r === 0) return -1;
    const rounds = this.gfpNoretry ? 1 : COMPACT_MADVISE_ROUNDS;
    for (let round = 0; round < rounds; round++) {
      this.directReclaim(2 << order);
      if (this.wmarkOkFor(order, this.minPages)) return this.takeHigh(owner, order);
      const prio = this.gfpNoretry ? CompactPrio.Async : round === 0 ? CompactPrio.SyncLight : CompactPrio.Sync;
      r = this.directCompact(order, prio);
      if (r === 2) return this.takeHigh(owner, order);
    }
    return -1;
  }

  // ------------------------------------------------------------------ reclaim

  /**
   * Reclaims up to `target` pages: page cache (inactive/cold first) and reclaimable slab in
   * proportion. Returns pages freed. Costs are not charged here; the deferred-split shrinker
   * is run by the callers through shrinkSlabSweep().
   */
  reclaim(target: number, direct: boolean): number {
    let freed = 0;
    const filePages = this.fileLru.listPages(0) + this.fileLru.listPages(1);
    let fileGot = 0;
    if (freed < target) {
      fileGot = this.reclaimFile(target - freed, direct);
      freed += fileGot;
    }
    // shrink_slab scans in proportion to the LRU: delta = 4 * scanned / DEFAULT_SEEKS(2) *
    // freeable / lru_pages; about half of the objects freed empty a slab page (model).
    const slab = this.phys.ownerPages[this.slabReclaimable]!;
    const share = filePages > 0 ? fileGot / filePages : freed < target ? 0.05 : 0;
    const want = Math.min(slab, Math.round(slab * share));
    if (want > 0) {
      const got = this.phys.freeOwnerPages(this.slabReclaimable, want, -1, -1);
      this.charge(0, C.slab, -got);
      freed += got;
    }
    return freed;
  }

  private reclaimFile(target: number, direct: boolean): number {
    const got = this.fileLru.reclaim(this, target);
    if (got > 0) {
      this.vm[direct ? V.pgscan_direct : V.pgscan_kswapd] = this.vm[direct ? V.pgscan_direct : V.pgscan_kswapd]! + got;
      this.vm[direct ? V.pgsteal_direct : V.pgsteal_kswapd] = this.vm[direct ? V.pgsteal_direct : V.pgsteal_kswapd]! + got;
      this.vm[V.pgsteal_file] = this.vm[V.pgsteal_file]! + got;
    }
    return got;
  }

  /** Uncharges page cache freed by the LRU (called by FileLru). */
  fileFreed(owner: number, pages: number): void {
    const cg = this.ownerCg[owner]!;
    if (cg >= 0) this.charge(cg, C.file, -pages);
  }
  /** Compaction moved a frame of `owner` into pageblock `block`: page cache re-enters the LRU there. */
  pageMoved(owner: number, dst: number): void {
    const list = this.ownerFileList[owner]!;
    if (list < 0) return;
    const off = dst & (PAGEBLOCK_PAGES - 1);
    this.fileLru.push(list as 0 | 1, owner, (dst / PAGEBLOCK_PAGES) | 0, 1, off, off);
  }
  /** LRU list of page-cache owners (0 inactive, 1 active), -1 for other owners. */
  readonly ownerFileList = new Int8Array(256).fill(-1);
  /** Cgroup slot charged for an owner's frames (-1 = not charged to a cgroup). */
  readonly ownerCg = new Int32Array(256).fill(-1);

  /**
   * The reclaim priority at which one pass over the file LRU scans at least `target` pages
   * (shrink_lruvec scans lru_size >> priority): DEF_PRIORITY 12 when the LRU is large.
   */
  reclaimPriority(target: number): number {
    const file = this.fileLru.listPages(0) + this.fileLru.listPages(1);
    if (file <= target) return 0;
    return Math.max(0, Math.min(12, Math.floor(Math.log2(file / Math.max(1, target)))));
  }

  /**
   * shrink_slab() calls for priorities 12 down to `lowest` (one reclaim cycle), for the
   * deferred-split shrinker, exactly as do_shrink_slab() sizes them: delta = (freeable >>
   * priority) * 4 / DEFAULT_SEEKS, plus nr_deferred >> priority, scanned in batches of
   * SHRINK_BATCH only once at least a batch (or all objects) is due; the rest is deferred.
   * At DEF_PRIORITY on a large LRU nothing is due, so without real pressure THPs are not
   * split (mech 2.3: "the trigger is reclaim only").
   */
  shrinkSlabSweep(lowest: number): number {
    let freed = 0;
    // shrink_node visits every memcg; the shrinker is memcg-aware (one queue per memcg). Only
    // memcgs that have a queue are visited, in id order.
    const active = this.splitActive;
    for (let i = 0; i < active.length; i++) {
      const cg = active[i]!;
      const q = this.splitQueues[cg]!;
      for (let prio = 12; prio >= lowest; prio--) {
        const n = q.len;
        if (n === 0) {
          this.splitDeferred[cg] = 0;
          break;
        }
        // n and nr are whole numbers below 2^31: x >>> prio is floor(x / 2^prio).
        const delta = (n >>> prio) * 2;
        const nr = this.splitDeferred[cg]!;
        let total = Math.min((nr >>> prio) + delta, 2 * n);
        let scanned = 0;
        while (total >= SHRINK_BATCH || total >= n) {
          const k = Math.min(SHRINK_BATCH, total);
          freed += this.shrinkDeferredSplit(q, k);
          scanned += k;
          total -= k;
          if (k === 0) break;
        }
        this.splitDeferred[cg] = Math.max(0, Math.min(nr + delta - scanned, 2 * q.len));
      }
    }
    return freed;
  }

  /** Direct reclaim by the current task (allocstall): a memory stall. */
  directReclaim(target: number): number {
    this.vm[V.allocstall_normal] = this.vm[V.allocstall_normal]! + 1;
    // do_try_to_free_pages: nr_to_reclaim = SWAP_CLUSTER_MAX, priority from DEF_PRIORITY down.
    this.shrinkSlabSweep(this.reclaimPriority(Math.max(SWAP_CLUSTER_MAX, target)));
    const got = this.reclaim(target, true);
    this.addStallCost(Math.max(got, SWAP_CLUSTER_MAX) * RECLAIM_US_PER_PAGE);
    return got;
  }

  // ------------------------------------------------------------------ page tables

  private installTable(t: Task, v: Vma, r: number): void {
    const got = this.allocSmall(t.ptOwner, 1);
    if (got === 1) {
      this.charge(t.cg, C.pagetables, 1);
      v.regPt[r] = this.phys.lastBlock;
    }
    if (v.regQueued[r] !== 0) this.splitEpoch++;
    v.regState[r] = Region.Pte;
    v.tableRegions++;
  }

  private freeTable(t: Task, v: Vma, r: number): void {
    const got = this.phys.freeOwnerPages(t.ptOwner, 1, v.regPt[r]!, -1);
    this.charge(t.cg, C.pagetables, -got);
    v.regPt[r] = -1;
    v.tableRegions--;
  }

  // ------------------------------------------------------------------ faults

  /**
   * The program writes the pages of region `r` given by the 16-word `mask`. Pages not yet
   * present fault: the PMD path first when the PMD is none, then the PTE path (mTHP orders,
   * then order 0).
   */
  touch(v: Vma, r: number, mask: Uint32Array): void {
    const t = this.tasks[v.task]!;
    this.cur = t.slot;
    const base = r * PAGEBLOCK_WORDS;
    const pres = v.present;
    const nw = this.scratchNew;
    let newCount = 0;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      const x = (mask[w]! & ~pres[base + w]! & v.validMask(r, w)) >>> 0;
      nw[w] = x;
      if (x !== 0) newCount += popcount32(x);
    }
    if (newCount === 0) {
      this.markTouched(v, r, mask);
      return;
    }
    this.beginEvent();
    if (v.regState[r] === Region.None) {
      if (v.pmdSuitable(r) && this.tryPmdFault(t, v, r)) {
        this.markTouched(v, r, mask);
        return;
      }
      this.installTable(t, v, r);
    }
    this.ptePath(t, v, r, newCount);
    this.markTouched(v, r, mask);
  }

  private markTouched(v: Vma, r: number, mask: Uint32Array): void {
    const base = r * PAGEBLOCK_WORDS;
    let added = 0;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      const old = v.touched[base + w]!;
      const nt = (old | (mask[w]! & v.present[base + w]!)) >>> 0;
      if (nt !== old) {
        added += popcount32((nt & ~old) >>> 0);
        v.touched[base + w] = nt;
      }
    }
    if (added > 0) {
      v.regTouched[r] = v.regTouched[r]! + added;
      v.touchedPages += added;
      if (v.regState[r] === Region.Pmd) v.touchedInPmd += added;
    }
  }

  /** The PMD fault path (__do_huge_pmd_anonymous_page / shmem huge folio + do_set_pmd). Returns true when mapped by a PMD. */
  private tryPmdFault(t: Task, v: Vma, r: number): boolean {
    const shmem = v.kind === VmaKind.Shmem;
    const orders = shmem ? this.allowableShmem(t, v, TvaType.Pagefault) & PMD_BIT : this.allowableAnon(t, v, TvaType.Pagefault, PMD_BIT);
    // Callers of thp_vma_allowable_order() treat any non-zero result as "yes" (kif 2.6, v7 row).
    if (orders === 0) return false;
    this.setFaultGfp(v);
    const b = this.allocHigh(v.owner, PMD_ORDER);
    if (b < 0) {
      this.countHugeFallback(shmem, PMD_ORDER, false);
      return false;
    }
    if (!this.chargeFits(t, PAGEBLOCK_PAGES)) {
      this.phys.freeHugeBlock(b);
      this.countHugeFallback(shmem, PMD_ORDER, true);
      return false;
    }
    // x86-64 deposits a page table with every anonymous THP (pgtable_trans_huge_deposit).
    this.installTable(t, v, r);
    this.mapPmd(t, v, r, b, TvaType.Pagefault);
    if (shmem) {
      this.vm[V.thp_file_alloc] = this.vm[V.thp_file_alloc]! + 1;
      this.vm[V.thp_file_mapped] = this.vm[V.thp_file_mapped]! + 1;
      this.mthpInc(PMD_ORDER, M.shmem_alloc);
    } else {
      this.vm[V.thp_fault_alloc] = this.vm[V.thp_fault_alloc]! + 1;
      this.mthpInc(PMD_ORDER, M.anon_fault_alloc);
      this.cgEvent(t.cg, C.thp_fault_alloc, 1);
    }
    this.endFault(t, BASE_FAULT_OVERHEAD_US + this.zeroHugeUs);
    return true;
  }

  private countHugeFallback(shmem: boolean, order: number, charge: boolean): void {
    if (shmem) {
      if (order === PMD_ORDER) {
        this.vm[V.thp_file_fallback] = this.vm[V.thp_file_fallback]! + 1;
        if (charge) this.vm[V.thp_file_fallback_charge] = this.vm[V.thp_file_fallback_charge]! + 1;
      }
      this.mthpInc(order, M.shmem_fallback);
      if (charge) this.mthpInc(order, M.shmem_fallback_charge);
      return;
    }
    // vmstat thp_fault_* count the PMD size only; mTHP sizes have only the per-size stats (kif 5.5).
    if (order === PMD_ORDER) {
      this.vm[V.thp_fault_fallback] = this.vm[V.thp_fault_fallback]! + 1;
      if (charge) this.vm[V.thp_fault_fallback_charge] = this.vm[V.thp_fault_fallback_charge]! + 1;
    }
    this.mthpInc(order, M.anon_fault_fallback);
    if (charge) this.mthpInc(order, M.anon_fault_fallback_charge);
  }

  /** Maps region r with the order-9 folio in pageblock b (fault or collapse). */
  private mapPmd(t: Task, v: Vma, r: number, b: number, tva: TvaType): void {
    const base = r * PAGEBLOCK_WORDS;
    v.present.fill(0xffffffff, base, base + PAGEBLOCK_WORDS);
    const before = v.regPresent[r]!;
    v.presentPages += PAGEBLOCK_PAGES - before;
    v.physPages += PAGEBLOCK_PAGES;
    v.regPresent[r] = PAGEBLOCK_PAGES;
    if (v.regQueued[r] !== 0) this.splitEpoch++;
    v.regState[r] = Region.Pmd;
    v.regThp[r] = b;
    v.pmdRegions++;
    v.touchedInPmd += v.regTouched[r]!;
    if (v.kind === VmaKind.Shmem) {
      this.charge(t.cg, C.shmem, PAGEBLOCK_PAGES);
      this.charge(t.cg, C.shmem_thp, 1);
    } else {
      this.charge(t.cg, C.anon, PAGEBLOCK_PAGES);
      this.charge(t.cg, C.anon_thp, 1);
      this.mthpInc(PMD_ORDER, M.nr_anon);
      // Since 6.12 every anonymous THP goes on the deferred-split list (underused detection).
      this.queueSplit(v, r);
    }
    if (this.trace !== null) {
      this.trace({ task: t.slot, vma: v.name, shmem: v.kind === VmaKind.Shmem, order: PMD_ORDER, tva, advice: v.advice, disable: t.disable, sysfs: this.sysfs });
    }
  }

  /** The PTE fault path: mTHP orders (alloc_anon_folio / shmem small folios) then order 0. */
  private ptePath(t: Task, v: Vma, r: number, newCount: number): void {
    const shmem = v.kind === VmaKind.Shmem;
    let orders = 0;
    if (shmem) {
      orders = this.allowableShmem(t, v, TvaType.Pagefault) & (PMD_BIT - 1);
    } else {
      orders = this.allowableAnon(t, v, TvaType.Pagefault, PMD_BIT - 1) & (PMD_BIT - 1);
      // The kernel consults the hook on every 4K fault here; the sim asks once per batch.
      if (this.hook !== null) this.hookEquivalentCalls += Math.max(0, newCount - 1);
    }
    // Next to a PTE-mapped THP waiting for its split the model places base pages only: it counts
    // the region's extra frames but not which pages they map, so it cannot split the THP later
    // and keep a partly written mTHP folio mapped.
    if (orders === 0 || v.regThp[r]! >= 0) {
      this.baseBatch(t, v, r, this.scratchNew, newCount);
      return;
    }
    this.setFaultGfp(v);
    this.mthpWalk(t, v, r, orders, shmem);
  }

  /** Allocates and maps the pages in `bits` (16 words) of region r as order-0 folios. */
  private baseBatch(t: Task, v: Vma, r: number, bits: Uint32Array, n: number): void {
    if (!this.chargeFits(t, n)) {
      t.failedPages += n;
      if (this.evLat > 0) this.endFault(t, 0);
      return;
    }
    const got = this.allocSmall(v.owner, n);
    if (got > 0) v.regHome[r] = this.phys.lastBlock;
    const base = r * PAGEBLOCK_WORDS;
    let left = got;
    for (let w = 0; w < PAGEBLOCK_WORDS && left > 0; w++) {
      let x = bits[w]!;
      if (x === 0) continue;
      const c = popcount32(x);
      if (c > left) {
        let keep = 0;
        while (left > 0) {
          const lb = x & -x;
          keep |= lb;
          x &= x - 1;
          left--;
        }
        x = keep >>> 0;
      } else {
        left -= c;
      }
      v.present[base + w] = (v.present[base + w]! | x) >>> 0;
    }
    v.regPresent[r] = v.regPresent[r]! + got;
    v.presentPages += got;
    v.physPages += got;
    if (v.regThp[r]! >= 0) v.regExtra[r] = v.regExtra[r]! + got;
    this.charge(t.cg, v.kind === VmaKind.Shmem ? C.shmem : C.anon, got);
    if (got < n) t.failedPages += n - got;
    if (got > 0) {
      // The first fault carries any cost left from a failed THP attempt (same page fault).
      this.endFault(t, BASE_FAULT_OVERHEAD_US + ZERO_4K_US);
      this.baseFaults(t, got - 1);
    } else if (this.evLat > 0) {
      this.endFault(t, 0);
    }
  }

  /** alloc_anon_folio(): per fault, the highest suitable order whose PTEs are all none, falling back order by order. */
  private mthpWalk(t: Task, v: Vma, r: number, orders: number, shmem: boolean): void {
    const base = r * PAGEBLOCK_WORDS;
    const nw = this.scratchNew;
    let zeroCount = 0;
    // Walk pages in address order; nw holds the pages still to fault.
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      while (nw[w] !== 0) {
        const bitIdx = 31 - Math.clz32(nw[w]! & -nw[w]!);
        const page = w * 32 + bitIdx; // index inside the region
        let done = false;
        let o = highestOrder(orders);
        while (o >= 1 && !done) {
          if (((orders >>> o) & 1) === 0) {
            o--;
            continue;
          }
          const size = 1 << o;
          const start = page & ~(size - 1);
          if (r * PAGEBLOCK_PAGES + start + size <= v.nPages && this.rangeNone(v, base, start, size)) {
            const first = this.allocHigh(v.owner, o);
            if (first >= 0 && this.chargeFits(t, size)) {
              this.mapSmallFolio(t, v, r, start, size, o);
              this.endFault(t, BASE_FAULT_OVERHEAD_US + size * PAGE_SIZE * this.zeroPerByteUs);
              done = true;
            } else {
              if (first >= 0) this.phys.freeInBlock(v.owner, (first / PAGEBLOCK_PAGES) | 0, size);
              this.countHugeFallback(shmem, o, first >= 0);
            }
          }
          o--;
        }
        if (done) {
          // Pages of the new folio are present now; drop them from the to-fault set.
          for (let ww = 0; ww < PAGEBLOCK_WORDS; ww++) nw[ww] = (nw[ww]! & ~v.present[base + ww]!) >>> 0;
        } else {
          // Falls back to order 0: leave it in a second pass.
          nw[w] = (nw[w]! & ~(1 << bitIdx)) >>> 0;
          this.zeroBits[w] = (this.zeroBits[w]! | (1 << bitIdx)) >>> 0;
          zeroCount++;
        }
      }
    }
    if (zeroCount > 0) {
      this.baseBatch(t, v, r, this.zeroBits, zeroCount);
      this.zeroBits.fill(0);
    } else if (this.evLat > 0) {
      this.endFault(t, 0);
    }
  }
  private readonly zeroBits = new Uint32Array(PAGEBLOCK_WORDS);

  private rangeNone(v: Vma, base: number, start: number, size: number): boolean {
    if (size >= 32) {
      for (let w = start >>> 5; w < (start + size) >>> 5; w++) if (v.present[base + w] !== 0) return false;
      return true;
    }
    const w = start >>> 5;
    const m = (((1 << size) - 1) << (start & 31)) >>> 0;
    return (v.present[base + w]! & m) === 0;
  }

  private mapSmallFolio(t: Task, v: Vma, r: number, start: number, size: number, order: number): void {
    const base = r * PAGEBLOCK_WORDS;
    if (size >= 32) {
      for (let w = start >>> 5; w < (start + size) >>> 5; w++) v.present[base + w] = 0xffffffff;
    } else {
      const w = start >>> 5;
      v.present[base + w] = (v.present[base + w]! | ((((1 << size) - 1) << (start & 31)) >>> 0)) >>> 0;
    }
    v.regPresent[r] = v.regPresent[r]! + size;
    v.presentPages += size;
    v.physPages += size;
    v.regMthp[r] = v.regMthp[r]! + size;
    v.regMthpOrd[r] = order;
    v.mthpPages += size;
    const shmem = v.kind === VmaKind.Shmem;
    this.charge(t.cg, shmem ? C.shmem : C.anon, size);
    if (shmem) this.mthpInc(order, M.shmem_alloc);
    else {
      this.mthpInc(order, M.anon_fault_alloc);
      this.mthpInc(order, M.nr_anon);
    }
    if (this.trace !== null) {
      this.trace({ task: t.slot, vma: v.name, shmem, order, tva: TvaType.Pagefault, advice: v.advice, disable: t.disable, sysfs: this.sysfs });
    }
  }

  // ------------------------------------------------------------------ unmapping

  /**
   * MADV_DONTNEED (unmap = false) or munmap (unmap = true) of the pages in `mask` of region r
   * (null = the whole region). A PMD-mapped THP zapped entirely is freed and the PMD becomes
   * none; zapped partly, the PMD is split and the THP waits for the deferred split. Page
   * tables are freed only when the whole region is unmapped, or with a zapped PMD.
   */
  zapRegion(v: Vma, r: number, mask: Uint32Array | null, unmap: boolean): void {
    const t = this.tasks[v.task]!;
    const state = v.regState[r]!;
    if (state === Region.None) return;
    if (v.regQueued[r] !== 0) this.splitEpoch++;
    const base = r * PAGEBLOCK_WORDS;
    const full = mask === null || this.coversRegion(v, r, mask);
    if (state === Region.Pmd) {
      if (full) {
        this.dropThpMapping(t, v, r);
        this.phys.freeHugeBlock(v.regThp[r]!);
        this.uncharge(t, v, PAGEBLOCK_PAGES);
        v.physPages -= PAGEBLOCK_PAGES;
        v.regThp[r] = -1;
        v.regQueued[r] = 0;
        this.freeTable(t, v, r);
        v.regState[r] = Region.None;
        v.present.fill(0, base, base + PAGEBLOCK_WORDS);
        v.touched.fill(0, base, base + PAGEBLOCK_WORDS);
        v.presentPages -= PAGEBLOCK_PAGES;
        v.touchedPages -= v.regTouched[r]!;
        v.regPresent[r] = 0;
        v.regTouched[r] = 0;
        return;
      }
      // __split_huge_pmd: the THP stays allocated, now PTE-mapped and partially mapped.
      this.vm[V.thp_split_pmd] = this.vm[V.thp_split_pmd]! + 1;
      v.pmdRegions--;
      v.touchedInPmd -= v.regTouched[r]!;
      v.regState[r] = Region.Pte;
      v.regExtra[r] = 0;
      if (v.kind === VmaKind.Anon) {
        this.vm[V.thp_deferred_split_page] = this.vm[V.thp_deferred_split_page]! + 1;
        this.mthpInc(PMD_ORDER, M.split_deferred);
        this.mthpInc(PMD_ORDER, M.nr_anon_partially_mapped);
        this.queueSplit(v, r);
      }
    }
    // PTE-mapped: clear the zapped pages.
    let zapped = 0;
    let zappedTouched = 0;
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      const m = mask === null ? 0xffffffff : mask[w]!;
      const hit = (v.present[base + w]! & m) >>> 0;
      if (hit !== 0) {
        zapped += popcount32(hit);
        v.present[base + w] = (v.present[base + w]! & ~hit) >>> 0;
      }
      const th = (v.touched[base + w]! & m) >>> 0;
      if (th !== 0) {
        zappedTouched += popcount32(th);
        v.touched[base + w] = (v.touched[base + w]! & ~th) >>> 0;
      }
    }
    const presentBefore = v.regPresent[r]!;
    v.regPresent[r] = presentBefore - zapped;
    v.presentPages -= zapped;
    v.regTouched[r] = v.regTouched[r]! - zappedTouched;
    v.touchedPages -= zappedTouched;
    if (zapped > 0) {
      if (v.regThp[r]! >= 0) {
        // Pages of the split-pending THP are only unmapped; base pages added since are freed.
        const extra = v.regExtra[r]!;
        const freedExtra = presentBefore > 0 ? Math.min(extra, Math.floor((zapped * extra) / presentBefore)) : 0;
        if (freedExtra > 0) {
          const got = this.phys.freeOwnerPages(v.owner, freedExtra, v.regHome[r]!, -1);
          v.regExtra[r] = extra - freedExtra;
          v.physPages -= got;
          this.uncharge(t, v, got);
        }
        if (v.regPresent[r] - v.regExtra[r]! <= 0) {
          // The last mapping of the THP is gone: the folio is freed whole.
          this.dropThpMapping(t, v, r);
          this.phys.freeHugeBlock(v.regThp[r]!);
          v.physPages -= PAGEBLOCK_PAGES;
          this.uncharge(t, v, PAGEBLOCK_PAGES);
          v.regThp[r] = -1;
          v.regQueued[r] = 0;
          if (v.kind === VmaKind.Anon) this.mthpInc(PMD_ORDER, M.nr_anon_partially_mapped, -1);
        }
      } else {
        if (v.regMthp[r]! > 0) this.zapMthp(v, r, zapped, presentBefore);
        const got = this.phys.freeOwnerPages(v.owner, zapped, v.regHome[r]!, -1);
        v.physPages -= got;
        this.uncharge(t, v, got);
      }
    }
    if (unmap && full) {
      this.freeTable(t, v, r);
      v.regState[r] = Region.None;
    }
  }

  /** Zapping part of an mTHP folio queues it for deferred split; the sim splits it at once (docs). */
  private zapMthp(v: Vma, r: number, zapped: number, presentBefore: number): void {
    const ord = v.regMthpOrd[r]!;
    const inMthp = Math.min(v.regMthp[r]!, Math.round((zapped * v.regMthp[r]!) / Math.max(1, presentBefore)));
    if (inMthp <= 0) return;
    const folios = Math.ceil(inMthp / (1 << ord));
    if (v.kind === VmaKind.Anon) {
      this.mthpInc(ord, M.split_deferred, folios);
      this.mthpInc(ord, M.split, folios);
      this.mthpInc(ord, M.nr_anon, -folios);
    }
    const pagesOut = Math.min(v.regMthp[r]!, folios << ord);
    v.regMthp[r] = v.regMthp[r]! - pagesOut;
    v.mthpPages -= pagesOut;
  }

  private coversRegion(v: Vma, r: number, mask: Uint32Array): boolean {
    for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
      const valid = v.validMask(r, w);
      if ((mask[w]! & valid) >>> 0 !== valid) return false;
    }
    return true;
  }

  private dropThpMapping(t: Task, v: Vma, r: number): void {
    if (v.regState[r] === Region.Pmd) {
      v.pmdRegions--;
      v.touchedInPmd -= v.regTouched[r]!;
    }
    if (v.kind === VmaKind.Shmem) this.charge(t.cg, C.shmem_thp, -1);
    else {
      this.charge(t.cg, C.anon_thp, -1);
      this.mthpInc(PMD_ORDER, M.nr_anon, -1);
    }
  }

  private uncharge(t: Task, v: Vma, pages: number): void {
    this.charge(t.cg, v.kind === VmaKind.Shmem ? C.shmem : C.anon, -pages);
  }

  // ------------------------------------------------------------------ deferred split / underused shrinker

  private queueSplit(v: Vma, r: number): void {
    const gen = ++this.splitGen >>> 0 || ++this.splitGen;
    v.regQueued[r] = gen;
    this.splitEpoch++;
    const cg = this.tasks[v.task]!.cg;
    let q = this.splitQueues[cg];
    if (q === null || q === undefined) {
      q = new SplitQueue();
      this.splitQueues[cg] = q;
      this.splitActive.push(cg);
      this.splitActive.sort((a, b) => a - b);
    }
    q.push(v.slot, r, gen);
  }

  /** Entries on all deferred-split queues (stale ones included until the shrinker drops them). */
  splitQueueLength(): number {
    let n = 0;
    for (const q of this.splitQueues) if (q !== null) n += q.len;
    return n;
  }

  /** Drops a memcg's deferred-split queue (the cgroup is gone). */
  dropSplitQueue(cg: number): void {
    if (this.splitQueues[cg] !== null) this.splitActive.splice(this.splitActive.indexOf(cg), 1);
    this.splitQueues[cg] = null;
    this.splitDeferred[cg] = 0;
  }

  /**
   * deferred_split_scan(): partially mapped THPs are split (their unmapped subpages freed);
   * with shrink_underused, fully mapped THPs with more than max_ptes_none zero-filled subpages
   * are split and those subpages remapped to the zero page (kif 5.4, mech 2.3).
   */
  shrinkDeferredSplit(q: SplitQueue, budget: number): number {
    let freed = 0;
    const n = Math.min(budget, q.len);
    if (q.settledEpoch !== this.splitEpoch) {
      q.settled = 0;
      q.settledEpoch = this.splitEpoch;
    } else if (q.settled >= q.len) {
      // Every entry was found still in use and none can have changed since: all stay.
      q.rotate(n);
      return 0;
    }
    for (let i = 0; i < n; i++) {
      if (!q.pop()) break;
      const v = this.vmas[q.outVma];
      const r = q.outRegion;
      if (v === null || v === undefined || r >= v.nRegions || v.regQueued[r] !== q.outGen || v.regThp[r]! < 0) continue;
      const t = this.tasks[v.task]!;
      const b = v.regThp[r]!;
      if (v.regState[r] === Region.Pte) {
        // Partially mapped: split; unmapped subpages are freed and, since 6.12, zero-filled
        // mapped subpages are remapped to the shared zero page and freed too (b1f202060afe).
        const extra = v.regExtra[r]!;
        const keep = Math.max(0, v.regTouched[r]! - extra);
        const drop = PAGEBLOCK_PAGES - keep;
        this.phys.splitHugeBlock(b);
        const got = this.phys.freeInBlock(v.owner, b, drop);
        const base = r * PAGEBLOCK_WORDS;
        for (let w = 0; w < PAGEBLOCK_WORDS; w++) v.present[base + w] = v.touched[base + w]!;
        v.presentPages -= v.regPresent[r]! - v.regTouched[r]!;
        v.regPresent[r] = v.regTouched[r]!;
        v.physPages -= got;
        this.uncharge(t, v, got);
        freed += got;
        this.charge(t.cg, C.anon_thp, -1);
        this.mthpInc(PMD_ORDER, M.nr_anon, -1);
        this.mthpInc(PMD_ORDER, M.nr_anon_partially_mapped, -1);
        this.mthpInc(PMD_ORDER, M.split);
        this.vm[V.thp_split_page] = this.vm[V.thp_split_page]! + 1;
        v.regThp[r] = -1;
        v.regExtra[r] = 0;
        v.regQueued[r] = 0;
        v.regHome[r] = b;
        continue;
      }
      const zeroFilled = PAGEBLOCK_PAGES - v.regTouched[r]!;
      if (this.sysfs.shrink_underused === 1 && zeroFilled > this.sysfs.khugepaged.max_ptes_none) {
        // Underused: split, remap zero-filled subpages to the shared zero page, free them.
        this.dropThpMapping(t, v, r);
        this.phys.splitHugeBlock(b);
        const got = this.phys.freeInBlock(v.owner, b, zeroFilled);
        const base = r * PAGEBLOCK_WORDS;
        for (let w = 0; w < PAGEBLOCK_WORDS; w++) v.present[base + w] = v.touched[base + w]!;
        v.regPresent[r] = v.regTouched[r]!;
        v.presentPages -= zeroFilled;
        v.physPages -= got;
        this.uncharge(t, v, got);
        freed += got;
        v.regState[r] = Region.Pte;
        v.regThp[r] = -1;
        v.regQueued[r] = 0;
        v.regHome[r] = b;
        this.vm[V.thp_split_pmd] = this.vm[V.thp_split_pmd]! + 1;
        this.vm[V.thp_split_page] = this.vm[V.thp_split_page]! + 1;
        this.vm[V.thp_underused_split_page] = this.vm[V.thp_underused_split_page]! + 1;
        this.mthpInc(PMD_ORDER, M.split);
        continue;
      }
      // Still in use: stays on the queue, behind the other settled entries.
      q.push(v.slot, r, q.outGen);
      if (q.settled < q.len) q.settled++;
    }
    return freed;
  }

  // ------------------------------------------------------------------ collapse (khugepaged, MADV_COLLAPSE)

  /**
   * Collapses region r into a PMD THP (collapse_huge_page / collapse_file). Returns 1 on
   * success, 0 when the memcg charge failed, -1 when the huge page allocation failed.
   */
  collapse(t: Task, v: Vma, r: number, tva: TvaType): number {
    this.setCollapseGfp();
    this.beginEvent();
    const b = this.allocHigh(v.owner, PMD_ORDER);
    this.lastCollapseAllocUs = this.evLat;
    const kthreadStall = this.evStall;
    if (this.cur < 0) this.kthreadStallUs += kthreadStall;
    else {
      const ct = this.tasks[this.cur];
      if (ct) ct.memstallUs += kthreadStall;
    }
    this.evLat = 0;
    this.evStall = 0;
    if (b < 0) {
      this.vm[V.thp_collapse_alloc_failed] = this.vm[V.thp_collapse_alloc_failed]! + 1;
      return -1;
    }
    const present = v.regPresent[r]!;
    const oldPhys = v.regThp[r]! >= 0 ? PAGEBLOCK_PAGES + v.regExtra[r]! : present;
    if (!this.chargeFits(t, PAGEBLOCK_PAGES)) {
      this.phys.freeHugeBlock(b);
      return 0;
    }
    // Free the old frames.
    if (v.regThp[r]! >= 0) {
      const old = v.regThp[r]!;
      this.dropThpMapping(t, v, r);
      this.phys.freeHugeBlock(old);
      if (v.regExtra[r]! > 0) this.phys.freeOwnerPages(v.owner, v.regExtra[r]!, v.regHome[r]!, -1);
      if (v.kind === VmaKind.Anon) this.mthpInc(PMD_ORDER, M.nr_anon_partially_mapped, -1);
      v.regExtra[r] = 0;
    } else if (present > 0) {
      if (v.regMthp[r]! > 0) {
        const ord = v.regMthpOrd[r]!;
        if (v.kind === VmaKind.Anon) this.mthpInc(ord, M.nr_anon, -(v.regMthp[r]! >> ord));
        v.mthpPages -= v.regMthp[r]!;
        v.regMthp[r] = 0;
      }
      this.phys.freeOwnerPages(v.owner, present, v.regHome[r]!, -1);
    }
    v.physPages -= oldPhys;
    this.uncharge(t, v, oldPhys);
    v.regState[r] = Region.Pte; // mapPmd switches it to PMD
    this.mapPmd(t, v, r, b, tva);
    this.vm[V.thp_collapse_alloc] = this.vm[V.thp_collapse_alloc]! + 1;
    this.cgEvent(t.cg, C.thp_collapse_alloc, 1);
    if (v.kind === VmaKind.Shmem) this.vm[V.thp_file_mapped] = this.vm[V.thp_file_mapped]! + 1;
    return 1;
  }

  /** Allocation (and compaction) time of the last collapse, µs. */
  lastCollapseAllocUs = 0;

  // ------------------------------------------------------------------ page cache and slab

  /** Reads `pages` of file data into the page cache of task t (hot = re-read working set). */
  fileRead(t: Task, hot: boolean, pages: number): number {
    if (pages <= 0) return 0;
    const o = hot ? t.fileHotOwner : t.fileColdOwner;
    if (!this.chargeFits(t, pages)) {
      t.failedPages += pages;
      return 0;
    }
    this.phys.resetChunkLog();
    const got = this.allocSmall(o, pages);
    const ph = this.phys;
    for (let i = 0; i < ph.chunkN; i++) this.fileLru.push(hot ? 1 : 0, o, ph.chunkBlock[i]!, ph.chunkCount[i]!, ph.chunkLo[i]!, ph.chunkHi[i]!);
    this.charge(t.cg, C.file, got);
    return got;
  }

  /** Reads of evicted working-set pages (workingset_refault_file). */
  recordRefaults(t: Task, pages: number): void {
    this.vm[V.workingset_refault_file] = this.vm[V.workingset_refault_file]! + pages;
    this.cgEvent(t.cg, C.workingset_refault_file, pages);
  }

  slabAlloc(reclaimable: boolean, pages: number): number {
    const got = this.allocSmall(reclaimable ? this.slabReclaimable : this.slabUnmovable, pages);
    this.charge(0, C.slab, got);
    return got;
  }

  slabFree(reclaimable: boolean, pages: number): number {
    // Objects die independently: free a few pages in a pageblock picked a random number of the
    // pool's blocks further along (cheaper than a random address, same scatter).
    const o = reclaimable ? this.slabReclaimable : this.slabUnmovable;
    this.phys.skipOwnerBlocks(o, this.rng.int(16));
    const got = this.phys.freeOwnerPages(o, pages, -1, -1);
    this.charge(0, C.slab, -got);
    return got;
  }

  // ------------------------------------------------------------------ self check

  /** Consistency checks used by the property tests: returns every violation found. */
  checkInvariants(): string[] {
    const errs: string[] = [];
    const ph = this.phys;
    let free = 0;
    const counts = new Int32Array(256);
    for (let b = 0; b < ph.nPb; b++) {
      let blockFree = 0;
      let pinned = 0;
      for (let p = b * PAGEBLOCK_PAGES; p < (b + 1) * PAGEBLOCK_PAGES; p++) {
        const o = ph.ownerOf(p);
        const bit = (ph.used[p >>> 5]! >>> (p & 31)) & 1;
        if ((o === 0) !== (bit === 0)) {
          errs.push(`frame ${p}: owner ${o} but used bit ${bit}`);
          if (errs.length > 20) return errs;
        }
        if (o === 0) blockFree++;
        else {
          counts[o] = counts[o]! + 1;
          if (ph.ownerMovable[o] === 0) pinned++;
        }
      }
      if (blockFree !== ph.pbFree[b]) errs.push(`pageblock ${b}: ${blockFree} free frames, counter says ${ph.pbFree[b]}`);
      if (pinned !== ph.pbPinned[b]) errs.push(`pageblock ${b}: ${pinned} pinned frames, counter says ${ph.pbPinned[b]}`);
      if (ph.pbHuge[b] === 1) {
        const o = ph.ownerOf(b * PAGEBLOCK_PAGES);
        for (let p = b * PAGEBLOCK_PAGES; p < (b + 1) * PAGEBLOCK_PAGES; p++) {
          if (ph.ownerOf(p) !== o) {
            errs.push(`huge pageblock ${b}: frame ${p} owned by ${ph.ownerOf(p)}, not ${o}`);
            break;
          }
        }
      }
      free += blockFree;
    }
    if (free !== ph.freePages) errs.push(`free frames ${free} != freePages ${ph.freePages}`);
    errs.push(...ph.checkStructures());
    let owned = 0;
    for (let o = 1; o < 256; o++) {
      owned += counts[o]!;
      if (counts[o] !== ph.ownerPages[o]) errs.push(`owner ${o}: ${counts[o]} frames, counter says ${ph.ownerPages[o]}`);
    }
    if (owned + free !== ph.nPages) errs.push(`pages not conserved: ${owned} owned + ${free} free != ${ph.nPages}`);
    for (const v of this.vmas) {
      if (v === null) continue;
      if (counts[v.owner] !== v.physPages) errs.push(`VMA ${v.name}: owns ${counts[v.owner]} frames, accounting says ${v.physPages}`);
      let present = 0;
      let touched = 0;
      let pmd = 0;
      let tables = 0;
      let expectedFrames = 0;
      for (let r = 0; r < v.nRegions; r++) {
        const base = r * PAGEBLOCK_WORDS;
        let rp = 0;
        let rt = 0;
        for (let w = 0; w < PAGEBLOCK_WORDS; w++) {
          const pw = v.present[base + w]!;
          const tw = v.touched[base + w]!;
          if ((tw & ~pw) >>> 0 !== 0) errs.push(`VMA ${v.name} region ${r}: touched pages not present (RSS below touched)`);
          rp += popcount32(pw);
          rt += popcount32(tw);
        }
        if (rp !== v.regPresent[r]) errs.push(`VMA ${v.name} region ${r}: ${rp} present bits, counter ${v.regPresent[r]}`);
        if (rt !== v.regTouched[r]) errs.push(`VMA ${v.name} region ${r}: ${rt} touched bits, counter ${v.regTouched[r]}`);
        present += rp;
        touched += rt;
        if (v.regState[r] === Region.Pmd) {
          pmd++;
          const b = v.regThp[r]!;
          if (b < 0 || ph.pbHuge[b] !== 1 || ph.ownerOf(b * PAGEBLOCK_PAGES) !== v.owner) errs.push(`VMA ${v.name} region ${r}: PMD-mapped without its huge pageblock`);
        }
        if (v.regState[r] !== Region.None) tables++;
        // Frames a region holds: its order-9 folio plus base pages faulted after a PMD split, or one per mapped page.
        expectedFrames += v.regThp[r]! >= 0 ? PAGEBLOCK_PAGES + v.regExtra[r]! : rp;
        if (v.regThp[r]! >= 0 && v.regState[r] === Region.None) errs.push(`VMA ${v.name} region ${r}: THP without a mapping`);
      }
      if (present !== v.presentPages) errs.push(`VMA ${v.name}: present ${present} != counter ${v.presentPages}`);
      if (touched !== v.touchedPages) errs.push(`VMA ${v.name}: touched ${touched} != counter ${v.touchedPages}`);
      if (pmd !== v.pmdRegions) errs.push(`VMA ${v.name}: ${pmd} PMD regions != counter ${v.pmdRegions}`);
      if (tables !== v.tableRegions) errs.push(`VMA ${v.name}: ${tables} regions with tables != counter ${v.tableRegions}`);
      if (v.physPages < v.presentPages) errs.push(`VMA ${v.name}: frames ${v.physPages} below mapped pages ${v.presentPages}`);
      if (expectedFrames !== v.physPages) errs.push(`VMA ${v.name}: holds ${v.physPages} frames, its mappings account for ${expectedFrames} (leak or double free)`);
    }
    for (const t of this.tasks) {
      if (t === null) continue;
      let tables = 0;
      for (const v of t.vmas) tables += v.tableRegions;
      if (counts[t.ptOwner] !== tables) errs.push(`task ${t.name}: ${counts[t.ptOwner]} page-table frames for ${tables} tables`);
    }
    // Per-cgroup charges must match the frames of the cgroup's owners (leaf cgroups).
    for (const t of this.tasks) {
      if (t === null) continue;
      let anon = 0;
      let shmem = 0;
      for (const v of t.vmas) {
        if (v.kind === VmaKind.Shmem) shmem += v.physPages;
        else anon += v.physPages;
      }
      const k = t.cg * CGROUP_STAT_COUNT;
      const sameCg = this.tasks.filter((x) => x !== null && x.cg === t.cg).length;
      if (sameCg === 1) {
        if (this.cgStat[k + C.anon] !== anon) errs.push(`cgroup of ${t.name}: anon charge ${this.cgStat[k + C.anon]} != ${anon} frames`);
        if (this.cgStat[k + C.shmem] !== shmem) errs.push(`cgroup of ${t.name}: shmem charge ${this.cgStat[k + C.shmem]} != ${shmem} frames`);
        const file = counts[t.fileHotOwner]! + counts[t.fileColdOwner]!;
        if (this.cgStat[k + C.file] !== file) errs.push(`cgroup of ${t.name}: file charge ${this.cgStat[k + C.file]} != ${file} frames`);
      }
    }
    return errs;
  }
}

