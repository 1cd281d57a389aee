/**
 * Postgres errors that come from what a user sent (a duplicate, a reference to something that
 * does not exist, an append-only table) become typed API errors, never a 500.
 * SQLSTATE codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
import { AppError } from '../common/errors.js';

/** Raised by thp_reject_change() (migrations/0001_initial.sql). */
export const SQLSTATE_APPEND_ONLY = 'THP01';
const UNIQUE_VIOLATION = '23505';
const FOREIGN_KEY_VIOLATION = '23503';
const CHECK_VIOLATION = '23514';
const INVALID_TEXT_REPRESENTATION = '22P02';
const UNTRANSLATABLE_CHARACTER = '22P05';
const CHARACTER_NOT_IN_REPERTOIRE = '22021';
const NUMERIC_VALUE_OUT_OF_RANGE = '22003';
const SERIALIZATION_FAILURE = '40001';
const LOCK_NOT_AVAILABLE = '55P03';
const CONNECTION_EXCEPTION_CLASS = '08';

export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.length === 5 ? code : undefined;
}

/** SQLSTATE class 22: the data itself is unacceptable (retrying the same write cannot succeed). */
export function isDataError(error: unknown): boolean {
  return sqlState(error)?.startsWith('22') === true;
}

/** The typed error for a database error, or undefined when it is a genuine server fault. */
export function appErrorFromDb(error: unknown): AppError | undefined {
  const code = sqlState(error);
  if (code === undefined) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  const detail = (error as { detail?: unknown }).detail;
  const details = typeof detail === 'string' && detail !== '' ? [{ path: '', message: detail }] : [];
  if (code === SQLSTATE_APPEND_ONLY) return new AppError('immutable', message);
  if (code === UNIQUE_VIOLATION) return new AppError('conflict', 'already exists', details);
  if (code === FOREIGN_KEY_VIOLATION) return new AppError('not_found', 'refers to something that does not exist', details);
  if (code === CHECK_VIOLATION || code === INVALID_TEXT_REPRESENTATION || code === UNTRANSLATABLE_CHARACTER || code === CHARACTER_NOT_IN_REPERTOIRE || code === NUMERIC_VALUE_OUT_OF_RANGE) return new AppError('invalid_argument', message, details);
  if (code === SERIALIZATION_FAILURE || code === LOCK_NOT_AVAILABLE) return new AppError('conflict', 'concurrent change, retry', details);
  if (code.startsWith(CONNECTION_EXCEPTION_CLASS)) return new AppError('unavailable', 'database unavailable');
  return undefined;
}
