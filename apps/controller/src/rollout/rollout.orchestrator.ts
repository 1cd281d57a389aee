/**
 * The rollout orchestrator: a leader-only task (LeadershipService) that moves every active
 * rollout on. Each round it reads the fleet once, then for each rollout asks `nextWork` what is
 * due, computes what that needs (a cohort, an admission within the blast-radius budget, a
 * judgment from metric samples) and applies the resulting event through RolloutService.apply,
 * one committed transition at a time. Nothing is kept in memory between rounds: a new leader,
 * or this one after a restart, derives the same next step from the database.
 */
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { LOGGER, STORE, CLOCK, type Clock } from '../common/tokens.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/database.js';
import { LeadershipService, type LeaderTask } from '../cluster/leadership.service.js';
import { PolicyCatalog } from '../policy/policy-catalog.js';
import { incompatibility } from '../node/node-state.js';
import { admit, chooseBaseline, chooseCohort, resolveBudget, type Admission, type BudgetView, type CohortChoice, type FleetNode } from './cohort.js';
import { nextWork, type NodeView, type WorldView } from './rollout.decide.js';
import { samePolicyRef, type PolicyRef } from './policy-ref.js';
import { judgeStep, type JudgmentResult } from './rollout.judgment.js';
import { isTerminal, type RolloutEvent } from './rollout.machine.js';
import { gateMetric, stepIsGated } from './rollout.plan.js';
import { RolloutRepository, type FleetRow, type RolloutRecord } from './rollout.repository.js';
import { ORCHESTRATOR_ACTOR, RolloutService, type TransitionExtras } from './rollout.service.js';
import { ROLLOUT_CONFIG } from './rollout.tokens.js';
import type { RolloutConfig } from './rollout.config.js';
import type { SampleRow } from './rollout.samples.js';

/** Transitions of one rollout per round at most (a round must end so others get their turn). */
const MAX_TRANSITIONS_PER_ROUND = 64;

