/** REST: rollouts and policy rollbacks. Translation only; RolloutService decides. */
import { Controller, Get, HttpCode, Inject, Param, Post, Put, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AppError } from '../common/errors.js';
import { AuthGuard, CurrentPrincipal, RequireRole, ifMatchVersion, jsonBody, queryParam, type HttpRequest, type HttpResponse } from '../common/http.js';
import { ApiErrors, bodySchema } from '../common/openapi.js';
import { POLICY_NAME, v, validate } from '../common/validation.js';
import { actorOf, type Principal } from '../token/token.service.js';
import type { PathIssue } from './label-selector.js';
import { PHASES } from './rollout.machine.js';
import { parseGate, parsePlanDuration, type GateSpec } from './rollout.plan.js';
import { RolloutService, type Command, type EffectiveBudget } from './rollout.service.js';
import {
  ABORT_BODY,
  BUDGET_BODY,
  BUDGET_SCHEMA,
  CREATE_ROLLOUT_BODY,
  ETag,
  PAUSE_BODY,
  PROMOTE_BODY,
  ROLLBACK_BODY,
  ROLLOUT_SCHEMA,
  eventView,
  judgmentView,
  nodeView,
  rolloutView,
  stepView,
} from './rollout.dto.js';

const ROLLOUT_ID = v.string({ min: 1, max: 100, pattern: /^[a-z0-9-]+$/, patternHint: 'must be a rollout id such as ro-lq2x9k-1a2b3c4d' });
const LIMIT = v.intString({ min: 1, max: 1000 });
/** A rollback canary bakes this long unless the request says otherwise (an operational default). */
const DEFAULT_ROLLBACK_BAKE_MS = 5 * 60_000;

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/rollouts')
@UseGuards(AuthGuard)
export class RolloutController {
  constructor(@Inject(RolloutService) private readonly rollouts: RolloutService) {}

  @Post()
  @HttpCode(201)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Start a rollout of policy@version with a plan (skipping gates needs admin and a reason). One active rollout per policy (409).' })
  @ApiBody({ schema: bodySchema(CREATE_ROLLOUT_BODY) })
  @ApiResponse({ status: 201, schema: { type: 'object', properties: { rollout: ROLLOUT_SCHEMA } } })
  @ApiErrors(400, 401, 403, 404, 409, 415, 422)
  async create(@Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const body = validate(CREATE_ROLLOUT_BODY, jsonBody(request), 'body');
    const record = await this.rollouts.create({ policy: body.policy, version: body.version, plan: body.plan }, principal, actorOf(principal));
    response.setHeader('ETag', ETag.rollout(record.revision));
    response.setHeader('Location', `/api/v1/rollouts/${record.id}`);
    return { rollout: rolloutView(record) };
  }

