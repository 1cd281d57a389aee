/** Liveness, readiness, Prometheus metrics and the cluster view. */
import { Controller, Get, Inject, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiExcludeEndpoint, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthGuard, type HttpResponse } from '../common/http.js';
import { ApiErrors } from '../common/openapi.js';
import { STORE } from '../common/tokens.js';
import type { Store } from '../store/database.js';
import { migrationStatus, type MigrationFile } from '../store/migrations.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ClusterService } from '../cluster/cluster.service.js';

export const MIGRATION_FILES = Symbol('MigrationFiles');

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(MIGRATION_FILES) private readonly migrations: readonly MigrationFile[],
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  @Get('healthz')
  @ApiOperation({ summary: 'Liveness: the process serves requests' })
  healthz(): unknown {
    return { status: 'ok' };
  }

  @Get('readyz')
  @ApiOperation({ summary: 'Readiness: the database answers and every migration is applied (503 otherwise)' })
  @ApiResponse({ status: 200, description: 'Ready' })
  @ApiResponse({ status: 503, description: 'Not ready, with the reason' })
  async readyz(@Res() response: HttpResponse): Promise<void> {
    let database: { ok: boolean; error?: string } = { ok: true };
    try {
      await this.store.ping();
    } catch (error) {
      database = { ok: false, error: error instanceof Error ? error.message : String(error) };
    }
    const migrations = database.ok ? await migrationStatus(this.store, this.migrations) : { ok: false, expected: this.migrations.length, applied: 0, problem: 'database unreachable' };
    const ready = database.ok && migrations.ok;
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', database: { kind: this.store.kind, ...database }, migrations });
  }

  @Get('metrics')
  @ApiExcludeEndpoint()
  async prometheus(@Res() response: HttpResponse): Promise<void> {
    const body = await this.metrics.render();
    response.setHeader('Content-Type', this.metrics.contentType);
    response.status(200);
    response.end(body);
  }
}

@ApiTags('cluster')
@ApiBearerAuth()
@Controller('api/v1/cluster')
@UseGuards(AuthGuard)
export class ClusterController {
  constructor(@Inject(ClusterService) private readonly cluster: ClusterService) {}

  @Get()
  @ApiOperation({ summary: 'Running replicas, which one leads, and how many agents each holds' })
  @ApiResponse({
    status: 200,
    schema: {
      type: 'object',
      properties: {
        self: { type: 'string' },
        leader: { type: 'string', nullable: true },
        replicas: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, httpUrl: { type: 'string' }, grpcAddress: { type: 'string' }, leader: { type: 'boolean' }, connectedNodes: { type: 'integer' } } } },
      },
    },
  })
  @ApiErrors(401)
  view(): Promise<unknown> {
    return this.cluster.view();
  }
}
