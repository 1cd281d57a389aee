/**
 * NestJS modules, one per domain. Values built by the composition root (config, store, logger,
 * clock, migration files) enter through CoreModule, which is global together with the
 * cross-cutting services (metrics, events, audit). Every constructor parameter names its
 * token with @Inject (no emitDecoratorMetadata: tests run under Vite/oxc, processes under tsx).
 */
import { Global, Module, type DynamicModule, type Provider, type Type } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { ControllerConfig } from './config/config.js';
import type { Logger } from './common/logger.js';
import { AuthGuard, HttpErrorFilter } from './common/http.js';
import { CLOCK, CONFIG, LOGGER, STORE, type Clock } from './common/tokens.js';
import type { Store } from './store/database.js';
import type { MigrationFile } from './store/migrations.js';
import { AuditController } from './audit/audit.controller.js';
import { AuditRepository } from './audit/audit.repository.js';
import { AuditService } from './audit/audit.service.js';
import { EventsController } from './events/events.controller.js';
import { EventsService } from './events/events.service.js';
import { MetricsService } from './metrics/metrics.service.js';
import { MetricSampleRepository } from './metrics/metric-sample.repository.js';
import { IngestService } from './metrics/ingest.service.js';
import { TokenController } from './token/token.controller.js';
import { TokenRepository } from './token/token.repository.js';
import { TokenService } from './token/token.service.js';
import { PolicyController } from './policy/policy.controller.js';
import { PolicyRepository } from './policy/policy.repository.js';
import { PolicyService } from './policy/policy.service.js';
import { PolicyCatalog } from './policy/policy-catalog.js';
import { NodeController } from './node/node.controller.js';
import { NodeRepository } from './node/node.repository.js';
import { NodeService } from './node/node.service.js';
import { AssignmentController } from './assignment/assignment.controller.js';
import { AssignmentRepository } from './assignment/assignment.repository.js';
import { AssignmentService } from './assignment/assignment.service.js';
import { ClusterRepository } from './cluster/cluster.repository.js';
import { ClusterService } from './cluster/cluster.service.js';
import { LeadershipService } from './cluster/leadership.service.js';
import { StatusWriter } from './agent-stream/status-writer.js';
import { AgentStreamService } from './agent-stream/agent-stream.service.js';
import { ClusterController, HealthController, MIGRATION_FILES } from './health/health.controller.js';

export interface CoreValues {
  readonly config: ControllerConfig;
  readonly store: Store;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly migrations: readonly MigrationFile[];
}

@Global()
@Module({})
export class CoreModule {
  static forRoot(values: CoreValues): DynamicModule {
    const providers: Provider[] = [
      { provide: CONFIG, useValue: values.config },
      { provide: STORE, useValue: values.store },
      { provide: LOGGER, useValue: values.logger },
      { provide: CLOCK, useValue: values.clock },
      { provide: MIGRATION_FILES, useValue: values.migrations },
      MetricsService,
      EventsService,
      AuditRepository,
      AuditService,
    ];
    return { module: CoreModule, providers, exports: providers.map((p) => (typeof p === 'function' ? p : p.provide)) };
  }
}

@Module({ providers: [TokenRepository, TokenService, AuthGuard], controllers: [TokenController], exports: [TokenService, AuthGuard] })
export class TokenModule {}

@Module({ imports: [TokenModule], controllers: [AuditController] })
export class AuditModule {}

@Module({ imports: [TokenModule], controllers: [EventsController] })
class EventsHttpModule {}

@Module({ providers: [MetricSampleRepository, IngestService], exports: [MetricSampleRepository, IngestService] })
export class MetricsModule {}

@Module({ imports: [TokenModule], providers: [PolicyRepository, PolicyService, PolicyCatalog], controllers: [PolicyController], exports: [PolicyRepository, PolicyService, PolicyCatalog] })
export class PolicyModule {}

@Module({
  imports: [TokenModule, PolicyModule, MetricsModule],
  providers: [NodeRepository, NodeService, AssignmentRepository, AssignmentService],
  controllers: [NodeController, AssignmentController],
  exports: [NodeRepository, NodeService, AssignmentRepository, AssignmentService],
})
export class NodeModule {}

@Module({ imports: [TokenModule], providers: [ClusterRepository, ClusterService, LeadershipService], controllers: [ClusterController, HealthController], exports: [ClusterService, LeadershipService] })
export class ClusterModule {}

@Module({ imports: [NodeModule, PolicyModule, MetricsModule], providers: [StatusWriter, AgentStreamService], exports: [AgentStreamService, StatusWriter] })
export class AgentStreamModule {}

@Module({})
export class AppModule {
  /** `extraModules`: further domains (the rollout module, app.ts) that import the modules above. */
  static forRoot(values: CoreValues, extraModules: readonly (Type | DynamicModule)[] = []): DynamicModule {
    return {
      module: AppModule,
      imports: [CoreModule.forRoot(values), TokenModule, AuditModule, EventsHttpModule, MetricsModule, PolicyModule, NodeModule, ClusterModule, AgentStreamModule, ...extraModules],
      providers: [{ provide: APP_FILTER, useClass: HttpErrorFilter }],
    };
  }
}
