/**
 * The store: Kysely over Postgres (`pg` pool) or over embedded PGlite (one session behind a
 * mutex), plus what Kysely does not cover: raw sessions for migrations, LISTEN/NOTIFY and a
 * long-lived session for session-level advisory locks (leadership).
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DatabaseConfig } from '../config/config.js';
import type { Logger } from '../common/logger.js';
import { Mutex, PGliteDialect } from './pglite-dialect.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

/** One database session held for a while: raw SQL, multi-statement scripts. */
export interface SqlSession {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<R[]>;
  /** Run a script of one or more statements without parameters. */
  exec(text: string): Promise<void>;
}

/** A session of its own for session-level advisory locks; it stays open until closed. */
export interface LockSession {
  tryLock(key: bigint): Promise<boolean>;
  unlock(key: bigint): Promise<void>;
  /** False once the session's connection has failed (any lock it held is gone with it). */
  readonly alive: boolean;
  /** Round trip to check the session is still usable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type NotificationHandler = (payload: string) => void;

export interface Store {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  readonly describe: string;
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  openLockSession(): Promise<LockSession>;
  /** LISTEN on `channel`; returns the function that stops listening. */
  listen(channel: string, handler: NotificationHandler): Promise<() => Promise<void>>;
  /** Called after the LISTEN connection was lost and restored: notifications may have been missed. */
  onListenReset(handler: () => void): void;
  ping(): Promise<void>;
  close(): Promise<void>;
}

const INT8_OID = 20;

/** int8 as a JS number (ids, counts; all far below 2^53), like PGlite returns it. */
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : (pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable url)';
  }
}

export async function openStore(config: DatabaseConfig, logger: Logger, applicationName: string): Promise<Store> {
  switch (config.kind) {
    case 'postgres':
      return openPostgres(config.url, config.poolSize, logger, applicationName);
    case 'pglite':
      return openPglite(config.dataDir, logger);
  }
}

// ---------------------------------------------------------------------------------------------
// Postgres
// ---------------------------------------------------------------------------------------------

