import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesSelector, parseLabelSelector, formatSelector, type PathIssue } from './label-selector.js';
import { DEFAULT_JUDGING, gateMetric, DEFAULT_STRATA_KEYS, parsePlan, planToJson, rollbackPlan, selectsWholeTarget, stepIsGated, type RolloutPlan } from './rollout.plan.js';

const gate = { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.1, critical: true } as const;

function ok(input: unknown): RolloutPlan {
  const result = parsePlan(input);
  if (!result.ok) throw new Error(`expected a valid plan, got ${JSON.stringify(result.errors)}`);
  return result.plan;
}

function errors(input: unknown, root?: string): PathIssue[] {
  const result = parsePlan(input, root);
  if (result.ok) throw new Error('expected errors');
  return [...result.errors];
}

describe('parsePlan', () => {
  it('accepts a canary plan and resolves defaults', () => {
    const plan = ok({
      steps: [
        { name: 'canary', select: { count: 2 }, bake: '5m' },
        { select: { percent: 50 }, bake: 60_000 },
        { select: { percent: 100 } },
      ],
      gates: [gate, { name: 'workload_latency_p99_us', direction: 'increase-is-bad', tolerance: 0.05, critical: false, test: 'mann-whitney', alpha: 0.01, minSamples: 20 }],
    });
    expect(plan.steps.map((s) => s.name)).toEqual(['canary', 'step-2', 'step-3']);
    expect(plan.steps[0]!.bakeMs).toBe(300_000);
    expect(plan.steps[1]!.bakeMs).toBe(60_000);
    expect(plan.steps[2]!.bakeMs).toBe(0);
    // Plan gates apply to every step that leaves a baseline, not to the whole-fleet step.
    expect(plan.steps[0]!.gates).toHaveLength(2);
    expect(plan.steps[1]!.gates).toHaveLength(2);
    expect(plan.steps[2]!.gates).toEqual([]);
    expect(plan.steps[1]!.gates[1]).toEqual({ name: 'workload_latency_p99_us', direction: 'increase-is-bad', tolerance: 0.05, critical: false, test: 'mann-whitney', alpha: 0.01, minSamples: 20 });
    expect(plan.strata).toEqual({ labelKeys: DEFAULT_STRATA_KEYS, mode: 'each-value' });
    expect(plan.judging).toEqual(DEFAULT_JUDGING);
    expect(plan.autoRollback).toBe(true);
    expect(plan.gateSkip).toBeNull();
    expect(stepIsGated(plan, 0)).toBe(true);
    expect(stepIsGated(plan, 2)).toBe(false);
  });

  it('defaults critical to true and lets a step override the plan gates', () => {
    const plan = ok({
      steps: [{ select: { count: 1 }, gates: [{ name: 'compact_stall', direction: 'increase-is-bad', tolerance: 0 }] }, { select: { count: 4 }, gates: [] }, { select: { percent: 100 } }],
      gates: [gate],
    });
    expect(plan.steps[0]!.gates).toEqual([{ name: 'compact_stall', direction: 'increase-is-bad', tolerance: 0, critical: true }]);
    expect(stepIsGated(plan, 1)).toBe(false);
  });

  it('accepts label steps, label steps with a count, a target, strata and judging settings', () => {
    const plan = ok({
      target: { matchExpressions: [{ key: 'env', operator: 'In', values: ['prod', 'staging'] }] },
      steps: [
        { select: { labels: { matchLabels: { zone: 'a' } } } },
        { select: { labels: { matchLabels: { zone: 'b' } }, percent: 50 } },
        { select: { percent: 100 } },
      ],
      strata: { labelKeys: ['kernel'], mode: 'combination' },
      judging: { interval: '10s', timeout: '2m', onInconclusive: 'rollback', normalize: 'none', lookback: '5m' },
      autoRollback: false,
    });
    expect(plan.steps[0]!.select).toEqual({ labels: { matchLabels: { zone: 'a' }, matchExpressions: [] }, amount: { kind: 'all' } });
    expect(plan.steps[1]!.select.amount).toEqual({ kind: 'percent', percent: 50 });
    expect(plan.judging).toEqual({ intervalMs: 10_000, timeoutMs: 120_000, onInconclusive: 'rollback', normalize: 'none', lookbackMs: 300_000 });
    expect(plan.strata).toEqual({ labelKeys: ['kernel'], mode: 'combination' });
    expect(plan.autoRollback).toBe(false);
  });

  it('reports every error with its path, not just the first', () => {
    const found = errors(
      {
        steps: [
          { select: { count: 0 }, bake: 'soon', extra: 1 },
          { name: 'step-1', select: { count: 2, percent: 10 } },
          { select: { percent: 150 }, gates: [{ name: '9bad', direction: 'up', tolerance: -1, critical: 'yes', test: 't', alpha: 0.5, minSamples: 1 }, { name: 'throughput', direction: 'decrease-is-bad', tolerance: 1 }] },
          { select: {} },
          { select: { count: 3 } },
        ],
        gates: [gate, gate],
        judging: { interval: '50ms', onInconclusive: 'shrug', normalize: 'log' },
        strata: { labelKeys: ['ok', 'ok', 'bad key!'] },
        skipGates: { reason: '  ' },
        autoRollback: 'sure',
        surprise: true,
      },
      'body.plan',
    );
    const paths = found.map((e) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'body.plan.surprise',
        'body.plan.gates[1].name',
        'body.plan.judging.interval',
        'body.plan.judging.onInconclusive',
        'body.plan.judging.normalize',
        'body.plan.strata.labelKeys[1]',
        'body.plan.strata.labelKeys[2]',
        'body.plan.skipGates.reason',
        'body.plan.autoRollback',
        'body.plan.steps[0].extra',
        'body.plan.steps[0].select.count',
        'body.plan.steps[0].bake',
        'body.plan.steps[1].name',
        'body.plan.steps[1].select',
        'body.plan.steps[2].select.percent',
        'body.plan.steps[2].gates[0].name',
        'body.plan.steps[2].gates[0].direction',
        'body.plan.steps[2].gates[0].tolerance',
        'body.plan.steps[2].gates[0].critical',
        'body.plan.steps[2].gates[0].test',
        'body.plan.steps[2].gates[0].alpha',
        'body.plan.steps[2].gates[0].minSamples',
        'body.plan.steps[2].gates[1].tolerance',
        'body.plan.steps[3].select',
        'body.plan.steps[4].select',
      ]),
    );
    expect(found.find((e) => e.path === 'body.plan.steps[4].select')!.message).toMatch(/last step must select the whole targeted fleet/);
    expect(found.find((e) => e.path === 'body.plan.gates[1].name')!.message).toMatch(/already defined at body.plan.gates\[0\]/);
  });

  it('reads cgroup-scoped gate metrics and checks their globs', () => {
    const plan = ok({ steps: [{ select: { count: 1 }, gates: [{ name: 'workload_latency_p99_us@/workloads.slice/latency-*', direction: 'increase-is-bad', tolerance: 0.2 }] }, { select: { percent: 100 } }] });
    expect(gateMetric(plan.steps[0]!.gates[0]!.name)).toEqual({ metric: 'workload_latency_p99_us', cgroupGlob: '/workloads.slice/latency-*' });
    expect(gateMetric('psi_memory_some_avg10')).toEqual({ metric: 'psi_memory_some_avg10', cgroupGlob: null });
    const found = errors({ steps: [{ select: { count: 1 }, gates: [{ name: 'rss@relative/path', direction: 'increase-is-bad', tolerance: 0.2 }, { name: 'rss@/a/[x', direction: 'increase-is-bad', tolerance: 0.2 }] }, { select: { percent: 100 } }] });
    expect(found.map((e) => e.path)).toEqual(['plan.steps[0].gates[0].name', 'plan.steps[0].gates[1].name']);
  });

  it('rejects gates on a step that leaves no baseline', () => {
    const found = errors({ steps: [{ select: { percent: 100 }, gates: [gate] }] });
    expect(found).toEqual([{ path: 'plan.steps[0].gates', message: expect.stringMatching(/no baseline/) as unknown }]);
  });

  it('rejects a missing or empty step list, non-objects, and a judging timeout shorter than the interval', () => {
    expect(errors({}).map((e) => e.path)).toEqual(['plan.steps']);
    expect(errors({ steps: [] }).map((e) => e.path)).toEqual(['plan.steps']);
    expect(errors(null).map((e) => e.path)).toEqual(['plan']);
    expect(errors({ steps: [7] }).map((e) => e.path)).toEqual(['plan.steps[0]']);
    expect(errors({ steps: [{ select: { percent: 100 } }], judging: { interval: '1m', timeout: '30s' } }).map((e) => e.path)).toEqual(['plan.judging.timeout']);
    expect(errors({ steps: [{ select: { percent: 100 }, bake: '31d' }] })[0]!.message).toMatch(/30 days/);
  });

  it('reads skipGates as the fast path', () => {
    const plan = ok({ steps: [{ select: { count: 1 }, gates: [gate] }, { select: { percent: 100 } }], skipGates: { reason: 'INC-42: v3 pages the on-call' } });
    expect(plan.gateSkip).toEqual({ reason: 'INC-42: v3 pages the on-call' });
    expect(stepIsGated(plan, 0)).toBe(false);
  });
});

