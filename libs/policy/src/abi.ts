/**
 * Kernel ABI semantics of `bpf_thp_ops.thp_get_order`: how a decision becomes the value a
 * BPF program returns (`toHookReturn`), and what each kernel version does with that value
 * (`applyHookReturn`). Source: reference/kernel-interface.md section 2.6 (the table) and
 * section 7.2 ("a safe policy encoding returns an order present in `orders`, or 0").
 *
 * Order masks are plain numbers: bit k = order k. Orders above 30 never occur in a request
 * (the largest is PUD_ORDER = 18), so `bit()` treats them as an empty mask.
 */
import { DECISION_DENY, DECISION_UNCHANGED, type Decision, type HookAbi } from './types.js';

/** `BIT(k)` for the orders a request can carry; 0 for shifts outside 0..30. */
export function bit(order: number): number {
  return order >= 0 && order <= 30 ? 1 << order : 0;
}

/** `highest_order(mask)`: index of the top set bit, or -1 for an empty mask. */
export function highestOrder(mask: number): number {
  return mask === 0 ? -1 : 31 - Math.clz32(mask);
}

/**
 * The value the hook returns for `decision` under `abi`.
 *
 * - An order is returned as is: `decide` only picks orders that are in `requested`, so every
 *   ABI maps it to `BIT(order)`.
 * - Deny is 0 in every ABI: v8+ compute `req & BIT(0)` = 0 (anon THP orders start at 2),
 *   v7 gets `BIT(0)`, which the sysfs anon mask and `supported_orders` then clear.
 * - Unchanged is -1 where the ABI has it (v7, v12). v8 has no "unchanged" (a negative shift
 *   is undefined there), so the closest safe value is the highest requested order.
 */
export function toHookReturn(decision: Decision, requested: number, abi: HookAbi): number {
  if (decision === DECISION_DENY) return 0;
  if (decision === DECISION_UNCHANGED) {
    switch (abi) {
      case 'v7':
      case 'v12':
        return -1;
      case 'v8':
        return Math.max(highestOrder(requested), 0);
    }
  }
  return decision;
}

/**
 * The orders mask the kernel continues with after the hook returned `ret` for a request
 * of `requested` (kernel-interface.md 2.6). The caller still intersects it with the sysfs
 * masks and VMA eligibility: BPF can only narrow.
 */
export function applyHookReturn(ret: number, requested: number, abi: HookAbi): number {
  switch (abi) {
    case 'v7':
      // Negative, or above the highest requested order: unchanged. Otherwise BIT(ret),
      // deliberately not intersected with the request (the v7 kernel does not).
      if (ret < 0 || ret > highestOrder(requested)) return requested;
      return bit(ret);
    case 'v8':
      // `orders &= BIT(ret)`; a negative shift is undefined in C. We model x86-64, where the
      // shift count is taken mod 64, so -1 selects bit 63 and the request is emptied.
      return requested & bit(ret < 0 ? ret & 63 : ret);
    case 'v12':
      return ret < 0 ? requested : requested & bit(ret);
  }
}
