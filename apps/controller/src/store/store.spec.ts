/**
 * The store on both kinds of database: the real Postgres (via createTestDatabase) and embedded
 * PGlite (always, in-process). Migrations, the append-only triggers, LISTEN/NOTIFY, advisory
 * lock sessions and PGlite's one-session serialisation.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import { openTestStore, testDatabase, type StoreKind } from '../testing.test-util.js';
import { openStore, type Store } from './database.js';
import { DEFAULT_MIGRATIONS_DIR, MigrationError, readMigrations, runMigrations } from './migrations.js';
import { SQLSTATE_APPEND_ONLY, appErrorFromDb, sqlState } from './db-errors.js';

const logger = createLogger('error', 'test');

async function rejectsWith(promise: Promise<unknown>, state: string): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(sqlState(error)).toBe(state);
    return error instanceof Error ? error.message : String(error);
  }
  throw new Error(`expected SQLSTATE ${state}, but the statement succeeded`);
}

describe.each(['postgres', 'pglite'] as const)('store on %s', (kind: StoreKind) => {
  let ctx: Awaited<ReturnType<typeof openTestStore>>;
  let store: Store;
  beforeAll(async () => {
    ctx = await openTestStore(kind, `store_${kind}`);
    store = ctx.store;
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('applies every migration once and records its checksum', async () => {
    const files = readMigrations();
    const rows = await store.db.selectFrom('schema_migrations').select(['version', 'name', 'checksum']).orderBy('version').execute();
    expect(rows).toEqual(files.map((f) => ({ version: f.version, name: f.name, checksum: f.checksum })));
    expect(await runMigrations(store, logger)).toEqual([]);
  });

  it('refuses to start when an applied migration file was changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thp-migrations-'));
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    const file = join(dir, '0001_initial.sql');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n-- edited after the fact\n`);
    try {
      await expect(runMigrations(store, logger, dir)).rejects.toThrow(/0001_initial\.sql was changed after it was applied/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database that has migrations this code does not know', async () => {
    const db = await testDatabase(kind, `newer_${kind}`);
    const other = await openStore(db.database, logger, 'thp-test');
    try {
      await runMigrations(other, logger);
      await other.db.insertInto('schema_migrations').values({ version: 999, name: '0999_future.sql', checksum: 'x' }).execute();
      await expect(runMigrations(other, logger)).rejects.toBeInstanceOf(MigrationError);
      await expect(runMigrations(other, logger)).rejects.toThrow(/0999_future\.sql/);
    } finally {
      await other.close();
      await db.drop();
    }
  });

  it('rolls a failing migration back completely', async () => {
    const db = await testDatabase(kind, `failing_${kind}`);
    const other = await openStore(db.database, logger, 'thp-test');
    const dir = mkdtempSync(join(tmpdir(), 'thp-migrations-'));
    cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
    writeFileSync(join(dir, `${String(readMigrations().length + 1).padStart(4, '0')}_broken.sql`), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
    try {
      await expect(runMigrations(other, logger, dir)).rejects.toThrow(/_broken\.sql failed and was rolled back/);
      const tables = await sql<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'half_done'`.execute(other.db);
      expect(tables.rows[0]?.n).toBe(0);
      expect(await other.db.selectFrom('schema_migrations').select('name').execute()).toHaveLength(readMigrations().length);
    } finally {
      await other.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('policy_versions are immutable: the database itself rejects UPDATE, DELETE and TRUNCATE', async () => {
    await store.db.insertInto('policies').values({ name: 'imm', created_by: 'test' }).execute();
    await store.db
      .insertInto('policy_versions')
      .values({ policy: 'imm', version: 1, spec_hash: 'a'.repeat(64), canonical: '{}', source: 'x', source_format: 'yaml', author: 'test' })
      .execute();
    const message = await rejectsWith(sql`UPDATE policy_versions SET canonical = '{"tampered":true}' WHERE policy = 'imm'`.execute(store.db), SQLSTATE_APPEND_ONLY);
    expect(message).toContain('policy_versions is append-only: UPDATE');
    await rejectsWith(sql`DELETE FROM policy_versions WHERE policy = 'imm'`.execute(store.db), SQLSTATE_APPEND_ONLY);
    await rejectsWith(sql`TRUNCATE policy_versions CASCADE`.execute(store.db), SQLSTATE_APPEND_ONLY);
    const row = await store.db.selectFrom('policy_versions').select('canonical').where('policy', '=', 'imm').executeTakeFirstOrThrow();
    expect(row.canonical).toBe('{}');
    expect(appErrorFromDb(await sql`DELETE FROM policy_versions`.execute(store.db).catch((e: unknown) => e))?.code).toBe('immutable');
  });

  it('the audit log is append-only too', async () => {
    await sql`INSERT INTO audit_log (seq, at, actor, action, target_type, target_id, before, after, prev_hash, hash) VALUES (1000, now(), 'a', 'x', 't', 'i', NULL, NULL, ${'0'.repeat(64)}, ${'1'.repeat(64)})`.execute(store.db);
    await rejectsWith(sql`UPDATE audit_log SET actor = 'mallory'`.execute(store.db), SQLSTATE_APPEND_ONLY);
    await rejectsWith(sql`DELETE FROM audit_log`.execute(store.db), SQLSTATE_APPEND_ONLY);
  });

  it('delivers NOTIFY on commit only', async () => {
    const received: string[] = [];
    const stop = await store.listen('thp_test_channel', (payload) => received.push(payload));
    await store.db.transaction().execute(async (tx) => {
      await sql`SELECT pg_notify('thp_test_channel', 'committed')`.execute(tx);
    });
    await store.db
      .transaction()
      .execute(async (tx) => {
        await sql`SELECT pg_notify('thp_test_channel', 'rolled-back')`.execute(tx);
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await sql`SELECT pg_notify('thp_test_channel', 'after')`.execute(store.db);
    for (let i = 0; i < 100 && received.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual(['committed', 'after']);
    await stop();
  });

  it('holds a session-level advisory lock until the session ends', async () => {
    const key = 4242n;
    const a = await store.openLockSession();
    expect(await a.tryLock(key)).toBe(true);
    if (kind === 'postgres') {
      const b = await store.openLockSession();
      expect(await b.tryLock(key)).toBe(false);
      await a.close();
      expect(await b.tryLock(key)).toBe(true);
      await b.unlock(key);
      await b.close();
    } else {
      // One PGlite session: there is no second session to contend (only one process can open the data directory).
      await a.unlock(key);
      await a.close();
      expect(a.alive).toBe(false);
    }
  });

  it('keeps transactions isolated from concurrent queries (PGlite: one session behind a mutex)', async () => {
    await sql`CREATE TABLE IF NOT EXISTS iso_test (id int)`.execute(store.db);
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const didInsert = new Promise<void>((resolve) => (inserted = resolve));
    const tx = store.db.transaction().execute(async (trx) => {
      await sql`INSERT INTO iso_test VALUES (1)`.execute(trx);
      inserted();
      await hold;
      throw new Error('roll back');
    });
    await didInsert;
    // Issued while the transaction is open: it must not see (or join) the uncommitted row.
    const outside = sql<{ n: number }>`SELECT count(*)::int AS n FROM iso_test`.execute(store.db);
    await new Promise((r) => setTimeout(r, 50));
    release();
    await expect(tx).rejects.toThrow('roll back');
    expect((await outside).rows[0]?.n).toBe(0);
  });
});

describe('migrations under concurrent starts (postgres)', () => {
  it('apply once when two replicas start at the same time', async () => {
    const db = await testDatabase('postgres', 'concurrent_migrations');
    const a = await openStore(db.database, logger, 'a');
    const b = await openStore(db.database, logger, 'b');
    try {
      const [ra, rb] = await Promise.all([runMigrations(a, logger), runMigrations(b, logger)]);
      expect([...ra, ...rb].sort()).toEqual(readMigrations().map((f) => f.name));
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
