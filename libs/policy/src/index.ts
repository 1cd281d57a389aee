/**
 * @thp-fleet/policy: the THP policy spec, its validation, canonical form and hash, diff,
 * compiler to kernel tables, and the reference evaluator. Pure TypeScript (no Node APIs):
 * it runs in the controller, the agent, the simulator and the browser.
 */
export * from './types.js';
export * from './abi.js';
export {
  API_VERSION,
  POLICY_KIND,
  ALLOCATION_CONTEXTS,
  VMA_ADVICE_NAMES,
  THP_ENABLED_MODES,
  THP_DEFRAG_MODES,
  SHMEM_ENABLED_MODES,
  HUGEPAGE_SIZE_MODES,
  WITHOUT_HOOK_MODES,
  MAX_PTES_NONE_LIMIT,
  PAGES_TO_SCAN_MAX,
  PolicyValidationError,
  type AllocationContext,
  type VmaAdviceName,
  type ThpEnabledMode,
  type ThpDefragMode,
  type ShmemEnabledMode,
  type HugepageSizeMode,
  type WithoutHookMode,
  type OrderSet,
  type DefaultActionSpec,
  type RuleMatch,
  type PressureGate,
  type PolicyRule,
  type KhugepagedSettings,
  type NodeSettings,
  type PolicySpec,
  type PolicyMetadata,
  type ThpPolicy,
  type PolicyIssue,
  type ValidationResult,
} from './spec.js';
export { PAGE_SIZE_KB, MIN_ANON_ORDER, parseThpSize, orderToKb, orderToSizeName, type SizeParse } from './sizes.js';
export { cgroupGlobMatcher, cgroupGlobProblems, cgroupPathProblem } from './glob.js';
export { validatePolicy } from './validate.js';
export { parsePolicy, MAX_POLICY_TEXT_LENGTH } from './parse.js';
export type { CanonicalPolicy, CanonicalRule, CanonicalDefault, CanonicalNode, CanonicalOrders } from './normalize.js';
export { canonicalize, policyHash, parseCanonical, normalizePolicy, type JsonValue } from './canonical.js';
export { diffPolicies, type DiffEntry } from './diff.js';
export { kernelTables, tablesDelta, type KernelTablesParts, type CgroupMapDelta, type TablesDelta } from './tables.js';
export { compilePolicy, CgroupRuleIndex, type CgroupRef } from './compile.js';
export { decide, makeHook } from './evaluator.js';
