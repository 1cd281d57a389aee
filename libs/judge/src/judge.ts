// The canary judge: one verdict per metric and one for the canary, as plain serializable
// objects (stored as JSON and shown by the dashboard to explain the decision).
import { formatLevel, formatPercentMagnitude, formatSignedPercent, formatStatistic, formatValue } from './format.js';
import { hodgesLehmannEstimate, hodgesLehmannShift, rankSumTest, type TestMethod } from './mann-whitney.js';
import { cleanSample, meanAndVariance, medianOfSorted, sortedCopy } from './sample.js';
import { SEQUENTIAL_PLANNED_SAMPLES, sequentialLook } from './sequential.js';
import { JudgeInputError, resolveMetricSpec, type JudgeIssue, type JudgeTest, type MetricDirection, type MetricSpec, type ResolvedMetricSpec } from './spec.js';

export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'no-data';

/** An interval; a null end is unbounded. */
export interface Bounds {
  readonly lower: number | null;
  readonly upper: number | null;
}

export interface SampleSummary {
  /** Finite values used. */
  readonly count: number;
  /** Non-finite or non-numeric values removed before judging. */
  readonly dropped: number;
  readonly mean: number | null;
  readonly median: number | null;
}

/** Canary relative to baseline; positive values mean the canary is higher. */
export interface EffectSize {
  /**
   * The change the decision is about, relative to the baseline: the ratio of means minus 1
   * (sequential) or the Hodges-Lehmann shift over the baseline median (Mann-Whitney).
   * Null when the baseline centre is 0.
   */
  readonly relativeChange: number | null;
  /** Its confidence sequence (sequential) or confidence interval (Mann-Whitney); null when not estimable. */
  readonly relativeInterval: Bounds | null;
  /** Two-sided level of that interval, 1 - 2α: each end holds with confidence 1 - α. */
  readonly confidenceLevel: number;
  readonly relativeChangeOfMeans: number | null;
  readonly relativeChangeOfMedians: number | null;
  /** Hodges-Lehmann shift in metric units: the median of all canary - baseline differences. */
  readonly hodgesLehmannShift: number | null;
  /** Its distribution-free (Moses) interval at `confidenceLevel`; Mann-Whitney only. */
  readonly hodgesLehmannInterval: Bounds | null;
}

export interface SequentialEvidence {
  readonly test: 'sequential';
  readonly method: 'normal-mixture-sprt';
  /** z of canary mean - (1 ± tolerance)·baseline mean; positive = worse than the tolerance allows. */
  readonly statistic: number | null;
  /** |statistic| needed for a decision at this look. */
  readonly boundary: number | null;
  /** Evidence that the change is beyond tolerance; fail when >= eValueThreshold. Capped at Number.MAX_VALUE. */
  readonly eValueFail: number | null;
  /** Evidence that the change is within tolerance; pass when >= eValueThreshold. */
  readonly eValuePass: number | null;
  /** 1 / α. */
  readonly eValueThreshold: number;
  /** Information at this look in pairs of samples. */
  readonly effectiveSamples: number | null;
  /** ρ² of the broad half-normal part of the mixture. */
  readonly mixtureVariance: number;
  /** The sample size per arm at which the broad part's boundary is tightest. */
  readonly plannedSamples: number;
  /** The relative change on the bad side the test is tuned for (spec `designChange`); null: none. */
  readonly designChange: number | null;
  /** That change as a standardized drift per pair of samples: the centre of the design part of the mixture. */
  readonly designEffect: number | null;
  /** Weight of the design part of the mixture (0 without one). */
  readonly designWeight: number;
}

export interface MannWhitneyEvidence {
  readonly test: 'mann-whitney';
  readonly method: TestMethod;
  /** Mann-Whitney U of the canary sample (R's W): #{canary > baseline} + ½ #{ties}. */
  readonly u: number;
  /** Normal method: continuity-corrected z; null for the exact method. */
  readonly z: number | null;
  /** H0: no shift, two-sided. */
  readonly pValueTwoSided: number;
  /** H0: no shift, one-sided in the metric's bad direction. */
  readonly pValueBadDirection: number;
  readonly ties: boolean;
  /** The tolerance in metric units: tolerance · |baseline median|. */
  readonly shiftThreshold: number;
  /** Confidence level the Moses interval actually attains. */
  readonly achievedConfidence: number;
}

