/**
 * Nodes, their three status records (intent, acked, observed) and their NACK quarantine. The
 * agent-stream writes go through set-based statements (unnest over arrays), one per kind per
 * flush, so ten thousand agents cost a handful of statements, not ten thousand.
 */
import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import type { StatusKind } from '../store/schema.js';

export interface NodeRegistration {
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly kernelRelease: string;
  readonly agentVersion: string;
  /** Capabilities as proto JSON (enum names). */
  readonly capabilities: unknown;
  readonly replicaId: string;
  readonly sessionId: string;
  readonly at: Date;
}

export interface StatusWrite {
  readonly nodeId: string;
  readonly kind: StatusKind;
  readonly policy: string | null;
  readonly version: number | null;
  readonly specHash: string | null;
  readonly nonce: string | null;
  readonly rolloutId: string | null;
  readonly mapContentHash: string | null;
  readonly sysfs: unknown;
  readonly enforcement: string | null;
  readonly programIds: readonly number[] | null;
  readonly at: Date;
}

export interface QuarantineWrite {
  readonly nodeId: string;
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly nonce: string;
  readonly stage: string;
  readonly message: string;
  readonly detail: string;
  readonly at: Date;
}

export interface StatusRecord {
  readonly policy: string | null;
  readonly version: number | null;
  readonly specHash: string | null;
  readonly nonce: string | null;
  readonly rolloutId: string | null;
  readonly mapContentHash: string | null;
  readonly sysfs: unknown;
  readonly enforcement: string | null;
  readonly programIds: unknown;
  readonly updatedAt: Date;
}

export interface QuarantineRecord {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly stage: string;
  readonly message: string;
  readonly detail: string;
  readonly nackedAt: Date;
}

/** Everything the API shows about one node (state is derived from this in NodeService). */
export interface NodeRecord {
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly kernelRelease: string;
  readonly agentVersion: string;
  readonly capabilities: Record<string, unknown>;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  readonly connectedReplica: string | null;
  readonly connectedAt: Date | null;
  readonly stale: boolean;
  readonly staleSince: Date | null;
  readonly desired: { readonly policy: string | null; readonly version: number | null; readonly specHash: string | null; readonly rolloutId: string | null; readonly revision: number; readonly updatedAt: Date; readonly updatedBy: string } | null;
  readonly desiredQuarantined: boolean;
  readonly intent: StatusRecord | null;
  readonly acked: StatusRecord | null;
  readonly observed: StatusRecord | null;
  /** The most recent NACK, if any. */
  readonly lastNack: QuarantineRecord | null;
}

export interface NodeFilter {
  readonly labels?: Record<string, string>;
  readonly ids?: readonly string[];
}

type Row = Record<string, unknown>;

function status(row: Row, prefix: string): StatusRecord | null {
  const updatedAt = row[`${prefix}_updated_at`];
  if (!(updatedAt instanceof Date)) return null;
  const str = (key: string): string | null => (typeof row[`${prefix}_${key}`] === 'string' ? (row[`${prefix}_${key}`] as string) : null);
  const version = row[`${prefix}_version`];
  return {
    policy: str('policy'),
    version: typeof version === 'number' ? version : null,
    specHash: str('spec_hash'),
    nonce: str('nonce'),
    rolloutId: str('rollout_id'),
    mapContentHash: str('map_content_hash'),
    sysfs: row[`${prefix}_sysfs`] ?? null,
    enforcement: str('enforcement'),
    programIds: row[`${prefix}_program_ids`] ?? null,
    updatedAt,
  };
}

const STATUS_FIELDS = ['policy', 'version', 'spec_hash', 'nonce', 'rollout_id', 'map_content_hash', 'sysfs', 'enforcement', 'program_ids', 'updated_at'];

function statusColumns(alias: string, prefix: string): string {
  return STATUS_FIELDS.map((field) => `${alias}.${field} AS ${prefix}_${field}`).join(', ');
}

