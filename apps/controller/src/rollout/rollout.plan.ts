/**
 * The rollout plan: which nodes each step moves to the new version, how long it bakes, and
 * which metric gates the canary judge must pass before the next step. Validation reports every
 * problem with its path (`plan.steps[1].select.percent: ...`), never just the first. Pure.
 *
 * Selection is cumulative: after step k, the nodes on the new version are every node selected by
 * steps 0..k. `count` and `percent` take the first nodes of the eligible targeted fleet in the
 * rollout's deterministic order (cohort.ts), so `{count: 2}` then `{percent: 50}` grows the same
 * canary instead of picking new nodes. The last step selects the whole targeted fleet.
 */
import { cgroupGlobProblems } from '@thp-fleet/policy';
import { parseDuration } from '../config/config.js';
import { NORMALIZATIONS, type Normalization } from './rollout.samples.js';
import { EVERYTHING, isEverything, LABEL_KEY_RE, parseLabelSelector, type LabelSelector, type PathIssue } from './label-selector.js';

// ---------------------------------------------------------------------------------------------
// Gates: the canary judge's metric spec (libs/judge).
// ---------------------------------------------------------------------------------------------

export const GATE_DIRECTIONS = ['increase-is-bad', 'decrease-is-bad'] as const;
export type GateDirection = (typeof GATE_DIRECTIONS)[number];
export const GATE_TESTS = ['sequential', 'mann-whitney'] as const;
export type GateTest = (typeof GATE_TESTS)[number];

/** One metric gate, in the judge's spec shape. */
export interface GateSpec {
  /** Metric name as stored in metric_samples (e.g. `psi_memory_some_avg10`). */
  readonly name: string;
  readonly direction: GateDirection;
  /** Allowed relative change in the bad direction (0.05 = 5 %) before the gate fails. */
  readonly tolerance: number;
  /** A failed critical gate fails the canary by itself; non-critical failures alone do not. */
  readonly critical: boolean;
  /** Omitted = the judge's default (the sequential test). */
  readonly test?: GateTest;
  /** Bound on each wrong decision; omitted = the judge's default (0.05). */
  readonly alpha?: number;
  /** Fewer samples than this on either side is no-data; omitted = the judge's default (10). */
  readonly minSamples?: number;
}

// ---------------------------------------------------------------------------------------------
// The plan model.
// ---------------------------------------------------------------------------------------------

export type StepAmount =
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'percent'; readonly percent: number }
  /** Every eligible node matching the step's labels (a label-only step). */
  | { readonly kind: 'all' };

export interface StepSelection {
  /** Restricts this step's candidates; null = the whole targeted fleet. */
  readonly labels: LabelSelector | null;
  readonly amount: StepAmount;
}

export interface PlanStep {
  readonly name: string;
  readonly select: StepSelection;
  /** How long the step's nodes run the new version before the gates are judged. */
  readonly bakeMs: number;
  /** The gates judged after the bake; empty = the step passes when its bake ends. */
  readonly gates: readonly GateSpec[];
}

export const STRATA_MODES = ['each-value', 'combination'] as const;
/**
 * `each-value`: the first step holds at least one node for every value of every stratum key
 * (kernel 6.1 and 6.6, hardware a and b, ...). `combination`: one node per distinct combination
 * of the keys' values, which can need many more nodes.
 */
export type StrataMode = (typeof STRATA_MODES)[number];

export interface StrataSettings {
  readonly labelKeys: readonly string[];
  readonly mode: StrataMode;
}

export const INCONCLUSIVE_ACTIONS = ['pause', 'rollback', 'proceed'] as const;
/** What happens when the judge is still inconclusive (or has no data) at the judging timeout. */
export type InconclusiveAction = (typeof INCONCLUSIVE_ACTIONS)[number];

export interface JudgingSettings {
  /** Time between two judgments of one step while the verdict is inconclusive. */
  readonly intervalMs: number;
  /** How long a step may stay in judging before `onInconclusive` applies. */
  readonly timeoutMs: number;
  readonly onInconclusive: InconclusiveAction;
  /** How canary and baseline series are made comparable (rollout.samples.ts). */
  readonly normalize: Normalization;
  /** The pre-window: how far before the rollout started each series' level is measured. */
  readonly lookbackMs: number;
}

