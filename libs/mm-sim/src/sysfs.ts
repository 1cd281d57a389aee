/**
 * /sys/kernel/mm/transparent_hugepage as the simulator exposes it: the exact value sets of
 * kernel-interface.md 5.2 and 5.4, the kernel defaults, validation with the kernel's limits
 * (a bad write is an error naming the file and the value), and the order bitmaps the fault
 * path reads (`huge_anon_orders_always/madvise/inherit`, their shmem twins).
 */
import { PMD_ORDER } from '@thp-fleet/policy';

export const THP_ENABLED_VALUES = ['always', 'madvise', 'never'] as const;
export type ThpEnabled = (typeof THP_ENABLED_VALUES)[number];
export const THP_SIZE_ENABLED_VALUES = ['always', 'inherit', 'madvise', 'never'] as const;
export type ThpSizeEnabled = (typeof THP_SIZE_ENABLED_VALUES)[number];
export const THP_DEFRAG_VALUES = ['always', 'defer', 'defer+madvise', 'madvise', 'never'] as const;
export type ThpDefrag = (typeof THP_DEFRAG_VALUES)[number];
export const SHMEM_ENABLED_VALUES = ['always', 'within_size', 'advise', 'never', 'deny', 'force'] as const;
export type ShmemEnabled = (typeof SHMEM_ENABLED_VALUES)[number];
export const SHMEM_SIZE_ENABLED_VALUES = ['always', 'inherit', 'never', 'within_size', 'advise'] as const;
export type ShmemSizeEnabled = (typeof SHMEM_SIZE_ENABLED_VALUES)[number];

/** Orders with a `hugepages-<size>kB` directory: THP_ORDERS_ALL_ANON (2..9) | file default orders (1..9) (kif 5.1). */
export const SYSFS_SIZE_ORDERS: readonly number[] = Object.freeze([1, 2, 3, 4, 5, 6, 7, 8, 9]);
/** Lowest anonymous mTHP order (order 1 has only shmem controls). */
export const MIN_ANON_ORDER = 2;

/** `hugepages-<size>kB` for an order: size = (PAGE_SIZE << order) / 1024. */
export function sizeDirName(order: number): string {
  return `hugepages-${4 << order}kB`;
}
const ORDER_BY_DIR = new Map(SYSFS_SIZE_ORDERS.map((o) => [sizeDirName(o), o]));
/** The order of a `hugepages-<size>kB` directory name, or -1. */
export function orderOfSizeDir(name: string): number {
  return ORDER_BY_DIR.get(name) ?? -1;
}

export interface ThpSizeControls {
  /** Anonymous mTHP control; absent for order 1 (hugepages-8kB), which only has shmem_enabled. */
  readonly enabled?: ThpSizeEnabled;
  readonly shmem_enabled: ShmemSizeEnabled;
}

export interface KhugepagedControls {
  readonly defrag: 0 | 1;
  readonly pages_to_scan: number;
  readonly scan_sleep_millisecs: number;
  readonly alloc_sleep_millisecs: number;
  readonly max_ptes_none: number;
  readonly max_ptes_swap: number;
  readonly max_ptes_shared: number;
}

export interface ThpSysfs {
  readonly enabled: ThpEnabled;
  readonly defrag: ThpDefrag;
  readonly shmem_enabled: ShmemEnabled;
  readonly use_zero_page: 0 | 1;
  readonly shrink_underused: 0 | 1;
  /** Read-only: 2097152 on x86-64 (kif 5.1). */
  readonly hpage_pmd_size: number;
  /** Keyed by directory name, `hugepages-8kB` .. `hugepages-2048kB`. */
  readonly hugepages: Readonly<Record<string, ThpSizeControls>>;
  readonly khugepaged: KhugepagedControls;
}

export interface SysfsPatch {
  readonly enabled?: ThpEnabled;
  readonly defrag?: ThpDefrag;
  readonly shmem_enabled?: ShmemEnabled;
  readonly use_zero_page?: 0 | 1;
  readonly shrink_underused?: 0 | 1;
  readonly hugepages?: Readonly<Record<string, Partial<ThpSizeControls>>>;
  readonly khugepaged?: Partial<KhugepagedControls>;
}

