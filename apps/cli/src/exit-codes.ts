/**
 * thpctl's exit codes, and how API answers and rollout outcomes map onto them. Pure.
 *
 * Scripts branch on these, so they are part of the CLI's interface (docs/cli.md):
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | success (a watched rollout completed; the audit chain verifies) |
 * | 1 | the operation ran and failed: a rollout ended failed, rolled back or aborted; the audit chain is broken; the server had an internal error |
 * | 2 | usage: unknown command or option, a missing or malformed argument, an unreadable file, no server configured |
 * | 3 | validation: the server (or the local YAML/JSON parser) rejected a document or a value, every problem printed with its path |
 * | 4 | authentication or permission: no token, a bad or revoked token, a role too low |
 * | 5 | conflict: a stale expected version or revision, an active rollout already exists, a command that does not apply in the rollout's phase |
 * | 6 | not found: no such policy, version, rollout or node |
 * | 7 | the controller is unreachable, unavailable (503) or did not answer like a thp-fleet controller |
 * | 8 | `--watch --timeout` elapsed before the rollout ended |
 */

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  invalid: 3,
  auth: 4,
  conflict: 5,
  notFound: 6,
  unreachable: 7,
  timeout: 8,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One problem with where it is: a path in the document or request, and a line when the server knows it. */
export interface Problem {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

/** An error that ends the command with `exitCode`; `message` is printed, then each problem. */
export class CliError extends Error {
  /** The API's error code when the server said so (`validation_failed`, `conflict`, ...). */
  readonly code: string | undefined;
  /** The file the problems' lines refer to. */
  readonly file: string | undefined;

  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly problems: readonly Problem[] = [],
    extra: { readonly code?: string | undefined; readonly file?: string | undefined } = {},
  ) {
    super(message);
    this.name = 'CliError';
    this.code = extra.code;
    this.file = extra.file;
  }
}

/** The API's error codes (docs/controller.md) and what they mean for the exit code. */
export const API_ERROR_CODES = [
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
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export function isApiErrorCode(value: unknown): value is ApiErrorCode {
  return typeof value === 'string' && (API_ERROR_CODES as readonly string[]).includes(value);
}

export function exitCodeForApiError(code: ApiErrorCode): ExitCode {
  switch (code) {
    case 'invalid_argument':
    case 'validation_failed':
    case 'payload_too_large':
    case 'unsupported_media_type':
      return EXIT.invalid;
    case 'unauthenticated':
    case 'permission_denied':
      return EXIT.auth;
    case 'not_found':
      return EXIT.notFound;
    case 'already_exists':
    case 'conflict':
    case 'precondition_required':
    case 'immutable':
      return EXIT.conflict;
    case 'unavailable':
      return EXIT.unreachable;
    case 'internal':
      return EXIT.failed;
  }
}

/** For an error answer without the API's error body (a proxy, another server): by HTTP status. */
export function exitCodeForHttpStatus(status: number): ExitCode {
  if (status === 400 || status === 413 || status === 415 || status === 422) return EXIT.invalid;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409 || status === 412 || status === 428) return EXIT.conflict;
  if (status === 502 || status === 503 || status === 504) return EXIT.unreachable;
  return EXIT.failed;
}

/** Rollout phases (docs/rollouts.md). */
export const ROLLOUT_PHASES = ['pending', 'progressing', 'baking', 'judging', 'paused', 'completed', 'failed', 'rolling_back', 'rolled_back', 'aborted'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];

export function isRolloutPhase(value: unknown): value is RolloutPhase {
  return typeof value === 'string' && (ROLLOUT_PHASES as readonly string[]).includes(value);
}

/** How a rollout in `phase` ends the command: undefined while it is still running (or paused). */
export function exitCodeForPhase(phase: RolloutPhase): ExitCode | undefined {
  switch (phase) {
    case 'completed':
      return EXIT.ok;
    case 'failed':
    case 'rolled_back':
    case 'aborted':
      return EXIT.failed;
    case 'pending':
    case 'progressing':
    case 'baking':
    case 'judging':
    case 'paused':
    case 'rolling_back':
      return undefined;
  }
}
