/**
 * All SQL of rollouts: the rollout rows with their machine state (guarded by `revision`), steps,
 * events, the nodes each rollout assigned with what they ran before, judgments, and the views of
 * the fleet the orchestrator reads (nodes, acknowledgements, NACK quarantine, metric samples).
 * Explicit, parameterised SQL; rows mapped by small typed functions.
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { Labels } from './label-selector.js';
import { ACTIVE_PHASES, type Phase, type RolloutState } from './rollout.machine.js';
import type { PolicyRef } from './policy-ref.js';
import type { SampleRow } from './rollout.samples.js';

export type RolloutKind = 'rollout' | 'rollback';

export interface RolloutRecord {
  readonly id: string;
  readonly policy: string;
  readonly fromVersion: number | null;
  readonly toVersion: number;
  readonly kind: RolloutKind;
  readonly phase: Phase;
  readonly currentStep: number;
  /** The plan as given (JSON input form, rollout.plan.ts planToJson). */
  readonly plan: unknown;
  readonly machine: RolloutState;
  /** Optimistic concurrency: machine.version + 1. */
  readonly revision: number;
  readonly reason: string;
  readonly gateSkipReason: string | null;
  readonly createdBy: string;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
}

interface RolloutRow {
  id: string;
  policy: string;
  from_version: number | null;
  to_version: number;
  kind: string;
  state: string;
  current_step: number;
  plan: unknown;
  machine: unknown;
  revision: number;
  reason: string;
  gate_skip_reason: string | null;
  created_by: string;
  created_at: Date | string;
  updated_at: Date | string;
  finished_at: Date | string | null;
}

const ROLLOUT_COLUMNS = sql.raw(
  'id, policy, from_version, to_version, kind, state, current_step, plan, machine, revision, reason, gate_skip_reason, created_by, created_at, updated_at, finished_at',
);

const date = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));
const json = (value: unknown): unknown => (typeof value === 'string' ? (JSON.parse(value) as unknown) : value);

function toRollout(row: RolloutRow): RolloutRecord {
  return {
    id: row.id,
    policy: row.policy,
    fromVersion: row.from_version,
    toVersion: row.to_version,
    kind: row.kind === 'rollback' ? 'rollback' : 'rollout',
    phase: row.state as Phase,
    currentStep: row.current_step,
    plan: json(row.plan),
    machine: json(row.machine) as RolloutState,
    revision: row.revision,
    reason: row.reason,
    gateSkipReason: row.gate_skip_reason,
    createdBy: row.created_by,
    createdAt: date(row.created_at),
    updatedAt: date(row.updated_at),
    finishedAt: row.finished_at === null ? null : date(row.finished_at),
  };
}

export interface StepRecord {
  readonly index: number;
  readonly selector: unknown;
  readonly bakeMs: number;
  readonly gates: unknown;
  readonly state: string;
  readonly nodeIds: readonly string[];
  readonly excluded: unknown;
  readonly strata: unknown;
  readonly baseline: unknown;
  readonly startedAt: Date | null;
  readonly bakeUntil: Date | null;
  readonly completedAt: Date | null;
}

export interface StepPatch {
  readonly state?: string;
  readonly nodeIds?: readonly string[];
  readonly excluded?: unknown;
  readonly strata?: unknown;
  readonly baseline?: unknown;
  readonly startedAt?: Date;
  readonly bakeUntil?: Date | null;
  readonly completedAt?: Date;
}

export interface RolloutEventRecord {
  readonly id: number;
  readonly at: Date;
  readonly fromState: string | null;
  readonly toState: string;
  readonly step: number | null;
  readonly actor: string;
  readonly message: string;
  readonly data: Record<string, unknown>;
}

