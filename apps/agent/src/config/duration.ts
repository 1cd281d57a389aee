/**
 * Durations in flags and environment: `250ms`, `10s`, `2m`, `1h`, or a bare integer of
 * milliseconds. Returns milliseconds, or an error message naming what was wrong.
 */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): { ok: true; ms: number } | { ok: false; message: string } {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!match) return { ok: false, message: `"${text}" is not a duration (use e.g. 500ms, 10s, 2m, 1h, or milliseconds)` };
  const value = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const ms = Math.round(value * (UNIT_MS[unit] ?? 1));
  if (!Number.isSafeInteger(ms)) return { ok: false, message: `"${text}" is too large` };
  return { ok: true, ms };
}

/** `1500` -> `1.5s`, for messages and logs. */
export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms !== 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms !== 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}
