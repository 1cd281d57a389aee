/**
 * Every repository on both kinds of database (the real Postgres and embedded PGlite): the
 * set-based statements the agent stream relies on, paging and filters, retention.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type StoreKind } from '../testing.test-util.js';
import type { Store } from './database.js';
import { AuditRepository } from '../audit/audit.repository.js';
import { GENESIS_HASH } from '../audit/audit-hash.js';
import { PolicyRepository } from '../policy/policy.repository.js';
import { NodeRepository, type StatusWrite } from '../node/node.repository.js';
import { AssignmentRepository, DESIRED_CHANNEL, desiredPayload } from '../assignment/assignment.repository.js';
import { MetricSampleRepository, type MetricSample } from '../metrics/metric-sample.repository.js';
import { TokenRepository } from '../token/token.repository.js';
import { ClusterRepository } from '../cluster/cluster.repository.js';

const HASH1 = '1'.repeat(64);
const HASH2 = '2'.repeat(64);

function status(nodeId: string, kind: StatusWrite['kind'], version: number | null, at: Date, nonce: string | null = null): StatusWrite {
  return { nodeId, kind, policy: version === null ? null : 'pol', version, specHash: version === null ? null : version === 1 ? HASH1 : HASH2, nonce, rolloutId: null, mapContentHash: null, sysfs: null, enforcement: null, programIds: null, at };
}

describe.each(['postgres', 'pglite'] as const)('repositories on %s', (kind: StoreKind) => {
  let ctx: Awaited<ReturnType<typeof openTestStore>>;
  let store: Store;
  const policies = new PolicyRepository();
  const nodes = new NodeRepository();
  const assignments = new AssignmentRepository();
  const samples = new MetricSampleRepository();
  const audit = new AuditRepository();
  const tokens = new TokenRepository();
  const cluster = new ClusterRepository();
  const t0 = new Date('2026-11-25T10:00:00.000Z');

  beforeAll(async () => {
    ctx = await openTestStore(kind, `repos_${kind}`);
    store = ctx.store;
    await store.db.transaction().execute(async (tx) => {
      await policies.insertPolicy(tx, { name: 'pol', description: 'd', createdBy: 'test', at: t0 });
      for (const [version, hash] of [[1, HASH1], [2, HASH2]] as const) {
        await policies.insertVersion(tx, { policy: 'pol', version, specHash: hash, canonical: `{"v":${version}}`, source: 'src', sourceFormat: 'yaml', message: `v${version}`, author: 'test', at: t0 });
      }
      await policies.setLatest(tx, 'pol', 2, 'd', t0);
    });
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('policies: a duplicate name inserts nothing; versions come back newest first; delivery by (policy, version) pairs', async () => {
    expect(await store.db.transaction().execute((tx) => policies.insertPolicy(tx, { name: 'pol', description: '', createdBy: 'x', at: t0 }))).toBeUndefined();
    expect((await policies.listVersions(store.db, 'pol')).map((v) => v.version)).toEqual([2, 1]);
    expect(await policies.getPolicy(store.db, 'pol')).toMatchObject({ latestVersion: 2, description: 'd' });
    const delivered = await policies.getDeliverable(store.db, [{ policy: 'pol', version: 2 }, { policy: 'pol', version: 7 }, { policy: 'nope', version: 1 }]);
    expect(delivered).toEqual([{ policy: 'pol', version: 2, specHash: HASH2, canonical: '{"v":2}' }]);
  });

  it('nodes: batch registration (last Hello of a node wins), session-guarded disconnect, label filter', async () => {
    const reg = (id: string, zone: string, session: string) => ({ id, labels: { zone }, kernelRelease: '6.18', agentVersion: '1', capabilities: { activeBackend: 'BACKEND_SIM' }, replicaId: 'r1', sessionId: session, at: t0 });
    await nodes.register(store.db, [reg('n1', 'a', 's1'), reg('n2', 'b', 's2'), reg('n1', 'c', 's1b')]);
    expect((await nodes.get(store.db, 'n1'))?.labels).toEqual({ zone: 'c' });
    expect((await nodes.list(store.db, { labels: { zone: 'b' } })).map((n) => n.id)).toEqual(['n2']);
    await nodes.disconnect(store.db, [{ nodeId: 'n1', sessionId: 's1' }]);
    expect((await nodes.get(store.db, 'n1'))?.connectedReplica).toBe('r1');
    await nodes.disconnect(store.db, [{ nodeId: 'n1', sessionId: 's1b' }]);
    expect((await nodes.get(store.db, 'n1'))?.connectedReplica).toBeNull();
    expect(await nodes.idsMatching(store.db, {})).toEqual(['n1', 'n2']);
  });

  it('node status: three records per node, last write per key wins, older writes never overwrite newer ones', async () => {
    const t1 = new Date(t0.getTime() + 1_000);
    await nodes.writeStatuses(store.db, [status('n1', 'intent', 1, t0, 'a'), status('n1', 'intent', 2, t1, 'b'), status('n1', 'acked', 1, t0, 'a'), status('n1', 'observed', null, t0)]);
    await nodes.writeStatuses(store.db, [status('n1', 'acked', 2, new Date(t0.getTime() - 5_000), 'old')]);
    const node = await nodes.get(store.db, 'n1');
    expect(node?.intent).toMatchObject({ version: 2, nonce: 'b' });
    expect(node?.acked).toMatchObject({ version: 1, nonce: 'a' });
    expect(node?.observed).toMatchObject({ policy: null, version: null });
  });

  it('staleness: marks silent nodes, and a message makes them fresh again', async () => {
    const later = new Date(t0.getTime() + 60_000);
    expect((await nodes.markStale(store.db, new Date(t0.getTime() + 1), later)).sort()).toEqual(['n1', 'n2']);
    expect(await nodes.markStale(store.db, new Date(t0.getTime() + 1), later)).toEqual([]);
    expect(await nodes.touch(store.db, ['n1'], later)).toEqual(['n1']);
    expect(await nodes.touch(store.db, ['n1'], later)).toEqual([]);
    expect((await nodes.get(store.db, 'n1'))?.stale).toBe(false);
    expect((await nodes.get(store.db, 'n2'))?.stale).toBe(true);
  });

  it('assignments: only rows that differ change; revision counts changes; desired rows carry hash and quarantine', async () => {
    const first = await store.db.transaction().execute((tx) => assignments.upsert(tx, ['n1', 'n2'], { policy: 'pol', version: 1 }, null, 'test', t0));
    expect(first.map((r) => [r.nodeId, r.revision])).toEqual([['n1', 1], ['n2', 1]]);
    const again = await store.db.transaction().execute((tx) => assignments.upsert(tx, ['n1', 'n2'], { policy: 'pol', version: 1 }, null, 'test', t0));
    expect(again).toEqual([]);
    const bumped = await store.db.transaction().execute((tx) => assignments.upsert(tx, ['n2'], { policy: 'pol', version: 2 }, null, 'test', t0));
    expect(bumped.map((r) => [r.nodeId, r.version, r.revision])).toEqual([['n2', 2, 2]]);
    await nodes.quarantine(store.db, [{ nodeId: 'n2', policy: 'pol', version: 2, specHash: HASH2, nonce: 'x', stage: 'verify', message: 'no', detail: '', at: t0 }]);
    const desired = (await assignments.desiredFor(store.db, ['n1', 'n2', 'n3'])).sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    expect(desired).toEqual([
      { nodeId: 'n1', policy: 'pol', version: 1, rolloutId: null, specHash: HASH1, quarantined: false },
      { nodeId: 'n2', policy: 'pol', version: 2, rolloutId: null, specHash: HASH2, quarantined: true },
    ]);
    const cleared = await store.db.transaction().execute((tx) => assignments.upsert(tx, ['n1'], null, null, 'test', t0));
    expect(cleared.map((r) => [r.policy, r.version, r.revision])).toEqual([[null, null, 2]]);
    expect((await nodes.get(store.db, 'n2'))?.lastNack).toMatchObject({ policy: 'pol', version: 2, stage: 'verify' });
    expect((await nodes.get(store.db, 'n2'))?.desiredQuarantined).toBe(true);
  });

  it('assignments: the desired-state notification names the nodes, or everyone when too many', async () => {
    expect(JSON.parse(desiredPayload(['a', 'b']))).toEqual({ nodes: ['a', 'b'] });
    expect(JSON.parse(desiredPayload(Array.from({ length: 5_000 }, (_, i) => `node-${i}`)))).toEqual({ all: true });
    const received: string[] = [];
    const stop = await store.listen(DESIRED_CHANNEL, (p) => received.push(p));
    await store.db.transaction().execute((tx) => assignments.notifyDesired(tx, ['n1']));
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual(['{"nodes":["n1"]}']);
    await stop();
  });

  it('metric samples: one statement for a large batch, newest-N queries, deletion by time', async () => {
    const batch: MetricSample[] = [];
    for (let i = 0; i < 10_000; i++) batch.push({ nodeId: 'n1', ts: new Date(t0.getTime() + i * 1_000), name: i % 2 === 0 ? 'thp_fault_alloc' : 'psi', cgroup: '', kind: 2, value: i });
    await samples.insert(store.db, batch);
    const recent = await samples.query(store.db, { nodeId: 'n1', name: 'psi', since: new Date(t0.getTime() + 9_000_000), limit: 3 });
    expect(recent.map((s) => s.value)).toEqual([9_995, 9_997, 9_999]);
    expect(await samples.names(store.db, 'n1', t0)).toEqual(['psi', 'thp_fault_alloc']);
    expect(await samples.deleteOlderThan(store.db, new Date(t0.getTime() + 5_000_000), 100_000)).toBe(5_000);
    expect(await samples.deleteOlderThan(store.db, new Date(t0.getTime() + 5_000_000), 100_000)).toBe(0);
  });

  it('audit: appends chain, seq is gapless, filters and paging work', async () => {
    const written = await store.db.transaction().execute(async (tx) => [
      await audit.append(tx, { actor: 'alice', action: 'policy.create', targetType: 'policy', targetId: 'p', before: null, after: { v: 1 } }),
      await audit.append(tx, { actor: 'bob', action: 'assignment.set', targetType: 'assignment', targetId: 'n1', before: { x: 1 }, after: { x: 2 } }),
    ]);
    expect(written.map((e) => e.seq)).toEqual([1, 2]);
    expect(written[0]?.prevHash).toBe(GENESIS_HASH);
    expect(written[1]?.prevHash).toBe(written[0]?.hash);
    expect((await audit.list(store.db, { actor: 'bob', limit: 10 })).map((e) => e.seq)).toEqual([2]);
    expect((await audit.list(store.db, { before: 2, limit: 10 })).map((e) => e.seq)).toEqual([1]);
    expect((await audit.pageFrom(store.db, 0, 1)).map((e) => e.seq)).toEqual([1]);
  });

  it('tokens: found by hash only while active', async () => {
    const now = new Date();
    await tokens.insert(store.db, { id: 'tok_1', name: 'a', role: 'viewer', tokenHash: 'a'.repeat(64), prefix: 'thp_a', createdBy: 't', expiresAt: null });
    await tokens.insert(store.db, { id: 'tok_2', name: 'b', role: 'admin', tokenHash: 'b'.repeat(64), prefix: 'thp_b', createdBy: 't', expiresAt: new Date(now.getTime() - 1) });
    expect((await tokens.findActiveByHash(store.db, 'a'.repeat(64), now))?.id).toBe('tok_1');
    expect(await tokens.findActiveByHash(store.db, 'b'.repeat(64), now)).toBeUndefined();
    expect(await tokens.countActiveAdmins(store.db, now)).toBe(0);
    await tokens.revoke(store.db, 'tok_1', 'x', now);
    expect(await tokens.findActiveByHash(store.db, 'a'.repeat(64), now)).toBeUndefined();
  });

  it('cluster: a setting is created once and shared', async () => {
    const first = await cluster.getOrCreateSetting(store.db, 'agent_secret', () => 'one');
    const second = await cluster.getOrCreateSetting(store.db, 'agent_secret', () => 'two');
    expect([first, second]).toEqual(['one', 'one']);
  });
});
