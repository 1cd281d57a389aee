/**
 * One simulated node: the kernel core, its daemons, khugepaged, PSI, the workloads and the
 * performance model that turns memory backing and kernel stalls into per-workload throughput
 * and latency. Time moves only through step()/runFor(); all randomness comes from the seed.
 */
import {
  HOOK_ABIS as HOOK_ABIS_,
  PMD_ORDER as PMD_ORDER_,
  TvaType as TvaType_,
  VmaAdvice as VmaAdvice_,
  type HookAbi,
  type ThpHook,
} from '@thp-fleet/policy';
import {
  COLLAPSE_BASE_US as COLLAPSE_BASE_US_,
  COLLAPSE_COPY_US_PER_PAGE as COLLAPSE_COPY_US_PER_PAGE_,
  GIB as GIB_,
  MIB as MIB_,
  PAGE_SIZE as PAGE_SIZE_,
  REQUEST_LATENCY_BOUNDS_US as REQUEST_LATENCY_BOUNDS_US_,
  WINDOW_SLOTS as WINDOW_SLOTS_,
  WINDOW_SLOT_MS as WINDOW_SLOT_MS_,
} from './constants.js';
import {
  CGROUP_STAT_COUNT as CGROUP_STAT_COUNT_,
} from './counters.js';
import {
  Region as Region_,
  type Vma,
} from './vma.js';
import { type CgroupInfo, normalizeCgroupPath } from './cgroups.js';
import { Daemons } from './daemons.js';
import { latencyBucket as latencyBucket_, WindowedHistogram } from './histogram.js';
import {
  Kernel,
  ThpDisable as ThpDisable_,
  type Task,
  type ThpGrant,
} from './kernel.js';
import { Khugepaged } from './khugepaged.js';
import { MemOps } from './memops.js';
import { buildMetrics, type NodeMetrics } from './metrics.js';
import { PsiTracker } from './psi.js';
import { Rng, deriveSeed } from './rng.js';
import { applySysfsPatch, defaultSysfs, type SysfsPatch, type ThpSysfs } from './sysfs.js';
import { tlbCost as tlbCost_, type TlbResult } from './tlb.js';
import {
  WORKLOAD_KINDS as WORKLOAD_KINDS_,
  createModel,
  type WorkloadCtx,
  type WorkloadKind,
  type WorkloadModel,
  type WorkloadSpec,
} from './workloads.js';

// Module-local copies: loaders that emulate ESM live bindings with getters make imported constants slow in hot loops.
const latencyBucket = latencyBucket_;
const tlbCost = tlbCost_;
const TvaType = TvaType_;
type TvaType = TvaType_;
const VmaAdvice = VmaAdvice_;
type VmaAdvice = VmaAdvice_;
const Region = Region_;
const ThpDisable = ThpDisable_;
type ThpDisable = ThpDisable_;
const HOOK_ABIS = HOOK_ABIS_;
const PMD_ORDER = PMD_ORDER_;
const COLLAPSE_BASE_US = COLLAPSE_BASE_US_;
const COLLAPSE_COPY_US_PER_PAGE = COLLAPSE_COPY_US_PER_PAGE_;
const GIB = GIB_;
const MIB = MIB_;
const PAGE_SIZE = PAGE_SIZE_;
const REQUEST_LATENCY_BOUNDS_US = REQUEST_LATENCY_BOUNDS_US_;
const WINDOW_SLOTS = WINDOW_SLOTS_;
const WINDOW_SLOT_MS = WINDOW_SLOT_MS_;
const CGROUP_STAT_COUNT = CGROUP_STAT_COUNT_;
const WORKLOAD_KINDS = WORKLOAD_KINDS_;

export interface NodeConfig {
  /** Physical memory, bytes (default 64 GiB; at least 256 MiB, a multiple of 2 MiB). */
  readonly memoryBytes?: number;
  /** Simulation tick, ms (default 100, 1..2000). */
  readonly tickMs?: number;
  /** Initial THP sysfs settings (applied over the kernel defaults). */
  readonly sysfs?: SysfsPatch;
  /** Kernel ABI of the hook (default v12). */
  readonly hookAbi?: HookAbi;
  /** Workloads started at creation. */
  readonly workloads?: readonly WorkloadSpec[];
  /** Unmovable kernel memory at boot as a share of RAM (default 0.01). */
  readonly kernelSlabFraction?: number;
  /** Called for every THP granted (tests and tracing; slows the simulation). */
  readonly trace?: (grant: ThpGrant) => void;
}

