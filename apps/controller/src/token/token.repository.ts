import { sql } from 'kysely';
import type { Db } from '../store/database.js';

/** Advisory transaction lock for creating the first admin token: the ASCII bytes of "thp_boot". */
const BOOTSTRAP_LOCK_KEY = 0x7468705f626f6f74n;
import type { Role } from '../store/schema.js';

export interface ApiToken {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  readonly prefix: string;
  readonly createdAt: Date;
  readonly createdBy: string;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokedBy: string | null;
  readonly lastUsedAt: Date | null;
}

const COLUMNS = ['id', 'name', 'role', 'prefix', 'created_at', 'created_by', 'expires_at', 'revoked_at', 'revoked_by', 'last_used_at'] as const;

interface TokenRow {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  created_at: Date;
  created_by: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
}

function toToken(row: TokenRow): ApiToken {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    lastUsedAt: row.last_used_at,
  };
}

export class TokenRepository {
  async insert(db: Db, token: { id: string; name: string; role: Role; tokenHash: string; prefix: string; createdBy: string; expiresAt: Date | null }): Promise<ApiToken> {
    const row = await db
      .insertInto('api_tokens')
      .values({ id: token.id, name: token.name, role: token.role, token_hash: token.tokenHash, prefix: token.prefix, created_by: token.createdBy, expires_at: token.expiresAt })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toToken(row);
  }

  /** Insert unless a token with this hash exists; returns whether it inserted. */
  async insertIfAbsent(db: Db, token: { id: string; name: string; role: Role; tokenHash: string; prefix: string; createdBy: string }): Promise<boolean> {
    const result = await db
      .insertInto('api_tokens')
      .values({ id: token.id, name: token.name, role: token.role, token_hash: token.tokenHash, prefix: token.prefix, created_by: token.createdBy })
      .onConflict((conflict) => conflict.column('token_hash').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  /** An active (not revoked, not expired) token by the sha256 of its secret. */
  async findActiveByHash(db: Db, tokenHash: string, now: Date): Promise<ApiToken | undefined> {
    const row = await db
      .selectFrom('api_tokens')
      .select(COLUMNS)
      .where('token_hash', '=', tokenHash)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  async lockBootstrap(tx: Db): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY.toString()}::bigint)`.execute(tx);
  }

  async countActiveAdmins(db: Db, now: Date): Promise<number> {
    const row = await db
      .selectFrom('api_tokens')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('role', '=', 'admin')
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  async get(db: Db, id: string): Promise<ApiToken | undefined> {
    const row = await db.selectFrom('api_tokens').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  async list(db: Db): Promise<ApiToken[]> {
    const rows = await db.selectFrom('api_tokens').select(COLUMNS).orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
    return rows.map(toToken);
  }

  async revoke(db: Db, id: string, by: string, at: Date): Promise<ApiToken | undefined> {
    const row = await db.updateTable('api_tokens').set({ revoked_at: at, revoked_by: by }).where('id', '=', id).where('revoked_at', 'is', null).returning(COLUMNS).executeTakeFirst();
    return row ? toToken(row) : undefined;
  }

  /** Record use at most once a minute per token (keeps the hot path read-only). */
  async touch(db: Db, id: string, at: Date): Promise<void> {
    await db
      .updateTable('api_tokens')
      .set({ last_used_at: at })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', new Date(at.getTime() - 60_000))]))
      .execute();
  }
}
