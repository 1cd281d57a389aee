import { describe, expect, it } from 'vitest';
import { Lease } from './lease.js';

describe('Lease', () => {
  it('off without a TTL: a controller outage never triggers anything', () => {
    const lease = new Lease(undefined, 0);
    expect(lease.check(10 ** 9)).toBe(false);
    expect(lease.remaining(5)).toBeUndefined();
  });

  it('runs out TTL after the stream is lost, exactly once per outage', () => {
    const lease = new Lease(60_000, 0);
    lease.connected(1_000);
    expect(lease.check(500_000)).toBe(false); // held while connected
    lease.disconnected(600_000);
    expect(lease.remaining(630_000)).toBe(30_000);
    expect(lease.check(659_999)).toBe(false);
    expect(lease.check(660_000)).toBe(true);
    expect(lease.check(700_000)).toBe(false);
    expect(lease.expiredSince()).toBe(660_000);
    // Reconnecting does not clear the episode: the agent still says it runs the baseline...
    lease.connected(720_000);
    expect(lease.expiredSince()).toBe(660_000);
    // ...until the controller assigns again.
    lease.renewed();
    expect(lease.expiredSince()).toBeUndefined();
    lease.disconnected(800_000);
    expect(lease.check(860_000)).toBe(true);
  });

  it('counts from start-up when the controller was never reached', () => {
    const lease = new Lease(1_000, 100);
    expect(lease.check(1_099)).toBe(false);
    expect(lease.check(1_100)).toBe(true);
  });

  it('a short reconnect resets the clock', () => {
    const lease = new Lease(1_000, 0);
    lease.connected(10);
    lease.disconnected(500);
    lease.connected(1_400);
    lease.disconnected(1_450);
    expect(lease.check(2_000)).toBe(false);
    expect(lease.check(2_450)).toBe(true);
  });

  it('the controller can set the TTL at runtime', () => {
    const lease = new Lease(undefined, 0);
    lease.setTtl(100);
    expect(lease.check(99)).toBe(false);
    expect(lease.check(100)).toBe(true);
  });
});