export interface WorkloadInfo {
  readonly id: number;
  readonly name: string;
  readonly kind: WorkloadKind;
  readonly cgroupId: number;
  readonly cgroupPath: string;
}

export type MadviseAdvice = 'hugepage' | 'nohugepage' | 'normal' | 'collapse';

export interface MadviseResult {
  /** Regions collapsed by MADV_COLLAPSE. */
  readonly collapsed: number;
  /** Regions MADV_COLLAPSE could not collapse. */
  readonly failed: number;
}

export interface SimNode {
  readonly seed: number;
  readonly memoryBytes: number;
  readonly tickMs: number;
  /** Simulated time, ms since boot. */
  now(): number;
  /** Advances by one tick of `ms` (default tickMs). */
  step(ms?: number): void;
  /** Advances by `ms` in ticks of tickMs. */
  runFor(ms: number): void;
  sysfs(): ThpSysfs;
  /** Writes sysfs files; throws SysfsError listing every bad value (nothing is applied then). */
  setSysfs(patch: SysfsPatch): void;
  /** Attaches (or with null detaches) the THP policy hook under a kernel ABI. */
  setHook(hook: ThpHook | null, abi?: HookAbi): void;
  addWorkload(spec: WorkloadSpec): WorkloadInfo;
  removeWorkload(idOrName: number | string): void;
  workloads(): WorkloadInfo[];
  /** The cgroup v2 tree with stable numeric ids. */
  cgroups(): CgroupInfo;
  /** Leaf-to-root cgroup ids of a workload (what the hook receives). */
  cgroupChain(idOrName: number | string): number[];
  /** prctl(PR_SET_THP_DISABLE) on the workload's process. */
  setThpDisable(idOrName: number | string, mode: 'none' | 'completely' | 'except-advised'): void;
  /** madvise() over a whole VMA of a workload. */
  madvise(idOrName: number | string, vma: string, advice: MadviseAdvice): MadviseResult;
  /** Sets memory.max of a cgroup (bytes, or null for "max"). */
  setMemoryMax(cgroupPath: string, bytes: number | null): void;
  metrics(): NodeMetrics;
  /** Internal consistency checks (used by property tests); empty when consistent. */
  checkInvariants(): string[];
}

/** Per-tick noise of throughput (σ of a multiplicative normal factor). */
const TICK_NOISE_SIGMA = 0.03;
/** Node-to-node hardware speed variation (σ), drawn once per node. */
const NODE_SPEED_SIGMA = 0.01;
/** Workload-to-workload speed variation on one node (σ). */
const WORKLOAD_SPEED_SIGMA = 0.005;
/** Latency samples per workload per tick (each stands for ops/K requests). */
const LATENCY_SAMPLES = 16;
/** Kernel slab churn independent of workloads, pages per second (model). */
const BASE_KERNEL_CHURN = 200;

export class WorkloadRuntime {
  readonly latency = new WindowedHistogram(REQUEST_LATENCY_BOUNDS_US);
  readonly opsSlots = new Float64Array(WINDOW_SLOTS);
  readonly stallSlots = new Float64Array(WINDOW_SLOTS);
  /** Simulated time covered by each window slot (ms). */
  readonly slotMs = new Float64Array(WINDOW_SLOTS);
  totalOps = 0;
  droppedOps = 0;
  totalStallUs = 0;
  tlb: TlbResult = { missRate: 0, nsPerAccess: 0, hugeShare: 0 };
  lastOpUs = 0;
  slot = 0;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly kind: WorkloadKind,
    readonly model: WorkloadModel,
    readonly task: Task,
    readonly ctx: WorkloadCtx,
    /** Measurement noise (arrivals, per-tick speed, latency samples), separate from the behaviour stream in ctx.rng so that both stay paired across policies. */
    readonly rng: Rng,
    readonly speed: number,
    readonly cgroupPath: string,
    readonly ownsCgroup: boolean,
  ) {}

  rotate(): void {
    this.slot = (this.slot + 1) % WINDOW_SLOTS;
    this.opsSlots[this.slot] = 0;
    this.slotMs[this.slot] = 0;
    this.stallSlots[this.slot] = 0;
    this.latency.rotate();
  }
}

function disableOf(mode: WorkloadSpec['thpDisable'], where: string): ThpDisable {
  switch (mode) {
    case undefined:
    case 'none':
      return ThpDisable.None;
    case 'completely':
      return ThpDisable.Completely;
    case 'except-advised':
      return ThpDisable.ExceptAdvised;
    default:
      throw new Error(`${where}.thpDisable: ${JSON.stringify(mode)} is not one of none | completely | except-advised`);
  }
}