function toNode(row: Row): NodeRecord {
  const desiredRevision = row['desired_revision'];
  const nackAt = row['nack_at'];
  return {
    id: row['id'] as string,
    labels: (row['labels'] ?? {}) as Record<string, string>,
    kernelRelease: row['kernel_release'] as string,
    agentVersion: row['agent_version'] as string,
    capabilities: (row['capabilities'] ?? {}) as Record<string, unknown>,
    firstSeen: row['first_seen'] as Date,
    lastSeen: row['last_seen'] as Date,
    connectedReplica: (row['connected_replica'] as string | null) ?? null,
    connectedAt: (row['connected_at'] as Date | null) ?? null,
    stale: row['stale'] === true,
    staleSince: (row['stale_since'] as Date | null) ?? null,
    desired:
      typeof desiredRevision === 'number'
        ? {
            policy: (row['desired_policy'] as string | null) ?? null,
            version: (row['desired_version'] as number | null) ?? null,
            specHash: (row['desired_hash'] as string | null) ?? null,
            rolloutId: (row['desired_rollout'] as string | null) ?? null,
            revision: desiredRevision,
            updatedAt: row['desired_at'] as Date,
            updatedBy: row['desired_by'] as string,
          }
        : null,
    desiredQuarantined: row['desired_quarantined'] === true,
    intent: status(row, 'intent'),
    acked: status(row, 'acked'),
    observed: status(row, 'observed'),
    lastNack:
      nackAt instanceof Date
        ? {
            policy: row['nack_policy'] as string,
            version: row['nack_version'] as number,
            specHash: row['nack_spec_hash'] as string,
            stage: row['nack_stage'] as string,
            message: row['nack_message'] as string,
            detail: row['nack_detail'] as string,
            nackedAt: nackAt,
          }
        : null,
  };
}

const NODE_VIEW = `
SELECT n.id, n.labels, n.kernel_release, n.agent_version, n.capabilities, n.first_seen, n.last_seen,
       n.connected_replica, n.connected_at, n.stale, n.stale_since,
       a.policy AS desired_policy, a.version AS desired_version, a.rollout_id AS desired_rollout,
       a.revision AS desired_revision, a.updated_at AS desired_at, a.updated_by AS desired_by,
       dv.spec_hash AS desired_hash,
       (a.policy IS NOT NULL AND EXISTS (
          SELECT 1 FROM node_quarantine dq WHERE dq.node_id = n.id AND dq.policy = a.policy AND dq.version = a.version
       )) AS desired_quarantined,
       ${statusColumns('si', 'intent')}, ${statusColumns('sa', 'acked')}, ${statusColumns('so', 'observed')},
       lq.policy AS nack_policy, lq.version AS nack_version, lq.spec_hash AS nack_spec_hash, lq.stage AS nack_stage,
       lq.message AS nack_message, lq.detail AS nack_detail, lq.nacked_at AS nack_at
FROM nodes n
LEFT JOIN assignments a ON a.node_id = n.id
LEFT JOIN policy_versions dv ON dv.policy = a.policy AND dv.version = a.version
LEFT JOIN node_status si ON si.node_id = n.id AND si.kind = 'intent'
LEFT JOIN node_status sa ON sa.node_id = n.id AND sa.kind = 'acked'
LEFT JOIN node_status so ON so.node_id = n.id AND so.kind = 'observed'
LEFT JOIN LATERAL (
  SELECT q.policy, q.version, q.spec_hash, q.stage, q.message, q.detail, q.nacked_at
  FROM node_quarantine q WHERE q.node_id = n.id ORDER BY q.nacked_at DESC LIMIT 1
) lq ON true`;

export class NodeRepository {
  /** Upsert nodes from Hellos: identity, labels, capabilities, which replica holds the stream. */
  async register(db: Db, nodes: readonly NodeRegistration[]): Promise<void> {
    if (nodes.length === 0) return;
    // Last registration wins when one batch holds two Hellos of the same node.
    const latest = [...new Map(nodes.map((node) => [node.id, node])).values()];
    await sql`
      INSERT INTO nodes (id, labels, kernel_release, agent_version, capabilities, first_seen, last_seen,
                         connected_replica, session_id, connected_at, stale, stale_since)
      SELECT id, labels, kernel_release, agent_version, capabilities, at, at, replica, session_id, at, false, NULL
      FROM unnest(${latest.map((n) => n.id)}::text[], ${latest.map((n) => JSON.stringify(n.labels))}::jsonb[],
                  ${latest.map((n) => n.kernelRelease)}::text[], ${latest.map((n) => n.agentVersion)}::text[],
                  ${latest.map((n) => JSON.stringify(n.capabilities ?? {}))}::jsonb[], ${latest.map((n) => n.at.toISOString())}::timestamptz[],
                  ${latest.map((n) => n.replicaId)}::text[], ${latest.map((n) => n.sessionId)}::text[])
           AS t(id, labels, kernel_release, agent_version, capabilities, at, replica, session_id)
      ON CONFLICT (id) DO UPDATE SET
        labels = EXCLUDED.labels, kernel_release = EXCLUDED.kernel_release, agent_version = EXCLUDED.agent_version,
        capabilities = EXCLUDED.capabilities, last_seen = EXCLUDED.last_seen, connected_replica = EXCLUDED.connected_replica,
        session_id = EXCLUDED.session_id, connected_at = EXCLUDED.connected_at, stale = false, stale_since = NULL`.execute(db);
  }