export interface RolloutPlan {
  readonly steps: readonly PlanStep[];
  /** The targeted fleet; nodes outside it are never touched. */
  readonly target: LabelSelector;
  readonly strata: StrataSettings;
  readonly judging: JudgingSettings;
  /** Roll every touched node back on a failed gate (a NACK always rolls back). */
  readonly autoRollback: boolean;
  /** The fast path: no gate is judged (admin only, with a reason that is audited). */
  readonly gateSkip: { readonly reason: string } | null;
}

/**
 * Label keys that name the strata of the first step: the labels the agent puts on simulated
 * nodes (apps/agent sim-identity.ts: `kernel`, `hardware-class`, `workload-mix`) and that the
 * operations guide asks real nodes to carry (docs/rollouts.md); a plan may name its own.
 */
export const DEFAULT_STRATA_KEYS: readonly string[] = ['kernel', 'hardware-class', 'workload-mix'];

/**
 * Operational defaults (not kernel constants): judge every 30 s, give a step 30 min of judging,
 * then pause for a person rather than guess; compare each series with its own level over the
 * 10 min before the rollout.
 */
export const DEFAULT_JUDGING: JudgingSettings = { intervalMs: 30_000, timeoutMs: 30 * 60_000, onInconclusive: 'pause', normalize: 'per-series', lookbackMs: 10 * 60_000 };
/** A plan longer than this is a mistake, and every step is a row and a cohort. */
export const MAX_STEPS = 64;
/** Bake and judging durations above 30 days are almost certainly a unit mistake. */
export const MAX_DURATION_MS = 30 * 86_400_000;
/** The shortest judging interval: one judgment reads every sample of the step. */
export const MIN_JUDGING_INTERVAL_MS = 100;
export const MAX_GATES = 32;
export const MAX_REASON_LENGTH = 1000;

const STEP_NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
/**
 * A gate's metric: a name as the agents report it (vmstat names, psi_*, workload_*), node-wide,
 * or `name@<cgroup glob>` for the rows of the cgroups the glob matches (a workload's latency:
 * `workload_latency_p99_us@/workloads.slice/latency-*`).
 */
export const METRIC_NAME_RE = /^[A-Za-z_][A-Za-z0-9_:.]{0,199}(@\/[^\s@]{0,1000})?$/;

/** A gate name split into the metric and the cgroup glob (null = the node-wide series). */
export function gateMetric(name: string): { readonly metric: string; readonly cgroupGlob: string | null } {
  const at = name.indexOf('@');
  return at < 0 ? { metric: name, cgroupGlob: null } : { metric: name.slice(0, at), cgroupGlob: name.slice(at + 1) };
}

/** Is step k judged by the canary judge? (Not on the fast path, and only when it has gates.) */
export function stepIsGated(plan: RolloutPlan, k: number): boolean {
  const step = plan.steps[k];
  return plan.gateSkip === null && step !== undefined && step.gates.length > 0;
}

/** Does the step select the whole targeted fleet? (Such a step leaves no baseline to judge against.) */
export function selectsWholeTarget(select: StepSelection): boolean {
  return (select.labels === null || isEverything(select.labels)) && (select.amount.kind === 'all' || (select.amount.kind === 'percent' && select.amount.percent >= 100));
}

// ---------------------------------------------------------------------------------------------
// Validation.
// ---------------------------------------------------------------------------------------------

export type PlanResult = { readonly ok: true; readonly plan: RolloutPlan } | { readonly ok: false; readonly errors: readonly PathIssue[] };

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function unknownFields(value: Record<string, unknown>, allowed: readonly string[], path: string, issues: PathIssue[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) issues.push({ path: `${path}.${key}`, message: `unknown field (expected ${allowed.join(', ')})` });
  }
}

/** A duration: "90s", "5m", "1.5h" or a number of milliseconds. */
export function parsePlanDuration(value: unknown, path: string, issues: PathIssue[]): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number') ms = Number.isFinite(value) && Number.isInteger(value) ? value : undefined;
  else if (typeof value === 'string') ms = parseDuration(value);
  if (ms === undefined || ms < 0) {
    issues.push({ path, message: 'must be a duration such as "90s", "5m", "2h" or a whole number of milliseconds' });
    return undefined;
  }
  if (ms > MAX_DURATION_MS) {
    issues.push({ path, message: `${ms} ms is longer than the maximum of 30 days` });
    return undefined;
  }
  return ms;
}

