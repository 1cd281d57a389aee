/** REST: nodes, a node's assignment, node tokens and recent metric samples. */
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Put, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AppError } from '../common/errors.js';
import { AuthGuard, CurrentPrincipal, RequireRole, ifMatchVersion, jsonBody, queryParam, type HttpRequest, type HttpResponse } from '../common/http.js';
import { ApiErrors, bodySchema } from '../common/openapi.js';
import { CLOCK, type Clock } from '../common/tokens.js';
import { parseLabelSelector, validate } from '../common/validation.js';
import { AssignmentService } from '../assignment/assignment.service.js';
import { ETag } from '../policy/policy.dto.js';
import { TokenService, actorOf, type Principal } from '../token/token.service.js';
import { ASSIGNMENT_BODY, LIMIT_PARAM, METRIC_NAME_PARAM, NODE_ID_PARAM, NODE_SCHEMA, SAMPLE_LIMIT_PARAM, parseSince, parseStates } from './node.dto.js';
import { NodeService } from './node.service.js';

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('api/v1/nodes')
@UseGuards(AuthGuard)
export class NodeController {
  constructor(
    @Inject(NodeService) private readonly nodes: NodeService,
    @Inject(AssignmentService) private readonly assignments: AssignmentService,
    @Inject(TokenService) private readonly tokens: TokenService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List nodes with desired, intended, acknowledged and observed policy, state, drift and NACK reason' })
  @ApiQuery({ name: 'labels', required: false, description: 'Label selector k=v,k2=v2 (all must match)' })
  @ApiQuery({ name: 'state', required: false, description: 'Comma-separated states: in-sync, drifted, pending, nacked, stale, incompatible, unassigned' })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: 'Page size (default 1000, max 10000)' })
  @ApiQuery({ name: 'after', required: false, description: 'Paging cursor: the `next` of the previous page' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { nodes: { type: 'array', items: NODE_SCHEMA }, next: { type: 'string', nullable: true }, total: { type: 'integer' } } } })
  @ApiErrors(400, 401)
  async list(@Req() request: HttpRequest): Promise<unknown> {
    const labels = parseLabelSelector(queryParam(request, 'labels'), 'query.labels');
    const states = parseStates(queryParam(request, 'state'));
    const rawLimit = queryParam(request, 'limit');
    const limit = rawLimit === undefined ? 1_000 : validate(LIMIT_PARAM, rawLimit, 'query.limit');
    const after = queryParam(request, 'after');
    return this.nodes.list({ labels, ...(states ? { states } : {}), ...(after !== undefined ? { after } : {}), limit });
  }

  @Get('summary')
  @ApiOperation({ summary: 'Node counts by state' })
  @ApiErrors(401)
  summary(): Promise<unknown> {
    return this.nodes.summary();
  }

  @Get(':id')
  @ApiOperation({ summary: 'One node; ETag is its assignment revision ("rev-N", for If-Match on PUT .../assignment)' })
  @ApiParam({ name: 'id', type: String })
  @ApiResponse({ status: 200, schema: NODE_SCHEMA })
  @ApiErrors(400, 401, 404)
  async get(@Param('id') rawId: string, @Res({ passthrough: true }) response: HttpResponse): Promise<unknown> {
    const id = validate(NODE_ID_PARAM, rawId, 'path.id');
    const node = await this.nodes.get(id);
    response.setHeader('ETag', ETag.assignment(node.desired?.revision ?? 0));
    return node;
  }

  @Get(':id/quarantine')
  @ApiOperation({ summary: 'Versions this node rejected (never sent to it again), newest first' })
  @ApiParam({ name: 'id', type: String })
  @ApiErrors(400, 401, 404)
  async quarantine(@Param('id') rawId: string): Promise<unknown> {
    const id = validate(NODE_ID_PARAM, rawId, 'path.id');
    const entries = await this.nodes.quarantine(id);
    return { nodeId: id, entries: entries.map((q) => ({ policy: q.policy, version: q.version, specHash: q.specHash, stage: q.stage, message: q.message, detail: q.detail, at: q.nackedAt.toISOString() })) };
  }

  @Get(':id/metrics')
  @ApiOperation({ summary: 'Recent metric samples of a node (for charts), oldest first' })
  @ApiParam({ name: 'id', type: String })
  @ApiQuery({ name: 'name', required: false, description: 'Metric name, e.g. thp_fault_alloc or psi_memory_some_avg10' })
  @ApiQuery({ name: 'cgroup', required: false, description: 'Cgroup path ("" for node-wide)' })
  @ApiQuery({ name: 'since', required: false, description: 'ISO time or a duration ago such as 15m (default 1h)' })
  @ApiQuery({ name: 'limit', required: false, type: Number, description: 'Newest samples kept (default 5000)' })
  @ApiErrors(400, 401, 404)
  async metrics(@Param('id') rawId: string, @Req() request: HttpRequest): Promise<unknown> {
    const id = validate(NODE_ID_PARAM, rawId, 'path.id');
    const rawName = queryParam(request, 'name');
    const name = rawName === undefined ? undefined : validate(METRIC_NAME_PARAM, rawName, 'query.name');
    const cgroup = queryParam(request, 'cgroup');
    const since = parseSince(queryParam(request, 'since'), this.clock.now(), 3_600_000);
    const rawLimit = queryParam(request, 'limit');
    const limit = rawLimit === undefined ? 5_000 : validate(SAMPLE_LIMIT_PARAM, rawLimit, 'query.limit');
    const { samples, names } = await this.nodes.metrics(id, { ...(name !== undefined ? { name } : {}), ...(cgroup !== undefined ? { cgroup } : {}), since, limit });
    return { nodeId: id, since: since.toISOString(), names, samples: samples.map((s) => ({ ts: s.ts.toISOString(), name: s.name, cgroup: s.cgroup, kind: s.kind === 1 ? 'counter' : s.kind === 2 ? 'gauge' : 'histogram', value: s.value })) };
  }

  @Put(':id/assignment')
  @RequireRole('operator')
  @ApiOperation({ summary: "Set the node's desired policy version ({policy: null} = none). If-Match: \"rev-N\" (the node's ETag) guards against concurrent changes." })
  @ApiParam({ name: 'id', type: String })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiBody({ schema: bodySchema(ASSIGNMENT_BODY) })
  @ApiErrors(400, 401, 403, 404, 409, 415)
  async setAssignment(@Param('id') rawId: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const id = validate(NODE_ID_PARAM, rawId, 'path.id');
    const body = validate(ASSIGNMENT_BODY, jsonBody(request), 'body');
    if (body.policy !== null && body.version === undefined) throw new AppError('invalid_argument', 'version is required with a policy', [{ path: 'body.version', message: 'is required' }]);
    if (body.policy === null && body.version !== undefined) throw new AppError('invalid_argument', 'no version without a policy', [{ path: 'body.version', message: 'must be omitted when policy is null' }]);
    const expected = ifMatchVersion(request, 'assignment') ?? body.expectedRevision;
    const options = { actor: actorOf(principal), ...(expected !== undefined ? { expectedRevisions: new Map([[id, expected]]) } : {}), ...(body.reason ? { reason: body.reason } : {}) };
    const change = body.policy === null ? await this.assignments.clearDesired([id], options) : await this.assignments.setDesired([id], body.policy, body.version ?? 0, options);
    const node = await this.nodes.get(id);
    response.setHeader('ETag', ETag.assignment(node.desired?.revision ?? 0));
    return { nodeId: id, changed: change.changed.length > 0, quarantined: change.quarantined.includes(id), desired: node.desired, state: node.state };
  }

  @Delete(':id/assignment')
  @RequireRole('operator')
  @ApiOperation({ summary: 'Clear the desired policy (the node gets a Revoke)' })
  @ApiParam({ name: 'id', type: String })
  @ApiErrors(400, 401, 403, 404, 409)
  async clearAssignment(@Param('id') rawId: string, @Req() request: HttpRequest, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const id = validate(NODE_ID_PARAM, rawId, 'path.id');
    const expected = ifMatchVersion(request, 'assignment');
    const change = await this.assignments.clearDesired([id], { actor: actorOf(principal), ...(expected !== undefined ? { expectedRevisions: new Map([[id, expected]]) } : {}) });
    return { nodeId: id, changed: change.changed.length > 0 };
  }

  @Post(':id/token')
  @HttpCode(201)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Mint a node token (agents send it as "authorization: Bearer <token>" gRPC metadata). Shown once.' })
  @ApiParam({ name: 'id', type: String })
  @ApiResponse({ status: 201, schema: { type: 'object', properties: { nodeId: { type: 'string' }, token: { type: 'string' } } } })
  @ApiErrors(400, 401, 403)
  async mintToken(@Param('id') rawId: string, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const id = validate(NODE_ID_PARAM, rawId, 'path.id');
    return { nodeId: id, token: await this.tokens.mintNodeToken(id, principal) };
  }
}
