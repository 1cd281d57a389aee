/** Injection token of the orchestrator's settings (rollout.config.ts). */
export const ROLLOUT_CONFIG = Symbol('RolloutConfig');