describe('rollbackPlan', () => {
  it('is one ungated whole-fleet step on the fast path', () => {
    const plan = rollbackPlan({ gateSkip: { reason: 'outage' }, gates: [gate], canaryBakeMs: 60_000 });
    expect(plan.steps).toHaveLength(1);
    expect(selectsWholeTarget(plan.steps[0]!.select)).toBe(true);
    expect(plan.steps[0]!.bakeMs).toBe(0);
    expect(stepIsGated(plan, 0)).toBe(false);
    expect(plan.gateSkip).toEqual({ reason: 'outage' });
  });

  it('is a judged canary and then the fleet without a skip', () => {
    const plan = rollbackPlan({ gateSkip: null, gates: [gate], canaryBakeMs: 60_000 });
    expect(plan.steps.map((s) => s.name)).toEqual(['canary', 'fleet']);
    expect(stepIsGated(plan, 0)).toBe(true);
    expect(stepIsGated(plan, 1)).toBe(false);
    // It is a valid plan by the same rules as any other.
    expect(ok(planToJson(plan))).toEqual(plan);
  });
});

describe('label selectors', () => {
  it('follow Kubernetes semantics', () => {
    const issues: PathIssue[] = [];
    const selector = parseLabelSelector(
      {
        matchLabels: { tier: 'web' },
        matchExpressions: [
          { key: 'zone', operator: 'In', values: ['a', 'b'] },
          { key: 'canary', operator: 'DoesNotExist' },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
          { key: 'kernel', operator: 'Exists' },
        ],
      },
      'sel',
      issues,
    )!;
    expect(issues).toEqual([]);
    expect(matchesSelector(selector, { tier: 'web', zone: 'a', kernel: '6.1' })).toBe(true);
    expect(matchesSelector(selector, { tier: 'web', zone: 'a', kernel: '6.1', env: 'prod' })).toBe(true);
    expect(matchesSelector(selector, { tier: 'web', zone: 'a', kernel: '6.1', env: 'dev' })).toBe(false);
    expect(matchesSelector(selector, { tier: 'web', zone: 'c', kernel: '6.1' })).toBe(false);
    expect(matchesSelector(selector, { tier: 'web', zone: 'a', kernel: '6.1', canary: '' })).toBe(false);
    expect(matchesSelector(selector, { tier: 'web', zone: 'a' })).toBe(false);
    expect(matchesSelector(selector, { tier: 'db', zone: 'a', kernel: '6.1' })).toBe(false);
    expect(formatSelector(selector)).toBe('tier=web,zone in (a,b),!canary,env notin (dev),kernel');
  });

  it('reports each bad part with its path', () => {
    const issues: PathIssue[] = [];
    parseLabelSelector({ matchLabels: { 'bad key!': 'x', ok: 'has space' }, matchExpressions: [{ key: 'k', operator: 'In' }, { key: 'k', operator: 'Exists', values: ['x'] }, { operator: 'Near' }], other: 1 }, 's', issues);
    expect(issues.map((i) => i.path)).toEqual(['s.other', 's.matchLabels.bad key!', 's.matchLabels.ok', 's.matchExpressions[0].values', 's.matchExpressions[1].values', 's.matchExpressions[2].key', 's.matchExpressions[2].operator']);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

const labelKey = fc.constantFrom('zone', 'kernel', 'thp.fleet/workload-class', 'tier');
const labelValue = fc.constantFrom('a', 'b', '6.1', 'jvm', 'kv');
const selectorArb = fc.record({
  matchLabels: fc.dictionary(labelKey, labelValue, { maxKeys: 2 }),
  matchExpressions: fc.array(
    fc.oneof(
      fc.record({ key: labelKey, operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.array(labelValue, { minLength: 1, maxLength: 3 }) }),
      fc.record({ key: labelKey, operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const), values: fc.constant([] as string[]) }),
    ),
    { maxLength: 2 },
  ),
});
/** A step's selector that does not select everything (an empty one would be a whole-fleet step). */
const stepSelectorArb = selectorArb.map((s) => ({ ...s, matchLabels: { ...s.matchLabels, tier: 'web' } }));
const gateArb = fc.record({
  name: fc.constantFrom('psi_memory_some_avg10', 'compact_stall', 'workload_latency_p99_us', 'rss_bytes'),
  direction: fc.constantFrom('increase-is-bad' as const, 'decrease-is-bad' as const),
  tolerance: fc.double({ min: 0, max: 0.99, noNaN: true }),
  critical: fc.boolean(),
  alpha: fc.constantFrom(0.01, 0.05),
});
const gatesArb = fc.uniqueArray(gateArb, { selector: (g) => g.name, maxLength: 3 });
const partialStepArb = fc.record(
  {
    select: fc.oneof(
      fc.record({ count: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ percent: fc.double({ min: 0.5, max: 99, noNaN: true }) }),
      fc.record({ labels: stepSelectorArb }),
      fc.record({ labels: stepSelectorArb, count: fc.integer({ min: 1, max: 5 }) }),
    ),
    bake: fc.integer({ min: 0, max: 3_600_000 }),
    gates: gatesArb,
  },
  { requiredKeys: ['select'] },
);
const validPlanJson = fc.record(
  {
    steps: fc.array(partialStepArb, { maxLength: 5 }).map((steps) => [...steps, { select: { percent: 100 } }]),
    gates: gatesArb,
    target: selectorArb,
    autoRollback: fc.boolean(),
  },
  { requiredKeys: ['steps'] },
);

describe('parsePlan properties', () => {
  it('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const result = parsePlan(input);
        if (!result.ok) expect(result.errors.length).toBeGreaterThan(0);
      }),
    );
  });

  it('never throws on plan-shaped input with broken parts', () => {
    fc.assert(
      fc.property(fc.record({ steps: fc.array(fc.record({ select: fc.anything(), bake: fc.anything(), gates: fc.anything(), name: fc.anything() }, { requiredKeys: [] }), { maxLength: 4 }), gates: fc.anything(), judging: fc.anything(), strata: fc.anything(), target: fc.anything() }, { requiredKeys: [] }), (input) => {
        const result = parsePlan(input);
        if (!result.ok) for (const e of result.errors) expect(e.path.startsWith('plan')).toBe(true);
      }),
    );
  });

  it('accepts every well-formed plan, and planToJson round-trips it', () => {
    fc.assert(
      fc.property(validPlanJson, (input) => {
        const plan = ok(input);
        expect(plan.steps).toHaveLength(input.steps.length);
        expect(selectsWholeTarget(plan.steps.at(-1)!.select)).toBe(true);
        expect(ok(planToJson(plan))).toEqual(plan);
      }),
    );
  });
});