class Node implements SimNode {
  readonly k: Kernel;
  readonly memoryBytes: number;
  readonly tickMs: number;
  private readonly psi: PsiTracker;
  private readonly daemons: Daemons;
  readonly khugepaged = new Khugepaged();
  private readonly ops: MemOps;
  private readonly rng: Rng;
  readonly nodeSpeed: number;
  readonly runtimes: WorkloadRuntime[] = [];
  private nextWorkloadId = 1;
  private nowMs = 0;
  private windowMs = 0;
  private tickCount = 0;

  constructor(
    config: NodeConfig,
    readonly seed: number,
  ) {
    if (!Number.isInteger(seed)) throw new Error(`createNode: seed ${String(seed)} must be an integer`);
    const mem = config.memoryBytes ?? 64 * GIB;
    if (!Number.isFinite(mem) || mem < 256 * MIB || mem % (2 * MIB) !== 0) {
      throw new Error(`createNode: memoryBytes ${String(mem)} must be at least 256 MiB and a multiple of 2 MiB`);
    }
    const tick = config.tickMs ?? 100;
    if (!Number.isInteger(tick) || tick < 1 || tick > 2000) throw new Error(`createNode: tickMs ${String(tick)} must be an integer in 1..2000`);
    const slabFraction = config.kernelSlabFraction ?? 0.01;
    if (!(slabFraction >= 0 && slabFraction <= 0.2)) throw new Error(`createNode: kernelSlabFraction ${String(slabFraction)} must be in 0..0.2`);
    const abi = config.hookAbi ?? 'v12';
    if (!HOOK_ABIS.includes(abi)) throw new Error(`createNode: hookAbi ${JSON.stringify(abi)} is not one of ${HOOK_ABIS.join(', ')}`);
    this.memoryBytes = mem;
    this.tickMs = tick;
    this.rng = new Rng(deriveSeed(seed, 'node'));
    const sysfs = applySysfsPatch(defaultSysfs(), config.sysfs ?? {});
    this.k = new Kernel(mem, sysfs, new Rng(deriveSeed(seed, 'kernel')));
    this.k.abi = abi;
    if (config.trace !== undefined) this.k.trace = config.trace;
    this.psi = new PsiTracker(this.k.cgroups.parent);
    this.ops = new MemOps(this.k);
    this.nodeSpeed = 1 + NODE_SPEED_SIGMA * this.rng.normal();
    this.daemons = new Daemons(this.k, mem, slabFraction, new Rng(deriveSeed(seed, 'daemons')));
    this.k.ensureCgroup('/workloads.slice');
    this.k.ensureCgroup('/system.slice');
    for (const spec of config.workloads ?? []) this.addWorkload(spec);
  }

  now(): number {
    return this.nowMs;
  }

  sysfs(): ThpSysfs {
    return this.k.sysfs;
  }

  setSysfs(patch: SysfsPatch): void {
    this.k.setSysfs(applySysfsPatch(this.k.sysfs, patch));
  }

  setHook(hook: ThpHook | null, abi?: HookAbi): void {
    if (hook !== null && typeof hook !== 'function') throw new Error('setHook: hook must be a function or null');
    const a = abi ?? this.k.abi;
    if (!HOOK_ABIS.includes(a)) throw new Error(`setHook: abi ${JSON.stringify(a)} is not one of ${HOOK_ABIS.join(', ')}`);
    this.k.setHook(hook, a);
  }

  private find(idOrName: number | string): WorkloadRuntime {
    const w = this.runtimes.find((r) => r.id === idOrName || r.name === idOrName);
    if (w === undefined) throw new Error(`no workload ${JSON.stringify(idOrName)} on this node`);
    return w;
  }

