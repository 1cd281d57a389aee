/**
 * Property tests over random sequences of program and administrator actions on a small node:
 * pages are conserved and never owned twice, RSS never drops below the written pages, no THP is
 * granted where sysfs/madvise/prctl forbid it, a hook can only narrow, enabled=never gives no
 * THP faults.
 */
import { PMD_ORDER, TvaType, VmaAdvice, applyHookReturn, type HookAbi, type HookInput, type ThpHook } from '@thp-fleet/policy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PAGEBLOCK_PAGES } from './constants.js';
import { M, MTHP_STAT_COUNT, V } from './counters.js';
import { ThpDisable, type ThpGrant } from './kernel.js';
import { makeBench, referenceAnonAllowed } from './sim.test-util.js';
import { THP_DEFRAG_VALUES, THP_ENABLED_VALUES, type SysfsPatch, type ThpSysfs } from './sysfs.js';
import { Region, VmaKind, type Vma } from './vma.js';

type Op =
  | { readonly kind: 'touch'; readonly vma: number; readonly start: number; readonly count: number }
  | { readonly kind: 'scatter'; readonly vma: number; readonly region: number; readonly n: number }
  | { readonly kind: 'zap'; readonly vma: number; readonly start: number; readonly count: number; readonly unmap: boolean }
  | { readonly kind: 'zapRandom'; readonly vma: number; readonly region: number; readonly n: number }
  | { readonly kind: 'cache'; readonly pages: number }
  | { readonly kind: 'sysfs'; readonly patch: SysfsPatch }
  | { readonly kind: 'advice'; readonly vma: number; readonly advice: VmaAdvice }
  | { readonly kind: 'background'; readonly ms: number }
  | { readonly kind: 'collapse'; readonly vma: number };

const VMA_PAGES = 4 * PAGEBLOCK_PAGES + 100;
const sizeEnabled = fc.constantFrom('always', 'inherit', 'madvise', 'never' as const);
const sysfsArb: fc.Arbitrary<SysfsPatch> = fc.record({
  enabled: fc.constantFrom(...THP_ENABLED_VALUES),
  defrag: fc.constantFrom(...THP_DEFRAG_VALUES),
  shmem_enabled: fc.constantFrom('always', 'within_size', 'advise', 'never', 'deny', 'force' as const),
  shrink_underused: fc.constantFrom(0 as const, 1 as const),
  hugepages: fc.record({ 'hugepages-2048kB': fc.record({ enabled: sizeEnabled }), 'hugepages-64kB': fc.record({ enabled: sizeEnabled }), 'hugepages-16kB': fc.record({ enabled: sizeEnabled }) }),
  khugepaged: fc.record({ max_ptes_none: fc.constantFrom(0, 64, 409, 511), pages_to_scan: fc.constantFrom(512, 4096), scan_sleep_millisecs: fc.constantFrom(100, 1000) }),
});

const opArb = (withSysfs: boolean, withCollapse: boolean): fc.Arbitrary<Op> => {
  const vma = fc.integer({ min: 0, max: 3 });
  const region = fc.integer({ min: 0, max: 4 });
  const ops: fc.Arbitrary<Op>[] = [
    fc.record({ kind: fc.constant('touch' as const), vma, start: fc.integer({ min: 0, max: VMA_PAGES - 1 }), count: fc.integer({ min: 1, max: 1400 }) }),
    fc.record({ kind: fc.constant('scatter' as const), vma, region, n: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ kind: fc.constant('zap' as const), vma, start: fc.integer({ min: 0, max: VMA_PAGES - 1 }), count: fc.integer({ min: 1, max: 1200 }), unmap: fc.boolean() }),
    fc.record({ kind: fc.constant('zapRandom' as const), vma, region, n: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('cache' as const), pages: fc.integer({ min: 100, max: 12000 }) }),
    fc.record({ kind: fc.constant('advice' as const), vma, advice: fc.constantFrom(VmaAdvice.None, VmaAdvice.Hugepage, VmaAdvice.Nohugepage) }),
    fc.record({ kind: fc.constant('background' as const), ms: fc.integer({ min: 100, max: 3000 }) }),
  ];
  if (withSysfs) ops.push(fc.record({ kind: fc.constant('sysfs' as const), patch: sysfsArb }));
  if (withCollapse) ops.push(fc.record({ kind: fc.constant('collapse' as const), vma }));
  return fc.oneof(...ops);
};

interface World {
  readonly b: ReturnType<typeof makeBench>;
  readonly vmas: Vma[];
  readonly grants: ThpGrant[];
}

