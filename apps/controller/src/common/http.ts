/**
 * The REST boundary: authentication and roles (a guard), the one exception filter that turns
 * every error into `{error: {code, message, details}}` with its status, and small helpers
 * for request bodies and query strings.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  Catch,
  HttpException,
  Inject,
  Injectable,
  SetMetadata,
  createParamDecorator,
  type ArgumentsHost,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AppError, errorBody, httpStatusOf, type ErrorCode } from './errors.js';
import { LOGGER } from './tokens.js';
import type { Logger } from './logger.js';
import { appErrorFromDb } from '../store/db-errors.js';
import { TokenService, roleAtLeast, type Principal } from '../token/token.service.js';
import type { Role } from '../store/schema.js';

/** What controllers read from a request (express's request, typed for what we use). */
export interface HttpRequest extends IncomingMessage {
  readonly body?: unknown;
  readonly query: Record<string, unknown>;
  readonly path: string;
  principal?: Principal;
}

export interface HttpResponse extends ServerResponse {
  status(code: number): HttpResponse;
  json(body: unknown): void;
  setHeader(name: string, value: string | number | readonly string[]): this;
  readonly headersSent: boolean;
}

const REQUIRED_ROLE = 'thp:requiredRole';
const QUERY_TOKEN = 'thp:queryToken';

/** The least role a route needs (routes without it need viewer). */
export const RequireRole = (role: Role): MethodDecorator & ClassDecorator => SetMetadata(REQUIRED_ROLE, role);
/** Let this route also take the token from `?access_token=` (EventSource cannot send headers). */
export const AllowQueryToken = (): MethodDecorator => SetMetadata(QUERY_TOKEN, true);

/** The authenticated caller (set by AuthGuard). */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<HttpRequest>().principal;
  if (!principal) throw new AppError('unauthenticated', 'not authenticated');
  return principal;
});

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TokenService) private readonly tokens: TokenService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const required = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, [context.getHandler(), context.getClass()]) ?? 'viewer';
    const allowQuery = this.reflector.get<boolean | undefined>(QUERY_TOKEN, context.getHandler()) === true;
    const header = request.headers.authorization;
    let bearer: string | undefined;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) throw new AppError('unauthenticated', 'the Authorization header must be "Bearer thp_..."');
      bearer = match[1];
    } else if (allowQuery && typeof request.query['access_token'] === 'string') {
      bearer = request.query['access_token'];
    }
    const principal = await this.tokens.authenticate(bearer);
    if (!roleAtLeast(principal.role, required)) {
      throw new AppError('permission_denied', `this needs the ${required} role; token "${principal.name}" has ${principal.role}`);
    }
    request.principal = principal;
    return true;
  }
}

const HTTP_STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  405: 'invalid_argument',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  428: 'precondition_required',
  503: 'unavailable',
};

/** body-parser's errors carry `type` and `status`. */
function bodyParserError(error: unknown): AppError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { type, status, limit } = error as { type?: unknown; status?: unknown; limit?: unknown };
  if (typeof type !== 'string' || typeof status !== 'number') return undefined;
  switch (type) {
    case 'entity.too.large':
      return new AppError('payload_too_large', `request body exceeds the limit of ${typeof limit === 'number' ? `${limit} bytes` : 'the server'}`);
    case 'entity.parse.failed':
      return new AppError('invalid_argument', `request body is not valid JSON: ${(error as Error).message}`, [{ path: 'body', message: (error as Error).message }]);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError('unsupported_media_type', (error as Error).message);
    default:
      return status >= 400 && status < 500 ? new AppError(HTTP_STATUS_CODES[status] ?? 'invalid_argument', (error as Error).message) : undefined;
  }
}

/** Every error leaves as `{error: {code, message, details}}`; only genuine faults are 5xx. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const parsed = bodyParserError(error);
  if (parsed) return parsed;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return new AppError(HTTP_STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'invalid_argument'), error.message);
  }
  const fromDb = appErrorFromDb(error);
  if (fromDb) return fromDb;
  return new AppError('internal', 'internal error');
}

@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly log: Logger;
  constructor(@Inject(LOGGER) logger: Logger) {
    this.log = logger.child('http');
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const context = host.switchToHttp();
    const response = context.getResponse<HttpResponse>();
    const request = context.getRequest<HttpRequest>();
    const error = toAppError(exception);
    const status = httpStatusOf(error.code);
    if (status >= 500) this.log.error('request failed', { method: request.method, url: request.url, error: exception instanceof Error ? (exception.stack ?? exception.message) : String(exception) });
    if (response.headersSent) {
      response.end();
      return;
    }
    response.status(status).json(errorBody(error));
  }
}

/** The raw text body of a request (policy documents), with its format from Content-Type. */
export function textBody(request: HttpRequest): { text: string; format: 'yaml' | 'json' } {
  const body = request.body;
  if (typeof body !== 'string' || body.trim() === '') {
    throw new AppError('invalid_argument', 'the request body must be a policy document (YAML or JSON)', [{ path: 'body', message: 'is empty' }]);
  }
  const type = (request.headers['content-type'] ?? '').toLowerCase();
  const format: 'yaml' | 'json' = type.includes('json') || (!type.includes('yaml') && body.trimStart().startsWith('{')) ? 'json' : 'yaml';
  return { text: body, format };
}

/** The JSON body of a request; 415 when something else was sent. */
export function jsonBody(request: HttpRequest): unknown {
  const type = request.headers['content-type'];
  if (request.body === undefined) {
    if (type !== undefined && !type.toLowerCase().includes('json')) throw new AppError('unsupported_media_type', `send application/json, not ${type}`);
    throw new AppError('invalid_argument', 'a JSON request body is required', [{ path: 'body', message: 'is missing' }]);
  }
  return request.body;
}

/** A single-valued query parameter (repeated parameters are an error). */
export function queryParam(request: HttpRequest, name: string): string | undefined {
  const value = request.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new AppError('invalid_argument', `query parameter ${name} must be given once`, [{ path: `query.${name}`, message: 'must be a single value' }]);
  return value;
}

/** `If-Match: "3"` / `"v3"` / `3`, or undefined. */
export function ifMatchVersion(request: HttpRequest, what: string): number | undefined {
  const header = request.headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(?:v|rev-)?(\d+)"?\s*$/.exec(header);
  if (!match) throw new AppError('invalid_argument', `If-Match must be the ETag of the ${what}, e.g. "v3"`, [{ path: 'header.If-Match', message: `unparseable: ${header}` }]);
  return Number(match[1]);
}