export interface NewRolloutEvent {
  readonly fromState: string;
  readonly toState: string;
  readonly step: number | null;
  readonly actor: string;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface RolloutNodeRecord {
  readonly nodeId: string;
  readonly step: number;
  readonly previous: PolicyRef | null;
  readonly assignedAt: Date;
}

export interface NewJudgment {
  readonly step: number;
  readonly attempt: number;
  readonly metric: string;
  readonly method: string;
  readonly verdict: 'pass' | 'fail' | 'inconclusive' | 'no-data';
  readonly statistic: number | null;
  readonly effect: number | null;
  readonly ciLow: number | null;
  readonly ciHigh: number | null;
  readonly threshold: number | null;
  readonly nCanary: number;
  readonly nBaseline: number;
  readonly details: unknown;
}

export interface JudgmentRecord extends NewJudgment {
  readonly id: number;
  readonly judgedAt: Date;
}

/** A node as cohort choice sees it. */
export interface FleetRow {
  readonly id: string;
  readonly labels: Labels;
  readonly stale: boolean;
  readonly capabilities: Record<string, unknown>;
  readonly acked: PolicyRef | null;
  readonly desired: PolicyRef | null;
  /** The rollout that set the node's desired state (null = a direct assignment or none). */
  readonly desiredRollout: string | null;
}

/** The blast-radius budget as set over the API (null when never set: the environment's applies). */
export interface BudgetRecord {
  readonly maxNodes: number | null;
  readonly maxPercent: number | null;
  readonly revision: number;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

const ref = (policy: string | null, version: number | null): PolicyRef | null => (policy === null || version === null ? null : { policy, version });
const ACTIVE_LIST = sql.join(ACTIVE_PHASES.map((p) => sql.lit(p)));

export class RolloutRepository {
  async insert(
    tx: Db,
    rollout: { id: string; policy: string; fromVersion: number | null; toVersion: number; kind: RolloutKind; plan: unknown; machine: RolloutState; gateSkipReason: string | null; createdBy: string; at: Date },
  ): Promise<RolloutRecord> {
    const result = await sql<RolloutRow>`
      INSERT INTO rollouts (id, policy, from_version, to_version, kind, state, current_step, plan, machine, revision, reason, gate_skip_reason, created_by, created_at, updated_at)
      VALUES (${rollout.id}, ${rollout.policy}, ${rollout.fromVersion}, ${rollout.toVersion}, ${rollout.kind}, ${rollout.machine.phase}, 0,
              ${JSON.stringify(rollout.plan)}::jsonb, ${JSON.stringify(rollout.machine)}::jsonb, ${rollout.machine.version + 1}, '', ${rollout.gateSkipReason},
              ${rollout.createdBy}, ${rollout.at.toISOString()}::timestamptz, ${rollout.at.toISOString()}::timestamptz)
      RETURNING ${ROLLOUT_COLUMNS}`.execute(tx);
    return toRollout(result.rows[0]!);
  }

  async insertSteps(tx: Db, rolloutId: string, steps: readonly { selector: unknown; bakeMs: number; gates: unknown }[]): Promise<void> {
    if (steps.length === 0) return;
    await sql`
      INSERT INTO rollout_steps (rollout_id, step_index, selector, bake_ms, gates)
      SELECT ${rolloutId}, i - 1, s, b, g
      FROM unnest(${steps.map((s) => JSON.stringify(s.selector))}::jsonb[], ${steps.map((s) => s.bakeMs)}::int8[], ${steps.map((s) => JSON.stringify(s.gates))}::jsonb[])
           WITH ORDINALITY AS t(s, b, g, i)`.execute(tx);
  }

  async get(db: Db, id: string): Promise<RolloutRecord | undefined> {
    const result = await sql<RolloutRow>`SELECT ${ROLLOUT_COLUMNS} FROM rollouts WHERE id = ${id}`.execute(db);
    const row = result.rows[0];
    return row ? toRollout(row) : undefined;
  }

  async list(db: Db, filter: { policy?: string; state?: string; active?: boolean; limit: number }): Promise<RolloutRecord[]> {
    const conditions = [sql`TRUE`];
    if (filter.policy !== undefined) conditions.push(sql`policy = ${filter.policy}`);
    if (filter.state !== undefined) conditions.push(sql`state = ${filter.state}`);
    if (filter.active === true) conditions.push(sql`state IN (${ACTIVE_LIST})`);
    const result = await sql<RolloutRow>`
      SELECT ${ROLLOUT_COLUMNS} FROM rollouts WHERE ${sql.join(conditions, sql` AND `)}
      ORDER BY created_at DESC, id DESC LIMIT ${filter.limit}`.execute(db);
    return result.rows.map(toRollout);
  }

