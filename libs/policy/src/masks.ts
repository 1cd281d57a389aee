/**
 * From canonical rules to the bit masks of the decision contract (/work/briefs/semantics.md):
 * ctxMask bit = TvaType value, adviceMask bit = VmaAdvice value, orders bit k = order k,
 * pressure in hundredths of a percent.
 */
import { bit } from './abi.js';
import type { CanonicalDefault, CanonicalRule } from './normalize.js';
import type { AllocationContext, VmaAdviceName } from './spec.js';
import { DefaultAction, NO_PRESSURE_GATE, TvaType, VmaAdvice, type CompiledRule } from './types.js';

/**
 * TVA bits per policy context. `pagefault` also sets TVA_SWAP / TVA_SWAP_PAGEFAULT (4): the
 * series splits swap-in faults out of TVA_PAGEFAULT (kernel-interface.md 2.7), and a policy
 * that governs faults must govern them too.
 */
const CONTEXT_BITS: Readonly<Record<AllocationContext, number>> = {
  smaps: bit(TvaType.Smaps),
  pagefault: bit(TvaType.Pagefault) | bit(TvaType.SwapPagefault),
  khugepaged: bit(TvaType.Khugepaged),
  forced_collapse: bit(TvaType.ForcedCollapse),
};

const ADVICE_BITS: Readonly<Record<VmaAdviceName, number>> = {
  none: bit(VmaAdvice.None),
  hugepage: bit(VmaAdvice.Hugepage),
  nohugepage: bit(VmaAdvice.Nohugepage),
};

export function contextMask(contexts: readonly AllocationContext[]): number {
  let mask = 0;
  for (const c of contexts) mask |= CONTEXT_BITS[c];
  return mask;
}

export function adviceMask(advice: readonly VmaAdviceName[]): number {
  let mask = 0;
  for (const a of advice) mask |= ADVICE_BITS[a];
  return mask;
}

export function ordersMask(orders: readonly number[]): number {
  let mask = 0;
  for (const o of orders) mask |= bit(o);
  return mask >>> 0;
}

/** Memory PSI `some avg10` percent -> hundredths of a percent (20 -> 2000). */
export function pressureHundredths(percent: number): number {
  return Math.round(percent * 100);
}

/** One canonical rule as the kernel tables hold it. Without a gate, pressureOrders = allowOrders. */
export function compileRule(rule: CanonicalRule): CompiledRule {
  const allowOrders = ordersMask(rule.allow.orders);
  const gate = rule.underPressure;
  return Object.freeze({
    ctxMask: contextMask(rule.match.contexts),
    adviceMask: adviceMask(rule.match.advice),
    allowOrders,
    pressureThreshold: gate === undefined ? NO_PRESSURE_GATE : pressureHundredths(gate.memorySomeAvg10Above),
    pressureOrders: gate === undefined ? allowOrders : ordersMask(gate.orders),
  });
}

/** The tables header for a canonical default action. */
export function compileDefault(def: CanonicalDefault): { defaultAction: DefaultAction; defaultOrders: number } {
  switch (def.action) {
    case 'deny':
      return { defaultAction: DefaultAction.Deny, defaultOrders: 0 };
    case 'unchanged':
      return { defaultAction: DefaultAction.Unchanged, defaultOrders: 0 };
    case 'allow':
      return { defaultAction: DefaultAction.Allow, defaultOrders: ordersMask(def.orders) };
  }
}
