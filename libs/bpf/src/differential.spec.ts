/**
 * The kernel program against the reference evaluator: random tables written through the
 * real update path, random inputs decided by BPF_PROG_TEST_RUN and by libs/policy decide(),
 * and the hook's return value against toHookReturn for every ABI. Replay a failure with
 * THP_DIFF_SEED=<seed printed in the failure>.
 */
import {
  DECISION_DENY,
  DECISION_UNCHANGED,
  DefaultAction,
  HOOK_ABIS,
  MAX_CGROUP_DEPTH,
  MAX_RULES,
  NO_PRESSURE_GATE,
  TvaType,
  VmaAdvice,
  decide,
  toHookReturn,
  type HookAbi,
  type HookInput,
  type KernelTables,
} from '@thp-fleet/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { load, type KernelPolicy } from './kernel-policy.js';
import {
  Rng,
  announceSkip,
  kernelSkipReason,
  makePinRoot,
  randomForest,
  randomInput,
  randomTables,
  type CgroupForest,
  type PinRoot,
} from './kernel.test-util.js';

interface Mismatch {
  readonly input: HookInput;
  readonly abi: HookAbi;
  readonly kernel: { decision: number; hookReturn: number };
  readonly evaluator: { decision: number; hookReturn: number };
}

const allRules = (allowOrders: number, pressureThreshold = NO_PRESSURE_GATE, pressureOrders = 0) => ({
  ctxMask: 0b11111,
  adviceMask: 0b111,
  allowOrders,
  pressureThreshold,
  pressureOrders,
});

const skip = announceSkip('differential kernel vs evaluator', kernelSkipReason(['syscall']));

