import { parsePolicy, type ThpPolicy } from '@thp-fleet/policy';
import { describe, expect, it } from 'vitest';
import { policyYaml } from '../testing.test-util.js';
import { deriveNodeState, incompatibility, sysfsDrift, type NodeFacts } from './node-state.js';

function policy(text: string): ThpPolicy {
  const result = parsePolicy(text);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

const P1 = { policy: 'p', version: 1, specHash: 'a'.repeat(64) };
const P2 = { policy: 'p', version: 2, specHash: 'b'.repeat(64) };
const simCaps = { activeBackend: 'BACKEND_SIM', hookAbi: 'HOOK_ABI_ABSENT' };
const base: NodeFacts = {
  stale: false,
  desired: P1,
  desiredQuarantined: false,
  desiredPolicy: policy(policyYaml('p')),
  acked: P1,
  ackedPolicy: policy(policyYaml('p')),
  observed: { applied: P1, enforcement: 'full', sysfs: { enabled: 'madvise' } },
  capabilities: simCaps,
};

describe('deriveNodeState', () => {
  it('is in-sync when desired, acked and observed agree', () => {
    expect(deriveNodeState(base)).toEqual({ state: 'in-sync', drift: [], incompatibility: null });
  });

  it('is pending while the desired version is not acknowledged', () => {
    expect(deriveNodeState({ ...base, desired: P2 }).state).toBe('pending');
  });

  it('is drifted when the node runs something other than what it acknowledged', () => {
    const derived = deriveNodeState({ ...base, observed: { applied: P2, enforcement: 'full', sysfs: null } });
    expect(derived.state).toBe('drifted');
    expect(derived.drift).toEqual(['runs p@2 but acknowledged p@1']);
  });

  it('is drifted when sysfs no longer has what the policy sets', () => {
    const withNode = policy(`${policyYaml('p')}  node:\n    enabled: madvise\n    defrag: defer\n`);
    const derived = deriveNodeState({ ...base, ackedPolicy: withNode, desiredPolicy: withNode, observed: { applied: P1, enforcement: 'full', sysfs: { enabled: 'always', defrag: 'defer' } } });
    expect(derived.state).toBe('drifted');
    expect(derived.drift).toEqual(['sysfs enabled is "always", the policy sets "madvise"']);
  });

  it('is drifted when an acknowledged policy is not enforced', () => {
    expect(deriveNodeState({ ...base, observed: { applied: P1, enforcement: 'none', sysfs: null } }).drift).toEqual(['acknowledged p@1 but enforces nothing']);
  });

  it('is nacked when the desired version is quarantined, even if pending', () => {
    expect(deriveNodeState({ ...base, desired: P2, desiredQuarantined: true }).state).toBe('nacked');
  });

  it('is stale above everything else', () => {
    expect(deriveNodeState({ ...base, stale: true, desiredQuarantined: true }).state).toBe('stale');
  });

  it('is incompatible when the kernel lacks the hook and the policy forbids running without it', () => {
    const bpfNoHook = { activeBackend: 'BACKEND_BPF', hookAbi: 'HOOK_ABI_ABSENT', hookDetail: 'no struct bpf_thp_ops in BTF' };
    const derived = deriveNodeState({ ...base, capabilities: bpfNoHook });
    expect(derived.state).toBe('incompatible');
    expect(derived.incompatibility).toContain('no struct bpf_thp_ops in BTF');
    expect(incompatibility(bpfNoHook, policy(policyYaml('p', { withoutHook: 'node-level' })))).toBeNull();
    expect(incompatibility({ activeBackend: 'BACKEND_BPF', hookAbi: 'HOOK_ABI_V8' }, base.desiredPolicy)).toBeNull();
  });

  it('is unassigned with nothing desired or applied, pending while a revoke is outstanding', () => {
    expect(deriveNodeState({ ...base, desired: null, acked: null, observed: null }).state).toBe('unassigned');
    expect(deriveNodeState({ ...base, desired: null }).state).toBe('pending');
  });

  it('reports no sysfs drift for settings the policy leaves alone', () => {
    expect(sysfsDrift(base.ackedPolicy, { enabled: 'always', defrag: 'never' })).toEqual([]);
  });
});