function world(initial: SysfsPatch, seed: number, disable: ThpDisable = ThpDisable.None): World {
  const b = makeBench(128, initial, { seed });
  const grants: ThpGrant[] = [];
  b.k.trace = (g) => grants.push(g);
  const t1 = b.task('a', { disable });
  const t2 = b.task('b');
  const vmas = [
    b.vma(t1, 'heap', VMA_PAGES / 256, VmaAdvice.None),
    b.vma(t1, 'shm', VMA_PAGES / 256, VmaAdvice.Hugepage, VmaKind.Shmem),
    b.vma(t2, 'heap', VMA_PAGES / 256, VmaAdvice.Hugepage),
    b.vma(t2, 'other', VMA_PAGES / 256, VmaAdvice.None),
  ];
  return { b, vmas, grants };
}

function apply(w: World, op: Op, seedRng: { next(): number }): void {
  const { b, vmas } = w;
  const k = b.k;
  const rng = { int: (n: number) => Math.floor(seedRng.next() * n) };
  switch (op.kind) {
    case 'touch':
      b.ops.touchRange(vmas[op.vma]!, op.start, op.count);
      return;
    case 'scatter': {
      const v = vmas[op.vma]!;
      b.ops.touchRandom(v, Math.min(op.region, v.nRegions - 1), op.n, k.rng);
      return;
    }
    case 'zap':
      b.ops.zapRange(vmas[op.vma]!, op.start, op.count, op.unmap);
      return;
    case 'zapRandom': {
      const v = vmas[op.vma]!;
      b.ops.zapRandomTouched(v, Math.min(op.region, v.nRegions - 1), op.n, k.rng);
      return;
    }
    case 'cache': {
      const t = k.tasks[rng.int(2)]!;
      k.cur = t.slot;
      k.fileRead(t, seedRng.next() < 0.5, op.pages);
      return;
    }
    case 'sysfs':
      k.setSysfs({ ...k.sysfs, ...op.patch } as ThpSysfs);
      return;
    case 'advice':
      vmas[op.vma]!.advice = op.advice;
      return;
    case 'background':
      b.background(op.ms);
      return;
    case 'collapse': {
      const v = vmas[op.vma]!;
      const t = k.tasks[v.task]!;
      k.cur = t.slot;
      for (let r = 0; r < v.nRegions; r++) {
        if (!v.pmdSuitable(r) || v.regState[r] !== Region.Pte) continue;
        const ok = v.shmem ? (k.allowableShmem(t, v, TvaType.ForcedCollapse) & (1 << PMD_ORDER)) !== 0 : k.allowableAnon(t, v, TvaType.ForcedCollapse, 1 << PMD_ORDER) !== 0;
        if (ok) k.collapse(t, v, r, TvaType.ForcedCollapse);
      }
      return;
    }
  }
}

/** Orders the sysfs, prctl and madvise rules allow for a grant (independent reference, kif 5.3). */
function sysfsAllows(g: ThpGrant): boolean {
  if (g.shmem) {
    if (g.advice === VmaAdvice.Nohugepage || g.disable === ThpDisable.Completely) return false;
    if (g.tva === TvaType.ForcedCollapse) return true;
    if (g.disable === ThpDisable.ExceptAdvised && g.advice !== VmaAdvice.Hugepage) return false;
    // Per-size shmem controls stay at their defaults here (PMD inherit, others never).
    const m = g.sysfs.shmem_enabled;
    return g.order === PMD_ORDER && (m === 'always' || m === 'within_size' || m === 'force' || (m === 'advise' && g.advice === VmaAdvice.Hugepage));
  }
  const requested = g.order === PMD_ORDER ? 1 << PMD_ORDER : (1 << PMD_ORDER) - 1;
  return ((referenceAnonAllowed(g.sysfs, g.advice, g.disable, g.tva, requested) >>> g.order) & 1) === 1;
}

const opsArb = (withSysfs: boolean, withCollapse: boolean) => fc.array(opArb(withSysfs, withCollapse), { minLength: 5, maxLength: 40 });
const runs = { numRuns: 40 };

