/**
 * The orchestrator's settings, read from the environment once at start into one typed object;
 * every bad variable is reported together (the controller's config convention).
 *
 *   THP_ROLLOUT_INTERVAL        how often the leader advances rollouts (default 1s)
 *   THP_ROLLOUT_ACK_TIMEOUT     how long assigned nodes may take to acknowledge before the
 *                               rollout pauses itself (default 5m)
 *   THP_ROLLOUT_BUDGET_NODES    blast-radius budget: at most this many nodes in a non-stable
 *                               state across all rollouts (default: no absolute cap)
 *   THP_ROLLOUT_BUDGET_PERCENT  the same as a percentage of the fleet (default: no cap)
 *
 * The budget variables apply until an admin sets the budget with PUT /api/v1/rollout-budget.
 *
 * These are operational choices, not kernel constants (docs/rollouts.md).
 */
import { parseDuration } from '../config/config.js';
import type { BudgetSpec } from './cohort.js';

export interface RolloutConfig {
  readonly intervalMs: number;
  readonly ackTimeoutMs: number;
  readonly budget: BudgetSpec;
}

export const ROLLOUT_DEFAULTS = { intervalMs: 1_000, ackTimeoutMs: 5 * 60_000 } as const;

export class RolloutConfigError extends Error {
  constructor(readonly problems: readonly { variable: string; message: string }[]) {
    super(`invalid rollout configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'RolloutConfigError';
  }
}

export function loadRolloutConfig(env: Readonly<Record<string, string | undefined>>): RolloutConfig {
  const problems: { variable: string; message: string }[] = [];
  const duration = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const ms = parseDuration(raw);
    if (ms === undefined || ms < min) {
      problems.push({ variable: name, message: `"${raw}" is not a duration of at least ${min} ms (e.g. 500ms, 10s, 5m)` });
      return fallback;
    }
    return ms;
  };
  const number = (name: string, min: number, max: number, integer: boolean): number | null => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return null;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      problems.push({ variable: name, message: `"${raw}" is not ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}` });
      return null;
    }
    return value;
  };
  const config: RolloutConfig = {
    intervalMs: duration('THP_ROLLOUT_INTERVAL', ROLLOUT_DEFAULTS.intervalMs, 10),
    ackTimeoutMs: duration('THP_ROLLOUT_ACK_TIMEOUT', ROLLOUT_DEFAULTS.ackTimeoutMs, 100),
    budget: { maxNodes: number('THP_ROLLOUT_BUDGET_NODES', 1, 10_000_000, true), maxPercent: number('THP_ROLLOUT_BUDGET_PERCENT', 0.001, 100, false) },
  };
  if (problems.length > 0) throw new RolloutConfigError(problems);
  return config;
}
