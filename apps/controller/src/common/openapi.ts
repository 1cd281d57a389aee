/** OpenAPI helpers shared by the controllers: the error body and the usual error responses. */
import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import type { Schema } from './validation.js';

export const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: {
          type: 'string',
          enum: [
            'invalid_argument',
            'validation_failed',
            'unauthenticated',
            'permission_denied',
            'not_found',
            'already_exists',
            'conflict',
            'precondition_required',
            'immutable',
            'payload_too_large',
            'unsupported_media_type',
            'unavailable',
            'internal',
          ],
        },
        message: { type: 'string' },
        details: {
          type: 'array',
          items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' }, line: { type: 'integer' }, column: { type: 'integer' } } },
        },
      },
    },
  },
};

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input (every problem with its path)',
  401: 'Missing or invalid API token',
  403: 'The token lacks the required role',
  404: 'Not found',
  409: 'Conflict: stale version (optimistic concurrency), duplicate, or immutable',
  413: 'Request body too large',
  415: 'Unsupported media type',
  422: 'The policy does not validate (every error with path, line and column)',
  428: 'A precondition (If-Match / expectedVersion) is required',
};

export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(...statuses.map((status) => ApiResponse({ status, description: DESCRIPTIONS[status] ?? 'Error', schema: ERROR_SCHEMA })));
}

/** JSON Schema of a validation schema, for @ApiBody. */
export function bodySchema(schema: Schema<unknown>): Record<string, unknown> {
  return schema.jsonSchema();
}