export function parseGate(value: unknown, path: string, issues: PathIssue[]): GateSpec | undefined {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be an object { name, direction, tolerance, critical, test? }' });
    return undefined;
  }
  const before = issues.length;
  unknownFields(value, ['name', 'direction', 'tolerance', 'critical', 'test', 'alpha', 'minSamples'], path, issues);
  const { name, direction, tolerance, critical, test, alpha, minSamples } = value;
  if (typeof name !== 'string' || !METRIC_NAME_RE.test(name)) {
    issues.push({ path: `${path}.name`, message: typeof name === 'string' ? `"${name}" is not a metric name (letters, digits, "_", ":", "."; optionally @ and a cgroup glob)` : 'required: the metric name' });
  }
  if (typeof name === 'string' && METRIC_NAME_RE.test(name)) {
    const { cgroupGlob } = gateMetric(name);
    if (cgroupGlob !== null) for (const problem of cgroupGlobProblems(cgroupGlob)) issues.push({ path: `${path}.name`, message: `cgroup glob "${cgroupGlob}": ${problem}` });
  }
  if (typeof direction !== 'string' || !(GATE_DIRECTIONS as readonly string[]).includes(direction)) {
    issues.push({ path: `${path}.direction`, message: `must be one of ${GATE_DIRECTIONS.join(', ')}` });
  }
  if (typeof tolerance !== 'number' || !Number.isFinite(tolerance) || tolerance < 0) {
    issues.push({ path: `${path}.tolerance`, message: 'must be a finite number >= 0 (a relative change: 0.05 = 5 %)' });
  } else if (direction === 'decrease-is-bad' && tolerance >= 1) {
    issues.push({ path: `${path}.tolerance`, message: 'must be < 1 for a decrease-is-bad metric (a drop of 100 % or more is not a tolerance)' });
  }
  if (critical !== undefined && typeof critical !== 'boolean') issues.push({ path: `${path}.critical`, message: 'must be true or false' });
  if (test !== undefined && (typeof test !== 'string' || !(GATE_TESTS as readonly string[]).includes(test))) {
    issues.push({ path: `${path}.test`, message: `must be one of ${GATE_TESTS.join(', ')}` });
  }
  if (alpha !== undefined && (typeof alpha !== 'number' || !(alpha > 0 && alpha < 0.5))) {
    issues.push({ path: `${path}.alpha`, message: 'must be a number in (0, 0.5)' });
  }
  if (minSamples !== undefined && (typeof minSamples !== 'number' || !Number.isInteger(minSamples) || minSamples < 2 || minSamples > 1_000_000)) {
    issues.push({ path: `${path}.minSamples`, message: 'must be a whole number from 2 to 1000000' });
  }
  if (issues.length !== before) return undefined;
  const gate: GateSpec = {
    name: name as string,
    direction: direction as GateDirection,
    tolerance: tolerance as number,
    critical: (critical as boolean | undefined) ?? true,
    ...(test === undefined ? {} : { test: test as GateTest }),
    ...(alpha === undefined ? {} : { alpha: alpha as number }),
    ...(minSamples === undefined ? {} : { minSamples: minSamples as number }),
  };
  return gate;
}

function parseGates(value: unknown, path: string, issues: PathIssue[]): GateSpec[] | undefined {
  if (!Array.isArray(value)) {
    issues.push({ path, message: 'must be a list of gates' });
    return undefined;
  }
  if (value.length > MAX_GATES) issues.push({ path, message: `at most ${MAX_GATES} gates` });
  const before = issues.length;
  const gates: GateSpec[] = [];
  const seen = new Map<string, number>();
  value.forEach((item: unknown, i) => {
    const gate = parseGate(item, `${path}[${i}]`, issues);
    if (!gate) return;
    const first = seen.get(gate.name);
    if (first !== undefined) issues.push({ path: `${path}[${i}].name`, message: `gate "${gate.name}" is already defined at ${path}[${first}]` });
    else seen.set(gate.name, i);
    gates.push(gate);
  });
  return issues.length === before ? gates : undefined;
}

