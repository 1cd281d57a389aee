import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyHookReturn, bit, highestOrder, toHookReturn } from './abi.js';
import { DECISION_DENY, DECISION_UNCHANGED, HOOK_ABIS, PMD_ORDER } from './types.js';

const PMD = bit(PMD_ORDER);
const MTHP_FAULT = bit(PMD_ORDER) - 1; // alloc_anon_folio() requests BIT(PMD_ORDER) - 1

describe('applyHookReturn follows kernel-interface.md 2.6 row by row', () => {
  it('r < 0: unchanged on v7 and v12, emptied on v8 (x86 shift by 63)', () => {
    expect(applyHookReturn(-1, MTHP_FAULT, 'v7')).toBe(MTHP_FAULT);
    expect(applyHookReturn(-1, MTHP_FAULT, 'v12')).toBe(MTHP_FAULT);
    expect(applyHookReturn(-1, MTHP_FAULT, 'v8')).toBe(0);
  });

  it('r = 0: BIT(0) on v7 (cleared later by sysfs), 0 on v8 and v12', () => {
    expect(applyHookReturn(0, PMD, 'v7')).toBe(1);
    expect(applyHookReturn(0, PMD, 'v8')).toBe(0);
    expect(applyHookReturn(0, PMD, 'v12')).toBe(0);
  });

  it('r in req: BIT(r) everywhere', () => {
    for (const abi of HOOK_ABIS) expect(applyHookReturn(4, MTHP_FAULT, abi)).toBe(bit(4));
  });

  it('r <= highest(req) but not in req: BIT(r) on v7 only', () => {
    const req = bit(9) | bit(2);
    expect(applyHookReturn(4, req, 'v7')).toBe(bit(4));
    expect(applyHookReturn(4, req, 'v8')).toBe(0);
    expect(applyHookReturn(4, req, 'v12')).toBe(0);
  });

  it('r > highest(req): unchanged on v7, denied on v8 and v12 (the v8 selftest returns 30)', () => {
    expect(applyHookReturn(30, PMD, 'v7')).toBe(PMD);
    expect(applyHookReturn(30, PMD, 'v8')).toBe(0);
    expect(applyHookReturn(30, PMD, 'v12')).toBe(0);
  });
});

describe('toHookReturn', () => {
  it('round-trips every decision through every ABI to the intended orders', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: (1 << 19) - 1 }), fc.integer({ min: 0, max: 18 }), (requested, k) => {
        for (const abi of HOOK_ABIS) {
          expect(applyHookReturn(toHookReturn(DECISION_DENY, requested, abi), requested, abi) & ~0b11).toBe(0);
          if (requested & bit(k)) {
            expect(applyHookReturn(toHookReturn(k, requested, abi), requested, abi)).toBe(bit(k));
          }
        }
        const unchangedV7 = applyHookReturn(toHookReturn(DECISION_UNCHANGED, requested, 'v7'), requested, 'v7');
        const unchangedV12 = applyHookReturn(toHookReturn(DECISION_UNCHANGED, requested, 'v12'), requested, 'v12');
        expect(unchangedV7).toBe(requested);
        expect(unchangedV12).toBe(requested);
        // v8 cannot say "unchanged": it keeps the highest requested order.
        expect(applyHookReturn(toHookReturn(DECISION_UNCHANGED, requested, 'v8'), requested, 'v8')).toBe(
          bit(highestOrder(requested)),
        );
      }),
    );
  });
});
