/**
 * Counter names exactly as the kernel prints them: /proc/vmstat events (kif 5.5, mm/vmstat.c)
 * and the per-size files of hugepages-<size>kB/stats/ (kif 5.6). Counters are stored in
 * Float64Arrays indexed by the position of the name in these lists.
 */

/** Event counters of /proc/vmstat the simulator produces (monotonic). */
export const VMSTAT_EVENTS = [
  'pgfault',
  'pgmajfault',
  'pgalloc_normal',
  'pgfree',
  'allocstall_normal',
  'pgscan_kswapd',
  'pgscan_direct',
  'pgsteal_kswapd',
  'pgsteal_direct',
  'pgsteal_file',
  'workingset_refault_file',
  'pgmigrate_success',
  'pgmigrate_fail',
  'compact_migrate_scanned',
  'compact_free_scanned',
  'compact_isolated',
  'compact_stall',
  'compact_fail',
  'compact_success',
  'compact_daemon_wake',
  'compact_daemon_migrate_scanned',
  'compact_daemon_free_scanned',
  'thp_fault_alloc',
  'thp_fault_fallback',
  'thp_fault_fallback_charge',
  'thp_collapse_alloc',
  'thp_collapse_alloc_failed',
  'thp_file_alloc',
  'thp_file_fallback',
  'thp_file_fallback_charge',
  'thp_file_mapped',
  'thp_split_page',
  'thp_split_page_failed',
  'thp_deferred_split_page',
  'thp_underused_split_page',
  'thp_split_pmd',
  'thp_scan_exceed_none_pte',
  'thp_scan_exceed_swap_pte',
  'thp_scan_exceed_share_pte',
  'thp_zero_page_alloc',
  'thp_zero_page_alloc_failed',
  'thp_swpout',
  'thp_swpout_fallback',
  'oom_kill',
] as const;
export type VmstatEvent = (typeof VMSTAT_EVENTS)[number];

/** Gauges of /proc/vmstat (pages), computed when a snapshot is taken. */
export const VMSTAT_GAUGES = [
  'nr_free_pages',
  'nr_anon_pages',
  'nr_mapped',
  'nr_file_pages',
  'nr_shmem',
  'nr_shmem_hugepages',
  'nr_shmem_pmdmapped',
  'nr_anon_transparent_hugepages',
  'nr_page_table_pages',
  'nr_slab_reclaimable',
  'nr_slab_unreclaimable',
  'nr_active_file',
  'nr_inactive_file',
] as const;
export type VmstatGauge = (typeof VMSTAT_GAUGES)[number];

function indexOf<T extends string>(list: readonly T[]): Readonly<Record<T, number>> {
  const out = {} as Record<T, number>;
  list.forEach((name, i) => (out[name] = i));
  return out;
}

/** Index of each vmstat event in the counter array. */
export const V = indexOf(VMSTAT_EVENTS);

/** Files of hugepages-<size>kB/stats/ (6.18 set, kif 5.6). Swap and zswap are not simulated and stay 0. */
export const MTHP_STATS = [
  'anon_fault_alloc',
  'anon_fault_fallback',
  'anon_fault_fallback_charge',
  'zswpout',
  'swpin',
  'swpin_fallback',
  'swpin_fallback_charge',
  'swpout',
  'swpout_fallback',
  'shmem_alloc',
  'shmem_fallback',
  'shmem_fallback_charge',
  'split',
  'split_failed',
  'split_deferred',
  'nr_anon',
  'nr_anon_partially_mapped',
] as const;
export type MthpStat = (typeof MTHP_STATS)[number];
export const M = indexOf(MTHP_STATS);
export const MTHP_STAT_COUNT = MTHP_STATS.length;
/** Stats present only for anonymous orders (anon_stats_attrs + 6.18 swap-in files). */
export const ANON_ONLY_STATS: ReadonlySet<MthpStat> = new Set([
  'anon_fault_alloc',
  'anon_fault_fallback',
  'anon_fault_fallback_charge',
  'zswpout',
  'swpin',
  'swpin_fallback',
  'swpin_fallback_charge',
  'split_deferred',
  'nr_anon',
  'nr_anon_partially_mapped',
]);
/** Stats present only for file/shmem orders (file_stats_attrs). */
export const FILE_ONLY_STATS: ReadonlySet<MthpStat> = new Set(['shmem_alloc', 'shmem_fallback', 'shmem_fallback_charge']);

/** Per-cgroup memory.stat items (bytes or events) the simulator keeps. */
export const CGROUP_STATS = [
  'anon',
  'file',
  'shmem',
  'pagetables',
  'slab',
  'anon_thp',
  'shmem_thp',
  'thp_fault_alloc',
  'thp_collapse_alloc',
  'pgfault',
  'workingset_refault_file',
  'memory_max_events',
] as const;
export type CgroupStat = (typeof CGROUP_STATS)[number];
export const C = indexOf(CGROUP_STATS);
export const CGROUP_STAT_COUNT = CGROUP_STATS.length;
