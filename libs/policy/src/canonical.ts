/**
 * Canonical form and hash. The canonical JSON of a policy is its normalised shape
 * (normalize.ts) serialised with keys sorted by UTF-16 code units, no whitespace, and numbers
 * in ECMAScript shortest form (as RFC 8785 does). `policyHash` is the lowercase hex sha256 of
 * its UTF-8 bytes, so two specs that mean the same thing hash equal, whether written in YAML
 * or JSON, in any key order, with sizes or orders, with defaults omitted or spelled out.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { normalizeValidated, type CanonicalPolicy } from './normalize.js';
import { PolicyValidationError, type ThpPolicy, type ValidationResult } from './spec.js';
import { validatePolicy } from './validate.js';

/** A JSON value as the canonical form holds it. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Serialise with sorted keys and no whitespace. Throws on values JSON cannot hold. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`cannot serialise ${value} as JSON`);
    return JSON.stringify(value); // -0 prints as 0
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`cannot serialise a value of type ${typeof value} as JSON`);
}

/**
 * The canonical shape of a policy: defaults explicit, sizes as sorted unique orders, contexts
 * and advice as full lists in fixed order, `allow` with no orders as `deny`, no-op pressure
 * gates dropped, `node.withoutHook` explicit. Validates first.
 * @throws PolicyValidationError if `policy` is not a valid policy.
 */
export function normalizePolicy(policy: ThpPolicy): CanonicalPolicy {
  const result = validatePolicy(policy);
  if (!result.ok) throw new PolicyValidationError(result.errors);
  return normalizeValidated(result.policy);
}

/**
 * Canonical JSON of a policy (what goes on the wire and into the hash).
 * @throws PolicyValidationError if `policy` is not a valid policy.
 */
export function canonicalize(policy: ThpPolicy): string {
  return canonicalJson(normalizePolicy(policy));
}

/** Lowercase hex sha256 of a string's UTF-8 bytes. */
export function sha256Hex(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/**
 * Lowercase hex sha256 of the policy's canonical JSON.
 * @throws PolicyValidationError if `policy` is not a valid policy.
 */
export function policyHash(policy: ThpPolicy): string {
  return sha256Hex(canonicalize(policy));
}

/**
 * Read a policy received in canonical form (the agent's side of the wire): parses the JSON,
 * validates it, and checks that the text is exactly the canonical serialisation, so the
 * hash the sender computed over these bytes is the policy's hash. Never throws.
 */
export function parseCanonical(json: string): ValidationResult {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    const message = `not valid JSON: ${e instanceof Error ? e.message : String(e)}`;
    return { ok: false, errors: [{ path: '', message, severity: 'error' }], warnings: [] };
  }
  const result = validatePolicy(value);
  if (!result.ok) return result;
  const expected = canonicalJson(normalizeValidated(result.policy));
  if (expected !== json) {
    let at = 0;
    while (at < json.length && json[at] === expected[at]) at++;
    const message = `valid policy but not in canonical form (first difference at character ${at + 1}); the sender must send canonicalize(policy)`;
    return { ok: false, errors: [{ path: '', message, severity: 'error' }], warnings: result.warnings };
  }
  return result;
}