  /** Clear the stream holder of nodes whose current session is the given one (a newer stream elsewhere is kept). */
  async disconnect(db: Db, sessions: readonly { nodeId: string; sessionId: string }[]): Promise<void> {
    if (sessions.length === 0) return;
    await sql`
      UPDATE nodes SET connected_replica = NULL, session_id = NULL, connected_at = NULL
      FROM unnest(${sessions.map((s) => s.nodeId)}::text[], ${sessions.map((s) => s.sessionId)}::text[]) AS t(node_id, session_id)
      WHERE nodes.id = t.node_id AND nodes.session_id = t.session_id`.execute(db);
  }

  /** Nodes heard from at `at`: fresh again. Returns the ids that were stale until now. */
  async touch(db: Db, nodeIds: readonly string[], at: Date): Promise<string[]> {
    if (nodeIds.length === 0) return [];
    const result = await sql<{ id: string }>`
      UPDATE nodes SET last_seen = GREATEST(nodes.last_seen, ${at.toISOString()}::timestamptz), stale = false, stale_since = NULL
      FROM nodes AS before
      WHERE nodes.id = ANY(${[...nodeIds]}::text[]) AND before.id = nodes.id
      RETURNING nodes.id, before.stale AS was_stale`.execute(db);
    return (result.rows as { id: string; was_stale?: boolean }[]).filter((row) => row.was_stale === true).map((row) => row.id);
  }

  /** Mark nodes silent since before `cutoff` stale; returns their ids. */
  async markStale(db: Db, cutoff: Date, at: Date): Promise<string[]> {
    const rows = await db
      .updateTable('nodes')
      .set({ stale: true, stale_since: at })
      .where('stale', '=', false)
      .where('last_seen', '<', cutoff)
      .returning('id')
      .execute();
    return rows.map((row) => row.id);
  }