@Injectable()
export class RolloutOrchestrator implements LeaderTask, OnModuleInit {
  readonly name = 'rollout-orchestrator';
  readonly intervalMs: number;
  private readonly log: Logger;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ROLLOUT_CONFIG) private readonly config: RolloutConfig,
    @Inject(RolloutRepository) private readonly repository: RolloutRepository,
    @Inject(RolloutService) private readonly rollouts: RolloutService,
    @Inject(PolicyCatalog) private readonly catalog: PolicyCatalog,
    @Inject(LeadershipService) private readonly leadership: LeadershipService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.intervalMs = config.intervalMs;
    this.log = logger.child('rollout-orchestrator');
  }

  onModuleInit(): void {
    this.leadership.register(this);
  }

  async tick(signal: AbortSignal): Promise<void> {
    const active = await this.repository.listActive(this.store.db);
    for (const record of active) {
      if (signal.aborted) return;
      try {
        await this.advance(record, signal);
      } catch (error) {
        this.log.warn('could not advance rollout', { rollout: record.id, error });
      }
    }
  }

  /** Apply every transition that is due for one rollout now. */
  async advance(start: RolloutRecord, signal: AbortSignal): Promise<void> {
    let record = start;
    for (let i = 0; i < MAX_TRANSITIONS_PER_ROUND && !signal.aborted && !isTerminal(record.phase); i++) {
      const fleet = await this.repository.fleet(this.store.db);
      const decided = await this.decide(record, fleet);
      if (decided === null) return;
      const outcome = await this.rollouts.apply(record, decided.event, ORCHESTRATOR_ACTOR, decided.extras);
      switch (outcome.outcome) {
        case 'applied':
          record = outcome.record;
          break;
        case 'stale': {
          const fresh = await this.repository.get(this.store.db, record.id);
          if (!fresh) return;
          record = fresh;
          break;
        }
        case 'noop':
          return;
        case 'rejected':
          this.log.warn('the machine rejected an orchestrator event', { rollout: record.id, event: decided.event.type, reason: outcome.reason });
          return;
      }
    }
  }

  /** The next event for a rollout, with what it needs stored alongside (null: nothing is due). */
  private async decide(record: RolloutRecord, fleetRows: readonly FleetRow[]): Promise<{ event: RolloutEvent; extras: TransitionExtras } | null> {
    const now = this.clock.now().getTime();
    const state = record.machine;
    const view = await this.worldView(record, fleetRows);
    const work = nextWork(state, view, now);
    switch (work.kind) {
      case 'idle':
        return null;
      case 'event':
        return { event: work.event, extras: {} };
      case 'choose_cohort': {
        const choice = await this.cohort(record, fleetRows, work.step);
        if (work.step === 0 && choice.nodes.length === 0 && state.touched.length === 0 && choice.alreadyOnTarget.length === 0) {
          return {
            event: { type: 'fail', reason: `no eligible node: ${choice.targeted} node(s) targeted, ${choice.excluded.length} excluded (${summarizeExclusions(choice)})` },
            extras: { cohort: choice },
          };
        }
        return { event: { type: 'cohort_chosen', step: work.step, nodes: choice.nodes }, extras: { cohort: choice } };
      }
      case 'admit': {
        const decision = await this.admission(record, fleetRows, work.remaining);
        switch (decision.kind) {
          case 'admit':
            return { event: { type: 'admit', step: work.step, nodes: decision.nodes }, extras: {} };
          case 'blocked':
            return { event: { type: 'pause', by: 'system', reason: decision.reason }, extras: {} };
          case 'wait':
          case 'done':
            return null;
        }
        return null;
      }
      case 'judge': {
        const judgment = await this.judge(record, fleetRows, work.step, work.attempt);
        return { event: { type: 'judge_verdict', step: work.step, attempt: work.attempt, verdict: judgment.verdict, summary: judgment.summary }, extras: { judgment } };
      }
    }
  }

  private async worldView(record: RolloutRecord, fleetRows: readonly FleetRow[]): Promise<WorldView> {
    const target = this.rollouts.targetOf(record);
    const state = record.machine;
    const byId = new Map(fleetRows.map((n) => [n.id, n]));
    const ids = [...new Set([...state.touched, ...(state.cohort ?? [])])];
    const nodes = new Map<string, NodeView>();
    for (const id of ids) {
      const row = byId.get(id);
      nodes.set(id, { stale: row?.stale ?? true, acked: row?.acked ?? null });
    }
    const db = this.store.db;
    const rolloutNodes = state.touched.length > 0 ? await this.repository.nodes(db, record.id) : [];
    const previous = new Map<string, PolicyRef | null>(rolloutNodes.map((n) => [n.nodeId, n.previous]));
    const nackedTarget = await this.repository.quarantined(db, state.touched, target);
    const nackedPrevious = new Map<string, string>();
    if (state.phase === 'rolling_back') {
      // Only NACKs of the previous version since the rollback began count against it.
      const since = new Date(state.since);
      for (const group of groupByPrevious(state.touched, previous)) {
        for (const [node, message] of await this.repository.quarantined(db, group.nodes, group.ref, since)) nackedPrevious.set(node, message);
      }
    }
    return { target, nodes, nackedTarget, previous, nackedPrevious, ackTimeoutMs: this.config.ackTimeoutMs };
  }

  /** The fleet as cohort choice sees it: a rollback only moves nodes that run the policy. */
  private async fleetNodes(record: RolloutRecord, fleetRows: readonly FleetRow[]): Promise<FleetNode[]> {
    const entry = await this.catalog.get(record.policy, record.toVersion);
    const touched = new Set(record.machine.touched);
    const rows = record.kind === 'rollback' ? fleetRows.filter((n) => n.desired?.policy === record.policy || touched.has(n.id)) : fleetRows;
    return rows.map((n) => ({
      id: n.id,
      labels: n.labels,
      stale: n.stale,
      incompatibility: incompatibility(n.capabilities, entry?.parsed),
      acked: n.acked,
      desired: n.desired,
    }));
  }

  private async cohort(record: RolloutRecord, fleetRows: readonly FleetRow[], step: number): Promise<CohortChoice> {
    const fleet = await this.fleetNodes(record, fleetRows);
    const target = this.rollouts.targetOf(record);
    const nacked = await this.repository.quarantined(
      this.store.db,
      fleet.map((n) => n.id),
      target,
    );
    return chooseCohort({
      rolloutId: record.id,
      plan: this.rollouts.planOf(record),
      step,
      fleet,
      target,
      touched: record.machine.touched,
      nacked: [...nacked.keys()],
    });
  }

  private async admission(record: RolloutRecord, fleetRows: readonly FleetRow[], remaining: readonly string[]): Promise<Admission> {
    const settled = new Set(fleetRows.filter((n) => samePolicyRef(n.acked, n.desired)).map((n) => n.id));
    const view = (r: RolloutRecord): BudgetView => ({
      rolloutId: r.id,
      phase: r.machine.phase,
      currentStepGated: r.machine.step >= 0 && stepIsGated(this.rollouts.planOf(r), r.machine.step),
      admitted: r.machine.admitted,
      touched: r.machine.touched,
      settled,
    });
    const others = (await this.repository.listActive(this.store.db)).filter((r) => r.id !== record.id).map(view);
    const budget = await this.rollouts.budget();
    return admit(resolveBudget(budget.spec, fleetRows.length), view(record), others, remaining);
  }

  private async judge(record: RolloutRecord, fleetRows: readonly FleetRow[], step: number, attempt: number): Promise<JudgmentResult> {
    const db = this.store.db;
    const plan = this.rollouts.planOf(record);
    const state = record.machine;
    const target = this.rollouts.targetOf(record);
    const byId = new Map(fleetRows.map((n) => [n.id, n]));
    const canary = state.touched.filter((id) => !state.nacked.includes(id) && byId.get(id)?.stale === false && samePolicyRef(byId.get(id)?.acked ?? null, target));
    const rolloutNodes = await this.repository.nodes(db, record.id);
    const previous = mostCommon(rolloutNodes.filter((n) => canary.includes(n.nodeId)).map((n) => n.previous));
    const fleet = await this.fleetNodes(record, fleetRows);
    const baseline = chooseBaseline({ rolloutId: record.id, plan, fleet, canary, touched: state.touched, previous });
    const now = this.clock.now();
    const stepStart = (await this.repository.lastEventAt(db, record.id, 'step_acked', step)) ?? new Date(state.judging?.startedAt ?? now.getTime());
    const firstAssigned = rolloutNodes.reduce<Date | null>((min, n) => (min === null || n.assignedAt < min ? n.assignedAt : min), null) ?? stepStart;
    const preWindow = { from: new Date(firstAssigned.getTime() - plan.judging.lookbackMs), to: firstAssigned };
    const window = { from: stepStart, to: now };
    const gates = plan.steps[step]?.gates ?? [];
    const nodes = [...canary, ...baseline.nodes];
    const rows = new Map<string, { window: SampleRow[]; pre: SampleRow[] }>();
    for (const gate of gates) {
      const { metric } = gateMetric(gate.name);
      if (rows.has(metric)) continue;
      const [inWindow, pre] = await Promise.all([this.repository.samples(db, nodes, metric, window.from, window.to), this.repository.samples(db, nodes, metric, preWindow.from, preWindow.to)]);
      rows.set(metric, { window: inWindow, pre });
    }
    return judgeStep({ step, attempt, gates, settings: plan.judging, canary, baseline, window, preWindow, rows });
  }
}

