/** A policy version as a rollout sees it: the same on the wire, in assignments and in acks. */
export interface PolicyRef {
  readonly policy: string;
  readonly version: number;
}

export function samePolicyRef(a: PolicyRef | null, b: PolicyRef | null): boolean {
  return a === null || b === null ? a === b : a.policy === b.policy && a.version === b.version;
}

export function formatPolicyRef(ref: PolicyRef | null): string {
  return ref === null ? 'no policy' : `${ref.policy}@${ref.version}`;
}
