import { standardWorkloadMix } from '@thp-fleet/mm-sim';
import { describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../config/agent.config.js';
import { HARDWARE_MEMORY, simNodeSetups, workloadsFor } from './sim.fleet.js';

function config(argv: string[]) {
  const parsed = parseAgentConfig(['--controller', '127.0.0.1:1', '--state-dir', '/tmp/thp-fleet-setups', ...argv], { THP_AGENT_SECRET: 'a-secret-of-enough-length' }, { hostname: () => 'host-1', readFile: () => Buffer.alloc(0) });
  if (parsed.ok !== true) throw new Error(JSON.stringify(parsed));
  return parsed.config;
}

describe('simulated fleet setups', () => {
  it('varied by default: every mix occurs in a fleet of 27', () => {
    const mixes = simNodeSetups(config(['--sim-nodes', '27'])).map((s) => s.identity.mix);
    expect(new Set(mixes)).toEqual(new Set(['standard', 'jvm-heavy', 'kv-heavy']));
  });

  it('--sim-mix standard: every node runs the six-workload standard mix, sized to its memory', () => {
    const setups = simNodeSetups(config(['--sim-nodes', '27', '--sim-mix', 'standard']));
    expect(setups).toHaveLength(27);
    for (const s of setups) {
      expect(s.labels['workload-mix']).toBe('standard');
      const memory = HARDWARE_MEMORY[s.identity.hardware];
      expect(workloadsFor(s.identity.mix, memory)).toEqual(standardWorkloadMix(memory));
    }
    expect(simNodeSetups(config(['--sim-mix', 'kv-heavy']))[0]!.identity.mix).toBe('kv-heavy');
  });
});