describe.skipIf(skip)('differential: BPF program vs libs/policy decide()', () => {
  let root: PinRoot;
  let policy: KernelPolicy;
  const seed = Number(process.env.THP_DIFF_SEED ?? 20261125);

  beforeAll(() => {
    root = makePinRoot('differential');
    policy = load({ generation: 0, defaultAction: DefaultAction.Deny, defaultOrders: 0, rules: [], cgroupRules: new Map() }, 'v12', {
      pinRoot: root.pinRoot,
    });
  });
  afterAll(() => {
    policy.close();
    root.cleanup();
  });

  function check(tables: KernelTables, input: HookInput, abi: HookAbi, mismatches: Mismatch[]): void {
    const kernel = policy.decide(input, abi);
    const decision = decide(tables, input);
    const hookReturn = toHookReturn(decision, input.requestedOrders, abi);
    if (kernel.decision !== decision || kernel.hookReturn !== hookReturn) {
      mismatches.push({
        input: { ...input, cgroupChain: [...Array.from(input.cgroupChain)] },
        abi,
        kernel: { decision: kernel.decision, hookReturn: kernel.hookReturn },
        evaluator: { decision, hookReturn },
      });
    }
  }

  it('agrees on more than 100,000 random cases, tables rewritten between batches', () => {
    const rng = new Rng(seed);
    const tablesCount = 220;
    const inputsPerTables = 460;
    const mismatches: Mismatch[] = [];
    let cases = 0;
    let inPlace = 0;
    let forest: CgroupForest = randomForest(rng, 100, 26);
    for (let t = 0; t < tablesCount; t++) {
      if (t % 20 === 0) forest = randomForest(rng, rng.int(10, 400), 26);
      let tables = randomTables(rng, forest, t + 1);
      policy.update(tables);
      for (let i = 0; i < inputsPerTables; i++) {
        check(tables, randomInput(rng, forest, tables), HOOK_ABIS[(t + i) % 3] ?? 'v12', mismatches);
        cases++;
      }
      if (t % 4 === 0) {
        // One cgroup more: written in place into the active slot.
        const id = rng.pick(forest.ids);
        tables = { ...tables, cgroupRules: new Map([...tables.cgroupRules, [id, ((tables.cgroupRules.get(id) ?? 0) ^ 1) >>> 0]]) };
        const result = policy.update(tables);
        if (result.mode === 'in-place') inPlace++;
        for (let i = 0; i < 60; i++) {
          check(tables, randomInput(rng, forest, tables), HOOK_ABIS[i % 3] ?? 'v12', mismatches);
          cases++;
        }
      }
    }
    expect({ seed, mismatches: mismatches.slice(0, 3), count: mismatches.length }).toEqual({ seed, mismatches: [], count: 0 });
    expect(cases).toBeGreaterThanOrEqual(100_000);
    expect(inPlace).toBeGreaterThan(0);
    console.log(`[libs/bpf] differential: ${cases} cases over ${tablesCount} tables (${inPlace} in-place updates), seed ${seed}: all identical`);
  });

  it('stops the ancestor walk at MAX_CGROUP_DEPTH even when the chain is longer', () => {
    const chain = Array.from({ length: 24 }, (_, i) => 10_000 + i); // leaf first
    const mismatches: Mismatch[] = [];
    for (let mapped = 0; mapped < chain.length; mapped++) {
      const tables: KernelTables = {
        generation: mapped + 1,
        defaultAction: DefaultAction.Unchanged,
        defaultOrders: 0,
        rules: [allRules(1 << 9)],
        cgroupRules: new Map([[chain[mapped] ?? 0, 1]]),
      };
      policy.update(tables);
      const input: HookInput = { cgroupChain: chain, tva: TvaType.Pagefault, advice: VmaAdvice.None, requestedOrders: 1 << 9, pressure: 0 };
      const kernel = policy.decide(input);
      expect({ mapped, decision: kernel.decision }).toEqual({ mapped, decision: mapped < MAX_CGROUP_DEPTH ? 9 : DECISION_UNCHANGED });
      for (const abi of HOOK_ABIS) check(tables, input, abi, mismatches);
    }
    expect(mismatches).toEqual([]);
  });

  it('applies the pressure gate strictly above the threshold, unsigned', () => {
    const thresholds = [0, 1, 2000, 0x7fffffff, 0x80000000, 0xfffffffe, NO_PRESSURE_GATE];
    const mismatches: Mismatch[] = [];
    for (const threshold of thresholds) {
      const tables: KernelTables = {
        generation: threshold + 1,
        defaultAction: DefaultAction.Deny,
        defaultOrders: 0,
        rules: [allRules(1 << 9, threshold, 1 << 4)],
        cgroupRules: new Map([[7, 1]]),
      };
      policy.update(tables);
      for (const pressure of [0, threshold - 1, threshold, threshold + 1, 0xffffffff].filter((p) => p >= 0 && p <= 0xffffffff)) {
        const input: HookInput = { cgroupChain: [7], tva: TvaType.Pagefault, advice: VmaAdvice.Hugepage, requestedOrders: (1 << 9) | (1 << 4), pressure };
        expect({ threshold, pressure, decision: policy.decide(input).decision }).toEqual({ threshold, pressure, decision: pressure > threshold ? 4 : 9 });
        for (const abi of HOOK_ABIS) check(tables, input, abi, mismatches);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('maps every decision to each ABI return value exactly like toHookReturn', () => {
    const rows: { defaultAction: DefaultAction; requested: number; expected: Record<HookAbi, number> }[] = [
      { defaultAction: DefaultAction.Unchanged, requested: 1 << 9, expected: { v7: -1, v8: 9, v12: -1 } },
      { defaultAction: DefaultAction.Unchanged, requested: 0x3fc, expected: { v7: -1, v8: 9, v12: -1 } },
      { defaultAction: DefaultAction.Unchanged, requested: 0, expected: { v7: -1, v8: 0, v12: -1 } },
      { defaultAction: DefaultAction.Deny, requested: 1 << 9, expected: { v7: 0, v8: 0, v12: 0 } },
      { defaultAction: DefaultAction.Allow, requested: 0x3fc, expected: { v7: 5, v8: 5, v12: 5 } },
      { defaultAction: DefaultAction.Allow, requested: 1 << 9, expected: { v7: 0, v8: 0, v12: 0 } },
    ];
    const mismatches: Mismatch[] = [];
    for (const row of rows) {
      const tables: KernelTables = { generation: 1, defaultAction: row.defaultAction, defaultOrders: 0b111100, rules: [], cgroupRules: new Map() };
      policy.update(tables);
      const input: HookInput = { cgroupChain: [1], tva: TvaType.Khugepaged, advice: VmaAdvice.None, requestedOrders: row.requested, pressure: 0 };
      for (const abi of HOOK_ABIS) {
        expect({ row: row.defaultAction, requested: row.requested, abi, ret: policy.decide(input, abi).hookReturn }).toEqual({
          row: row.defaultAction,
          requested: row.requested,
          abi,
          ret: row.expected[abi],
        });
        check(tables, input, abi, mismatches);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('ignores rule-set bits of absent rules, uses all 32 rules, and never matches tva or advice above 31', () => {
    const rules = Array.from({ length: MAX_RULES }, (_, r) => ({
      ctxMask: r === MAX_RULES - 1 ? 0xffffffff : 0,
      adviceMask: 0xffffffff,
      allowOrders: 1 << 9,
      pressureThreshold: NO_PRESSURE_GATE,
      pressureOrders: 0,
    }));
    const full: KernelTables = { generation: 1, defaultAction: DefaultAction.Deny, defaultOrders: 0, rules, cgroupRules: new Map([[5, 0x80000000]]) };
    const short: KernelTables = { ...full, rules: rules.slice(0, 3) };
    const mismatches: Mismatch[] = [];
    for (const tables of [full, short]) {
      policy.update(tables);
      for (const tva of [0, 4, 31, 32, 40, 0xffffffff]) {
        for (const advice of [0, 2, 31, 32]) {
          const input = { cgroupChain: [5], tva, advice, requestedOrders: 1 << 9, pressure: 0 } as HookInput;
          for (const abi of HOOK_ABIS) check(tables, input, abi, mismatches);
        }
      }
    }
    policy.update(full);
    expect(policy.decide({ cgroupChain: [5], tva: TvaType.Smaps, advice: VmaAdvice.None, requestedOrders: 1 << 9, pressure: 0 }).decision).toBe(9);
    expect(policy.decide({ cgroupChain: [5], tva: 32 as TvaType, advice: VmaAdvice.None, requestedOrders: 1 << 9, pressure: 0 }).decision).toBe(DECISION_DENY);
    expect(mismatches).toEqual([]);
  });
});
