-- 0001_initial: the controller's store (DESIGN.md section 7, issue 5).
-- Forward-only: never edit this file once applied; add 0002_... instead. The runner applies
-- each file in one transaction and records its sha256 in schema_migrations.

-- Cluster-wide settings shared by every replica (e.g. the generated node-token secret).
CREATE TABLE cluster_settings (
  key text PRIMARY KEY,
  value text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Every controller replica that has run against this database.
CREATE TABLE replicas (
  id text PRIMARY KEY,
  http_url text NOT NULL,
  grpc_address text NOT NULL,
  started_at timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  leader_since timestamptz,
  stopped_at timestamptz
);

-- Raised by the append-only triggers; SQLSTATE THP01 maps to the API error "immutable".
CREATE FUNCTION thp_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP USING ERRCODE = 'THP01';
END
$$;

CREATE TABLE policies (
  name text PRIMARY KEY CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
  description text NOT NULL DEFAULT '',
  latest_version integer NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Immutable: a version, once written, is never changed or removed (the triggers below).
CREATE TABLE policy_versions (
  policy text NOT NULL REFERENCES policies (name),
  version integer NOT NULL CHECK (version >= 1),
  spec_hash text NOT NULL CHECK (spec_hash ~ '^[0-9a-f]{64}$'),
  canonical text NOT NULL,
  source text NOT NULL,
  source_format text NOT NULL CHECK (source_format IN ('yaml', 'json')),
  message text NOT NULL DEFAULT '',
  author text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (policy, version)
);
CREATE TRIGGER policy_versions_immutable BEFORE UPDATE OR DELETE ON policy_versions
  FOR EACH ROW EXECUTE FUNCTION thp_reject_change();
CREATE TRIGGER policy_versions_no_truncate BEFORE TRUNCATE ON policy_versions
  FOR EACH STATEMENT EXECUTE FUNCTION thp_reject_change();

CREATE TABLE nodes (
  id text PRIMARY KEY,
  labels jsonb NOT NULL DEFAULT '{}',
  kernel_release text NOT NULL DEFAULT '',
  agent_version text NOT NULL DEFAULT '',
  capabilities jsonb NOT NULL DEFAULT '{}',
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  -- The replica holding this node's stream, and which stream (null when none is open).
  connected_replica text,
  session_id text,
  connected_at timestamptz,
  stale boolean NOT NULL DEFAULT false,
  stale_since timestamptz
);
CREATE INDEX nodes_labels ON nodes USING gin (labels);
CREATE INDEX nodes_fresh_last_seen ON nodes (last_seen) WHERE NOT stale;
CREATE INDEX nodes_connected_replica ON nodes (connected_replica) WHERE connected_replica IS NOT NULL;

-- Three separate records per node: what the controller sent (intent), what the node
-- acknowledged (acked) and what the node reports it runs (observed). policy NULL = none.
CREATE TABLE node_status (
  node_id text NOT NULL REFERENCES nodes (id),
  kind text NOT NULL CHECK (kind IN ('intent', 'acked', 'observed')),
  policy text,
  version integer,
  spec_hash text,
  nonce text,
  rollout_id text,
  map_content_hash text,
  sysfs jsonb,
  enforcement text,
  program_ids jsonb,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (node_id, kind),
  CHECK ((policy IS NULL) = (version IS NULL))
);

-- NACK quarantine: a (node, policy, version) the node rejected is never sent to it again.
CREATE TABLE node_quarantine (
  node_id text NOT NULL REFERENCES nodes (id),
  policy text NOT NULL,
  version integer NOT NULL,
  spec_hash text NOT NULL,
  nonce text NOT NULL,
  stage text NOT NULL,
  message text NOT NULL,
  detail text NOT NULL,
  nacked_at timestamptz NOT NULL,
  PRIMARY KEY (node_id, policy, version),
  FOREIGN KEY (policy, version) REFERENCES policy_versions (policy, version)
);

CREATE TABLE rollouts (
  id text PRIMARY KEY,
  policy text NOT NULL REFERENCES policies (name),
  from_version integer,
  to_version integer NOT NULL,
  state text NOT NULL,
  current_step integer NOT NULL DEFAULT 0,
  plan jsonb NOT NULL,
  -- Optimistic concurrency: every transition is UPDATE ... WHERE revision = expected.
  revision integer NOT NULL DEFAULT 1,
  reason text NOT NULL DEFAULT '',
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (policy, to_version) REFERENCES policy_versions (policy, version)
);
-- One active rollout per policy (issue 7).
CREATE UNIQUE INDEX rollouts_one_active_per_policy ON rollouts (policy)
  WHERE state IN ('pending', 'progressing', 'baking', 'judging', 'paused', 'rolling_back');

CREATE TABLE rollout_steps (
  rollout_id text NOT NULL REFERENCES rollouts (id),
  step_index integer NOT NULL CHECK (step_index >= 0),
  selector jsonb NOT NULL,
  bake_ms bigint NOT NULL CHECK (bake_ms >= 0),
  gates jsonb NOT NULL DEFAULT '[]',
  state text NOT NULL DEFAULT 'pending',
  node_ids jsonb NOT NULL DEFAULT '[]',
  excluded jsonb NOT NULL DEFAULT '[]',
  started_at timestamptz,
  bake_until timestamptz,
  completed_at timestamptz,
  PRIMARY KEY (rollout_id, step_index)
);

CREATE TABLE rollout_events (
  id bigserial PRIMARY KEY,
  rollout_id text NOT NULL REFERENCES rollouts (id),
  at timestamptz NOT NULL DEFAULT now(),
  from_state text,
  to_state text NOT NULL,
  step_index integer,
  actor text NOT NULL,
  reason text NOT NULL DEFAULT '',
  data jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX rollout_events_rollout ON rollout_events (rollout_id, id);

-- Desired state: at most one policy version per node. policy NULL = desired none (Revoke).
-- The row stays when cleared so `revision` never restarts (no ABA for If-Match writers).
CREATE TABLE assignments (
  node_id text PRIMARY KEY REFERENCES nodes (id),
  policy text,
  version integer,
  rollout_id text REFERENCES rollouts (id),
  revision integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL,
  FOREIGN KEY (policy, version) REFERENCES policy_versions (policy, version),
  CHECK ((policy IS NULL) = (version IS NULL))
);
CREATE INDEX assignments_policy_version ON assignments (policy, version) WHERE policy IS NOT NULL;
CREATE INDEX assignments_rollout ON assignments (rollout_id) WHERE rollout_id IS NOT NULL;

CREATE TABLE judgments (
  id bigserial PRIMARY KEY,
  rollout_id text NOT NULL REFERENCES rollouts (id),
  step_index integer NOT NULL,
  metric text NOT NULL,
  method text NOT NULL,
  verdict text NOT NULL CHECK (verdict IN ('pass', 'fail', 'inconclusive', 'no-data')),
  statistic double precision,
  effect double precision,
  ci_low double precision,
  ci_high double precision,
  threshold double precision,
  n_canary integer NOT NULL DEFAULT 0,
  n_baseline integer NOT NULL DEFAULT 0,
  details jsonb NOT NULL DEFAULT '{}',
  judged_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX judgments_rollout ON judgments (rollout_id, step_index, id);

-- Metric samples from agents, written in batches (one multi-row INSERT per flush) and deleted
-- by time (the leader's retention task). No foreign key: ingest must stay cheap.
-- kind: 1 = counter delta over the report interval, 2 = gauge, 3 = derived from a histogram.
CREATE TABLE metric_samples (
  node_id text NOT NULL,
  ts timestamptz NOT NULL,
  name text NOT NULL,
  cgroup text NOT NULL DEFAULT '',
  kind smallint NOT NULL CHECK (kind IN (1, 2, 3)),
  value double precision NOT NULL
);
CREATE INDEX metric_samples_node_name_ts ON metric_samples (node_id, name, ts);
CREATE INDEX metric_samples_ts ON metric_samples USING brin (ts);

-- API tokens: only the sha256 of the secret is stored.
CREATE TABLE api_tokens (
  id text PRIMARY KEY,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text NOT NULL,
  expires_at timestamptz,
  revoked_at timestamptz,
  revoked_by text,
  last_used_at timestamptz
);

-- Hash-chained audit log: hash = sha256 over the row's canonical content including prev_hash.
-- seq is gapless (appends are serialised by an advisory transaction lock). Append-only.
CREATE TABLE audit_log (
  seq bigint PRIMARY KEY CHECK (seq >= 1),
  at timestamptz NOT NULL,
  actor text NOT NULL,
  action text NOT NULL,
  target_type text NOT NULL,
  target_id text NOT NULL,
  before jsonb,
  after jsonb,
  prev_hash text NOT NULL,
  hash text NOT NULL UNIQUE
);
CREATE INDEX audit_log_target ON audit_log (target_type, target_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION thp_reject_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION thp_reject_change();