export interface MetricVerdict {
  readonly metric: string;
  readonly verdict: Verdict;
  readonly critical: boolean;
  readonly direction: MetricDirection;
  readonly tolerance: number;
  readonly alpha: number;
  readonly minSamples: number;
  readonly test: JudgeTest;
  readonly canary: SampleSummary;
  readonly baseline: SampleSummary;
  /** Null for no-data. */
  readonly effect: EffectSize | null;
  /** Null for no-data. */
  readonly evidence: SequentialEvidence | MannWhitneyEvidence | null;
  /** One paragraph for people. */
  readonly explanation: string;
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value + 0 : null; // + 0 turns -0 into 0, as JSON would
}

/**
 * The stored form of a verdict: JSON has no NaN, ±Infinity or -0, so a verdict must survive
 * JSON.stringify/parse unchanged. Every field that can be non-finite is typed `number | null`
 * already; this walk is the guarantee.
 */
function plain<T>(value: T): T {
  if (typeof value === 'number') return finite(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => plain(item)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = plain(item);
    return out as T;
  }
  return value;
}

function bounds(lower: number | null, upper: number | null): Bounds | null {
  const l = lower === null ? null : finite(lower);
  const u = upper === null ? null : finite(upper);
  return l === null && u === null ? null : { lower: l, upper: u };
}

function relative(change: number, reference: number): number | null {
  return reference === 0 ? null : finite(change / Math.abs(reference));
}

function readSamples(input: unknown, path: string, issues: JudgeIssue[]): readonly unknown[] {
  if (Array.isArray(input)) return input as readonly unknown[];
  if (ArrayBuffer.isView(input) && !(input instanceof DataView)) return Array.from(input as unknown as ArrayLike<number>);
  issues.push({ path, message: 'must be an array of numbers' });
  return [];
}

/**
 * Judges one metric. `canary` and `baseline` are all samples so far; the verdict is a pure
 * function of them and the spec, so the controller simply calls it again at every look.
 * Throws `JudgeInputError` for an invalid spec or non-array data; non-finite values are dropped
 * and counted, and too few values give `no-data`.
 */
export function judgeMetric(spec: MetricSpec, canary: readonly number[], baseline: readonly number[]): MetricVerdict {
  const resolved = resolveMetricSpec(spec);
  const issues: JudgeIssue[] = [];
  const canaryRaw = readSamples(canary, 'canary', issues);
  const baselineRaw = readSamples(baseline, 'baseline', issues);
  if (issues.length > 0) throw new JudgeInputError(issues);
  return plain(judgeResolved(resolved, canaryRaw, baselineRaw));
}

function summarize(values: Float64Array, dropped: number, sorted: Float64Array): SampleSummary {
  if (values.length === 0) return { count: 0, dropped, mean: null, median: null };
  return { count: values.length, dropped, mean: finite(meanAndVariance(values).mean), median: finite(medianOfSorted(sorted)) };
}

function judgeResolved(spec: ResolvedMetricSpec, canaryRaw: readonly unknown[], baselineRaw: readonly unknown[]): MetricVerdict {
  const canary = cleanSample(canaryRaw);
  const baseline = cleanSample(baselineRaw);
  const canarySorted = sortedCopy(canary.values);
  const baselineSorted = sortedCopy(baseline.values);
  const canarySummary = summarize(canary.values, canary.dropped, canarySorted);
  const baselineSummary = summarize(baseline.values, baseline.dropped, baselineSorted);
  const common = {
    metric: spec.name,
    critical: spec.critical,
    direction: spec.direction,
    tolerance: spec.tolerance,
    alpha: spec.alpha,
    minSamples: spec.minSamples,
    test: spec.test,
    canary: canarySummary,
    baseline: baselineSummary,
  };
  if (canary.values.length < spec.minSamples || baseline.values.length < spec.minSamples) {
    return { ...common, verdict: 'no-data', effect: null, evidence: null, explanation: explainNoData(spec, canarySummary, baselineSummary) };
  }
  switch (spec.test) {
    case 'sequential':
      return { ...common, ...judgeSequential(spec, canary.values, baseline.values, canarySummary, baselineSummary) };
    case 'mann-whitney':
      return { ...common, ...judgeMannWhitney(spec, canary.values, baseline.values, canarySummary, baselineSummary) };
  }
}

