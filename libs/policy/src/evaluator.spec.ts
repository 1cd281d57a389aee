import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyHookReturn, bit, highestOrder, toHookReturn } from './abi.js';
import { normalizePolicy } from './canonical.js';
import { compilePolicy } from './compile.js';
import { decide, makeHook } from './evaluator.js';
import { cgroupsArb, oracleSelects, policyArb } from './policy.test-util.js';
import { ALLOCATION_CONTEXTS, VMA_ADVICE_NAMES, type ThpPolicy } from './spec.js';
import { kernelTables } from './tables.js';
import {
  DECISION_DENY,
  DECISION_UNCHANGED,
  DefaultAction,
  HOOK_ABIS,
  MAX_CGROUP_DEPTH,
  NO_PRESSURE_GATE,
  PMD_ORDER,
  type CompiledRule,
  type Decision,
  type HookInput,
  type KernelTables,
  type TvaType,
  type VmaAdvice,
} from './types.js';

/** The contract of /work/briefs/semantics.md, transcribed line by line with plain Map lookups. */
function decideByTheBook(tables: KernelTables, input: HookInput): Decision {
  let ruleSet = 0;
  for (let i = 0; i < Math.min(input.cgroupChain.length, MAX_CGROUP_DEPTH); i++) {
    const id = input.cgroupChain[i]!;
    if (tables.cgroupRules.has(id)) {
      ruleSet = tables.cgroupRules.get(id)!;
      break;
    }
  }
  for (let r = 0; r < tables.rules.length; r++) {
    if (r > 31 || Math.floor(ruleSet / 2 ** r) % 2 === 0) continue; // bit r of a u32
    const rule = tables.rules[r]!;
    if (input.tva > 31 || input.advice > 31) continue;
    if (Math.floor(rule.ctxMask / 2 ** input.tva) % 2 === 0 || Math.floor(rule.adviceMask / 2 ** input.advice) % 2 === 0) continue;
    const allowed = input.pressure > rule.pressureThreshold ? rule.pressureOrders : rule.allowOrders;
    const m = allowed & input.requestedOrders;
    return m === 0 ? DECISION_DENY : highestOrder(m);
  }
  switch (tables.defaultAction) {
    case DefaultAction.Deny:
      return DECISION_DENY;
    case DefaultAction.Unchanged:
      return DECISION_UNCHANGED;
    case DefaultAction.Allow: {
      const m = tables.defaultOrders & input.requestedOrders;
      return m === 0 ? DECISION_DENY : highestOrder(m);
    }
  }
}

/** Requests the kernel makes (kernel-interface.md 2.7) plus arbitrary masks of orders 0..18. */
const requestArb = fc.oneof(
  fc.constantFrom(bit(PMD_ORDER), bit(PMD_ORDER) - 1, bit(18), (1 << 19) - 1, (1 << 19) - 1 - 3),
  fc.integer({ min: 0, max: (1 << 19) - 1 }),
);

const ruleArb: fc.Arbitrary<CompiledRule> = fc.record({
  ctxMask: fc.integer({ min: 0, max: 31 }),
  adviceMask: fc.integer({ min: 0, max: 7 }),
  allowOrders: fc.integer({ min: 0, max: (1 << 19) - 1 }),
  pressureThreshold: fc.oneof(fc.constant(NO_PRESSURE_GATE), fc.integer({ min: 0, max: 10_000 }), fc.constant(0)),
  pressureOrders: fc.integer({ min: 0, max: (1 << 19) - 1 }),
});

