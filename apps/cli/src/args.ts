/**
 * Parsers of option and argument values, for commander's `argParser`: each throws
 * InvalidArgumentError with what was expected, and commander names the option. Pure.
 */
import { InvalidArgumentError } from 'commander';

/** A version or count: a whole number from 1 to 2^31-1. */
export function positiveInt(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a whole number >= 1.`);
  const n = Number(value);
  if (n < 1 || n > 2_147_483_647) throw new InvalidArgumentError(`${value} is out of range (1..2147483647).`);
  return n;
}

/** A revision: a whole number from 0. */
export function nonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a whole number >= 0.`);
  const n = Number(value);
  if (n > 2_147_483_647) throw new InvalidArgumentError(`${value} is out of range (0..2147483647).`);
  return n;
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `2s`, `5m`, `1h`, `1d` or bare milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1);
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

export function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`"${value}" is not a duration (e.g. 500ms, 2s, 5m, 1h).`);
  return ms;
}

/** An interval between polls: a duration of at least 100 ms. */
export function interval(value: string): number {
  const ms = duration(value);
  if (ms < 100) throw new InvalidArgumentError(`${value} is too short: at least 100ms.`);
  return ms;
}

const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)?$/;

/** `k=v,k2=v2`: every pair must match (sent as the API's `labels` query). */
export function labelSelector(value: string): string {
  const pairs = value.split(',').map((p) => p.trim());
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`"${pair}" is not key=value (e.g. zone=a,kernel=6.18).`);
    const key = pair.slice(0, eq);
    const v = pair.slice(eq + 1);
    if (!LABEL_KEY.test(key)) throw new InvalidArgumentError(`"${key}" is not a label key.`);
    if (!LABEL_VALUE.test(v)) throw new InvalidArgumentError(`"${v}" is not a label value.`);
  }
  return pairs.join(',');
}

export const NODE_STATES = ['in-sync', 'drifted', 'pending', 'nacked', 'stale', 'incompatible', 'unassigned'] as const;

/** `drifted,stale`: node states (docs/controller.md). */
export function nodeStates(value: string): string {
  const states = value.split(',').map((s) => s.trim());
  const bad = states.filter((s) => !(NODE_STATES as readonly string[]).includes(s));
  if (bad.length > 0) throw new InvalidArgumentError(`${bad.map((b) => `"${b}"`).join(', ')} ${bad.length === 1 ? 'is not a node state' : 'are not node states'}: use ${NODE_STATES.join(', ')}.`);
  return states.join(',');
}

/** A rollout id as the API makes them (`ro-lq2x9k-1a2b3c4d`). */
export function rolloutId(value: string): string {
  if (!/^[a-z0-9-]{1,100}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a rollout id (e.g. ro-lq2x9k-1a2b3c4d).`);
  return value;
}

/** A policy name: a DNS label (what metadata.name must be). */
export function policyName(value: string): string {
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a policy name (lowercase letters, digits and "-", at most 63).`);
  return value;
}

/** Free text for the audit log (a reason): 1..1000 characters. */
export function reason(value: string): string {
  const text = value.trim();
  if (text === '') throw new InvalidArgumentError('the reason is empty: say why, for the audit log.');
  if (text.length > 1000) throw new InvalidArgumentError(`the reason is ${text.length} characters long: at most 1000.`);
  return text;
}

/** An ISO 8601 time or a duration ago (`15m`), as the audit API takes them. */
export function sinceValue(value: string): string {
  if (parseDuration(value) !== undefined) return value.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value))) return value;
  throw new InvalidArgumentError(`"${value}" is neither an ISO 8601 time (2026-11-25T10:00:00Z) nor a duration ago (15m).`);
}