  /** Rollouts in an active phase, oldest first (the order the orchestrator serves them). */
  async listActive(db: Db): Promise<RolloutRecord[]> {
    const result = await sql<RolloutRow>`SELECT ${ROLLOUT_COLUMNS} FROM rollouts WHERE state IN (${ACTIVE_LIST}) ORDER BY created_at, id`.execute(db);
    return result.rows.map(toRollout);
  }

  async activeFor(db: Db, policy: string): Promise<RolloutRecord | undefined> {
    const result = await sql<RolloutRow>`SELECT ${ROLLOUT_COLUMNS} FROM rollouts WHERE policy = ${policy} AND state IN (${ACTIVE_LIST})`.execute(db);
    const row = result.rows[0];
    return row ? toRollout(row) : undefined;
  }

  /**
   * Write a transition: the new machine state, only if the row still has `expectedRevision`.
   * False when another writer got there first (the caller reloads and decides again).
   */
  async writeState(tx: Db, id: string, expectedRevision: number, state: RolloutState, at: Date, finished: boolean): Promise<boolean> {
    const result = await sql`
      UPDATE rollouts SET machine = ${JSON.stringify(state)}::jsonb, state = ${state.phase}, current_step = ${Math.max(0, state.step)},
             revision = ${state.version + 1}, reason = ${state.reason ?? ''}, updated_at = ${at.toISOString()}::timestamptz,
             finished_at = ${finished ? at.toISOString() : null}::timestamptz
      WHERE id = ${id} AND revision = ${expectedRevision}`.execute(tx);
    return Number(result.numAffectedRows ?? 0n) === 1;
  }

  async steps(db: Db, id: string): Promise<StepRecord[]> {
    const result = await sql<{
      step_index: number;
      selector: unknown;
      bake_ms: number | string;
      gates: unknown;
      state: string;
      node_ids: unknown;
      excluded: unknown;
      strata: unknown;
      baseline: unknown;
      started_at: Date | string | null;
      bake_until: Date | string | null;
      completed_at: Date | string | null;
    }>`SELECT step_index, selector, bake_ms, gates, state, node_ids, excluded, strata, baseline, started_at, bake_until, completed_at
       FROM rollout_steps WHERE rollout_id = ${id} ORDER BY step_index`.execute(db);
    return result.rows.map((row) => ({
      index: row.step_index,
      selector: json(row.selector),
      bakeMs: Number(row.bake_ms),
      gates: json(row.gates),
      state: row.state,
      nodeIds: json(row.node_ids) as string[],
      excluded: json(row.excluded),
      strata: json(row.strata),
      baseline: json(row.baseline),
      startedAt: row.started_at === null ? null : date(row.started_at),
      bakeUntil: row.bake_until === null ? null : date(row.bake_until),
      completedAt: row.completed_at === null ? null : date(row.completed_at),
    }));
  }

  async updateStep(tx: Db, id: string, index: number, patch: StepPatch): Promise<void> {
    const sets = [];
    if (patch.state !== undefined) sets.push(sql`state = ${patch.state}`);
    if (patch.nodeIds !== undefined) sets.push(sql`node_ids = ${JSON.stringify(patch.nodeIds)}::jsonb`);
    if (patch.excluded !== undefined) sets.push(sql`excluded = ${JSON.stringify(patch.excluded)}::jsonb`);
    if (patch.strata !== undefined) sets.push(sql`strata = ${JSON.stringify(patch.strata)}::jsonb`);
    if (patch.baseline !== undefined) sets.push(sql`baseline = ${JSON.stringify(patch.baseline)}::jsonb`);
    if (patch.startedAt !== undefined) sets.push(sql`started_at = COALESCE(started_at, ${patch.startedAt.toISOString()}::timestamptz)`);
    if (patch.bakeUntil !== undefined) sets.push(sql`bake_until = ${patch.bakeUntil === null ? null : patch.bakeUntil.toISOString()}::timestamptz`);
    if (patch.completedAt !== undefined) sets.push(sql`completed_at = ${patch.completedAt.toISOString()}::timestamptz`);
    if (sets.length === 0) return;
    await sql`UPDATE rollout_steps SET ${sql.join(sets)} WHERE rollout_id = ${id} AND step_index = ${index}`.execute(tx);
  }

