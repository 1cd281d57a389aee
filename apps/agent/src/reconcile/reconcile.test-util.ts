/** Shared by the reconcile and agent tests: policies as the controller sends them. */
import { createHash } from 'node:crypto';
import { canonicalize, parsePolicy, policyHash } from '@thp-fleet/policy';
import type { DesiredPolicy } from './plan.js';

/** A desired state exactly as an Assignment carries it: canonical spec, its sha256, a nonce. */
export function desiredFromYaml(yaml: string, version: number, nonce: string): DesiredPolicy {
  const parsed = parsePolicy(yaml);
  if (!parsed.ok) throw new Error(`test policy invalid: ${JSON.stringify(parsed.errors)}`);
  return { kind: 'policy', source: 'controller', policy: parsed.policy.metadata.name, version, specHash: policyHash(parsed.policy), spec: canonicalize(parsed.policy), nonce };
}

/** A spec the agent must refuse at validate, with a correct hash (so the hash check is not what catches it). */
export function withSpec(desired: DesiredPolicy, spec: string): DesiredPolicy {
  return { ...desired, spec, specHash: createHash('sha256').update(spec).digest('hex') };
}

/** Default deny; THP (PMD and 64K) for the cgroups matching `glob`. */
export function allowPolicy(name: string, glob: string, orders = '9, 4'): string {
  return `
apiVersion: thp.fleet/v1
kind: ThpPolicy
metadata: { name: ${name} }
spec:
  default: { action: deny }
  rules:
    - name: allowed
      match: { cgroups: ["${glob}"] }
      allow: { orders: [${orders}] }
`;
}