  @Get()
  @ApiOperation({ summary: 'List rollouts, newest first' })
  @ApiQuery({ name: 'policy', required: false })
  @ApiQuery({ name: 'state', required: false, enum: [...PHASES] })
  @ApiQuery({ name: 'active', required: false, type: Boolean })
  @ApiQuery({ name: 'limit', required: false, type: Number })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { rollouts: { type: 'array', items: ROLLOUT_SCHEMA } } } })
  @ApiErrors(400, 401)
  async list(@Req() request: HttpRequest): Promise<unknown> {
    const policy = queryParam(request, 'policy');
    const state = queryParam(request, 'state');
    const active = queryParam(request, 'active');
    const limit = queryParam(request, 'limit');
    const filter = {
      ...(policy === undefined ? {} : { policy: validate(POLICY_NAME, policy, 'query.policy') }),
      ...(state === undefined ? {} : { state: validate(v.oneOf(PHASES), state, 'query.state') }),
      ...(active === undefined ? {} : { active: validate(v.oneOf(['true', 'false'] as const), active, 'query.active') === 'true' }),
      limit: limit === undefined ? 100 : validate(LIMIT, limit, 'query.limit'),
    };
    return { rollouts: (await this.rollouts.list(filter)).map(rolloutView) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A rollout with its steps (cohorts, exclusions with reasons, strata, baseline), nodes (what each ran before), judgments (with evidence) and events' })
  @ApiParam({ name: 'id', type: String })
  @ApiQuery({ name: 'events', required: false, type: Number, description: 'How many of the latest events (default 200)' })
  @ApiErrors(400, 401, 404)
  async get(@Param('id') rawId: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse): Promise<unknown> {
    const id = validate(ROLLOUT_ID, rawId, 'path.id');
    const events = queryParam(request, 'events');
    const detail = await this.rollouts.detail(id, events === undefined ? 200 : validate(LIMIT, events, 'query.events'));
    response.setHeader('ETag', ETag.rollout(detail.record.revision));
    return {
      rollout: rolloutView(detail.record),
      steps: detail.steps.map(stepView),
      nodes: detail.nodes.map(nodeView),
      judgments: detail.judgments.map(judgmentView),
      events: detail.events.map(eventView),
    };
  }

  @Post(':id/pause')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Pause (the bake or judging clock stops; NACKs still roll back)' })
  @ApiBody({ schema: bodySchema(PAUSE_BODY) })
  @ApiHeader({ name: 'If-Match', required: false, description: 'The rollout ETag ("rev-N") this command is for' })
  @ApiErrors(400, 401, 403, 404, 409)
  pause(@Param('id') id: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const body = validate(PAUSE_BODY, jsonBody(request), 'body');
    return this.command(id, { type: 'pause', reason: body.reason }, request, response, principal);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Resume a paused rollout where it was' })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiErrors(400, 401, 403, 404, 409)
  resume(@Param('id') id: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    return this.command(id, { type: 'resume' }, request, response, principal);
  }

  @Post(':id/promote')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Skip the rest of the bake (audited). With skipGate (admin, with a reason) also accept a step being judged.' })
  @ApiBody({ schema: bodySchema(PROMOTE_BODY) })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiErrors(400, 401, 403, 404, 409)
  promote(@Param('id') id: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const body = request.body === undefined ? {} : validate(PROMOTE_BODY, jsonBody(request), 'body');
    return this.command(id, { type: 'promote', skipGateReason: body.skipGate?.reason ?? null }, request, response, principal);
  }

  @Post(':id/abort')
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Abort: every node the rollout touched goes back to what it ran before, then the rollout ends aborted' })
  @ApiBody({ schema: bodySchema(ABORT_BODY) })
  @ApiHeader({ name: 'If-Match', required: false })
  @ApiErrors(400, 401, 403, 404, 409)
  abort(@Param('id') id: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const body = validate(ABORT_BODY, jsonBody(request), 'body');
    return this.command(id, { type: 'abort', reason: body.reason }, request, response, principal);
  }

  private async command(rawId: string, command: Command, request: HttpRequest, response: HttpResponse, principal: Principal): Promise<unknown> {
    const id = validate(ROLLOUT_ID, rawId, 'path.id');
    const record = await this.rollouts.command(id, command, principal, actorOf(principal), ifMatchVersion(request, 'rollout'));
    response.setHeader('ETag', ETag.rollout(record.revision));
    return { rollout: rolloutView(record) };
  }
}

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/policies')
@UseGuards(AuthGuard)
export class PolicyRollbackController {
  constructor(@Inject(RolloutService) private readonly rollouts: RolloutService) {}

  @Post(':name/rollback')
  @HttpCode(201)
  @RequireRole('operator')
  @ApiOperation({
    summary:
      'Roll a policy back to an earlier version, as a rollout of the nodes that run it now. skipGates (admins only, with a reason that is audited) is the fast path: every node at once, nothing judged.',
  })
  @ApiParam({ name: 'name', type: String })
  @ApiBody({ schema: bodySchema(ROLLBACK_BODY) })
  @ApiResponse({ status: 201, schema: { type: 'object', properties: { rollout: ROLLOUT_SCHEMA } } })
  @ApiErrors(400, 401, 403, 404, 409, 415, 422)
  async rollback(@Param('name') rawName: string, @Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const policy = validate(POLICY_NAME, rawName, 'path.name');
    const body = validate(ROLLBACK_BODY, policyPathJsonBody(request), 'body');
    const issues: PathIssue[] = [];
    const gates: GateSpec[] = [];
    if (body.gates !== undefined) {
      if (!Array.isArray(body.gates)) issues.push({ path: 'body.gates', message: 'must be a list of gates' });
      else
        body.gates.forEach((g: unknown, i) => {
          const gate = parseGate(g, `body.gates[${i}]`, issues);
          if (gate) gates.push(gate);
        });
    }
    const canaryBakeMs = body.canaryBake === undefined ? DEFAULT_ROLLBACK_BAKE_MS : parsePlanDuration(body.canaryBake, 'body.canaryBake', issues);
    if (issues.length > 0 || canaryBakeMs === undefined) throw new AppError('validation_failed', `${issues.length} problem(s) in the rollback request`, issues);
    const record = await this.rollouts.rollback({ policy, version: body.version, skipGatesReason: body.skipGates?.reason ?? null, gates, canaryBakeMs }, principal, actorOf(principal));
    response.setHeader('ETag', ETag.rollout(record.revision));
    response.setHeader('Location', `/api/v1/rollouts/${record.id}`);
    return { rollout: rolloutView(record) };
  }
}

/**
 * The JSON body of a request under /api/v1/policies, where the app reads every body as text
 * (policy documents are YAML): parse it here, with the same errors as jsonBody.
 */
function policyPathJsonBody(request: HttpRequest): unknown {
  if (typeof request.body !== 'string') return jsonBody(request);
  const type = request.headers['content-type'] ?? '';
  if (!type.toLowerCase().includes('json')) throw new AppError('unsupported_media_type', `send application/json, not ${type || 'no content type'}`);
  try {
    return JSON.parse(request.body) as unknown;
  } catch (error) {
    throw new AppError('invalid_argument', 'the request body is not valid JSON', [{ path: 'body', message: error instanceof Error ? error.message : String(error) }]);
  }
}

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/rollout-budget')
@UseGuards(AuthGuard)
export class RolloutBudgetController {
  constructor(@Inject(RolloutService) private readonly rollouts: RolloutService) {}

  @Get()
  @ApiOperation({ summary: 'The fleet-wide blast-radius budget: at most maxNodes / maxPercent of the fleet in a non-stable state across all rollouts' })
  @ApiResponse({ status: 200, schema: BUDGET_SCHEMA })
  @ApiErrors(401)
  async get(@Res({ passthrough: true }) response: HttpResponse): Promise<unknown> {
    const view = await this.rollouts.budgetView();
    response.setHeader('ETag', ETag.rollout(view.budget.revision));
    return budgetBody(view.budget, view.fleetSize, view.limitNodes);
  }

  @Put()
  @RequireRole('admin')
  @ApiOperation({ summary: 'Set the blast-radius budget (admin, audited). null = no cap of that kind; the tighter cap wins. Replaces THP_ROLLOUT_BUDGET_* from then on.' })
  @ApiBody({ schema: bodySchema(BUDGET_BODY) })
  @ApiHeader({ name: 'If-Match', required: false, description: 'The budget ETag ("rev-N"; "rev-0" while never set)' })
  @ApiResponse({ status: 200, schema: BUDGET_SCHEMA })
  @ApiErrors(400, 401, 403, 409, 415)
  async put(@Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const body = validate(BUDGET_BODY, jsonBody(request), 'body');
    const issues: PathIssue[] = [];
    const maxPercent = body.maxPercent;
    if (maxPercent !== null && (typeof maxPercent !== 'number' || !Number.isFinite(maxPercent) || maxPercent <= 0 || maxPercent > 100)) {
      issues.push({ path: 'body.maxPercent', message: 'must be a number in (0, 100] or null' });
    }
    if (issues.length > 0) throw new AppError('invalid_argument', `invalid body: ${issues.length} problem(s)`, issues);
    await this.rollouts.setBudget({ maxNodes: body.maxNodes, maxPercent: maxPercent as number | null }, ifMatchVersion(request, 'budget'), actorOf(principal));
    const view = await this.rollouts.budgetView();
    response.setHeader('ETag', ETag.rollout(view.budget.revision));
    return budgetBody(view.budget, view.fleetSize, view.limitNodes);
  }
}

function budgetBody(budget: EffectiveBudget, fleetSize: number, limitNodes: number | null): Record<string, unknown> {
  return {
    budget: {
      maxNodes: budget.spec.maxNodes,
      maxPercent: budget.spec.maxPercent,
      source: budget.source,
      revision: budget.revision,
      updatedAt: budget.updatedAt?.toISOString() ?? null,
      updatedBy: budget.updatedBy,
    },
    fleetSize,
    limitNodes,
  };
}
