/** REST: read and verify the audit chain. */
import { Controller, Get, Inject, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthGuard, queryParam, type HttpRequest } from '../common/http.js';
import { ApiErrors } from '../common/openapi.js';
import { CLOCK, type Clock } from '../common/tokens.js';
import { validate } from '../common/validation.js';
import { parseSince } from '../node/node.dto.js';
import { AuditService } from './audit.service.js';
import { AUDIT_ENTRY_SCHEMA, AUDIT_LIMIT, SEQ_PARAM, TEXT_FILTER, auditView } from './audit.dto.js';

@ApiTags('audit')
@ApiBearerAuth()
@Controller('api/v1/audit')
@UseGuards(AuthGuard)
export class AuditController {
  constructor(
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Audit entries, newest first, with filters; page with ?before=<next>' })
  @ApiQuery({ name: 'actor', required: false })
  @ApiQuery({ name: 'action', required: false, description: 'e.g. policy.create, policy.version.create, assignment.set, token.create' })
  @ApiQuery({ name: 'targetType', required: false })
  @ApiQuery({ name: 'targetId', required: false })
  @ApiQuery({ name: 'since', required: false, description: 'ISO time or duration ago (15m)' })
  @ApiQuery({ name: 'until', required: false, description: 'ISO time' })
  @ApiQuery({ name: 'before', required: false, type: Number, description: 'Only entries with seq below this (paging cursor)' })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: 'Default 100, max 1000' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { entries: { type: 'array', items: AUDIT_ENTRY_SCHEMA }, next: { type: 'integer', nullable: true } } } })
  @ApiErrors(400, 401)
  async list(@Req() request: HttpRequest): Promise<unknown> {
    const text = (name: string): string | undefined => {
      const value = queryParam(request, name);
      return value === undefined ? undefined : validate(TEXT_FILTER, value, `query.${name}`);
    };
    const rawSince = queryParam(request, 'since');
    const rawUntil = queryParam(request, 'until');
    const rawBefore = queryParam(request, 'before');
    const rawLimit = queryParam(request, 'limit');
    const limit = rawLimit === undefined ? 100 : validate(AUDIT_LIMIT, rawLimit, 'query.limit');
    const filter = {
      ...optional('actor', text('actor')),
      ...optional('action', text('action')),
      ...optional('targetType', text('targetType')),
      ...optional('targetId', text('targetId')),
      ...optional('since', rawSince === undefined ? undefined : parseSince(rawSince, this.clock.now(), 0)),
      ...optional('until', rawUntil === undefined ? undefined : parseSince(rawUntil, this.clock.now(), 0)),
      ...optional('before', rawBefore === undefined ? undefined : validate(SEQ_PARAM, rawBefore, 'query.before')),
      limit,
    };
    const entries = await this.audit.list(filter);
    const last = entries[entries.length - 1];
    return { entries: entries.map(auditView), next: entries.length === limit && last ? last.seq : null };
  }

  @Get('verify')
  @ApiOperation({ summary: 'Recompute the hash chain from the first row; report the first broken link. Keep headHash elsewhere to detect removal of the newest rows.' })
  @ApiResponse({
    status: 200,
    schema: {
      type: 'object',
      properties: {
        ok: { type: 'boolean' },
        checked: { type: 'integer' },
        headSeq: { type: 'integer', nullable: true },
        headHash: { type: 'string', nullable: true },
        firstBroken: { type: 'object', properties: { seq: { type: 'integer' }, reason: { type: 'string' }, expected: { type: 'string' }, actual: { type: 'string' } } },
      },
    },
  })
  @ApiErrors(401)
  verify(): Promise<unknown> {
    return this.audit.verify();
  }
}

function optional<K extends string, T>(key: K, value: T | undefined): { [P in K]?: T } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: T });
}
