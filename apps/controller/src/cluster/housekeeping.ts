/**
 * The leader's own background work: mark silent nodes stale, forget stream holders of dead
 * replicas, and delete metric samples past retention.
 */
import type { Clock } from '../common/tokens.js';
import type { ControllerConfig } from '../config/config.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/database.js';
import type { EventsService } from '../events/events.service.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { MetricSampleRepository } from '../metrics/metric-sample.repository.js';
import type { NodeRepository } from '../node/node.repository.js';
import type { ClusterService } from './cluster.service.js';
import type { LeaderTask } from './leadership.service.js';

export interface HousekeepingDeps {
  readonly config: ControllerConfig;
  readonly store: Store;
  readonly clock: Clock;
  readonly nodes: NodeRepository;
  readonly samples: MetricSampleRepository;
  readonly cluster: ClusterService;
  readonly events: EventsService;
  readonly metrics: MetricsService;
  readonly log: Logger;
}

/** Nodes silent for longer than THP_STALE_AFTER become stale (a message makes them fresh again). */
export function staleNodesTask(deps: HousekeepingDeps): LeaderTask {
  return {
    name: 'stale-nodes',
    // Check often enough that a node is marked within a quarter of the timeout after it expires.
    intervalMs: Math.max(100, Math.min(5_000, Math.floor(deps.config.intervals.staleAfterMs / 4))),
    async tick() {
      const now = deps.clock.now();
      const cutoff = new Date(now.getTime() - deps.config.intervals.staleAfterMs);
      const stale = await deps.store.db.transaction().execute(async (tx) => {
        const ids = await deps.nodes.markStale(tx, cutoff, now);
        if (ids.length > 0) await deps.events.publish(tx, { type: 'node', data: { nodeIds: ids, reason: 'stale' } });
        return ids;
      });
      if (stale.length > 0) {
        deps.metrics.nodesMarkedStale.inc(stale.length);
        deps.log.info('nodes marked stale', { count: stale.length, sample: stale.slice(0, 10) });
      }
    },
  };
}

/** Nodes still recorded as held by a replica that stopped heartbeating are released. */
export function deadReplicaTask(deps: HousekeepingDeps): LeaderTask {
  return {
    name: 'dead-replicas',
    intervalMs: Math.max(1_000, deps.config.intervals.replicaHeartbeatMs * 2),
    async tick() {
      const alive = await deps.cluster.aliveReplicas();
      const released = await deps.nodes.releaseDeadReplicas(deps.store.db, alive);
      if (released > 0) deps.log.info('released nodes of replicas that stopped heartbeating', { count: released });
    },
  };
}

/** Deletes per round, so retention never holds long locks on metric_samples. */
const RETENTION_BATCH = 50_000;

export function metricRetentionTask(deps: HousekeepingDeps): LeaderTask {
  return {
    name: 'metric-retention',
    intervalMs: 60_000,
    async tick(signal) {
      const cutoff = new Date(deps.clock.now().getTime() - deps.config.intervals.metricRetentionMs);
      let total = 0;
      for (;;) {
        if (signal.aborted) break;
        const deleted = await deps.samples.deleteOlderThan(deps.store.db, cutoff, RETENTION_BATCH);
        total += deleted;
        if (deleted < RETENTION_BATCH) break;
      }
      if (total > 0) deps.log.info('deleted metric samples past retention', { count: total, before: cutoff.toISOString() });
    },
  };
}
