import { describe, expect, it } from 'vitest';
import { GRPC_CONNECTION_BACKOFF } from '../config/agent.config.js';
import { Backoff } from './backoff.js';

/** A deterministic sequence of "random" numbers in [0, 1). */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('Backoff (gRPC connection-backoff)', () => {
  it('without jitter: 1 s, then x1.6 each time, capped at 120 s', () => {
    const b = new Backoff({ ...GRPC_CONNECTION_BACKOFF, jitter: 0 });
    const delays = Array.from({ length: 14 }, () => b.next());
    expect(delays.slice(0, 6)).toEqual([1000, 1600, 2560, 4096, 6554, 10486]);
    // 1.6^11 = 175.9 > 120: capped from the 12th attempt on.
    expect(delays.slice(10)).toEqual([109951, 120000, 120000, 120000]);
  });

  it('jitter spreads each delay over +-20 % of the current backoff', () => {
    const low = new Backoff(GRPC_CONNECTION_BACKOFF, () => 0);
    const high = new Backoff(GRPC_CONNECTION_BACKOFF, () => 0.999999);
    const mid = new Backoff(GRPC_CONNECTION_BACKOFF, () => 0.5);
    expect([low.next(), low.next()]).toEqual([800, 1280]);
    expect([high.next(), high.next()]).toEqual([1200, 1920]);
    expect([mid.next(), mid.next()]).toEqual([1000, 1600]);
  });

  it('every jittered delay stays within the bounds over a long run', () => {
    const b = new Backoff(GRPC_CONNECTION_BACKOFF, sequence([0.1, 0.9, 0.37, 0.62, 0.0, 0.99]));
    let current = GRPC_CONNECTION_BACKOFF.initialMs;
    for (let i = 0; i < 40; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(Math.floor(current * 0.8));
      expect(d).toBeLessThanOrEqual(Math.ceil(current * 1.2));
      current = Math.min(current * 1.6, 120_000);
    }
  });

  it('reset starts over from the initial backoff', () => {
    const b = new Backoff({ ...GRPC_CONNECTION_BACKOFF, jitter: 0 });
    b.next();
    b.next();
    b.next();
    expect(b.peek()).toBeCloseTo(4096);
    b.reset();
    expect(b.next()).toBe(1000);
  });

  it('honours test overrides', () => {
    const b = new Backoff({ initialMs: 20, multiplier: 2, jitter: 0, maxMs: 100 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([20, 40, 80, 100, 100]);
  });
});
