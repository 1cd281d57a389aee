/**
 * The simulator backend: this node is a libs/mm-sim node running in accelerated time. Its
 * "kernel" has the hook under the ABI the node's kernel label names; attaching binds the hook
 * to libs/policy's evaluator over the installed tables (`makeHook(() => tables, abi)`), so a
 * map update is a swap of the tables the hook reads, exactly once per decision. Metrics come
 * from the simulator's own counters (metrics/sim.metrics.ts).
 *
 * A restarted agent process has a new simulated node: nothing to adopt, so the reconciler
 * re-applies the recorded policy from the state directory. The simulated kernel "boots" with
 * the backend (its own boot id), so a node-mode journal left by the previous process describes
 * a node that no longer exists and is discarded, as after a reboot.
 */
import { randomUUID } from 'node:crypto';
import { createNode, type SimNode, type SysfsPatch, type WorkloadSpec } from '@thp-fleet/mm-sim';
import { decide, makeHook, type HookAbi, type HookInput, type KernelTables } from '@thp-fleet/policy';
import type { CgroupSource } from '../cgroups/cgroup.resolver.js';
import { diffCgroupTrees, type CgroupChange, type CgroupEntry, type CgroupTree } from '../cgroups/cgroup-tree.js';
import type { MetricsSample } from '../metrics/metrics-sample.js';
import { simMetricsSample } from '../metrics/sim.metrics.js';
import { tablesContentHash } from '../reconcile/tables-hash.js';
import { BackendError, type AdoptedState, type Backend, type BackendObservation } from './backend.js';
import { SimSysfs } from './sim-sysfs.js';

export interface SimBackendOptions {
  readonly nodeId: string;
  /** The hook ABI of the simulated kernel. */
  readonly abi: HookAbi;
  readonly memoryBytes: number;
  readonly workloads: readonly WorkloadSpec[];
  /** THP sysfs at boot (over the kernel defaults). */
  readonly sysfs: SysfsPatch;
  readonly seed: number;
  /** Simulator tick in simulated milliseconds (libs/mm-sim allows 1..2000). */
  readonly tickMs: number;
  readonly now?: () => number;
}

/** The simulated node's cgroup tree, re-read when the agent changes its workloads. */
export class SimCgroups implements CgroupSource {
  private tree: Map<number, CgroupEntry>;
  private readonly listeners = new Set<(change: CgroupChange, tree: CgroupTree) => void>();

  constructor(private readonly node: SimNode) {
    this.tree = SimCgroups.read(node);
  }

  static read(node: SimNode): Map<number, CgroupEntry> {
    const tree = new Map<number, CgroupEntry>();
    const visit = (c: ReturnType<SimNode['cgroups']>): void => {
      tree.set(c.id, { id: c.id, path: c.path, parentId: c.parentId ?? undefined });
      for (const child of c.children) visit(child);
    };
    visit(node.cgroups());
    return tree;
  }

  current(): CgroupTree {
    return this.tree;
  }

  onChange(listener: (change: CgroupChange, tree: CgroupTree) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-read the tree; notifies listeners of a difference. */
  refresh(): CgroupChange {
    const next = SimCgroups.read(this.node);
    const change = diffCgroupTrees(this.tree, next);
    this.tree = next;
    if (change.added.length > 0 || change.removed.length > 0) for (const l of this.listeners) l(change, next);
    return change;
  }

  close(): void {
    this.listeners.clear();
  }
}

export class SimBackend implements Backend {
  readonly kind = 'sim' as const;
  readonly hook: HookAbi;
  readonly hookDetail: string;
  readonly node: SimNode;
  readonly cgroups: SimCgroups;
  readonly sysfs: SimSysfs;
  private tables: KernelTables | undefined;
  private attached = false;
  private hash = '';
  private readonly now: () => number;
  private readonly simBootId = randomUUID();

  constructor(options: SimBackendOptions) {
    this.hook = options.abi;
    this.hookDetail = `simulated kernel (libs/mm-sim) with bpf_thp_ops ${options.abi}`;
    this.node = createNode({ memoryBytes: options.memoryBytes, tickMs: options.tickMs, sysfs: options.sysfs, hookAbi: options.abi, workloads: options.workloads }, options.seed);
    this.cgroups = new SimCgroups(this.node);
    this.sysfs = new SimSysfs(this.node, options.nodeId);
    this.now = options.now ?? Date.now;
  }

  /** Run the simulated node forward by `ms` simulated milliseconds. */
  advance(ms: number): void {
    if (ms > 0) this.node.runFor(ms);
  }

  observe(): BackendObservation {
    return { loaded: this.tables !== undefined, attached: this.attached, programIds: [], mapContentHash: this.hash };
  }

  load(tables: KernelTables): Promise<void> {
    return this.install(tables);
  }

  update(tables: KernelTables): Promise<void> {
    if (!this.tables) return Promise.reject(new BackendError('other', 'cannot update: no tables are loaded'));
    return this.install(tables);
  }

  decide(input: HookInput): Promise<number> {
    if (!this.tables) return Promise.reject(new BackendError('other', 'cannot decide: no tables are loaded'));
    return Promise.resolve(decide(this.tables, input));
  }

  attach(): Promise<void> {
    if (!this.tables) return Promise.reject(new BackendError('attach', 'cannot attach: no tables are loaded'));
    // The hook reads the current tables at every call: an update is one reference swap.
    this.node.setHook(
      makeHook(() => this.tables!, this.hook),
      this.hook,
    );
    this.attached = true;
    return Promise.resolve();
  }

  detach(): Promise<void> {
    this.node.setHook(null, this.hook);
    this.attached = false;
    return Promise.resolve();
  }

  async unload(): Promise<void> {
    await this.detach();
    this.tables = undefined;
    this.hash = '';
  }

  adopt(): Promise<AdoptedState | undefined> {
    return Promise.resolve(undefined);
  }

  /** A fresh id per simulated node: its sysfs and hook live and die with this object. */
  bootId(): Promise<string> {
    return Promise.resolve(this.simBootId);
  }

  /** The simulator derives PSI from its own stall time and hands it to the hook itself. */
  setPressure(): void {}

  sample(): MetricsSample {
    return simMetricsSample(this.node.metrics(), this.now());
  }

  close(): Promise<void> {
    this.cgroups.close();
    return Promise.resolve();
  }

  private install(tables: KernelTables): Promise<void> {
    this.tables = tables;
    this.hash = tablesContentHash(tables);
    return Promise.resolve();
  }
}