interface Judged {
  readonly verdict: Verdict;
  readonly effect: EffectSize;
  readonly evidence: SequentialEvidence | MannWhitneyEvidence;
  readonly explanation: string;
}

function badSignOf(direction: MetricDirection): 1 | -1 {
  return direction === 'increase-is-bad' ? 1 : -1;
}

function judgeSequential(
  spec: ResolvedMetricSpec,
  canary: Float64Array,
  baseline: Float64Array,
  canarySummary: SampleSummary,
  baselineSummary: SampleSummary,
): Judged {
  const c = meanAndVariance(canary);
  const b = meanAndVariance(baseline);
  const look = sequentialLook({
    canaryMean: c.mean,
    canaryVariance: c.variance,
    canaryCount: canary.length,
    baselineMean: b.mean,
    baselineVariance: b.variance,
    baselineCount: baseline.length,
    badSign: badSignOf(spec.direction),
    tolerance: spec.tolerance,
    alpha: spec.alpha,
    plannedSamples: SEQUENTIAL_PLANNED_SAMPLES,
    designChange: spec.designChange,
  });
  const verdict: Verdict = look.decision === 'fail' ? 'fail' : look.decision === 'pass' ? 'pass' : 'inconclusive';
  const effect: EffectSize = {
    relativeChange: finite(look.relativeChange),
    relativeInterval: bounds(look.lower, look.upper),
    confidenceLevel: 1 - 2 * spec.alpha,
    relativeChangeOfMeans: finite(look.relativeChange),
    relativeChangeOfMedians: medianChange(canarySummary, baselineSummary),
    hodgesLehmannShift: finite(hodgesLehmannEstimate(canary, baseline)),
    hodgesLehmannInterval: null,
  };
  const evidence: SequentialEvidence = {
    test: 'sequential',
    method: 'normal-mixture-sprt',
    statistic: finite(look.z),
    boundary: finite(look.boundary),
    eValueFail: cappedEValue(look.eValueFail),
    eValuePass: cappedEValue(look.eValuePass),
    eValueThreshold: 1 / spec.alpha,
    effectiveSamples: finite(look.effectiveSamples),
    mixtureVariance: look.mixtureVariance,
    plannedSamples: SEQUENTIAL_PLANNED_SAMPLES,
    designChange: spec.designChange,
    designEffect: look.designEffect === null ? null : finite(look.designEffect),
    designWeight: look.designWeight,
  };
  return { verdict, effect, evidence, explanation: explainSequential(spec, verdict, effect, evidence, canarySummary, baselineSummary) };
}

/** E-values overflow a double long before the evidence stops mattering: cap them (JSON has no Infinity). */
function cappedEValue(e: number): number | null {
  return Number.isNaN(e) ? null : Math.min(e, Number.MAX_VALUE);
}

function medianChange(canary: SampleSummary, baseline: SampleSummary): number | null {
  if (canary.median === null || baseline.median === null) return null;
  return relative(canary.median - baseline.median, baseline.median);
}

