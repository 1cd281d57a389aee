/**
 * The explicit (canonical) shape of a policy: every default written out, sizes turned into
 * orders, sets sorted and de-duplicated, and constructs that mean the same thing folded into
 * one spelling. Two policies that decide every call the same way, with the same names and
 * node settings, normalise to deep-equal objects.
 *
 * This module assumes a validated policy; `normalizePolicy` in canonical.ts validates first.
 */
import { orderToSizeName, parseThpSize } from './sizes.js';
import {
  ALLOCATION_CONTEXTS,
  VMA_ADVICE_NAMES,
  type AllocationContext,
  type HugepageSizeMode,
  type KhugepagedSettings,
  type NodeSettings,
  type OrderSet,
  type PolicyRule,
  type ThpPolicy,
  type VmaAdviceName,
  type WithoutHookMode,
} from './spec.js';

export interface CanonicalOrders {
  /** Sorted ascending, unique. */
  readonly orders: readonly number[];
}

/** `allow` with no orders is folded into `deny`: both deny every call. */
export type CanonicalDefault =
  | { readonly action: 'deny' }
  | { readonly action: 'unchanged' }
  | ({ readonly action: 'allow' } & CanonicalOrders);

export interface CanonicalRule extends PolicyRule {
  readonly match: {
    /** Sorted, unique. */
    readonly cgroups: readonly string[];
    /** In ALLOCATION_CONTEXTS order; all four when the author omitted the field. */
    readonly contexts: readonly AllocationContext[];
    /** In VMA_ADVICE_NAMES order; all three when the author omitted the field. */
    readonly advice: readonly VmaAdviceName[];
  };
  readonly allow: CanonicalOrders;
  /** Absent when the author gave none or when it grants the same orders as `allow`. */
  readonly underPressure?: { readonly memorySomeAvg10Above: number } & CanonicalOrders;
}

export interface CanonicalNode extends NodeSettings {
  /** Keys are the kernel's `<n>kB` spelling; absent when empty. */
  readonly hugepages?: Readonly<Record<string, HugepageSizeMode>>;
  /** Absent when empty. */
  readonly khugepaged?: KhugepagedSettings;
  readonly withoutHook: WithoutHookMode;
}

/** A policy in canonical shape (what `canonicalize` serialises and `parseCanonical` returns). */
export interface CanonicalPolicy extends ThpPolicy {
  readonly metadata: { readonly name: string; readonly description: string };
  readonly spec: {
    readonly default: CanonicalDefault;
    readonly rules: readonly CanonicalRule[];
    readonly node: CanonicalNode;
  };
}

/** Sorted unique orders of an order set. Throws on a size that is not a THP size. */
export function orderSetToOrders(set: OrderSet): number[] {
  const orders =
    'orders' in set
      ? [...set.orders]
      : set.sizes.map((s) => {
          const parsed = parseThpSize(s);
          if (!parsed.ok) throw new RangeError(parsed.message);
          return parsed.order;
        });
  return [...new Set(orders)].sort((a, b) => a - b);
}

/** Percent with two decimals, the resolution of PSI avg10 (hundredths of a percent). */
export function normalizeThreshold(percent: number): number {
  return Math.round(percent * 100) / 100 || 0; // `|| 0` turns -0 into 0
}

function sortedUnique<T extends string>(values: readonly T[], order: readonly T[]): T[] {
  return order.filter((v) => values.includes(v));
}

function sameOrders(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The canonical form of one validated rule. */
export function normalizeRule(rule: PolicyRule): CanonicalRule {
  const allow = orderSetToOrders(rule.allow);
  const gate = rule.underPressure;
  const gateOrders = gate === undefined ? undefined : orderSetToOrders(gate);
  const match = {
    cgroups: [...new Set(rule.match.cgroups)].sort(),
    contexts: rule.match.contexts === undefined ? [...ALLOCATION_CONTEXTS] : sortedUnique(rule.match.contexts, ALLOCATION_CONTEXTS),
    advice: rule.match.advice === undefined ? [...VMA_ADVICE_NAMES] : sortedUnique(rule.match.advice, VMA_ADVICE_NAMES),
  };
  return gate === undefined || gateOrders === undefined || sameOrders(gateOrders, allow)
    ? { name: rule.name, match, allow: { orders: allow } }
    : {
        name: rule.name,
        match,
        allow: { orders: allow },
        underPressure: { memorySomeAvg10Above: normalizeThreshold(gate.memorySomeAvg10Above), orders: gateOrders },
      };
}

function normalizeNode(node: NodeSettings | undefined): CanonicalNode {
  const out: {
    -readonly [K in keyof CanonicalNode]: CanonicalNode[K];
  } = { withoutHook: node?.withoutHook ?? 'deny' };
  if (node?.enabled !== undefined) out.enabled = node.enabled;
  if (node?.defrag !== undefined) out.defrag = node.defrag;
  if (node?.shmemEnabled !== undefined) out.shmemEnabled = node.shmemEnabled;
  if (node?.hugepages !== undefined) {
    const sizes: [string, HugepageSizeMode][] = [];
    for (const [size, mode] of Object.entries(node.hugepages)) {
      const parsed = parseThpSize(size);
      if (!parsed.ok) throw new RangeError(parsed.message);
      sizes.push([orderToSizeName(parsed.order), mode]);
    }
    if (sizes.length > 0) out.hugepages = Object.fromEntries(sizes.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  const k = node?.khugepaged;
  if (k !== undefined && (k.maxPtesNone !== undefined || k.pagesToScan !== undefined)) {
    out.khugepaged = {
      ...(k.maxPtesNone === undefined ? {} : { maxPtesNone: k.maxPtesNone }),
      ...(k.pagesToScan === undefined ? {} : { pagesToScan: k.pagesToScan }),
    };
  }
  return out;
}

/** The canonical shape of a policy that has already passed validation. */
export function normalizeValidated(policy: ThpPolicy): CanonicalPolicy {
  const d = policy.spec.default;
  let def: CanonicalDefault;
  if (d.action === 'allow') {
    const orders = orderSetToOrders(d);
    def = orders.length === 0 ? { action: 'deny' } : { action: 'allow', orders };
  } else {
    def = { action: d.action };
  }
  return {
    apiVersion: policy.apiVersion,
    kind: policy.kind,
    metadata: { name: policy.metadata.name, description: policy.metadata.description ?? '' },
    spec: { default: def, rules: policy.spec.rules.map(normalizeRule), node: normalizeNode(policy.spec.node) },
  };
}