/** Random tables and inputs, ids drawn from a small pool so chains hit and miss. */
const caseArb = fc
  .record({
    pool: fc.uniqueArray(fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 2 ** 32 - 2, max: 2 ** 32 + 2 }), fc.constant(Number.MAX_SAFE_INTEGER)), {
      minLength: 1,
      maxLength: 30,
    }),
    rules: fc.array(ruleArb, { maxLength: 32 }),
    defaultAction: fc.constantFrom(DefaultAction.Deny, DefaultAction.Allow, DefaultAction.Unchanged),
    defaultOrders: fc.integer({ min: 0, max: (1 << 19) - 1 }),
    generation: fc.nat(),
  })
  .chain((t) =>
    fc.record({
      tables: fc
        .subarray(t.pool)
        .chain((mapped) =>
          fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })), { minLength: mapped.length, maxLength: mapped.length }).map((sets) =>
            kernelTables({ ...t, cgroupRules: mapped.map((id, i) => [id, sets[i] ?? 0] as [number, number]) }),
          ),
        ),
      input: fc.record({
        cgroupChain: fc.oneof(
          fc.array(fc.oneof(fc.constantFrom(...t.pool), fc.integer({ min: 51, max: 1000 })), { maxLength: 20 }),
          // Deep chains: the first mapped id sits around MAX_CGROUP_DEPTH.
          fc
            .tuple(fc.integer({ min: MAX_CGROUP_DEPTH - 2, max: MAX_CGROUP_DEPTH + 2 }), fc.array(fc.constantFrom(...t.pool), { minLength: 1, maxLength: 4 }))
            .map(([unmapped, tail]) => [...Array.from({ length: unmapped }, (_, i) => 1001 + i), ...tail]),
        ),
        tva: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 40 })) as fc.Arbitrary<TvaType>,
        advice: fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 40 })) as fc.Arbitrary<VmaAdvice>,
        requestedOrders: requestArb,
        pressure: fc.oneof(
          fc.integer({ min: 0, max: 10_000 }),
          fc.constantFrom(0, 0xffffffff, NO_PRESSURE_GATE - 1),
          ...t.rules.map((r) => fc.constantFrom(r.pressureThreshold, r.pressureThreshold + 1, Math.max(0, r.pressureThreshold - 1))),
        ).map((p) => Math.min(p, 0xffffffff)),
      }),
    }),
  );

describe('decide follows the contract exactly', () => {
  it('property: equals a line-by-line transcription of semantics.md on random tables and inputs', () => {
    fc.assert(
      fc.property(caseArb, ({ tables, input }) => {
        expect(decide(tables, input)).toBe(decideByTheBook(tables, input));
        // Also through plain objects and a plain Map (tables other code builds by hand).
        const plain: KernelTables = { ...tables, rules: [...tables.rules], cgroupRules: new Map(tables.cgroupRules) };
        expect(decide(plain, input)).toBe(decideByTheBook(tables, input));
      }),
      { numRuns: 20_000 },
    );
  });

  const rule = (over: Partial<CompiledRule> = {}): CompiledRule => ({
    ctxMask: 0b11111,
    adviceMask: 0b111,
    allowOrders: bit(9),
    pressureThreshold: NO_PRESSURE_GATE,
    pressureOrders: bit(9),
    ...over,
  });
  const tables = (rules: CompiledRule[], map: [number, number][], defaultAction: DefaultAction = DefaultAction.Deny, defaultOrders = 0) =>
    kernelTables({ generation: 1, defaultAction, defaultOrders, rules, cgroupRules: map });
  const input = (over: Partial<HookInput> = {}): HookInput => ({
    cgroupChain: [10, 2, 1],
    tva: 1,
    advice: 0,
    requestedOrders: bit(9),
    pressure: 0,
    ...over,
  });

  it('walks leaf first to the nearest mapped ancestor, at most MAX_CGROUP_DEPTH ids', () => {
    const t = tables([rule({ allowOrders: bit(4) | bit(9) }), rule({ allowOrders: bit(4) })], [[2, 0b10], [1, 0b01]]);
    expect(decide(t, input({ requestedOrders: bit(9) | bit(4) }))).toBe(4); // id 2 (rule 1) wins over root
    expect(decide(t, input({ cgroupChain: [10, 1], requestedOrders: bit(9) | bit(4) }))).toBe(9);
    const deep = [...Array.from({ length: MAX_CGROUP_DEPTH }, (_, i) => 100 + i), 1];
    expect(decide(t, input({ cgroupChain: deep }))).toBe(DECISION_DENY); // id 1 is entry 17: not reached
    expect(decide(t, input({ cgroupChain: deep.slice(1) }))).toBe(9);
    // An entry of 0 stops the walk like any other entry.
    expect(decide(tables([rule()], [[2, 0], [1, 1]]), input())).toBe(DECISION_DENY);
  });

  it('the first matching rule wins; context, advice and pressure select', () => {
    const t = tables(
      [
        rule({ ctxMask: bit(2), allowOrders: bit(9) }), // khugepaged only
        rule({ adviceMask: bit(1), allowOrders: bit(4), pressureThreshold: 2000, pressureOrders: 0 }), // madvised
        rule({ allowOrders: bit(2) }),
      ],
      [[10, 0b111]],
    );
    const mthp = bit(9) - 1;
    expect(decide(t, input({ tva: 2, requestedOrders: bit(9) }))).toBe(9);
    expect(decide(t, input({ advice: 1, requestedOrders: mthp }))).toBe(4);
    expect(decide(t, input({ advice: 1, requestedOrders: mthp, pressure: 2000 }))).toBe(4); // not above the threshold
    expect(decide(t, input({ advice: 1, requestedOrders: mthp, pressure: 2001 }))).toBe(DECISION_DENY); // gate: first match still decides
    expect(decide(t, input({ advice: 0, requestedOrders: mthp }))).toBe(2);
    expect(decide(t, input({ advice: 0, requestedOrders: bit(9) }))).toBe(DECISION_DENY); // rule 2 matches, grants nothing requested
    expect(decide(t, input({ tva: 32 as TvaType }))).toBe(DECISION_DENY); // out-of-range tva never matches: default
  });

  it('default actions', () => {
    expect(decide(tables([], [], DefaultAction.Unchanged), input())).toBe(DECISION_UNCHANGED);
    expect(decide(tables([], [], DefaultAction.Allow, bit(4) | bit(9)), input({ requestedOrders: bit(9) - 1 }))).toBe(4);
    expect(decide(tables([], [], DefaultAction.Allow, bit(4)), input({ requestedOrders: bit(9) }))).toBe(DECISION_DENY);
  });

  it('answers correctly when callers alternate between tables objects (per-tables index cache)', () => {
    const a = tables([rule({ allowOrders: bit(9) })], [[10, 1]]);
    const b = tables([rule({ allowOrders: bit(4) })], [[10, 1]]);
    for (let i = 0; i < 5; i++) {
      expect(decide(a, input({ requestedOrders: bit(9) | bit(4) }))).toBe(9);
      expect(decide(b, input({ requestedOrders: bit(9) | bit(4) }))).toBe(4);
    }
  });
});

