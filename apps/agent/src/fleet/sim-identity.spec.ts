import { describe, expect, it } from 'vitest';
import { HARDWARE_CLASSES, SIM_KERNELS, WORKLOAD_MIXES, ZONES, simNodeId, simNodeIdentity } from './sim-identity.js';

describe('simulated node identities', () => {
  it('ids are zero-padded and unique', () => {
    expect(simNodeId('sim', 0, 12)).toBe('sim-001');
    expect(simNodeId('sim', 99, 100)).toBe('sim-100');
    expect(simNodeId('edge', 41, 5000)).toBe('edge-0042');
    const ids = new Set(Array.from({ length: 1000 }, (_, i) => simNodeIdentity('sim', i, 1000, 1).nodeId));
    expect(ids.size).toBe(1000);
  });

  it('is deterministic and carries zone, kernel, hardware class and workload mix', () => {
    const a = simNodeIdentity('sim', 17, 100, 7, { env: 'demo' });
    expect(simNodeIdentity('sim', 17, 100, 7, { env: 'demo' })).toEqual(a);
    expect(a.labels).toEqual({ env: 'demo', zone: a.labels['zone'], kernel: a.labels['kernel'], 'hardware-class': a.hardware, 'workload-mix': a.mix });
    expect(a.seed).toBe(24);
    expect(SIM_KERNELS.find((k) => k.label === a.labels['kernel'])?.abi).toBe(a.abi);
  });

  it('a dozen nodes already cover every zone, kernel and hardware class; 27 cover every mix', () => {
    const fleet = (n: number) => Array.from({ length: n }, (_, i) => simNodeIdentity('sim', i, n, 1));
    const twelve = fleet(12);
    expect(new Set(twelve.map((n) => n.labels['zone']))).toEqual(new Set(ZONES));
    expect(new Set(twelve.map((n) => n.abi))).toEqual(new Set(['v7', 'v8', 'v12']));
    expect(new Set(twelve.map((n) => n.hardware))).toEqual(new Set(HARDWARE_CLASSES));
    expect(new Set(fleet(27).map((n) => n.mix))).toEqual(new Set(WORKLOAD_MIXES));
  });

  it('--sim-mix: one workload mix on every node, labelled as such; the rest of the identity unchanged', () => {
    for (let i = 0; i < 30; i++) {
      const varied = simNodeIdentity('sim', i, 30, 1);
      const kv = simNodeIdentity('sim', i, 30, 1, {}, 'kv-heavy');
      expect(kv).toEqual({ ...varied, mix: 'kv-heavy', labels: { ...varied.labels, 'workload-mix': 'kv-heavy' } });
    }
  });

  it('every zone gets both of the common kernels (strata for the canary judge)', () => {
    const fleet = Array.from({ length: 30 }, (_, i) => simNodeIdentity('sim', i, 30, 1));
    for (const zone of ZONES) {
      const kernels = new Set(fleet.filter((n) => n.labels['zone'] === zone).map((n) => n.abi));
      expect(kernels.has('v8') && kernels.has('v12')).toBe(true);
    }
  });
});
