import { judgeMetric, type MetricSpec, type MetricVerdict } from '@thp-fleet/judge';
import { cgroupGlobMatcher } from '@thp-fleet/policy';
import { describe, expect, it } from 'vitest';
import type { JudgmentView, MetricSampleView, NodeView, Role, RolloutPhase, RolloutView, StepView } from '../api/types.js';
import {
  availableActions,
  canaryBaselineSeries,
  defaultPlan,
  explainJudgment,
  gateMetric,
  latestJudgments,
  parsePlanText,
  phaseText,
  readJudgmentDetails,
  selectText,
  stepProgress,
  stepVerdict,
} from './rollout.model.js';

function rollout(phase: RolloutPhase, extra: Partial<RolloutView> = {}): RolloutView {
  return {
    id: 'ro-1',
    policy: 'zgc-only',
    kind: 'rollout',
    fromVersion: 1,
    toVersion: 2,
    phase,
    step: 0,
    revision: 5,
    reason: null,
    pausedFrom: null,
    bakeUntil: null,
    judging: null,
    touched: ['a', 'b'],
    nacked: [],
    gateSkipReason: null,
    plan: { steps: [] },
    createdBy: 'token:alice#tok_1',
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    finishedAt: null,
    ...extra,
  };
}

const actions = (r: RolloutView, role: Role, otherActive = false): string[] => availableActions(r, role, { otherActive }).map((a) => a.action);

describe('the commands offered', () => {
  it('offers nothing to viewers, in any phase', () => {
    for (const phase of ['pending', 'progressing', 'baking', 'judging', 'paused', 'completed', 'failed', 'rolling_back', 'rolled_back', 'aborted'] as const) {
      expect(actions(rollout(phase, { pausedFrom: phase === 'paused' ? 'baking' : null }), 'viewer'), phase).toEqual([]);
    }
  });

  it('offers operators what the state machine accepts in each phase', () => {
    expect(actions(rollout('pending'), 'operator')).toEqual(['abort']);
    expect(actions(rollout('progressing'), 'operator')).toEqual(['pause', 'abort']);
    expect(actions(rollout('baking'), 'operator')).toEqual(['pause', 'promote', 'abort']);
    expect(actions(rollout('judging'), 'operator')).toEqual(['pause', 'abort']);
    expect(actions(rollout('paused', { pausedFrom: 'baking' }), 'operator')).toEqual(['resume', 'promote', 'abort']);
    expect(actions(rollout('paused', { pausedFrom: 'judging' }), 'operator')).toEqual(['resume', 'abort']);
    expect(actions(rollout('rolling_back'), 'operator')).toEqual([]);
    for (const phase of ['completed', 'failed', 'rolled_back', 'aborted'] as const) expect(actions(rollout(phase), 'operator'), phase).toEqual(['rollback']);
  });

  it('offers admins the audited gate skip while a step is judged', () => {
    expect(actions(rollout('judging'), 'admin')).toEqual(['pause', 'promote-skip-gate', 'abort']);
    expect(actions(rollout('paused', { pausedFrom: 'judging' }), 'admin')).toEqual(['resume', 'promote-skip-gate', 'abort']);
    const skip = availableActions(rollout('judging'), 'admin').find((a) => a.action === 'promote-skip-gate');
    expect(skip?.input).toBe('reason');
    expect(skip?.danger).toBe(true);
  });

  it('asks for a reason where the controller requires one, and says what abort does', () => {
    const offers = availableActions(rollout('baking'), 'operator');
    expect(offers.map((o) => [o.action, o.input])).toEqual([
      ['pause', 'reason'],
      ['promote', 'none'],
      ['abort', 'reason'],
    ]);
    expect(offers.find((o) => o.action === 'abort')?.confirm).toContain('Every node it touched (2) goes back');
  });

  it('does not offer a rollback while another rollout of the policy is active', () => {
    expect(actions(rollout('completed'), 'operator', true)).toEqual([]);
  });
});