describe('properties of the memory model', () => {
  it('conserves pages, never owns a frame twice, keeps RSS >= written pages', () => {
    fc.assert(
      fc.property(sysfsArb, opsArb(true, true), fc.integer({ min: 1, max: 1e6 }), (initial, ops, seed) => {
        const w = world(initial, seed);
        const rnd = fc.sample(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { seed, numRuns: 1 })[0] ?? 0.5;
        let x = rnd;
        const gen = { next: () => (x = (x * 9301 + 0.49297) % 1) };
        for (const op of ops) {
          apply(w, op, gen);
          const errs = w.b.k.checkInvariants();
          expect(errs, JSON.stringify(op)).toEqual([]);
        }
        for (const v of w.vmas) expect(v.presentPages).toBeGreaterThanOrEqual(v.touchedPages);
      }),
      runs,
    );
  });

  it('never grants a THP where sysfs, madvise or prctl forbid it', () => {
    fc.assert(
      fc.property(sysfsArb, opsArb(true, true), fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(ThpDisable.None, ThpDisable.ExceptAdvised, ThpDisable.Completely), (initial, ops, seed, disable) => {
        const w = world(initial, seed, disable);
        let x = 0.31;
        const gen = { next: () => (x = (x * 9301 + 0.49297) % 1) };
        for (const op of ops) apply(w, op, gen);
        for (const g of w.grants) expect(sysfsAllows(g), JSON.stringify({ ...g, sysfs: undefined })).toBe(true);
      }),
      runs,
    );
  });

  it('a hook can only narrow: every grant is in both the sysfs set and the hook result', () => {
    const values = [-1, 0, 2, 3, 4, 5, 9, 30];
    fc.assert(
      fc.property(
        sysfsArb,
        opsArb(true, true),
        fc.integer({ min: 1, max: 1e6 }),
        fc.constantFrom<HookAbi>('v8', 'v12'),
        fc.array(fc.constantFrom(...values), { minLength: 64, maxLength: 64 }),
        (initial, ops, seed, abi, table) => {
          const w = world(initial, seed);
          // A pure function of the input, so the test can recompute it for every grant.
          const h = (tva: number, advice: number, requested: number, leaf: number): number => table[(tva * 7 + advice * 3 + (requested >>> 9) * 5 + leaf) & 63]!;
          const hook: ThpHook = (i: HookInput) => h(i.tva, i.advice, i.requestedOrders, i.cgroupChain[0]!);
          w.b.k.setHook(hook, abi);
          let x = 0.77;
          const gen = { next: () => (x = (x * 9301 + 0.49297) % 1) };
          for (const op of ops) apply(w, op, gen);
          for (const g of w.grants) {
            expect(sysfsAllows(g)).toBe(true);
            const t = w.b.k.tasks[g.task]!;
            const requested = g.shmem ? -1 : g.order === PMD_ORDER || g.tva !== TvaType.Pagefault ? 1 << PMD_ORDER : (1 << PMD_ORDER) - 1;
            if (requested < 0) continue; // shmem requests depend on the sysfs mask; covered by the unit tests
            const mask = applyHookReturn(h(g.tva, g.advice, requested, t.chain[0]!), requested, abi);
            expect((mask >>> g.order) & 1, JSON.stringify({ order: g.order, tva: g.tva, abi })).toBe(1);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('a hook that leaves the request unchanged behaves exactly like no hook; a hook that returns 0 allows no THP', () => {
    fc.assert(
      fc.property(sysfsArb, opsArb(false, false), fc.integer({ min: 1, max: 1e6 }), fc.constantFrom<HookAbi>('v7', 'v12'), (initial, ops, seed, abi) => {
        const plain = world(initial, seed);
        const unchanged = world(initial, seed);
        const deny = world(initial, seed);
        unchanged.b.k.setHook(() => -1, abi);
        deny.b.k.setHook(() => 0, abi);
        for (const w of [plain, unchanged, deny]) {
          let x = 0.5;
          const gen = { next: () => (x = (x * 9301 + 0.49297) % 1) };
          for (const op of ops) apply(w, op, gen);
        }
        expect(Array.from(unchanged.b.k.vm)).toEqual(Array.from(plain.b.k.vm));
        expect(deny.grants).toHaveLength(0);
      }),
      { numRuns: 25 },
    );
  });

  it('enabled=never (per-size controls inherit or never) yields zero anonymous THP faults', () => {
    const inheritOrNever = fc.constantFrom('inherit', 'never' as const);
    fc.assert(
      fc.property(inheritOrNever, inheritOrNever, fc.constantFrom(...THP_DEFRAG_VALUES), opsArb(false, false), fc.integer({ min: 1, max: 1e6 }), (pmd, small, defrag, ops, seed) => {
        const w = world({ enabled: 'never', defrag, shmem_enabled: 'advise', hugepages: { 'hugepages-2048kB': { enabled: pmd }, 'hugepages-64kB': { enabled: small } } }, seed);
        let x = 0.13;
        const gen = { next: () => (x = (x * 9301 + 0.49297) % 1) };
        for (const op of ops) apply(w, op, gen);
        const k = w.b.k;
        expect(k.vm[V.thp_fault_alloc]).toBe(0);
        for (let order = 2; order <= PMD_ORDER; order++) expect(k.mthp[order * MTHP_STAT_COUNT + M.anon_fault_alloc]).toBe(0);
        expect(w.grants.filter((g) => !g.shmem)).toHaveLength(0);
      }),
      runs,
    );
  });
});
