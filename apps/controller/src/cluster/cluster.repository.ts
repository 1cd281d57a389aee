import { randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';

export interface ReplicaRecord {
  readonly id: string;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly startedAt: Date;
  readonly heartbeatAt: Date;
  readonly leaderSince: Date | null;
  readonly stoppedAt: Date | null;
}

const COLUMNS = ['id', 'http_url', 'grpc_address', 'started_at', 'heartbeat_at', 'leader_since', 'stopped_at'] as const;

export class ClusterRepository {
  /** A cluster-wide setting, created with `create()` by the first replica that asks. */
  async getOrCreateSetting(db: Db, key: string, create: () => string): Promise<string> {
    await db
      .insertInto('cluster_settings')
      .values({ key, value: create() })
      .onConflict((conflict) => conflict.column('key').doNothing())
      .execute();
    const row = await db.selectFrom('cluster_settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
    return row.value;
  }

  async upsertReplica(db: Db, replica: { id: string; httpUrl: string; grpcAddress: string; at: Date }): Promise<void> {
    await db
      .insertInto('replicas')
      .values({ id: replica.id, http_url: replica.httpUrl, grpc_address: replica.grpcAddress, started_at: replica.at, heartbeat_at: replica.at, leader_since: null, stopped_at: null })
      .onConflict((conflict) =>
        conflict.column('id').doUpdateSet({ http_url: replica.httpUrl, grpc_address: replica.grpcAddress, started_at: replica.at, heartbeat_at: replica.at, leader_since: null, stopped_at: null }),
      )
      .execute();
  }

  async heartbeat(db: Db, id: string, at: Date): Promise<void> {
    await db.updateTable('replicas').set({ heartbeat_at: at }).where('id', '=', id).execute();
  }

  async setLeader(db: Db, id: string, since: Date | null): Promise<void> {
    await db.transaction().execute(async (tx) => {
      if (since !== null) await tx.updateTable('replicas').set({ leader_since: null }).where('id', '!=', id).where('leader_since', 'is not', null).execute();
      await tx.updateTable('replicas').set({ leader_since: since }).where('id', '=', id).execute();
    });
  }

  async markStopped(db: Db, id: string, at: Date): Promise<void> {
    await db.updateTable('replicas').set({ stopped_at: at, leader_since: null }).where('id', '=', id).execute();
  }

  async list(db: Db): Promise<ReplicaRecord[]> {
    const rows = await db.selectFrom('replicas').select(COLUMNS).orderBy('started_at').execute();
    return rows.map((row) => ({
      id: row.id,
      httpUrl: row.http_url,
      grpcAddress: row.grpc_address,
      startedAt: row.started_at,
      heartbeatAt: row.heartbeat_at,
      leaderSince: row.leader_since,
      stoppedAt: row.stopped_at,
    }));
  }

  /** Ids of replicas that are running: not stopped and heartbeating since `since`. */
  async aliveSince(db: Db, since: Date): Promise<string[]> {
    const rows = await db.selectFrom('replicas').select('id').where('stopped_at', 'is', null).where('heartbeat_at', '>=', since).execute();
    return rows.map((row) => row.id);
  }

  async connectedCounts(db: Db): Promise<Map<string, number>> {
    const rows = await db
      .selectFrom('nodes')
      .select(['connected_replica', (eb) => eb.fn.countAll<number>().as('count')])
      .where('connected_replica', 'is not', null)
      .groupBy('connected_replica')
      .execute();
    return new Map(rows.map((row) => [row.connected_replica ?? '', Number(row.count)]));
  }
}

export function randomSecret(): string {
  return randomBytes(32).toString('base64url');
}