describe('progress by step', () => {
  const node = (id: string, acked: number | null): NodeView =>
    ({ id, acked: acked === null ? null : { policy: 'zgc-only', version: acked, specHash: null, at: '' } }) as unknown as NodeView;
  const step = (index: number, state: string, cohort: string[], extra: Partial<StepView> = {}): StepView => ({
    index,
    selector: { name: index === 0 ? 'canary' : 'fleet', labels: null, amount: index === 0 ? { kind: 'count', count: 1 } : { kind: 'percent', percent: 100 } },
    bakeMs: 10_000,
    gates: [],
    state,
    cohort,
    excluded: [{ node: 'x', reasons: [{ code: 'stale', message: 'silent' }] }],
    strata: null,
    baseline: null,
    startedAt: null,
    bakeUntil: null,
    completedAt: null,
    ...extra,
  });

  it('counts assigned and acknowledged nodes of each cohort and how much of the bake has passed', () => {
    const now = Date.parse('2026-01-01T00:01:00Z');
    const r = rollout('baking', { step: 1, touched: ['a', 'b', 'c'] });
    const steps = [step(0, 'passed', ['a']), step(1, 'baking', ['b', 'c', 'd'], { bakeUntil: '2026-01-01T00:01:04Z' })];
    const progress = stepProgress(r, steps, [node('a', 2), node('b', 2), node('c', 1), node('d', null)], now);
    expect(progress.map((p) => [p.name, p.selects, p.cohort, p.assigned, p.acknowledged, p.excluded, p.current])).toEqual([
      ['canary', '1 node', 1, 1, 1, 1, false],
      ['fleet', '100 % of the targeted nodes', 3, 2, 1, 1, true],
    ]);
    expect(progress[1]?.bakeDone).toBeCloseTo(0.6, 5);
    expect(progress[0]?.bakeDone).toBeNull();
  });

  it('reads a step selection in both the plan form and the stored form', () => {
    expect(selectText({ count: 2 })).toBe('2 nodes');
    expect(selectText({ percent: 50, labels: { matchLabels: { zone: 'a' } } })).toBe('labels zone=a, 50 % of the targeted nodes');
    expect(selectText({ labels: { matchLabels: { zone: 'a' } }, amount: { kind: 'all' } })).toBe('labels zone=a');
    expect(selectText({ labels: null, amount: { kind: 'all' } })).toBe('every matching node');
    expect(selectText(null)).toBe('');
  });

  it('says where the rollout is in words', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(phaseText(rollout('baking', { bakeUntil: '2026-01-01T00:00:42Z' }), 'canary', now)).toBe('baking step 1 (canary): 42 s left');
    expect(phaseText(rollout('paused', { pausedFrom: 'judging', reason: 'judging timed out' }), 'canary', now)).toBe('paused at step 1 (canary) while judging: judging timed out');
    expect(phaseText(rollout('rolled_back', { reason: 'canary failed its gates' }), '', now)).toBe('rolled back: canary failed its gates');
  });
});

/** A judgment row as the controller stores it (rollout.judgment.ts), from a real judge verdict. */
function judgmentRow(m: MetricVerdict, attempt = 1, step = 0, id = 1): JudgmentView {
  return {
    id,
    step,
    attempt,
    metric: m.metric,
    method: m.evidence === null ? m.test : `${m.test}/${m.evidence.method}`,
    verdict: m.verdict,
    statistic: m.evidence === null ? null : m.evidence.test === 'sequential' ? m.evidence.statistic : (m.evidence.z ?? m.evidence.u),
    effect: m.effect?.relativeChange ?? null,
    interval: { low: m.effect?.relativeInterval?.lower ?? null, high: m.effect?.relativeInterval?.upper ?? null },
    threshold: m.tolerance,
    nCanary: m.canary.count,
    nBaseline: m.baseline.count,
    details: {
      judge: m,
      normalization: 'per-series',
      fallback: null,
      series: { canary: 3, baseline: 5 },
      canaryNodes: ['a', 'b', 'c'],
      baselineNodes: ['d', 'e', 'f', 'g', 'h'],
      window: { from: '2026-01-01T00:01:00Z', to: '2026-01-01T00:02:00Z' },
      preWindow: { from: '2026-01-01T00:00:00Z', to: '2026-01-01T00:01:00Z' },
    },
    judgedAt: '2026-01-01T00:02:00Z',
  };
}

/** Deterministic noise around a level. */
const around = (level: number, n: number, spread: number): number[] => Array.from({ length: n }, (_, i) => level * (1 + spread * Math.sin(i * 1.7)));
const spec: MetricSpec = { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.1, critical: true };

