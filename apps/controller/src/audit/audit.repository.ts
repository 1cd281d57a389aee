import { sql } from 'kysely';
import type { Db } from '../store/database.js';
import { GENESIS_HASH, asStoredJson, auditHash } from './audit-hash.js';

/** Advisory transaction lock serialising audit appends: the ASCII bytes of "thp_audt". */
export const AUDIT_LOCK_KEY = 0x7468705f61756474n;

export interface AuditEntry {
  readonly seq: number;
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly prevHash: string;
  readonly hash: string;
}

export interface NewAuditEntry {
  readonly actor: string;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface AuditFilter {
  readonly actor?: string;
  readonly action?: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly since?: Date;
  readonly until?: Date;
  /** Only entries with seq < before (paging backwards from the newest). */
  readonly before?: number;
  readonly limit: number;
}

const COLUMNS = ['seq', 'at', 'actor', 'action', 'target_type', 'target_id', 'before', 'after', 'prev_hash', 'hash'] as const;

interface AuditRow {
  seq: number;
  at: Date;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  before: unknown;
  after: unknown;
  prev_hash: string;
  hash: string;
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    before: row.before,
    after: row.after,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export class AuditRepository {
  /**
   * Append one entry. Must run inside the transaction of the change it records: the advisory
   * transaction lock serialises appends until that transaction ends, so seq stays gapless and
   * prev_hash is always the hash of the row just before.
   */
  async append(tx: Db, entry: NewAuditEntry): Promise<AuditEntry> {
    await sql`SELECT pg_advisory_xact_lock(${AUDIT_LOCK_KEY.toString()}::bigint)`.execute(tx);
    const last = await tx.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
    const seq = last ? Number(last.seq) + 1 : 1;
    const prevHash = last?.hash ?? GENESIS_HASH;
    const at = new Date();
    const before = asStoredJson(entry.before);
    const after = asStoredJson(entry.after);
    const hash = auditHash({ seq, at, actor: entry.actor, action: entry.action, targetType: entry.targetType, targetId: entry.targetId, before, after, prevHash });
    await tx
      .insertInto('audit_log')
      .values({
        seq,
        at,
        actor: entry.actor,
        action: entry.action,
        target_type: entry.targetType,
        target_id: entry.targetId,
        before: before === null ? null : JSON.stringify(before),
        after: after === null ? null : JSON.stringify(after),
        prev_hash: prevHash,
        hash,
      })
      .execute();
    return { seq, at, actor: entry.actor, action: entry.action, targetType: entry.targetType, targetId: entry.targetId, before, after, prevHash, hash };
  }

  async list(db: Db, filter: AuditFilter): Promise<AuditEntry[]> {
    let query = db.selectFrom('audit_log').select(COLUMNS);
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.targetType !== undefined) query = query.where('target_type', '=', filter.targetType);
    if (filter.targetId !== undefined) query = query.where('target_id', '=', filter.targetId);
    if (filter.since !== undefined) query = query.where('at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('at', '<', filter.until);
    if (filter.before !== undefined) query = query.where('seq', '<', filter.before);
    const rows = await query.orderBy('seq', 'desc').limit(filter.limit).execute();
    return rows.map(toEntry);
  }

  /** Entries with seq > after, oldest first (for verification). */
  async pageFrom(db: Db, after: number, limit: number): Promise<AuditEntry[]> {
    const rows = await db.selectFrom('audit_log').select(COLUMNS).where('seq', '>', after).orderBy('seq', 'asc').limit(limit).execute();
    return rows.map(toEntry);
  }
}
