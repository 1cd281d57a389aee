import { describe, expect, it } from 'vitest';
import { judgeStep, type JudgmentInput } from './rollout.judgment.js';
import { DEFAULT_JUDGING, type GateSpec } from './rollout.plan.js';
import type { SampleRow } from './rollout.samples.js';

const RSS = '/workloads.slice/kv-store';
const gates: GateSpec[] = [
  { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.1, critical: true },
  { name: `workload_rss_bytes@/workloads.slice/kv-*`, direction: 'increase-is-bad', tolerance: 0.1, critical: true },
];

/** Deterministic jitter in [-1, 1]. */
const jitter = (i: number): number => Math.sin(i * 12.9898) * 0.999;

function rows(nodes: readonly string[], cgroup: string, level: (node: string) => number, from: number, count: number, spread: number): SampleRow[] {
  return nodes.flatMap((nodeId, k) => Array.from({ length: count }, (_, i) => ({ nodeId, cgroup, ts: from + i * 1000, value: level(nodeId) * (1 + spread * jitter(i * 7 + k)) })));
}

function input(canaryFactor: number, baselineNodes: readonly string[] = ['b1', 'b2', 'b3', 'b4']): JudgmentInput {
  const canary = ['c1', 'c2'];
  const all = [...canary, ...baselineNodes];
  // Node sizes differ: "big" nodes have 4x the level of the others.
  const size = (id: string): number => (id.endsWith('2') || id.endsWith('4') ? 4 : 1);
  const factor = (id: string): number => (canary.includes(id) ? canaryFactor : 1);
  return {
    step: 0,
    attempt: 3,
    gates,
    settings: DEFAULT_JUDGING,
    canary,
    baseline: { nodes: baselineNodes, matches: canary.map((c) => ({ canary: c, baseline: baselineNodes, sharedKeys: 3 })), unmatched: baselineNodes.length === 0 ? canary : [] },
    window: { from: new Date(100_000), to: new Date(200_000) },
    preWindow: { from: new Date(0), to: new Date(50_000) },
    rows: new Map([
      ['psi_memory_some_avg10', { pre: rows(all, '', (id) => 5 * size(id), 0, 20, 0.05), window: rows(all, '', (id) => 5 * size(id) * factor(id), 100_000, 60, 0.05) }],
      ['workload_rss_bytes', { pre: rows(all, RSS, (id) => 1e9 * size(id), 0, 20, 0.02), window: rows(all, RSS, (id) => 1e9 * size(id) * factor(id), 100_000, 60, 0.02) }],
    ]),
  };
}

describe('judgeStep', () => {
  it('fails a canary 50% worse, with statistics for every metric', () => {
    const result = judgeStep(input(1.5));
    expect(result.verdict).toBe('fail');
    expect(result.rows).toHaveLength(2);
    for (const row of result.rows) {
      expect(row.verdict).toBe('fail');
      expect(row.attempt).toBe(3);
      expect(row.effect).toBeCloseTo(0.5, 1);
      expect(row.threshold).toBe(0.1);
      expect(row.nCanary).toBe(120);
      expect(row.nBaseline).toBe(240);
      expect(row.statistic).not.toBeNull();
      expect(row.ciLow).not.toBeNull();
      expect(row.method).toMatch(/^sequential\//);
    }
    expect(result.metrics[1]).toMatchObject({ metric: 'workload_rss_bytes@/workloads.slice/kv-*', verdict: 'fail', normalization: 'per-series' });
    expect(result.summary).toMatch(/^fail: .*\[2 canary vs 4 baseline node\(s\)\]$/);
  });

  it('passes an unchanged canary', () => {
    const result = judgeStep(input(1));
    expect(result.verdict).toBe('pass');
    expect(result.rows.every((r) => r.verdict === 'pass')).toBe(true);
  });

  it('has no data without a baseline, and says why', () => {
    const result = judgeStep(input(1.5, []));
    expect(result.verdict).toBe('no-data');
    expect(result.summary).toMatch(/no baseline node runs the previous version/);
  });
});