describe('verdicts in words', () => {
  it('explains a pass: the interval lies within the tolerance', () => {
    const j = judgmentRow(judgeMetric(spec, around(1.0, 200, 0.02), around(1.0, 200, 0.02)));
    expect(j.verdict).toBe('pass');
    const e = explainJudgment(j, { ...spec });
    expect(e.headline).toMatch(/^[+-]?\d+\.\d % \(90 % interval -?\d+\.\d % … \+\d+\.\d %\), tolerance \+10 %: pass$/);
    expect(e.sentences[0]).toBe('Compared 200 canary samples with 200 baseline samples from 3 canary and 5 baseline series (3 canary nodes on the new version, 5 baseline nodes of the same strata on the previous one).');
    expect(e.sentences.join(' ')).toContain('divided by its own mean before the rollout');
    expect(e.sentences.join(' ')).toContain('the gate allows an increase of up to 10.0 %');
    expect(e.sentences.join(' ')).toContain('The whole interval is within the tolerance');
    expect(e.sentences.at(-1)).toMatch(/^Sequential test \(mixture SPRT\): z = -?[\d.]+ against a boundary of ±[\d.]+; .* a decision needs e ≥ 20 \(1\/α\)/);
  });

  it('explains a fail: the canary is clearly worse than allowed', () => {
    const j = judgmentRow(judgeMetric(spec, around(1.5, 200, 0.02), around(1.0, 200, 0.02)));
    expect(j.verdict).toBe('fail');
    const e = explainJudgment(j, { ...spec });
    expect(e.sentences.join(' ')).toContain('The canary is 50.0 % higher than the baseline');
    expect(e.sentences.join(' ')).toContain('lies beyond the tolerance on the bad side (increase): fail');
    expect(e.headline).toMatch(/^\+50\.0 % .*: fail$/);
  });

  it('explains inconclusive, a decrease-is-bad gate, and a Mann-Whitney test', () => {
    const throughput: MetricSpec = { name: 'workload_throughput', direction: 'decrease-is-bad', tolerance: 0.05, critical: false, test: 'mann-whitney' };
    const j = judgmentRow(judgeMetric(throughput, around(0.97, 12, 0.2), around(1.0, 12, 0.2)));
    expect(j.verdict).toBe('inconclusive');
    const words = explainJudgment(j, { ...throughput }).sentences.join(' ');
    expect(words).toContain('the gate allows a decrease of up to 5.0 %');
    expect(words).toContain('still straddles the tolerance');
    expect(words).toMatch(/Mann-Whitney test \(exact\): U = [\d.]+, one-sided p = [\d.]+/);
  });

  it('explains no data', () => {
    const j = judgmentRow(judgeMetric(spec, [1, 2], [1]));
    expect(j.verdict).toBe('no-data');
    const e = explainJudgment(j, { ...spec });
    expect(e.headline).toBe('no data (2 canary, 1 baseline samples)');
    expect(e.sentences.join(' ')).toContain('fewer than 10 usable samples on a side');
  });

  it('reads stored details defensively', () => {
    expect(readJudgmentDetails(null)).toEqual({ judge: null, normalization: 'none', fallback: null, series: null, canaryNodes: [], baselineNodes: [], window: null, preWindow: null });
    expect(readJudgmentDetails({ canaryNodes: ['a', 3], window: { from: 'x' }, judge: { verdict: 1 } })).toMatchObject({ canaryNodes: ['a'], window: null, judge: null });
  });

  it('keeps the latest attempt of each step and combines its verdicts as the judge does', () => {
    const pass = judgeMetric(spec, around(1, 200, 0.02), around(1, 200, 0.02));
    const fail = judgeMetric({ ...spec, name: 'rss' }, around(2, 200, 0.02), around(1, 200, 0.02));
    const rows = [judgmentRow(fail, 1, 0, 1), judgmentRow(pass, 2, 0, 2), judgmentRow({ ...fail, metric: 'rss', verdict: 'pass' }, 2, 0, 3), judgmentRow(pass, 1, 1, 4)];
    const latest = latestJudgments(rows);
    expect([...latest.keys()]).toEqual([0, 1]);
    expect(latest.get(0)?.map((j) => j.id)).toEqual([2, 3]);
    expect(stepVerdict(latest.get(0) ?? [], [])).toBe('pass');
    expect(stepVerdict([judgmentRow(pass), judgmentRow(fail)], [])).toBe('fail');
    const noData = judgmentRow(judgeMetric({ ...spec, name: 'x' }, [], []));
    expect(stepVerdict([judgmentRow(pass), noData], [{ name: 'x', direction: 'increase-is-bad', tolerance: 0.1, critical: false }])).toBe('pass');
    expect(stepVerdict([judgmentRow(pass), noData], [{ name: 'x', direction: 'increase-is-bad', tolerance: 0.1, critical: true }])).toBe('inconclusive');
    expect(stepVerdict([noData], [])).toBe('no-data');
    expect(stepVerdict([], [])).toBeNull();
  });
});

