/**
 * Structural diff of two policy versions over their canonical forms, for the audit log and
 * the UI. Because it compares canonical forms, edits that do not change the meaning (key
 * order, sizes vs orders, spelling out a default) produce no entries.
 */
import { canonicalJson, normalizePolicy, type JsonValue } from './canonical.js';
import type { CanonicalRule } from './normalize.js';
import type { ThpPolicy } from './spec.js';

export interface DiffEntry {
  /**
   * Where: `metadata.description`, `spec.default.orders`, `spec.node.hugepages["64kB"]`,
   * `spec.rules["zgc"].allow.orders` (rules by name), or `spec.rules` for the rule order.
   */
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  /** Canonical value before (absent for `added`). */
  readonly before?: JsonValue;
  /** Canonical value after (absent for `removed`). */
  readonly after?: JsonValue;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function key(path: string, k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? (path === '' ? k : `${path}.${k}`) : `${path}[${JSON.stringify(k)}]`;
}

/** Objects recurse key by key (sorted); lists and scalars compare as whole values. */
function diffValues(a: unknown, b: unknown, path: string, out: DiffEntry[]): void {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const inA = Object.hasOwn(a, k);
      const inB = Object.hasOwn(b, k);
      if (inA && !inB) out.push({ path: key(path, k), kind: 'removed', before: a[k] as JsonValue });
      else if (!inA && inB) out.push({ path: key(path, k), kind: 'added', after: b[k] as JsonValue });
      else diffValues(a[k], b[k], key(path, k), out);
    }
  } else if (canonicalJson(a) !== canonicalJson(b)) {
    out.push({ path, kind: 'changed', before: a as JsonValue, after: b as JsonValue });
  }
}

function rulePath(name: string): string {
  return `spec.rules[${JSON.stringify(name)}]`;
}

function diffRules(a: readonly CanonicalRule[], b: readonly CanonicalRule[], out: DiffEntry[]): void {
  const byName = (rules: readonly CanonicalRule[]) => new Map(rules.map((r) => [r.name, r]));
  const mapA = byName(a);
  const mapB = byName(b);
  const namesA = a.map((r) => r.name);
  const namesB = b.map((r) => r.name);
  // The order matters (first match wins). Report it when b is not simply "a, minus the
  // removed rules, plus the new rules appended at the end".
  const expected = [...namesA.filter((n) => mapB.has(n)), ...namesB.filter((n) => !mapA.has(n))];
  if (expected.join('\u0000') !== namesB.join('\u0000')) {
    out.push({ path: 'spec.rules', kind: 'changed', before: namesA, after: namesB });
  }
  for (const r of a) if (!mapB.has(r.name)) out.push({ path: rulePath(r.name), kind: 'removed', before: r as unknown as JsonValue });
  for (const r of b) {
    const old = mapA.get(r.name);
    if (old === undefined) out.push({ path: rulePath(r.name), kind: 'added', after: r as unknown as JsonValue });
    else diffValues(old, r, rulePath(r.name), out);
  }
}

/**
 * Differences from policy `a` to policy `b`, in a stable order: metadata, default, node, then
 * the rule order (if it changed), removed rules, and added or changed rules in `b`'s order.
 * Rules are matched by name, so moving a rule shows as one `spec.rules` entry.
 * @throws PolicyValidationError if either policy is invalid.
 */
export function diffPolicies(a: ThpPolicy, b: ThpPolicy): DiffEntry[] {
  const ca = normalizePolicy(a);
  const cb = normalizePolicy(b);
  const out: DiffEntry[] = [];
  diffValues(ca.apiVersion, cb.apiVersion, 'apiVersion', out);
  diffValues(ca.kind, cb.kind, 'kind', out);
  diffValues(ca.metadata, cb.metadata, 'metadata', out);
  diffValues(ca.spec.default, cb.spec.default, 'spec.default', out);
  diffValues(ca.spec.node, cb.spec.node, 'spec.node', out);
  diffRules(ca.spec.rules, cb.spec.rules, out);
  return out;
}
