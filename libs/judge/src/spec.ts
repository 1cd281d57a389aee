// Metric specifications: what the judge compares and how strict it is.

/** Which way a change hurts: latency and memory go `increase-is-bad`, throughput `decrease-is-bad`. */
export type MetricDirection = 'increase-is-bad' | 'decrease-is-bad';

/** `sequential` (default) may be evaluated at every look; `mann-whitney` only once, at a fixed horizon. */
export type JudgeTest = 'sequential' | 'mann-whitney';

export interface MetricSpec {
  /** Metric name as shown to people, e.g. "p99 fault latency". Keys `judgeCanary` data. */
  readonly name: string;
  readonly direction: MetricDirection;
  /**
   * Relative tolerance in the bad direction: 0.05 allows the canary to be up to 5 % worse
   * than the baseline. The change must exceed it to count as a regression.
   */
  readonly tolerance: number;
  /** A critical metric cannot be skipped for lack of data (see `judgeCanary`). */
  readonly critical: boolean;
  readonly test?: JudgeTest;
  /** Bound on each wrong decision (false fail, false pass). Default 0.05. */
  readonly alpha?: number;
  /** Fewer valid samples than this on either side gives `no-data`. Default 10, at least 2. */
  readonly minSamples?: number;
  /**
   * Sequential test only: the relative change on the bad side that the test is tuned to decide
   * fastest (its design change, as a fixed-horizon test is sized for one). Must exceed the
   * tolerance. Default: twice the tolerance (e.g. +10 % for a 5 % tolerance); `null`, or a
   * tolerance of 0 without a design change, uses the untuned broad mixture alone. It changes only
   * how soon the test decides, never its error bound.
   */
  readonly designChange?: number | null;
}

/** A spec with every default filled in. */
export interface ResolvedMetricSpec {
  readonly name: string;
  readonly direction: MetricDirection;
  readonly tolerance: number;
  readonly critical: boolean;
  readonly test: JudgeTest;
  readonly alpha: number;
  readonly minSamples: number;
  /** Null: no design change (broad mixture only). */
  readonly designChange: number | null;
}

export const DEFAULT_ALPHA = 0.05;
export const DEFAULT_MIN_SAMPLES = 10;
export const DEFAULT_TEST: JudgeTest = 'sequential';
/** The default design change is this multiple of the tolerance. */
export const DEFAULT_DESIGN_FACTOR = 2;

/** One problem in a spec or in judge input, with where it is. */
export interface JudgeIssue {
  readonly path: string;
  readonly message: string;
}

/** Bad judge input: every problem found, each with its path (e.g. `specs[2].tolerance`). */
export class JudgeInputError extends Error {
  readonly issues: readonly JudgeIssue[];

  constructor(issues: readonly JudgeIssue[]) {
    super(`invalid judge input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    this.name = 'JudgeInputError';
    this.issues = issues;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const KNOWN_KEYS = new Set(['name', 'direction', 'tolerance', 'critical', 'test', 'alpha', 'minSamples', 'designChange']);

/** Lists every problem with a metric spec (empty when it is valid). */
export function metricSpecIssues(input: unknown, path = 'spec'): JudgeIssue[] {
  if (!isRecord(input)) return [{ path, message: 'must be an object' }];
  const issues: JudgeIssue[] = [];
  const at = (key: string): string => `${path}.${key}`;
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) issues.push({ path: at(key), message: 'unknown field' });
  }
  const { name, direction, tolerance, critical, test, alpha, minSamples, designChange } = input;
  if (typeof name !== 'string' || name.trim() === '') {
    issues.push({ path: at('name'), message: 'must be a non-empty string' });
  }
  if (direction !== 'increase-is-bad' && direction !== 'decrease-is-bad') {
    issues.push({ path: at('direction'), message: "must be 'increase-is-bad' or 'decrease-is-bad'" });
  }
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
    issues.push({ path: at('tolerance'), message: 'must be a finite number >= 0 (relative: 0.05 is 5 %)' });
  } else if (direction === 'decrease-is-bad' && tolerance >= 1) {
    issues.push({ path: at('tolerance'), message: 'must be < 1 for a decrease-is-bad metric (a drop of 100 % or more is not a tolerance)' });
  }
  if (typeof critical !== 'boolean') issues.push({ path: at('critical'), message: 'must be a boolean' });
  if (test !== undefined && test !== 'sequential' && test !== 'mann-whitney') {
    issues.push({ path: at('test'), message: "must be 'sequential' or 'mann-whitney'" });
  }
  if (alpha !== undefined && (typeof alpha !== 'number' || !(alpha > 0 && alpha < 0.5))) {
    issues.push({ path: at('alpha'), message: 'must be a number in (0, 0.5)' });
  }
  if (minSamples !== undefined && (typeof minSamples !== 'number' || !Number.isInteger(minSamples) || minSamples < 2)) {
    issues.push({ path: at('minSamples'), message: 'must be an integer >= 2' });
  }
  if (designChange !== undefined && designChange !== null) {
    if (typeof designChange !== 'number' || !Number.isFinite(designChange)) {
      issues.push({ path: at('designChange'), message: 'must be a finite number greater than the tolerance (relative: 0.1 is 10 %), or null' });
    } else if (typeof tolerance === 'number' && Number.isFinite(tolerance) && !(designChange > tolerance)) {
      issues.push({ path: at('designChange'), message: `must be greater than the tolerance (${tolerance}): it is the regression the sequential test should catch fastest` });
    }
  }
  return issues;
}

/** Validates a spec (throwing `JudgeInputError` with every problem) and fills in defaults. */
export function resolveMetricSpec(input: unknown, path = 'spec'): ResolvedMetricSpec {
  const issues = metricSpecIssues(input, path);
  if (issues.length > 0) throw new JudgeInputError(issues);
  const spec = input as MetricSpec;
  return {
    name: spec.name,
    direction: spec.direction,
    tolerance: spec.tolerance,
    critical: spec.critical,
    test: spec.test ?? DEFAULT_TEST,
    alpha: spec.alpha ?? DEFAULT_ALPHA,
    minSamples: spec.minSamples ?? DEFAULT_MIN_SAMPLES,
    designChange: spec.designChange === undefined ? defaultDesignChange(spec.tolerance) : spec.designChange,
  };
}

/** Twice the tolerance; none for a tolerance of 0 (a multiple of 0 is no change to tune for). */
export function defaultDesignChange(tolerance: number): number | null {
  return tolerance > 0 ? DEFAULT_DESIGN_FACTOR * tolerance : null;
}
