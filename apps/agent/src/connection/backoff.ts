/**
 * Reconnect delays after gRPC's connection-backoff algorithm
 * (https://github.com/grpc/grpc/blob/master/doc/connection-backoff.md):
 *
 *   current_backoff = INITIAL_BACKOFF
 *   after each failed attempt:
 *     delay = current_backoff + UniformRandom(-JITTER * current_backoff, JITTER * current_backoff)
 *     current_backoff = min(current_backoff * MULTIPLIER, MAX_BACKOFF)
 *
 * The first delay is the initial backoff (jittered); a stream that lived long enough counts
 * as a success and resets the sequence. Randomness is injected so tests are deterministic.
 */
import type { BackoffSettings } from '../config/agent.config.js';

export class Backoff {
  private current: number;

  constructor(
    private readonly settings: BackoffSettings,
    /** Uniform in [0, 1). */
    private readonly random: () => number = Math.random,
  ) {
    this.current = settings.initialMs;
  }

  /** The delay before the next attempt, in milliseconds; advances the sequence. */
  next(): number {
    const base = this.current;
    const spread = this.settings.jitter * base;
    const delay = base + (this.random() * 2 - 1) * spread;
    this.current = Math.min(base * this.settings.multiplier, this.settings.maxMs);
    return Math.max(0, Math.round(delay));
  }

  /** After a successful connection: start again from the initial backoff. */
  reset(): void {
    this.current = this.settings.initialMs;
  }

  /** The un-jittered backoff the next call to `next` is centred on. */
  peek(): number {
    return this.current;
  }
}
