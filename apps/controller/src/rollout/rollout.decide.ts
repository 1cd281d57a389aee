/**
 * What the orchestrator should do next for one rollout, from its persisted state and a view of
 * the world (acknowledgements, NACK quarantine, staleness). Pure. Everything here is
 * level-triggered: the answer depends only on the state and the view, never on having seen an
 * earlier notification, so a controller that restarts (or a new leader) simply asks again and
 * carries on where the last one stopped, without losing or repeating a transition.
 *
 * Work that needs more of the world (the fleet for a cohort, the budget for an admission,
 * metric samples for a judgment) is returned as a work item; the orchestrator computes it and
 * feeds the resulting event to the machine.
 */
import { samePolicyRef, type PolicyRef } from './policy-ref.js';
import type { RolloutEvent, RolloutState } from './rollout.machine.js';

export { formatPolicyRef, samePolicyRef, type PolicyRef } from './policy-ref.js';

/** One node as the rollout sees it. */
export interface NodeView {
  readonly stale: boolean;
  /** What the node last acknowledged (null = nothing, or a Revoke). */
  readonly acked: PolicyRef | null;
}

export interface WorldView {
  readonly target: PolicyRef;
  /** The nodes the rollout has touched or chosen; a node missing here is treated as unknown (not acked, not stale). */
  readonly nodes: ReadonlyMap<string, NodeView>;
  /** Touched nodes that rejected the target version, with their message. */
  readonly nackedTarget: ReadonlyMap<string, string>;
  /** Per touched node, what it ran before this rollout assigned it (what a rollback restores). */
  readonly previous: ReadonlyMap<string, PolicyRef | null>;
  /** Touched nodes that rejected their previous version after the rollback began. */
  readonly nackedPrevious: ReadonlyMap<string, string>;
  /** How long admitted nodes may take to acknowledge before the rollout pauses. */
  readonly ackTimeoutMs: number;
}

export type WorkItem =
  | { readonly kind: 'event'; readonly event: RolloutEvent }
  | { readonly kind: 'choose_cohort'; readonly step: number }
  | { readonly kind: 'admit'; readonly step: number; readonly remaining: readonly string[] }
  | { readonly kind: 'judge'; readonly step: number; readonly attempt: number }
  /** Nothing to do until the world changes or `until` (when set) passes. */
  | { readonly kind: 'idle'; readonly until: number | null };

const event = (e: RolloutEvent): WorkItem => ({ kind: 'event', event: e });

/** Admitted nodes that have not acknowledged the target version yet. */
export function unacked(state: RolloutState, view: WorldView): string[] {
  return state.admitted.filter((id) => !samePolicyRef(view.nodes.get(id)?.acked ?? null, view.target));
}

/** Touched nodes not yet back on their previous version (stale nodes count as done: their desired state is set). */
export function notRolledBack(state: RolloutState, view: WorldView): { waiting: string[]; stale: string[] } {
  const waiting: string[] = [];
  const stale: string[] = [];
  for (const id of state.touched) {
    const node = view.nodes.get(id);
    if (samePolicyRef(node?.acked ?? null, view.previous.get(id) ?? null)) continue;
    if (node?.stale === true) stale.push(id);
    else waiting.push(id);
  }
  return { waiting, stale };
}

export function nextWork(state: RolloutState, view: WorldView, now: number): WorkItem {
  // A NACK from any node the rollout assigned wins over everything else.
  if (state.phase === 'progressing' || state.phase === 'baking' || state.phase === 'judging' || state.phase === 'paused') {
    for (const id of state.touched) {
      const message = view.nackedTarget.get(id);
      if (message !== undefined && !state.nacked.includes(id)) return event({ type: 'nack', node: id, message });
    }
  }
  switch (state.phase) {
    case 'pending':
      return event({ type: 'start' });
    case 'progressing': {
      if (state.cohort === null) return { kind: 'choose_cohort', step: state.step };
      const remaining = state.cohort.filter((id) => !state.admitted.includes(id));
      const waiting = unacked(state, view);
      if (waiting.length > 0 && now - state.since >= view.ackTimeoutMs) {
        const stale = waiting.filter((id) => view.nodes.get(id)?.stale === true);
        const shown = waiting.slice(0, 10).join(', ') + (waiting.length > 10 ? `, ... (${waiting.length} in all)` : '');
        return event({
          type: 'pause',
          by: 'system',
          reason: `${waiting.length} node(s) did not acknowledge version ${view.target.version} within ${view.ackTimeoutMs} ms: ${shown}${stale.length > 0 ? ` (${stale.length} stale)` : ''}`,
        });
      }
      if (remaining.length > 0) return { kind: 'admit', step: state.step, remaining };
      if (waiting.length === 0) return event({ type: 'step_acked', step: state.step });
      return { kind: 'idle', until: state.since + view.ackTimeoutMs };
    }
    case 'baking':
      return state.bakeUntil !== null && now >= state.bakeUntil ? event({ type: 'tick' }) : { kind: 'idle', until: state.bakeUntil };
    case 'judging': {
      const judging = state.judging;
      if (judging === null) return { kind: 'idle', until: null };
      if (judging.awaiting) return { kind: 'judge', step: state.step, attempt: judging.attempt };
      return now >= judging.nextAt ? event({ type: 'tick' }) : { kind: 'idle', until: judging.nextAt };
    }
    case 'paused':
      return { kind: 'idle', until: null };
    case 'rolling_back': {
      for (const id of state.touched) {
        const message = view.nackedPrevious.get(id);
        if (message !== undefined) return event({ type: 'rollback_nack', node: id, message });
      }
      return notRolledBack(state, view).waiting.length === 0 ? event({ type: 'rollback_done' }) : { kind: 'idle', until: null };
    }
    case 'completed':
    case 'failed':
    case 'rolled_back':
    case 'aborted':
      return { kind: 'idle', until: null };
  }
}
