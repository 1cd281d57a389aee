/**
 * The database every database test uses: `DATABASE_URL` when set, else a Postgres on
 * 127.0.0.1:5432 when one answers, else embedded PGlite. Each call gets a fresh, empty
 * database (a new Postgres database on the server, or a new PGlite data directory), so test
 * files can run in parallel, and it says on stderr which one it used.
 *
 * `THP_TEST_REQUIRE_POSTGRES=1` (set by .ci/run) turns the embedded fallback into an error,
 * so CI can never pass on PGlite by accident.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export type TestDatabase =
  | { readonly kind: 'postgres'; readonly url: string; readonly describe: string; drop(): Promise<void> }
  | { readonly kind: 'pglite'; readonly dataDir: string; readonly describe: string; drop(): Promise<void> };

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Which server the suite uses, resolved once per process. */
let serverUrl: Promise<string | undefined> | undefined;
function resolveServer(): Promise<string | undefined> {
  serverUrl ??= (async () => {
    const fromEnv = process.env['DATABASE_URL'];
    if (fromEnv) return fromEnv;
    return (await answers(LOCAL_POSTGRES)) ? LOCAL_POSTGRES : undefined;
  })();
  return serverUrl;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** A fresh database for one test file (or one test); call `drop()` when done. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const server = await resolveServer();
  if (server) {
    const name = `thp_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${name}"`);
    } finally {
      await admin.end();
    }
    const url = withDatabase(server, name);
    const describe = `postgres ${redact(url)}`;
    process.stderr.write(`[test-db] ${label}: using ${describe}\n`);
    return {
      kind: 'postgres',
      url,
      describe,
      async drop() {
        const client = new pg.Client({ connectionString: server });
        await client.connect();
        try {
          await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        } finally {
          await client.end();
        }
      },
    };
  }
  if (process.env['THP_TEST_REQUIRE_POSTGRES'] === '1') {
    throw new Error(
      'THP_TEST_REQUIRE_POSTGRES=1 but no Postgres answers (DATABASE_URL is unset and 127.0.0.1:5432 does not answer); refusing the embedded PGlite fallback',
    );
  }
  const dataDir = await mkdtemp(join(tmpdir(), `thp-pglite-${label}-`));
  const describe = `embedded PGlite ${dataDir} (no Postgres answered on DATABASE_URL or 127.0.0.1:5432)`;
  process.stderr.write(`[test-db] ${label}: using ${describe}\n`);
  return {
    kind: 'pglite',
    dataDir,
    describe,
    async drop() {
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