/** Kernel defaults (kif 5.1, 5.2, 5.4; mech 1H). The top-level `enabled` default depends on the build; `madvise` is the common distribution choice. */
export function defaultSysfs(): ThpSysfs {
  const hugepages: Record<string, ThpSizeControls> = {};
  for (const order of SYSFS_SIZE_ORDERS) {
    const pmd = order === PMD_ORDER;
    hugepages[sizeDirName(order)] =
      order >= MIN_ANON_ORDER
        ? { enabled: pmd ? 'inherit' : 'never', shmem_enabled: pmd ? 'inherit' : 'never' }
        : { shmem_enabled: 'never' };
  }
  return {
    enabled: 'madvise',
    defrag: 'madvise',
    shmem_enabled: 'never',
    use_zero_page: 1,
    shrink_underused: 1,
    hpage_pmd_size: 2097152,
    hugepages,
    khugepaged: {
      defrag: 1,
      pages_to_scan: 4096,
      scan_sleep_millisecs: 10000,
      alloc_sleep_millisecs: 60000,
      max_ptes_none: 511,
      max_ptes_swap: 64,
      max_ptes_shared: 256,
    },
  };
}

export class SysfsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid THP sysfs write: ${problems.join('; ')}`);
    this.name = 'SysfsError';
  }
}

const UINT_MAX = 0xffffffff;

function oneOf<T extends string>(values: readonly T[], v: unknown, path: string, problems: string[]): v is T {
  if (typeof v === 'string' && (values as readonly string[]).includes(v)) return true;
  problems.push(`${path}: ${JSON.stringify(v)} is not one of ${values.join(' | ')}`);
  return false;
}

function intIn(v: unknown, lo: number, hi: number, path: string, problems: string[]): v is number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi) return true;
  problems.push(`${path}: ${JSON.stringify(v)} is not an integer in ${lo}..${hi}`);
  return false;
}

const KHUGEPAGED_LIMITS: Readonly<Record<keyof KhugepagedControls, readonly [number, number]>> = {
  defrag: [0, 1],
  // writing 0 gives -EINVAL (kif 5.4)
  pages_to_scan: [1, UINT_MAX],
  scan_sleep_millisecs: [0, UINT_MAX],
  alloc_sleep_millisecs: [0, UINT_MAX],
  // writes above HPAGE_PMD_NR - 1 give -EINVAL (kif 5.4)
  max_ptes_none: [0, 511],
  max_ptes_swap: [0, 511],
  max_ptes_shared: [0, 511],
};

/**
 * Applies a write to the current settings. Every bad value is reported (with its path), and
 * nothing is applied when any value is bad, like a set of sysfs writes that all fail.
 */
export function applySysfsPatch(current: ThpSysfs, patch: SysfsPatch): ThpSysfs {
  const problems: string[] = [];
  if (typeof patch !== 'object' || patch === null) throw new SysfsError([`patch: expected an object`]);
  const known = new Set(['enabled', 'defrag', 'shmem_enabled', 'use_zero_page', 'shrink_underused', 'hugepages', 'khugepaged', 'hpage_pmd_size']);
  for (const key of Object.keys(patch)) {
    if (!known.has(key)) problems.push(`${key}: no such file in /sys/kernel/mm/transparent_hugepage`);
  }
  if ('hpage_pmd_size' in patch) problems.push('hpage_pmd_size: read-only');
  let next: ThpSysfs = current;
  const set = <K extends keyof ThpSysfs>(key: K, value: ThpSysfs[K]): void => {
    next = { ...next, [key]: value };
  };
  if (patch.enabled !== undefined && oneOf(THP_ENABLED_VALUES, patch.enabled, 'enabled', problems)) set('enabled', patch.enabled);
  if (patch.defrag !== undefined && oneOf(THP_DEFRAG_VALUES, patch.defrag, 'defrag', problems)) set('defrag', patch.defrag);
  if (patch.shmem_enabled !== undefined && oneOf(SHMEM_ENABLED_VALUES, patch.shmem_enabled, 'shmem_enabled', problems)) {
    set('shmem_enabled', patch.shmem_enabled);
  }
  if (patch.use_zero_page !== undefined && intIn(patch.use_zero_page, 0, 1, 'use_zero_page', problems)) set('use_zero_page', patch.use_zero_page);
  if (patch.shrink_underused !== undefined && intIn(patch.shrink_underused, 0, 1, 'shrink_underused', problems)) {
    set('shrink_underused', patch.shrink_underused);
  }
  if (patch.hugepages !== undefined) {
    const sizes: Record<string, ThpSizeControls> = { ...next.hugepages };
    for (const [dir, controls] of Object.entries(patch.hugepages)) {
      const order = orderOfSizeDir(dir);
      const base = sizes[dir];
      if (order < 0 || base === undefined) {
        problems.push(`hugepages.${dir}: no such directory (sizes are ${SYSFS_SIZE_ORDERS.map(sizeDirName).join(', ')})`);
        continue;
      }
      let merged: ThpSizeControls = base;
      for (const key of Object.keys(controls)) {
        if (key !== 'enabled' && key !== 'shmem_enabled') problems.push(`hugepages.${dir}.${key}: no such file`);
      }
      if (controls.enabled !== undefined) {
        if (order < MIN_ANON_ORDER) problems.push(`hugepages.${dir}.enabled: no such file (order ${order} has no anonymous THP)`);
        else if (oneOf(THP_SIZE_ENABLED_VALUES, controls.enabled, `hugepages.${dir}.enabled`, problems)) merged = { ...merged, enabled: controls.enabled };
      }
      if (controls.shmem_enabled !== undefined && oneOf(SHMEM_SIZE_ENABLED_VALUES, controls.shmem_enabled, `hugepages.${dir}.shmem_enabled`, problems)) {
        merged = { ...merged, shmem_enabled: controls.shmem_enabled };
      }
      sizes[dir] = merged;
    }
    set('hugepages', sizes);
  }
  if (patch.khugepaged !== undefined) {
    let k: KhugepagedControls = next.khugepaged;
    for (const [key, value] of Object.entries(patch.khugepaged) as [keyof KhugepagedControls, unknown][]) {
      const limits = KHUGEPAGED_LIMITS[key] as readonly [number, number] | undefined;
      if (limits === undefined) {
        problems.push(`khugepaged.${String(key)}: no such file`);
        continue;
      }
      if (intIn(value, limits[0], limits[1], `khugepaged.${key}`, problems)) k = { ...k, [key]: value };
    }
    set('khugepaged', k);
  }
  if (problems.length > 0) throw new SysfsError(problems);
  return next;
}

/** The text a read of a choice file returns, e.g. `always [madvise] never` (kif 5.2). */
export function formatChoice<T extends string>(values: readonly T[], current: T): string {
  return values.map((v) => (v === current ? `[${v}]` : v)).join(' ');
}

/** Every file under /sys/kernel/mm/transparent_hugepage with the text a read returns. */
export function sysfsFiles(s: ThpSysfs): Record<string, string> {
  const files: Record<string, string> = {
    enabled: formatChoice(THP_ENABLED_VALUES, s.enabled),
    defrag: formatChoice(THP_DEFRAG_VALUES, s.defrag),
    shmem_enabled: formatChoice(SHMEM_ENABLED_VALUES, s.shmem_enabled),
    use_zero_page: String(s.use_zero_page),
    shrink_underused: String(s.shrink_underused),
    hpage_pmd_size: String(s.hpage_pmd_size),
  };
  for (const [dir, c] of Object.entries(s.hugepages)) {
    if (c.enabled !== undefined) files[`${dir}/enabled`] = formatChoice(THP_SIZE_ENABLED_VALUES, c.enabled);
    files[`${dir}/shmem_enabled`] = formatChoice(SHMEM_SIZE_ENABLED_VALUES, c.shmem_enabled);
  }
  for (const [key, value] of Object.entries(s.khugepaged)) files[`khugepaged/${key}`] = String(value);
  return files;
}

/** Defrag mode as a small integer for the hot path. */
export const DefragMode = { Always: 0, Defer: 1, DeferMadvise: 2, Madvise: 3, Never: 4 } as const;
export type DefragMode = (typeof DefragMode)[keyof typeof DefragMode];
export const GlobalMode = { Never: 0, Madvise: 1, Always: 2 } as const;
export type GlobalMode = (typeof GlobalMode)[keyof typeof GlobalMode];
export const ShmemMode = { Never: 0, Always: 1, WithinSize: 2, Advise: 3, Deny: 4, Force: 5 } as const;
export type ShmemMode = (typeof ShmemMode)[keyof typeof ShmemMode];

/** The bitmaps and modes the kernel derives from the sysfs files (kif 5.1, 5.3). */
export interface SysfsMasks {
  readonly global: GlobalMode;
  readonly defrag: DefragMode;
  readonly anonAlways: number;
  readonly anonMadvise: number;
  readonly anonInherit: number;
  readonly shmemGlobal: ShmemMode;
  readonly shmemAlways: number;
  readonly shmemInherit: number;
  readonly shmemWithinSize: number;
  readonly shmemAdvise: number;
}

export function computeMasks(s: ThpSysfs): SysfsMasks {
  let anonAlways = 0;
  let anonMadvise = 0;
  let anonInherit = 0;
  let shmemAlways = 0;
  let shmemInherit = 0;
  let shmemWithinSize = 0;
  let shmemAdvise = 0;
  for (const order of SYSFS_SIZE_ORDERS) {
    const c = s.hugepages[sizeDirName(order)];
    if (c === undefined) continue;
    const b = 1 << order;
    switch (c.enabled) {
      case 'always':
        anonAlways |= b;
        break;
      case 'madvise':
        anonMadvise |= b;
        break;
      case 'inherit':
        anonInherit |= b;
        break;
      case 'never':
      case undefined:
        break;
    }
    switch (c.shmem_enabled) {
      case 'always':
        shmemAlways |= b;
        break;
      case 'inherit':
        shmemInherit |= b;
        break;
      case 'within_size':
        shmemWithinSize |= b;
        break;
      case 'advise':
        shmemAdvise |= b;
        break;
      case 'never':
        break;
    }
  }
  const global = s.enabled === 'always' ? GlobalMode.Always : s.enabled === 'madvise' ? GlobalMode.Madvise : GlobalMode.Never;
  const defragModes: Record<ThpDefrag, DefragMode> = {
    always: DefragMode.Always,
    defer: DefragMode.Defer,
    'defer+madvise': DefragMode.DeferMadvise,
    madvise: DefragMode.Madvise,
    never: DefragMode.Never,
  };
  const shmemModes: Record<ShmemEnabled, ShmemMode> = {
    always: ShmemMode.Always,
    within_size: ShmemMode.WithinSize,
    advise: ShmemMode.Advise,
    never: ShmemMode.Never,
    deny: ShmemMode.Deny,
    force: ShmemMode.Force,
  };
  return {
    global,
    defrag: defragModes[s.defrag],
    anonAlways,
    anonMadvise,
    anonInherit,
    shmemGlobal: shmemModes[s.shmem_enabled],
    shmemAlways,
    shmemInherit,
    shmemWithinSize,
    shmemAdvise,
  };
}

/**
 * `huge_anon_orders_always | (VM_HUGEPAGE ? madvise : 0) | (global always || (VM_HUGEPAGE &&
 * global enabled) ? inherit : 0)`: the sysfs mask of `thp_vma_allowable_orders()` (kif 5.3).
 */
export function anonSysfsMask(m: SysfsMasks, vmHugepage: boolean): number {
  let mask = m.anonAlways;
  if (vmHugepage) mask |= m.anonMadvise;
  if (m.global === GlobalMode.Always || (vmHugepage && m.global !== GlobalMode.Never)) mask |= m.anonInherit;
  return mask;
}

/**
 * Orders shmem may allocate huge for a VMA (`shmem_allowable_huge_orders`, simplified to a
 * memfd/internal-mount mapping that covers its whole file, so `within_size` always fits).
 */
export function shmemSysfsMask(m: SysfsMasks, vmHugepage: boolean): number {
  if (m.shmemGlobal === ShmemMode.Deny) return 0;
  if (m.shmemGlobal === ShmemMode.Force) return m.shmemAlways | m.shmemInherit | m.shmemWithinSize | m.shmemAdvise | (1 << PMD_ORDER);
  let mask = m.shmemAlways | m.shmemWithinSize;
  if (vmHugepage) mask |= m.shmemAdvise;
  const inheritOn =
    m.shmemGlobal === ShmemMode.Always || m.shmemGlobal === ShmemMode.WithinSize || (m.shmemGlobal === ShmemMode.Advise && vmHugepage);
  if (inheritOn) mask |= m.shmemInherit;
  return mask;
}

/** khugepaged runs when PMD THP is enabled for anon (always/madvise, directly or inherited) or for shmem (kif 5.4). */
export function hugepagePmdEnabled(m: SysfsMasks): boolean {
  const b = 1 << PMD_ORDER;
  if ((m.anonAlways | m.anonMadvise) & b) return true;
  if (m.anonInherit & b && m.global !== GlobalMode.Never) return true;
  if ((m.shmemAlways | m.shmemWithinSize | m.shmemAdvise) & b) return true;
  if (m.shmemInherit & b && m.shmemGlobal !== ShmemMode.Never && m.shmemGlobal !== ShmemMode.Deny) return true;
  return m.shmemGlobal === ShmemMode.Force;
}
