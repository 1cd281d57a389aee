/** Request schemas and response views of the rollout API. */
import { POLICY_NAME, v } from '../common/validation.js';
import { MAX_REASON_LENGTH } from './rollout.plan.js';
import type { JudgmentRecord, RolloutEventRecord, RolloutNodeRecord, RolloutRecord, StepRecord } from './rollout.repository.js';

const VERSION = v.int({ min: 1, max: 2_147_483_647 });
const REASON = v.string({ min: 1, max: MAX_REASON_LENGTH, description: 'In words, for the audit log' });

export const CREATE_ROLLOUT_BODY = v.object(
  {
    policy: POLICY_NAME,
    version: VERSION,
    plan: v.json('The rollout plan (docs/rollouts.md): steps, gates, target, strata, judging, autoRollback, skipGates'),
  },
  'Start a rollout of policy@version. One active rollout per policy.',
);

export const ROLLBACK_BODY = v.object(
  {
    version: VERSION,
    skipGates: v.optional(v.object({ reason: REASON }, 'The fast path (admins only): every node at once, nothing judged')),
    gates: v.optional(v.json('Gates for the rollback canary (the judge spec shape); without them the rollback is one step')),
    canaryBake: v.optional(v.json('Bake of the rollback canary: "5m" or milliseconds (default 5m)')),
  },
  'Roll the policy back to an earlier version: a rollout of the nodes that run the policy now.',
);

export const PAUSE_BODY = v.object({ reason: REASON });
export const ABORT_BODY = v.object({ reason: REASON });
export const PROMOTE_BODY = v.object({ skipGate: v.optional(v.object({ reason: REASON }, 'Also accept a step being judged (admins only)')) });

export const BUDGET_BODY = v.object(
  {
    maxNodes: v.nullable(v.int({ min: 1, max: 10_000_000, description: 'At most this many nodes non-stable at once; null = no absolute cap' })),
    maxPercent: v.nullable(v.json('At most this percentage of the fleet, in (0, 100] (rounded down, at least one node); null = no percentage cap')),
  },
  'The fleet-wide blast-radius budget. The tighter cap wins.',
);

export const BUDGET_SCHEMA = {
  type: 'object',
  properties: {
    budget: {
      type: 'object',
      properties: {
        maxNodes: { type: 'integer', nullable: true },
        maxPercent: { type: 'number', nullable: true },
        source: { type: 'string', enum: ['api', 'environment'] },
        revision: { type: 'integer', description: '0 while never set over the API' },
        updatedAt: { type: 'string', nullable: true },
        updatedBy: { type: 'string', nullable: true },
      },
    },
    fleetSize: { type: 'integer' },
    limitNodes: { type: 'integer', nullable: true, description: 'The budget in nodes for the fleet now; null = unlimited' },
  },
};

export const ETag = { rollout: (revision: number): string => `"rev-${revision}"` };

export function rolloutView(r: RolloutRecord): Record<string, unknown> {
  const m = r.machine;
  return {
    id: r.id,
    policy: r.policy,
    kind: r.kind,
    fromVersion: r.fromVersion,
    toVersion: r.toVersion,
    phase: r.phase,
    step: m.step,
    revision: r.revision,
    reason: m.reason,
    pausedFrom: m.paused?.from ?? null,
    bakeUntil: m.bakeUntil === null ? null : new Date(m.bakeUntil).toISOString(),
    judging: m.judging === null ? null : { attempt: m.judging.attempt, awaiting: m.judging.awaiting, deadline: new Date(m.judging.deadline).toISOString() },
    touched: m.touched,
    nacked: m.nacked,
    gateSkipReason: r.gateSkipReason,
    plan: r.plan,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
    finishedAt: r.finishedAt?.toISOString() ?? null,
  };
}

export function stepView(s: StepRecord): Record<string, unknown> {
  return {
    index: s.index,
    selector: s.selector,
    bakeMs: s.bakeMs,
    gates: s.gates,
    state: s.state,
    cohort: s.nodeIds,
    excluded: s.excluded,
    strata: s.strata,
    baseline: s.baseline,
    startedAt: s.startedAt?.toISOString() ?? null,
    bakeUntil: s.bakeUntil?.toISOString() ?? null,
    completedAt: s.completedAt?.toISOString() ?? null,
  };
}

export function nodeView(n: RolloutNodeRecord): Record<string, unknown> {
  return { nodeId: n.nodeId, step: n.step, previous: n.previous, assignedAt: n.assignedAt.toISOString() };
}

export function judgmentView(j: JudgmentRecord): Record<string, unknown> {
  return {
    id: j.id,
    step: j.step,
    attempt: j.attempt,
    metric: j.metric,
    method: j.method,
    verdict: j.verdict,
    statistic: j.statistic,
    effect: j.effect,
    interval: { low: j.ciLow, high: j.ciHigh },
    threshold: j.threshold,
    nCanary: j.nCanary,
    nBaseline: j.nBaseline,
    details: j.details,
    judgedAt: j.judgedAt.toISOString(),
  };
}

export function eventView(e: RolloutEventRecord): Record<string, unknown> {
  return { id: e.id, at: e.at.toISOString(), from: e.fromState, to: e.toState, step: e.step, actor: e.actor, message: e.message, data: e.data };
}

export const ROLLOUT_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    policy: { type: 'string' },
    kind: { type: 'string', enum: ['rollout', 'rollback'] },
    fromVersion: { type: 'integer', nullable: true },
    toVersion: { type: 'integer' },
    phase: { type: 'string', enum: ['pending', 'progressing', 'baking', 'judging', 'paused', 'completed', 'failed', 'rolling_back', 'rolled_back', 'aborted'] },
    step: { type: 'integer' },
    revision: { type: 'integer', description: 'ETag "rev-N"; send If-Match to make a command conditional' },
    reason: { type: 'string', nullable: true },
    touched: { type: 'array', items: { type: 'string' } },
    nacked: { type: 'array', items: { type: 'string' } },
    plan: { type: 'object' },
  },
};