  async insertEvents(tx: Db, rolloutId: string, at: Date, events: readonly NewRolloutEvent[]): Promise<void> {
    if (events.length === 0) return;
    await sql`
      INSERT INTO rollout_events (rollout_id, at, from_state, to_state, step_index, actor, reason, data)
      SELECT ${rolloutId}, ${at.toISOString()}::timestamptz, f, t, s, a, r, d
      FROM unnest(${events.map((e) => e.fromState)}::text[], ${events.map((e) => e.toState)}::text[], ${events.map((e) => e.step)}::int4[],
                  ${events.map((e) => e.actor)}::text[], ${events.map((e) => e.message)}::text[], ${events.map((e) => JSON.stringify(e.data))}::jsonb[])
           WITH ORDINALITY AS u(f, t, s, a, r, d, i)
      ORDER BY i`.execute(tx);
  }

  async events(db: Db, id: string, limit: number): Promise<RolloutEventRecord[]> {
    const result = await sql<{ id: number | string; at: Date | string; from_state: string | null; to_state: string; step_index: number | null; actor: string; reason: string; data: unknown }>`
      SELECT id, at, from_state, to_state, step_index, actor, reason, data FROM rollout_events WHERE rollout_id = ${id} ORDER BY id DESC LIMIT ${limit}`.execute(db);
    return result.rows.reverse().map((row) => ({
      id: Number(row.id),
      at: date(row.at),
      fromState: row.from_state,
      toState: row.to_state,
      step: row.step_index,
      actor: row.actor,
      message: row.reason,
      data: json(row.data) as Record<string, unknown>,
    }));
  }

  /** When a kind of event was last recorded for a step (e.g. `step_acked`: the start of its judging window). */
  async lastEventAt(db: Db, id: string, kind: string, step: number | null): Promise<Date | null> {
    const result = await sql<{ at: Date | string }>`
      SELECT at FROM rollout_events WHERE rollout_id = ${id} AND data->>'kind' = ${kind}
        AND (${step}::int4 IS NULL OR step_index = ${step}::int4)
      ORDER BY id DESC LIMIT 1`.execute(db);
    const row = result.rows[0];
    return row ? date(row.at) : null;
  }

  /** The current desired state of these nodes, locked until the transaction ends. */
  async lockAssignments(tx: Db, nodeIds: readonly string[]): Promise<Map<string, { desired: PolicyRef | null; rolloutId: string | null }>> {
    if (nodeIds.length === 0) return new Map();
    const result = await sql<{ node_id: string; policy: string | null; version: number | null; rollout_id: string | null }>`
      SELECT node_id, policy, version, rollout_id FROM assignments WHERE node_id = ANY(${[...nodeIds]}::text[]) ORDER BY node_id FOR UPDATE`.execute(tx);
    return new Map(result.rows.map((row) => [row.node_id, { desired: ref(row.policy, row.version), rolloutId: row.rollout_id }]));
  }

  /** Remember what each node ran before the rollout assigned it; the first write wins. */
  async insertNodes(tx: Db, rolloutId: string, step: number, nodes: readonly { nodeId: string; previous: PolicyRef | null }[], at: Date): Promise<void> {
    if (nodes.length === 0) return;
    await sql`
      INSERT INTO rollout_nodes (rollout_id, node_id, step_index, previous_policy, previous_version, assigned_at)
      SELECT ${rolloutId}, n, ${step}, p, v, ${at.toISOString()}::timestamptz
      FROM unnest(${nodes.map((n) => n.nodeId)}::text[], ${nodes.map((n) => n.previous?.policy ?? null)}::text[], ${nodes.map((n) => n.previous?.version ?? null)}::int4[]) AS t(n, p, v)
      ON CONFLICT (rollout_id, node_id) DO NOTHING`.execute(tx);
  }

  async nodes(db: Db, rolloutId: string): Promise<RolloutNodeRecord[]> {
    const result = await sql<{ node_id: string; step_index: number; previous_policy: string | null; previous_version: number | null; assigned_at: Date | string }>`
      SELECT node_id, step_index, previous_policy, previous_version, assigned_at FROM rollout_nodes WHERE rollout_id = ${rolloutId} ORDER BY assigned_at, node_id`.execute(db);
    return result.rows.map((row) => ({ nodeId: row.node_id, step: row.step_index, previous: ref(row.previous_policy, row.previous_version), assignedAt: date(row.assigned_at) }));
  }