const TVA_CONTEXT = ['smaps', 'pagefault', 'khugepaged', 'forced_collapse', 'pagefault'] as const;

/** Independent oracle: decide from the policy text itself (globs by regex), not from tables. */
function decideFromPolicy(policy: ThpPolicy, registered: ReadonlyMap<string, number>, leaf: string, input: HookInput): Decision {
  const canonical = normalizePolicy(policy);
  const segments = leaf === '/' ? [] : leaf.slice(1).split('/');
  const ancestors = segments.map((_, i) => '/' + segments.slice(0, segments.length - i).join('/')).concat('/');
  const nearest = ancestors.slice(0, MAX_CGROUP_DEPTH).find((p) => registered.has(p));
  const context = TVA_CONTEXT[input.tva];
  const advice = VMA_ADVICE_NAMES[input.advice];
  for (const r of nearest === undefined ? [] : canonical.spec.rules) {
    if (!oracleSelects(r.match.cgroups, nearest!)) continue;
    if (context === undefined || !r.match.contexts.includes(context)) continue;
    if (advice === undefined || !r.match.advice.includes(advice)) continue;
    const gate = r.underPressure;
    const orders = gate !== undefined && input.pressure > Math.round(gate.memorySomeAvg10Above * 100) ? gate.orders : r.allow.orders;
    const granted = orders.filter((o) => input.requestedOrders & bit(o));
    return granted.length === 0 ? DECISION_DENY : Math.max(...granted);
  }
  const d = canonical.spec.default;
  if (d.action === 'unchanged') return DECISION_UNCHANGED;
  if (d.action === 'deny') return DECISION_DENY;
  const granted = d.orders.filter((o) => input.requestedOrders & bit(o));
  return granted.length === 0 ? DECISION_DENY : Math.max(...granted);
}

