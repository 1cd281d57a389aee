/**
 * The composition root: `startController(config)` opens the store, applies migrations, builds
 * the NestJS application (REST, SSE, OpenAPI, /metrics, health), starts the agent gRPC server
 * and the background machinery (status writer, ingest, leadership), and returns a handle whose
 * `close()` stops everything in order. Tests run it in-process; main.ts runs it as a process.
 */
import { existsSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { ControllerConfig } from './config/config.js';
import { createLogger, nestLogger, type LogSink, type Logger } from './common/logger.js';
import { systemClock, type Clock } from './common/tokens.js';
import { openStore, type Store } from './store/database.js';
import { DEFAULT_MIGRATIONS_DIR, readMigrations, runMigrations } from './store/migrations.js';
import { AppModule } from './app.module.js';
import { EventsService } from './events/events.service.js';
import { TokenService } from './token/token.service.js';
import { ClusterService } from './cluster/cluster.service.js';
import { LeadershipService, type LeaderTask } from './cluster/leadership.service.js';
import { deadReplicaTask, metricRetentionTask, staleNodesTask } from './cluster/housekeeping.js';
import { StatusWriter } from './agent-stream/status-writer.js';
import { AgentStreamService } from './agent-stream/agent-stream.service.js';
import { startGrpcServer, type GrpcServerHandle } from './agent-stream/grpc-server.js';
import { IngestService } from './metrics/ingest.service.js';
import { MetricsService } from './metrics/metrics.service.js';
import { MetricSampleRepository } from './metrics/metric-sample.repository.js';
import { NodeRepository } from './node/node.repository.js';
import { RolloutModule } from './rollout/rollout.module.js';
import { loadRolloutConfig, type RolloutConfig } from './rollout/rollout.config.js';

export interface StartOptions {
  /** Where log lines go (default stderr). */
  readonly logSink?: LogSink;
  /** Further NestJS modules mounted with the built-in ones. */
  readonly extraModules?: readonly Type[];
  /**
   * The rollout domain (REST and the orchestrator on the leader) is mounted by default, with
   * settings from THP_ROLLOUT_* unless `config` is given; `false` leaves it out.
   */
  readonly rollouts?: false | { readonly config?: RolloutConfig };
  /** Leader tasks to register in addition to the built-in housekeeping. */
  readonly leaderTasks?: readonly LeaderTask[];
  readonly clock?: Clock;
  readonly migrationsDir?: string;
}

export interface ControllerHandle {
  readonly httpUrl: string;
  /** host:port of the agent gRPC server. */
  readonly grpcAddress: string;
  readonly replicaId: string;
  /** The admin token this start created because none existed (shown once), else null. */
  readonly bootstrapAdminToken: string | null;
  readonly storeKind: 'postgres' | 'pglite';
  /** The NestJS application, to reach services (`app.get(AssignmentService)`). */
  readonly app: INestApplication;
  close(): Promise<void>;
}

const NOT_DASHBOARD = /^\/(api|metrics|healthz|readyz)(\/|$)/;

function mountDashboard(app: NestExpressApplication, dir: string, log: Logger): void {
  const index = join(dir, 'index.html');
  if (!existsSync(dir) || !statSync(dir).isDirectory() || !existsSync(index)) {
    log.info('no dashboard to serve (THP_DASHBOARD_DIR has no index.html)', { dir });
    return;
  }
  app.useStaticAssets(dir, { index: 'index.html', maxAge: '1h' });
  // Single-page app: unknown non-API paths without a file extension get index.html.
  app.use((request: IncomingMessage & { path?: string }, response: ServerResponse & { sendFile(path: string): void }, next: () => void) => {
    const path = request.path ?? request.url ?? '/';
    if ((request.method === 'GET' || request.method === 'HEAD') && !NOT_DASHBOARD.test(path) && !/\.[a-z0-9]+$/i.test(path)) {
      response.sendFile(index);
      return;
    }
    next();
  });
  log.info('serving the dashboard', { dir });
}

const isPolicyRequest = (request: IncomingMessage): boolean => (request.url ?? '').startsWith('/api/v1/policies');
const isJsonRequest = (request: IncomingMessage): boolean => !isPolicyRequest(request) && /json/i.test(request.headers['content-type'] ?? '');

export async function startController(config: ControllerConfig, options: StartOptions = {}): Promise<ControllerHandle> {
  const logger = createLogger(config.logLevel, config.replicaId, options.logSink);
  const clock = options.clock ?? systemClock;
  const migrationsDir = options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR;
  // Read before anything starts, so bad THP_ROLLOUT_* values stop the start with every problem.
  const rolloutModules = options.rollouts === false ? [] : [RolloutModule.forRoot(options.rollouts?.config ?? loadRolloutConfig(process.env))];
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) {
      try {
        await step();
      } catch (error) {
        logger.warn('shutdown step failed', { error });
      }
    }
    cleanups.length = 0;
  };

  const store: Store = await openStore(config.database, logger, `thp-controller:${config.replicaId}`);
  cleanups.push(() => store.close());
  try {
    const migrations = readMigrations(migrationsDir);
    const applied = await runMigrations(store, logger, migrationsDir);
    logger.info('store ready', { store: store.describe, migrationsApplied: applied.length, migrations: migrations.length });

    const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot({ config, store, logger, clock, migrations }, [...rolloutModules, ...(options.extraModules ?? [])]), new ExpressAdapter(), {
      bodyParser: false,
      logger: nestLogger(logger),
      abortOnError: false,
      // Open SSE streams must not hold shutdown.
      forceCloseConnections: true,
    });
    cleanups.push(() => app.close());
    app.useBodyParser('text', { type: isPolicyRequest, limit: config.http.bodyLimitBytes });
    app.useBodyParser('json', { type: isJsonRequest, limit: config.http.bodyLimitBytes });
    (app.getHttpAdapter().getInstance() as { disable(setting: string): void }).disable('x-powered-by');
    const openapi = new DocumentBuilder()
      .setTitle('thp-fleet controller')
      .setDescription('Versioned THP policies, desired state per node, the fleet as the agents report it, the audit chain and API tokens.')
      .setVersion('v1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API token (thp_...)' })
      .build();
    SwaggerModule.setup('api/docs', app, () => SwaggerModule.createDocument(app, openapi), { jsonDocumentUrl: 'api/docs-json' });
    if (config.dashboardDir !== null) mountDashboard(app, config.dashboardDir, logger);
    await app.init();

    const events = app.get(EventsService);
    await events.start(config.replicaId);
    cleanups.push(() => events.stop());

    const tokens = app.get(TokenService);
    const cluster = app.get(ClusterService);
    tokens.setAgentSecret(await cluster.agentSecret());
    const bootstrapAdminToken = await tokens.ensureBootstrapAdmin(config.adminToken);

    const writer = app.get(StatusWriter);
    writer.start(config.replicaId);
    cleanups.push(() => writer.close());
    const ingest = app.get(IngestService);
    ingest.start();
    cleanups.push(() => ingest.close());

    const streams = app.get(AgentStreamService);
    await streams.start(config.replicaId);
    const metrics = app.get(MetricsService);
    const grpc: GrpcServerHandle = await startGrpcServer(config, { streams, metrics, log: logger, secret: () => tokens.nodeTokenSecret });
    cleanups.push(async () => {
      grpc.health.shutdown();
      await streams.stop();
      await grpc.close();
    });

    await app.listen(config.http.port, config.http.host);
    const address = app.getHttpServer().address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const httpUrl = `http://${host}:${address.port}`;

    await cluster.start(httpUrl, grpc.address);
    cleanups.push(() => cluster.stop());
    const leadership = app.get(LeadershipService);
    const deps = { config, store, clock, nodes: app.get(NodeRepository), samples: app.get(MetricSampleRepository), cluster, events, metrics, log: logger.child('housekeeping') };
    for (const task of [staleNodesTask(deps), deadReplicaTask(deps), metricRetentionTask(deps), ...(options.leaderTasks ?? [])]) leadership.register(task);
    leadership.start();
    cleanups.push(() => leadership.stop());

    logger.info('controller ready', { http: httpUrl, grpc: grpc.address, store: store.kind, tls: config.grpc.tls ? (config.grpc.tls.clientCaFile ? 'mutual' : 'server') : 'off' });
    let closing: Promise<void> | undefined;
    return {
      httpUrl,
      grpcAddress: grpc.address,
      replicaId: config.replicaId,
      bootstrapAdminToken,
      storeKind: store.kind,
      app,
      close: () => {
        closing ??= cleanup().then(() => logger.info('controller stopped'));
        return closing;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
