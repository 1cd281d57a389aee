/**
 * Kysely table types, mirroring migrations/*.sql. jsonb columns are read as parsed JSON and
 * written as JSON text (pg would turn a JS array into a Postgres array literal otherwise).
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type TimestampDefault = ColumnType<Date, Date | string | undefined, Date | string>;
type Json = ColumnType<unknown, string, string>;
type JsonDefault = ColumnType<unknown, string | undefined, string>;

export interface ClusterSettingsTable {
  key: string;
  value: string;
  created_at: TimestampDefault;
}

export interface ReplicasTable {
  id: string;
  http_url: string;
  grpc_address: string;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
  leader_since: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  stopped_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface PoliciesTable {
  name: string;
  description: Generated<string>;
  latest_version: Generated<number>;
  created_at: TimestampDefault;
  created_by: string;
  updated_at: TimestampDefault;
}

export interface PolicyVersionsTable {
  policy: string;
  version: number;
  spec_hash: string;
  canonical: string;
  source: string;
  source_format: 'yaml' | 'json';
  message: Generated<string>;
  author: string;
  created_at: TimestampDefault;
}

export interface NodesTable {
  id: string;
  labels: JsonDefault;
  kernel_release: Generated<string>;
  agent_version: Generated<string>;
  capabilities: JsonDefault;
  first_seen: TimestampDefault;
  last_seen: TimestampDefault;
  connected_replica: string | null;
  session_id: string | null;
  connected_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  stale: Generated<boolean>;
  stale_since: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export type StatusKind = 'intent' | 'acked' | 'observed';

export interface NodeStatusTable {
  node_id: string;
  kind: StatusKind;
  policy: string | null;
  version: number | null;
  spec_hash: string | null;
  nonce: string | null;
  rollout_id: string | null;
  map_content_hash: string | null;
  sysfs: ColumnType<unknown, string | null | undefined, string | null>;
  enforcement: string | null;
  program_ids: ColumnType<unknown, string | null | undefined, string | null>;
  updated_at: Timestamp;
}

export interface NodeQuarantineTable {
  node_id: string;
  policy: string;
  version: number;
  spec_hash: string;
  nonce: string;
  stage: string;
  message: string;
  detail: string;
  nacked_at: Timestamp;
}

export interface RolloutsTable {
  id: string;
  policy: string;
  from_version: number | null;
  to_version: number;
  state: string;
  current_step: Generated<number>;
  plan: Json;
  revision: Generated<number>;
  reason: Generated<string>;
  created_by: string;
  created_at: TimestampDefault;
  updated_at: TimestampDefault;
}

export interface RolloutStepsTable {
  rollout_id: string;
  step_index: number;
  selector: Json;
  bake_ms: number;
  gates: JsonDefault;
  state: Generated<string>;
  node_ids: JsonDefault;
  excluded: JsonDefault;
  started_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  bake_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  completed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface RolloutEventsTable {
  id: Generated<number>;
  rollout_id: string;
  at: TimestampDefault;
  from_state: string | null;
  to_state: string;
  step_index: number | null;
  actor: string;
  reason: Generated<string>;
  data: JsonDefault;
}

export interface AssignmentsTable {
  node_id: string;
  policy: string | null;
  version: number | null;
  rollout_id: string | null;
  revision: Generated<number>;
  updated_at: TimestampDefault;
  updated_by: string;
}

export interface JudgmentsTable {
  id: Generated<number>;
  rollout_id: string;
  step_index: number;
  metric: string;
  method: string;
  verdict: 'pass' | 'fail' | 'inconclusive' | 'no-data';
  statistic: number | null;
  effect: number | null;
  ci_low: number | null;
  ci_high: number | null;
  threshold: number | null;
  n_canary: Generated<number>;
  n_baseline: Generated<number>;
  details: JsonDefault;
  judged_at: TimestampDefault;
}

export interface MetricSamplesTable {
  node_id: string;
  ts: Timestamp;
  name: string;
  cgroup: Generated<string>;
  kind: number;
  value: number;
}

export type Role = 'viewer' | 'operator' | 'admin';

export interface ApiTokensTable {
  id: string;
  name: string;
  role: Role;
  token_hash: string;
  prefix: string;
  created_at: TimestampDefault;
  created_by: string;
  expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  revoked_by: string | null;
  last_used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface AuditLogTable {
  seq: number;
  at: Timestamp;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  before: ColumnType<unknown, string | null, never>;
  after: ColumnType<unknown, string | null, never>;
  prev_hash: string;
  hash: string;
}

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: TimestampDefault;
}

export interface Database {
  cluster_settings: ClusterSettingsTable;
  replicas: ReplicasTable;
  policies: PoliciesTable;
  policy_versions: PolicyVersionsTable;
  nodes: NodesTable;
  node_status: NodeStatusTable;
  node_quarantine: NodeQuarantineTable;
  rollouts: RolloutsTable;
  rollout_steps: RolloutStepsTable;
  rollout_events: RolloutEventsTable;
  assignments: AssignmentsTable;
  judgments: JudgmentsTable;
  metric_samples: MetricSamplesTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  schema_migrations: SchemaMigrationsTable;
}
