/**
 * Rollout rules around the pure machine: creating rollouts and rollbacks (one active per policy,
 * the gate skip for admins only), the operator commands, and `apply`: one transition of the
 * machine committed in one transaction with everything it causes (the new state guarded by the
 * optimistic revision, the desired-state changes, what each node ran before, the step rows,
 * the judgment, the rollout events, the audit entry and the SSE event). A transition whose
 * transaction does not commit leaves no trace, and one that commits is never applied again:
 * the revision check makes a second writer (another replica, a restarted leader) reload.
 */
import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '../common/errors.js';
import { CLOCK, LOGGER, STORE, type Clock } from '../common/tokens.js';
import type { Logger } from '../common/logger.js';
import type { Db, Store } from '../store/database.js';
import { sqlState } from '../store/db-errors.js';
import { AssignmentService } from '../assignment/assignment.service.js';
import { AuditService } from '../audit/audit.service.js';
import { EventsService } from '../events/events.service.js';
import { PolicyCatalog } from '../policy/policy-catalog.js';
import type { Principal } from '../token/token.service.js';
import { resolveBudget, type BudgetSpec, type CohortChoice } from './cohort.js';
import { formatPolicyRef, samePolicyRef, type PolicyRef } from './policy-ref.js';
import type { JudgmentResult } from './rollout.judgment.js';
import { initialState, isTerminal, stateProblems, transition, type Effect, type MachineContext, type Phase, type RolloutEvent, type RolloutState, type TransitionResult } from './rollout.machine.js';
import { parsePlan, planToJson, rollbackPlan, type GateSpec, type RolloutPlan } from './rollout.plan.js';
import { RolloutRepository, type NewRolloutEvent, type RolloutKind, type RolloutRecord } from './rollout.repository.js';
import type { RolloutConfig } from './rollout.config.js';
import { ROLLOUT_CONFIG } from './rollout.tokens.js';
import type { LabelSelector } from './label-selector.js';

/** The actor of every automatic transition in the audit log. */
export const ORCHESTRATOR_ACTOR = 'controller:rollout-orchestrator';
/** How often a command retries when the orchestrator changed the rollout under it. */
const COMMAND_RETRIES = 8;

export interface TransitionExtras {
  /** The full cohort choice behind a cohort_chosen event (exclusions, strata). */
  readonly cohort?: CohortChoice;
  /** The judgment behind a judge_verdict event. */
  readonly judgment?: JudgmentResult;
}

export type ApplyOutcome =
  | { readonly outcome: 'applied'; readonly record: RolloutRecord; readonly effects: readonly Effect[] }
  | { readonly outcome: 'noop' }
  | { readonly outcome: 'rejected'; readonly reason: string; readonly conflict: boolean }
  /** Another writer changed the rollout first; reload and decide again. */
  | { readonly outcome: 'stale' };

export type Command =
  | { readonly type: 'pause'; readonly reason: string }
  | { readonly type: 'resume' }
  | { readonly type: 'promote'; readonly skipGateReason: string | null }
  | { readonly type: 'abort'; readonly reason: string };

const STEP_STATE: Readonly<Record<Phase, string>> = {
  pending: 'pending',
  progressing: 'progressing',
  baking: 'baking',
  judging: 'judging',
  paused: 'paused',
  completed: 'passed',
  failed: 'failed',
  rolling_back: 'rolling_back',
  rolled_back: 'rolled_back',
  aborted: 'aborted',
};

/** The blast-radius budget in force: set over the API, or else from THP_ROLLOUT_BUDGET_*. */
export interface EffectiveBudget {
  readonly spec: BudgetSpec;
  readonly source: 'api' | 'environment';
  /** 0 while never set over the API (the If-Match revision to create it). */
  readonly revision: number;
  readonly updatedAt: Date | null;
  readonly updatedBy: string | null;
}

export function newRolloutId(at: Date): string {
  return `ro-${at.getTime().toString(36)}-${randomBytes(4).toString('hex')}`;
}

