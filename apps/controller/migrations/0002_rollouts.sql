-- 0002_rollouts: what the rollout orchestrator persists (issue 7, docs/rollouts.md).
-- Forward-only: never edit this file once applied; add 0003_... instead. The runner wraps it in
-- one transaction.

-- Rollouts: the whole machine state (rollout.machine.ts RolloutState) as one jsonb, written
-- together with the `state` / `current_step` / `revision` columns by every transition
-- (UPDATE ... WHERE revision = expected). `kind` tells a rollback from a rollout; a rollback on
-- the fast path keeps the admin's audited reason in `gate_skip_reason`.
ALTER TABLE rollouts
  ADD COLUMN kind text NOT NULL DEFAULT 'rollout' CHECK (kind IN ('rollout', 'rollback')),
  ADD COLUMN machine jsonb,
  ADD COLUMN gate_skip_reason text,
  ADD COLUMN finished_at timestamptz;

-- No code wrote rollouts before this migration; should a row exist anyway, it is closed as
-- aborted with a valid machine state, so the orchestrator never picks it up.
UPDATE rollouts SET
  state = 'aborted',
  reason = 'created before migration 0002; closed by it',
  finished_at = now(),
  machine = jsonb_build_object(
    'version', revision - 1, 'phase', 'aborted', 'step', -1, 'cohort', NULL, 'admitted', '[]'::jsonb,
    'touched', '[]'::jsonb, 'nacked', '[]'::jsonb, 'bakeUntil', NULL, 'judging', NULL, 'paused', NULL,
    'rollbackOutcome', NULL, 'reason', 'created before migration 0002; closed by it',
    'since', (extract(epoch FROM now()) * 1000)::bigint)
WHERE machine IS NULL;
ALTER TABLE rollouts ALTER COLUMN machine SET NOT NULL;

-- The columns the API filters on agree with the machine state they are copied from.
ALTER TABLE rollouts ADD CONSTRAINT rollouts_state_known CHECK (state IN (
  'pending', 'progressing', 'baking', 'judging', 'paused', 'completed', 'failed', 'rolling_back', 'rolled_back', 'aborted'));
ALTER TABLE rollouts ADD CONSTRAINT rollouts_machine_phase CHECK (machine->>'phase' = state);
ALTER TABLE rollouts ADD CONSTRAINT rollouts_revision_counts CHECK ((machine->>'version')::integer = revision - 1);
ALTER TABLE rollouts ADD CONSTRAINT rollouts_finished CHECK ((finished_at IS NOT NULL) = (state IN ('completed', 'failed', 'rolled_back', 'aborted')));
CREATE INDEX rollouts_created ON rollouts (created_at DESC, id DESC);

-- Steps: the first step's strata report and, once judged, the baseline the canary was
-- compared with (null until known).
ALTER TABLE rollout_steps
  ADD COLUMN strata jsonb,
  ADD COLUMN baseline jsonb;

-- What each node ran before a rollout first assigned it (what a rollback restores); the first
-- write wins (ON CONFLICT DO NOTHING). previous NULL = no policy.
CREATE TABLE rollout_nodes (
  rollout_id text NOT NULL REFERENCES rollouts (id),
  node_id text NOT NULL REFERENCES nodes (id),
  step_index integer NOT NULL CHECK (step_index >= 0),
  previous_policy text,
  previous_version integer,
  assigned_at timestamptz NOT NULL,
  PRIMARY KEY (rollout_id, node_id),
  FOREIGN KEY (previous_policy, previous_version) REFERENCES policy_versions (policy, version),
  CHECK ((previous_policy IS NULL) = (previous_version IS NULL))
);

-- Judgments: numbered attempts per step; a verdict is stored once per (attempt, metric).
ALTER TABLE judgments ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1);
CREATE UNIQUE INDEX judgments_once ON judgments (rollout_id, step_index, attempt, metric);

-- The kind of a rollout event (data.kind) is what the orchestrator looks up (`step_acked`).
CREATE INDEX rollout_events_kind ON rollout_events (rollout_id, (data->>'kind'), id);

-- The blast-radius budget as set over the API (PUT /api/v1/rollout-budget): one row, or none
-- (then THP_ROLLOUT_BUDGET_* apply). NULL = no cap of that kind.
CREATE TABLE rollout_budget (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  max_nodes integer CHECK (max_nodes IS NULL OR max_nodes >= 1),
  max_percent double precision CHECK (max_percent IS NULL OR (max_percent > 0 AND max_percent <= 100)),
  revision integer NOT NULL DEFAULT 1 CHECK (revision >= 1),
  updated_at timestamptz NOT NULL,
  updated_by text NOT NULL
);
