/**
 * The rollout state machine, as one pure transition function:
 *
 *     transition(context, state, event, now) -> applied { state, effects } | noop | rejected
 *
 * The orchestrator persists every applied transition (the new state, its events) in one
 * transaction guarded by the optimistic `version`, then carries out the effects. Effects are
 * idempotent (assigning a node the version it already has is a no-op), and every event the
 * orchestrator derives from the world (step_acked, nack, rollback_done) is level-triggered, so a
 * process killed between the commit and the effects redoes the effects on restart and neither
 * loses nor repeats a transition.
 *
 *   pending --start--> progressing(k) --cohort_chosen, admit*, step_acked--> baking(k)
 *   baking --tick past bake | promote--> judging(k) (gated step) | progressing(k+1) | completed
 *   judging --pass--> progressing(k+1) | completed
 *   judging --fail--> rolling_back (autoRollback) | failed
 *   judging --inconclusive/no-data past timeout--> paused | rolling_back | next step (plan.judging)
 *   any active --nack(canary)--> rolling_back;  --pause--> paused --resume--> where it was
 *   any active --abort--> rolling_back (then aborted) | aborted
 *   rolling_back --rollback_done--> rolled_back | aborted | failed
 *
 * Terminal phases (completed, failed, rolled_back, aborted) are absorbing.
 */
import { stepIsGated, type GateSpec, type RolloutPlan } from './rollout.plan.js';

export const PHASES = ['pending', 'progressing', 'baking', 'judging', 'paused', 'completed', 'failed', 'rolling_back', 'rolled_back', 'aborted'] as const;
export type Phase = (typeof PHASES)[number];
export const TERMINAL_PHASES: readonly Phase[] = ['completed', 'failed', 'rolled_back', 'aborted'];
/** Phases in which the rollout holds the policy (at most one such rollout per policy). */
export const ACTIVE_PHASES: readonly Phase[] = ['pending', 'progressing', 'baking', 'judging', 'paused', 'rolling_back'];
export type StepPhase = 'progressing' | 'baking' | 'judging';
export type RollbackOutcome = 'rolled_back' | 'aborted' | 'failed';

export function isTerminal(phase: Phase): boolean {
  return TERMINAL_PHASES.includes(phase);
}

