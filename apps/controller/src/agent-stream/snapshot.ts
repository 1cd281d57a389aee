/**
 * Per-node snapshots, go-control-plane style (pure): the node's desired state is one
 * versioned value, and the only question for each stream is whether to send it. A push goes
 * out only when the snapshot differs from what the node acknowledged and from what is already
 * in flight; a version the node NACKed is held back for good (quarantine).
 */

/** The desired state of one node as one value. */
export type Snapshot =
  | { readonly kind: 'policy'; readonly policy: string; readonly version: number; readonly specHash: string; readonly rolloutId: string | null }
  | { readonly kind: 'none' };

export const NONE: Snapshot = { kind: 'none' };

/** Identity of a snapshot: equal keys mean the node needs nothing sent. */
export function snapshotKey(snapshot: Snapshot): string {
  return snapshot.kind === 'none' ? 'none' : `${snapshot.policy}@${snapshot.version}#${snapshot.specHash}`;
}

/** What one stream has: the acknowledged snapshot and the push waiting for an answer. */
export interface StreamPosition {
  /** Key of what the node runs by its own account (Hello.applied, then each ACK). */
  readonly ackedKey: string;
  /** Policy name the node runs ('' when none): a Revoke names it. */
  readonly ackedPolicy: string;
  /** The push in flight, if any. */
  readonly inflight: { readonly key: string; readonly policy: string } | undefined;
}

export type PushDecision =
  | { readonly action: 'nothing'; readonly why: 'in-sync' | 'awaiting-ack' }
  | { readonly action: 'hold'; readonly why: 'quarantined' }
  | { readonly action: 'assign'; readonly snapshot: Extract<Snapshot, { kind: 'policy' }> }
  | { readonly action: 'revoke'; readonly policy: string };

/**
 * Decide what to send. Once something is in flight, the node will apply it whatever we do, so
 * a desired state that differs from the in-flight one (even if it equals the acknowledged one)
 * is sent again, overriding it; its late ACK is then a stale nonce and ignored.
 */
export function decidePush(desired: Snapshot, quarantined: boolean, position: StreamPosition): PushDecision {
  if (desired.kind === 'policy' && quarantined) return { action: 'hold', why: 'quarantined' };
  const key = snapshotKey(desired);
  if (position.inflight) {
    if (position.inflight.key === key) return { action: 'nothing', why: 'awaiting-ack' };
  } else if (position.ackedKey === key) {
    return { action: 'nothing', why: 'in-sync' };
  }
  if (desired.kind === 'policy') return { action: 'assign', snapshot: desired };
  const policy = position.inflight && position.inflight.key !== 'none' ? position.inflight.policy : position.ackedPolicy;
  // Nothing applied and nothing in flight: nothing to revoke.
  if (policy === '') return { action: 'nothing', why: 'in-sync' };
  return { action: 'revoke', policy };
}
