/**
 * The rollouts page's model (pure): what each role may do in each phase (the same rules as the
 * controller's state machine, rollout.machine.ts, so the page never offers a command the
 * controller will refuse for its phase), progress by step and cohort, the judge's stored
 * verdicts read back and put into words, and the canary-vs-baseline series of a gated metric
 * computed from the nodes' metric samples the same way the controller prepares them for the
 * judge (rollout.samples.ts: node-wide rows or the cgroups a glob selects, each series divided
 * by its own pre-window mean when the judgment says it was normalized).
 */
import type { MetricVerdict } from '@thp-fleet/judge';
import { cgroupGlobMatcher } from '@thp-fleet/policy';
import type { GateView, JudgmentDetails, JudgmentView, MetricSampleView, NodeView, PlanStepView, Role, RolloutPhase, RolloutView, StepView } from '../api/types.js';
import { TERMINAL_PHASES } from '../api/types.js';
import { hasRole } from '../auth/session.js';
import { bucketMean, formatNumber, type Point } from '../charts/series.model.js';

export function isTerminal(phase: RolloutPhase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

/** The step phase a rollout is in (paused ones: the phase it was paused from). */
export function stepPhase(rollout: Pick<RolloutView, 'phase' | 'pausedFrom'>): 'progressing' | 'baking' | 'judging' | null {
  const phase = rollout.phase === 'paused' ? rollout.pausedFrom : rollout.phase;
  return phase === 'progressing' || phase === 'baking' || phase === 'judging' ? phase : null;
}

export type RolloutAction = 'pause' | 'resume' | 'promote' | 'promote-skip-gate' | 'abort' | 'rollback';

export interface ActionOffer {
  readonly action: RolloutAction;
  readonly label: string;
  /** The role the controller requires. */
  readonly role: Role;
  /** What the confirmation asks for besides "yes". */
  readonly input: 'none' | 'reason';
  /** The confirmation's question, in words. */
  readonly confirm: string;
  readonly danger: boolean;
}

/**
 * The commands that apply to `rollout` now, for a token of `role` (empty for viewers). Roll
 * back is offered on a finished rollout of a policy with no other rollout active, and only
 * back to a version other than the one the rollout targeted.
 */
export function availableActions(rollout: RolloutView, role: Role, options: { readonly otherActive: boolean } = { otherActive: false }): ActionOffer[] {
  const out: ActionOffer[] = [];
  const offer = (o: ActionOffer): void => {
    if (hasRole(role, o.role)) out.push(o);
  };
  const step = stepPhase(rollout);
  const name = `${rollout.policy}@${rollout.toVersion}`;
  if (rollout.phase === 'progressing' || rollout.phase === 'baking' || rollout.phase === 'judging') {
    offer({ action: 'pause', label: 'Pause', role: 'operator', input: 'reason', confirm: `Pause the ${rollout.kind} of ${name}? The bake or judging clock stops; a NACK still rolls back.`, danger: false });
  }
  if (rollout.phase === 'paused') {
    offer({ action: 'resume', label: 'Resume', role: 'operator', input: 'none', confirm: `Resume the ${rollout.kind} of ${name} where it was (${rollout.pausedFrom ?? 'its step'})?`, danger: false });
  }
  if (step === 'baking') {
    offer({ action: 'promote', label: 'Promote', role: 'operator', input: 'none', confirm: `End the bake of step ${rollout.step + 1} now? Its gates are judged at once (audited).`, danger: false });
  }
  if (step === 'judging') {
    offer({
      action: 'promote-skip-gate',
      label: 'Promote past the gates',
      role: 'admin',
      input: 'reason',
      confirm: `Accept step ${rollout.step + 1} without waiting for the judge's verdict? The gates are skipped and your reason is written to the audit log.`,
      danger: true,
    });
  }
  if (!isTerminal(rollout.phase) && rollout.phase !== 'rolling_back') {
    offer({
      action: 'abort',
      label: 'Abort',
      role: 'operator',
      input: 'reason',
      confirm: `Abort the ${rollout.kind} of ${name}? Every node it touched (${rollout.touched.length}) goes back to what it ran before.`,
      danger: true,
    });
  }
  if (isTerminal(rollout.phase) && !options.otherActive) {
    offer({ action: 'rollback', label: 'Roll back…', role: 'operator', input: 'none', confirm: `Roll ${rollout.policy} back to an earlier version on every node that runs it?`, danger: true });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Progress.
// ---------------------------------------------------------------------------------------------

export interface StepProgress {
  readonly index: number;
  readonly name: string;
  /** "1 node", "50 %", "labels zone=a, 2 nodes" */
  readonly selects: string;
  readonly state: string;
  readonly cohort: number;
  /** Cohort nodes the rollout has assigned the version. */
  readonly assigned: number;
  /** Cohort nodes that acknowledged the target version. */
  readonly acknowledged: number;
  readonly excluded: number;
  readonly gates: readonly GateView[];
  readonly bakeMs: number;
  /** 0..1 of the bake that has passed, when baking (null otherwise). */
  readonly bakeDone: number | null;
  readonly current: boolean;
}

/** A step's selection in words. Accepts the plan's form (`{count}`, `{percent}`, `{labels}`) and the stored one (`{amount: {kind, count | percent}}`). */
export function selectText(select: unknown): string {
  if (typeof select !== 'object' || select === null) return '';
  const s = select as { count?: unknown; percent?: unknown; labels?: unknown; amount?: { kind?: unknown; count?: unknown; percent?: unknown } | null };
  const count = typeof s.count === 'number' ? s.count : s.amount?.kind === 'count' && typeof s.amount.count === 'number' ? s.amount.count : undefined;
  const percent = typeof s.percent === 'number' ? s.percent : s.amount?.kind === 'percent' && typeof s.amount.percent === 'number' ? s.amount.percent : undefined;
  const parts: string[] = [];
  if (s.labels !== undefined && s.labels !== null) parts.push(`labels ${selectorText(s.labels)}`);
  if (count !== undefined) parts.push(`${count} node${count === 1 ? '' : 's'}`);
  if (percent !== undefined) parts.push(`${percent} % of the targeted nodes`);
  if (parts.length === 0 && s.amount?.kind === 'all') parts.push('every matching node');
  return parts.join(', ');
}

/** A label selector (`{matchLabels, matchExpressions}` or a plain map) in one line. */
export function selectorText(selector: unknown): string {
  if (typeof selector !== 'object' || selector === null) return 'every node';
  const s = selector as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  const parts: string[] = [];
  const labels = s.matchLabels ?? (s.matchExpressions === undefined ? (selector as Record<string, unknown>) : {});
  for (const [k, v] of Object.entries(labels)) parts.push(`${k}=${String(v)}`);
  for (const e of s.matchExpressions ?? []) parts.push(`${e.key} ${e.operator}${e.values ? ` (${e.values.join(', ')})` : ''}`);
  return parts.length === 0 ? 'every node' : parts.join(', ');
}

const refOf = (r: { policy: string | null; version: number | null } | null | undefined): string => (r && r.policy !== null && r.version !== null ? `${r.policy}@${r.version}` : 'none');

/**
 * Progress by step: each step's cohort (cumulative, as the plan defines), how many of its nodes
 * were assigned and acknowledged the target version (from the node list), and the bake.
 */
export function stepProgress(rollout: RolloutView, steps: readonly StepView[], nodes: readonly NodeView[], now: number): StepProgress[] {
  const target = `${rollout.policy}@${rollout.toVersion}`;
  const ackedTarget = new Set(nodes.filter((n) => refOf(n.acked) === target).map((n) => n.id));
  const touched = new Set(rollout.touched);
  const planSteps: readonly PlanStepView[] = rollout.plan.steps ?? [];
  return steps.map((s) => {
    const plan = planSteps[s.index];
    let bakeDone: number | null = null;
    if (s.state === 'baking' && s.bakeUntil !== null && s.bakeMs > 0) {
      const remaining = Date.parse(s.bakeUntil) - now;
      bakeDone = Math.min(1, Math.max(0, 1 - remaining / s.bakeMs));
    }
    return {
      index: s.index,
      name: s.selector?.name ?? plan?.name ?? `step ${s.index + 1}`,
      selects: selectText(s.selector ?? plan?.select),
      state: s.state,
      cohort: s.cohort.length,
      assigned: s.cohort.filter((id) => touched.has(id)).length,
      acknowledged: s.cohort.filter((id) => ackedTarget.has(id)).length,
      excluded: s.excluded?.length ?? 0,
      gates: s.gates ?? plan?.gates ?? [],
      bakeMs: s.bakeMs,
      bakeDone,
      current: s.index === rollout.step && !isTerminal(rollout.phase),
    };
  });
}

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** The rollout's phase in one line: "baking step 1 (canary): 12 s left". */
export function phaseText(rollout: RolloutView, stepName: string, now: number): string {
  const step = `step ${rollout.step + 1}${stepName ? ` (${stepName})` : ''}`;
  switch (rollout.phase) {
    case 'pending':
      return 'pending: the orchestrator starts it within a second';
    case 'progressing':
      return `assigning ${step}`;
    case 'baking':
      return rollout.bakeUntil ? `baking ${step}: ${seconds(Date.parse(rollout.bakeUntil) - now)} left` : `baking ${step}`;
    case 'judging': {
      const j = rollout.judging;
      if (!j) return `judging ${step}`;
      return `judging ${step}: attempt ${j.attempt}${j.awaiting ? ' (the judge is computing)' : ''}, decides by ${new Date(j.deadline).toLocaleTimeString()} at the latest`;
    }
    case 'paused':
      return `paused at ${step}${rollout.pausedFrom ? ` while ${rollout.pausedFrom}` : ''}: ${rollout.reason ?? 'no reason given'}`;
    case 'completed':
      return 'completed: every targeted node runs the version';
    case 'failed':
      return `failed: ${rollout.reason ?? ''}`;
    case 'rolling_back':
      return `rolling back: ${rollout.reason ?? ''}`;
    case 'rolled_back':
      return `rolled back: ${rollout.reason ?? ''}`;
    case 'aborted':
      return `aborted: ${rollout.reason ?? ''}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Judgments.
// ---------------------------------------------------------------------------------------------

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
const windowOf = (value: unknown): { from: string; to: string } | null => {
  if (typeof value !== 'object' || value === null) return null;
  const w = value as { from?: unknown; to?: unknown };
  return typeof w.from === 'string' && typeof w.to === 'string' ? { from: w.from, to: w.to } : null;
};

/** `judgments.details` read defensively (older rows, or a controller that stores less, give nulls). */
export function readJudgmentDetails(details: unknown): JudgmentDetails {
  const d = (typeof details === 'object' && details !== null ? details : {}) as Record<string, unknown>;
  const judge = d['judge'];
  const series = d['series'] as { canary?: unknown; baseline?: unknown } | null | undefined;
  return {
    judge: typeof judge === 'object' && judge !== null && typeof (judge as { verdict?: unknown }).verdict === 'string' ? (judge as MetricVerdict) : null,
    normalization: typeof d['normalization'] === 'string' ? d['normalization'] : 'none',
    fallback: typeof d['fallback'] === 'string' ? d['fallback'] : null,
    series: series && typeof series.canary === 'number' && typeof series.baseline === 'number' ? { canary: series.canary, baseline: series.baseline } : null,
    canaryNodes: strings(d['canaryNodes']),
    baselineNodes: strings(d['baselineNodes']),
    window: windowOf(d['window']),
    preWindow: windowOf(d['preWindow']),
  };
}

/** The latest attempt's judgments of each judged step (step -> judgments of that attempt, by metric). */
export function latestJudgments(judgments: readonly JudgmentView[]): Map<number, JudgmentView[]> {
  const lastAttempt = new Map<number, number>();
  for (const j of judgments) lastAttempt.set(j.step, Math.max(lastAttempt.get(j.step) ?? 0, j.attempt));
  const out = new Map<number, JudgmentView[]>();
  for (const j of judgments) {
    if (j.attempt !== lastAttempt.get(j.step)) continue;
    const list = out.get(j.step) ?? [];
    list.push(j);
    out.set(j.step, list);
  }
  for (const list of out.values()) list.sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
  return out;
}

/** The step's verdict from its metrics (the judge's combination: any fail, all no-data, any inconclusive, else pass). */
export function stepVerdict(judgments: readonly JudgmentView[], gates: readonly GateView[]): 'pass' | 'fail' | 'inconclusive' | 'no-data' | null {
  if (judgments.length === 0) return null;
  const critical = new Map(gates.map((g) => [g.name, g.critical]));
  if (judgments.some((j) => j.verdict === 'fail')) return 'fail';
  if (judgments.every((j) => j.verdict === 'no-data')) return 'no-data';
  if (judgments.some((j) => j.verdict === 'inconclusive' || (j.verdict === 'no-data' && critical.get(j.metric) !== false))) return 'inconclusive';
  return 'pass';
}

const pct = (x: number | null | undefined, digits = 1): string => (x === null || x === undefined || !Number.isFinite(x) ? '?' : `${x > 0 ? '+' : ''}${(x * 100).toFixed(digits)} %`);
const mag = (x: number, digits = 1): string => `${(Math.abs(x) * 100).toFixed(digits)} %`;

export interface Explanation {
  /** One short line: "+3.2 % (90 % interval −1.0 % … +7.5 %), tolerance +10 %: pass". */
  readonly headline: string;
  /** Plain sentences, in order: what was compared, the change, the interval against the tolerance, the test. */
  readonly sentences: readonly string[];
}

/**
 * A judgment in words: what the numbers are and why they give this verdict. Everything comes
 * from the stored judgment (the row's statistics and the judge's evidence); nothing is
 * recomputed, so the words say exactly what the controller decided on.
 */
export function explainJudgment(j: JudgmentView, gate: GateView | undefined): Explanation {
  const d = readJudgmentDetails(j.details);
  const m = d.judge;
  const direction = m?.direction ?? gate?.direction ?? 'increase-is-bad';
  const badWord = direction === 'increase-is-bad' ? 'increase' : 'decrease';
  const tol = j.threshold ?? m?.tolerance ?? gate?.tolerance ?? 0;
  const level = m?.effect?.confidenceLevel ?? null;
  const levelText = level === null ? '' : `${Math.round(level * 100)} % `;
  const lo = j.interval.low;
  const hi = j.interval.high;
  const sentences: string[] = [];
  const series = d.series ? ` from ${d.series.canary} canary and ${d.series.baseline} baseline series` : '';
  sentences.push(
    `Compared ${j.nCanary} canary samples with ${j.nBaseline} baseline samples${series} (${d.canaryNodes.length} canary node${d.canaryNodes.length === 1 ? '' : 's'} on the new version, ${d.baselineNodes.length} baseline node${d.baselineNodes.length === 1 ? '' : 's'} of the same strata on the previous one).`,
  );
  if (d.normalization === 'per-series') sentences.push('Each series was first divided by its own mean before the rollout, so nodes of different sizes compare as changes from where they were.');
  else if (d.fallback) sentences.push(`Raw values were compared: ${d.fallback}.`);
  if (j.verdict === 'no-data') {
    sentences.push(`There were fewer than ${m?.minSamples ?? gate?.minSamples ?? 10} usable samples on a side, so the judge could not say anything yet (no data).`);
  } else {
    if (j.effect !== null) {
      const rel = j.effect;
      const means = m?.canary.mean !== undefined && m.canary.mean !== null && m.baseline.mean !== null ? ` (means ${formatNumber(m.canary.mean)} vs ${formatNumber(m.baseline.mean)})` : '';
      sentences.push(`The canary is ${mag(rel)} ${rel >= 0 ? 'higher' : 'lower'} than the baseline${means}.`);
    } else {
      sentences.push('The relative change is not defined (the baseline is centred on 0).');
    }
    const intervalText = lo === null && hi === null ? 'unbounded' : `${lo === null ? '−∞' : pct(lo)} … ${hi === null ? '+∞' : pct(hi)}`;
    const allowed = direction === 'increase-is-bad' ? `an increase of up to ${mag(tol)}` : `a decrease of up to ${mag(tol)}`;
    sentences.push(`With ${levelText}confidence the true change lies in ${intervalText}; the gate allows ${allowed}.`);
    switch (j.verdict) {
      case 'pass':
        sentences.push(`The whole interval is within the tolerance, so the canary is no worse than allowed: pass.`);
        break;
      case 'fail':
        sentences.push(`The whole interval lies beyond the tolerance on the bad side (${badWord}): fail.`);
        break;
      case 'inconclusive':
        sentences.push(`The interval still straddles the tolerance, so neither a pass nor a fail is shown yet: inconclusive. The judge looks again at every interval until the timeout.`);
        break;
    }
  }
  const e = m?.evidence ?? null;
  if (e && e.test === 'sequential') {
    sentences.push(
      `Sequential test (mixture SPRT): z = ${formatNumber(e.statistic)} against a boundary of ±${formatNumber(e.boundary)}; evidence of a regression e = ${formatNumber(e.eValueFail)}, of being within tolerance e = ${formatNumber(e.eValuePass)}; a decision needs e ≥ ${formatNumber(e.eValueThreshold)} (1/α), valid however often the judge looks.`,
    );
  } else if (e && e.test === 'mann-whitney') {
    sentences.push(
      `Mann-Whitney test (${e.method}): U = ${formatNumber(e.u)}, one-sided p = ${formatNumber(e.pValueBadDirection)}, two-sided p = ${formatNumber(e.pValueTwoSided)}; a fixed-horizon test, valid when judged once.`,
    );
  } else if (j.statistic !== null) {
    sentences.push(`Test ${j.method}: statistic ${formatNumber(j.statistic)}.`);
  }
  const headline =
    j.verdict === 'no-data'
      ? `no data (${j.nCanary} canary, ${j.nBaseline} baseline samples)`
      : `${pct(j.effect)} (${levelText}interval ${lo === null ? '−∞' : pct(lo)} … ${hi === null ? '+∞' : pct(hi)}), tolerance ${direction === 'increase-is-bad' ? '+' : '−'}${mag(tol, 0)}: ${j.verdict}`;
  return { headline, sentences };
}

// ---------------------------------------------------------------------------------------------
// Canary vs baseline series.
// ---------------------------------------------------------------------------------------------

/** `workload_rss_bytes@/workloads.slice/kv-*` -> metric and cgroup glob (null = node-wide). */
export function gateMetric(name: string): { metric: string; cgroupGlob: string | null } {
  const at = name.indexOf('@');
  return at < 0 ? { metric: name, cgroupGlob: null } : { metric: name.slice(0, at), cgroupGlob: name.slice(at + 1) };
}

export interface CanaryBaselineSeries {
  /** Unix seconds, bucket centres. */
  readonly xs: number[];
  readonly canary: (number | null)[];
  readonly baseline: (number | null)[];
  /** Series (node and cgroup) that fed each side, and those left out for want of a pre-window level. */
  readonly seriesCount: { readonly canary: number; readonly baseline: number; readonly leftOut: number };
  readonly normalized: boolean;
  /** Where the judged window starts (unix seconds), for a marker. */
  readonly windowStart: number | null;
}

/**
 * The mean of each side over time, from the samples of every canary and baseline node: rows of
 * the gate's cgroups (or node-wide), each series divided by its pre-window mean when the
 * judgment normalized per series, averaged per time bucket. The judge compares the pooled
 * window samples; this shows the same samples over time.
 */
export function canaryBaselineSeries(input: {
  readonly gateName: string;
  readonly samplesByNode: ReadonlyMap<string, readonly MetricSampleView[]>;
  readonly canaryNodes: readonly string[];
  readonly baselineNodes: readonly string[];
  readonly normalized: boolean;
  readonly preWindow: { readonly from: string; readonly to: string } | null;
  readonly window: { readonly from: string; readonly to: string } | null;
  /** Bucket width in seconds (default: from the data, about 60 buckets). */
  readonly bucketS?: number;
}): CanaryBaselineSeries {
  const { metric, cgroupGlob } = gateMetric(input.gateName);
  const match = cgroupGlob === null ? (c: string) => c === '' : cgroupGlobMatcher(cgroupGlob);
  const preFrom = input.preWindow ? Date.parse(input.preWindow.from) / 1000 : -Infinity;
  const preTo = input.preWindow ? Date.parse(input.preWindow.to) / 1000 : -Infinity;
  let leftOut = 0;
  const side = (nodes: readonly string[]): { points: Point[]; series: number } => {
    const points: Point[] = [];
    let series = 0;
    for (const node of nodes) {
      const byCgroup = new Map<string, Point[]>();
      for (const s of input.samplesByNode.get(node) ?? []) {
        if (s.name !== metric || !match(s.cgroup)) continue;
        const t = Date.parse(s.ts) / 1000;
        if (!Number.isFinite(t) || !Number.isFinite(s.value)) continue;
        const list = byCgroup.get(s.cgroup) ?? [];
        list.push({ t, v: s.value });
        byCgroup.set(s.cgroup, list);
      }
      for (const list of byCgroup.values()) {
        let divisor = 1;
        if (input.normalized) {
          const pre = list.filter((p) => p.t >= preFrom && p.t <= preTo);
          const level = pre.length === 0 ? 0 : pre.reduce((a, p) => a + p.v, 0) / pre.length;
          if (!(level !== 0 && Number.isFinite(level))) {
            leftOut++;
            continue;
          }
          divisor = level;
        }
        series++;
        for (const p of list) points.push({ t: p.t, v: p.v / divisor });
      }
    }
    return { points, series };
  };
  const canary = side(input.canaryNodes);
  const baseline = side(input.baselineNodes);
  const all = [...canary.points, ...baseline.points];
  const windowStart = input.window ? Date.parse(input.window.from) / 1000 : null;
  if (all.length === 0) return { xs: [], canary: [], baseline: [], seriesCount: { canary: 0, baseline: 0, leftOut }, normalized: input.normalized, windowStart };
  let min = Infinity;
  let max = -Infinity;
  for (const p of all) {
    if (p.t < min) min = p.t;
    if (p.t > max) max = p.t;
  }
  const width = input.bucketS ?? Math.max(1, (max - min) / 60);
  const c = bucketMean(canary.points, width);
  const b = bucketMean(baseline.points, width);
  const times = [...new Set([...c.map((p) => p.t), ...b.map((p) => p.t)])].sort((x, y) => x - y);
  const index = new Map(times.map((t, i) => [t, i]));
  const cv = new Array<number | null>(times.length).fill(null);
  const bv = new Array<number | null>(times.length).fill(null);
  for (const p of c) cv[index.get(p.t)!] = p.v;
  for (const p of b) bv[index.get(p.t)!] = p.v;
  return { xs: times, canary: cv, baseline: bv, seriesCount: { canary: canary.series, baseline: baseline.series, leftOut }, normalized: input.normalized, windowStart };
}

// ---------------------------------------------------------------------------------------------
// New rollouts.
// ---------------------------------------------------------------------------------------------

/**
 * The plan a new rollout starts from: a canary of one node (the strata add more), then the whole
 * fleet, judged on the product's standard gates (what THP is feared for: fault latency of the
 * latency-sensitive services, resident memory of sparse key-value stores, node memory pressure).
 * Operators edit it before starting; the controller validates it and lists every problem.
 */
export function defaultPlan(): string {
  return JSON.stringify(
    {
      steps: [
        { name: 'canary', select: { count: 1 }, bake: '10m' },
        { name: 'fleet', select: { percent: 100 }, bake: '5m' },
      ],
      gates: [
        { name: 'workload_fault_latency_p99_us@/workloads.slice/latency-*', direction: 'increase-is-bad', tolerance: 1.0, critical: true },
        { name: 'workload_rss_bytes@/workloads.slice/kv-*', direction: 'increase-is-bad', tolerance: 0.1, critical: true },
        { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.5, critical: true },
      ],
      judging: { interval: '30s', timeout: '30m', onInconclusive: 'pause' },
      autoRollback: true,
    },
    null,
    2,
  );
}

/** The plan text as JSON, or where it is broken ("line 4, column 7: ..."). */
export function parsePlanText(text: string): { ok: true; plan: unknown } | { ok: false; problem: string } {
  try {
    const plan = JSON.parse(text) as unknown;
    if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) return { ok: false, problem: 'the plan must be a JSON object with steps and gates' };
    return { ok: true, plan };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    if (position) {
      const offset = Number(position[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      return { ok: false, problem: `line ${line}, column ${column}: ${message}` };
    }
    return { ok: false, problem: message };
  }
}
