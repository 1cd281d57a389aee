/* eslint-disable @typescript-eslint/no-explicit-any -- REST response bodies are untyped JSON that tests check with expect() */
/**
 * Test helpers: databases of both kinds, a controller on free ports with fast intervals, a
 * REST client, and a real gRPC agent over loopback. No mocks: everything here talks to a real
 * Postgres (or embedded PGlite) and real sockets.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { AgentMessageSchema, AgentService, Backend, HookAbi, NackStage, createClient, type AgentMessage, type ControllerMessage } from '@thp-fleet/proto';
import { createTestDatabase } from '@thp-fleet/testing';
import type { ControllerConfig, DatabaseConfig } from './config/config.js';
import { DEFAULTS } from './config/config.js';
import { startController, type ControllerHandle, type StartOptions } from './app.js';
import { mintNodeToken } from './token/node-token.js';

export type StoreKind = 'postgres' | 'pglite';

export interface TestDatabaseHandle {
  readonly database: DatabaseConfig;
  readonly describe: string;
  drop(): Promise<void>;
}

/**
 * A fresh database of the given kind. 'postgres' is whatever createTestDatabase provides (the
 * real Postgres here; it says so on stderr); 'pglite' is always an embedded PGlite data directory.
 */
export async function testDatabase(kind: StoreKind, label: string): Promise<TestDatabaseHandle> {
  if (kind === 'postgres') {
    const db = await createTestDatabase(label);
    return db.kind === 'postgres'
      ? { database: { kind: 'postgres', url: db.url, poolSize: 10 }, describe: db.describe, drop: () => db.drop() }
      : { database: { kind: 'pglite', dataDir: db.dataDir }, describe: db.describe, drop: () => db.drop() };
  }
  const dataDir = await mkdtemp(join(tmpdir(), `thp-pglite-${label}-`));
  process.stderr.write(`[test-db] ${label}: using embedded PGlite ${dataDir}\n`);
  return { database: { kind: 'pglite', dataDir }, describe: `embedded PGlite ${dataDir}`, drop: () => rm(dataDir, { recursive: true, force: true }) };
}

export const ADMIN_TOKEN = `thp_${'A'.repeat(20)}admin${'0'.repeat(20)}`;
export const AGENT_SECRET = 'test-agent-secret-0123456789-abcdefghijklmnop';

export function testConfig(database: DatabaseConfig, overrides: Omit<Partial<ControllerConfig>, 'intervals'> & { intervals?: Partial<ControllerConfig['intervals']> } = {}): ControllerConfig {
  const { intervals, ...rest } = overrides;
  return {
    database,
    http: { host: '127.0.0.1', port: 0, bodyLimitBytes: 64 * 1024 },
    grpc: { host: '127.0.0.1', port: 0, tls: null, maxMessageBytes: DEFAULTS.grpcMaxMessageBytes },
    replicaId: `test-${Math.random().toString(36).slice(2, 8)}`,
    adminToken: ADMIN_TOKEN,
    agentSecret: AGENT_SECRET,
    dashboardDir: null,
    intervals: {
      heartbeatMs: 200,
      staleAfterMs: 3_000,
      metricsIntervalMs: 500,
      leaseTtlMs: 60_000,
      metricRetentionMs: DEFAULTS.metricRetentionMs,
      leaderPollMs: 200,
      replicaHeartbeatMs: 200,
      ...intervals,
    },
    logLevel: process.env['THP_TEST_LOG'] === '1' ? 'debug' : 'warn',
    ...rest,
  };
}

export function startTestController(config: ControllerConfig, options: StartOptions = {}): Promise<ControllerHandle> {
  return startController(config, options);
}

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** A small REST client for the controller's API. */
export function apiClient(baseUrl: string, token: string | null = ADMIN_TOKEN) {
  const call = async <T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> => {
    const init: RequestInit = { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } };
    if (body !== undefined) {
      if (typeof body === 'string') {
        init.body = body;
        (init.headers as Record<string, string>)['content-type'] ??= 'application/yaml';
      } else {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
      }
    }
    const response = await fetch(`${baseUrl}${path}`, init);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  };
  return {
    get: <T = any>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', path, body, headers),
    put: <T = any>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('PUT', path, body, headers),
    delete: <T = any>(path: string, headers?: Record<string, string>) => call<T>('DELETE', path, undefined, headers),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/** A policy document: THP (orders) for cgroups matching `glob`, nothing else. */
export function policyYaml(name: string, options: { orders?: number[]; glob?: string; description?: string; withoutHook?: 'deny' | 'node-level' } = {}): string {
  const orders = options.orders ?? [9];
  return [
    'apiVersion: thp.fleet/v1',
    'kind: ThpPolicy',
    'metadata:',
    `  name: ${name}`,
    `  description: "${options.description ?? `test policy ${name}`}"`,
    'spec:',
    '  default: { action: deny }',
    '  rules:',
    '    - name: main',
    '      match:',
    `        cgroups: ["${options.glob ?? '/workloads.slice/**/zgc-*'}"]`,
    `      allow: { orders: [${orders.join(', ')}] }`,
    ...(options.withoutHook ? ['  node:', `    withoutHook: ${options.withoutHook}`] : []),
    '',
  ].join('\n');
}

/** Poll until `check` returns a value (not undefined/false) or time runs out. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface AgentOptions {
  readonly nodeId: string;
  readonly address: string;
  /** Defaults to a valid token for nodeId; null = send none. */
  readonly token?: string | null;
  readonly helloNodeId?: string;
  readonly labels?: Record<string, string>;
  readonly applied?: { policy: string; version: number; specHash: string };
  readonly credentials?: grpc.ChannelCredentials;
  readonly channelOptions?: grpc.ClientOptions;
  readonly sendHello?: boolean;
}

