/**
 * A node's state, derived from facts (pure, no I/O): one of
 *   stale         silent past the stale timeout;
 *   nacked        it rejected its desired version (quarantined, never re-sent);
 *   incompatible  its capabilities lack what the desired policy needs;
 *   pending       the desired version is not yet acknowledged;
 *   drifted       what it runs differs from what it acknowledged (or sysfs from the policy);
 *   in-sync       acknowledged and observed equal the desired version;
 *   unassigned    nothing desired and nothing applied.
 * The order above is the precedence when several hold.
 */
import { normalizePolicy, type ThpPolicy } from '@thp-fleet/policy';

export const NODE_STATES = ['in-sync', 'drifted', 'pending', 'nacked', 'stale', 'incompatible', 'unassigned'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export interface PolicyRef {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string | null;
}

export interface ObservedFacts {
  readonly applied: PolicyRef | null;
  /** "full", "node-level-only", "none" or "" when not reported. */
  readonly enforcement: string;
  /** ThpSysfs as proto JSON. */
  readonly sysfs: Record<string, unknown> | null;
}

export interface NodeFacts {
  readonly stale: boolean;
  readonly desired: PolicyRef | null;
  readonly desiredQuarantined: boolean;
  /** The desired policy, parsed (undefined if unknown). */
  readonly desiredPolicy: ThpPolicy | undefined;
  readonly acked: PolicyRef | null;
  /** The acknowledged policy, parsed (for the sysfs drift check). */
  readonly ackedPolicy: ThpPolicy | undefined;
  readonly observed: ObservedFacts | null;
  /** Capabilities as proto JSON. */
  readonly capabilities: Record<string, unknown>;
}

export interface DerivedState {
  readonly state: NodeState;
  /** Why the node is drifted (empty otherwise). */
  readonly drift: readonly string[];
  /** Why the node cannot run the desired policy (null when it can). */
  readonly incompatibility: string | null;
}

export function refKey(ref: PolicyRef | null): string {
  return ref === null ? 'none' : `${ref.policy}@${ref.version}`;
}

function sameRef(a: PolicyRef | null, b: PolicyRef | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.policy !== b.policy || a.version !== b.version) return false;
  return a.specHash === null || b.specHash === null || a.specHash === b.specHash;
}

const HOOK_ABIS_WITH_HOOK = new Set(['HOOK_ABI_V7', 'HOOK_ABI_V8', 'HOOK_ABI_V12']);

/** Why `capabilities` cannot run `policy` (null when they can). */
export function incompatibility(capabilities: Record<string, unknown>, policy: ThpPolicy | undefined): string | null {
  if (policy === undefined) return null;
  const backend = capabilities['activeBackend'];
  // The simulator backend implements the hook itself (DESIGN.md section 5).
  if (backend === 'BACKEND_SIM') return null;
  const abi = typeof capabilities['hookAbi'] === 'string' ? capabilities['hookAbi'] : 'HOOK_ABI_UNSPECIFIED';
  if (HOOK_ABIS_WITH_HOOK.has(abi)) return null;
  const withoutHook = normalizePolicy(policy).spec.node.withoutHook;
  if (withoutHook === 'node-level') return null;
  const detail = typeof capabilities['hookDetail'] === 'string' && capabilities['hookDetail'] !== '' ? ` (${capabilities['hookDetail']})` : '';
  return `the kernel offers no bpf_thp_ops hook (${abi})${detail} and the policy sets spec.node.withoutHook: deny`;
}

/** sysfs settings the policy asks for that the node does not have. */
export function sysfsDrift(policy: ThpPolicy | undefined, sysfs: Record<string, unknown> | null): string[] {
  if (policy === undefined || sysfs === null) return [];
  const node = normalizePolicy(policy).spec.node;
  const out: string[] = [];
  const check = (field: string, wanted: unknown, actual: unknown): void => {
    if (wanted !== undefined && actual !== undefined && wanted !== actual) out.push(`sysfs ${field} is ${JSON.stringify(actual)}, the policy sets ${JSON.stringify(wanted)}`);
  };
  check('enabled', node.enabled, sysfs['enabled']);
  check('defrag', node.defrag, sysfs['defrag']);
  check('shmem_enabled', node.shmemEnabled, sysfs['shmemEnabled']);
  const perSize = (sysfs['perSizeEnabled'] ?? {}) as Record<string, unknown>;
  for (const [size, mode] of Object.entries(node.hugepages ?? {})) check(`hugepages-${size}/enabled`, mode, perSize[`hugepages-${size}`]);
  check('khugepaged/max_ptes_none', node.khugepaged?.maxPtesNone, sysfs['khugepagedMaxPtesNone']);
  check('khugepaged/pages_to_scan', node.khugepaged?.pagesToScan, sysfs['khugepagedPagesToScan']);
  return out;
}

export function deriveNodeState(facts: NodeFacts): DerivedState {
  const incompatible = facts.desired ? incompatibility(facts.capabilities, facts.desiredPolicy) : null;
  const drift: string[] = [];
  if (facts.observed) {
    const { applied, enforcement } = facts.observed;
    if (!sameRef(applied, facts.acked)) drift.push(`runs ${refKey(applied)} but acknowledged ${refKey(facts.acked)}`);
    else if (facts.acked !== null && enforcement === 'none') drift.push(`acknowledged ${refKey(facts.acked)} but enforces nothing`);
    if (sameRef(applied, facts.acked)) drift.push(...sysfsDrift(facts.ackedPolicy, facts.observed.sysfs));
  }
  const base = { drift, incompatibility: incompatible };
  if (facts.stale) return { state: 'stale', ...base };
  if (facts.desired && facts.desiredQuarantined) return { state: 'nacked', ...base };
  if (incompatible !== null) return { state: 'incompatible', ...base };
  if (!sameRef(facts.desired, facts.acked)) return { state: 'pending', ...base };
  if (drift.length > 0) return { state: 'drifted', ...base };
  if (facts.desired === null) return { state: 'unassigned', ...base };
  return { state: 'in-sync', ...base };
}