describe('compiled policies decide what the policy says', () => {
  const scenario = fc.record({
    policy: policyArb,
    cgroups: cgroupsArb,
    leaf: fc.array(fc.constantFrom('workloads.slice', 'zgc-jvm', 'zgc-a', 'kv-store', 'a', 'b', '.x'), { maxLength: 20 }).map((s) => '/' + s.join('/')),
    tva: fc.integer({ min: 0, max: 4 }) as fc.Arbitrary<TvaType>,
    advice: fc.integer({ min: 0, max: 2 }) as fc.Arbitrary<VmaAdvice>,
    requestedOrders: requestArb,
    pressure: fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 0, max: 100 }).map((p) => p * 100)),
  });

  /** The leaf's chain: registered ancestors by id, unregistered ones by fresh ids no map holds. */
  function chainOf(leaf: string, ids: ReadonlyMap<string, number>): number[] {
    const segments = leaf === '/' ? [] : leaf.slice(1).split('/');
    const ancestors = segments.map((_, i) => '/' + segments.slice(0, segments.length - i).join('/')).concat('/');
    return ancestors.map((p, i) => ids.get(p) ?? 2 ** 52 + i);
  }

  it('property: first matching rule wins, end to end against an oracle that reads the policy', () => {
    fc.assert(
      fc.property(scenario, ({ policy, cgroups, leaf, ...rest }) => {
        const tables = compilePolicy(policy, cgroups);
        const ids = new Map(cgroups.map((c) => [c.path, c.id]));
        const input: HookInput = { ...rest, cgroupChain: chainOf(leaf, ids) };
        expect(decide(tables, input)).toBe(decideFromPolicy(policy, ids, leaf, input));
      }),
      { numRuns: 3000 },
    );
  });

  it('property: the decision is deny, unchanged, or an order within requestedOrders', () => {
    fc.assert(
      fc.property(scenario, ({ policy, cgroups, leaf, ...rest }) => {
        const tables = compilePolicy(policy, cgroups);
        const input: HookInput = { ...rest, cgroupChain: chainOf(leaf, new Map(cgroups.map((c) => [c.path, c.id]))) };
        const d = decide(tables, input);
        if (d >= 0) expect(input.requestedOrders & bit(d)).not.toBe(0);
        else expect([DECISION_DENY, DECISION_UNCHANGED]).toContain(d);
        if (d === DECISION_UNCHANGED) expect(normalizePolicy(policy).spec.default.action).toBe('unchanged');
      }),
      { numRuns: 2000 },
    );
  });

  it('property: a policy that allows nothing never returns an order', () => {
    const denyAll = policyArb.map(
      (p): ThpPolicy => ({
        ...p,
        spec: {
          ...p.spec,
          default: { action: 'deny' },
          rules: p.spec.rules.map((r) => ({
            ...r,
            allow: { orders: [] },
            ...(r.underPressure === undefined ? {} : { underPressure: { memorySomeAvg10Above: r.underPressure.memorySomeAvg10Above, sizes: [] } }),
          })),
        },
      }),
    );
    fc.assert(
      fc.property(denyAll, cgroupsArb, caseArb, (policy, cgroups, { input }) => {
        const tables = compilePolicy(policy, cgroups);
        const chain = [...cgroups.map((c) => c.id), ...Array.from(input.cgroupChain)];
        expect(decide(tables, { ...input, cgroupChain: chain })).toBe(DECISION_DENY);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('makeHook', () => {
  const policy = (orders: number[]): ThpPolicy => ({
    apiVersion: 'thp.fleet/v1',
    kind: 'ThpPolicy',
    metadata: { name: 'p' },
    spec: { default: { action: 'unchanged' }, rules: [{ name: 'r', match: { cgroups: ['/a'] }, allow: { orders } }] },
  });
  const input: HookInput = { cgroupChain: [2, 1], tva: 1, advice: 0, requestedOrders: bit(9) - 1, pressure: 0 };

  it('returns toHookReturn(decide(...)) for every ABI, and the kernel applies it to the intended orders', () => {
    const t = compilePolicy(policy([4]), [{ id: 2, path: '/a' }]);
    for (const abi of HOOK_ABIS) {
      const ret = makeHook(t, abi)(input);
      expect(ret).toBe(toHookReturn(4, input.requestedOrders, abi));
      expect(applyHookReturn(ret, input.requestedOrders, abi)).toBe(bit(4));
      const other = makeHook(t, abi)({ ...input, cgroupChain: [3, 1] }); // default: unchanged
      expect(other).toBe(toHookReturn(DECISION_UNCHANGED, input.requestedOrders, abi));
    }
  });

  it('reads the current tables on every call when given a getter (live generation swap)', () => {
    const gen1 = compilePolicy(policy([4]), [{ id: 2, path: '/a' }], 1);
    const gen2 = compilePolicy(policy([]), [{ id: 2, path: '/a' }], 2);
    let live = gen1;
    const hook = makeHook(() => live, 'v12');
    expect(hook(input)).toBe(4);
    live = gen2;
    expect(hook(input)).toBe(0); // deny
  });
});

describe('policy-level contexts', () => {
  it('pagefault covers the swap-in fault (TVA 4) and nothing else does', () => {
    for (const context of ALLOCATION_CONTEXTS) {
      const p: ThpPolicy = {
        apiVersion: 'thp.fleet/v1',
        kind: 'ThpPolicy',
        metadata: { name: 'p' },
        spec: { default: { action: 'deny' }, rules: [{ name: 'r', match: { cgroups: ['/**'], contexts: [context] }, allow: { orders: [9] } }] },
      };
      const t = compilePolicy(p, [{ id: 1, path: '/' }]);
      const swap = decide(t, { cgroupChain: [1], tva: 4, advice: 0, requestedOrders: bit(9), pressure: 0 });
      expect(swap).toBe(context === 'pagefault' ? 9 : DECISION_DENY);
    }
  });
});
