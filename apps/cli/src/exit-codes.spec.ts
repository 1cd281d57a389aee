import { describe, expect, it } from 'vitest';
import { API_ERROR_CODES, EXIT, ROLLOUT_PHASES, exitCodeForApiError, exitCodeForHttpStatus, exitCodeForPhase, isApiErrorCode, isRolloutPhase } from './exit-codes.js';

describe('exit codes', () => {
  it('are distinct', () => {
    const values = Object.values(EXIT);
    expect(new Set(values).size).toBe(values.length);
  });

  it('map every API error code by its kind', () => {
    const expected: Record<string, number> = {
      invalid_argument: 3,
      validation_failed: 3,
      payload_too_large: 3,
      unsupported_media_type: 3,
      unauthenticated: 4,
      permission_denied: 4,
      not_found: 6,
      already_exists: 5,
      conflict: 5,
      precondition_required: 5,
      immutable: 5,
      unavailable: 7,
      internal: 1,
    };
    expect(Object.keys(expected).sort()).toEqual([...API_ERROR_CODES].sort());
    for (const code of API_ERROR_CODES) expect(exitCodeForApiError(code), code).toBe(expected[code]);
  });

  it('map bare HTTP statuses (no API error body) the same way', () => {
    expect([400, 413, 415, 422].map(exitCodeForHttpStatus)).toEqual([3, 3, 3, 3]);
    expect([401, 403].map(exitCodeForHttpStatus)).toEqual([4, 4]);
    expect(exitCodeForHttpStatus(404)).toBe(6);
    expect([409, 412, 428].map(exitCodeForHttpStatus)).toEqual([5, 5, 5]);
    expect([502, 503, 504].map(exitCodeForHttpStatus)).toEqual([7, 7, 7]);
    expect([500, 418].map(exitCodeForHttpStatus)).toEqual([1, 1]);
  });

  it('end a watch on a terminal phase only: 0 completed, 1 failed / rolled back / aborted', () => {
    const ended = Object.fromEntries(ROLLOUT_PHASES.map((p) => [p, exitCodeForPhase(p)]));
    expect(ended).toEqual({
      pending: undefined,
      progressing: undefined,
      baking: undefined,
      judging: undefined,
      paused: undefined,
      rolling_back: undefined,
      completed: 0,
      failed: 1,
      rolled_back: 1,
      aborted: 1,
    });
  });

  it('recognise only the known codes and phases', () => {
    expect(isApiErrorCode('conflict')).toBe(true);
    expect(isApiErrorCode('teapot')).toBe(false);
    expect(isApiErrorCode(409)).toBe(false);
    expect(isRolloutPhase('rolled_back')).toBe(true);
    expect(isRolloutPhase('rolled-back')).toBe(false);
  });
});