function openPostgres(url: string, poolSize: number, logger: Logger, applicationName: string): Store {
  const log = logger.child('store');
  const clientConfig: pg.ClientConfig = {
    connectionString: url,
    application_name: applicationName.slice(0, 63),
    types: pgTypes,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  const pool = new pg.Pool({ ...clientConfig, max: poolSize, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
  pool.on('error', (error) => log.warn('idle database connection failed', { error }));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

  // LISTEN needs a connection of its own that stays open.
  const handlers = new Map<string, Set<NotificationHandler>>();
  const resetHandlers: (() => void)[] = [];
  let listener: pg.Client | undefined;
  let listenerReady: Promise<pg.Client> | undefined;
  let closed = false;
  let reconnectDelay = 250;

  const connectListener = (): Promise<pg.Client> => {
    listenerReady ??= (async () => {
      const client = new pg.Client({ ...clientConfig, application_name: `${applicationName}:listen`.slice(0, 63) });
      client.on('notification', (message) => {
        for (const handler of handlers.get(message.channel) ?? []) {
          try {
            handler(message.payload ?? '');
          } catch (error) {
            log.error('notification handler failed', { channel: message.channel, error });
          }
        }
      });
      client.on('error', (error) => {
        if (closed) return;
        log.warn('LISTEN connection lost; reconnecting', { error });
        listener = undefined;
        listenerReady = undefined;
        void client.end().catch(() => undefined);
        const retry = (): void => {
          if (closed) return;
          connectListener().then(
            () => {
              reconnectDelay = 250;
              for (const reset of resetHandlers) reset();
            },
            (retryError: unknown) => {
              log.warn('LISTEN reconnect failed', { error: retryError });
              listenerReady = undefined;
              reconnectDelay = Math.min(reconnectDelay * 2, 10_000);
              setTimeout(retry, reconnectDelay).unref();
            },
          );
        };
        setTimeout(retry, reconnectDelay).unref();
      });
      await client.connect();
      for (const channel of handlers.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
      listener = client;
      return client;
    })();
    return listenerReady;
  };

  return {
    kind: 'postgres',
    db,
    describe: `postgres ${redact(url)}`,
    async withSession(fn) {
      const client = await pool.connect();
      try {
        return await fn({
          query: async <R>(text: string, params: readonly unknown[] = []) => (await client.query(text, [...params])).rows as R[],
          exec: async (text) => {
            // No parameters: the simple-query protocol runs every statement of the script.
            await client.query(text);
          },
        });
      } finally {
        client.release();
      }
    },
    async openLockSession() {
      const client = new pg.Client({ ...clientConfig, application_name: `${applicationName}:lock`.slice(0, 63) });
      let alive = true;
      client.on('error', (error) => {
        alive = false;
        log.warn('lock session lost', { error });
      });
      client.on('end', () => {
        alive = false;
      });
      await client.connect();
      return {
        get alive() {
          return alive;
        },
        async tryLock(key) {
          const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key.toString()]);
          return result.rows[0]?.locked === true;
        },
        async unlock(key) {
          await client.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
        },
        async ping() {
          await client.query('SELECT 1');
        },
        async close() {
          alive = false;
          await client.end().catch(() => undefined);
        },
      };
    },
    async listen(channel, handler) {
      let set = handlers.get(channel);
      const first = !set;
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(handler);
      const client = listener ?? (await connectListener());
      if (first && listener === client) await client.query(`LISTEN ${quoteIdent(channel)}`);
      return async () => {
        set.delete(handler);
        if (set.size === 0) {
          handlers.delete(channel);
          if (listener) await listener.query(`UNLISTEN ${quoteIdent(channel)}`).catch(() => undefined);
        }
      };
    },
    onListenReset(handler) {
      resetHandlers.push(handler);
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      closed = true;
      if (listener) await listener.end().catch(() => undefined);
      await db.destroy();
    },
  };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

// ---------------------------------------------------------------------------------------------
// Embedded PGlite
// ---------------------------------------------------------------------------------------------

async function openPglite(dataDir: string, logger: Logger): Promise<Store> {
  const log = logger.child('store');
  mkdirSync(dataDir, { recursive: true });
  const started = Date.now();
  const pglite = await PGlite.create(dataDir);
  log.info('embedded PGlite ready', { dataDir, ms: Date.now() - started });
  const mutex = new Mutex();
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite, mutex) });
  const session: SqlSession = {
    query: async <R>(text: string, params: readonly unknown[] = []) => (await pglite.query<R>(text, [...params])).rows,
    exec: async (text) => {
      await pglite.exec(text);
    },
  };
  let closed = false;
  return {
    kind: 'pglite',
    db,
    describe: `embedded PGlite ${dataDir}`,
    withSession: (fn) => mutex.run(() => fn(session)),
    openLockSession() {
      // PGlite serves one session; session-level locks taken through it last until unlocked or
      // until the database closes, which is what a lock session needs. Only one process can
      // open a PGlite data directory, so there is never a second replica to contend with.
      let alive = true;
      return Promise.resolve({
        get alive() {
          return alive && !closed;
        },
        tryLock: (key) => mutex.run(async () => (await pglite.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key.toString()])).rows[0]?.locked === true),
        unlock: (key) =>
          mutex.run(async () => {
            if (!closed) await pglite.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]);
          }),
        ping: () => mutex.run(async () => void (await pglite.query('SELECT 1'))),
        close() {
          alive = false;
          return Promise.resolve();
        },
      });
    },
    async listen(channel, handler) {
      // PGlite's listen runs LISTEN on the session: take the mutex so it is not inside someone's transaction.
      const stop = await mutex.run(() => pglite.listen(channel, handler));
      return () => mutex.run(() => stop());
    },
    onListenReset() {
      // In-process: the listener cannot be lost.
    },
    ping: () => mutex.run(async () => void (await pglite.query('SELECT 1'))),
    async close() {
      closed = true;
      await db.destroy();
      await mutex.run(() => pglite.close());
    },
  };
}
