/**
 * One node agent (sim backend) against a small real gRPC controller in the test (grpc-js and
 * the bridge's addService): the wire behaviour end to end. The same scenarios against the
 * real controller and Postgres are in src/e2e/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { standardWorkloadMix } from '@thp-fleet/mm-sim';
import { addService, AgentService, ControllerMessageSchema, MetricKind, NackStage, type AgentMessage, type ControllerMessage, type Hello } from '@thp-fleet/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { SimBackend } from '../backends/sim.backend.js';
import { loadBaseline } from '../lease/baseline.js';
import { memoryLogger } from '../log/logger.js';
import { readJournal } from '../node-mode/journal.js';
import { allowPolicy, desiredFromYaml, withSpec } from '../reconcile/reconcile.test-util.js';
import { StateStore } from '../state/state.store.js';
import { NodeAgent } from './node.agent.js';

const GIB = 2 ** 30;

type Payloads = { [C in NonNullable<AgentMessage['kind']['case']>]: Extract<AgentMessage['kind'], { case: C }>['value'] };

/** A small real gRPC controller: records what the agent sends, sends what the test says. */
class SmallController {
  readonly server = new grpc.Server();
  port = 0;
  readonly received: AgentMessage[] = [];
  readonly hellos: Hello[] = [];
  private streams: grpc.ServerDuplexStream<AgentMessage, ControllerMessage>[] = [];

