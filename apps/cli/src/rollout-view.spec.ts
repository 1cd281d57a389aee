import { describe, expect, it } from 'vitest';
import type { Judgment, RolloutDetail } from './api-types.js';
import { eventLine, labelSelectorText, latestJudgments, percent, phaseText, renderRollout, selectorText, summaryLine } from './rollout-view.js';

const now = Date.parse('2026-11-25T12:00:00Z');

const judgment = (step: number, attempt: number, metric: string, verdict: string, effect: number): Judgment => ({
  step,
  attempt,
  metric,
  method: 'sequential',
  verdict,
  statistic: 3.2,
  effect,
  interval: { low: effect - 0.1, high: effect + 0.1 },
  threshold: 0.1,
  nCanary: 20,
  nBaseline: 40,
  judgedAt: '2026-11-25T11:59:58Z',
});

/** A rollout as GET /api/v1/rollouts/{id} gives it: rolled back after its canary failed a gate. */
const DETAIL: RolloutDetail = {
  rollout: {
    id: 'ro-abc-1234',
    policy: 'thp-everywhere',
    kind: 'rollout',
    fromVersion: 2,
    toVersion: 3,
    phase: 'rolled_back',
    step: 0,
    revision: 9,
    reason: 'canary failed its gates',
    pausedFrom: null,
    bakeUntil: null,
    judging: null,
    touched: ['sim-001', 'sim-004', 'sim-007'],
    nacked: [],
    gateSkipReason: null,
    plan: {},
    createdBy: 'token:ops#1',
    createdAt: '2026-11-25T11:58:00Z',
    updatedAt: '2026-11-25T11:59:59Z',
    finishedAt: '2026-11-25T11:59:59Z',
  },
  steps: [
    { index: 0, selector: { name: 'canary', labels: null, amount: { kind: 'count', count: 1 } }, bakeMs: 5000, gates: [{}, {}], state: 'rolled_back', cohort: ['sim-001', 'sim-004', 'sim-007'], excluded: [], startedAt: null, bakeUntil: null, completedAt: null },
    { index: 1, selector: { name: 'fleet', labels: null, amount: { kind: 'percent', percent: 100 } }, bakeMs: 120_000, gates: [], state: 'pending', cohort: [], excluded: [], startedAt: null, bakeUntil: null, completedAt: null },
  ],
  nodes: [],
  judgments: [judgment(0, 1, 'psi', 'inconclusive', 0.02), judgment(0, 2, 'psi', 'pass', 0.01), judgment(0, 2, 'latency', 'fail', 2.5)],
  events: [
    { id: 2, at: '2026-11-25T11:59:59Z', from: 'rolling_back', to: 'rolled_back', step: 0, actor: 'controller', message: 'rollout rolled back', data: {} },
    { id: 1, at: '2026-11-25T11:59:58Z', from: 'judging', to: 'rolling_back', step: 0, actor: 'controller', message: 'canary: fail', data: {} },
  ],
};

describe('rollout view', () => {
  it('describes selections', () => {
    expect(selectorText({ amount: { kind: 'count', count: 2 } })).toBe('count 2');
    expect(selectorText({ amount: { kind: 'percent', percent: 50 }, labels: { matchLabels: { zone: 'a' } } })).toBe('50% where zone=a');
    expect(selectorText({ amount: { kind: 'all' }, labels: { matchLabels: {}, matchExpressions: [{ key: 'k', operator: 'Exists' }] } })).toBe('all where {"matchExpressions":[{"key":"k","operator":"Exists"}]}');
    expect(selectorText(null)).toBe('?');
    expect(labelSelectorText(undefined)).toBe('');
  });

  it('shows relative changes as signed percentages', () => {
    expect([percent(0.123), percent(-0.04), percent(0), percent(null), percent(Number.NaN)]).toEqual(['+12.3%', '-4.0%', '+0.0%', '-', '-']);
  });

  it('takes the verdicts of the newest attempt', () => {
    expect(latestJudgments(DETAIL.judgments).map((j) => `${j.metric}:${j.verdict}`)).toEqual(['latency:fail', 'psi:pass']);
    expect(latestJudgments([])).toEqual([]);
  });

  it('says where a running rollout is, with its clock', () => {
    const r = { ...DETAIL.rollout, phase: 'baking', bakeUntil: '2026-11-25T12:00:30Z' };
    expect(phaseText(r, 2, now)).toBe('baking step 1/2, bake ends in 30s');
    expect(phaseText({ ...r, phase: 'judging', judging: { attempt: 2, awaiting: true, deadline: '2026-11-25T12:05:00Z' } }, 2, now)).toBe('judging step 1/2, attempt 2, deadline in 5m');
    expect(phaseText({ ...r, phase: 'paused', pausedFrom: 'baking' }, 2, now)).toBe('paused step 1/2 (was baking)');
  });

  it('renders the status block: header, steps, verdicts, events in order', () => {
    const lines = renderRollout(DETAIL, now);
    expect(lines[0]).toBe('rollout ro-abc-1234  rollout  thp-everywhere v2 → v3  by token:ops#1, 2m ago');
    expect(lines).toContain('phase:    rolled_back step 1/2   (revision 9)');
    expect(lines).toContain('reason:   canary failed its gates');
    expect(lines).toContain('nodes:    3 touched');
    const table = lines.slice(lines.indexOf('') + 1, lines.indexOf('') + 4);
    expect(table).toEqual(['STEP  NAME    SELECT   BAKE  GATES  NODES  STATE', '   1  canary  count 1  5s        2      3  rolled_back', '   2  fleet   100%     2m        0      0  pending']);
    expect(lines).toContain('verdicts of step 1, attempt 2 (2s ago): canary vs baseline');
    expect(lines.find((l) => l.startsWith('latency'))).toMatch(/^latency\s+fail\s+\+250\.0%\s+\+240\.0% \.\. \+260\.0%\s+10\.0%\s+20\/40\s+sequential$/);
    expect(lines.slice(-2)).toEqual(['  2026-11-25 11:59:58Z  judging → rolling_back: canary: fail', '  2026-11-25 11:59:59Z  rolling_back → rolled_back: rollout rolled back']);
  });

  it('marks the current step of a running rollout', () => {
    const running = { ...DETAIL, rollout: { ...DETAIL.rollout, phase: 'progressing', step: 1, reason: null } };
    const lines = renderRollout(running, now, { events: 0 });
    expect(lines.some((l) => l.startsWith('  >2  fleet'))).toBe(true);
    expect(lines.some((l) => l.startsWith('recent events'))).toBe(false);
  });

  it('one-line summary and event lines', () => {
    expect(summaryLine(DETAIL, now)).toBe('ro-abc-1234 thp-everywhere v2 → v3: rolled_back step 1/2, 3 nodes touched (canary failed its gates)');
    const first = DETAIL.events[1];
    expect(first && eventLine(first)).toBe('2026-11-25 11:59:58Z  judging → rolling_back: canary: fail');
  });
});