function judgeMannWhitney(
  spec: ResolvedMetricSpec,
  canary: Float64Array,
  baseline: Float64Array,
  canarySummary: SampleSummary,
  baselineSummary: SampleSummary,
): Judged {
  const confidenceLevel = 1 - 2 * spec.alpha;
  const test = rankSumTest(canary, baseline);
  const shift = hodgesLehmannShift(canary, baseline, confidenceLevel);
  const baselineMedian = baselineSummary.median ?? 0;
  const threshold = spec.tolerance * Math.abs(baselineMedian);
  const bad = badSignOf(spec.direction);
  // Decisions read the interval against the tolerance (two one-sided tests at level α each).
  let verdict: Verdict = 'inconclusive';
  if (bad > 0) {
    if (shift.lower !== null && shift.lower > threshold) verdict = 'fail';
    else if (shift.upper !== null && shift.upper <= threshold) verdict = 'pass';
  } else {
    if (shift.upper !== null && shift.upper < -threshold) verdict = 'fail';
    else if (shift.lower !== null && shift.lower >= -threshold) verdict = 'pass';
  }
  const toRelative = (v: number | null): number | null => (v === null ? null : relative(v, baselineMedian));
  const effect: EffectSize = {
    relativeChange: relative(shift.estimate, baselineMedian),
    relativeInterval: baselineMedian === 0 ? null : bounds(toRelative(shift.lower), toRelative(shift.upper)),
    confidenceLevel,
    relativeChangeOfMeans:
      canarySummary.mean === null || baselineSummary.mean === null ? null : relative(canarySummary.mean - baselineSummary.mean, baselineSummary.mean),
    relativeChangeOfMedians: medianChange(canarySummary, baselineSummary),
    hodgesLehmannShift: finite(shift.estimate),
    hodgesLehmannInterval: bounds(shift.lower, shift.upper),
  };
  const evidence: MannWhitneyEvidence = {
    test: 'mann-whitney',
    method: test.method,
    u: test.u,
    z: test.z === null ? null : finite(test.z),
    pValueTwoSided: test.pValueTwoSided,
    pValueBadDirection: bad > 0 ? test.pValueGreater : test.pValueLess,
    ties: test.ties,
    shiftThreshold: threshold,
    achievedConfidence: shift.achievedConfidence,
  };
  return { verdict, effect, evidence, explanation: explainMannWhitney(spec, verdict, effect, evidence, canarySummary, baselineSummary) };
}

// ---- Explanations ---------------------------------------------------------------------

function higherOrLower(change: number): string {
  if (change > 0) return 'higher';
  if (change < 0) return 'lower';
  return 'the same as';
}

function changePhrase(name: string, relativeChange: number | null, canaryCentre: number | null, baselineCentre: number | null, centre: string): string {
  if (relativeChange === null) {
    return `canary ${name} ${centre} is ${formatValue(canaryCentre ?? NaN)} against a baseline ${centre} of ${formatValue(baselineCentre ?? NaN)} (a relative change is undefined)`;
  }
  const word = higherOrLower(relativeChange);
  if (relativeChange === 0) return `canary ${name} is the same as baseline (${centre}s ${formatValue(canaryCentre ?? NaN)} vs ${formatValue(baselineCentre ?? NaN)})`;
  return `canary ${name} is ${formatPercentMagnitude(relativeChange)} ${word} than baseline (${centre}s ${formatValue(canaryCentre ?? NaN)} vs ${formatValue(baselineCentre ?? NaN)})`;
}

function intervalPhrase(interval: Bounds | null, level: number, kind: string): string {
  if (interval === null) return `the ${formatLevel(level)} ${kind} is unbounded because the baseline is not distinguishable from 0`;
  const lower = interval.lower === null ? '-∞' : formatSignedPercent(interval.lower);
  const upper = interval.upper === null ? '+∞' : formatSignedPercent(interval.upper);
  return `${formatLevel(level)} ${kind} ${lower}..${upper}`;
}

function tolerancePhrase(spec: ResolvedMetricSpec): string {
  return `the ${formatPercentMagnitude(spec.tolerance)} tolerance for ${spec.direction === 'increase-is-bad' ? 'an increase' : 'a decrease'}`;
}

function verdictClause(spec: ResolvedMetricSpec, verdict: Verdict): string {
  const tolerance = tolerancePhrase(spec);
  const oneSided = formatLevel(1 - spec.alpha);
  switch (verdict) {
    case 'fail':
      return `beyond ${tolerance} with ${oneSided} confidence: fail`;
    case 'pass':
      return `within ${tolerance} with ${oneSided} confidence: pass`;
    case 'inconclusive':
    case 'no-data':
      return `the interval still straddles ${tolerance}: inconclusive`;
  }
}

function samplesPhrase(canary: SampleSummary, baseline: SampleSummary): string {
  const dropped = canary.dropped + baseline.dropped;
  return `${canary.count} canary and ${baseline.count} baseline samples${dropped > 0 ? ` (${dropped} non-finite values dropped)` : ''}`;
}