  /** Forget stream holders that are replicas no longer alive (they crashed). */
  async releaseDeadReplicas(db: Db, aliveReplicas: readonly string[]): Promise<number> {
    const result = await db
      .updateTable('nodes')
      .set({ connected_replica: null, session_id: null, connected_at: null })
      .where('connected_replica', 'is not', null)
      .where('connected_replica', 'not in', aliveReplicas.length > 0 ? [...aliveReplicas] : [''])
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async writeStatuses(db: Db, writes: readonly StatusWrite[]): Promise<void> {
    if (writes.length === 0) return;
    // Last write wins for the same (node, kind) within one batch.
    const latest = [...new Map(writes.map((w) => [`${w.nodeId}\u0000${w.kind}`, w])).values()];
    await sql`
      INSERT INTO node_status (node_id, kind, policy, version, spec_hash, nonce, rollout_id, map_content_hash, sysfs, enforcement, program_ids, updated_at)
      SELECT * FROM unnest(
        ${latest.map((w) => w.nodeId)}::text[], ${latest.map((w) => w.kind)}::text[], ${latest.map((w) => w.policy)}::text[],
        ${latest.map((w) => w.version)}::int4[], ${latest.map((w) => w.specHash)}::text[], ${latest.map((w) => w.nonce)}::text[],
        ${latest.map((w) => w.rolloutId)}::text[], ${latest.map((w) => w.mapContentHash)}::text[],
        ${latest.map((w) => (w.sysfs === null || w.sysfs === undefined ? null : JSON.stringify(w.sysfs)))}::jsonb[],
        ${latest.map((w) => w.enforcement)}::text[], ${latest.map((w) => (w.programIds === null ? null : JSON.stringify(w.programIds)))}::jsonb[],
        ${latest.map((w) => w.at.toISOString())}::timestamptz[])
      ON CONFLICT (node_id, kind) DO UPDATE SET
        policy = EXCLUDED.policy, version = EXCLUDED.version, spec_hash = EXCLUDED.spec_hash, nonce = EXCLUDED.nonce,
        rollout_id = EXCLUDED.rollout_id, map_content_hash = EXCLUDED.map_content_hash, sysfs = EXCLUDED.sysfs,
        enforcement = EXCLUDED.enforcement, program_ids = EXCLUDED.program_ids, updated_at = EXCLUDED.updated_at
      WHERE node_status.updated_at <= EXCLUDED.updated_at`.execute(db);
  }

  async quarantine(db: Db, rows: readonly QuarantineWrite[]): Promise<void> {
    if (rows.length === 0) return;
    await db
      .insertInto('node_quarantine')
      .values(
        rows.map((row) => ({
          node_id: row.nodeId,
          policy: row.policy,
          version: row.version,
          spec_hash: row.specHash,
          nonce: row.nonce,
          stage: row.stage,
          message: row.message,
          detail: row.detail,
          nacked_at: row.at,
        })),
      )
      .onConflict((conflict) =>
        conflict.columns(['node_id', 'policy', 'version']).doUpdateSet((eb) => ({
          nonce: eb.ref('excluded.nonce'),
          stage: eb.ref('excluded.stage'),
          message: eb.ref('excluded.message'),
          detail: eb.ref('excluded.detail'),
          nacked_at: eb.ref('excluded.nacked_at'),
        })),
      )
      .execute();
  }

  async list(db: Db, filter: NodeFilter): Promise<NodeRecord[]> {
    const where: ReturnType<typeof sql>[] = [];
    if (filter.labels && Object.keys(filter.labels).length > 0) where.push(sql`n.labels @> ${JSON.stringify(filter.labels)}::jsonb`);
    if (filter.ids) where.push(sql`n.id = ANY(${[...filter.ids]}::text[])`);
    const clause = where.length > 0 ? sql`WHERE ${sql.join(where, sql` AND `)}` : sql``;
    const result = await sql<Row>`${sql.raw(NODE_VIEW)} ${clause} ORDER BY n.id`.execute(db);
    return result.rows.map(toNode);
  }

  async get(db: Db, id: string): Promise<NodeRecord | undefined> {
    const result = await sql<Row>`${sql.raw(NODE_VIEW)} WHERE n.id = ${id}`.execute(db);
    const row = result.rows[0];
    return row ? toNode(row) : undefined;
  }

  async exists(db: Db, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await db
      .selectFrom('nodes')
      .select('id')
      .where(sql<boolean>`id = ANY(${[...ids]}::text[])`)
      .execute();
    return new Set(rows.map((row) => row.id));
  }

  async idsMatching(db: Db, labels: Record<string, string>): Promise<string[]> {
    const rows = await db
      .selectFrom('nodes')
      .select('id')
      .where(sql<boolean>`labels @> ${JSON.stringify(labels)}::jsonb`)
      .orderBy('id')
      .execute();
    return rows.map((row) => row.id);
  }

  /** Which of these nodes have `policy@version` in quarantine. */
  async quarantinedAmong(db: Db, nodeIds: readonly string[], policy: string, version: number): Promise<string[]> {
    if (nodeIds.length === 0) return [];
    const rows = await db
      .selectFrom('node_quarantine')
      .select('node_id')
      .where('policy', '=', policy)
      .where('version', '=', version)
      .where(sql<boolean>`node_id = ANY(${[...nodeIds]}::text[])`)
      .orderBy('node_id')
      .execute();
    return rows.map((row) => row.node_id);
  }

  async quarantineOf(db: Db, nodeId: string): Promise<QuarantineRecord[]> {
    const rows = await db
      .selectFrom('node_quarantine')
      .select(['policy', 'version', 'spec_hash', 'stage', 'message', 'detail', 'nacked_at'])
      .where('node_id', '=', nodeId)
      .orderBy('nacked_at', 'desc')
      .execute();
    return rows.map((row) => ({ policy: row.policy, version: row.version, specHash: row.spec_hash, stage: row.stage, message: row.message, detail: row.detail, nackedAt: row.nacked_at }));
  }
}