  async start(port = 0): Promise<this> {
    addService(this.server, AgentService, {
      connect: (call) => {
        this.streams.push(call);
        call.on('data', (m: AgentMessage) => {
          this.received.push(m);
          if (m.kind.case === 'hello') this.hellos.push(m.kind.value);
        });
        call.on('error', () => undefined);
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    return this;
  }

  send(message: ControllerMessage): void {
    for (const s of this.streams) if (!s.cancelled && !s.destroyed) s.write(message);
  }

  of<K extends keyof Payloads>(kind: K): Payloads[K][] {
    const values: unknown[] = this.received.filter((m) => m.kind.case === kind).map((m) => m.kind.value);
    return values as Payloads[K][];
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

async function waitFor(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const assignment = (d: ReturnType<typeof desiredFromYaml>): ControllerMessage =>
  create(ControllerMessageSchema, { kind: { case: 'assignment', value: { nonce: d.nonce, policy: d.policy, version: d.version, specHash: d.specHash, spec: d.spec } } });

describe('NodeAgent (sim backend) against a real gRPC server', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  function makeAgent(port: number, stateDir: string, extra: Partial<ConstructorParameters<typeof NodeAgent>[0]> = {}): NodeAgent {
    const backend = new SimBackend({
      nodeId: 'sim-001',
      abi: 'v8',
      memoryBytes: 2 * GIB,
      workloads: standardWorkloadMix(2 * GIB),
      sysfs: { enabled: 'always', shmem_enabled: 'advise', defrag: 'madvise' },
      seed: 3,
      tickMs: 1000,
    });
    // The test drives simulated time itself: a minute per real 50 ms.
    const timer = setInterval(() => backend.advance(60_000), 50);
    cleanup.push(() => clearInterval(timer));
    return new NodeAgent({
      nodeId: 'sim-001',
      labels: { zone: 'zone-a' },
      kernelRelease: '6.18-bpf-thp-v8-sim',
      agentVersion: 'test',
      availableBackends: ['sim'],
      backend,
      store: new StateStore(stateDir),
      controller: `127.0.0.1:${port}`,
      tls: undefined,
      token: 'sim-001.token',
      backoff: { initialMs: 50, multiplier: 2, jitter: 0, maxMs: 200 },
      keepaliveMs: 30_000,
      keepaliveTimeoutMs: 10_000,
      heartbeatIntervalMs: 100,
      metricsIntervalMs: 200,
      leaseTtlMs: undefined,
      baseline: undefined,
      log: memoryLogger(),
      ...extra,
    });
  }

  it('Hello -> Assignment -> Ack -> ObservedState -> metrics; Nack keeps the previous; Revoke', async () => {
    const ctl = await new SmallController().start();
    cleanup.push(() => ctl.stop());
    const stateDir = mkdtempSync(join(tmpdir(), 'thp-agent-'));
    cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const agent = makeAgent(ctl.port, stateDir);
    cleanup.push(() => agent.close());
    await agent.start();
    await waitFor('hello', () => ctl.hellos.length === 1);
    const hello = ctl.hellos[0]!;
    expect(hello).toMatchObject({ nodeId: 'sim-001', labels: { zone: 'zone-a' }, kernelRelease: '6.18-bpf-thp-v8-sim' });
    expect(hello.applied).toBeUndefined();
    expect(hello.capabilities?.sysfs).toMatchObject({ enabled: 'always', shmemEnabled: 'advise', defrag: 'madvise', khugepagedMaxPtesNone: 511 });
    expect(hello.capabilities?.enabledMthpSizesKb).toContain(2048);

    const v1 = desiredFromYaml(allowPolicy('zgc-only', '/workloads.slice/zgc-*'), 1, 'n-1');
    ctl.send(assignment(v1));
    await waitFor('ack', () => ctl.of('ack').length === 1);
    expect(ctl.of('ack')[0]).toMatchObject({ nonce: 'n-1', policy: 'zgc-only', version: 1, specHash: v1.specHash });
    await waitFor('observed with the policy', () => ctl.of('observed').some((o) => o.applied?.version === 1));
    const observed = ctl.of('observed').find((o) => o.applied?.version === 1)!;
    expect(observed.enforcement).toBe('full');
    expect(observed.mapContentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(observed.sysfs?.enabled).toBe('always');
    // Node mode is wired: the policy went through the sequencer, whose journal records it.
    expect((await readJournal(stateDir))?.applied).toMatchObject({ enforcement: 'full', target: { policy: 'zgc-only', version: 1 } });

    await waitFor('two metrics reports', () => ctl.of('metrics').length >= 2);
    const report = ctl.of('metrics').at(-1)!;
    const node = new Map(report.node.map((m) => [m.name, m]));
    expect(node.get('thp_fault_alloc')?.kind).toBe(MetricKind.COUNTER);
    expect(node.get('nr_anon_transparent_hugepages')?.kind).toBe(MetricKind.GAUGE);
    expect(node.get('psi_memory_some_avg10')?.kind).toBe(MetricKind.GAUGE);
    const zgc = report.cgroups.find((c) => c.path.endsWith('/zgc-jvm'))!;
    expect(zgc.cgroupId).toBeGreaterThan(0n);
    expect(zgc.metrics.find((m) => m.name === 'workload_throughput')!.value).toBeGreaterThan(0);
    expect(Number(report.end!.seconds) * 1000 + report.end!.nanos / 1e6).toBeGreaterThan(Number(report.start!.seconds) * 1000 + report.start!.nanos / 1e6);
    expect(ctl.of('heartbeat').length).toBeGreaterThan(0);

    const bad = withSpec({ ...v1, version: 2, nonce: 'n-2' }, v1.spec.replace('"orders":[4,9]', '"orders":[4,12]'));
    ctl.send(assignment(bad));
    await waitFor('nack', () => ctl.of('nack').length === 1);
    expect(ctl.of('nack')[0]).toMatchObject({ nonce: 'n-2', policy: 'zgc-only', version: 2, error: { stage: NackStage.VALIDATE } });
    expect(ctl.of('nack')[0]!.error!.detail).toMatch(/spec\.rules\[0\]\.allow\.orders\[1\]/);
    expect(agent.reconciler.applied()?.version).toBe(1);

    ctl.send(create(ControllerMessageSchema, { kind: { case: 'revoke', value: { nonce: 'r-1', policy: 'zgc-only', reason: 'test' } } }));
    await waitFor('revoke ack', () => ctl.of('ack').length === 2);
    expect(ctl.of('ack')[1]).toMatchObject({ nonce: 'r-1', policy: 'zgc-only', version: 0, specHash: '' });
    await waitFor('observed nothing', () => ctl.of('observed').at(-1)?.enforcement === 'none');
    expect(await readJournal(stateDir)).toBeNull();
  });

  it('a restarted agent says in Hello what it applies, before any push', async () => {
    const ctl = await new SmallController().start();
    cleanup.push(() => ctl.stop());
    const stateDir = mkdtempSync(join(tmpdir(), 'thp-agent-'));
    cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const first = makeAgent(ctl.port, stateDir);
    await first.start();
    const v3 = desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 3, 'n-3');
    await waitFor('hello', () => ctl.hellos.length === 1);
    ctl.send(assignment(v3));
    await waitFor('ack', () => ctl.of('ack').length === 1);
    await first.close();
    const second = makeAgent(ctl.port, stateDir);
    cleanup.push(() => second.close());
    await second.start();
    await waitFor('second hello', () => ctl.hellos.length === 2);
    expect(ctl.hellos[1]!.applied).toMatchObject({ policy: 'p', version: 3, specHash: v3.specHash });
    expect(second.reconciler.enforcement()).toBe('full');
    expect(ctl.of('ack')).toHaveLength(1);
  });

  it('fail-safe lease: controller gone past the TTL -> baseline applied; on reconnect Hello and ObservedState say so', async () => {
    let ctl = await new SmallController().start();
    const port = ctl.port;
    const stateDir = mkdtempSync(join(tmpdir(), 'thp-agent-'));
    cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const baseline = loadBaseline(allowPolicy('baseline-none', '/nothing', '9'), 'baseline.yaml');
    if (!baseline.ok) throw new Error(baseline.errors.join('\n'));
    const agent = makeAgent(port, stateDir, { leaseTtlMs: 600, baseline: baseline.baseline });
    cleanup.push(() => agent.close());
    await agent.start();
    await waitFor('hello', () => ctl.hellos.length === 1);
    ctl.send(assignment(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1')));
    await waitFor('ack', () => ctl.of('ack').length === 1);
    ctl.stop();
    await waitFor('baseline applied', () => agent.reconciler.applied()?.source === 'lease-baseline', 10_000);
    expect(agent.reconciler.applied()).toMatchObject({ policy: 'baseline-none', version: 0 });
    ctl = await new SmallController().start(port);
    cleanup.push(() => ctl.stop());
    await waitFor('hello after reconnect', () => ctl.hellos.length === 1, 15_000);
    expect(ctl.hellos[0]!.applied).toMatchObject({ policy: 'baseline-none', version: 0, specHash: baseline.baseline.specHash });
    await waitFor('observed note', () => ctl.of('observed').some((o) => /^full; fail-safe baseline since \d{4}-/.test(o.enforcement)));
    // The controller assigns again: the note goes away.
    ctl.send(assignment(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-2')));
    await waitFor('ack', () => ctl.of('ack').length === 1);
    await waitFor('plain enforcement', () => ctl.of('observed').at(-1)?.enforcement === 'full');
    expect(agent.leaseExpiredSince()).toBeUndefined();
  });

  it('without the lease a controller outage changes nothing', async () => {
    const ctl = await new SmallController().start();
    const stateDir = mkdtempSync(join(tmpdir(), 'thp-agent-'));
    cleanup.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const agent = makeAgent(ctl.port, stateDir);
    cleanup.push(() => agent.close());
    await agent.start();
    await waitFor('hello', () => ctl.hellos.length === 1);
    ctl.send(assignment(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1')));
    await waitFor('ack', () => ctl.of('ack').length === 1);
    ctl.stop();
    await new Promise((r) => setTimeout(r, 1500));
    expect(agent.isConnected()).toBe(false);
    expect(agent.reconciler.applied()).toMatchObject({ policy: 'p', version: 1 });
    expect(agent.reconciler.enforcement()).toBe('full');
  });
});