/** A real agent over gRPC: records what it receives; the test decides what to answer. */
export class TestAgent {
  readonly received: ControllerMessage[] = [];
  status: grpc.StatusObject | undefined;
  error: grpc.ServiceError | undefined;
  private readonly client;
  private readonly stream: grpc.ClientDuplexStream<AgentMessage, ControllerMessage>;
  private readonly ended: Promise<void>;

  constructor(readonly options: AgentOptions) {
    this.client = createClient(AgentService, options.address, options.credentials ?? grpc.credentials.createInsecure(), options.channelOptions);
    const metadata = new grpc.Metadata();
    const token = options.token === undefined ? mintNodeToken(options.nodeId, AGENT_SECRET) : options.token;
    if (token !== null) metadata.set('authorization', `Bearer ${token}`);
    this.stream = this.client.connect(metadata);
    this.ended = new Promise((resolve) => {
      this.stream.on('data', (message: ControllerMessage) => this.received.push(message));
      this.stream.on('status', (status: grpc.StatusObject) => {
        this.status = status;
        resolve();
      });
      this.stream.on('error', (error: grpc.ServiceError) => {
        this.error = error;
      });
    });
    if (options.sendHello !== false) this.hello();
  }

  hello(): void {
    this.send({
      case: 'hello',
      value: {
        nodeId: this.options.helloNodeId ?? this.options.nodeId,
        labels: this.options.labels ?? { zone: 'a' },
        kernelRelease: '6.18.0-test',
        agentVersion: 'test',
        capabilities: { backends: [Backend.SIM], activeBackend: Backend.SIM, hookAbi: HookAbi.ABSENT, sysfs: { enabled: 'madvise', defrag: 'madvise' } },
        ...(this.options.applied ? { applied: this.options.applied } : {}),
      },
    });
  }

  send(kind: NonNullable<MessageInitShape<typeof AgentMessageSchema>['kind']>): void {
    this.stream.write(create(AgentMessageSchema, { kind }));
  }

  assignments() {
    return this.received.flatMap((m) => (m.kind.case === 'assignment' ? [m.kind.value] : []));
  }

  revokes() {
    return this.received.flatMap((m) => (m.kind.case === 'revoke' ? [m.kind.value] : []));
  }

  async nextAssignment(after = 0, timeoutMs = 10_000) {
    return eventually(() => this.assignments()[after], timeoutMs, `assignment #${after + 1} to ${this.options.nodeId}`);
  }

  ack(assignment: { nonce: string; policy: string; version: number; specHash: string }): void {
    this.send({ case: 'ack', value: { nonce: assignment.nonce, policy: assignment.policy, version: assignment.version, specHash: assignment.specHash } });
  }

  nack(assignment: { nonce: string; policy: string; version: number }, message = 'verifier rejected the program'): void {
    this.send({ case: 'nack', value: { nonce: assignment.nonce, policy: assignment.policy, version: assignment.version, error: { stage: NackStage.VERIFY, message, detail: 'R1 invalid mem access' } } });
  }

  /** Resolves with the final status once the server ends the stream. */
  async closedStatus(timeoutMs = 10_000): Promise<grpc.StatusObject> {
    await Promise.race([this.ended, new Promise((_, reject) => setTimeout(() => reject(new Error(`stream of ${this.options.nodeId} did not end`)), timeoutMs))]);
    return this.status as grpc.StatusObject;
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }

  cancel(): void {
    this.stream.cancel();
    this.client.close();
  }
}

/** An open, migrated store of the given kind (for repository tests). */
export async function openTestStore(kind: StoreKind, label: string): Promise<{ store: import('./store/database.js').Store; describe: string; close(): Promise<void> }> {
  const { openStore } = await import('./store/database.js');
  const { runMigrations } = await import('./store/migrations.js');
  const { createLogger } = await import('./common/logger.js');
  const db = await testDatabase(kind, label);
  const logger = createLogger('warn', 'test');
  const store = await openStore(db.database, logger, `thp-test:${label}`);
  await runMigrations(store, logger);
  return {
    store,
    describe: db.describe,
    async close() {
      await store.close();
      await db.drop();
    },
  };
}

export const quietLogger = async () => (await import('./common/logger.js')).createLogger('error', 'test');
