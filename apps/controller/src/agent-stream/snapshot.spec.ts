import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NONE, decidePush, snapshotKey, type Snapshot, type StreamPosition } from './snapshot.js';

const V1: Snapshot = { kind: 'policy', policy: 'p', version: 1, specHash: 'a'.repeat(64), rolloutId: null };
const V2: Snapshot = { kind: 'policy', policy: 'p', version: 2, specHash: 'b'.repeat(64), rolloutId: 'r1' };
const at = (acked: Snapshot, inflight?: Snapshot): StreamPosition => ({
  ackedKey: snapshotKey(acked),
  ackedPolicy: acked.kind === 'policy' ? acked.policy : '',
  inflight: inflight ? { key: snapshotKey(inflight), policy: inflight.kind === 'policy' ? inflight.policy : 'p' } : undefined,
});

describe('decidePush', () => {
  it('sends nothing when the node acknowledged the desired snapshot', () => {
    expect(decidePush(V1, false, at(V1))).toEqual({ action: 'nothing', why: 'in-sync' });
    expect(decidePush(NONE, false, at(NONE))).toEqual({ action: 'nothing', why: 'in-sync' });
  });

  it('assigns a new version once, then waits for its ACK', () => {
    expect(decidePush(V2, false, at(V1))).toEqual({ action: 'assign', snapshot: V2 });
    expect(decidePush(V2, false, at(V1, V2))).toEqual({ action: 'nothing', why: 'awaiting-ack' });
  });

  it('holds a quarantined version for good', () => {
    expect(decidePush(V2, true, at(V1))).toEqual({ action: 'hold', why: 'quarantined' });
  });

  it('revokes what the node runs when the desired state becomes none', () => {
    expect(decidePush(NONE, false, at(V1))).toEqual({ action: 'revoke', policy: 'p' });
  });

  it('overrides an in-flight push when the desired state moved back', () => {
    expect(decidePush(V1, false, at(V1, V2))).toEqual({ action: 'assign', snapshot: V1 });
  });

  it('never asks to push what is in flight, nor what is acknowledged when nothing is in flight (property)', () => {
    const snapshot = fc.oneof(
      fc.constant(NONE),
      fc.record({ kind: fc.constant('policy' as const), policy: fc.constantFrom('p', 'q'), version: fc.integer({ min: 1, max: 3 }), specHash: fc.constantFrom('a'.repeat(64), 'b'.repeat(64)), rolloutId: fc.constant(null) }),
    );
    fc.assert(
      fc.property(snapshot, snapshot, fc.option(snapshot, { nil: undefined }), fc.boolean(), (desired, acked, inflight, quarantined) => {
        const decision = decidePush(desired, quarantined, at(acked, inflight));
        if (decision.action === 'assign') {
          expect(snapshotKey(decision.snapshot)).toBe(snapshotKey(desired));
          expect(quarantined).toBe(false);
          if (inflight) expect(snapshotKey(inflight)).not.toBe(snapshotKey(desired));
          else expect(snapshotKey(acked)).not.toBe(snapshotKey(desired));
        }
        if (decision.action === 'revoke') expect(desired.kind).toBe('none');
        const settled = inflight ? snapshotKey(inflight) === snapshotKey(desired) : snapshotKey(acked) === snapshotKey(desired);
        if (settled) expect(decision.action === 'nothing' || decision.action === 'hold').toBe(true);
      }),
    );
  });
});
