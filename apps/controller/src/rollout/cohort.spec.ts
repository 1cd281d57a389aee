import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  admit,
  chooseBaseline,
  chooseCohort,
  cohortRank,
  nonStableNodes,
  rankNodes,
  resolveBudget,
  strataOf,
  type BudgetView,
  type CohortInput,
  type FleetNode,
} from './cohort.js';
import { parsePlan, type RolloutPlan } from './rollout.plan.js';

function planOf(input: unknown): RolloutPlan {
  const result = parsePlan(input);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.plan;
}

const K = 'kernel';
const H = 'hardware-class';
const W = 'workload-mix';

const V1 = { policy: 'zgc-only', version: 1 };
const V2 = { policy: 'zgc-only', version: 2 };
const ON_V2 = { acked: V2, desired: V2 };
const NO_HOOK = 'the kernel offers no bpf_thp_ops hook (HOOK_ABI_ABSENT) and the policy sets spec.node.withoutHook: deny';

function node(id: string, labels: Record<string, string>, extra: Partial<FleetNode> = {}): FleetNode {
  return { id, labels, stale: false, incompatibility: null, acked: V1, desired: V1, ...extra };
}

/** A dozen mixed nodes: 2 kernels x 2 hardware classes x 3 workload classes. */
const FLEET: FleetNode[] = [];
for (const [i, kernel] of ['6.1', '6.6'].entries()) {
  for (const [j, hw] of ['c5', 'm6'].entries()) {
    for (const [l, wl] of ['jvm', 'kv', 'latency'].entries()) {
      FLEET.push(node(`node-${i}${j}${l}`, { [K]: kernel, [H]: hw, [W]: wl, zone: l === 0 ? 'a' : 'b' }));
    }
  }
}

const PLAN = planOf({ steps: [{ select: { count: 2 } }, { select: { percent: 50 } }, { select: { percent: 100 } }] });

function input(extra: Partial<CohortInput> = {}): CohortInput {
  return { rolloutId: 'r-1', plan: PLAN, step: 0, fleet: FLEET, target: V2, touched: [], nacked: [], ...extra };
}

describe('ranking', () => {
  it('is sha256 of rollout id and node id, stable and rollout-specific', () => {
    // sha256("r-1\nnode-000"), computed independently with `printf 'r-1\nnode-000' | sha256sum`.
    expect(cohortRank('r-1', 'node-000')).toBe('b0698e906c94c77ab34bc81fae0ad366994b28682e5eaa4d3319c12285145a02');
    const ids = FLEET.map((n) => n.id);
    const a = rankNodes('r-1', ids);
    expect(rankNodes('r-1', [...ids].reverse())).toEqual(a);
    expect(rankNodes('r-2', ids)).not.toEqual(a);
    expect([...a].sort()).toEqual([...ids].sort());
  });
});

