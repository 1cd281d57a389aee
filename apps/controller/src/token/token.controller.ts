/** REST: API tokens (admin) and who-am-I (any role). */
import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AuthGuard, CurrentPrincipal, RequireRole, jsonBody, type HttpRequest } from '../common/http.js';
import { ApiErrors, bodySchema } from '../common/openapi.js';
import { validate } from '../common/validation.js';
import { TokenService, actorOf, type Principal } from './token.service.js';
import { CREATE_TOKEN_BODY, TOKEN_ID_PARAM, TOKEN_SCHEMA, tokenView } from './token.dto.js';

@ApiTags('tokens')
@ApiBearerAuth()
@Controller('api/v1')
@UseGuards(AuthGuard)
export class TokenController {
  constructor(@Inject(TokenService) private readonly tokens: TokenService) {}

  @Get('whoami')
  @ApiOperation({ summary: 'The calling token: id, name and role' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { tokenId: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, actor: { type: 'string' } } } })
  @ApiErrors(401)
  whoami(@CurrentPrincipal() principal: Principal): unknown {
    return { tokenId: principal.tokenId, name: principal.name, role: principal.role, actor: actorOf(principal) };
  }

  @Get('tokens')
  @RequireRole('admin')
  @ApiOperation({ summary: 'List API tokens (never their secrets)' })
  @ApiResponse({ status: 200, schema: { type: 'object', properties: { tokens: { type: 'array', items: TOKEN_SCHEMA } } } })
  @ApiErrors(401, 403)
  async list(): Promise<unknown> {
    return { tokens: (await this.tokens.list()).map(tokenView) };
  }

  @Post('tokens')
  @HttpCode(201)
  @RequireRole('admin')
  @ApiOperation({ summary: 'Create an API token; the token is in the response once and never again' })
  @ApiBody({ schema: bodySchema(CREATE_TOKEN_BODY) })
  @ApiResponse({ status: 201, schema: { type: 'object', properties: { token: { type: 'string', example: 'thp_...' }, record: TOKEN_SCHEMA } } })
  @ApiErrors(400, 401, 403, 415)
  async create(@Req() request: HttpRequest, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const body = validate(CREATE_TOKEN_BODY, jsonBody(request), 'body');
    const { token, record } = await this.tokens.create(body, principal);
    return { token, record: tokenView(record) };
  }

  @Delete('tokens/:id')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Revoke an API token (at once, on every replica)' })
  @ApiParam({ name: 'id', type: String })
  @ApiResponse({ status: 200, schema: TOKEN_SCHEMA })
  @ApiErrors(400, 401, 403, 404, 409)
  async revoke(@Param('id') rawId: string, @CurrentPrincipal() principal: Principal): Promise<unknown> {
    const id = validate(TOKEN_ID_PARAM, rawId, 'path.id');
    return tokenView(await this.tokens.revoke(id, principal));
  }
}
