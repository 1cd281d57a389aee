/** REST: policies and their versions. Translation only; PolicyService decides. */
import { Controller, Get, HttpCode, Inject, Param, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AppError } from '../common/errors.js';
import { AuthGuard, CurrentPrincipal, RequireRole, ifMatchVersion, queryParam, textBody, type HttpRequest, type HttpResponse } from '../common/http.js';
import { ApiErrors } from '../common/openapi.js';
import { validate } from '../common/validation.js';
import { actorOf, type Principal } from '../token/token.service.js';
import { PolicyService } from './policy.service.js';
import {
  ETag,
  ISSUE_SCHEMA,
  MESSAGE_PARAM,
  POLICY_CONTENT_TYPES,
  POLICY_DOCUMENT_EXAMPLE,
  POLICY_NAME_PARAM,
  POLICY_SCHEMA,
  VERSION_PARAM,
  VERSION_SCHEMA,
  policyView,
  versionDetailView,
  versionView,
} from './policy.dto.js';

const DOCUMENT_BODY = { description: 'A policy document, YAML or JSON', schema: { type: 'string', example: POLICY_DOCUMENT_EXAMPLE } };

@ApiTags('policies')
@ApiBearerAuth()
@Controller('api/v1/policies')
@UseGuards(AuthGuard)
export class PolicyController {
  constructor(@Inject(PolicyService) private readonly policies: PolicyService) {}