function parseSelection(value: unknown, path: string, issues: PathIssue[]): StepSelection | undefined {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be an object: { count: N } | { percent: P } | { labels: selector }, labels optionally with count or percent' });
    return undefined;
  }
  const before = issues.length;
  unknownFields(value, ['count', 'percent', 'labels'], path, issues);
  const { count, percent, labels } = value;
  let parsedLabels: LabelSelector | null = null;
  if (labels !== undefined) parsedLabels = parseLabelSelector(labels, `${path}.labels`, issues) ?? null;
  let amount: StepAmount | undefined;
  if (count !== undefined && percent !== undefined) {
    issues.push({ path, message: 'give count or percent, not both' });
  } else if (count !== undefined) {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) issues.push({ path: `${path}.count`, message: 'must be a whole number >= 1' });
    else amount = { kind: 'count', count };
  } else if (percent !== undefined) {
    if (typeof percent !== 'number' || !Number.isFinite(percent) || percent <= 0 || percent > 100) issues.push({ path: `${path}.percent`, message: 'must be a number in (0, 100]' });
    else amount = { kind: 'percent', percent };
  } else if (labels !== undefined) {
    amount = { kind: 'all' };
  } else {
    issues.push({ path, message: 'select nodes by count, percent or labels' });
  }
  if (issues.length !== before || amount === undefined) return undefined;
  return { labels: parsedLabels, amount };
}

function parseStrata(value: unknown, path: string, issues: PathIssue[]): StrataSettings | undefined {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be an object { labelKeys, mode }' });
    return undefined;
  }
  const before = issues.length;
  unknownFields(value, ['labelKeys', 'mode'], path, issues);
  let labelKeys: readonly string[] = DEFAULT_STRATA_KEYS;
  if (value['labelKeys'] !== undefined) {
    const raw = value['labelKeys'];
    if (!Array.isArray(raw)) issues.push({ path: `${path}.labelKeys`, message: 'must be a list of label keys' });
    else {
      const keys: string[] = [];
      raw.forEach((key: unknown, i) => {
        if (typeof key !== 'string' || !LABEL_KEY_RE.test(key)) issues.push({ path: `${path}.labelKeys[${i}]`, message: 'must be a valid label key' });
        else if (keys.includes(key)) issues.push({ path: `${path}.labelKeys[${i}]`, message: `"${key}" is listed twice` });
        else keys.push(key);
      });
      labelKeys = keys;
    }
  }
  let mode: StrataMode = 'each-value';
  if (value['mode'] !== undefined) {
    const raw = value['mode'];
    if (typeof raw !== 'string' || !(STRATA_MODES as readonly string[]).includes(raw)) issues.push({ path: `${path}.mode`, message: `must be one of ${STRATA_MODES.join(', ')}` });
    else mode = raw as StrataMode;
  }
  return issues.length === before ? { labelKeys, mode } : undefined;
}

function parseJudging(value: unknown, path: string, issues: PathIssue[]): JudgingSettings | undefined {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be an object { interval, timeout, onInconclusive, normalize, lookback }' });
    return undefined;
  }
  const before = issues.length;
  unknownFields(value, ['interval', 'timeout', 'onInconclusive', 'normalize', 'lookback'], path, issues);
  let { intervalMs, timeoutMs, onInconclusive, normalize, lookbackMs } = DEFAULT_JUDGING;
  if (value['interval'] !== undefined) {
    const ms = parsePlanDuration(value['interval'], `${path}.interval`, issues);
    if (ms !== undefined && ms < MIN_JUDGING_INTERVAL_MS) issues.push({ path: `${path}.interval`, message: `must be at least ${MIN_JUDGING_INTERVAL_MS} ms` });
    else if (ms !== undefined) intervalMs = ms;
  }
  if (value['timeout'] !== undefined) {
    const ms = parsePlanDuration(value['timeout'], `${path}.timeout`, issues);
    if (ms !== undefined) timeoutMs = ms;
  }
  if (value['onInconclusive'] !== undefined) {
    const raw = value['onInconclusive'];
    if (typeof raw !== 'string' || !(INCONCLUSIVE_ACTIONS as readonly string[]).includes(raw)) issues.push({ path: `${path}.onInconclusive`, message: `must be one of ${INCONCLUSIVE_ACTIONS.join(', ')}` });
    else onInconclusive = raw as InconclusiveAction;
  }
  if (value['normalize'] !== undefined) {
    const raw = value['normalize'];
    if (typeof raw !== 'string' || !(NORMALIZATIONS as readonly string[]).includes(raw)) issues.push({ path: `${path}.normalize`, message: `must be one of ${NORMALIZATIONS.join(', ')}` });
    else normalize = raw as Normalization;
  }
  if (value['lookback'] !== undefined) {
    const ms = parsePlanDuration(value['lookback'], `${path}.lookback`, issues);
    if (ms !== undefined) lookbackMs = ms;
  }
  return issues.length === before ? { intervalMs, timeoutMs, onInconclusive, normalize, lookbackMs } : undefined;
}

