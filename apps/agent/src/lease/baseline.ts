/**
 * The fail-safe lease's baseline policy: read from the configured file (YAML or JSON), checked
 * at start like every other setting, and kept in canonical form so it is applied exactly as a
 * controller assignment would be (same validation, same hash).
 */
import { canonicalize, parsePolicy, policyHash } from '@thp-fleet/policy';

export interface BaselinePolicy {
  /** metadata.name of the baseline. */
  readonly policy: string;
  readonly spec: string;
  readonly specHash: string;
}

export function loadBaseline(text: string, file: string): { ok: true; baseline: BaselinePolicy } | { ok: false; errors: string[] } {
  const parsed = parsePolicy(text);
  if (!parsed.ok) {
    return {
      ok: false,
      errors: parsed.errors.map((e) => `--baseline-policy ${file}${e.line ? `:${e.line}:${e.column ?? 1}` : ''}: ${e.path ? `${e.path}: ` : ''}${e.message}`),
    };
  }
  return { ok: true, baseline: { policy: parsed.policy.metadata.name, spec: canonicalize(parsed.policy), specHash: policyHash(parsed.policy) } };
}