@Injectable()
export class RolloutService {
  private readonly plans = new Map<string, RolloutPlan>();
  private readonly log: Logger;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(RolloutRepository) private readonly repository: RolloutRepository,
    @Inject(AssignmentService) private readonly assignments: AssignmentService,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(EventsService) private readonly events: EventsService,
    @Inject(PolicyCatalog) private readonly catalog: PolicyCatalog,
    @Inject(ROLLOUT_CONFIG) private readonly config: RolloutConfig,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child('rollouts');
  }

  // -------------------------------------------------------------------------------------------
  // The blast-radius budget.
  // -------------------------------------------------------------------------------------------

  async budget(): Promise<EffectiveBudget> {
    const stored = await this.repository.budget(this.store.db);
    if (stored === null) return { spec: this.config.budget, source: 'environment', revision: 0, updatedAt: null, updatedBy: null };
    return { spec: { maxNodes: stored.maxNodes, maxPercent: stored.maxPercent }, source: 'api', revision: stored.revision, updatedAt: stored.updatedAt, updatedBy: stored.updatedBy };
  }

  /** The budget with what it means for the fleet now: the limit in nodes (null = none). */
  async budgetView(): Promise<{ budget: EffectiveBudget; fleetSize: number; limitNodes: number | null }> {
    const [budget, fleetSize] = await Promise.all([this.budget(), this.repository.fleetSize(this.store.db)]);
    const limit = resolveBudget(budget.spec, fleetSize);
    return { budget, fleetSize, limitNodes: Number.isFinite(limit) ? limit : null };
  }

  /** Set the fleet-wide budget (audited). `expectedRevision` (If-Match) 0 = it was never set. */
  async setBudget(spec: BudgetSpec, expectedRevision: number | undefined, actor: string): Promise<EffectiveBudget> {
    const before = await this.budget();
    const at = this.clock.now();
    const written = await this.store.db.transaction().execute(async (tx) => {
      const record = await this.repository.setBudget(tx, { maxNodes: spec.maxNodes, maxPercent: spec.maxPercent, expectedRevision, at, by: actor });
      if (record === null) return null;
      await this.audit.record(tx, {
        actor,
        action: 'rollout.budget.set',
        targetType: 'rollout-budget',
        targetId: 'fleet',
        before: { ...before.spec, source: before.source, revision: before.revision },
        after: { maxNodes: record.maxNodes, maxPercent: record.maxPercent, source: 'api', revision: record.revision },
      });
      return record;
    });
    if (written === null) {
      const now = await this.budget();
      throw new AppError('conflict', `the budget changed meanwhile (revision ${now.revision}); reload and retry`, [{ path: 'header.If-Match', message: `current revision ${now.revision}` }]);
    }
    return { spec: { maxNodes: written.maxNodes, maxPercent: written.maxPercent }, source: 'api', revision: written.revision, updatedAt: written.updatedAt, updatedBy: written.updatedBy };
  }

  /** The validated plan of a stored rollout (plans are immutable, so cached by id). */
  planOf(record: RolloutRecord): RolloutPlan {
    const cached = this.plans.get(record.id);
    if (cached) return cached;
    const result = parsePlan(record.plan);
    if (!result.ok) throw new AppError('internal', `rollout ${record.id} has a stored plan that no longer validates`, result.errors);
    if (this.plans.size > 1_000) this.plans.clear();
    this.plans.set(record.id, result.plan);
    return result.plan;
  }

  contextOf(record: RolloutRecord): MachineContext {
    return { plan: this.planOf(record), targetVersion: record.toVersion };
  }

  targetOf(record: RolloutRecord): PolicyRef {
    return { policy: record.policy, version: record.toVersion };
  }

  // -------------------------------------------------------------------------------------------
  // Creating rollouts.
  // -------------------------------------------------------------------------------------------

  async create(input: { policy: string; version: number; plan: unknown }, principal: Principal, actor: string): Promise<RolloutRecord> {
    const parsed = parsePlan(input.plan, 'body.plan');
    if (!parsed.ok) throw new AppError('validation_failed', `the plan has ${parsed.errors.length} problem(s)`, parsed.errors);
    return this.insert({ policy: input.policy, version: input.version, plan: parsed.plan, kind: 'rollout' }, principal, actor);
  }

  /**
   * Roll `policy` back to `version`: a rollout of the nodes that run the policy now. With a gate
   * skip (admins, with a reason) it is the fast path: every node at once, nothing judged.
   */
  async rollback(
    input: { policy: string; version: number; skipGatesReason: string | null; gates: readonly GateSpec[]; canaryBakeMs: number; target?: LabelSelector },
    principal: Principal,
    actor: string,
  ): Promise<RolloutRecord> {
    const plan = rollbackPlan({
      gateSkip: input.skipGatesReason === null ? null : { reason: input.skipGatesReason },
      gates: input.gates,
      canaryBakeMs: input.canaryBakeMs,
      ...(input.target ? { target: input.target } : {}),
    });
    return this.insert({ policy: input.policy, version: input.version, plan, kind: 'rollback' }, principal, actor);
  }

  private async insert(input: { policy: string; version: number; plan: RolloutPlan; kind: RolloutKind }, principal: Principal, actor: string): Promise<RolloutRecord> {
    if (input.plan.gateSkip !== null && principal.role !== 'admin') {
      throw new AppError('permission_denied', 'skipping the gates needs the admin role', [{ path: 'body.skipGates', message: `your role is ${principal.role}` }]);
    }
    const version = await this.catalog.get(input.policy, input.version);
    if (!version) throw new AppError('not_found', `policy ${input.policy} has no version ${input.version}`, [{ path: 'body.version', message: 'no such policy version' }]);
    const at = this.clock.now();
    const id = newRolloutId(at);
    const machine = initialState(at.getTime());
    const planJson = planToJson(input.plan);
    try {
      return await this.store.db.transaction().execute(async (tx) => {
        const fromVersion = await this.deployedVersion(tx, input.policy);
        const record = await this.repository.insert(tx, {
          id,
          policy: input.policy,
          fromVersion,
          toVersion: input.version,
          kind: input.kind,
          plan: planJson,
          machine,
          gateSkipReason: input.plan.gateSkip?.reason ?? null,
          createdBy: actor,
          at,
        });
        await this.repository.insertSteps(
          tx,
          id,
          input.plan.steps.map((s) => ({ selector: { name: s.name, ...s.select }, bakeMs: s.bakeMs, gates: s.gates })),
        );
        await this.repository.insertEvents(tx, id, at, [{ fromState: 'pending', toState: 'pending', step: null, actor, message: `${input.kind} of ${input.policy} to version ${input.version} created`, data: { kind: 'created' } }]);
        await this.audit.record(tx, {
          actor,
          action: input.kind === 'rollback' ? 'rollout.rollback' : 'rollout.create',
          targetType: 'rollout',
          targetId: id,
          before: null,
          after: { policy: input.policy, fromVersion, toVersion: input.version, kind: input.kind, plan: planJson, ...(input.plan.gateSkip ? { gateSkip: { reason: input.plan.gateSkip.reason, by: actor } } : {}) },
        });
        await this.events.publish(tx, { type: 'rollout', data: { id, policy: input.policy, phase: 'pending', step: -1, version: 0, kind: input.kind, events: ['created'] } });
        return record;
      });
    } catch (error) {
      if (sqlState(error) === '23505') {
        const active = await this.repository.activeFor(this.store.db, input.policy);
        throw new AppError('conflict', `policy ${input.policy} already has an active rollout${active ? ` (${active.id}, ${active.phase})` : ''}: one at a time`, [
          { path: 'body.policy', message: active ? `active rollout ${active.id}` : 'an active rollout exists' },
        ]);
      }
      throw error;
    }
  }

  /** The version of `policy` most nodes are meant to run now (null when none is). */
  private async deployedVersion(db: Db, policy: string): Promise<number | null> {
    const fleet = await this.repository.fleet(db);
    const counts = new Map<number, number>();
    for (const n of fleet) if (n.desired?.policy === policy) counts.set(n.desired.version, (counts.get(n.desired.version) ?? 0) + 1);
    let best: number | null = null;
    for (const [version, count] of counts) if (best === null || count > (counts.get(best) ?? 0)) best = version;
    return best;
  }

  // -------------------------------------------------------------------------------------------
  // Reading.
  // -------------------------------------------------------------------------------------------

  async get(id: string): Promise<RolloutRecord> {
    const record = await this.repository.get(this.store.db, id);
    if (!record) throw new AppError('not_found', `rollout ${id} not found`);
    return record;
  }

  list(filter: { policy?: string; state?: string; active?: boolean; limit: number }): Promise<RolloutRecord[]> {
    return this.repository.list(this.store.db, filter);
  }

  async detail(id: string, eventLimit: number): Promise<{
    record: RolloutRecord;
    steps: Awaited<ReturnType<RolloutRepository['steps']>>;
    nodes: Awaited<ReturnType<RolloutRepository['nodes']>>;
    judgments: Awaited<ReturnType<RolloutRepository['judgments']>>;
    events: Awaited<ReturnType<RolloutRepository['events']>>;
  }> {
    const record = await this.get(id);
    const db = this.store.db;
    const [steps, nodes, judgments, events] = await Promise.all([this.repository.steps(db, id), this.repository.nodes(db, id), this.repository.judgments(db, id), this.repository.events(db, id, eventLimit)]);
    return { record, steps, nodes, judgments, events };
  }

  // -------------------------------------------------------------------------------------------
  // Commands.
  // -------------------------------------------------------------------------------------------

  async command(id: string, command: Command, principal: Principal, actor: string, expectedRevision: number | undefined): Promise<RolloutRecord> {
    let event: RolloutEvent;
    switch (command.type) {
      case 'pause':
        event = { type: 'pause', reason: command.reason, by: 'operator' };
        break;
      case 'resume':
        event = { type: 'resume' };
        break;
      case 'promote':
        if (command.skipGateReason !== null && principal.role !== 'admin') {
          throw new AppError('permission_denied', 'promoting past the gates needs the admin role', [{ path: 'body.skipGate', message: `your role is ${principal.role}` }]);
        }
        event = { type: 'promote', skipGate: command.skipGateReason !== null };
        break;
      case 'abort':
        event = { type: 'abort', reason: command.reason };
        break;
    }
    if (expectedRevision !== undefined) event = { ...event, expectedVersion: expectedRevision - 1 };
    for (let attempt = 0; attempt < COMMAND_RETRIES; attempt++) {
      const record = await this.get(id);
      const outcome = await this.apply(record, event, actor, {}, command.type === 'promote' && command.skipGateReason !== null ? { skipGateReason: command.skipGateReason } : {});
      switch (outcome.outcome) {
        case 'applied':
          return outcome.record;
        case 'noop':
          return record;
        case 'rejected':
          throw new AppError('conflict', outcome.reason, [{ path: outcome.conflict ? 'header.If-Match' : 'state', message: outcome.conflict ? `current revision ${record.revision}` : `the rollout is ${record.phase}` }]);
        case 'stale':
          if (expectedRevision !== undefined) throw new AppError('conflict', 'the rollout changed meanwhile; reload and retry', [{ path: 'header.If-Match', message: 'stale' }]);
          break;
      }
    }
    throw new AppError('unavailable', 'the rollout kept changing; retry');
  }

  // -------------------------------------------------------------------------------------------
  // One transition, committed.
  // -------------------------------------------------------------------------------------------

  async apply(record: RolloutRecord, event: RolloutEvent, actor: string, extras: TransitionExtras = {}, auditExtra: Record<string, unknown> = {}): Promise<ApplyOutcome> {
    const context = this.contextOf(record);
    const now = this.clock.now();
    const result: TransitionResult = transition(context, record.machine, event, now.getTime());
    if (result.outcome !== 'applied') return result;
    const problems = stateProblems(context, result.state);
    if (problems.length > 0) {
      // The property tests say this cannot happen; refuse to persist it if it ever does.
      throw new AppError('internal', `rollout ${record.id}: ${event.type} would reach an invalid state: ${problems.join('; ')}`);
    }
    const written = await this.store.db.transaction().execute(async (tx) => {
      const ok = await this.repository.writeState(tx, record.id, record.revision, result.state, now, isTerminal(result.state.phase));
      if (!ok) return undefined;
      const notes = await this.carryOut(tx, record, result.state, result.effects, actor, now);
      await this.updateSteps(tx, record, result.state, event, extras, now);
      if (extras.judgment && event.type === 'judge_verdict') await this.repository.insertJudgments(tx, record.id, now, extras.judgment.rows);
      const events: NewRolloutEvent[] = result.effects.flatMap((e) =>
        e.type === 'record_event' ? [{ fromState: record.phase, toState: result.state.phase, step: result.state.step < 0 ? null : result.state.step, actor, message: e.message, data: { kind: e.kind, ...e.data } }] : [],
      );
      if (notes.length > 0) events.push({ fromState: record.phase, toState: result.state.phase, step: result.state.step < 0 ? null : result.state.step, actor, message: notes.join('; '), data: { kind: 'note', notes } });
      await this.repository.insertEvents(tx, record.id, now, events);
      await this.audit.record(tx, {
        actor,
        action: `rollout.${event.type}`,
        targetType: 'rollout',
        targetId: record.id,
        before: { phase: record.phase, step: record.machine.step, revision: record.revision },
        after: {
          phase: result.state.phase,
          step: result.state.step,
          revision: result.state.version + 1,
          reason: result.state.reason,
          events: events.map((e) => e.message),
          ...(event.type === 'judge_verdict' && extras.judgment ? { verdict: { verdict: extras.judgment.verdict, explanation: extras.judgment.canary.explanation, attempt: event.attempt, metrics: extras.judgment.metrics } } : {}),
          ...auditExtra,
        },
      });
      await this.events.publish(tx, {
        type: 'rollout',
        data: { id: record.id, policy: record.policy, phase: result.state.phase, step: result.state.step, version: result.state.version, events: events.map((e) => e.data['kind']) },
      });
      return this.repository.get(tx, record.id);
    });
    if (written === undefined) return { outcome: 'stale' };
    this.log.info('rollout transition', { rollout: record.id, event: event.type, from: record.phase, to: written.phase, step: written.machine.step, revision: written.revision, actor });
    return { outcome: 'applied', record: written, effects: result.effects };
  }

  /** The desired-state effects, in the transition's transaction. Returns notes for the event log. */
  private async carryOut(tx: Db, record: RolloutRecord, state: RolloutState, effects: readonly Effect[], actor: string, now: Date): Promise<string[]> {
    const notes: string[] = [];
    const target = this.targetOf(record);
    for (const effect of effects) {
      switch (effect.type) {
        case 'assign': {
          const current = await this.repository.lockAssignments(tx, effect.nodes);
          await this.repository.insertNodes(
            tx,
            record.id,
            effect.step,
            effect.nodes.map((nodeId) => ({ nodeId, previous: current.get(nodeId)?.desired ?? null })),
            now,
          );
          const change = await this.assignments.setDesired(effect.nodes, record.policy, effect.version, { actor, rolloutId: record.id, tx, reason: `rollout ${record.id} step ${effect.step + 1}` });
          if (change.quarantined.length > 0) notes.push(`${change.quarantined.length} node(s) rejected ${formatPolicyRef(target)} before and will not be sent it: ${change.quarantined.join(', ')}`);
          break;
        }
        case 'assign_previous': {
          const current = await this.repository.lockAssignments(tx, effect.nodes);
          const previous = new Map((await this.repository.nodes(tx, record.id)).map((n) => [n.nodeId, n.previous]));
          const groups = new Map<string, { ref: PolicyRef | null; nodes: string[] }>();
          const skipped: string[] = [];
          for (const nodeId of effect.nodes) {
            const now = current.get(nodeId);
            // Only nodes this rollout still owns go back; anything changed since by someone else stays.
            if (!now || !samePolicyRef(now.desired, target) || now.rolloutId !== record.id) {
              skipped.push(nodeId);
              continue;
            }
            const ref = previous.get(nodeId) ?? null;
            const key = formatPolicyRef(ref);
            const group = groups.get(key) ?? { ref, nodes: [] };
            group.nodes.push(nodeId);
            groups.set(key, group);
          }
          for (const { ref, nodes } of groups.values()) {
            const options = { actor, rolloutId: record.id, tx, reason: `rollback of rollout ${record.id}: ${state.reason ?? ''}` };
            if (ref === null) await this.assignments.clearDesired(nodes, options);
            else await this.assignments.setDesired(nodes, ref.policy, ref.version, options);
          }
          if (skipped.length > 0) notes.push(`${skipped.length} node(s) not rolled back: their desired state changed after this rollout assigned them (${skipped.join(', ')})`);
          break;
        }
        case 'choose_cohort':
        case 'request_judgment':
        case 'record_event':
          // Cohort and judgment are derived from the persisted state by the orchestrator; events are written by apply.
          break;
      }
    }
    return notes;
  }

  private async updateSteps(tx: Db, record: RolloutRecord, state: RolloutState, event: RolloutEvent, extras: TransitionExtras, now: Date): Promise<void> {
    const before = record.machine;
    if (before.step >= 0 && state.step > before.step) {
      await this.repository.updateStep(tx, record.id, before.step, { state: 'passed', completedAt: now });
    }
    if (state.step < 0) return;
    const patch: Parameters<RolloutRepository['updateStep']>[3] = {
      state: STEP_STATE[state.phase],
      ...(state.phase === 'progressing' ? { startedAt: now } : {}),
      ...(state.phase === 'baking' ? { bakeUntil: new Date(state.bakeUntil ?? now.getTime()) } : {}),
      ...(isTerminal(state.phase) ? { completedAt: now } : {}),
    };
    if (event.type === 'cohort_chosen' && extras.cohort) {
      await this.repository.updateStep(tx, record.id, state.step, {
        ...patch,
        nodeIds: state.cohort ?? [],
        excluded: extras.cohort.excluded,
        ...(extras.cohort.strata ? { strata: extras.cohort.strata } : {}),
      });
      return;
    }
    if (event.type === 'judge_verdict' && extras.judgment) {
      await this.repository.updateStep(tx, record.id, before.step, { baseline: extras.judgment.baseline });
    }
    await this.repository.updateStep(tx, record.id, state.step, patch);
  }
}