export function parseReason(value: unknown, path: string, issues: PathIssue[]): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') {
    issues.push({ path, message: 'required: a reason, in words, for the audit log' });
    return undefined;
  }
  if (value.length > MAX_REASON_LENGTH) {
    issues.push({ path, message: `at most ${MAX_REASON_LENGTH} characters` });
    return undefined;
  }
  return value.trim();
}

const PLAN_FIELDS = ['steps', 'gates', 'target', 'strata', 'judging', 'autoRollback', 'skipGates'] as const;
const STEP_FIELDS = ['name', 'select', 'bake', 'gates'] as const;

/**
 * Validate a plan from JSON (or YAML parsed to plain values). Every error carries its path,
 * rooted at `root` (e.g. `body.plan`).
 */
export function parsePlan(input: unknown, root = 'plan'): PlanResult {
  const issues: PathIssue[] = [];
  if (!isRecord(input)) return { ok: false, errors: [{ path: root, message: 'must be an object { steps, gates?, target?, strata?, judging?, autoRollback?, skipGates? }' }] };
  unknownFields(input, PLAN_FIELDS, root, issues);

  const defaultGates = input['gates'] === undefined ? [] : parseGates(input['gates'], `${root}.gates`, issues);
  const target = input['target'] === undefined ? EVERYTHING : parseLabelSelector(input['target'], `${root}.target`, issues);
  const strata = input['strata'] === undefined ? { labelKeys: DEFAULT_STRATA_KEYS, mode: 'each-value' as const } : parseStrata(input['strata'], `${root}.strata`, issues);
  const judging = input['judging'] === undefined ? DEFAULT_JUDGING : parseJudging(input['judging'], `${root}.judging`, issues);

  let autoRollback = true;
  if (input['autoRollback'] !== undefined) {
    if (typeof input['autoRollback'] !== 'boolean') issues.push({ path: `${root}.autoRollback`, message: 'must be true or false' });
    else autoRollback = input['autoRollback'];
  }

  let gateSkip: { reason: string } | null = null;
  if (input['skipGates'] !== undefined) {
    const raw = input['skipGates'];
    if (!isRecord(raw)) issues.push({ path: `${root}.skipGates`, message: 'must be an object { reason }' });
    else {
      unknownFields(raw, ['reason'], `${root}.skipGates`, issues);
      const reason = parseReason(raw['reason'], `${root}.skipGates.reason`, issues);
      if (reason !== undefined) gateSkip = { reason };
    }
  }

  const steps: PlanStep[] = [];
  const rawSteps = input['steps'];
  if (!Array.isArray(rawSteps) || rawSteps.length === 0) {
    issues.push({ path: `${root}.steps`, message: 'required: a non-empty list of steps' });
  } else {
    if (rawSteps.length > MAX_STEPS) issues.push({ path: `${root}.steps`, message: `at most ${MAX_STEPS} steps` });
    const names = new Map<string, number>();
    rawSteps.forEach((raw: unknown, i) => {
      const path = `${root}.steps[${i}]`;
      if (!isRecord(raw)) {
        issues.push({ path, message: 'must be an object { name?, select, bake?, gates? }' });
        return;
      }
      const before = issues.length;
      unknownFields(raw, STEP_FIELDS, path, issues);
      let name = `step-${i + 1}`;
      if (raw['name'] !== undefined) {
        if (typeof raw['name'] !== 'string' || !STEP_NAME_RE.test(raw['name'])) issues.push({ path: `${path}.name`, message: 'must be 1-63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit' });
        else name = raw['name'];
      }
      const first = names.get(name);
      if (first !== undefined) issues.push({ path: `${path}.name`, message: `step name "${name}" is already used by ${root}.steps[${first}]` });
      else names.set(name, i);
      const select = raw['select'] === undefined ? undefined : parseSelection(raw['select'], `${path}.select`, issues);
      if (raw['select'] === undefined) issues.push({ path: `${path}.select`, message: 'required: select nodes by count, percent or labels' });
      const bakeMs = raw['bake'] === undefined ? 0 : parsePlanDuration(raw['bake'], `${path}.bake`, issues);
      const explicitGates = raw['gates'] === undefined ? undefined : parseGates(raw['gates'], `${path}.gates`, issues);
      if (select !== undefined && selectsWholeTarget(select) && explicitGates !== undefined && explicitGates.length > 0) {
        issues.push({ path: `${path}.gates`, message: 'this step selects the whole targeted fleet, so no baseline nodes remain to judge against; gate an earlier step' });
      }
      if (issues.length !== before || select === undefined || bakeMs === undefined) return;
      // A whole-fleet step inherits no gates: there would be no baseline.
      const gates = explicitGates ?? (selectsWholeTarget(select) ? [] : (defaultGates ?? []));
      steps.push({ name, select, bakeMs, gates });
    });
    const lastIndex = rawSteps.length - 1;
    const last: unknown = rawSteps[lastIndex];
    if (isRecord(last) && isRecord(last['select'])) {
      const select = parseSelection(last['select'], '', []);
      if (select !== undefined && !selectsWholeTarget(select)) {
        issues.push({ path: `${root}.steps[${lastIndex}].select`, message: 'the last step must select the whole targeted fleet ({ percent: 100 }); use target to roll out to part of the fleet' });
      }
    }
  }

  if (judging !== undefined && judging.timeoutMs < judging.intervalMs) {
    issues.push({ path: `${root}.judging.timeout`, message: `must be at least the judging interval (${judging.intervalMs} ms)` });
  }

  if (issues.length > 0 || target === undefined || strata === undefined || judging === undefined) return { ok: false, errors: issues };
  return { ok: true, plan: { steps, target, strata, judging, autoRollback, gateSkip } };
}

