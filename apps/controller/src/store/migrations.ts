/**
 * Forward-only numbered SQL migrations (migrations/NNNN_name.sql). At start every replica runs
 * them under one advisory lock, so concurrent starts apply each file exactly once. Each file
 * runs in its own transaction and is recorded with its sha256; a replica refuses to start when
 * an applied file has changed, or when the database has migrations this code does not know.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import type { SqlSession, Store } from './database.js';

/** Advisory lock key for migrations: the ASCII bytes of "thp_migr". */
export const MIGRATION_LOCK_KEY = 0x7468705f6d696772n;

export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

export interface MigrationFile {
  readonly version: number;
  readonly name: string;
  readonly checksum: string;
  readonly sql: string;
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): MigrationFile[] {
  const files = readdirSync(dir)
    .filter((name) => name.endsWith('.sql'))
    .sort();
  const out: MigrationFile[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new MigrationError(`${join(dir, file)}: migration files are named NNNN_lowercase_name.sql`);
    const version = Number(match[1]);
    const sql = readFileSync(join(dir, file), 'utf8');
    if (/^\s*(BEGIN\s*(TRANSACTION|WORK)?\s*;|COMMIT\s*;|ROLLBACK\s*;|START\s+TRANSACTION\b)/im.test(sql)) {
      throw new MigrationError(`${file}: must not manage transactions itself (the runner wraps each file in one)`);
    }
    out.push({ version, name: file, checksum: createHash('sha256').update(sql).digest('hex'), sql });
  }
  out.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new MigrationError(`${migration.name}: expected migration number ${String(index + 1).padStart(4, '0')} (numbers start at 0001 with no gaps or duplicates)`);
    }
  });
  return out;
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function check(session: SqlSession, files: readonly MigrationFile[]): Promise<{ applied: AppliedRow[]; pending: MigrationFile[] }> {
  const applied = await session.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  const byVersion = new Map(files.map((file) => [file.version, file]));
  for (const row of applied) {
    const file = byVersion.get(row.version);
    if (!file) throw new MigrationError(`the database has migration ${row.name} (version ${row.version}) which this controller does not have: refusing to start an older controller on a newer schema`);
    if (file.checksum !== row.checksum) {
      throw new MigrationError(`migration ${file.name} was changed after it was applied (applied sha256 ${row.checksum}, file sha256 ${file.checksum}); migrations are forward-only: restore the file and add a new one`);
    }
  }
  const done = new Set(applied.map((row) => row.version));
  return { applied, pending: files.filter((file) => !done.has(file.version)) };
}

/** Apply pending migrations; returns the names applied by this call. */
export async function runMigrations(store: Store, logger: Logger, dir: string = DEFAULT_MIGRATIONS_DIR): Promise<string[]> {
  const files = readMigrations(dir);
  const log = logger.child('migrations');
  return store.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      await session.exec(CREATE_TABLE);
      const { pending } = await check(session, files);
      const appliedNow: string[] = [];
      for (const file of pending) {
        const started = Date.now();
        await session.exec('BEGIN');
        try {
          await session.exec(file.sql);
          await session.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [file.version, file.name, file.checksum]);
          await session.exec('COMMIT');
        } catch (error) {
          await session.exec('ROLLBACK').catch(() => undefined);
          throw new MigrationError(`migration ${file.name} failed and was rolled back: ${error instanceof Error ? error.message : String(error)}`);
        }
        log.info('applied migration', { name: file.name, ms: Date.now() - started });
        appliedNow.push(file.name);
      }
      return appliedNow;
    } finally {
      await session.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    }
  });
}

/** For /readyz: are all of this code's migrations applied (and unchanged)? */
export async function migrationStatus(store: Store, files: readonly MigrationFile[]): Promise<{ ok: boolean; expected: number; applied: number; problem?: string }> {
  try {
    return await store.withSession(async (session) => {
      const { applied, pending } = await check(session, files);
      return pending.length === 0 ? { ok: true, expected: files.length, applied: applied.length } : { ok: false, expected: files.length, applied: applied.length, problem: `${pending.length} migration(s) pending` };
    });
  } catch (error) {
    return { ok: false, expected: files.length, applied: 0, problem: error instanceof Error ? error.message : String(error) };
  }
}
