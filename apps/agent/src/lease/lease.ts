/**
 * The opt-in fail-safe lease. Without it a controller outage never changes what a node
 * enforces. With it (`--lease-ttl` plus `--baseline-policy`), a node that has not had a live
 * stream to the controller for longer than the TTL falls back to the baseline policy, once,
 * and says so when it reconnects (see docs/agent.md, "Fail-safe lease").
 *
 * The lease is held while a stream is up (keepalive pings detect a dead peer); the clock
 * starts when the stream is lost, or at start-up before the first stream. Pure: the caller
 * passes the time.
 */

export class Lease {
  private heldSince: number | undefined;
  private lostAt: number;
  private expiredAt: number | undefined;

  constructor(
    private ttlMs: number | undefined,
    now: number,
  ) {
    this.lostAt = now;
  }

  /** The TTL in force (flag, or the controller's Config when it sends one); undefined = off. */
  ttl(): number | undefined {
    return this.ttlMs;
  }

  setTtl(ttlMs: number | undefined): void {
    this.ttlMs = ttlMs;
  }

  /** A stream to the controller is up. */
  connected(now: number): void {
    this.heldSince = now;
  }

  /** The stream is gone: the lease runs out `ttl` from now unless a stream comes back. */
  disconnected(now: number): void {
    if (this.heldSince === undefined) return;
    this.heldSince = undefined;
    this.lostAt = now;
  }

  /**
   * True exactly once per outage: at the first check after the TTL ran out while no stream
   * was up. The caller then applies the baseline.
   */
  check(now: number): boolean {
    if (this.ttlMs === undefined || this.heldSince !== undefined || this.expiredAt !== undefined) return false;
    if (now - this.lostAt < this.ttlMs) return false;
    this.expiredAt = now;
    return true;
  }

  /** When the lease ran out in the current episode, or undefined. */
  expiredSince(): number | undefined {
    return this.expiredAt;
  }

  /** The controller has assigned a policy again: the episode is over. */
  renewed(): void {
    this.expiredAt = undefined;
  }

  /** Milliseconds until the lease could run out, or undefined when it cannot (off, held, or already out). */
  remaining(now: number): number | undefined {
    if (this.ttlMs === undefined || this.heldSince !== undefined || this.expiredAt !== undefined) return undefined;
    return Math.max(0, this.lostAt + this.ttlMs - now);
  }
}
