import { sql } from 'kysely';
import type { Db } from '../store/database.js';

/** 1 = counter delta over the report interval, 2 = gauge, 3 = derived from a histogram. */
export type SampleKind = 1 | 2 | 3;

export interface MetricSample {
  readonly nodeId: string;
  readonly ts: Date;
  readonly name: string;
  readonly cgroup: string;
  readonly kind: SampleKind;
  readonly value: number;
}

export interface SampleQuery {
  readonly nodeId: string;
  readonly name?: string;
  readonly cgroup?: string;
  readonly since: Date;
  readonly limit: number;
}

export class MetricSampleRepository {
  /** One multi-row INSERT (arrays unnested server-side: 6 parameters whatever the row count). */
  async insert(db: Db, samples: readonly MetricSample[]): Promise<void> {
    if (samples.length === 0) return;
    const nodeIds: string[] = new Array<string>(samples.length);
    const ts: string[] = new Array<string>(samples.length);
    const names: string[] = new Array<string>(samples.length);
    const cgroups: string[] = new Array<string>(samples.length);
    const kinds: number[] = new Array<number>(samples.length);
    const values: number[] = new Array<number>(samples.length);
    samples.forEach((sample, index) => {
      nodeIds[index] = sample.nodeId;
      ts[index] = sample.ts.toISOString();
      names[index] = sample.name;
      cgroups[index] = sample.cgroup;
      kinds[index] = sample.kind;
      values[index] = sample.value;
    });
    await sql`
      INSERT INTO metric_samples (node_id, ts, name, cgroup, kind, value)
      SELECT * FROM unnest(${nodeIds}::text[], ${ts}::timestamptz[], ${names}::text[], ${cgroups}::text[], ${kinds}::int2[], ${values}::float8[])`.execute(db);
  }

  async query(db: Db, query: SampleQuery): Promise<MetricSample[]> {
    let select = db
      .selectFrom('metric_samples')
      .select(['node_id', 'ts', 'name', 'cgroup', 'kind', 'value'])
      .where('node_id', '=', query.nodeId)
      .where('ts', '>=', query.since);
    if (query.name !== undefined) select = select.where('name', '=', query.name);
    if (query.cgroup !== undefined) select = select.where('cgroup', '=', query.cgroup);
    const rows = await select.orderBy('ts', 'desc').limit(query.limit).execute();
    return rows.reverse().map((row) => ({ nodeId: row.node_id, ts: row.ts, name: row.name, cgroup: row.cgroup, kind: row.kind as SampleKind, value: row.value }));
  }

  /** Metric names a node has reported since `since` (for the dashboard's chart picker). */
  async names(db: Db, nodeId: string, since: Date): Promise<string[]> {
    const rows = await db.selectFrom('metric_samples').select('name').distinct().where('node_id', '=', nodeId).where('ts', '>=', since).orderBy('name').execute();
    return rows.map((row) => row.name);
  }

  /** Delete up to `batch` samples older than `cutoff`; returns how many went. */
  async deleteOlderThan(db: Db, cutoff: Date, batch: number): Promise<number> {
    const result = await sql`
      DELETE FROM metric_samples WHERE ctid = ANY(ARRAY(
        SELECT ctid FROM metric_samples WHERE ts < ${cutoff.toISOString()}::timestamptz LIMIT ${batch}))`.execute(db);
    return Number(result.numAffectedRows ?? 0n);
  }
}