describe('chooseCohort', () => {
  it('takes the first nodes in rank order, then covers the strata of the fleet', () => {
    const choice = chooseCohort(input());
    expect(choice.targeted).toBe(12);
    expect(choice.eligible).toBe(12);
    expect(choice.wanted).toBe(2);
    expect(choice.strata).not.toBeNull();
    // 2 kernels + 2 hardware classes + 3 workload classes: at least 3 nodes (one per workload).
    expect(choice.strata!.present).toHaveLength(7);
    expect(choice.strata!.uncovered).toEqual([]);
    expect(choice.strata!.covered).toEqual(choice.strata!.present);
    expect(choice.nodes.length).toBe(3);
    expect(choice.strata!.addedForCoverage).toBe(1);
    const covered = new Set(choice.nodes.flatMap((id) => strataOf(PLAN.strata, FLEET.find((n) => n.id === id)!.labels)));
    expect(covered.size).toBe(7);
    // Deterministic.
    expect(chooseCohort(input())).toEqual(choice);
    expect(chooseCohort(input({ fleet: [...FLEET].reverse() }))).toEqual(choice);
  });

  it('grows cumulatively: later steps add to what earlier steps selected', () => {
    const first = chooseCohort(input());
    const second = chooseCohort(input({ step: 1, touched: first.nodes }));
    expect(second.wanted).toBe(6);
    expect(second.nodes).toHaveLength(3);
    expect(second.total).toBe(6);
    expect(second.nodes.some((id) => first.nodes.includes(id))).toBe(false);
    expect(second.strata).toBeNull();
    const third = chooseCohort(input({ step: 2, touched: [...first.nodes, ...second.nodes] }));
    expect(third.nodes).toHaveLength(6);
    expect(third.total).toBe(12);
  });

  it('excludes stale, incapable and NACKed nodes with every reason, and reports strata it cannot cover', () => {
    const fleet = FLEET.map((n) => {
      if (n.labels[W] === 'latency') return { ...n, stale: true };
      if (n.id === 'node-000') return { ...n, incompatibility: NO_HOOK, stale: true };
      return n;
    });
    const choice = chooseCohort(input({ fleet, nacked: ['node-001'] }));
    expect(choice.eligible).toBe(12 - 4 - 1 - 1);
    const byNode = new Map(choice.excluded.map((e) => [e.node, e.reasons.map((r) => r.code)]));
    expect(byNode.get('node-000')).toEqual(['stale', 'incapable']);
    expect(byNode.get('node-001')).toEqual(['nacked']);
    expect(byNode.get('node-002')).toEqual(['stale']);
    expect(choice.nodes.some((id) => byNode.has(id))).toBe(false);
    expect(choice.strata!.uncovered).toEqual([{ stratum: `${W}=latency`, why: 'no eligible node: 4 node(s) in the stratum (4 stale)' }]);
  });

  it('counts nodes already on the target version and does not touch them', () => {
    const fleet = FLEET.map((n, i) => (i < 3 ? { ...n, ...ON_V2 } : n));
    const choice = chooseCohort(input({ fleet, step: 1, touched: [] }));
    expect(choice.alreadyOnTarget).toHaveLength(3);
    expect(choice.nodes).toHaveLength(3);
    expect(choice.nodes.some((id) => choice.alreadyOnTarget.includes(id))).toBe(false);
  });

  it('selects by labels, and keeps to the target', () => {
    const plan = planOf({
      target: { matchExpressions: [{ key: K, operator: 'In', values: ['6.6'] }] },
      steps: [{ select: { labels: { matchLabels: { zone: 'a' } } } }, { select: { percent: 100 } }],
      strata: { labelKeys: [] },
    });
    const choice = chooseCohort(input({ plan }));
    expect(choice.targeted).toBe(6);
    expect(choice.nodes.map((id) => FLEET.find((n) => n.id === id)!.labels.zone)).toEqual(['a', 'a']);
    expect(choice.nodes.every((id) => id.startsWith('node-1'))).toBe(true);
    expect(choice.strata).toBeNull();
  });

  it('covers every combination in combination mode', () => {
    const plan = planOf({ steps: [{ select: { count: 1 } }, { select: { percent: 100 } }], strata: { labelKeys: [K, H], mode: 'combination' } });
    const choice = chooseCohort(input({ plan }));
    expect(choice.strata!.present).toEqual([`${K}=6.1,${H}=c5`, `${K}=6.1,${H}=m6`, `${K}=6.6,${H}=c5`, `${K}=6.6,${H}=m6`]);
    expect(choice.nodes).toHaveLength(4);
  });

  it('rounds a percentage up and never exceeds the eligible nodes', () => {
    const plan = planOf({ steps: [{ select: { percent: 10 } }, { select: { percent: 100 } }], strata: { labelKeys: [] } });
    expect(chooseCohort(input({ plan })).nodes).toHaveLength(2); // ceil(1.2)
    const stale = FLEET.map((n, i) => (i < 10 ? { ...n, stale: true } : n));
    expect(chooseCohort(input({ plan: PLAN, fleet: stale, step: 2 })).nodes).toHaveLength(2);
  });
});

