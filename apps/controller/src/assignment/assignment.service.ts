/**
 * Desired state: one policy version (or none) per node. This is the seam the rollout
 * orchestrator drives: `setDesired` / `clearDesired` inside its own transition transaction,
 * with its rollout id. A change is audited, published as an event and NOTIFYed on
 * DESIRED_CHANNEL so every replica recomputes the snapshots of its connected nodes.
 */
import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '../common/errors.js';
import { CLOCK, STORE, type Clock } from '../common/tokens.js';
import type { Db, Store } from '../store/database.js';
import { AuditService } from '../audit/audit.service.js';
import { EventsService } from '../events/events.service.js';
import { NodeRepository } from '../node/node.repository.js';
import { PolicyRepository } from '../policy/policy.repository.js';
import { AssignmentRepository, type AssignmentRecord } from './assignment.repository.js';

export interface SetDesiredOptions {
  /** Who: `token:name#id` for people, `controller:<task>` for automatic actions. */
  readonly actor: string;
  /** The rollout this assignment belongs to (null/omitted for a direct assignment). */
  readonly rolloutId?: string | null;
  /** Optimistic concurrency: the revision each node's assignment must still have (0 = never assigned). */
  readonly expectedRevisions?: ReadonlyMap<string, number>;
  /** Run inside the caller's transaction; its commit publishes the change. */
  readonly tx?: Db;
  /** Free text kept in the audit entry (e.g. "rollout step 2", "rollback: gate failed"). */
  readonly reason?: string;
}

export interface DesiredChange {
  /** Nodes whose desired state changed. */
  readonly changed: readonly string[];
  /** Nodes that already had exactly this desired state. */
  readonly unchanged: readonly string[];
  /** Nodes that NACKed this version before: it is recorded as desired but never sent to them. */
  readonly quarantined: readonly string[];
}

/** Compact before-state for the audit entry: "policy@version" (or "none") -> node ids. */
function groupBefore(nodeIds: readonly string[], before: ReadonlyMap<string, AssignmentRecord>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of nodeIds) {
    const record = before.get(id);
    const key = record && record.policy !== null ? `${record.policy}@${record.version}${record.rolloutId ? ` (rollout ${record.rolloutId})` : ''}` : 'none';
    (out[key] ??= []).push(id);
  }
  return out;
}

const MAX_NODES_PER_CALL = 100_000;

@Injectable()
export class AssignmentService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AssignmentRepository) private readonly repository: AssignmentRepository,
    @Inject(NodeRepository) private readonly nodes: NodeRepository,
    @Inject(PolicyRepository) private readonly policies: PolicyRepository,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(EventsService) private readonly events: EventsService,
  ) {}

  /** Make `policy@version` the desired state of these nodes. */
  setDesired(nodeIds: readonly string[], policy: string, version: number, options: SetDesiredOptions): Promise<DesiredChange> {
    return this.change(nodeIds, { policy, version }, options);
  }

  /** Make "no policy" the desired state of these nodes: connected nodes get a Revoke. */
  clearDesired(nodeIds: readonly string[], options: SetDesiredOptions): Promise<DesiredChange> {
    return this.change(nodeIds, null, options);
  }

  getDesired(nodeIds: readonly string[]): Promise<AssignmentRecord[]> {
    return this.repository.forNodes(this.store.db, nodeIds);
  }

  /** Node ids for a bulk request: explicit ids, or every node whose labels include the selector. */
  async resolveTargets(target: { nodeIds?: readonly string[]; labels?: Record<string, string> }): Promise<string[]> {
    if (target.nodeIds) return [...new Set(target.nodeIds)];
    if (target.labels) return this.nodes.idsMatching(this.store.db, target.labels);
    return [];
  }

  private async change(nodeIds: readonly string[], target: { policy: string; version: number } | null, options: SetDesiredOptions): Promise<DesiredChange> {
    const ids = [...new Set(nodeIds)].sort();
    if (ids.length > MAX_NODES_PER_CALL) throw new AppError('invalid_argument', `at most ${MAX_NODES_PER_CALL} nodes per change`, [{ path: 'nodeIds', message: `${ids.length} given` }]);
    const run = async (tx: Db): Promise<DesiredChange> => {
      if (ids.length === 0) return { changed: [], unchanged: [], quarantined: [] };
      const known = await this.nodes.exists(tx, ids);
      const missing = ids.filter((id) => !known.has(id));
      if (missing.length > 0) {
        throw new AppError(
          'not_found',
          `${missing.length} node${missing.length === 1 ? '' : 's'} not found (a node is known once its agent has connected)`,
          missing.slice(0, 50).map((id) => ({ path: 'nodeIds', message: `unknown node ${id}` })),
        );
      }
      if (target) {
        const [found] = await this.policies.getDeliverable(tx, [target]);
        if (!found) throw new AppError('not_found', `policy ${target.policy} has no version ${target.version}`, [{ path: 'version', message: 'no such policy version' }]);
      }
      const before = new Map((await this.repository.lock(tx, ids)).map((record) => [record.nodeId, record]));
      if (options.expectedRevisions) {
        const stale = [...options.expectedRevisions].filter(([id, expected]) => (before.get(id)?.revision ?? 0) !== expected);
        if (stale.length > 0) {
          throw new AppError(
            'conflict',
            'the assignment changed since it was read: reload and try again',
            stale.map(([id, expected]) => ({ path: `expectedRevision`, message: `node ${id}: expected revision ${expected}, current ${before.get(id)?.revision ?? 0}` })),
          );
        }
      }
      const rolloutId = options.rolloutId ?? null;
      const changedRows = await this.repository.upsert(tx, ids, target, rolloutId, options.actor, this.clock.now());
      const changed = changedRows.map((row) => row.nodeId).sort();
      const changedSet = new Set(changed);
      const unchanged = ids.filter((id) => !changedSet.has(id));
      const quarantined = target ? await this.nodes.quarantinedAmong(tx, ids, target.policy, target.version) : [];
      if (changed.length > 0) {
        await this.repository.notifyDesired(tx, changed);
        await this.audit.record(tx, {
          actor: options.actor,
          action: target ? 'assignment.set' : 'assignment.clear',
          targetType: 'assignment',
          targetId: changed.length === 1 ? (changed[0] ?? '') : `${changed.length} nodes`,
          before: groupBefore(changed, before),
          after: { policy: target?.policy ?? null, version: target?.version ?? null, rolloutId, nodes: changed, ...(options.reason ? { reason: options.reason } : {}) },
        });
        await this.events.publish(tx, { type: 'assignment', data: { nodeIds: changed, policy: target?.policy ?? null, version: target?.version ?? null, rolloutId } });
      }
      return { changed, unchanged, quarantined };
    };
    return options.tx ? run(options.tx) : this.store.db.transaction().execute(run);
  }
}