export const VERDICTS = ['pass', 'fail', 'inconclusive', 'no-data'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface JudgingState {
  readonly startedAt: number;
  /** After this, an inconclusive verdict applies plan.judging.onInconclusive. */
  readonly deadline: number;
  /** Judgment attempts of this step so far; a verdict must name the outstanding one. */
  readonly attempt: number;
  /** A judgment has been requested and its verdict not yet received. */
  readonly awaiting: boolean;
  /** When the next judgment is due (when not awaiting). */
  readonly nextAt: number;
}

export interface PausedState {
  readonly from: StepPhase;
  /** Bake or judging time left when paused; restored on resume. */
  readonly remainingMs: number;
  readonly reason: string;
  readonly by: 'operator' | 'system';
}

export interface RolloutState {
  /** Optimistic version: 0 when created, +1 for every applied transition. */
  readonly version: number;
  readonly phase: Phase;
  /** Current step; -1 while pending. */
  readonly step: number;
  /** The nodes the current step adds, in cohort order; null until chosen. */
  readonly cohort: readonly string[] | null;
  /** Of the cohort, the nodes assigned so far (the blast-radius budget admits them in batches). */
  readonly admitted: readonly string[];
  /** Every node this rollout has assigned the target version, in assignment order. */
  readonly touched: readonly string[];
  /** Nodes that refused the target version; never assigned it again by this rollout. */
  readonly nacked: readonly string[];
  readonly bakeUntil: number | null;
  readonly judging: JudgingState | null;
  readonly paused: PausedState | null;
  /** While rolling back: the terminal phase it ends in. */
  readonly rollbackOutcome: RollbackOutcome | null;
  /** Why the rollout is paused, rolling back or ended (null while it runs normally). */
  readonly reason: string | null;
  /** When the current phase was entered. */
  readonly since: number;
}

export function initialState(now: number): RolloutState {
  return { version: 0, phase: 'pending', step: -1, cohort: null, admitted: [], touched: [], nacked: [], bakeUntil: null, judging: null, paused: null, rollbackOutcome: null, reason: null, since: now };
}

export type RolloutEvent = (
  | { readonly type: 'start' }
  | { readonly type: 'tick' }
  /** The deterministic cohort of `step` (nodes not yet touched; may be empty). */
  | { readonly type: 'cohort_chosen'; readonly step: number; readonly nodes: readonly string[] }
  /** The blast-radius budget lets these cohort nodes be assigned now. */
  | { readonly type: 'admit'; readonly step: number; readonly nodes: readonly string[] }
  /** Every node of the step is assigned and has acknowledged the target version. */
  | { readonly type: 'step_acked'; readonly step: number }
  /** A node refused the target version. */
  | { readonly type: 'nack'; readonly node: string; readonly message: string }
  | { readonly type: 'judge_verdict'; readonly step: number; readonly attempt: number; readonly verdict: Verdict; readonly summary: string }
  | { readonly type: 'pause'; readonly reason: string; readonly by: 'operator' | 'system' }
  | { readonly type: 'resume' }
  /** Skip the rest of the bake; with skipGate (admin, audited) also accept a step being judged. */
  | { readonly type: 'promote'; readonly skipGate: boolean }
  | { readonly type: 'abort'; readonly reason: string }
  /** Every touched node acknowledged its previous version again. */
  | { readonly type: 'rollback_done' }
  /** A node refused its previous version during the rollback. */
  | { readonly type: 'rollback_nack'; readonly node: string; readonly message: string }
  /** The orchestrator cannot continue (no eligible node, the version vanished, ...). */
  | { readonly type: 'fail'; readonly reason: string }
) & {
  /** When set, the event applies only to this state version (optimistic concurrency for commands). */
  readonly expectedVersion?: number;
};
export type EventType = RolloutEvent['type'];

export const EVENT_KINDS = [
  'started',
  'cohort_chosen',
  'nodes_assigned',
  'step_acked',
  'bake_started',
  'bake_ended',
  'judgment_requested',
  'verdict',
  'gate_skipped',
  'step_passed',
  'paused',
  'resumed',
  'promoted',
  'nack',
  'rollback_started',
  'rollback_nack',
  'completed',
  'failed',
  'rolled_back',
  'aborted',
] as const;
export type RolloutEventKind = (typeof EVENT_KINDS)[number];

export type Effect =
  /** Choose (deterministically) and report the cohort of `step` with cohort_chosen. */
  | { readonly type: 'choose_cohort'; readonly step: number }
  /** Set these nodes' desired state to the target version. */
  | { readonly type: 'assign'; readonly step: number; readonly nodes: readonly string[]; readonly version: number }
  /** Set these nodes' desired state back to what each had before this rollout. */
  | { readonly type: 'assign_previous'; readonly nodes: readonly string[] }
  /** Judge the step's canary against its baseline and report the verdict with judge_verdict. */
  | { readonly type: 'request_judgment'; readonly step: number; readonly attempt: number; readonly gates: readonly GateSpec[] }
  /** Append to the rollout's event log (and the audit log, and SSE). */
  | { readonly type: 'record_event'; readonly kind: RolloutEventKind; readonly message: string; readonly data: Readonly<Record<string, unknown>> };

export interface MachineContext {
  readonly plan: RolloutPlan;
  readonly targetVersion: number;
}

export type TransitionResult =
  | { readonly outcome: 'applied'; readonly state: RolloutState; readonly effects: readonly Effect[] }
  /** Nothing to do (a tick before a deadline, a repeated level-triggered event). */
  | { readonly outcome: 'noop' }
  /** The event does not apply in this state; `reason` is for the API caller. */
  | { readonly outcome: 'rejected'; readonly reason: string; readonly conflict: boolean };

const NOOP: TransitionResult = { outcome: 'noop' };
const reject = (reason: string, conflict = false): TransitionResult => ({ outcome: 'rejected', reason, conflict });
const record = (kind: RolloutEventKind, message: string, data: Readonly<Record<string, unknown>> = {}): Effect => ({ type: 'record_event', kind, message, data });

/** A transition builder: collects the effects, then stamps the new version. */
class Draft {
  readonly effects: Effect[] = [];
  constructor(
    readonly context: MachineContext,
    public state: RolloutState,
    readonly now: number,
  ) {}
  set(patch: Partial<RolloutState>): void {
    this.state = { ...this.state, ...patch };
  }
  enter(phase: Phase, patch: Partial<RolloutState> = {}): void {
    this.state = { ...this.state, ...patch, phase, since: this.now };
  }
  emit(effect: Effect): void {
    this.effects.push(effect);
  }
  done(from: RolloutState): TransitionResult {
    return { outcome: 'applied', state: { ...this.state, version: from.version + 1 }, effects: this.effects };
  }
}

function stepName(context: MachineContext, k: number): string {
  return context.plan.steps[k]?.name ?? `step-${k + 1}`;
}

/** Enter step k (choose its cohort next). */
function beginStep(d: Draft, k: number): void {
  d.enter('progressing', { step: k, cohort: null, admitted: [], bakeUntil: null, judging: null, paused: null, reason: null });
  d.emit({ type: 'choose_cohort', step: k });
}

/** The current step's nodes are all on the new version: bake, or go straight on. */
function afterAcked(d: Draft): void {
  const k = d.state.step;
  const bakeMs = d.context.plan.steps[k]?.bakeMs ?? 0;
  if (bakeMs > 0) {
    d.enter('baking', { bakeUntil: d.now + bakeMs });
    d.emit(record('bake_started', `${stepName(d.context, k)}: baking for ${bakeMs} ms`, { step: k, bakeMs, until: d.now + bakeMs }));
    return;
  }
  afterBake(d);
}

/** The bake is over (or skipped): judge the step, or pass it. */
function afterBake(d: Draft): void {
  const k = d.state.step;
  if (stepIsGated(d.context.plan, k)) {
    const timeoutMs = d.context.plan.judging.timeoutMs;
    startJudging(d, { startedAt: d.now, deadline: d.now + timeoutMs, attempt: 0, awaiting: false, nextAt: d.now });
    return;
  }
  if (d.context.plan.gateSkip !== null && (d.context.plan.steps[k]?.gates.length ?? 0) > 0) {
    d.emit(record('gate_skipped', `${stepName(d.context, k)}: gates skipped (fast path): ${d.context.plan.gateSkip.reason}`, { step: k, reason: d.context.plan.gateSkip.reason }));
  }
  passStep(d);
}

/** Request judgment attempt `previous.attempt + 1`. */
function startJudging(d: Draft, previous: JudgingState): void {
  const k = d.state.step;
  const attempt = previous.attempt + 1;
  const gates = d.context.plan.steps[k]?.gates ?? [];
  d.enter('judging', { bakeUntil: null, judging: { ...previous, attempt, awaiting: true, nextAt: d.now } });
  d.emit({ type: 'request_judgment', step: k, attempt, gates });
  d.emit(record('judgment_requested', `${stepName(d.context, k)}: judgment ${attempt} requested`, { step: k, attempt, gates: gates.map((g) => g.name) }));
}

/** Step k is done: the next step, or completed. */
function passStep(d: Draft): void {
  const k = d.state.step;
  d.emit(record('step_passed', `${stepName(d.context, k)} passed`, { step: k }));
  if (k + 1 >= d.context.plan.steps.length) {
    d.enter('completed', { cohort: d.state.cohort, bakeUntil: null, judging: null, paused: null, reason: null });
    d.emit(record('completed', `rollout completed: ${d.state.touched.length} node(s) on version ${d.context.targetVersion}`, { nodes: d.state.touched.length, version: d.context.targetVersion }));
    return;
  }
  beginStep(d, k + 1);
}

/** Send every touched node back to its previous version; end in `outcome` once they are there. */
function rollBack(d: Draft, outcome: RollbackOutcome, reason: string): void {
  const touched = d.state.touched;
  d.set({ bakeUntil: null, judging: null, paused: null, reason, rollbackOutcome: outcome });
  if (touched.length === 0) {
    finish(d, outcome, reason);
    return;
  }
  d.enter('rolling_back');
  d.emit({ type: 'assign_previous', nodes: touched });
  d.emit(record('rollback_started', `rolling back ${touched.length} node(s): ${reason}`, { nodes: touched, reason, outcome }));
}

function finish(d: Draft, outcome: RollbackOutcome, reason: string): void {
  d.enter(outcome, { bakeUntil: null, judging: null, paused: null, reason });
  d.emit(record(outcome, `rollout ${outcome.replace('_', ' ')}: ${reason}`, { reason }));
}

/** The current step's phase as it would be if not paused. */
function stepPhaseOf(state: RolloutState): StepPhase | null {
  if (state.phase === 'progressing' || state.phase === 'baking' || state.phase === 'judging') return state.phase;
  if (state.phase === 'paused' && state.paused !== null) return state.paused.from;
  return null;
}

/**
 * The transition function. `now` is the orchestrator's clock in ms; it is only compared and
 * stored, never read here.
 */
export function transition(context: MachineContext, state: RolloutState, event: RolloutEvent, now: number): TransitionResult {
  if (event.expectedVersion !== undefined && event.expectedVersion !== state.version) {
    // Stored revision = machine version + 1 (rollout.repository.ts); speak in revisions, as If-Match does.
    return reject(`the rollout changed (revision ${state.version + 1}, expected ${event.expectedVersion + 1}); reload and retry`, true);
  }
  if (isTerminal(state.phase)) {
    return event.type === 'tick' ? NOOP : reject(`the rollout is ${state.phase}`);
  }
  const d = new Draft(context, state, now);
  const plan = context.plan;
  const k = state.step;
  const name = stepName(context, k);

  switch (event.type) {
    case 'start': {
      if (state.phase !== 'pending') return reject(`the rollout already started (${state.phase})`);
      d.emit(record('started', `rollout started: ${plan.steps.length} step(s) to version ${context.targetVersion}`, { steps: plan.steps.length, version: context.targetVersion }));
      beginStep(d, 0);
      return d.done(state);
    }

    case 'tick': {
      if (state.phase === 'baking' && state.bakeUntil !== null && now >= state.bakeUntil) {
        d.emit(record('bake_ended', `${name}: bake ended`, { step: k }));
        afterBake(d);
        return d.done(state);
      }
      if (state.phase === 'judging' && state.judging !== null && !state.judging.awaiting && now >= state.judging.nextAt) {
        startJudging(d, state.judging);
        return d.done(state);
      }
      return NOOP;
    }

    case 'cohort_chosen': {
      if (state.phase !== 'progressing' && !(state.phase === 'paused' && state.paused?.from === 'progressing')) return reject(`no cohort is being chosen (${state.phase})`);
      if (event.step !== k) return reject(`cohort for step ${event.step}, but the rollout is at step ${k}`);
      if (state.cohort !== null) return NOOP;
      const nodes = dedupe(event.nodes).filter((n) => !state.touched.includes(n) && !state.nacked.includes(n));
      d.set({ cohort: nodes });
      d.emit(record('cohort_chosen', `${name}: ${nodes.length} new node(s)`, { step: k, nodes }));
      return d.done(state);
    }

    case 'admit': {
      if (state.phase !== 'progressing') return reject(`nodes are admitted only while progressing (${state.phase})`);
      if (event.step !== k) return reject(`admission for step ${event.step}, but the rollout is at step ${k}`);
      if (state.cohort === null) return reject('the cohort of this step is not chosen yet');
      const cohort = state.cohort;
      const fresh = dedupe(event.nodes).filter((n) => cohort.includes(n) && !state.admitted.includes(n) && !state.nacked.includes(n));
      if (fresh.length === 0) return NOOP;
      // Re-entering progressing restarts `since`: the acknowledgement timeout counts from the last batch.
      d.enter('progressing', { admitted: [...state.admitted, ...fresh], touched: [...state.touched, ...fresh.filter((n) => !state.touched.includes(n))] });
      d.emit({ type: 'assign', step: k, nodes: fresh, version: context.targetVersion });
      d.emit(record('nodes_assigned', `${name}: ${fresh.length} node(s) assigned version ${context.targetVersion}`, { step: k, nodes: fresh, version: context.targetVersion }));
      return d.done(state);
    }

    case 'step_acked': {
      if (state.phase !== 'progressing') return state.phase === 'baking' || state.phase === 'judging' ? NOOP : reject(`the step is not progressing (${state.phase})`);
      if (event.step !== k) return NOOP;
      if (state.cohort === null) return reject('the cohort of this step is not chosen yet');
      if (state.admitted.length < state.cohort.length) return reject(`${state.cohort.length - state.admitted.length} node(s) of the step are not admitted yet`);
      d.emit(record('step_acked', `${name}: all ${state.admitted.length} node(s) acknowledged`, { step: k, nodes: state.admitted.length }));
      afterAcked(d);
      return d.done(state);
    }

    case 'nack': {
      if (state.phase === 'pending') return reject('the rollout has not assigned anything yet');
      if (state.phase === 'rolling_back') return NOOP; // a late NACK of the version being rolled back
      if (!state.touched.includes(event.node)) return reject(`node ${event.node} was not assigned by this rollout`);
      if (state.nacked.includes(event.node)) return NOOP;
      d.set({ nacked: [...state.nacked, event.node] });
      d.emit(record('nack', `node ${event.node} rejected version ${context.targetVersion}: ${event.message}`, { node: event.node, message: event.message, step: k }));
      rollBack(d, 'rolled_back', `node ${event.node} rejected version ${context.targetVersion}: ${event.message}`);
      return d.done(state);
    }

    case 'judge_verdict': {
      if (state.phase !== 'judging' || state.judging === null) return reject(`no judgment is outstanding (${state.phase})`);
      if (event.step !== k || event.attempt !== state.judging.attempt || !state.judging.awaiting) return reject(`stale verdict (step ${event.step} attempt ${event.attempt}; outstanding: step ${k} attempt ${state.judging.awaiting ? state.judging.attempt : 'none'})`);
      d.emit(record('verdict', `${name}: ${event.verdict}: ${event.summary}`, { step: k, attempt: event.attempt, verdict: event.verdict, summary: event.summary }));
      switch (event.verdict) {
        case 'pass':
          passStep(d);
          break;
        case 'fail':
          if (plan.autoRollback) rollBack(d, 'rolled_back', `${name} failed its gates: ${event.summary}`);
          else finish(d, 'failed', `${name} failed its gates (automatic rollback is off): ${event.summary}`);
          break;
        case 'inconclusive':
        case 'no-data': {
          if (now < state.judging.deadline) {
            d.set({ judging: { ...state.judging, awaiting: false, nextAt: Math.min(now + plan.judging.intervalMs, state.judging.deadline) } });
            break;
          }
          const why = `${name}: still ${event.verdict} after ${plan.judging.timeoutMs} ms of judging`;
          switch (plan.judging.onInconclusive) {
            case 'pause':
              d.enter('paused', { judging: { ...state.judging, awaiting: false }, paused: { from: 'judging', remainingMs: plan.judging.timeoutMs, reason: why, by: 'system' }, reason: why });
              d.emit(record('paused', `paused: ${why}`, { step: k, by: 'system', reason: why }));
              break;
            case 'rollback':
              rollBack(d, 'rolled_back', why);
              break;
            case 'proceed':
              d.emit(record('gate_skipped', `${why}; proceeding as the plan says`, { step: k, reason: why }));
              passStep(d);
              break;
          }
          break;
        }
      }
      return d.done(state);
    }

    case 'pause': {
      const phase = stepPhaseOf(state);
      if (state.phase === 'paused') return reject('the rollout is already paused');
      if (phase === null) return reject(`a ${state.phase} rollout cannot be paused`);
      const remainingMs = phase === 'baking' ? Math.max(0, (state.bakeUntil ?? now) - now) : phase === 'judging' ? Math.max(0, (state.judging?.deadline ?? now) - now) : 0;
      d.enter('paused', { bakeUntil: null, paused: { from: phase, remainingMs, reason: event.reason, by: event.by }, reason: event.reason, ...(state.judging ? { judging: { ...state.judging, awaiting: false } } : {}) });
      d.emit(record('paused', `paused by ${event.by}: ${event.reason}`, { step: k, by: event.by, reason: event.reason, from: phase, remainingMs }));
      return d.done(state);
    }

    case 'resume': {
      if (state.phase !== 'paused' || state.paused === null) return reject(`the rollout is not paused (${state.phase})`);
      resumeFrom(d, state.paused);
      d.emit(record('resumed', `resumed (${state.paused.from})`, { step: k, from: state.paused.from }));
      return d.done(state);
    }

    case 'promote': {
      const phase = stepPhaseOf(state);
      if (phase === 'baking') {
        if (state.phase === 'paused') d.set({ paused: null, reason: null });
        d.emit(record('promoted', `${name}: bake ended early by promotion`, { step: k, remainingMs: Math.max(0, (state.bakeUntil ?? now) - now) }));
        afterBake(d);
        return d.done(state);
      }
      if (phase === 'judging') {
        if (!event.skipGate) return reject(`${name} is being judged: promoting past its gates needs an admin gate skip`);
        if (state.phase === 'paused') d.set({ paused: null, reason: null });
        d.emit(record('gate_skipped', `${name}: gates skipped by promotion`, { step: k }));
        passStep(d);
        return d.done(state);
      }
      return reject(phase === 'progressing' ? `${name} is still being assigned; nothing to promote yet` : `a ${state.phase} rollout cannot be promoted`);
    }

    case 'abort': {
      if (state.phase === 'rolling_back') return reject('the rollout is already rolling back');
      if (state.phase === 'pending') {
        finish(d, 'aborted', event.reason);
        return d.done(state);
      }
      rollBack(d, 'aborted', `aborted: ${event.reason}`);
      return d.done(state);
    }

    case 'rollback_done': {
      if (state.phase !== 'rolling_back') return state.phase === 'pending' ? reject('nothing to roll back') : NOOP;
      finish(d, state.rollbackOutcome ?? 'rolled_back', state.reason ?? 'rolled back');
      return d.done(state);
    }

    case 'rollback_nack': {
      if (state.phase !== 'rolling_back') return NOOP;
      const why = `node ${event.node} rejected its previous version during the rollback: ${event.message}`;
      d.emit(record('rollback_nack', why, { node: event.node, message: event.message }));
      finish(d, 'failed', `${state.reason ?? 'rollback'}; ${why}`);
      return d.done(state);
    }

    case 'fail': {
      if (state.phase === 'rolling_back') {
        finish(d, 'failed', `${state.reason ?? 'rollback'}; ${event.reason}`);
        return d.done(state);
      }
      rollBack(d, 'failed', event.reason);
      return d.done(state);
    }
  }
}

function resumeFrom(d: Draft, paused: PausedState): void {
  const state = d.state;
  switch (paused.from) {
    case 'progressing':
      d.enter('progressing', { paused: null, reason: null });
      return;
    case 'baking':
      d.enter('baking', { paused: null, reason: null, bakeUntil: d.now + paused.remainingMs });
      return;
    case 'judging': {
      d.set({ paused: null, reason: null });
      const previous = state.judging ?? { startedAt: d.now, deadline: d.now, attempt: 0, awaiting: false, nextAt: d.now };
      startJudging(d, { ...previous, deadline: d.now + paused.remainingMs });
      return;
    }
  }
}

function dedupe(nodes: readonly string[]): string[] {
  return [...new Set(nodes)];
}

/** The machine bound to one rollout: `(state, event, now) -> result`. */
export function rolloutMachine(context: MachineContext): (state: RolloutState, event: RolloutEvent, now: number) => TransitionResult {
  return (state, event, now) => transition(context, state, event, now);
}

/**
 * Everything that must hold in every reachable state; empty when the state is valid. Used by
 * the property tests, and by the orchestrator on every state it loads from the database.
 */
export function stateProblems(context: MachineContext, s: RolloutState): string[] {
  const problems: string[] = [];
  const steps = context.plan.steps.length;
  const unique = (list: readonly string[]): boolean => new Set(list).size === list.length;
  const subset = (a: readonly string[], b: readonly string[]): boolean => a.every((x) => b.includes(x));
  if (!PHASES.includes(s.phase)) problems.push(`unknown phase ${String(s.phase)}`);
  if (!Number.isInteger(s.version) || s.version < 0) problems.push(`bad version ${s.version}`);
  if (s.phase === 'pending') {
    if (s.step !== -1) problems.push('pending with a step');
    if (s.touched.length > 0) problems.push('pending with touched nodes');
  } else if (!(s.step >= 0 && s.step < steps) && !((s.phase === 'aborted' || s.phase === 'failed') && s.step === -1 && s.touched.length === 0)) {
    problems.push(`step ${s.step} out of range 0..${steps - 1}`);
  }
  if (!unique(s.touched) || !unique(s.admitted) || !unique(s.nacked) || (s.cohort !== null && !unique(s.cohort))) problems.push('duplicate node ids');
  if (!subset(s.admitted, s.touched)) problems.push('admitted nodes not in touched');
  if (s.cohort !== null && !subset(s.admitted, s.cohort)) problems.push('admitted nodes outside the cohort');
  if (!subset(s.nacked, s.touched)) problems.push('nacked nodes that were never assigned');
  const step = stepPhaseOf(s);
  if (s.phase === 'baking' || s.phase === 'judging') {
    if (s.cohort === null) problems.push(`${s.phase} without a cohort`);
    else if (s.admitted.length !== s.cohort.length) problems.push(`${s.phase} with nodes not admitted`);
  }
  if ((s.phase === 'baking') !== (s.bakeUntil !== null)) problems.push('bakeUntil set outside baking (or missing in baking)');
  if (s.phase === 'judging' && s.judging === null) problems.push('judging without judging state');
  if (s.phase === 'judging' && s.judging !== null && s.judging.attempt < 1) problems.push('judging without a requested judgment');
  if (step === 'judging' && !stepIsGated(context.plan, s.step)) problems.push('judging an ungated step');
  if ((s.phase === 'paused') !== (s.paused !== null)) problems.push('paused state mismatch');
  if (s.phase === 'paused' && s.paused !== null && s.paused.remainingMs < 0) problems.push('negative remaining time');
  if ((s.phase === 'rolling_back') && s.rollbackOutcome === null) problems.push('rolling back without an outcome');
  if (s.phase === 'rolling_back' && s.touched.length === 0) problems.push('rolling back nothing');
  if (s.phase === 'completed') {
    if (s.step !== steps - 1) problems.push('completed before the last step');
    if (s.nacked.length > 0) problems.push('completed with NACKs');
  }
  if (s.nacked.length > 0 && !['rolling_back', 'rolled_back', 'failed', 'aborted'].includes(s.phase)) problems.push(`NACKed, yet ${s.phase}`);
  if (['progressing', 'baking', 'judging'].includes(s.phase) && s.reason !== null) problems.push('a running rollout with a reason');
  if (s.phase === 'paused' && s.reason === null) problems.push('paused without a reason');
  if (isTerminal(s.phase) && (s.bakeUntil !== null || s.paused !== null)) problems.push('terminal with timers');
  return problems;
}