describe('chooseBaseline', () => {
  it('matches each canary node with nodes of the same strata on the previous version', () => {
    const canary = ['node-000', 'node-111'];
    const fleet = FLEET.map((n) => (n.id === 'node-100' ? { ...n, stale: true } : n.id === 'node-010' ? { ...n, ...ON_V2 } : canary.includes(n.id) ? { ...n, ...ON_V2 } : n));
    const baseline = chooseBaseline({ rolloutId: 'r', plan: PLAN, fleet, canary, touched: canary, previous: V1 });
    // node-000 is 6.1/c5/jvm: no other node has all three; the best share two keys.
    const m0 = baseline.matches.find((m) => m.canary === 'node-000')!;
    expect(m0.sharedKeys).toBe(2);
    // node-100 (stale) and node-010 (other version) are never baseline.
    expect(baseline.nodes).not.toContain('node-100');
    expect(baseline.nodes).not.toContain('node-010');
    expect(baseline.nodes.some((id) => canary.includes(id))).toBe(false);
    for (const id of m0.baseline) expect(FLEET.find((n) => n.id === id)!.labels[W] === 'jvm' || FLEET.find((n) => n.id === id)!.labels[K] === '6.1').toBe(true);
    expect(baseline.unmatched).toEqual([]);
  });

  it('takes exact matches when the strata repeat', () => {
    const fleet = [node('a', { [W]: 'jvm' }, ON_V2), node('b', { [W]: 'jvm' }), node('c', { [W]: 'kv' }), node('d', { [W]: 'jvm' })];
    const baseline = chooseBaseline({ rolloutId: 'r', plan: PLAN, fleet, canary: ['a'], touched: ['a'], previous: V1 });
    expect([...baseline.nodes].sort()).toEqual(['b', 'd']);
    expect(baseline.matches[0]!.sharedKeys).toBe(3);
  });

  it('says when no baseline exists', () => {
    const fleet = [node('a', {}, ON_V2), node('b', {}, { stale: true }), node('c', {}, { acked: null, desired: null })];
    expect(chooseBaseline({ rolloutId: 'r', plan: PLAN, fleet, canary: ['a'], touched: ['a'], previous: V1 })).toEqual({ nodes: [], matches: [], unmatched: ['a'] });
    // A canary that had no policy is compared with nodes that have none.
    expect(chooseBaseline({ rolloutId: 'r', plan: PLAN, fleet, canary: ['a'], touched: ['a'], previous: null }).nodes).toEqual(['c']);
  });
});

