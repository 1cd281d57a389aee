import { mergeConfig } from 'vitest/config';
import shared from '../vitest.shared.js';

// End-to-end files start controller, agent and browser processes of their own: one file at a
// time, so two simulated fleets never compete for the CI machine's two cores.
export default mergeConfig(shared, {
  test: { fileParallelism: false },
});
