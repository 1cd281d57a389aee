/**
 * The policy spec `apiVersion: thp.fleet/v1, kind: ThpPolicy` (DESIGN.md section 3), as a
 * validated document. Values keep the author's spelling (sizes or orders, omitted optional
 * fields); `normalizePolicy` in canonical.ts gives the explicit form.
 */

export const API_VERSION = 'thp.fleet/v1';
export const POLICY_KIND = 'ThpPolicy';

/**
 * Allocation contexts a rule can match, in canonical order (the `enum tva_type` value order,
 * kernel-interface.md 0.4). `pagefault` also covers the series' swap-in fault (TVA_SWAP /
 * TVA_SWAP_PAGEFAULT = 4), which mainline reports as a page fault (kernel-interface.md 2.7).
 */
export const ALLOCATION_CONTEXTS = ['smaps', 'pagefault', 'khugepaged', 'forced_collapse'] as const;
export type AllocationContext = (typeof ALLOCATION_CONTEXTS)[number];

/** VMA madvise states a rule can match, in canonical order (`enum bpf_thp_vma_type` values 0..2). */
export const VMA_ADVICE_NAMES = ['none', 'hugepage', 'nohugepage'] as const;
export type VmaAdviceName = (typeof VMA_ADVICE_NAMES)[number];

/** `/sys/kernel/mm/transparent_hugepage/enabled` values (kernel-interface.md 5.2). */
export const THP_ENABLED_MODES = ['always', 'madvise', 'never'] as const;
export type ThpEnabledMode = (typeof THP_ENABLED_MODES)[number];

/** `.../transparent_hugepage/defrag` values (kernel-interface.md 5.2). */
export const THP_DEFRAG_MODES = ['always', 'defer', 'defer+madvise', 'madvise', 'never'] as const;
export type ThpDefragMode = (typeof THP_DEFRAG_MODES)[number];

/** `.../transparent_hugepage/shmem_enabled` values (kernel-interface.md 5.2). */
export const SHMEM_ENABLED_MODES = ['always', 'within_size', 'advise', 'never', 'deny', 'force'] as const;
export type ShmemEnabledMode = (typeof SHMEM_ENABLED_MODES)[number];

/** `.../hugepages-<size>kB/enabled` values (kernel-interface.md 5.2). */
export const HUGEPAGE_SIZE_MODES = ['always', 'inherit', 'madvise', 'never'] as const;
export type HugepageSizeMode = (typeof HUGEPAGE_SIZE_MODES)[number];

/**
 * What the agent does on a kernel without `bpf_thp_ops`: `deny` reports the policy as
 * incompatible and changes nothing; `node-level` applies only the node section.
 */
export const WITHOUT_HOOK_MODES = ['deny', 'node-level'] as const;
export type WithoutHookMode = (typeof WITHOUT_HOOK_MODES)[number];

/** Highest `khugepaged/max_ptes_none`: HPAGE_PMD_NR - 1 = 511 (kernel-interface.md 5.4). */
export const MAX_PTES_NONE_LIMIT = 511;
/** `khugepaged/pages_to_scan` is an unsigned int and 0 gives -EINVAL (kernel-interface.md 5.4). */
export const PAGES_TO_SCAN_MAX = 0xffffffff;

/** A set of THP orders, spelled as order numbers or as sizes ("2M", "64K", "2048kB"). `[]` = none. */
export type OrderSet = { readonly orders: readonly number[] } | { readonly sizes: readonly string[] };

/** `spec.default`: what happens when no rule matches. */
export type DefaultActionSpec =
  | { readonly action: 'deny' }
  | { readonly action: 'unchanged' }
  | ({ readonly action: 'allow' } & OrderSet);

export interface RuleMatch {
  /** Absolute cgroup v2 path globs; a match covers the cgroup's whole subtree. */
  readonly cgroups: readonly string[];
  /** Allocation contexts; omitted = all. */
  readonly contexts?: readonly AllocationContext[];
  /** VMA madvise states; omitted = all. */
  readonly advice?: readonly VmaAdviceName[];
}

/** Optional pressure gate: above the threshold the rule grants these orders instead. */
export type PressureGate = {
  /** Memory PSI `some avg10` in percent, 0..100, at most two decimals. */
  readonly memorySomeAvg10Above: number;
} & OrderSet;

export interface PolicyRule {
  readonly name: string;
  readonly match: RuleMatch;
  readonly allow: OrderSet;
  readonly underPressure?: PressureGate;
}

export interface KhugepagedSettings {
  /** `khugepaged/max_ptes_none`, 0..511. */
  readonly maxPtesNone?: number;
  /** `khugepaged/pages_to_scan`, >= 1. */
  readonly pagesToScan?: number;
}

/**
 * `spec.node`: the sysfs settings the policy needs (issue 9). Omitted fields are left as the
 * node has them. `hugepages` keys are sizes of anonymous THP orders (16kB..2048kB).
 */
export interface NodeSettings {
  readonly enabled?: ThpEnabledMode;
  readonly defrag?: ThpDefragMode;
  readonly shmemEnabled?: ShmemEnabledMode;
  readonly hugepages?: Readonly<Record<string, HugepageSizeMode>>;
  readonly khugepaged?: KhugepagedSettings;
  /** Default `deny`. */
  readonly withoutHook?: WithoutHookMode;
}

export interface PolicySpec {
  readonly default: DefaultActionSpec;
  /** Ordered: the first matching rule decides. At most MAX_RULES. */
  readonly rules: readonly PolicyRule[];
  readonly node?: NodeSettings;
}

export interface PolicyMetadata {
  readonly name: string;
  readonly description?: string;
}

/** A validated `thp.fleet/v1` `ThpPolicy` document. */
export interface ThpPolicy {
  readonly apiVersion: typeof API_VERSION;
  readonly kind: typeof POLICY_KIND;
  readonly metadata: PolicyMetadata;
  readonly spec: PolicySpec;
}

/** One validation finding. `line`/`column` (1-based) are set when the input was text. */
export interface PolicyIssue {
  /** Where, e.g. `spec.rules[1].allow.orders[0]`; "" for the whole document. */
  readonly path: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  readonly line?: number;
  readonly column?: number;
}

/** Outcome of `parsePolicy` / `validatePolicy`: every error, never just the first. */
export type ValidationResult =
  | { readonly ok: true; readonly policy: ThpPolicy; readonly warnings: readonly PolicyIssue[] }
  | { readonly ok: false; readonly errors: readonly PolicyIssue[]; readonly warnings: readonly PolicyIssue[] };

/** Thrown by functions that need a valid policy (canonicalize, compilePolicy, ...) when given an invalid one. */
export class PolicyValidationError extends Error {
  readonly issues: readonly PolicyIssue[];
  constructor(issues: readonly PolicyIssue[]) {
    const shown = issues
      .slice(0, 3)
      .map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`))
      .join('; ');
    super(`invalid policy: ${shown}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`);
    this.name = 'PolicyValidationError';
    this.issues = issues;
  }
}
