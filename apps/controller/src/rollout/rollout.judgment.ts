/**
 * One judgment of a step: the gates' samples (canary and baseline, made comparable by
 * rollout.samples.ts) through the canary judge (libs/judge `judgeCanary`), and the result in
 * the forms it is stored in: a row per metric in `judgments` (statistic, effect, interval,
 * sample sizes, threshold and the judge's whole evidence), a compact summary for the audit log,
 * and the verdict for the state machine. Pure.
 */
import { judgeCanary, type CanaryVerdict, type MetricData, type MetricVerdict } from '@thp-fleet/judge';
import type { BaselineChoice } from './cohort.js';
import type { NewJudgment } from './rollout.repository.js';
import { gateMetric, type GateSpec, type JudgingSettings } from './rollout.plan.js';
import { gateRows, gateSamples, type GateSamples, type SampleRow } from './rollout.samples.js';
import type { Verdict } from './rollout.machine.js';

export interface JudgmentInput {
  readonly step: number;
  readonly attempt: number;
  readonly gates: readonly GateSpec[];
  readonly settings: JudgingSettings;
  readonly canary: readonly string[];
  readonly baseline: BaselineChoice;
  readonly window: { readonly from: Date; readonly to: Date };
  readonly preWindow: { readonly from: Date; readonly to: Date };
  /** Rows per metric (the gate name's metric part), window and pre-window. */
  readonly rows: ReadonlyMap<string, { readonly window: readonly SampleRow[]; readonly pre: readonly SampleRow[] }>;
}

/** What the audit log keeps of one metric: enough to see why without opening the judgment. */
export interface MetricSummary {
  readonly metric: string;
  readonly verdict: Verdict;
  readonly critical: boolean;
  readonly test: string;
  readonly statistic: number | null;
  readonly relativeChange: number | null;
  readonly interval: { readonly lower: number | null; readonly upper: number | null } | null;
  readonly confidenceLevel: number | null;
  readonly tolerance: number;
  readonly nCanary: number;
  readonly nBaseline: number;
  readonly normalization: string;
}

export interface JudgmentResult {
  readonly verdict: Verdict;
  /** One line: the judge's explanation, plus what was compared. */
  readonly summary: string;
  readonly canary: CanaryVerdict;
  readonly rows: readonly NewJudgment[];
  readonly metrics: readonly MetricSummary[];
  /** For rollout_steps.baseline and the API. */
  readonly baseline: { readonly nodes: readonly string[]; readonly matches: BaselineChoice['matches']; readonly unmatched: readonly string[] };
}

function statisticOf(m: MetricVerdict): number | null {
  const e = m.evidence;
  if (e === null) return null;
  return e.test === 'sequential' ? e.statistic : (e.z ?? e.u);
}

function methodOf(m: MetricVerdict): string {
  return m.evidence === null ? m.test : `${m.test}/${m.evidence.method}`;
}

export function judgeStep(input: JudgmentInput): JudgmentResult {
  const canary = new Set(input.canary);
  const baseline = new Set(input.baseline.nodes);
  const data: Record<string, MetricData> = {};
  const prepared = new Map<string, GateSamples>();
  for (const gate of input.gates) {
    const { metric, cgroupGlob } = gateMetric(gate.name);
    const rows = input.rows.get(metric) ?? { window: [], pre: [] };
    const samples = gateSamples({ window: gateRows(rows.window, cgroupGlob), pre: gateRows(rows.pre, cgroupGlob), canary, baseline, normalize: input.settings.normalize });
    prepared.set(gate.name, samples);
    data[gate.name] = { canary: samples.canary, baseline: samples.baseline };
  }
  const verdict = judgeCanary(input.gates, data);
  const rows: NewJudgment[] = [];
  const metrics: MetricSummary[] = [];
  for (const m of verdict.metrics) {
    const samples = prepared.get(m.metric);
    const normalization = samples === undefined ? 'none' : samples.fallback ?? samples.normalization;
    const interval = m.effect?.relativeInterval ?? null;
    rows.push({
      step: input.step,
      attempt: input.attempt,
      metric: m.metric,
      method: methodOf(m),
      verdict: m.verdict,
      statistic: statisticOf(m),
      effect: m.effect?.relativeChange ?? null,
      ciLow: interval?.lower ?? null,
      ciHigh: interval?.upper ?? null,
      threshold: m.tolerance,
      nCanary: m.canary.count,
      nBaseline: m.baseline.count,
      details: {
        judge: m,
        normalization: samples?.normalization ?? 'none',
        fallback: samples?.fallback ?? null,
        series: samples?.series ?? null,
        canaryNodes: input.canary,
        baselineNodes: input.baseline.nodes,
        window: { from: input.window.from.toISOString(), to: input.window.to.toISOString() },
        preWindow: { from: input.preWindow.from.toISOString(), to: input.preWindow.to.toISOString() },
      },
    });
    metrics.push({
      metric: m.metric,
      verdict: m.verdict,
      critical: m.critical,
      test: methodOf(m),
      statistic: statisticOf(m),
      relativeChange: m.effect?.relativeChange ?? null,
      interval,
      confidenceLevel: m.effect?.confidenceLevel ?? null,
      tolerance: m.tolerance,
      nCanary: m.canary.count,
      nBaseline: m.baseline.count,
      normalization,
    });
  }
  const compared = `${input.canary.length} canary vs ${input.baseline.nodes.length} baseline node(s)`;
  const noBaseline = input.baseline.nodes.length === 0 ? ' (no baseline node runs the previous version in the canary strata)' : '';
  return {
    verdict: verdict.verdict,
    summary: `${verdict.explanation} [${compared}${noBaseline}]`,
    canary: verdict,
    rows,
    metrics,
    baseline: { nodes: input.baseline.nodes, matches: input.baseline.matches, unmatched: input.baseline.unmatched },
  };
}
