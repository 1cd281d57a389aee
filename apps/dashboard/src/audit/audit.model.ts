/**
 * The audit page's model (pure): an entry's before/after as pretty JSON, field by field, the
 * fields that changed, and the chain verification in words.
 */
import type { AuditEntry, AuditVerification } from '../api/types.js';

/** Pretty JSON with keys sorted at every depth (so before and after line up), '' for null/absent. */
export function prettyJson(value: unknown): string {
  if (value === null || value === undefined) return '';
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, sort(x)]));
    return v;
  };
  return JSON.stringify(sort(value), null, 2);
}

export interface FieldRow {
  /** The top-level field, or '' when before/after are not objects. */
  readonly field: string;
  /** Pretty JSON; null when the side does not have the field (or the side is absent). */
  readonly before: string | null;
  readonly after: string | null;
  readonly changed: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An entry's before and after, field by field (the top-level keys of both, sorted), each side
 * as pretty JSON, changed fields marked. Values that are not objects are one row.
 */
export function fieldRows(entry: Pick<AuditEntry, 'before' | 'after'>): FieldRow[] {
  const { before, after } = entry;
  if (before === null && after === null) return [];
  if ((before !== null && !isObject(before)) || (after !== null && !isObject(after))) {
    const b = before === null ? null : prettyJson(before);
    const a = after === null ? null : prettyJson(after);
    return [{ field: '', before: b, after: a, changed: b !== a }];
  }
  const b = before ?? {};
  const a = after ?? {};
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
  return keys.map((field) => {
    const bv = field in b && before !== null ? (b[field] === null ? 'null' : prettyJson(b[field])) : null;
    const av = field in a && after !== null ? (a[field] === null ? 'null' : prettyJson(a[field])) : null;
    return { field, before: bv, after: av, changed: bv !== av };
  });
}

/** Top-level fields whose values differ between before and after ("policy, version"). */
export function changedFields(entry: Pick<AuditEntry, 'before' | 'after'>): string[] {
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const b = obj(entry.before);
  const a = obj(entry.after);
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].sort();
  return keys.filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
}

/** The chain's state in words, and whether it is intact. */
export function verificationText(v: AuditVerification): { ok: boolean; text: string } {
  if (v.ok) {
    if (v.checked === 0) return { ok: true, text: 'The audit log is empty.' };
    return { ok: true, text: `Chain intact: all ${v.checked} entries verified, head #${v.headSeq ?? '?'} (${(v.headHash ?? '').slice(0, 16)}…). Keep the head hash elsewhere to detect removal of the newest entries.` };
  }
  const b = v.firstBroken;
  return { ok: false, text: `Chain broken at entry #${b?.seq ?? '?'}: ${b?.reason ?? 'unknown reason'} (${v.checked} entries before it verified).` };
}
