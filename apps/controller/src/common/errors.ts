/**
 * Typed error codes, mapped to an HTTP status and a gRPC status in one exhaustive switch each.
 * Services throw `AppError`; controllers and gRPC handlers translate it, never invent statuses.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';

export type ErrorCode =
  | 'invalid_argument'
  | 'validation_failed'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'already_exists'
  | 'conflict'
  | 'precondition_required'
  | 'immutable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unavailable'
  | 'internal';

export interface ErrorDetail {
  /** Where the problem is (e.g. `spec.rules[1].allow.orders[0]`, `body.nodeIds[3]`, `query.limit`). */
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: readonly ErrorDetail[];
  constructor(code: ErrorCode, message: string, details: readonly ErrorDetail[] = []) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export function httpStatusOf(code: ErrorCode): number {
  switch (code) {
    case 'invalid_argument':
      return 400;
    case 'validation_failed':
      return 422;
    case 'unauthenticated':
      return 401;
    case 'permission_denied':
      return 403;
    case 'not_found':
      return 404;
    case 'already_exists':
      return 409;
    case 'conflict':
      return 409;
    case 'immutable':
      return 409;
    case 'precondition_required':
      return 428;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'unavailable':
      return 503;
    case 'internal':
      return 500;
  }
}

export function grpcStatusOf(code: ErrorCode): GrpcStatus {
  switch (code) {
    case 'invalid_argument':
    case 'validation_failed':
      return GrpcStatus.INVALID_ARGUMENT;
    case 'unauthenticated':
      return GrpcStatus.UNAUTHENTICATED;
    case 'permission_denied':
      return GrpcStatus.PERMISSION_DENIED;
    case 'not_found':
      return GrpcStatus.NOT_FOUND;
    case 'already_exists':
      return GrpcStatus.ALREADY_EXISTS;
    case 'conflict':
    case 'immutable':
      return GrpcStatus.ABORTED;
    case 'precondition_required':
      return GrpcStatus.FAILED_PRECONDITION;
    case 'payload_too_large':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 'unsupported_media_type':
      return GrpcStatus.INVALID_ARGUMENT;
    case 'unavailable':
      return GrpcStatus.UNAVAILABLE;
    case 'internal':
      return GrpcStatus.INTERNAL;
  }
}

/** The JSON body of every REST error. */
export interface ErrorBody {
  readonly error: { readonly code: ErrorCode; readonly message: string; readonly details: readonly ErrorDetail[] };
}

export function errorBody(error: AppError): ErrorBody {
  return { error: { code: error.code, message: error.message, details: error.details } };
}

export const notFound = (what: string): AppError => new AppError('not_found', `${what} not found`);
