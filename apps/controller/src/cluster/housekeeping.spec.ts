/**
 * The leader's housekeeping tasks, one tick at a time, on both kinds of database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/logger.js';
import type { Clock } from '../common/tokens.js';
import { EventsService, type ReceivedEvent } from '../events/events.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { MetricSampleRepository } from '../metrics/metric-sample.repository.js';
import { NodeRepository } from '../node/node.repository.js';
import { ClusterRepository } from './cluster.repository.js';
import { ClusterService } from './cluster.service.js';
import { LeadershipService } from './leadership.service.js';
import { deadReplicaTask, metricRetentionTask, staleNodesTask, type HousekeepingDeps } from './housekeeping.js';
import { openTestStore, testConfig, type StoreKind } from '../testing.test-util.js';

describe.each(['postgres', 'pglite'] as const)('housekeeping on %s', (kind: StoreKind) => {
  let ctx: Awaited<ReturnType<typeof openTestStore>>;
  let deps: HousekeepingDeps;
  let events: EventsService;
  const received: ReceivedEvent[] = [];
  let time = new Date('2026-11-25T12:00:00.000Z');
  const clock: Clock = { now: () => time };
  const nodes = new NodeRepository();
  const samples = new MetricSampleRepository();
  const signal = new AbortController().signal;

  beforeAll(async () => {
    ctx = await openTestStore(kind, `housekeeping_${kind}`);
    const logger = createLogger('error', 'test');
    const config = testConfig({ kind: 'pglite', dataDir: '/unused' }, { replicaId: 'r-live', intervals: { staleAfterMs: 30_000, metricRetentionMs: 3_600_000, replicaHeartbeatMs: 1_000 } });
    const metrics = new MetricsService();
    events = new EventsService(ctx.store, logger);
    await events.start('r-live');
    events.subscribe((event) => received.push(event));
    const cluster = new ClusterService(config, ctx.store, clock, new ClusterRepository(), new LeadershipService(config, ctx.store, metrics, logger), logger);
    deps = { config, store: ctx.store, clock, nodes, samples, cluster, events, metrics, log: logger };
    const reg = (id: string, replica: string, at: Date) => ({ id, labels: {}, kernelRelease: '', agentVersion: '', capabilities: {}, replicaId: replica, sessionId: `s-${id}`, at });
    await nodes.register(ctx.store.db, [reg('quiet', 'r-dead', new Date(time.getTime() - 60_000)), reg('chatty', 'r-live', new Date(time.getTime() - 5_000))]);
    await new ClusterRepository().upsertReplica(ctx.store.db, { id: 'r-live', httpUrl: 'http://x', grpcAddress: 'x:1', at: time });
  });
  afterAll(async () => {
    await events?.stop();
    await ctx?.close();
  });

  it('marks nodes silent past the timeout stale, once, and announces them', async () => {
    const task = staleNodesTask(deps);
    expect(task.intervalMs).toBe(5_000);
    await task.tick(signal);
    await task.tick(signal);
    expect((await nodes.get(ctx.store.db, 'quiet'))?.stale).toBe(true);
    expect((await nodes.get(ctx.store.db, 'chatty'))?.stale).toBe(false);
    for (let i = 0; i < 100 && !received.some((e) => e.type === 'node'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(received.filter((e) => e.type === 'node').map((e) => e.data)).toEqual([{ nodeIds: ['quiet'], reason: 'stale' }]);
  });

  it('releases nodes held by replicas that stopped heartbeating', async () => {
    await deadReplicaTask(deps).tick(signal);
    expect((await nodes.get(ctx.store.db, 'quiet'))?.connectedReplica).toBeNull();
    expect((await nodes.get(ctx.store.db, 'chatty'))?.connectedReplica).toBe('r-live');
  });

  it('deletes metric samples past retention', async () => {
    const at = (msAgo: number) => new Date(time.getTime() - msAgo);
    await samples.insert(ctx.store.db, [
      { nodeId: 'chatty', ts: at(2 * 3_600_000), name: 'old', cgroup: '', kind: 2, value: 1 },
      { nodeId: 'chatty', ts: at(60_000), name: 'new', cgroup: '', kind: 2, value: 2 },
    ]);
    await metricRetentionTask(deps).tick(signal);
    expect((await samples.query(ctx.store.db, { nodeId: 'chatty', since: at(10 * 3_600_000), limit: 10 })).map((s) => s.name)).toEqual(['new']);
    time = new Date(time.getTime() + 3_600_000);
    await metricRetentionTask(deps).tick(signal);
    expect(await samples.query(ctx.store.db, { nodeId: 'chatty', since: at(10 * 3_600_000), limit: 10 })).toEqual([]);
  });
});