/**
 * The plan of a rollback (a rollout to an earlier version). With a gate skip it is the fast
 * path: one step, the whole targeted fleet at once, no bake, nothing judged. Without one it is a
 * stratified canary judged by `gates`, then the rest of the fleet.
 */
export function rollbackPlan(options: {
  readonly gateSkip: { readonly reason: string } | null;
  readonly gates: readonly GateSpec[];
  readonly canaryBakeMs: number;
  readonly target?: LabelSelector;
  readonly strata?: StrataSettings;
  readonly judging?: JudgingSettings;
}): RolloutPlan {
  const target = options.target ?? EVERYTHING;
  const strata = options.strata ?? { labelKeys: DEFAULT_STRATA_KEYS, mode: 'each-value' };
  const judging = options.judging ?? DEFAULT_JUDGING;
  const whole: PlanStep = { name: 'fleet', select: { labels: null, amount: { kind: 'percent', percent: 100 } }, bakeMs: 0, gates: [] };
  if (options.gateSkip !== null || options.gates.length === 0) {
    return { steps: [whole], target, strata, judging, autoRollback: true, gateSkip: options.gateSkip };
  }
  const canary: PlanStep = { name: 'canary', select: { labels: null, amount: { kind: 'count', count: 1 } }, bakeMs: options.canaryBakeMs, gates: options.gates };
  return { steps: [canary, whole], target, strata, judging, autoRollback: true, gateSkip: null };
}

/** The plan back in its JSON input form (for the API and the audit log); parsePlan(planToJson(p)) == p. */
export function planToJson(plan: RolloutPlan): Record<string, unknown> {
  const selectJson = (s: StepSelection): Record<string, unknown> => ({
    ...(s.labels === null ? {} : { labels: s.labels }),
    ...(s.amount.kind === 'count' ? { count: s.amount.count } : s.amount.kind === 'percent' ? { percent: s.amount.percent } : {}),
  });
  return {
    steps: plan.steps.map((s) => ({ name: s.name, select: selectJson(s.select), bake: s.bakeMs, gates: s.gates })),
    target: plan.target,
    strata: { labelKeys: plan.strata.labelKeys, mode: plan.strata.mode },
    judging: { interval: plan.judging.intervalMs, timeout: plan.judging.timeoutMs, onInconclusive: plan.judging.onInconclusive, normalize: plan.judging.normalize, lookback: plan.judging.lookbackMs },
    autoRollback: plan.autoRollback,
    ...(plan.gateSkip === null ? {} : { skipGates: { reason: plan.gateSkip.reason } }),
  };
}