  async insertJudgments(tx: Db, rolloutId: string, at: Date, rows: readonly NewJudgment[]): Promise<void> {
    if (rows.length === 0) return;
    await sql`
      INSERT INTO judgments (rollout_id, step_index, attempt, metric, method, verdict, statistic, effect, ci_low, ci_high, threshold, n_canary, n_baseline, details, judged_at)
      SELECT ${rolloutId}, s, a, m, me, v, st, ef, lo, hi, th, nc, nb, d, ${at.toISOString()}::timestamptz
      FROM unnest(${rows.map((r) => r.step)}::int4[], ${rows.map((r) => r.attempt)}::int4[], ${rows.map((r) => r.metric)}::text[], ${rows.map((r) => r.method)}::text[],
                  ${rows.map((r) => r.verdict)}::text[], ${rows.map((r) => r.statistic)}::float8[], ${rows.map((r) => r.effect)}::float8[], ${rows.map((r) => r.ciLow)}::float8[],
                  ${rows.map((r) => r.ciHigh)}::float8[], ${rows.map((r) => r.threshold)}::float8[], ${rows.map((r) => r.nCanary)}::int4[], ${rows.map((r) => r.nBaseline)}::int4[],
                  ${rows.map((r) => JSON.stringify(r.details))}::jsonb[])
           AS t(s, a, m, me, v, st, ef, lo, hi, th, nc, nb, d)`.execute(tx);
  }

  async judgments(db: Db, rolloutId: string): Promise<JudgmentRecord[]> {
    const result = await sql<{
      id: number | string;
      step_index: number;
      attempt: number;
      metric: string;
      method: string;
      verdict: 'pass' | 'fail' | 'inconclusive' | 'no-data';
      statistic: number | null;
      effect: number | null;
      ci_low: number | null;
      ci_high: number | null;
      threshold: number | null;
      n_canary: number;
      n_baseline: number;
      details: unknown;
      judged_at: Date | string;
    }>`SELECT id, step_index, attempt, metric, method, verdict, statistic, effect, ci_low, ci_high, threshold, n_canary, n_baseline, details, judged_at
       FROM judgments WHERE rollout_id = ${rolloutId} ORDER BY step_index, attempt, id`.execute(db);
    return result.rows.map((row) => ({
      id: Number(row.id),
      step: row.step_index,
      attempt: row.attempt,
      metric: row.metric,
      method: row.method,
      verdict: row.verdict,
      statistic: row.statistic,
      effect: row.effect,
      ciLow: row.ci_low,
      ciHigh: row.ci_high,
      threshold: row.threshold,
      nCanary: row.n_canary,
      nBaseline: row.n_baseline,
      details: json(row.details),
      judgedAt: date(row.judged_at),
    }));
  }

  // -------------------------------------------------------------------------------------------
  // The fleet as the orchestrator sees it.
  // -------------------------------------------------------------------------------------------

  /** Every known node with its labels, staleness, capabilities, acknowledged and desired state. */
  async fleet(db: Db): Promise<FleetRow[]> {
    const result = await sql<{
      id: string;
      labels: unknown;
      stale: boolean;
      capabilities: unknown;
      acked_policy: string | null;
      acked_version: number | null;
      desired_policy: string | null;
      desired_version: number | null;
      desired_rollout: string | null;
    }>`
      SELECT n.id, n.labels, n.stale, n.capabilities, s.policy AS acked_policy, s.version AS acked_version,
             a.policy AS desired_policy, a.version AS desired_version, a.rollout_id AS desired_rollout
      FROM nodes n
      LEFT JOIN node_status s ON s.node_id = n.id AND s.kind = 'acked'
      LEFT JOIN assignments a ON a.node_id = n.id
      ORDER BY n.id`.execute(db);
    return result.rows.map((row) => ({
      id: row.id,
      labels: json(row.labels) as Labels,
      stale: row.stale,
      capabilities: json(row.capabilities) as Record<string, unknown>,
      acked: ref(row.acked_policy, row.acked_version),
      desired: ref(row.desired_policy, row.desired_version),
      desiredRollout: row.desired_rollout,
    }));
  }

