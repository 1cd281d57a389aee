/**
 * Text from agents goes into Postgres, which cannot store NUL in text or jsonb. Strings an
 * agent reports (outside the validated Hello fields) are cleaned here, so that one odd
 * agent cannot make a batched write fail for everyone.
 */

/** The string without NUL characters, at most `max` characters long. */
export function cleanText(text: string, max: number): string {
  const stripped = text.includes('\u0000') ? text.replaceAll('\u0000', '') : text;
  return stripped.length > max ? stripped.slice(0, max) : stripped;
}

/** A JSON value with NUL removed from every string (keys included). */
export function cleanJson(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value, 100_000);
  if (Array.isArray(value)) return value.map(cleanJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [cleanText(key, 1_000), cleanJson(item)]));
  }
  return value;
}