function explainSequential(
  spec: ResolvedMetricSpec,
  verdict: Verdict,
  effect: EffectSize,
  evidence: SequentialEvidence,
  canary: SampleSummary,
  baseline: SampleSummary,
): string {
  const head = changePhrase(spec.name, effect.relativeChange, canary.mean, baseline.mean, 'mean');
  // With no relative change there is no interval for it; the head already says why.
  const interval = effect.relativeChange === null ? '' : `${intervalPhrase(effect.relativeInterval, effect.confidenceLevel, 'confidence sequence')}; `;
  const after = `Sequential test after ${samplesPhrase(canary, baseline)}`;
  const threshold = formatStatistic(evidence.eValueThreshold);
  let tail: string;
  if (evidence.statistic === null && evidence.boundary === 0) {
    tail = `${after}: neither sample varies, so the difference of the means is certain.`;
  } else if (verdict === 'inconclusive') {
    tail =
      evidence.eValueFail === null || evidence.eValuePass === null
        ? `${after}: the values are too large to summarise; inconclusive.`
        : `${after}: regression e-value ${formatStatistic(evidence.eValueFail)} and within-tolerance e-value ${formatStatistic(evidence.eValuePass)}, neither yet ${threshold}; more samples will narrow it.`;
  } else {
    const e = verdict === 'pass' ? evidence.eValuePass : evidence.eValueFail;
    tail = `${after}: ${verdict === 'pass' ? 'within-tolerance' : 'regression'} e-value ${formatStatistic(e ?? NaN)} >= ${threshold} (1/alpha), valid however often the judge has looked.`;
  }
  return `${head}; ${interval}${verdictClause(spec, verdict)}. ${tail}`;
}

function explainMannWhitney(
  spec: ResolvedMetricSpec,
  verdict: Verdict,
  effect: EffectSize,
  evidence: MannWhitneyEvidence,
  canary: SampleSummary,
  baseline: SampleSummary,
): string {
  const head =
    effect.relativeChange === null
      ? `canary ${spec.name} is shifted by ${formatValue(effect.hodgesLehmannShift ?? NaN)} (Hodges-Lehmann) from a baseline median of ${formatValue(baseline.median ?? NaN)}`
      : `canary ${spec.name} is ${formatPercentMagnitude(effect.relativeChange)} ${higherOrLower(effect.relativeChange)} than baseline (Hodges-Lehmann shift ${formatValue(effect.hodgesLehmannShift ?? NaN)} on a baseline median of ${formatValue(baseline.median ?? NaN)})`;
  const interval =
    effect.relativeInterval !== null
      ? intervalPhrase(effect.relativeInterval, effect.confidenceLevel, 'CI')
      : effect.hodgesLehmannInterval !== null
        ? `${formatLevel(effect.confidenceLevel)} CI of the shift ${formatValue(effect.hodgesLehmannInterval.lower ?? -Infinity)}..${formatValue(effect.hodgesLehmannInterval.upper ?? Infinity)}`
        : `too few samples for a ${formatLevel(effect.confidenceLevel)} interval`;
  const p = `Mann-Whitney U = ${formatValue(evidence.u)}, one-sided p = ${formatStatistic(evidence.pValueBadDirection)}, two-sided p = ${formatStatistic(evidence.pValueTwoSided)} (${evidence.method}${evidence.ties ? ', ties' : ''})`;
  return `${head}; ${interval}; ${verdictClause(spec, verdict)}. ${p} on ${samplesPhrase(canary, baseline)}; a fixed-horizon test, valid when judged once at the planned sample size.`;
}

function explainNoData(spec: ResolvedMetricSpec, canary: SampleSummary, baseline: SampleSummary): string {
  return `no data to judge ${spec.name}: ${samplesPhrase(canary, baseline)}, and at least ${spec.minSamples} are needed on each side.`;
}

// ---- The canary as a whole -------------------------------------------------------------

export interface MetricData {
  readonly canary: readonly number[];
  readonly baseline: readonly number[];
}