  addWorkload(spec: WorkloadSpec): WorkloadInfo {
    const where = `workload ${JSON.stringify(spec?.name ?? spec?.kind)}`;
    if (typeof spec !== 'object' || spec === null) throw new Error('addWorkload: spec must be an object');
    if (!WORKLOAD_KINDS.includes(spec.kind)) throw new Error(`${where}.kind: ${JSON.stringify(spec.kind)} is not one of ${WORKLOAD_KINDS.join(', ')}`);
    const name = spec.name ?? spec.kind;
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error(`${where}.name: ${JSON.stringify(name)} must be 1-64 characters of [A-Za-z0-9_.-]`);
    if (this.runtimes.some((r) => r.name === name)) throw new Error(`${where}.name: a workload named ${JSON.stringify(name)} already runs on this node`);
    const scale = spec.scale ?? 1;
    if (!(typeof scale === 'number' && scale > 0 && scale <= 64)) throw new Error(`${where}.scale: ${String(scale)} must be in (0, 64]`);
    const model = createModel(spec.kind, spec.params, where);
    const threads = spec.threads ?? model.p['threads'] ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > 1024) throw new Error(`${where}.threads: ${String(threads)} must be an integer in 1..1024`);
    const disable = disableOf(spec.thpDisable, where);
    const path = normalizeCgroupPath(spec.cgroup ?? `/workloads.slice/${name}`);
    if (path === '/') throw new Error(`${where}.cgroup: workloads cannot live in the root cgroup`);
    const existed = this.k.cgroups.slotOf(path) >= 0;
    const cg = this.k.ensureCgroup(path);
    if (spec.memoryMax !== undefined) {
      if (!(spec.memoryMax > 0)) throw new Error(`${where}.memoryMax: ${String(spec.memoryMax)} must be a positive number of bytes`);
      this.k.cgMax[cg] = Math.floor(spec.memoryMax / PAGE_SIZE);
    }
    const task = this.k.addTask(name, cg, threads, disable);
    const rng = new Rng(deriveSeed(this.seed, 'workload', name));
    const ctx: WorkloadCtx = { k: this.k, task, ops: this.ops, rng, scale };
    this.k.cur = task.slot;
    model.setup(ctx);
    const speed = this.nodeSpeed * (1 + WORKLOAD_SPEED_SIGMA * rng.normal());
    const perfRng = new Rng(deriveSeed(this.seed, 'perf', name));
    const rt = new WorkloadRuntime(this.nextWorkloadId++, name, spec.kind, model, task, ctx, perfRng, speed, path, !existed);
    this.runtimes.push(rt);
    return this.info(rt);
  }

  private info(rt: WorkloadRuntime): WorkloadInfo {
    return { id: rt.id, name: rt.name, kind: rt.kind, cgroupId: this.k.cgroups.ids[rt.task.cg]!, cgroupPath: rt.cgroupPath };
  }

  removeWorkload(idOrName: number | string): void {
    const rt = this.find(idOrName);
    this.k.removeTask(rt.task);
    this.runtimes.splice(this.runtimes.indexOf(rt), 1);
    const slot = rt.task.cg;
    const inUse = this.runtimes.some((r) => r.task.cg === slot);
    if (rt.ownsCgroup && !inUse && !this.k.cgroups.hasChildren(slot)) {
      this.k.cgroups.remove(slot);
      this.k.cgStat.fill(0, slot * CGROUP_STAT_COUNT, (slot + 1) * CGROUP_STAT_COUNT);
      this.k.cgMax[slot] = Number.POSITIVE_INFINITY;
      this.k.cgFaultHist[slot] = null;
      this.k.dropSplitQueue(slot);
      this.psi.reset(slot);
    }
  }

  workloads(): WorkloadInfo[] {
    return this.runtimes.map((r) => this.info(r));
  }

  cgroups(): CgroupInfo {
    return this.k.cgroups.tree();
  }

  cgroupChain(idOrName: number | string): number[] {
    return Array.from(this.find(idOrName).task.chain);
  }

  setThpDisable(idOrName: number | string, mode: 'none' | 'completely' | 'except-advised'): void {
    this.find(idOrName).task.disable = disableOf(mode, `setThpDisable(${JSON.stringify(idOrName)})`);
  }

  madvise(idOrName: number | string, vmaName: string, advice: MadviseAdvice): MadviseResult {
    const rt = this.find(idOrName);
    const v = rt.task.vmas.find((x) => x.name === vmaName);
    if (v === undefined) throw new Error(`madvise: workload ${rt.name} has no VMA ${JSON.stringify(vmaName)} (has ${rt.task.vmas.map((x) => x.name).join(', ')})`);
    switch (advice) {
      case 'hugepage':
        v.advice = VmaAdvice.Hugepage;
        return { collapsed: 0, failed: 0 };
      case 'nohugepage':
        v.advice = VmaAdvice.Nohugepage;
        return { collapsed: 0, failed: 0 };
      case 'normal':
        v.advice = VmaAdvice.None;
        return { collapsed: 0, failed: 0 };
      case 'collapse':
        return this.madviseCollapse(rt, v);
      default:
        throw new Error(`madvise: advice ${JSON.stringify(advice)} is not one of hugepage | nohugepage | normal | collapse`);
    }
  }

  /** MADV_COLLAPSE: synchronous collapse of every populated PMD range, ignoring sysfs and max_ptes_none. */
  private madviseCollapse(rt: WorkloadRuntime, v: Vma): MadviseResult {
    const k = this.k;
    const t = rt.task;
    k.cur = t.slot;
    let collapsed = 0;
    let failed = 0;
    for (let r = 0; r < v.nRegions; r++) {
      if (!v.pmdSuitable(r) || v.regState[r] !== Region.Pte) continue;
      const allowed = v.shmem ? k.allowableShmem(t, v, TvaType.ForcedCollapse) : k.allowableAnon(t, v, TvaType.ForcedCollapse, 1 << PMD_ORDER);
      if (allowed === 0) {
        failed++;
        continue;
      }
      const present = v.regPresent[r]!;
      const res = k.collapse(t, v, r, TvaType.ForcedCollapse);
      if (res > 0) {
        collapsed++;
        t.addStall(COLLAPSE_BASE_US + COLLAPSE_COPY_US_PER_PAGE * present + k.lastCollapseAllocUs);
      } else failed++;
    }
    return { collapsed, failed };
  }

  setMemoryMax(cgroupPath: string, bytes: number | null): void {
    const slot = this.k.cgroups.slotOf(normalizeCgroupPath(cgroupPath));
    if (slot < 0) throw new Error(`setMemoryMax: no cgroup ${cgroupPath}`);
    if (bytes !== null && !(bytes > 0)) throw new Error(`setMemoryMax: ${String(bytes)} must be a positive number of bytes or null`);
    this.k.cgMax[slot] = bytes === null ? Number.POSITIVE_INFINITY : Math.floor(bytes / PAGE_SIZE);
  }

  runFor(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new Error(`runFor: ${String(ms)} must be a finite number of ms >= 0`);
    let left = ms;
    while (left > 0) {
      const dt = Math.min(this.tickMs, left);
      this.tick(dt);
      left -= dt;
    }
  }

  step(ms?: number): void {
    const dt = ms ?? this.tickMs;
    if (!(Number.isFinite(dt) && dt > 0 && dt <= 2000)) throw new Error(`step: ${String(dt)} must be in (0, 2000] ms`);
    this.tick(dt);
  }

  private tick(dtMs: number): void {
    const k = this.k;
    k.nowMs = this.nowMs;
    k.kthreadStallUs = 0;
    const rts = this.runtimes;
    const n = rts.length;
    for (const rt of rts) rt.task.resetTick();
    // Rotate the order so that no workload always allocates first.
    const first = n > 0 ? this.tickCount % n : 0;
    let churn = BASE_KERNEL_CHURN;
    this.daemons.beginTick(dtMs);
    for (let i = 0; i < n; i++) {
      const rt = rts[(first + i) % n]!;
      k.cur = rt.task.slot;
      k.evLat = 0;
      k.evStall = 0;
      rt.model.memoryTick(rt.ctx, dtMs, this.nowMs);
      churn += rt.model.kernelChurnPagesPerSec() * rt.ctx.scale;
      this.daemons.kswapdStep(k);
    }
    this.daemons.tick(k, dtMs, this.nowMs, churn);
    this.khugepaged.run(k, this.nowMs + dtMs);
    this.psi.beginTick();
    const dtUs = dtMs * 1000;
    for (let i = 0; i < n; i++) {
      const rt = rts[(first + i) % n]!;
      this.perf(rt, dtMs);
      this.daemons.kswapdStep(k);
    }
    for (const rt of rts) this.psi.addTasks(rt.task.cg, rt.task.threads, rt.task.memstallUs, dtUs);
    this.psi.addTasks(0, 1, k.kthreadStallUs, dtUs);
    this.psi.endTick(dtMs);
    k.pressure = this.psi.someAvg10Hundredths(0);
    this.nowMs += dtMs;
    this.tickCount++;
    this.windowMs += dtMs;
    if (this.windowMs >= WINDOW_SLOT_MS) {
      this.windowMs -= WINDOW_SLOT_MS;
      for (const rt of rts) rt.rotate();
      k.faultHist.rotate();
      for (const h of k.cgFaultHist) h?.rotate();
    }
  }

  /** Translation cost of the workload's hot set with its current backing. */
  private tlbOf(rt: WorkloadRuntime): TlbResult {
    let small = 0;
    let hugeRegions = 0;
    let inHuge = 0;
    for (const v of rt.task.vmas) {
      const hf = v.hotFraction;
      small += (v.touchedPages - v.touchedInPmd) * hf;
      hugeRegions += v.pmdRegions * hf;
      inHuge += v.touchedInPmd * hf;
    }
    return tlbCost(small, hugeRegions, inHuge);
  }

  /** Throughput and latency of one tick from the model's shape and the kernel's stalls. */
  private perf(rt: WorkloadRuntime, dtMs: number): void {
    const s = rt.model.shape;
    const t = rt.task;
    const rng = rt.rng;
    const dtUs = dtMs * 1000;
    const tlb = this.tlbOf(rt);
    rt.tlb = tlb;
    const opUs = s.cpuUsPerOp * rt.speed + (s.tlbAccessesPerOp * tlb.nsPerAccess) / 1000 + rt.model.extraOpUs(rt.ctx);
    rt.lastOpUs = opUs;
    let stallSum = 0;
    for (let i = 0; i < t.stallCount; i++) stallSum += t.stalls[i]!;
    const busyUs = t.smallFaultUs + stallSum;
    const threads = t.threads;
    const capacity = Math.max(0, threads * dtUs - busyUs) / opUs;
    let ops: number;
    if (s.openLoop) {
      const arrivals = rng.poisson((s.arrivalRate * rt.model.arrivalMultiplier() * dtMs) / 1000);
      ops = Math.min(arrivals, capacity);
      rt.droppedOps += arrivals - ops;
    } else {
      ops = capacity * Math.max(0, 1 + TICK_NOISE_SIGMA * rng.normal());
    }
    rt.totalOps += ops;
    rt.opsSlots[rt.slot] = rt.opsSlots[rt.slot]! + ops;
    rt.slotMs[rt.slot] = rt.slotMs[rt.slot]! + dtMs;
    rt.stallSlots[rt.slot] = rt.stallSlots[rt.slot]! + stallSum;
    rt.totalStallUs += stallSum;
    rt.model.afterOps(rt.ctx, ops, dtMs);
    if (ops <= 0) return;
    // Latency: service time (log-normal), queueing (Sakasegawa's M/M/c approximation for the
    // open-loop services), the per-request share of small faults, and head-of-line blocking
    // behind big stalls (a stalled thread delays the requests queued on it).
    const cv = s.serviceCv;
    const sigma = Math.sqrt(Math.log(1 + cv * cv));
    const rho = Math.min(0.98, (ops * opUs + busyUs) / (threads * dtUs));
    const pWait = s.openLoop ? Math.pow(rho, Math.sqrt(2 * (threads + 1)) - 1) : 0;
    const meanWait = opUs / (threads * (1 - rho));
    const perOpFault = t.smallFaultUs / ops;
    let affected = 0;
    const perThreadRate = s.openLoop ? (s.arrivalRate * rt.model.arrivalMultiplier()) / threads / 1e6 : 0;
    for (let i = 0; i < t.stallCount; i++) {
      const d = t.stalls[i]!;
      const queued = perThreadRate * d;
      const base = opUs * Math.exp(sigma * rng.normal() - (sigma * sigma) / 2);
      rt.latency.add(latencyBucket(base + d), 1, base + d);
      if (queued > 0) rt.latency.add(latencyBucket(base + d / 2), queued, base + d / 2);
      affected += 1 + queued;
    }
    const rest = Math.max(0, ops - affected);
    if (rest <= 0) return;
    const w = rest / LATENCY_SAMPLES;
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      let lat = opUs * Math.exp(sigma * rng.normal() - (sigma * sigma) / 2) + perOpFault;
      if (pWait > 0 && rng.float() < pWait) lat += rng.exponential(meanWait);
      rt.latency.add(latencyBucket(lat), w, lat);
    }
  }

  metrics(): NodeMetrics {
    return buildMetrics(this);
  }

  checkInvariants(): string[] {
    return this.k.checkInvariants();
  }

  psiSnapshot(slot: number): ReturnType<PsiTracker['snapshot']> {
    return this.psi.snapshot(slot);
  }
}

export type { Node as NodeImpl };

/** Creates a simulated node. Same config, seed and calls give identical metrics. */
export function createNode(config: NodeConfig, seed: number): SimNode {
  return new Node(config, seed);
}
