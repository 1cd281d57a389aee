// @thp-fleet/judge: the canary judge. Pure TypeScript (no Node APIs): it runs in the
// controller to gate rollouts and in the dashboard to explain stored verdicts.
export {
  judgeCanary,
  judgeMetric,
  type Bounds,
  type CanaryVerdict,
  type EffectSize,
  type MannWhitneyEvidence,
  type MetricData,
  type MetricVerdict,
  type SampleSummary,
  type SequentialEvidence,
  type Verdict,
} from './judge.js';
export {
  DEFAULT_ALPHA,
  DEFAULT_MIN_SAMPLES,
  DEFAULT_TEST,
  JudgeInputError,
  metricSpecIssues,
  resolveMetricSpec,
  type JudgeIssue,
  type JudgeTest,
  type MetricDirection,
  type MetricSpec,
  type ResolvedMetricSpec,
} from './spec.js';
export {
  EXACT_MAX_SAMPLE_SIZE,
  exactUCdf,
  exactUDistribution,
  exactUQuantile,
  hodgesLehmannEstimate,
  hodgesLehmannShift,
  kthSmallestDifference,
  rankSumTest,
  type RankSumOptions,
  type RankSumResult,
  type ShiftEstimate,
  type TestMethod,
} from './mann-whitney.js';
export {
  SEQUENTIAL_PLANNED_SAMPLES,
  mixtureVariance,
  oneSidedMixtureBoundary,
  oneSidedMixtureLogE,
  sequentialLook,
  type SequentialDecision,
  type SequentialInput,
  type SequentialOutcome,
} from './sequential.js';
