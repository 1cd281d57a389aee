import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CgroupRuleIndex, compilePolicy, type CgroupRef } from './compile.js';
import { normalizePolicy } from './canonical.js';
import { cgroupPathArb, cgroupsArb, oracleSelects, policyArb } from './policy.test-util.js';
import type { ThpPolicy } from './spec.js';
import { kernelTables, tablesDelta } from './tables.js';
import { DefaultAction, NO_PRESSURE_GATE, type KernelTables } from './types.js';

const POLICY: ThpPolicy = {
  apiVersion: 'thp.fleet/v1',
  kind: 'ThpPolicy',
  metadata: { name: 'demo' },
  spec: {
    default: { action: 'allow', sizes: ['64K'] },
    rules: [
      {
        name: 'zgc',
        match: { cgroups: ['/workloads.slice/zgc-*'], contexts: ['pagefault', 'khugepaged'], advice: ['hugepage'] },
        allow: { sizes: ['2M'] },
        underPressure: { memorySomeAvg10Above: 20, orders: [] },
      },
      { name: 'kv', match: { cgroups: ['/workloads.slice/kv-store'] }, allow: { orders: [] } },
      { name: 'everything', match: { cgroups: ['/**'], contexts: ['smaps', 'forced_collapse'] }, allow: { orders: [4, 9] } },
    ],
  },
};

const CGROUPS: CgroupRef[] = [
  { id: 1, path: '/' },
  { id: 2, path: '/workloads.slice' },
  { id: 3, path: '/workloads.slice/zgc-jvm' },
  { id: 4, path: '/workloads.slice/zgc-jvm/worker' },
  { id: 5, path: '/workloads.slice/kv-store' },
  { id: 2 ** 40 + 7, path: '/workloads.slice/latency-svc' },
];