  /** NACK quarantine of these nodes for one policy version: node -> message. */
  async quarantined(db: Db, nodeIds: readonly string[], target: PolicyRef, since?: Date): Promise<Map<string, string>> {
    if (nodeIds.length === 0) return new Map();
    const result = await sql<{ node_id: string; stage: string; message: string }>`
      SELECT node_id, stage, message FROM node_quarantine
      WHERE node_id = ANY(${[...nodeIds]}::text[]) AND policy = ${target.policy} AND version = ${target.version}
        AND (${since === undefined ? null : since.toISOString()}::timestamptz IS NULL OR nacked_at >= ${since === undefined ? null : since.toISOString()}::timestamptz)`.execute(db);
    return new Map(result.rows.map((row) => [row.node_id, `${row.stage}: ${row.message}`]));
  }

  /** Samples of one metric from these nodes in [from, to]. */
  async samples(db: Db, nodeIds: readonly string[], metric: string, from: Date, to: Date): Promise<SampleRow[]> {
    if (nodeIds.length === 0) return [];
    const result = await sql<{ node_id: string; ts: Date | string; cgroup: string; value: number }>`
      SELECT node_id, ts, cgroup, value FROM metric_samples
      WHERE node_id = ANY(${[...nodeIds]}::text[]) AND name = ${metric} AND ts >= ${from.toISOString()}::timestamptz AND ts <= ${to.toISOString()}::timestamptz
      ORDER BY node_id, ts`.execute(db);
    return result.rows.map((row) => ({ nodeId: row.node_id, ts: date(row.ts).getTime(), cgroup: row.cgroup, value: Number(row.value) }));
  }

  // -------------------------------------------------------------------------------------------
  // The blast-radius budget (one row, or none).
  // -------------------------------------------------------------------------------------------

  async budget(db: Db): Promise<BudgetRecord | null> {
    const result = await sql<{ max_nodes: number | null; max_percent: number | null; revision: number; updated_at: Date | string; updated_by: string }>`
      SELECT max_nodes, max_percent, revision, updated_at, updated_by FROM rollout_budget WHERE id`.execute(db);
    const row = result.rows[0];
    return row ? { maxNodes: row.max_nodes, maxPercent: row.max_percent === null ? null : Number(row.max_percent), revision: row.revision, updatedAt: date(row.updated_at), updatedBy: row.updated_by } : null;
  }

  /**
   * Set the budget. With `expectedRevision` (0 = not set yet) only if the row is still at that
   * revision; returns null when it is not.
   */
  async setBudget(tx: Db, input: { maxNodes: number | null; maxPercent: number | null; expectedRevision: number | undefined; at: Date; by: string }): Promise<BudgetRecord | null> {
    const at = input.at.toISOString();
    let written: bigint | undefined;
    if (input.expectedRevision === undefined) {
      written = (
        await sql`
          INSERT INTO rollout_budget (id, max_nodes, max_percent, revision, updated_at, updated_by)
          VALUES (true, ${input.maxNodes}, ${input.maxPercent}, 1, ${at}::timestamptz, ${input.by})
          ON CONFLICT (id) DO UPDATE SET max_nodes = EXCLUDED.max_nodes, max_percent = EXCLUDED.max_percent,
            revision = rollout_budget.revision + 1, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by`.execute(tx)
      ).numAffectedRows;
    } else if (input.expectedRevision === 0) {
      written = (
        await sql`
          INSERT INTO rollout_budget (id, max_nodes, max_percent, revision, updated_at, updated_by)
          VALUES (true, ${input.maxNodes}, ${input.maxPercent}, 1, ${at}::timestamptz, ${input.by})
          ON CONFLICT (id) DO NOTHING`.execute(tx)
      ).numAffectedRows;
    } else {
      written = (
        await sql`
          UPDATE rollout_budget SET max_nodes = ${input.maxNodes}, max_percent = ${input.maxPercent}, revision = revision + 1,
                 updated_at = ${at}::timestamptz, updated_by = ${input.by}
          WHERE id AND revision = ${input.expectedRevision}`.execute(tx)
      ).numAffectedRows;
    }
    return Number(written ?? 0n) === 1 ? this.budget(tx) : null;
  }

  /** How many nodes the controller knows (the fleet a percentage budget is taken of). */
  async fleetSize(db: Db): Promise<number> {
    const result = await sql<{ n: number | string }>`SELECT count(*) AS n FROM nodes`.execute(db);
    return Number(result.rows[0]?.n ?? 0);
  }
}