describe('canary vs baseline over time', () => {
  it('splits a gate name into metric and cgroup glob', () => {
    expect(gateMetric('psi_memory_some_avg10')).toEqual({ metric: 'psi_memory_some_avg10', cgroupGlob: null });
    expect(gateMetric('workload_rss_bytes@/workloads.slice/kv-*')).toEqual({ metric: 'workload_rss_bytes', cgroupGlob: '/workloads.slice/kv-*' });
  });

  it('matches cgroup globs as the policy language does, covering the subtree', () => {
    const kv = cgroupGlobMatcher('/workloads.slice/kv-*');
    expect(kv('/workloads.slice/kv-store')).toBe(true);
    expect(kv('/workloads.slice/kv-store/child')).toBe(true);
    expect(kv('/workloads.slice/latency-svc')).toBe(false);
    expect(kv('/workloads.slice')).toBe(false);
    const deep = cgroupGlobMatcher('/kubepods.slice/**/zgc-*');
    expect(deep('/kubepods.slice/zgc-a')).toBe(true);
    expect(deep('/kubepods.slice/pod1/x/zgc-a')).toBe(true);
    const alt = cgroupGlobMatcher('/w/{a,b}?');
    expect(alt('/w/a1')).toBe(true);
    expect(alt('/w/c1')).toBe(false);
    expect(cgroupGlobMatcher('/w/[ab]x')('/w/bx')).toBe(true);
    expect(cgroupGlobMatcher('/**')('/anything/at/all')).toBe(true);
  });

  const t = (s: number): string => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000).toISOString();
  const row = (node: string, s: number, value: number, cgroup = '', name = 'workload_rss_bytes'): [string, MetricSampleView] => [node, { ts: t(s), name, cgroup, kind: 'gauge', value }];
  const byNode = (rows: [string, MetricSampleView][]): Map<string, MetricSampleView[]> => {
    const out = new Map<string, MetricSampleView[]>();
    for (const [n, s] of rows) out.set(n, [...(out.get(n) ?? []), s]);
    return out;
  };

  it('divides each series by its pre-window mean, averages each side per bucket, and leaves out series with no level', () => {
    const samples = byNode([
      // canary node a: kv cgroup at 100 before, 150 after (+50 %); a latency cgroup the gate does not read.
      row('a', 0, 100, '/workloads.slice/kv-store'),
      row('a', 10, 100, '/workloads.slice/kv-store'),
      row('a', 30, 150, '/workloads.slice/kv-store'),
      row('a', 30, 999, '/workloads.slice/latency-svc'),
      // baseline node b: 1000 throughout (a bigger node: its level is divided away).
      row('b', 0, 1000, '/workloads.slice/kv-store'),
      row('b', 30, 1000, '/workloads.slice/kv-store'),
      // baseline node c: no sample before the rollout: no level, left out.
      row('c', 30, 5, '/workloads.slice/kv-store'),
      // another metric on the same node is ignored.
      row('b', 30, 1, '/workloads.slice/kv-store', 'anon'),
    ]);
    const series = canaryBaselineSeries({
      gateName: 'workload_rss_bytes@/workloads.slice/kv-*',
      samplesByNode: samples,
      canaryNodes: ['a'],
      baselineNodes: ['b', 'c'],
      normalized: true,
      preWindow: { from: t(0), to: t(20) },
      window: { from: t(25), to: t(40) },
      bucketS: 10,
    });
    expect(series.seriesCount).toEqual({ canary: 1, baseline: 1, leftOut: 1 });
    expect(series.xs).toEqual([0, 10, 30].map((s) => Date.parse(t(s)) / 1000 + 5));
    expect(series.canary).toEqual([1, 1, 1.5]);
    expect(series.baseline).toEqual([1, null, 1]);
    expect(series.windowStart).toBe(Date.parse(t(25)) / 1000);
  });

  it('uses raw values for node-wide gates when the judgment did not normalize', () => {
    const samples = byNode([row('a', 0, 2, '', 'psi'), row('a', 0, 7, '/x', 'psi'), row('b', 0, 4, '', 'psi')]);
    const series = canaryBaselineSeries({ gateName: 'psi', samplesByNode: samples, canaryNodes: ['a'], baselineNodes: ['b'], normalized: false, preWindow: null, window: null, bucketS: 5 });
    expect(series.canary).toEqual([2]);
    expect(series.baseline).toEqual([4]);
    expect(canaryBaselineSeries({ gateName: 'psi', samplesByNode: new Map(), canaryNodes: ['a'], baselineNodes: [], normalized: false, preWindow: null, window: null }).xs).toEqual([]);
  });
});

describe('a new rollout plan', () => {
  it('starts from a plan that is valid JSON with a canary, the fleet and the standard gates', () => {
    const parsed = parsePlanText(defaultPlan());
    expect(parsed.ok).toBe(true);
    const plan = parsed.ok ? (parsed.plan as { steps: { select: unknown }[]; gates: { name: string }[] }) : null;
    expect(plan?.steps.map((s) => s.select)).toEqual([{ count: 1 }, { percent: 100 }]);
    expect(plan?.gates.map((g) => g.name)).toContain('psi_memory_some_avg10');
  });

  it('says where a broken plan is broken', () => {
    const parsed = parsePlanText('{\n  "steps": [\n    { "name": "x", }\n  ]\n}');
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toMatch(/^line 3, column \d+: /);
    expect(parsePlanText('[1]')).toEqual({ ok: false, problem: 'the plan must be a JSON object with steps and gates' });
  });
});