  @Get()
  @ApiOperation({ summary: 'List policies' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { policies: { type: 'array', items: POLICY_SCHEMA } } } })
  @ApiErrors(401)
  async list(): Promise<unknown> {
    return { policies: (await this.policies.list()).map(policyView) };
  }

  @Post()
  @HttpCode(201)
  @RequireRole('operator')
  @ApiOperation({ summary: 'Create a policy from its first version (the name is metadata.name)' })
  @ApiConsumes(...POLICY_CONTENT_TYPES)
  @ApiBody(DOCUMENT_BODY)
  @ApiQuery({ name: 'message', required: false, description: 'Version message' })
  @ApiResponse({ status: 201, description: 'Created; ETag is the version', schema: { type: 'object', properties: { policy: POLICY_SCHEMA, version: VERSION_SCHEMA, warnings: { type: 'array', items: ISSUE_SCHEMA } } } })
  @ApiErrors(400, 401, 403, 409, 413, 422)
  async create(@Req() request: HttpRequest, @Res({ passthrough: true }) response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const { text, format } = textBody(request);
    const message = validate(MESSAGE_PARAM, queryParam(request, 'message') ?? '', 'query.message');
    const written = await this.policies.create(text, format, { message }, actorOf(principal));
    response.setHeader('ETag', ETag.policy(written.policy.latestVersion));
    response.setHeader('Location', `/api/v1/policies/${written.policy.name}/versions/${written.version.version}`);
    return { policy: policyView(written.policy), version: versionView(written.version), warnings: written.warnings };
  }

  @Post('validate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Validate a policy document without saving it: every error and warning with path, line and column' })
  @ApiConsumes(...POLICY_CONTENT_TYPES)
  @ApiBody(DOCUMENT_BODY)
  @ApiResponse({
    status: 200,
    schema: {
      type: 'object',
      properties: {
        ok: { type: 'boolean' },
        errors: { type: 'array', items: ISSUE_SCHEMA },
        warnings: { type: 'array', items: ISSUE_SCHEMA },
        name: { type: 'string' },
        specHash: { type: 'string' },
        canonical: { type: 'string' },
      },
    },
  })
  @ApiErrors(400, 401, 413)
  validate(@Req() request: HttpRequest): unknown {
    return this.policies.validate(textBody(request).text);
  }

  @Get(':name')
  @ApiOperation({ summary: 'A policy and its versions (newest first); ETag is the latest version' })
  @ApiParam({ name: 'name', type: String })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { policy: POLICY_SCHEMA, versions: { type: 'array', items: VERSION_SCHEMA } } } })
  @ApiErrors(400, 401, 404)
  async get(@Param('name') rawName: string, @Res({ passthrough: true }) response: HttpResponse): Promise<unknown> {
    const name = validate(POLICY_NAME_PARAM, rawName, 'path.name');
    const { policy, versions } = await this.policies.get(name);
    response.setHeader('ETag', ETag.policy(policy.latestVersion));
    return { policy: policyView(policy), versions: versions.map(versionView) };
  }

  @Post(':name/versions')
  @RequireRole('operator')
  @ApiOperation({
    summary: 'Add a version. Send If-Match with the ETag you edited (or ?expectedVersion=): a stale one is 409. The same meaning as the latest version writes nothing (200).',
  })
  @ApiParam({ name: 'name', type: String })
  @ApiConsumes(...POLICY_CONTENT_TYPES)
  @ApiBody(DOCUMENT_BODY)
  @ApiHeader({ name: 'If-Match', required: false, description: 'ETag of the version edited, e.g. "v3"' })
  @ApiQuery({ name: 'expectedVersion', required: false, type: Number })
  @ApiQuery({ name: 'message', required: false })
  @ApiResponse({ status: 201, description: 'Version created', schema: { type: 'object', properties: { policy: POLICY_SCHEMA, version: VERSION_SCHEMA, created: { type: 'boolean' }, warnings: { type: 'array', items: ISSUE_SCHEMA } } } })
  @ApiResponse({ status: 200, description: 'Unchanged: the latest version already has this meaning' })
  @ApiErrors(400, 401, 403, 404, 409, 413, 422, 428)
  async addVersion(@Param('name') rawName: string, @Req() request: HttpRequest, @Res() response: HttpResponse, @CurrentPrincipal() principal: Principal): Promise<void> {
    const name = validate(POLICY_NAME_PARAM, rawName, 'path.name');
    const { text, format } = textBody(request);
    const fromHeader = ifMatchVersion(request, 'policy');
    const rawExpected = queryParam(request, 'expectedVersion');
    const fromQuery = rawExpected === undefined ? undefined : validate(VERSION_PARAM, rawExpected, 'query.expectedVersion');
    if (fromHeader !== undefined && fromQuery !== undefined && fromHeader !== fromQuery) {
      throw new AppError('invalid_argument', 'If-Match and expectedVersion disagree', [{ path: 'query.expectedVersion', message: `If-Match says ${fromHeader}` }]);
    }
    const expectedVersion = fromHeader ?? fromQuery;
    if (expectedVersion === undefined) {
      throw new AppError('precondition_required', 'say which version you edited: If-Match: "v<latest>" or ?expectedVersion=<latest> (GET the policy for its ETag)', [
        { path: 'header.If-Match', message: 'is required' },
      ]);
    }
    const message = validate(MESSAGE_PARAM, queryParam(request, 'message') ?? '', 'query.message');
    const written = await this.policies.addVersion(name, text, format, { expectedVersion, message }, actorOf(principal));
    response.setHeader('ETag', ETag.policy(written.policy.latestVersion));
    if (written.created) response.setHeader('Location', `/api/v1/policies/${name}/versions/${written.version.version}`);
    response.status(written.created ? 201 : 200).json({ policy: policyView(written.policy), version: versionView(written.version), created: written.created, warnings: written.warnings });
  }

  @Get(':name/versions/:version')
  @ApiOperation({ summary: 'One version: source as submitted, canonical JSON, its hash and the parsed spec' })
  @ApiParam({ name: 'name', type: String })
  @ApiParam({ name: 'version', type: Number })
  @ApiErrors(400, 401, 404)
  async getVersion(@Param('name') rawName: string, @Param('version') rawVersion: string): Promise<unknown> {
    const name = validate(POLICY_NAME_PARAM, rawName, 'path.name');
    const version = validate(VERSION_PARAM, rawVersion, 'path.version');
    return versionDetailView(await this.policies.getVersion(name, version));
  }

  @Get(':name/diff')
  @ApiOperation({ summary: 'Structural diff of two versions (over canonical forms)' })
  @ApiParam({ name: 'name', type: String })
  @ApiQuery({ name: 'from', type: Number })
  @ApiQuery({ name: 'to', type: Number })
  @ApiResponse({
    status: 200,
    schema: {
      type: 'object',
      properties: {
        policy: { type: 'string' },
        from: { type: 'integer' },
        to: { type: 'integer' },
        changes: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, kind: { type: 'string', enum: ['added', 'removed', 'changed'] }, before: {}, after: {} } } },
      },
    },
  })
  @ApiErrors(400, 401, 404)
  async diff(@Param('name') rawName: string, @Req() request: HttpRequest): Promise<unknown> {
    const name = validate(POLICY_NAME_PARAM, rawName, 'path.name');
    const from = validate(VERSION_PARAM, queryParam(request, 'from') ?? '', 'query.from');
    const to = validate(VERSION_PARAM, queryParam(request, 'to') ?? '', 'query.to');
    return { policy: name, from, to, changes: await this.policies.diff(name, from, to) };
  }
}
