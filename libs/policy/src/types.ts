/**
 * The hook contract shared by the reference evaluator, the simulator and the BPF program.
 *
 * Everything here is plain numbers so that the evaluator can run ten million decisions a
 * second without allocating, and so that the same layout can be written into BPF maps.
 * Constants come from reference/kernel-interface.md (section numbers in comments).
 */

/** x86-64 with 4 KiB pages: PMD order 9 = 2 MiB (kernel-interface.md 5.1). */
export const PMD_ORDER = 9;
/** Highest order a THP request can carry on x86-64 (PUD order, 1 GiB; never granted for anon). */
export const PUD_ORDER = 18;
/** Anonymous mTHP orders 2..9 (THP_ORDERS_ALL_ANON, kernel-interface.md 5.1). */
export const THP_ORDERS_ALL_ANON = ((1 << (PMD_ORDER + 1)) - 1) & ~0b11;

/** `enum tva_type`: mainline values 0..3 (kernel-interface.md 0.4); the series adds swap = 4. */
export const TvaType = {
  Smaps: 0,
  Pagefault: 1,
  Khugepaged: 2,
  ForcedCollapse: 3,
  /** TVA_SWAP (v7) / TVA_SWAP_PAGEFAULT (v8+): not in mainline; policies treat it as a page fault. */
  SwapPagefault: 4,
} as const;
export type TvaType = (typeof TvaType)[keyof typeof TvaType];

/** `enum bpf_thp_vma_type` (v7, kernel-interface.md 2.1): the VMA's madvise state. */
export const VmaAdvice = {
  None: 0,
  Hugepage: 1,
  Nohugepage: 2,
} as const;
export type VmaAdvice = (typeof VmaAdvice)[keyof typeof VmaAdvice];

/** Kernel ABI profiles of `bpf_thp_ops.thp_get_order` (kernel-interface.md 2.6, 7.1). */
export type HookAbi = 'v7' | 'v8' | 'v12';
export const HOOK_ABIS: readonly HookAbi[] = ['v7', 'v8', 'v12'];

/**
 * A decision is a plain number:
 *  - 0..PUD_ORDER: use exactly this order;
 *  - DECISION_UNCHANGED: leave the requested orders as they are;
 *  - DECISION_DENY: no THP for this call.
 */
export type Decision = number;
export const DECISION_UNCHANGED = -1;
export const DECISION_DENY = -2;

/** Default action of a compiled policy (stored in the tables header). */
export const DefaultAction = {
  Deny: 0,
  Allow: 1,
  Unchanged: 2,
} as const;
export type DefaultAction = (typeof DefaultAction)[keyof typeof DefaultAction];

/** Rules per policy: the per-cgroup rule set is a u32 bitmask, one bit per rule. */
export const MAX_RULES = 32;
/** Ancestors walked from the leaf cgroup (the leaf included) to find the nearest mapped id. */
export const MAX_CGROUP_DEPTH = 16;
/** A rule without a pressure gate stores this threshold: pressure can never exceed it. */
export const NO_PRESSURE_GATE = 0xffffffff;

/**
 * One compiled rule. Masks are bit sets: ctxMask over TvaType, adviceMask over VmaAdvice,
 * orders over THP orders. Pressure is memory PSI `some avg10` in hundredths of a percent
 * (20.00 % = 2000); the gate applies when pressure > pressureThreshold.
 */
export interface CompiledRule {
  readonly ctxMask: number;
  readonly adviceMask: number;
  readonly allowOrders: number;
  readonly pressureThreshold: number;
  readonly pressureOrders: number;
}

/**
 * The kernel tables for one node: what the BPF maps hold and what `decide` reads.
 * `cgroupRules` maps a cgroup id to the set of rules (bitmask, lowest bit = first rule)
 * whose globs match that cgroup or one of its ancestors; cgroups without an entry
 * inherit from their nearest mapped ancestor.
 */
export interface KernelTables {
  /** Increments on every full swap; the kernel reads one generation per decision. */
  readonly generation: number;
  readonly defaultAction: DefaultAction;
  readonly defaultOrders: number;
  readonly rules: readonly CompiledRule[];
  /**
   * Cgroup id -> u32 rule set. Ids are u64 in the kernel; here they are numbers, exact below
   * 2^53 (real ids are far smaller; `kernelTables` rejects unsafe ones). Treat as immutable:
   * `decide` caches a lookup index per tables object.
   */
  readonly cgroupRules: ReadonlyMap<number, number>;
}

/** What the hook sees for one call (leaf-to-root cgroup ids, tva type, advice, orders, PSI). */
export interface HookInput {
  readonly cgroupChain: ArrayLike<number>;
  readonly tva: TvaType;
  readonly advice: VmaAdvice;
  /** Bitmask of requested orders (the kernel's `orders` argument). */
  readonly requestedOrders: number;
  /** Memory PSI some avg10, hundredths of a percent. */
  readonly pressure: number;
}

/**
 * The hook as the simulator calls it: returns the raw value a BPF program would return
 * under the node's ABI (see `toHookReturn`); the caller applies the ABI's semantics.
 */
export type ThpHook = (input: HookInput) => number;
