/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return -- REST response bodies are untyped JSON checked with expect() */
/**
 * The agent stream with real gRPC clients over loopback against a controller on the real
 * Postgres: Hello -> Assignment -> Ack, Nack -> quarantine, reconnect without a duplicate
 * push, revoke, stale nonces, authentication, metrics ingest and staleness.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { Health, MetricKind, ServingStatus, createClient } from '@thp-fleet/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerHandle } from '../app.js';
import { IngestService } from '../metrics/ingest.service.js';
import { StatusWriter } from './status-writer.js';
import { TestAgent, apiClient, eventually, policyYaml, startTestController, testConfig, testDatabase, type ApiClient, type TestDatabaseHandle } from '../testing.test-util.js';

const run = promisify(execFile);

describe('agent stream (real gRPC, real Postgres)', () => {
  let db: TestDatabaseHandle;
  let controller: ControllerHandle;
  let api: ApiClient;
  const agents: TestAgent[] = [];
  const agent = (options: Omit<ConstructorParameters<typeof TestAgent>[0], 'address'>): TestAgent => {
    const created = new TestAgent({ address: controller.grpcAddress, ...options });
    agents.push(created);
    return created;
  };
  const flushed = () => controller.app.get(StatusWriter).flushed();
  const node = async (id: string) => (await api.get(`/api/v1/nodes/${id}`)).body;

  beforeAll(async () => {
    db = await testDatabase('postgres', 'agent_stream');
    controller = await startTestController(testConfig(db.database, { intervals: { staleAfterMs: 1_500, heartbeatMs: 200 } }));
    api = apiClient(controller.httpUrl);
    expect((await api.post('/api/v1/policies', policyYaml('zgc-only', { orders: [9] }))).status).toBe(201);
    const v = (await api.get('/api/v1/policies/zgc-only')).headers.get('etag') ?? '';
    expect((await api.post('/api/v1/policies/zgc-only/versions', policyYaml('zgc-only', { orders: [4, 9] }), { 'if-match': v })).status).toBe(201);
    const v2 = (await api.get('/api/v1/policies/zgc-only')).headers.get('etag') ?? '';
    expect((await api.post('/api/v1/policies/zgc-only/versions', policyYaml('zgc-only', { orders: [2] }), { 'if-match': v2 })).status).toBe(201);
  });

  afterAll(async () => {
    for (const a of agents) a.cancel();
    await controller?.close();
    await db?.drop();
  });

  it('Hello -> Config + Assignment -> Ack: the node is in sync, with intent and ack recorded', async () => {
    const a = agent({ nodeId: 'stream-1', labels: { zone: 'a', class: 'jvm' } });
    await eventually(() => a.received.find((m) => m.kind.case === 'config'), 5_000, 'Config');
    const config = a.received.find((m) => m.kind.case === 'config');
    expect(config?.kind.value).toMatchObject({ heartbeatIntervalMs: 200, metricsIntervalMs: 500 });
    await flushed();
    expect(await node('stream-1')).toMatchObject({ state: 'unassigned', connected: true, labels: { zone: 'a', class: 'jvm' } });

    expect((await api.put('/api/v1/nodes/stream-1/assignment', { policy: 'zgc-only', version: 1 })).status).toBe(200);
    const assignment = await a.nextAssignment(0);
    expect(assignment).toMatchObject({ policy: 'zgc-only', version: 1, rolloutId: '' });
    expect(assignment.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(assignment.spec)).toMatchObject({ apiVersion: 'thp.fleet/v1', metadata: { name: 'zgc-only' } });
    await flushed();
    expect(await node('stream-1')).toMatchObject({ state: 'pending', intent: { version: 1, nonce: assignment.nonce } });

    a.ack(assignment);
    await eventually(async () => (await node('stream-1')).state === 'in-sync', 5_000, 'in-sync');
    expect(await node('stream-1')).toMatchObject({ acked: { policy: 'zgc-only', version: 1, nonce: assignment.nonce, specHash: assignment.specHash } });
    const metrics = (await api.get('/metrics', {})).body as string;
    expect(metrics).toMatch(/thp_acks_total 1\b/);
    expect(metrics).toMatch(/thp_push_to_ack_seconds_count 1\b/);
    expect(metrics).toMatch(/thp_agent_streams_connected [1-9]/);
  });

  it('a NACKed version is quarantined: never sent to that node again, and the reason is reported', async () => {
    const a = agent({ nodeId: 'stream-2' });
    await eventually(() => a.received.length > 0, 5_000, 'Config');
    await flushed();
    await api.put('/api/v1/nodes/stream-2/assignment', { policy: 'zgc-only', version: 2 });
    const assignment = await a.nextAssignment(0);
    a.nack(assignment, 'verifier rejected the program');
    await eventually(async () => (await node('stream-2')).state === 'nacked', 5_000, 'nacked');
    const view = await node('stream-2');
    expect(view).toMatchObject({ quarantined: true, lastNack: { policy: 'zgc-only', version: 2, stage: 'verify', message: 'verifier rejected the program', detail: 'R1 invalid mem access' } });
    expect((await api.get('/api/v1/nodes/stream-2/quarantine')).body.entries).toHaveLength(1);

    // Asking again (even via another version and back) never re-sends version 2.
    await api.put('/api/v1/nodes/stream-2/assignment', { policy: 'zgc-only', version: 1 });
    const v1 = await a.nextAssignment(1);
    expect(v1.version).toBe(1);
    a.ack(v1);
    await eventually(async () => (await node('stream-2')).state === 'in-sync', 5_000, 'in-sync on v1');
    const bulk = await api.post('/api/v1/assignments', { policy: 'zgc-only', version: 2, nodeIds: ['stream-2'] });
    expect(bulk.body).toMatchObject({ changed: ['stream-2'], quarantined: ['stream-2'] });
    await new Promise((r) => setTimeout(r, 400));
    expect(a.assignments()).toHaveLength(2);
    expect(await node('stream-2')).toMatchObject({ state: 'nacked', acked: { version: 1 } });

    // Reconnecting does not lift the quarantine either.
    a.cancel();
    const again = agent({ nodeId: 'stream-2', applied: { policy: 'zgc-only', version: 1, specHash: v1.specHash } });
    await eventually(() => again.received.length > 0, 5_000, 'Config after reconnect');
    await new Promise((r) => setTimeout(r, 400));
    expect(again.assignments()).toHaveLength(0);
    expect((await api.get('/metrics')).body).toMatch(/thp_nacks_total\{stage="verify"\} 1\b/);
  });

  it('a reconnect with the same node id resumes without a duplicate push; a half-applied push is re-sent', async () => {
    const a = agent({ nodeId: 'stream-3' });
    await eventually(() => a.received.length > 0, 5_000, 'Config');
    await flushed();
    await api.put('/api/v1/nodes/stream-3/assignment', { policy: 'zgc-only', version: 3 });
    const first = await a.nextAssignment(0);
    a.ack(first);
    await eventually(async () => (await node('stream-3')).state === 'in-sync', 5_000, 'in-sync');
    a.cancel();

    const resumed = agent({ nodeId: 'stream-3', applied: { policy: 'zgc-only', version: 3, specHash: first.specHash } });
    await eventually(() => resumed.received.length > 0, 5_000, 'Config after reconnect');
    await flushed();
    await new Promise((r) => setTimeout(r, 400));
    expect(resumed.assignments()).toHaveLength(0);
    expect(await node('stream-3')).toMatchObject({ state: 'in-sync', connected: true });

    // An agent that comes back without having applied it (e.g. it crashed before applying) gets it again.
    resumed.cancel();
    const fresh = agent({ nodeId: 'stream-3' });
    const resent = await fresh.nextAssignment(0);
    expect(resent).toMatchObject({ version: 3, specHash: first.specHash });
    expect(resent.nonce).not.toBe(first.nonce);
  });

  it('a second stream for the same node supersedes the first', async () => {
    const first = agent({ nodeId: 'stream-4' });
    await eventually(() => first.received.length > 0, 5_000, 'Config');
    const second = agent({ nodeId: 'stream-4' });
    const status = await first.closedStatus();
    expect(status.code).toBe(grpc.status.ABORTED);
    expect(status.details).toContain('superseded');
    await eventually(() => second.received.length > 0, 5_000, 'Config on the second stream');
  });

  it('ignores ACKs and NACKs with a stale nonce', async () => {
    const a = agent({ nodeId: 'stream-5' });
    await eventually(() => a.received.length > 0, 5_000, 'Config');
    await flushed();
    await api.put('/api/v1/nodes/stream-5/assignment', { policy: 'zgc-only', version: 1 });
    const v1 = await a.nextAssignment(0);
    // Desired moves on before the ACK: the new push supersedes the old nonce.
    await api.put('/api/v1/nodes/stream-5/assignment', { policy: 'zgc-only', version: 3 });
    const v3 = await a.nextAssignment(1);
    a.nack(v1, 'late nack for an old nonce');
    a.ack(v1);
    await new Promise((r) => setTimeout(r, 300));
    await flushed();
    expect(await node('stream-5')).toMatchObject({ state: 'pending', quarantined: false, lastNack: null });
    a.ack(v3);
    await eventually(async () => (await node('stream-5')).state === 'in-sync', 5_000, 'in-sync on v3');
    expect((await api.get('/metrics')).body).toMatch(/thp_stale_nonces_total\{type="ack"\} [1-9]/);
  });

  it('revokes when the desired state becomes none', async () => {
    const a = agent({ nodeId: 'stream-6' });
    await eventually(() => a.received.length > 0, 5_000, 'Config');
    await flushed();
    await api.put('/api/v1/nodes/stream-6/assignment', { policy: 'zgc-only', version: 1 });
    a.ack(await a.nextAssignment(0));
    await eventually(async () => (await node('stream-6')).state === 'in-sync', 5_000, 'in-sync');
    expect((await api.delete('/api/v1/nodes/stream-6/assignment')).body).toMatchObject({ changed: true });
    const revoke = await eventually(() => a.revokes()[0], 5_000, 'Revoke');
    expect(revoke).toMatchObject({ policy: 'zgc-only' });
    await flushed();
    expect(await node('stream-6')).toMatchObject({ state: 'pending' });
    a.send({ case: 'ack', value: { nonce: revoke.nonce, policy: '', version: 0, specHash: '' } });
    await eventually(async () => (await node('stream-6')).state === 'unassigned', 5_000, 'unassigned');
  });

  it('authenticates: no credentials, a forged token, or a Hello for another node are refused', async () => {
    const none = agent({ nodeId: 'auth-1', token: null });
    expect((await none.closedStatus()).code).toBe(grpc.status.UNAUTHENTICATED);
    const forged = agent({ nodeId: 'auth-2', token: 'auth-2.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(await forged.closedStatus()).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: 'invalid node token' });
    const impostor = agent({ nodeId: 'auth-3', helloNodeId: 'stream-1' });
    const status = await impostor.closedStatus();
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain('a node may only speak for itself');
    const rude = agent({ nodeId: 'auth-4', sendHello: false });
    rude.send({ case: 'heartbeat', value: {} });
    expect((await rude.closedStatus()).code).toBe(grpc.status.INVALID_ARGUMENT);
    const bad = agent({ nodeId: 'auth-5', labels: { 'bad key!': 'x' } });
    expect(await bad.closedStatus()).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('hello.labels.bad key! (key)') as unknown });
    expect((await api.get('/api/v1/nodes/auth-3')).status).toBe(404);
  });

  it('ingests metric reports in batches and serves them for charts', async () => {
    const a = agent({ nodeId: 'stream-7' });
    await eventually(() => a.received.length > 0, 5_000, 'Config');
    const now = BigInt(Math.floor(Date.now() / 1000));
    for (let i = 0; i < 3; i++) {
      a.send({
        case: 'metrics',
        value: {
          end: { seconds: now - BigInt(3 - i), nanos: 0 },
          node: [{ name: 'thp_fault_alloc', kind: MetricKind.COUNTER, value: 10 + i }],
          cgroups: [{ path: '/workloads.slice/zgc-a', cgroupId: 5n, metrics: [{ name: 'anon_thp', kind: MetricKind.GAUGE, value: 1_000 * i }] }],
          histograms: [],
        },
      });
    }
    await eventually(async () => (await api.get('/api/v1/nodes/stream-7/metrics?name=thp_fault_alloc')).body.samples.length === 3, 5_000, 'samples stored');
    await controller.app.get(IngestService).drain();
    const body = (await api.get('/api/v1/nodes/stream-7/metrics?name=thp_fault_alloc&since=10m')).body;
    expect(body.samples.map((s: { value: number; kind: string }) => [s.value, s.kind])).toEqual([
      [10, 'counter'],
      [11, 'counter'],
      [12, 'counter'],
    ]);
    expect(body.names).toEqual(['anon_thp', 'thp_fault_alloc']);
    expect((await api.get('/api/v1/nodes/stream-7/metrics?cgroup=/workloads.slice/zgc-a')).body.samples).toHaveLength(3);
    expect((await api.get('/metrics')).body).toMatch(/thp_metric_samples_ingested_total [1-9]/);
  });

  it('marks a silent node stale, and fresh again when it speaks', async () => {
    const a = agent({ nodeId: 'stream-8' });
    await eventually(() => a.received.length > 0, 5_000, 'Config');
    await eventually(async () => (await node('stream-8')).state === 'stale', 10_000, 'stale');
    expect((await node('stream-8')).staleSince).not.toBeNull();
    a.send({ case: 'heartbeat', value: { sentAt: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 } } });
    await eventually(async () => (await node('stream-8')).state === 'unassigned', 5_000, 'fresh');
  });

  it('one agent sending odd bytes cannot block the writes of the others', async () => {
    const odd = agent({ nodeId: 'odd-1' });
    await eventually(() => odd.received.length > 0, 5_000, 'Config');
    odd.send({ case: 'observed', value: { applied: { policy: 'zgc\u0000only', version: 1, specHash: 'x\u0000' }, mapContentHash: 'ab\u0000cd', enforcement: 'full\u0000', sysfs: { enabled: 'al\u0000ways' } } });
    odd.send({ case: 'metrics', value: { node: [{ name: 'bad\u0000name', kind: MetricKind.GAUGE, value: 1 }, { name: 'fine', kind: MetricKind.GAUGE, value: 2 }] } });
    await eventually(async () => (await node('odd-1')).observed?.mapContentHash === 'abcd', 5_000, 'the observed state stored');
    expect((await node('odd-1')).observed).toMatchObject({ policy: 'zgconly', mapContentHash: 'abcd', enforcement: 'full', sysfs: { enabled: 'always' } });
    const normal = agent({ nodeId: 'after-odd' });
    await eventually(() => normal.received.length > 0, 5_000, 'Config');
    await flushed();
    expect((await node('after-odd')).connected).toBe(true);
    await eventually(async () => (await api.get('/api/v1/nodes/odd-1/metrics')).body.samples.length === 1, 5_000, 'the valid sample stored');
    const nul = agent({ nodeId: 'odd-2', labels: { zone: 'a\u0000' } });
    expect(await nul.closedStatus()).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringContaining('hello.labels.zone: must not contain NUL') as unknown });
  });

  it('answers reflection, so standard tools (buf curl) can list the service', async () => {
    const buf = createRequire(import.meta.url).resolve('@bufbuild/buf/bin/buf');
    const { stdout } = await run(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--reflect', '--list-methods', `http://${controller.grpcAddress}`]);
    expect(stdout.split('\n')).toContain('thp.v1.AgentService/Connect');
  });

  it('serves gRPC health checking', async () => {
    const client = createClient(Health, controller.grpcAddress, grpc.credentials.createInsecure());
    const status = await new Promise<ServingStatus | undefined>((resolve, reject) =>
      client.check(create(Health.method.check.input, { service: 'thp.v1.AgentService' }), new grpc.Metadata(), {}, (error, response) => (error ? reject(error) : resolve(response?.status))),
    );
    client.close();
    expect(status).toBe(ServingStatus.SERVING);
  });
});
