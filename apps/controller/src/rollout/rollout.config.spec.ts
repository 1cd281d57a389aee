import { describe, expect, it } from 'vitest';
import { loadRolloutConfig, RolloutConfigError, ROLLOUT_DEFAULTS } from './rollout.config.js';

describe('loadRolloutConfig', () => {
  it('has defaults', () => {
    expect(loadRolloutConfig({})).toEqual({ ...ROLLOUT_DEFAULTS, budget: { maxNodes: null, maxPercent: null } });
  });

  it('reads every variable', () => {
    expect(loadRolloutConfig({ THP_ROLLOUT_INTERVAL: '200ms', THP_ROLLOUT_ACK_TIMEOUT: '30s', THP_ROLLOUT_BUDGET_NODES: '5', THP_ROLLOUT_BUDGET_PERCENT: '12.5' })).toEqual({
      intervalMs: 200,
      ackTimeoutMs: 30_000,
      budget: { maxNodes: 5, maxPercent: 12.5 },
    });
  });

  it('names every bad variable at once', () => {
    try {
      loadRolloutConfig({ THP_ROLLOUT_INTERVAL: 'soon', THP_ROLLOUT_ACK_TIMEOUT: '5', THP_ROLLOUT_BUDGET_NODES: '2.5', THP_ROLLOUT_BUDGET_PERCENT: '101' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RolloutConfigError);
      expect((error as RolloutConfigError).problems.map((p) => p.variable)).toEqual(['THP_ROLLOUT_INTERVAL', 'THP_ROLLOUT_ACK_TIMEOUT', 'THP_ROLLOUT_BUDGET_NODES', 'THP_ROLLOUT_BUDGET_PERCENT']);
    }
  });
});
