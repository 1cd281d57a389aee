import { sql } from 'kysely';
import type { Db } from '../store/database.js';

/** Channel on which desired-state changes reach every replica. */
export const DESIRED_CHANNEL = 'thp_desired';
/** Node ids per notification before it becomes "recompute every connected node". */
const MAX_IDS_PER_NOTIFY_BYTES = 7_500;

export interface AssignmentRecord {
  readonly nodeId: string;
  readonly policy: string | null;
  readonly version: number | null;
  readonly rolloutId: string | null;
  readonly revision: number;
  readonly updatedAt: Date;
  readonly updatedBy: string;
}

/** What the agent stream needs per node to compute its snapshot. */
export interface DesiredRow {
  readonly nodeId: string;
  readonly policy: string | null;
  readonly version: number | null;
  readonly rolloutId: string | null;
  readonly specHash: string | null;
  readonly quarantined: boolean;
}

const COLUMNS = ['node_id', 'policy', 'version', 'rollout_id', 'revision', 'updated_at', 'updated_by'] as const;

interface Row {
  node_id: string;
  policy: string | null;
  version: number | null;
  rollout_id: string | null;
  revision: number;
  updated_at: Date;
  updated_by: string;
}

const toRecord = (row: Row): AssignmentRecord => ({
  nodeId: row.node_id,
  policy: row.policy,
  version: row.version,
  rolloutId: row.rollout_id,
  revision: row.revision,
  updatedAt: row.updated_at,
  updatedBy: row.updated_by,
});

/** The payload(s) announcing that these nodes' desired state changed. */
export function desiredPayload(nodeIds: readonly string[]): string {
  const text = JSON.stringify({ nodes: nodeIds });
  return text.length <= MAX_IDS_PER_NOTIFY_BYTES ? text : JSON.stringify({ all: true });
}

export class AssignmentRepository {
  /** Current assignments of these nodes, locked until the transaction ends. */
  async lock(tx: Db, nodeIds: readonly string[]): Promise<AssignmentRecord[]> {
    if (nodeIds.length === 0) return [];
    const rows = await tx
      .selectFrom('assignments')
      .select(COLUMNS)
      .where(sql<boolean>`node_id = ANY(${[...nodeIds]}::text[])`)
      .orderBy('node_id')
      .forUpdate()
      .execute();
    return rows.map(toRecord);
  }

  async forNodes(db: Db, nodeIds: readonly string[]): Promise<AssignmentRecord[]> {
    if (nodeIds.length === 0) return [];
    const rows = await db
      .selectFrom('assignments')
      .select(COLUMNS)
      .where(sql<boolean>`node_id = ANY(${[...nodeIds]}::text[])`)
      .orderBy('node_id')
      .execute();
    return rows.map(toRecord);
  }

  async byRollout(db: Db, rolloutId: string): Promise<AssignmentRecord[]> {
    const rows = await db.selectFrom('assignments').select(COLUMNS).where('rollout_id', '=', rolloutId).orderBy('node_id').execute();
    return rows.map(toRecord);
  }

  /**
   * Set the desired state of these nodes (policy null = none). Rows whose policy, version and
   * rollout are already as asked are left alone; returns the rows that changed.
   */
  async upsert(tx: Db, nodeIds: readonly string[], target: { policy: string; version: number } | null, rolloutId: string | null, actor: string, at: Date): Promise<AssignmentRecord[]> {
    if (nodeIds.length === 0) return [];
    const result = await sql<Row>`
      INSERT INTO assignments (node_id, policy, version, rollout_id, revision, updated_at, updated_by)
      SELECT id, ${target?.policy ?? null}::text, ${target?.version ?? null}::int4, ${rolloutId}::text, 1, ${at.toISOString()}::timestamptz, ${actor}::text
      FROM unnest(${[...nodeIds]}::text[]) AS t(id)
      ON CONFLICT (node_id) DO UPDATE SET
        policy = EXCLUDED.policy, version = EXCLUDED.version, rollout_id = EXCLUDED.rollout_id,
        revision = assignments.revision + 1, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
      WHERE (assignments.policy, assignments.version, assignments.rollout_id)
            IS DISTINCT FROM (EXCLUDED.policy, EXCLUDED.version, EXCLUDED.rollout_id)
      RETURNING node_id, policy, version, rollout_id, revision, updated_at, updated_by`.execute(tx);
    return result.rows.map(toRecord);
  }

  /** Announce, on commit, that these nodes' desired state changed. */
  async notifyDesired(tx: Db, nodeIds: readonly string[]): Promise<void> {
    if (nodeIds.length === 0) return;
    await sql`SELECT pg_notify(${DESIRED_CHANNEL}, ${desiredPayload(nodeIds)})`.execute(tx);
  }

  /** Desired state plus hash and quarantine flag, for the agent stream's snapshots. */
  async desiredFor(db: Db, nodeIds: readonly string[]): Promise<DesiredRow[]> {
    if (nodeIds.length === 0) return [];
    const result = await sql<{ node_id: string; policy: string | null; version: number | null; rollout_id: string | null; spec_hash: string | null; quarantined: boolean }>`
      SELECT a.node_id, a.policy, a.version, a.rollout_id, v.spec_hash,
             (a.policy IS NOT NULL AND EXISTS (
               SELECT 1 FROM node_quarantine q WHERE q.node_id = a.node_id AND q.policy = a.policy AND q.version = a.version
             )) AS quarantined
      FROM assignments a
      LEFT JOIN policy_versions v ON v.policy = a.policy AND v.version = a.version
      WHERE a.node_id = ANY(${[...nodeIds]}::text[])`.execute(db);
    return result.rows.map((row) => ({ nodeId: row.node_id, policy: row.policy, version: row.version, rolloutId: row.rollout_id, specHash: row.spec_hash, quarantined: row.quarantined }));
  }
}
