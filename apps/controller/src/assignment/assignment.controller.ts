/** REST: bulk desired-state changes (by node ids or label selector). */
import { Controller, HttpCode, Inject, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AppError } from '../common/errors.js';
import { AuthGuard, CurrentPrincipal, RequireRole, jsonBody, type HttpRequest } from '../common/http.js';
import { ApiErrors, bodySchema } from '../common/openapi.js';
import { validate } from '../common/validation.js';
import { actorOf, type Principal } from '../token/token.service.js';
import { AssignmentService } from './assignment.service.js';
import { BULK_ASSIGNMENT_BODY, BULK_RESULT_SCHEMA } from './assignment.dto.js';

@ApiTags('assignments')
@ApiBearerAuth()
@Controller('api/v1/assignments')
@UseGuards(AuthGuard)
export class AssignmentController {
  constructor(@Inject(AssignmentService) private readonly assignments: AssignmentService) {}

  @Post()
  @HttpCode(200)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Set one desired state on many nodes (by ids or a label selector), in one audited transaction' })
  @ApiBody({ schema: bodySchema(BULK_ASSIGNMENT_BODY) })
  @ApiResponse({ status: 200, schema: BULK_RESULT_SCHEMA })
  @ApiErrors(400, 401, 403, 404, 413, 415)
  async bulk(@Req() request: HttpRequest, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const body = validate(BULK_ASSIGNMENT_BODY, jsonBody(request), 'body');
    const problems = [];
    if ((body.nodeIds === undefined) === (body.selector === undefined)) problems.push({ path: 'body', message: 'give exactly one of nodeIds or selector' });
    if (body.policy !== null && body.version === undefined) problems.push({ path: 'body.version', message: 'is required with a policy' });
    if (body.policy === null && body.version !== undefined) problems.push({ path: 'body.version', message: 'must be omitted when policy is null' });
    if (problems.length > 0) throw new AppError('invalid_argument', 'invalid body', problems);
    const targets = await this.assignments.resolveTargets(body.nodeIds ? { nodeIds: body.nodeIds } : { labels: body.selector?.labels ?? {} });
    const options = { actor: actorOf(principal), ...(body.reason ? { reason: body.reason } : {}) };
    const change = body.policy === null ? await this.assignments.clearDesired(targets, options) : await this.assignments.setDesired(targets, body.policy, body.version ?? 0, options);
    return { matched: targets.length, ...change };
  }
}
