import { sql } from 'kysely';
import type { Db } from '../store/database.js';

export interface PolicyRecord {
  readonly name: string;
  readonly description: string;
  readonly latestVersion: number;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly updatedAt: Date;
}

export interface PolicyVersionRecord {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly message: string;
  readonly author: string;
  readonly createdAt: Date;
}

export interface PolicyVersionContent extends PolicyVersionRecord {
  readonly canonical: string;
  readonly source: string;
  readonly sourceFormat: 'yaml' | 'json';
}

/** What the agent stream needs to send a version: hash and canonical spec. */
export interface DeliverableVersion {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly canonical: string;
}

const POLICY_COLUMNS = ['name', 'description', 'latest_version', 'created_at', 'created_by', 'updated_at'] as const;
const VERSION_COLUMNS = ['policy', 'version', 'spec_hash', 'message', 'author', 'created_at'] as const;

interface PolicyRow {
  name: string;
  description: string;
  latest_version: number;
  created_at: Date;
  created_by: string;
  updated_at: Date;
}

interface VersionRow {
  policy: string;
  version: number;
  spec_hash: string;
  message: string;
  author: string;
  created_at: Date;
}

const toPolicy = (row: PolicyRow): PolicyRecord => ({
  name: row.name,
  description: row.description,
  latestVersion: row.latest_version,
  createdAt: row.created_at,
  createdBy: row.created_by,
  updatedAt: row.updated_at,
});

const toVersion = (row: VersionRow): PolicyVersionRecord => ({
  policy: row.policy,
  version: row.version,
  specHash: row.spec_hash,
  message: row.message,
  author: row.author,
  createdAt: row.created_at,
});

export class PolicyRepository {
  /** Insert a policy with no versions yet; undefined when the name is taken. */
  async insertPolicy(tx: Db, policy: { name: string; description: string; createdBy: string; at: Date }): Promise<PolicyRecord | undefined> {
    const row = await tx
      .insertInto('policies')
      .values({ name: policy.name, description: policy.description, latest_version: 0, created_by: policy.createdBy, created_at: policy.at, updated_at: policy.at })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .returning(POLICY_COLUMNS)
      .executeTakeFirst();
    return row ? toPolicy(row) : undefined;
  }

  /** The policy row, locked until the transaction ends (serialises version numbering). */
  async lockPolicy(tx: Db, name: string): Promise<PolicyRecord | undefined> {
    const row = await tx.selectFrom('policies').select(POLICY_COLUMNS).where('name', '=', name).forUpdate().executeTakeFirst();
    return row ? toPolicy(row) : undefined;
  }

  async insertVersion(
    tx: Db,
    version: { policy: string; version: number; specHash: string; canonical: string; source: string; sourceFormat: 'yaml' | 'json'; message: string; author: string; at: Date },
  ): Promise<PolicyVersionRecord> {
    const row = await tx
      .insertInto('policy_versions')
      .values({
        policy: version.policy,
        version: version.version,
        spec_hash: version.specHash,
        canonical: version.canonical,
        source: version.source,
        source_format: version.sourceFormat,
        message: version.message,
        author: version.author,
        created_at: version.at,
      })
      .returning(VERSION_COLUMNS)
      .executeTakeFirstOrThrow();
    return toVersion(row);
  }

  async setLatest(tx: Db, name: string, version: number, description: string, at: Date): Promise<PolicyRecord> {
    const row = await tx
      .updateTable('policies')
      .set({ latest_version: version, description, updated_at: at })
      .where('name', '=', name)
      .returning(POLICY_COLUMNS)
      .executeTakeFirstOrThrow();
    return toPolicy(row);
  }

  async listPolicies(db: Db): Promise<PolicyRecord[]> {
    const rows = await db.selectFrom('policies').select(POLICY_COLUMNS).orderBy('name').execute();
    return rows.map(toPolicy);
  }

  async getPolicy(db: Db, name: string): Promise<PolicyRecord | undefined> {
    const row = await db.selectFrom('policies').select(POLICY_COLUMNS).where('name', '=', name).executeTakeFirst();
    return row ? toPolicy(row) : undefined;
  }

  async listVersions(db: Db, name: string): Promise<PolicyVersionRecord[]> {
    const rows = await db.selectFrom('policy_versions').select(VERSION_COLUMNS).where('policy', '=', name).orderBy('version', 'desc').execute();
    return rows.map(toVersion);
  }

  async getVersion(db: Db, name: string, version: number): Promise<PolicyVersionContent | undefined> {
    const row = await db
      .selectFrom('policy_versions')
      .select([...VERSION_COLUMNS, 'canonical', 'source', 'source_format'])
      .where('policy', '=', name)
      .where('version', '=', version)
      .executeTakeFirst();
    return row ? { ...toVersion(row), canonical: row.canonical, source: row.source, sourceFormat: row.source_format } : undefined;
  }

  /** Hash and canonical spec of each (policy, version) asked for that exists. */
  async getDeliverable(db: Db, keys: readonly { policy: string; version: number }[]): Promise<DeliverableVersion[]> {
    if (keys.length === 0) return [];
    const policies = keys.map((key) => key.policy);
    const versions = keys.map((key) => key.version);
    const rows = await db
      .selectFrom('policy_versions')
      .select(['policy', 'version', 'spec_hash', 'canonical'])
      .where(sql<boolean>`(policy, version) IN (SELECT * FROM unnest(${policies}::text[], ${versions}::int4[]))`)
      .execute();
    return rows.map((row) => ({ policy: row.policy, version: row.version, specHash: row.spec_hash, canonical: row.canonical }));
  }
}
