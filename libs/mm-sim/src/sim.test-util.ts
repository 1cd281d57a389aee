/**
 * Test helpers: a bare kernel (no workloads, no daemons unless asked) that tests drive page by
 * page, plus a reference implementation of the sysfs rules written independently of the
 * kernel code (kernel-interface.md 5.3) for the property tests.
 */
import { PMD_ORDER, THP_ORDERS_ALL_ANON, TvaType, VmaAdvice } from '@thp-fleet/policy';
import { Daemons } from './daemons.js';
import { Kernel, ThpDisable, type Task } from './kernel.js';
import { Khugepaged } from './khugepaged.js';
import { MemOps } from './memops.js';
import { Rng } from './rng.js';
import { applySysfsPatch, defaultSysfs, sizeDirName, type SysfsPatch, type ThpSysfs } from './sysfs.js';
import { VmaKind, type Vma } from './vma.js';

export const MIB = 1024 * 1024;

export interface Bench {
  readonly k: Kernel;
  readonly ops: MemOps;
  readonly daemons: Daemons | null;
  readonly khugepaged: Khugepaged;
  task(name: string, opts?: { disable?: ThpDisable; threads?: number }): Task;
  vma(t: Task, name: string, mib: number, advice?: VmaAdvice, kind?: VmaKind): Vma;
  /** Runs kswapd/kcompactd/khugepaged for `ms` in 100 ms ticks. */
  background(ms: number): void;
}

export function makeBench(memoryMiB: number, patch: SysfsPatch = {}, opts: { daemons?: boolean; seed?: number } = {}): Bench {
  const k = new Kernel(memoryMiB * MIB, applySysfsPatch(defaultSysfs(), patch), new Rng(opts.seed ?? 7));
  const ops = new MemOps(k);
  const daemons = opts.daemons === false ? null : new Daemons(k, memoryMiB * MIB, 0.002, new Rng((opts.seed ?? 7) + 1));
  const khugepaged = new Khugepaged();
  k.ensureCgroup('/workloads.slice');
  let now = 0;
  return {
    k,
    ops,
    daemons,
    khugepaged,
    task(name, o = {}) {
      const cg = k.ensureCgroup(`/workloads.slice/${name}`);
      return k.addTask(name, cg, o.threads ?? 1, o.disable ?? ThpDisable.None);
    },
    vma(t, name, mib, advice = VmaAdvice.None, kind = VmaKind.Anon) {
      k.cur = t.slot;
      return k.createVma(t, name, kind, (mib * MIB) / 4096, advice);
    },
    background(ms) {
      for (let left = ms; left > 0; left -= 100) {
        now += 100;
        k.nowMs = now;
        if (daemons !== null) {
          daemons.beginTick(100);
          daemons.tick(k, 100, now, 0);
        }
        khugepaged.run(k, now);
      }
    },
  };
}

/**
 * Reference: the orders sysfs, prctl and madvise allow for an anonymous VMA at a call site
 * (thp_vma_allowable_orders without the hook, kif 5.3), restricted to `requested`.
 */
export function referenceAnonAllowed(s: ThpSysfs, advice: VmaAdvice, disable: ThpDisable, tva: TvaType, requested: number): number {
  const hugepage = advice === VmaAdvice.Hugepage;
  const forced = tva === TvaType.ForcedCollapse;
  if (advice === VmaAdvice.Nohugepage) return 0;
  if (disable === ThpDisable.Completely) return 0;
  if (disable === ThpDisable.ExceptAdvised && !hugepage && !forced) return 0;
  let mask = 0;
  for (let order = 2; order <= PMD_ORDER; order++) {
    const c = s.hugepages[sizeDirName(order)]?.enabled;
    const bit = 1 << order;
    if (c === 'always') mask |= bit;
    if (c === 'madvise' && hugepage) mask |= bit;
    if (c === 'inherit' && (s.enabled === 'always' || (hugepage && s.enabled === 'madvise'))) mask |= bit;
  }
  if (forced) mask = THP_ORDERS_ALL_ANON;
  return mask & requested & THP_ORDERS_ALL_ANON;
}