function summarizeExclusions(choice: CohortChoice): string {
  const counts = new Map<string, number>();
  for (const e of choice.excluded) for (const r of e.reasons) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
  return [...counts].map(([code, n]) => `${n} ${code}`).join(', ') || 'none';
}

/** Touched nodes grouped by the version they go back to (nodes going back to nothing cannot NACK it). */
function groupByPrevious(nodes: readonly string[], previous: ReadonlyMap<string, PolicyRef | null>): { ref: PolicyRef; nodes: string[] }[] {
  const out = new Map<string, { ref: PolicyRef; nodes: string[] }>();
  for (const id of nodes) {
    const ref = previous.get(id) ?? null;
    if (ref === null) continue;
    const key = `${ref.policy}@${ref.version}`;
    const group = out.get(key) ?? { ref, nodes: [] };
    group.nodes.push(id);
    out.set(key, group);
  }
  return [...out.values()];
}

/** The most common value (by policy and version), null when the list is empty or all null. */
function mostCommon(refs: readonly (PolicyRef | null)[]): PolicyRef | null {
  const counts = new Map<string, { ref: PolicyRef | null; n: number }>();
  for (const ref of refs) {
    const key = ref === null ? 'none' : `${ref.policy}@${ref.version}`;
    const entry = counts.get(key) ?? { ref, n: 0 };
    entry.n += 1;
    counts.set(key, entry);
  }
  let best: { ref: PolicyRef | null; n: number } | undefined;
  for (const entry of counts.values()) if (best === undefined || entry.n > best.n) best = entry;
  return best?.ref ?? null;
}