export interface CanaryVerdict {
  readonly verdict: Verdict;
  readonly explanation: string;
  readonly failed: readonly string[];
  readonly failedCritical: readonly string[];
  readonly inconclusive: readonly string[];
  /** Metrics without enough data; a critical one blocks a pass, a non-critical one is skipped. */
  readonly noData: readonly string[];
  readonly passed: readonly string[];
  readonly metrics: readonly MetricVerdict[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Judges every metric and combines the verdicts:
 *  - any metric fails -> fail (critical failures listed first);
 *  - else every metric has no data -> no-data;
 *  - else a critical metric without data, or any inconclusive metric -> inconclusive;
 *  - else pass (non-critical metrics without data are skipped and named).
 * Each metric's false-fail probability is at most its alpha, so the canary's is at most the sum.
 */
export function judgeCanary(specs: readonly MetricSpec[], data: Readonly<Record<string, MetricData>>): CanaryVerdict {
  const issues: JudgeIssue[] = [];
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new JudgeInputError([{ path: 'specs', message: 'must be a non-empty array of metric specs' }]);
  }
  if (!isRecord(data)) throw new JudgeInputError([{ path: 'data', message: 'must be an object keyed by metric name' }]);
  const resolved: ResolvedMetricSpec[] = [];
  const seen = new Set<string>();
  specs.forEach((spec, i) => {
    try {
      const r = resolveMetricSpec(spec, `specs[${i}]`);
      if (seen.has(r.name)) issues.push({ path: `specs[${i}].name`, message: `duplicate metric name '${r.name}'` });
      seen.add(r.name);
      resolved.push(r);
    } catch (error) {
      if (error instanceof JudgeInputError) issues.push(...error.issues);
      else throw error;
    }
  });
  const samples: { canary: readonly unknown[]; baseline: readonly unknown[] }[] = resolved.map((spec) => {
    const entry = Object.prototype.hasOwnProperty.call(data, spec.name) ? data[spec.name] : undefined;
    if (entry === undefined) return { canary: [], baseline: [] };
    if (!isRecord(entry)) {
      issues.push({ path: `data[${JSON.stringify(spec.name)}]`, message: 'must be { canary: number[], baseline: number[] }' });
      return { canary: [], baseline: [] };
    }
    const at = `data[${JSON.stringify(spec.name)}]`;
    return { canary: readSamples(entry['canary'], `${at}.canary`, issues), baseline: readSamples(entry['baseline'], `${at}.baseline`, issues) };
  });
  if (issues.length > 0) throw new JudgeInputError(issues);

  const metrics = resolved.map((spec, i) => plain(judgeResolved(spec, samples[i]!.canary, samples[i]!.baseline)));
  const names = (predicate: (m: MetricVerdict) => boolean): string[] => metrics.filter(predicate).map((m) => m.metric);
  const failedCritical = names((m) => m.verdict === 'fail' && m.critical);
  const failed = [...failedCritical, ...names((m) => m.verdict === 'fail' && !m.critical)];
  const inconclusive = names((m) => m.verdict === 'inconclusive');
  const noData = names((m) => m.verdict === 'no-data');
  const noDataCritical = names((m) => m.verdict === 'no-data' && m.critical);
  const passed = names((m) => m.verdict === 'pass');

  let verdict: Verdict;
  let explanation: string;
  if (failed.length > 0) {
    verdict = 'fail';
    const critical = failedCritical.length > 0 ? `critical ${plural(failedCritical, 'metric')} ${list(failedCritical)} failed` : '';
    const other = failed.filter((n) => !failedCritical.includes(n));
    const rest = other.length > 0 ? `${critical ? '; also ' : ''}${list(other)} failed` : '';
    explanation = `fail: ${critical}${rest}.`;
  } else if (noData.length === metrics.length) {
    verdict = 'no-data';
    explanation = `no-data: none of ${list(noData)} has enough samples yet.`;
  } else if (noDataCritical.length > 0 || inconclusive.length > 0) {
    verdict = 'inconclusive';
    const parts: string[] = [];
    if (inconclusive.length > 0) parts.push(`${list(inconclusive)} ${inconclusive.length === 1 ? 'is' : 'are'} not yet decided`);
    if (noDataCritical.length > 0) parts.push(`critical ${plural(noDataCritical, 'metric')} ${list(noDataCritical)} ${noDataCritical.length === 1 ? 'has' : 'have'} no data`);
    explanation = `inconclusive: ${parts.join('; ')}.`;
  } else {
    verdict = 'pass';
    const skipped = noData.length > 0 ? ` (${list(noData)} skipped: no data, not critical)` : '';
    explanation = `pass: ${list(passed)} within tolerance${skipped}.`;
  }
  return { verdict, explanation, failed, failedCritical, inconclusive, noData, passed, metrics };
}

function plural(items: readonly string[], word: string): string {
  return items.length === 1 ? word : `${word}s`;
}

function list(items: readonly string[]): string {
  return items.join(', ');
}