describe('blast-radius budget', () => {
  const view = (over: Partial<BudgetView>): BudgetView => ({ rolloutId: 'r', phase: 'progressing', currentStepGated: true, admitted: [], touched: [], settled: new Set(), ...over });

  it('resolves to the tighter of the caps, at least one node', () => {
    expect(resolveBudget({ maxNodes: null, maxPercent: null }, 100)).toBe(Number.POSITIVE_INFINITY);
    expect(resolveBudget({ maxNodes: 10, maxPercent: 25 }, 100)).toBe(10);
    expect(resolveBudget({ maxNodes: 50, maxPercent: 25 }, 100)).toBe(25);
    expect(resolveBudget({ maxNodes: null, maxPercent: 1 }, 12)).toBe(1);
  });

  it('counts unacknowledged and unverified nodes once across rollouts', () => {
    const a = view({ admitted: ['n1', 'n2'], touched: ['n0', 'n1', 'n2'], settled: new Set(['n0', 'n1']) });
    const b = view({ rolloutId: 'b', currentStepGated: false, admitted: ['n2', 'n3'], touched: ['n2', 'n3', 'n4'], settled: new Set(['n3', 'n4']) });
    const back = view({ rolloutId: 'c', phase: 'rolling_back', touched: ['n5', 'n6'], settled: new Set(['n6']) });
    const done = view({ rolloutId: 'd', phase: 'completed', touched: ['n7'] });
    expect([...nonStableNodes([a, b, back, done])].sort()).toEqual(['n1', 'n2', 'n5']);
  });

  it('admits up to the free budget, skips nodes another rollout is changing, and says when a step can never fit', () => {
    const other = view({ rolloutId: 'o', currentStepGated: false, touched: ['x1', 'x2'], admitted: ['x1', 'x2'] });
    const own = view({ admitted: ['n1'], touched: ['n1'], settled: new Set(['n1']) });
    expect(admit(5, own, [other], ['x1', 'n2', 'n3', 'n4'])).toEqual({ kind: 'admit', nodes: ['n2', 'n3'] });
    expect(admit(3, own, [other], ['n2'])).toMatchObject({ kind: 'wait', reason: 'blast-radius budget full (3 of 3 nodes in a non-stable state)' });
    expect(admit(10, own, [other], ['x2'])).toMatchObject({ kind: 'wait', reason: '1 remaining node(s) are being changed by another rollout' });
    expect(admit(3, own, [], ['n2', 'n3', 'n4'])).toMatchObject({ kind: 'blocked' });
    // An ungated step fits in batches.
    expect(admit(3, { ...own, currentStepGated: false }, [], ['n2', 'n3', 'n4'])).toEqual({ kind: 'admit', nodes: ['n2', 'n3', 'n4'] });
    expect(admit(3, own, [], [])).toEqual({ kind: 'done' });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

const nodeArb = (id: string): fc.Arbitrary<FleetNode> =>
  fc.record({
    id: fc.constant(id),
    labels: fc.record({ [K]: fc.constantFrom('6.1', '6.6', '6.12'), [H]: fc.constantFrom('c5', 'm6'), [W]: fc.constantFrom('jvm', 'kv', 'latency', 'batch') }, { requiredKeys: [K] }),
    stale: fc.constantFrom(false, false, false, true),
    incompatibility: fc.constantFrom(null, null, NO_HOOK),
    acked: fc.constantFrom(V1, V1, V1, V2),
    desired: fc.constantFrom(V1, V1, V1, V2),
  });
const fleetArb = fc.integer({ min: 0, max: 30 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => nodeArb(`n${i}`))));
const planArb = fc
  .tuple(fc.oneof(fc.record({ count: fc.integer({ min: 1, max: 10 }) }), fc.record({ percent: fc.integer({ min: 1, max: 99 }) })), fc.constantFrom('each-value', 'combination'))
  .map(([select, mode]) => planOf({ steps: [{ select }, { select: { percent: 50 } }, { select: { percent: 100 } }], strata: { labelKeys: [K, H, W], mode } }));

describe('cohort properties', () => {
  it('a cohort is eligible, new, unique, independent of fleet order, and the first step covers every coverable stratum', () => {
    fc.assert(
      fc.property(fleetArb, planArb, fc.string({ minLength: 1, maxLength: 8 }), fc.nat(), (fleet, plan, rolloutId, seed) => {
        const nacked = fleet.filter((_, i) => (seed >> i) % 7 === 0).map((n) => n.id);
        const base: CohortInput = { rolloutId, plan, step: 0, fleet, target: V2, touched: [], nacked };
        const choice = chooseCohort(base);
        const byId = new Map(fleet.map((n) => [n.id, n]));
        const excluded = new Set(choice.excluded.map((e) => e.node));
        expect(new Set(choice.nodes).size).toBe(choice.nodes.length);
        for (const id of choice.nodes) {
          const n = byId.get(id)!;
          expect(n.stale).toBe(false);
          expect(n.incompatibility).toBeNull();
          expect(nacked).not.toContain(id);
          expect(excluded.has(id)).toBe(false);
          expect(choice.alreadyOnTarget).not.toContain(id);
        }
        // Coverage: every present stratum is covered or reported, never both.
        const strata = choice.strata!;
        expect([...strata.covered, ...strata.uncovered.map((u) => u.stratum)].sort()).toEqual([...strata.present]);
        const eligibleStrata = new Set(
          fleet.filter((n) => !excluded.has(n.id)).flatMap((n) => strataOf(plan.strata, n.labels)),
        );
        for (const u of strata.uncovered) expect(eligibleStrata.has(u.stratum)).toBe(false);
        // Size: the wanted count (capped by what is eligible) plus the nodes added for coverage.
        const newEligible = fleet.filter((n) => !excluded.has(n.id) && !choice.alreadyOnTarget.includes(n.id)).length;
        const need = Math.max(0, choice.wanted - choice.alreadyOnTarget.length);
        expect(choice.nodes.length).toBe(Math.min(newEligible, Math.max(need, need + strata.addedForCoverage)));
        // Order independence.
        const shuffled = [...fleet].sort((a, b) => (cohortRank(String(seed), a.id) < cohortRank(String(seed), b.id) ? -1 : 1));
        expect(chooseCohort({ ...base, fleet: shuffled })).toEqual(choice);
        // Later steps never re-pick a touched node and reach exactly what they want when they can.
        const next = chooseCohort({ ...base, step: 1, touched: choice.nodes });
        expect(next.nodes.some((id) => choice.nodes.includes(id))).toBe(false);
        const last = chooseCohort({ ...base, step: 2, touched: [...choice.nodes, ...next.nodes] });
        expect(last.total).toBe(fleet.length - last.excluded.length);
      }),
      { numRuns: 300 },
    );
  });
});
