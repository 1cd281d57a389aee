/**
 * The audit chain's hash: sha256 over a canonical JSON rendering of the row (keys sorted at
 * every depth, no whitespace), including the previous row's hash. The values hashed are the
 * JSON values as stored (dates as ISO strings), so the hash can be recomputed from the table.
 */
import { createHash } from 'node:crypto';

/** The previous hash of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/** A value as it round-trips through JSON (Dates become ISO strings, undefined becomes null). */
export function asStoredJson(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** JSON with object keys sorted at every depth (RFC 8785 key order for the ASCII keys we use). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  }
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
}

export interface AuditContent {
  readonly seq: number;
  readonly at: Date;
  readonly actor: string;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly prevHash: string;
}

export function auditHash(row: AuditContent): string {
  const canonical = canonicalJson({
    seq: row.seq,
    at: row.at.toISOString(),
    actor: row.actor,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    before: asStoredJson(row.before),
    after: asStoredJson(row.after),
    prevHash: row.prevHash,
  });
  return createHash('sha256').update(canonical).digest('hex');
}
