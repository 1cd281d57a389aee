/**
 * @thp-fleet/mm-sim: a deterministic, kernel-faithful simulator of one node's THP behaviour.
 * See docs/simulator.md for the model, its constants and their sources.
 */
export { createNode, type NodeConfig, type SimNode, type WorkloadInfo, type MadviseAdvice, type MadviseResult } from './node.js';
export type { NodeMetrics, WorkloadMetrics, CgroupMetrics } from './metrics.js';
export type { HistogramSnapshot } from './histogram.js';
export type { PsiLine, PsiSnapshot } from './psi.js';
export type { CgroupInfo } from './cgroups.js';
export type { ThpGrant } from './kernel.js';
export {
  defaultSysfs,
  applySysfsPatch,
  sysfsFiles,
  formatChoice,
  sizeDirName,
  SysfsError,
  THP_ENABLED_VALUES,
  THP_SIZE_ENABLED_VALUES,
  THP_DEFRAG_VALUES,
  SHMEM_ENABLED_VALUES,
  SHMEM_SIZE_ENABLED_VALUES,
  SYSFS_SIZE_ORDERS,
  type ThpSysfs,
  type SysfsPatch,
  type ThpSizeControls,
  type KhugepagedControls,
  type ThpEnabled,
  type ThpSizeEnabled,
  type ThpDefrag,
  type ShmemEnabled,
  type ShmemSizeEnabled,
} from './sysfs.js';
export { VMSTAT_EVENTS, VMSTAT_GAUGES, MTHP_STATS, CGROUP_STATS, type VmstatEvent, type VmstatGauge, type MthpStat, type CgroupStat } from './counters.js';
export { FAULT_LATENCY_BOUNDS_US, REQUEST_LATENCY_BOUNDS_US } from './constants.js';
export { standardWorkloadMix, WORKLOAD_KINDS, WORKLOAD_DEFAULTS, type WorkloadKind, type WorkloadSpec } from './workloads.js';
export {
  POLICIES,
  SCENARIOS,
  cgroupAllowHook,
  createScenarioNode,
  runScenario,
  type PolicyDefinition,
  type ScenarioDefinition,
  type RunOptions,
} from './scenarios.js';
export { tlbCost, type TlbResult } from './tlb.js';
export { Rng, deriveSeed } from './rng.js';
