/** REST: server-sent events of fleet changes from every replica. */
import { Controller, Inject, Req, Sse, UseGuards, type MessageEvent } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import { Observable, filter, interval, map, merge, of } from 'rxjs';
import { AppError } from '../common/errors.js';
import { AllowQueryToken, AuthGuard, queryParam, type HttpRequest } from '../common/http.js';
import { ApiErrors } from '../common/openapi.js';
import { CONFIG } from '../common/tokens.js';
import type { ControllerConfig } from '../config/config.js';
import { EventsService, type KnownEventType } from './events.service.js';

const EVENT_TYPES: readonly KnownEventType[] = ['node', 'policy', 'assignment', 'audit', 'rollout'];
/** A comment-like keepalive so proxies keep the connection open. */
export const SSE_PING_MS = 15_000;

@ApiTags('events')
@ApiBearerAuth()
@Controller('api/v1/events')
@UseGuards(AuthGuard)
export class EventsController {
  constructor(
    @Inject(EventsService) private readonly events: EventsService,
    @Inject(CONFIG) private readonly config: ControllerConfig,
  ) {}

  @Sse()
  @AllowQueryToken()
  @ApiOperation({
    summary: 'Server-sent events: node, policy, assignment, audit (and rollout). data is JSON {type, data, origin, at}; a "ping" every 15 s. EventSource may pass ?access_token=.',
  })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'types', required: false, description: 'Comma-separated event types (default all)' })
  @ApiQuery({ name: 'access_token', required: false, description: 'API token, for clients that cannot send headers' })
  @ApiErrors(400, 401)
  stream(@Req() request: HttpRequest): Observable<MessageEvent> {
    const raw = queryParam(request, 'types');
    const wanted = new Set<string>(raw === undefined || raw === '' ? EVENT_TYPES : raw.split(',').map((t) => t.trim()));
    const unknown = [...wanted].filter((type) => !(EVENT_TYPES as readonly string[]).includes(type));
    if (unknown.length > 0) throw new AppError('invalid_argument', `unknown event type ${unknown.join(', ')}`, [{ path: 'query.types', message: `allowed: ${EVENT_TYPES.join(', ')}` }]);
    return merge(
      of<MessageEvent>({ type: 'hello', data: { replica: this.config.replicaId, types: [...wanted] } }),
      this.events.events$.pipe(
        filter((event) => wanted.has(event.type)),
        map((event): MessageEvent => ({ type: event.type, data: event })),
      ),
      interval(SSE_PING_MS).pipe(map((): MessageEvent => ({ type: 'ping', data: { at: new Date().toISOString() } }))),
    );
  }
}
