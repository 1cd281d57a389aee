/**
 * The simulated workloads. Each one owns VMAs in its own process and cgroup and, every tick,
 * does to its memory what the real program does (grow, touch sparsely, release, re-read
 * files); the kernel decides how that memory is backed. Performance then follows from the
 * backing through the perf model in node.ts: CPU time per operation plus translation cost
 * (TLB model) plus the time the kernel made the threads wait (faults, compaction, reclaim).
 *
 * Sizes are given for a 64 GiB node; `scale` multiplies every size and memory rate.
 */
import {
  VmaAdvice as VmaAdvice_,
} from '@thp-fleet/policy';
import {
  GIB as GIB_,
  MIB as MIB_,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_,
  PAGE_SIZE as PAGE_SIZE_,
} from './constants.js';
import type { Kernel, Task } from './kernel.js';
import type { MemOps } from './memops.js';
import type { Rng } from './rng.js';
import {
  VmaKind as VmaKind_,
  type Vma,
} from './vma.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const VmaAdvice = VmaAdvice_;
const VmaKind = VmaKind_;
const GIB = GIB_;
const MIB = MIB_;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_;
const PAGE_SIZE = PAGE_SIZE_;

export const WORKLOAD_KINDS = ['zgc-jvm', 'tcmalloc-svc', 'kv-store', 'latency-svc', 'batch-pagecache', 'tlb-analytics'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export interface WorkloadSpec {
  readonly kind: WorkloadKind;
  /** Unique on the node; default = kind. Used in the default cgroup path. */
  readonly name?: string;
  /** cgroup v2 path; default `/workloads.slice/<name>`. */
  readonly cgroup?: string;
  /** Multiplies every size and memory rate (1 = sized for a 64 GiB node). */
  readonly scale?: number;
  /** Worker threads (also the PSI task count). */
  readonly threads?: number;
  /** prctl(PR_SET_THP_DISABLE): 'completely' or 'except-advised'. */
  readonly thpDisable?: 'none' | 'completely' | 'except-advised';
  /** memory.max of the workload's cgroup in bytes. */
  readonly memoryMax?: number;
  /** Overrides of the kind's parameters (see WORKLOAD_DEFAULTS). */
  readonly params?: Readonly<Record<string, number>>;
}

/** Everything a model needs each tick. */
export interface WorkloadCtx {
  readonly k: Kernel;
  readonly task: Task;
  readonly ops: MemOps;
  readonly rng: Rng;
  readonly scale: number;
}

/** Performance-relevant description of a model, read by the perf engine. */
export interface PerfShape {
  /** Open loop: requests arrive at `arrivalRate`; closed loop: threads run flat out. */
  readonly openLoop: boolean;
  readonly arrivalRate: number;
  readonly cpuUsPerOp: number;
  readonly tlbAccessesPerOp: number;
  /** Coefficient of variation of the per-request service time (log-normal). */
  readonly serviceCv: number;
  /** Unit of one operation, for display. */
  readonly unit: string;
}

export abstract class WorkloadModel {
  abstract readonly kind: WorkloadKind;
  abstract readonly shape: PerfShape;
  readonly p: Record<string, number>;

  constructor(defaults: Readonly<Record<string, number>>, overrides: Readonly<Record<string, number>> | undefined, where: string) {
    const p: Record<string, number> = { ...defaults };
    for (const [key, value] of Object.entries(overrides ?? {})) {
      if (!(key in defaults)) throw new Error(`${where}.params.${key}: unknown parameter (known: ${Object.keys(defaults).join(', ')})`);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${where}.params.${key}: ${String(value)} is not a finite number >= 0`);
      p[key] = value;
    }
    this.p = p;
  }

  abstract setup(ctx: WorkloadCtx): void;
  /** Memory activity of one tick, before performance is computed. */
  abstract memoryTick(ctx: WorkloadCtx, dtMs: number, nowMs: number): void;
  /** Extra time per operation outside CPU and TLB (e.g. I/O), µs. */
  extraOpUs(_ctx: WorkloadCtx): number {
    return 0;
  }
  /** Memory activity that depends on the operations done in the tick (e.g. reads). */
  afterOps(_ctx: WorkloadCtx, _ops: number, _dtMs: number): void {}
  /** Multiplier of the open-loop arrival rate at the current time (traffic bursts). */
  arrivalMultiplier(): number {
    return 1;
  }
  /** Kernel (slab/skb) page churn the workload drives, pages per second. */
  kernelChurnPagesPerSec(): number {
    return this.p['kernelChurnPagesPerSec'] ?? 0;
  }
}

const pagesOf = (bytes: number): number => Math.max(1, Math.floor(bytes / PAGE_SIZE));
const regionsOf = (bytes: number): number => Math.max(1, Math.ceil(bytes / (PAGEBLOCK_PAGES * PAGE_SIZE)));

/**
 * Default parameters per kind (64 GiB node). Rates are per second, sizes in MiB/GiB of the
 * node. Sizes are chosen so that the six workloads take ~40 GiB of anonymous and shmem memory
 * with THP off and the page cache fills the rest (model). `cpuUsPerOp` and
 * `tlbAccessesPerOp` are calibrated so that the TLB model (tlb.ts) reproduces published THP
 * gains; see docs/simulator.md "Calibration".
 */
export const WORKLOAD_DEFAULTS: Readonly<Record<WorkloadKind, Readonly<Record<string, number>>>> = {
  'zgc-jvm': {
    heapGiB: 12,
    metaMiB: 256,
    // Heap committed as it grows (ZGC commits on demand), 2 GiB/s until -Xmx is reached (model).
    commitMiBps: 2048,
    // Live set that requests touch at random (model).
    liveFraction: 0.6,
    cpuUsPerOp: 40,
    // 90 random heap references per request: PMD mapping gives ~+10% (Azul: THP +5-15%, mech 3).
    tlbAccessesPerOp: 90,
    serviceCv: 0.5,
    threads: 8,
    // Slab/skb churn the process causes in the kernel, pages/s (model).
    kernelChurnPagesPerSec: 200,
  },
  'tcmalloc-svc': {
    heapVaGiB: 16,
    rssGiB: 5,
    // Demand swing of +-1 GiB over 15 minutes (diurnal-like load, model).
    swingGiB: 1,
    periodSec: 900,
    // Share of releases that return part of a hugepage (subrelease), the rest whole hugepages.
    subreleaseShare: 0.25,
    hotFraction: 0.5,
    cpuUsPerOp: 100,
    // 800 heap references per request: THP gives ~+5-8% (Temeraire: +7.7% RPS, OSDI '21).
    tlbAccessesPerOp: 800,
    serviceCv: 0.6,
    threads: 8,
    kernelChurnPagesPerSec: 300,
  },
  'kv-store': {
    heapVaGiB: 16,
    // 6 GiB of data spread over a 16 GiB heap: ~37% of the heap's pages are written (model).
    dataGiB: 6,
    loadMiBps: 400,
    // Page-level churn only: emptied pages purged, new pages touched; object churn reuses slots.
    churnMiBps: 0.05,
    pagesPerRegionVisit: 8,
    // Redis-like event loop: ~5 µs of CPU per request, 4 random dictionary references.
    cpuUsPerOp: 5,
    tlbAccessesPerOp: 4,
    serviceCv: 0.4,
    arrivalRate: 90000,
    threads: 1,
    kernelChurnPagesPerSec: 800,
  },
  'latency-svc': {
    arenaMiB: 512,
    arenaChurnMiBps: 2,
    extentVaMiB: 8192,
    // Large short-lived buffers: 48 MiB/s mmapped, kept ~20 s, munmapped (model).
    extentMiBps: 48,
    extentLifeSec: 20,
    // Traffic bursts: every ~2 min for 15 s at 2.5x the load (model).
    burstEverySec: 120,
    burstSec: 15,
    burstLoad: 2.5,
    hotFraction: 0.5,
    cpuUsPerOp: 250,
    tlbAccessesPerOp: 20,
    serviceCv: 0.5,
    // 12k req/s over 16 workers: ~20% utilisation outside bursts.
    arrivalRate: 12000,
    threads: 16,
    // Socket buffers and other slab allocations per second of traffic (model).
    kernelChurnPagesPerSec: 1500,
  },
  'batch-pagecache': {
    // Re-read working set, and the share of reads that stream cold data once (model).
    hotSetGiB: 8,
    coldFraction: 0.35,
    anonMiB: 512,
    // 8 ms of CPU per MiB processed: ~250 MiB/s with two threads (model).
    cpuUsPerOp: 8000,
    // NVMe read cost of a missed MiB (~2.5 GB/s device, model).
    ioUsPerMiB: 400,
    tlbAccessesPerOp: 0,
    serviceCv: 0.3,
    threads: 2,
    // Dentries/inodes created per MiB read, reclaimable slab (model).
    slabKiBPerMiB: 4,
    kernelChurnPagesPerSec: 400,
  },
  'tlb-analytics': {
    dataGiB: 10,
    loadMiBps: 400,
    // A 1 GiB partition is dropped and reloaded every 15 minutes (model).
    reloadEverySec: 900,
    reloadGiB: 1,
    // 1 µs of CPU and 6 random gathers per operation: 4K pages spend ~28% of the time in page
    // walks, PMD pages ~4% (Basu et al., ISCA '13: up to 51% of cycles in TLB misses).
    cpuUsPerOp: 1,
    tlbAccessesPerOp: 6,
    serviceCv: 0.3,
    threads: 8,
    kernelChurnPagesPerSec: 100,
  },
};

function shapeOf(p: Record<string, number>, openLoop: boolean, unit: string): PerfShape {
  return {
    openLoop,
    arrivalRate: p['arrivalRate'] ?? 0,
    cpuUsPerOp: p['cpuUsPerOp']!,
    tlbAccessesPerOp: p['tlbAccessesPerOp']!,
    serviceCv: p['serviceCv']!,
    unit,
  };
}

/** ZGC-style JVM: a shmem (memfd) heap madvised MADV_HUGEPAGE, committed as the heap grows, never released. */
class ZgcJvm extends WorkloadModel {
  readonly kind = 'zgc-jvm' as const;
  readonly shape: PerfShape;
  private heap!: Vma;
  private meta!: Vma;
  private committed = 0;

  constructor(over: Readonly<Record<string, number>> | undefined, where: string) {
    super(WORKLOAD_DEFAULTS['zgc-jvm'], over, where);
    this.shape = shapeOf(this.p, false, 'req');
  }

  setup(ctx: WorkloadCtx): void {
    // -XX:+UseTransparentHugePages makes ZGC madvise the heap mapping (mech 3, OpenJDK ZGC wiki).
    this.heap = ctx.k.createVma(ctx.task, 'heap', VmaKind.Shmem, pagesOf(this.p['heapGiB']! * GIB * ctx.scale), VmaAdvice.Hugepage);
    this.heap.hotFraction = this.p['liveFraction']!;
    this.meta = ctx.k.createVma(ctx.task, 'metaspace', VmaKind.Anon, pagesOf(this.p['metaMiB']! * MIB * ctx.scale), VmaAdvice.None);
  }

  memoryTick(ctx: WorkloadCtx, dtMs: number): void {
    const n = Math.ceil((this.p['commitMiBps']! * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE);
    if (this.committed < this.heap.nPages) {
      const k = Math.min(n, this.heap.nPages - this.committed);
      ctx.ops.touchRange(this.heap, this.committed, k);
      this.committed += k;
    }
    const metaTarget = Math.min(this.meta.nPages, Math.ceil(this.meta.touchedPages + n / 64));
    if (this.meta.touchedPages < this.meta.nPages) ctx.ops.touchRange(this.meta, this.meta.touchedPages, metaTarget - this.meta.touchedPages);
  }
}

/** TCMalloc-style service: dense hugepage-packed heap whose demand swings; releases whole hugepages and sometimes subreleases parts. */
class TcmallocSvc extends WorkloadModel {
  readonly kind = 'tcmalloc-svc' as const;
  readonly shape: PerfShape;
  private heap!: Vma;
  private fill = 0;
  private top = 0;
  private drift = 0;
  private phase = 0;

  constructor(over: Readonly<Record<string, number>> | undefined, where: string) {
    super(WORKLOAD_DEFAULTS['tcmalloc-svc'], over, where);
    this.shape = shapeOf(this.p, false, 'req');
  }

  setup(ctx: WorkloadCtx): void {
    this.heap = ctx.k.createVma(ctx.task, 'heap', VmaKind.Anon, pagesOf(this.p['heapVaGiB']! * GIB * ctx.scale), VmaAdvice.None);
    this.heap.hotFraction = this.p['hotFraction']!;
    this.phase = ctx.rng.float() * 2 * Math.PI;
  }

  memoryTick(ctx: WorkloadCtx, dtMs: number, nowMs: number): void {
    const v = this.heap;
    const p = this.p;
    this.drift += ctx.rng.normal() * 0.01 * Math.sqrt(dtMs / 1000);
    this.drift *= 0.999;
    const targetBytes = (p['rssGiB']! + p['swingGiB']! * Math.sin((2 * Math.PI * nowMs) / 1000 / p['periodSec']! + this.phase) + this.drift) * GIB * ctx.scale;
    const target = Math.min(v.nPages, Math.max(0, Math.floor(targetBytes / PAGE_SIZE)));
    const current = v.touchedPages;
    // Bound the work of one tick (allocation bursts are smoothed over a few ticks).
    const maxStep = Math.ceil((512 * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE);
    if (target > current) {
      let need = Math.min(target - current, maxStep);
      // Temeraire fills the lowest partly used hugepages first (dense packing).
      let guard = 0;
      while (need > 0 && guard++ < 4096) {
        if (this.fill >= v.nRegions) this.fill = 0;
        const r = this.fill;
        const room = v.regionPages(r) - v.regTouched[r]!;
        if (room <= 0) {
          this.fill++;
          continue;
        }
        const start = r * PAGEBLOCK_PAGES + v.regTouched[r]!;
        const k = Math.min(room, need);
        // Fill the holes of the region: write its untouched pages from the lowest.
        if (v.regTouched[r] === 0) ctx.ops.touchRange(v, start, k);
        else ctx.ops.touchHoles(v, r, k);
        need -= k;
        if (r + 1 > this.top) this.top = r + 1;
      }
    } else if (target < current) {
      let excess = Math.min(current - target, maxStep);
      let guard = 0;
      while (excess > 0 && guard++ < 4096) {
        while (this.top > 0 && v.regTouched[this.top - 1] === 0) this.top--;
        if (this.top === 0) break;
        if (ctx.rng.float() < p['subreleaseShare']!) {
          // Subrelease: part of a used hugepage is returned (it breaks the hugepage).
          const r = ctx.rng.int(this.top);
          const have = v.regTouched[r]!;
          if (have === 0) continue;
          const k = Math.min(excess, Math.max(1, Math.floor(have * (0.25 + 0.5 * ctx.rng.float()))));
          excess -= ctx.ops.zapRandomTouched(v, r, k, ctx.rng);
        } else {
          // Release of a whole empty hugepage from the top of the heap.
          const r = this.top - 1;
          const have = v.regTouched[r]!;
          ctx.ops.zapRange(v, r * PAGEBLOCK_PAGES, v.regionPages(r), false);
          excess -= have;
          this.top--;
        }
        if (this.fill > this.top) this.fill = this.top;
      }
      if (this.fill > this.top) this.fill = Math.max(0, this.top - 1);
    }
  }

}

/**
 * Redis-like key-value store: a dataset spread over a large heap (sparse pages), single-threaded
 * event loop. Object-level churn reuses free slots inside resident pages; only a small page-level
 * churn remains: pages that empty out are purged (MADV_DONTNEED) and new pages are touched.
 */
class KvStore extends WorkloadModel {
  readonly kind = 'kv-store' as const;
  readonly shape: PerfShape;
  private heap!: Vma;
  private loaded = false;

  constructor(over: Readonly<Record<string, number>> | undefined, where: string) {
    super(WORKLOAD_DEFAULTS['kv-store'], over, where);
    this.shape = shapeOf(this.p, true, 'req');
  }

  setup(ctx: WorkloadCtx): void {
    this.heap = ctx.k.createVma(ctx.task, 'heap', VmaKind.Anon, pagesOf(this.p['heapVaGiB']! * GIB * ctx.scale), VmaAdvice.None);
  }

  memoryTick(ctx: WorkloadCtx, dtMs: number): void {
    const v = this.heap;
    const p = this.p;
    const dataPages = pagesOf(p['dataGiB']! * GIB * ctx.scale);
    const perVisit = Math.max(1, p['pagesPerRegionVisit']!);
    if (!this.loaded) {
      const n = Math.ceil((p['loadMiBps']! * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE);
      this.insert(ctx, Math.min(n, dataPages - v.touchedPages + perVisit), perVisit);
      if (v.touchedPages >= dataPages) this.loaded = true;
      return;
    }
    const churn = (p['churnMiBps']! * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE;
    // Balanced inserts and deletes, nudged back to the dataset size. Page-level work happens in
    // visits of `perVisit` pages to one region (a purged extent, a new slab).
    const error = (v.touchedPages - dataPages) / Math.max(1, dataPages);
    this.insDue += churn * Math.max(0, 1 - 4 * error);
    this.delDue += churn * Math.max(0, 1 + 4 * error);
    while (this.insDue >= perVisit) {
      this.insert(ctx, perVisit, perVisit);
      this.insDue -= perVisit;
    }
    let guard = 0;
    while (this.delDue >= perVisit && guard++ < 10000) {
      const r = ctx.rng.int(v.nRegions);
      if (v.regTouched[r] === 0) continue;
      ctx.ops.zapRandomTouched(v, r, perVisit, ctx.rng);
      this.delDue -= perVisit;
    }
  }
  private insDue = 0;
  private delDue = 0;

  private insert(ctx: WorkloadCtx, pages: number, perVisit: number): void {
    const v = this.heap;
    let left = pages;
    while (left > 0) {
      const k = Math.min(left, perVisit);
      ctx.ops.touchRandom(v, ctx.rng.int(v.nRegions), k, ctx.rng);
      left -= k;
    }
  }
}

/**
 * Latency-sensitive small-allocation service: a steady arena of small-object slabs with a
 * little scattered churn, plus a stream of short-lived large buffers (1-4 regions, above the
 * malloc mmap threshold) that are mmapped, written, and munmapped when they expire, so their
 * page tables go too and the next buffer faults on pmd_none again. Traffic comes in bursts
 * during which more buffers are in flight.
 */
class LatencySvc extends WorkloadModel {
  readonly kind = 'latency-svc' as const;
  readonly shape: PerfShape;
  private arena!: Vma;
  private extents!: Vma;
  private used!: Uint8Array;
  /** Live extents: start region, length in regions, expiry (ms). */
  private liveStart = new Int32Array(1024);
  private liveLen = new Int32Array(1024);
  private liveEnd = new Float64Array(1024);
  private live = 0;
  private cursor = 0;
  private burstUntil = -1;
  private nextBurst = 0;
  private level = 0;
  private arenaFilled = 0;

  constructor(over: Readonly<Record<string, number>> | undefined, where: string) {
    super(WORKLOAD_DEFAULTS['latency-svc'], over, where);
    this.shape = shapeOf(this.p, true, 'req');
  }

  setup(ctx: WorkloadCtx): void {
    this.arena = ctx.k.createVma(ctx.task, 'arena', VmaKind.Anon, regionsOf(this.p['arenaMiB']! * MIB * ctx.scale) * PAGEBLOCK_PAGES, VmaAdvice.None);
    this.arena.hotFraction = this.p['hotFraction']!;
    this.extents = ctx.k.createVma(ctx.task, 'extents', VmaKind.Anon, regionsOf(this.p['extentVaMiB']! * MIB * ctx.scale) * PAGEBLOCK_PAGES, VmaAdvice.None);
    this.extents.hotFraction = this.p['hotFraction']!;
    this.used = new Uint8Array(this.extents.nRegions);
    this.nextBurst = ctx.rng.exponential(this.p['burstEverySec']! * 1000);
  }

  override arrivalMultiplier(): number {
    return 1 + (this.p['burstLoad']! - 1) * this.level;
  }

  memoryTick(ctx: WorkloadCtx, dtMs: number, nowMs: number): void {
    const p = this.p;
    const rng = ctx.rng;
    if (p['burstEverySec']! > 0 && nowMs >= this.nextBurst && this.burstUntil < nowMs) {
      this.burstUntil = nowMs + p['burstSec']! * 1000;
      this.nextBurst = this.burstUntil + rng.exponential(p['burstEverySec']! * 1000);
    }
    // Load ramps up within ~1 s of a burst starting and decays within ~3 s after it ends.
    const goal = nowMs < this.burstUntil ? 1 : 0;
    const rate = goal > this.level ? dtMs / 1000 : dtMs / 3000;
    this.level += Math.max(-rate, Math.min(rate, goal - this.level));
    // Steady arena: filled at start, then scattered small-object churn.
    const a = this.arena;
    if (this.arenaFilled < a.nPages) {
      const n = Math.min(a.nPages - this.arenaFilled, Math.ceil((512 * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE));
      ctx.ops.touchRange(a, this.arenaFilled, n);
      this.arenaFilled += n;
    } else {
      const churn = rng.roundStochastic((p['arenaChurnMiBps']! * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE / 8);
      for (let i = 0; i < churn; i++) {
        const r = rng.int(a.nRegions);
        ctx.ops.zapRandomTouched(a, r, 8, rng);
        ctx.ops.touchRandom(a, rng.int(a.nRegions), 8, rng);
      }
    }
    // Expired buffers are munmapped.
    const ext = this.extents;
    for (let i = 0; i < this.live; ) {
      if (this.liveEnd[i]! <= nowMs) {
        const start = this.liveStart[i]!;
        const len = this.liveLen[i]!;
        ctx.ops.zapRange(ext, start * PAGEBLOCK_PAGES, len * PAGEBLOCK_PAGES, true);
        for (let r = start; r < start + len; r++) this.used[r] = 0;
        this.live--;
        this.liveStart[i] = this.liveStart[this.live]!;
        this.liveLen[i] = this.liveLen[this.live]!;
        this.liveEnd[i] = this.liveEnd[this.live]!;
      } else i++;
    }
    // New buffers: Poisson arrivals, 1-4 regions each, written in full.
    const regionsPerSec = ((p['extentMiBps']! * MIB * ctx.scale) / (PAGEBLOCK_PAGES * PAGE_SIZE)) * this.arrivalMultiplier();
    const meanLen = 2.5;
    const count = rng.poisson((regionsPerSec / meanLen) * (dtMs / 1000));
    for (let i = 0; i < count; i++) {
      const len = 1 + rng.int(4);
      const start = this.findFree(len);
      if (start < 0) break;
      for (let r = start; r < start + len; r++) this.used[r] = 1;
      ctx.ops.touchRange(ext, start * PAGEBLOCK_PAGES, len * PAGEBLOCK_PAGES);
      if (this.live === this.liveStart.length) this.growLive();
      this.liveStart[this.live] = start;
      this.liveLen[this.live] = len;
      this.liveEnd[this.live] = nowMs + rng.exponential(p['extentLifeSec']! * 1000);
      this.live++;
    }
  }

  /** Next-fit search for `len` free contiguous regions of the extent VA. */
  private findFree(len: number): number {
    const n = this.used.length;
    for (let tries = 0; tries < n; tries++) {
      const s = (this.cursor + tries) % n;
      if (s + len > n) continue;
      let ok = true;
      for (let r = s; r < s + len; r++) if (this.used[r] === 1) ok = false;
      if (ok) {
        this.cursor = (s + len) % n;
        return s;
      }
    }
    return -1;
  }

  private growLive(): void {
    const cap = this.liveStart.length * 2;
    const s = new Int32Array(cap);
    const l = new Int32Array(cap);
    const e = new Float64Array(cap);
    s.set(this.liveStart);
    l.set(this.liveLen);
    e.set(this.liveEnd);
    this.liveStart = s;
    this.liveLen = l;
    this.liveEnd = e;
  }
}

/** Page-cache-heavy batch job: re-reads a hot file set and streams cold data once; reclaimable slab grows with the files it opens. */
class BatchPagecache extends WorkloadModel {
  readonly kind = 'batch-pagecache' as const;
  readonly shape: PerfShape;
  private buffers!: Vma;
  private hotLoaded = 0;

  constructor(over: Readonly<Record<string, number>> | undefined, where: string) {
    super(WORKLOAD_DEFAULTS['batch-pagecache'], over, where);
    this.shape = shapeOf(this.p, false, 'MiB');
  }

  setup(ctx: WorkloadCtx): void {
    this.buffers = ctx.k.createVma(ctx.task, 'buffers', VmaKind.Anon, pagesOf(this.p['anonMiB']! * MIB * ctx.scale), VmaAdvice.None);
  }

  hotSetPages(scale: number): number {
    return pagesOf(this.p['hotSetGiB']! * GIB * scale);
  }

  hitRate(ctx: WorkloadCtx): number {
    const hot = ctx.k.phys.ownerPages[ctx.task.fileHotOwner]!;
    return Math.min(1, hot / this.hotSetPages(ctx.scale));
  }

  memoryTick(ctx: WorkloadCtx, dtMs: number): void {
    const v = this.buffers;
    if (v.touchedPages < v.nPages) {
      const n = Math.ceil((256 * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE);
      ctx.ops.touchRange(v, v.touchedPages, Math.min(n, v.nPages - v.touchedPages));
    }
  }

  override extraOpUs(ctx: WorkloadCtx): number {
    const cold = this.p['coldFraction']!;
    const miss = cold + (1 - cold) * (1 - this.hitRate(ctx));
    return miss * this.p['ioUsPerMiB']!;
  }

  override afterOps(ctx: WorkloadCtx, ops: number): void {
    const t = ctx.task;
    const perOp = MIB / PAGE_SIZE;
    const cold = this.p['coldFraction']!;
    const coldPages = Math.round(ops * perOp * cold);
    const hotSet = this.hotSetPages(ctx.scale);
    const hotResident = ctx.k.phys.ownerPages[t.fileHotOwner]!;
    const hotMiss = Math.min(hotSet - hotResident, Math.round(ops * perOp * (1 - cold) * (1 - this.hitRate(ctx))));
    ctx.k.cur = t.slot;
    ctx.k.evLat = 0;
    ctx.k.evStall = 0;
    if (coldPages > 0) ctx.k.fileRead(t, false, coldPages);
    if (hotMiss > 0) {
      ctx.k.fileRead(t, true, hotMiss);
      if (this.hotLoaded >= hotSet) {
        // Refaults of the working set: the wait for the read is a memory stall (PSI thrashing).
        t.refaults += hotMiss;
        ctx.k.recordRefaults(t, hotMiss);
        t.memstallUs += (hotMiss / perOp) * this.p['ioUsPerMiB']!;
      } else this.hotLoaded += hotMiss;
    }
    t.memstallUs += ctx.k.evStall;
    ctx.k.evLat = 0;
    ctx.k.evStall = 0;
    const slabPages = Math.round((ops * this.p['slabKiBPerMiB']! * 1024) / PAGE_SIZE);
    if (slabPages > 0) ctx.k.slabAlloc(true, slabPages);
  }
}

/** TLB-bound analytics: a dense columnar dataset loaded sequentially, scanned with random gathers; a partition is reloaded periodically. */
class TlbAnalytics extends WorkloadModel {
  readonly kind = 'tlb-analytics' as const;
  readonly shape: PerfShape;
  private data!: Vma;
  private loadCursor = 0;
  private nextReload = 0;
  private reloadEnd = 0;

  constructor(over: Readonly<Record<string, number>> | undefined, where: string) {
    super(WORKLOAD_DEFAULTS['tlb-analytics'], over, where);
    this.shape = shapeOf(this.p, false, 'op');
  }

  setup(ctx: WorkloadCtx): void {
    this.data = ctx.k.createVma(ctx.task, 'columns', VmaKind.Anon, pagesOf(this.p['dataGiB']! * GIB * ctx.scale), VmaAdvice.None);
    this.reloadEnd = this.data.nPages;
    this.nextReload = this.p['reloadEverySec']! * 1000;
  }

  memoryTick(ctx: WorkloadCtx, dtMs: number, nowMs: number): void {
    const v = this.data;
    const n = Math.ceil((this.p['loadMiBps']! * MIB * ctx.scale * dtMs) / 1000 / PAGE_SIZE);
    if (this.loadCursor < this.reloadEnd) {
      const k = Math.min(n, this.reloadEnd - this.loadCursor);
      ctx.ops.touchRange(v, this.loadCursor, k);
      this.loadCursor += k;
      return;
    }
    if (this.p['reloadEverySec']! > 0 && nowMs >= this.nextReload) {
      // Drop a partition (munmap) and load it again.
      const part = Math.min(v.nPages, regionsOf(this.p['reloadGiB']! * GIB * ctx.scale) * PAGEBLOCK_PAGES);
      const regions = Math.max(1, Math.floor(v.nPages / PAGEBLOCK_PAGES) - Math.ceil(part / PAGEBLOCK_PAGES));
      const start = ctx.rng.int(regions + 1) * PAGEBLOCK_PAGES;
      ctx.ops.zapRange(v, start, part, true);
      this.loadCursor = start;
      this.reloadEnd = Math.min(v.nPages, start + part);
      this.nextReload = nowMs + this.p['reloadEverySec']! * 1000;
    }
  }
}

export function createModel(kind: WorkloadKind, params: Readonly<Record<string, number>> | undefined, where: string): WorkloadModel {
  switch (kind) {
    case 'zgc-jvm':
      return new ZgcJvm(params, where);
    case 'tcmalloc-svc':
      return new TcmallocSvc(params, where);
    case 'kv-store':
      return new KvStore(params, where);
    case 'latency-svc':
      return new LatencySvc(params, where);
    case 'batch-pagecache':
      return new BatchPagecache(params, where);
    case 'tlb-analytics':
      return new TlbAnalytics(params, where);
  }
}

/**
 * The standard six-workload mix, sized for `memoryBytes` (default 64 GiB): about 40 GiB of
 * anonymous and shmem memory with THP off, the rest page cache.
 */
export function standardWorkloadMix(memoryBytes = 64 * GIB): WorkloadSpec[] {
  const scale = memoryBytes / (64 * GIB);
  return WORKLOAD_KINDS.map((kind) => ({ kind, name: kind, scale }));
}
