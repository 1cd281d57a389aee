/**
 * THP orders and sizes on x86-64 with 4 KiB base pages.
 *
 * A THP of order k is `PAGE_SIZE << k`. Anonymous mTHP orders are 2..PMD_ORDER (16 kB..2048 kB):
 * orders 0 and 1 are not THP (reference/kernel-interface.md 5.1, `THP_ORDERS_ALL_ANON`).
 */
import { PMD_ORDER } from './types.js';

/** Base page size in kB on x86-64 (kernel-interface.md 5.1: "x86-64 with 4K pages"). */
export const PAGE_SIZE_KB = 4;
/** Smallest anonymous THP order: `THP_ORDERS_ALL_ANON` clears bits 0 and 1 (kernel-interface.md 5.1). */
export const MIN_ANON_ORDER = 2;

/** Size in kB of a folio of `order`, e.g. 9 -> 2048. */
export function orderToKb(order: number): number {
  return PAGE_SIZE_KB * 2 ** order;
}

/** The kernel's per-size sysfs spelling, e.g. 9 -> "2048kB" (directory `hugepages-2048kB`). */
export function orderToSizeName(order: number): string {
  return `${orderToKb(order)}kB`;
}

/** Human spelling used in messages: 9 -> "2M", 4 -> "64K". */
export function orderToShortSize(order: number): string {
  const kb = orderToKb(order);
  return kb >= 1024 && kb % 1024 === 0 ? `${kb / 1024}M` : `${kb}K`;
}

/** Result of parsing a size string: the order, or a plain-English reason it is not a THP size. */
export type SizeParse = { readonly ok: true; readonly order: number } | { readonly ok: false; readonly message: string };

// "<digits><unit>": K/M/G with an optional "B" or "iB" (binary multiples, as the kernel's "kB" is).
const SIZE_RE = /^([0-9]{1,9})\s*([kKmMgG])(?:i?[bB])?$/;
const UNIT_KB = new Map<string, number>([
  ['k', 1],
  ['m', 1024],
  ['g', 1024 * 1024],
]);

/**
 * Parse a THP size such as "2M", "2048K", "2048kB", "64K" or "64KiB" into an anonymous THP
 * order (2..9). Units are binary (1K = 1024 bytes), as in the kernel's `hugepages-<n>kB` names.
 */
export function parseThpSize(text: string): SizeParse {
  const m = SIZE_RE.exec(text.trim());
  const digits = m?.[1];
  const unit = m?.[2];
  if (digits === undefined || unit === undefined) {
    return /^[0-9]+$/.test(text.trim())
      ? { ok: false, message: `size "${text}" needs a unit: write e.g. "2M", "64K" or "2048kB"` }
      : { ok: false, message: `"${text}" is not a size: write e.g. "2M", "64K" or "2048kB"` };
  }
  const kb = Number(digits) * (UNIT_KB.get(unit.toLowerCase()) ?? 0);
  const pages = kb / PAGE_SIZE_KB;
  if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0) {
    return {
      ok: false,
      message: `${text} is not a THP size: THP sizes are 4K << order, from 16K (order 2) to 2M (order ${PMD_ORDER})`,
    };
  }
  const order = 31 - Math.clz32(pages);
  if (order > PMD_ORDER) {
    return { ok: false, message: `${text} is order ${order} and exceeds PMD order ${PMD_ORDER} (2M)` };
  }
  if (order < MIN_ANON_ORDER) {
    return {
      ok: false,
      message: `${text} is order ${order}; anonymous THP sizes are 16K (order ${MIN_ANON_ORDER}) to 2M (order ${PMD_ORDER})`,
    };
  }
  return { ok: true, order };
}

/** Plain-English problem with an order number, or undefined if it is an anonymous THP order. */
export function orderProblem(order: number): string | undefined {
  if (order > PMD_ORDER) return `order ${order} exceeds PMD order ${PMD_ORDER}`;
  if (order < MIN_ANON_ORDER) {
    return `order ${order} is below ${MIN_ANON_ORDER}, the smallest anonymous THP order (orders 0 and 1 are not THP)`;
  }
  return undefined;
}
