/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- REST response bodies are untyped JSON checked with expect() */
/**
 * Several replicas against one real Postgres: each serves its own agents, a desired-state
 * change made through one reaches the agents of both (LISTEN/NOTIFY), exactly one leads, and
 * leadership moves when the leader is closed or its database session dies.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerHandle } from '../app.js';
import { LeadershipService, type LeaderTask } from './leadership.service.js';
import { TestAgent, apiClient, eventually, policyYaml, startTestController, testConfig, testDatabase, type TestDatabaseHandle } from '../testing.test-util.js';

describe('two controller replicas on one database', () => {
  let db: TestDatabaseHandle;
  let a: ControllerHandle;
  let b: ControllerHandle;
  const agents: TestAgent[] = [];
  const ticks: Record<string, number> = {};
  const counting = (replica: string): LeaderTask => ({
    name: 'count-ticks',
    intervalMs: 50,
    tick() {
      ticks[replica] = (ticks[replica] ?? 0) + 1;
      return Promise.resolve();
    },
  });

  beforeAll(async () => {
    db = await testDatabase('postgres', 'cluster');
    if (db.database.kind !== 'postgres') throw new Error('this test needs the real Postgres');
    a = await startTestController(testConfig(db.database, { replicaId: 'replica-a' }), { leaderTasks: [counting('replica-a')] });
    b = await startTestController(testConfig(db.database, { replicaId: 'replica-b' }), { leaderTasks: [counting('replica-b')] });
  });
  afterAll(async () => {
    for (const agent of agents) agent.cancel();
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('a new desired state made through one replica reaches agents on both', async () => {
    const onA = new TestAgent({ nodeId: 'node-on-a', address: a.grpcAddress, labels: { pool: 'x' } });
    const onB = new TestAgent({ nodeId: 'node-on-b', address: b.grpcAddress, labels: { pool: 'x' } });
    agents.push(onA, onB);
    const apiA = apiClient(a.httpUrl);
    const apiB = apiClient(b.httpUrl);
    await eventually(async () => (await apiA.get('/api/v1/nodes?labels=pool=x')).body.total === 2, 5_000, 'both nodes registered');
    const nodes = (await apiB.get('/api/v1/nodes?labels=pool=x')).body.nodes;
    expect(nodes.map((n: { id: string; connectedReplica: string }) => [n.id, n.connectedReplica])).toEqual([
      ['node-on-a', 'replica-a'],
      ['node-on-b', 'replica-b'],
    ]);

    expect((await apiA.post('/api/v1/policies', policyYaml('shared'))).status).toBe(201);
    const change = await apiA.post('/api/v1/assignments', { policy: 'shared', version: 1, selector: { labels: { pool: 'x' } } });
    expect(change.body).toMatchObject({ matched: 2, changed: ['node-on-a', 'node-on-b'] });
    const [gotA, gotB] = await Promise.all([onA.nextAssignment(0), onB.nextAssignment(0)]);
    expect(gotA).toMatchObject({ policy: 'shared', version: 1 });
    expect(gotB).toMatchObject({ policy: 'shared', version: 1, specHash: gotA.specHash });
    onA.ack(gotA);
    onB.ack(gotB);
    await eventually(async () => {
      const states = (await apiB.get('/api/v1/nodes?labels=pool=x')).body.nodes.map((n: { state: string }) => n.state);
      return states.every((s: string) => s === 'in-sync') && states.length === 2;
    }, 5_000, 'both in sync');

    // And the other way round, through replica B.
    await apiB.post('/api/v1/policies/shared/versions', policyYaml('shared', { orders: [4] }), { 'if-match': '"v1"' });
    await apiB.post('/api/v1/assignments', { policy: 'shared', version: 2, nodeIds: ['node-on-a', 'node-on-b'] });
    const [secondA, secondB] = await Promise.all([onA.nextAssignment(1), onB.nextAssignment(1)]);
    expect([secondA.version, secondB.version]).toEqual([2, 2]);
  });

  it('exactly one replica leads, and the cluster view agrees from both sides', async () => {
    const leaderOf = async (handle: ControllerHandle) => (await apiClient(handle.httpUrl).get('/api/v1/cluster')).body;
    const view = await eventually(async () => {
      const seen = await leaderOf(a);
      return seen.leader !== null && seen.replicas.length === 2 ? seen : undefined;
    }, 5_000, 'a leader');
    expect((await leaderOf(b)).leader).toBe(view.leader);
    expect(view.replicas.map((r: { id: string; connectedNodes: number }) => [r.id, r.connectedNodes])).toEqual(expect.arrayContaining([['replica-a', 1], ['replica-b', 1]]));
    const leaders = [a, b].filter((handle) => handle.app.get(LeadershipService).isLeader);
    expect(leaders).toHaveLength(1);
    expect(ticks[view.leader as string]).toBeGreaterThan(0);
    expect(ticks[view.leader === 'replica-a' ? 'replica-b' : 'replica-a'] ?? 0).toBe(0);
  });

  it('leadership moves when the leader dies (its database session is killed), and the old leader stops its work', async () => {
    const leader = [a, b].find((handle) => handle.app.get(LeadershipService).isLeader) as ControllerHandle;
    const follower = leader === a ? b : a;
    const admin = new pg.Client({ connectionString: (db.database as { url: string }).url });
    await admin.connect();
    try {
      const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [`thp-controller:${leader.replicaId}:lock`]);
      expect(killed.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    const started = Date.now();
    await eventually(() => follower.app.get(LeadershipService).isLeader, 5_000, 'the follower takes over');
    await eventually(() => !leader.app.get(LeadershipService).isLeader, 5_000, 'the old leader steps down');
    expect(Date.now() - started).toBeLessThan(5_000);
    const before = ticks[leader.replicaId] ?? 0;
    await new Promise((r) => setTimeout(r, 300));
    expect(ticks[leader.replicaId] ?? 0).toBe(before);
  });

  it('leadership moves when the leader is closed', async () => {
    const leader = [a, b].find((handle) => handle.app.get(LeadershipService).isLeader) as ControllerHandle;
    const follower = leader === a ? b : a;
    // Make sure the follower is contending again (its lock session was reopened after the kill above).
    await eventually(() => !follower.app.get(LeadershipService).isLeader, 2_000, 'a single leader');
    const started = Date.now();
    await leader.close();
    await eventually(() => follower.app.get(LeadershipService).isLeader, 5_000, 'the follower takes over');
    expect(Date.now() - started).toBeLessThan(3_000);
    const view = (await apiClient(follower.httpUrl).get('/api/v1/cluster')).body;
    expect(view).toMatchObject({ leader: follower.replicaId, replicas: [{ id: follower.replicaId, leader: true }] });
    // The closed replica's agent is no longer recorded as connected anywhere.
    const closedNode = leader === a ? 'node-on-a' : 'node-on-b';
    await eventually(async () => (await apiClient(follower.httpUrl).get(`/api/v1/nodes/${closedNode}`)).body.connected === false, 5_000, 'node released');
  });
});