describe('compilePolicy', () => {
  it('compiles rules, default and the cgroup map as the contract says', () => {
    const t = compilePolicy(POLICY, CGROUPS, 7);
    expect(t.generation).toBe(7);
    expect(t.defaultAction).toBe(DefaultAction.Allow);
    expect(t.defaultOrders).toBe(1 << 4);
    expect(t.rules).toEqual([
      // pagefault sets bit 1 and the swap-fault bit 4; khugepaged bit 2. advice hugepage = bit 1.
      { ctxMask: 0b10110, adviceMask: 0b010, allowOrders: 1 << 9, pressureThreshold: 2000, pressureOrders: 0 },
      { ctxMask: 0b11111, adviceMask: 0b111, allowOrders: 0, pressureThreshold: NO_PRESSURE_GATE, pressureOrders: 0 },
      {
        ctxMask: 0b01001,
        adviceMask: 0b111,
        allowOrders: (1 << 4) | (1 << 9),
        pressureThreshold: NO_PRESSURE_GATE,
        pressureOrders: (1 << 4) | (1 << 9),
      },
    ]);
    expect([...t.cgroupRules].sort(([a], [b]) => a - b)).toEqual([
      [1, 0b100],
      [2, 0b100],
      [3, 0b101],
      [4, 0b101], // the subtree of a matching cgroup is covered
      [5, 0b110],
      [2 ** 40 + 7, 0b100],
    ]);
  });

  it('gives no entry to cgroups no rule covers', () => {
    const narrow: ThpPolicy = { ...POLICY, spec: { ...POLICY.spec, rules: POLICY.spec.rules.slice(0, 2) } };
    const t = compilePolicy(narrow, CGROUPS);
    expect([...t.cgroupRules.keys()].sort((a, b) => a - b)).toEqual([3, 4, 5]);
  });

  it('freezes what it returns', () => {
    const t = compilePolicy(POLICY, CGROUPS);
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.rules)).toBe(true);
    expect(Object.isFrozen(t.rules[0])).toBe(true);
    const map = t.cgroupRules as Map<number, number>;
    expect(() => map.set(1, 0)).toThrow(/immutable/);
    expect(() => map.delete(1)).toThrow(/immutable/);
    expect(() => map.clear()).toThrow(/immutable/);
    // A real Map underneath: copies through structuredClone-style serialisation keep the entries.
    expect(map).toBeInstanceOf(Map);
    expect(new Map(map)).toEqual(new Map([...t.cgroupRules]));
  });

  it('rejects bad cgroup input with a clear error', () => {
    expect(() => compilePolicy(POLICY, [{ id: 1, path: 'relative' }])).toThrow(/must be absolute/);
    expect(() => compilePolicy(POLICY, [{ id: -1, path: '/' }])).toThrow(/cgroup id -1 is not a non-negative safe integer/);
    expect(() => compilePolicy(POLICY, [{ id: 2 ** 53, path: '/' }])).toThrow(/below 2\^53/);
    expect(() =>
      compilePolicy(POLICY, [
        { id: 1, path: '/' },
        { id: 1, path: '/a' },
      ]),
    ).toThrow('cgroup id 1 is listed twice (second path "/a")');
    expect(() => compilePolicy(POLICY, [], -1)).toThrow(/generation must be a non-negative safe integer/);
  });

  it('property: a cgroup entry is exactly the rules whose globs match it or an ancestor (independent oracle)', () => {
    fc.assert(
      fc.property(policyArb, cgroupsArb, (policy, cgroups) => {
        const t = compilePolicy(policy, cgroups);
        const rules = normalizePolicy(policy).spec.rules;
        for (const { id, path } of cgroups) {
          let expected = 0;
          rules.forEach((r, i) => {
            if (oracleSelects(r.match.cgroups, path)) expected |= 1 << i;
          });
          expect(t.cgroupRules.get(id) ?? 0, `${path} ${JSON.stringify(rules.map((r) => r.match.cgroups))}`).toBe(expected >>> 0);
          expect(t.cgroupRules.has(id)).toBe(expected !== 0);
        }
        expect(t.cgroupRules.size).toBeLessThanOrEqual(cgroups.length);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('CgroupRuleIndex', () => {
  it('returns the minimal map writes as cgroups appear, move and vanish', () => {
    const index = new CgroupRuleIndex(POLICY);
    expect(index.add(3, '/workloads.slice/zgc-jvm')).toEqual({ upserts: [[3, 0b101]], deletes: [] });
    expect(index.add(3, '/workloads.slice/zgc-jvm')).toEqual({ upserts: [], deletes: [] });
    expect(index.add(3, '/workloads.slice/kv-store')).toEqual({ upserts: [[3, 0b110]], deletes: [] });
    expect(index.remove(3)).toEqual({ upserts: [], deletes: [3] });
    expect(index.remove(3)).toEqual({ upserts: [], deletes: [] });
    expect(index.size).toBe(0);
  });

  it('a rule on bit 31 keeps the rule set an unsigned 32-bit value', () => {
    const rules = Array.from({ length: 32 }, (_, i) => ({ name: `r${i}`, match: { cgroups: [i === 31 ? '/**' : `/c${i}`] }, allow: { orders: [9] } }));
    const index = new CgroupRuleIndex({ ...POLICY, spec: { default: { action: 'deny' }, rules } });
    expect(index.add(10, '/x')).toEqual({ upserts: [[10, 2 ** 31]], deletes: [] });
    expect(index.add(11, '/c0')).toEqual({ upserts: [[11, 2 ** 31 + 1]], deletes: [] });
    expect(index.tables(1).cgroupRules.get(11)).toBe(2 ** 31 + 1);
  });

  it('property: applying the returned deltas keeps a map equal to a fresh compile, with no redundant writes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), id: fc.integer({ min: 1, max: 30 }), path: cgroupPathArb }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.integer({ min: 1, max: 30 }) }),
    );
    fc.assert(
      fc.property(policyArb, fc.array(op, { maxLength: 60 }), (policy, ops) => {
        const index = new CgroupRuleIndex(policy);
        const applied = new Map<number, number>();
        const live = new Map<number, string>();
        for (const o of ops) {
          const delta = o.kind === 'add' ? index.add(o.id, o.path) : index.remove(o.id);
          if (o.kind === 'add') live.set(o.id, o.path);
          else live.delete(o.id);
          for (const [id, set] of delta.upserts) {
            expect(applied.get(id)).not.toBe(set); // never a write that changes nothing
            expect(set).not.toBe(0);
            applied.set(id, set);
          }
          for (const id of delta.deletes) {
            expect(applied.has(id)).toBe(true); // never a delete of something absent
            applied.delete(id);
          }
        }
        const fresh = compilePolicy(policy, [...live].map(([id, path]) => ({ id, path })));
        expect(new Map(applied)).toEqual(new Map(fresh.cgroupRules));
        expect(new Map(index.tables(3).cgroupRules)).toEqual(new Map(fresh.cgroupRules));
      }),
      { numRuns: 300 },
    );
  });
});

describe('tablesDelta', () => {
  const apply = (prev: KernelTables | undefined, next: KernelTables): KernelTables => {
    const d = tablesDelta(prev, next);
    const map = new Map(prev?.cgroupRules ?? []);
    for (const [id, set] of d.upserts) map.set(id, set);
    for (const id of d.deletes) map.delete(id);
    const rules = [...(prev?.rules ?? [])];
    for (const i of d.ruleSlots) rules[i] = next.rules[i]!;
    rules.length = next.rules.length;
    return kernelTables({
      generation: d.toGeneration,
      defaultAction: d.headerChanged ? next.defaultAction : prev!.defaultAction,
      defaultOrders: d.headerChanged ? next.defaultOrders : prev!.defaultOrders,
      rules,
      cgroupRules: map,
    });
  };

  // Compare the map contents as plain Maps (the class differs, the entries must not).
  const plain = (t: KernelTables) => ({ ...t, cgroupRules: new Map(t.cgroupRules) });

  it('property: prev + delta = next, and the delta lists only what differs', () => {
    fc.assert(
      fc.property(
        fc.option(fc.tuple(policyArb, cgroupsArb), { nil: undefined }),
        policyArb,
        cgroupsArb,
        (before, policy, cgroups) => {
          const prev = before === undefined ? undefined : compilePolicy(before[0], before[1], 1);
          const next = compilePolicy(policy, cgroups, 2);
          expect(plain(apply(prev, next))).toEqual(plain(next));
          const d = tablesDelta(prev, next);
          for (const [id, set] of d.upserts) expect(prev?.cgroupRules.get(id)).not.toBe(set);
          for (const i of d.ruleSlots) expect(prev?.rules[i]).not.toEqual(next.rules[i]);
          expect(tablesDelta(next, next)).toEqual({
            fromGeneration: 2,
            toGeneration: 2,
            headerChanged: false,
            ruleSlots: [],
            upserts: [],
            deletes: [],
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a cgroup change between two generations of one policy touches only the map', () => {
    const index = new CgroupRuleIndex(POLICY, CGROUPS);
    const g1 = index.tables(1);
    index.add(99, '/workloads.slice/zgc-new');
    index.remove(5);
    const d = tablesDelta(g1, index.tables(2));
    expect(d).toEqual({ fromGeneration: 1, toGeneration: 2, headerChanged: false, ruleSlots: [], upserts: [[99, 0b101]], deletes: [5] });
  });
});

describe('kernelTables', () => {
  it('checks every field', () => {
    const ok = { generation: 1, defaultAction: DefaultAction.Deny, defaultOrders: 0, rules: [], cgroupRules: [] as [number, number][] };
    expect(kernelTables(ok).cgroupRules.size).toBe(0);
    expect(() => kernelTables({ ...ok, defaultAction: 3 as DefaultAction })).toThrow(/defaultAction must be/);
    expect(() => kernelTables({ ...ok, defaultOrders: 2 ** 32 })).toThrow(/defaultOrders must be a u32/);
    const rule = { ctxMask: 1, adviceMask: 1, allowOrders: 1, pressureThreshold: NO_PRESSURE_GATE, pressureOrders: 1 };
    expect(() => kernelTables({ ...ok, rules: Array.from({ length: 33 }, () => rule) })).toThrow(/33 rules; at most 32/);
    expect(() => kernelTables({ ...ok, rules: [{ ...rule, ctxMask: -1 }] })).toThrow('rules[0].ctxMask must be a u32, got -1');
    expect(() => kernelTables({ ...ok, cgroupRules: [[1.5, 1]] })).toThrow(/cgroup id 1.5/);
    expect(() => kernelTables({ ...ok, cgroupRules: [[1, -1]] })).toThrow(/rule set of cgroup 1 must be a u32/);
  });
});
