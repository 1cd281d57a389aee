/**
 * Load generator: N lightweight agents in one process, each a real thp.v1 AgentService stream
 * over loopback (by default one TCP connection per agent, as a fleet would have). Agents send
 * Hello, answer every Assignment with an ACK at once, heartbeat at the interval the server's
 * Config asks for and, when told to, send MetricsReports. Driven over IPC by bench.ts.
 */
import { createHmac } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import {
  AgentMessageSchema,
  AgentService,
  Backend,
  HookAbi,
  MetricKind,
  createClient,
  type AgentMessage,
  type ControllerMessage,
  type ServiceClient,
} from '@thp-fleet/proto';
import { now, type AgentStats, type FromAgents, type StartAgents, type ToAgents } from './protocol.js';

type Client = ServiceClient<(typeof AgentService)['method']>;

interface Agent {
  readonly id: string;
  stream: grpc.ClientDuplexStream<AgentMessage, ControllerMessage> | undefined;
  configured: boolean;
  heartbeatMs: number;
}

const stats = { connected: 0, configs: 0, assignments: 0, acks: 0, firstAssignmentAt: null as number | null, lastAckAt: null as number | null, reportsSent: 0, samplesSent: 0, errors: 0, lastError: null as string | null };
const agents: Agent[] = [];
const clients: Client[] = [];
const timers: NodeJS.Timeout[] = [];

function send(message: FromAgents): void {
  process.send?.(message);
}

/** `<nodeId>.<base64url HMAC-SHA256(secret, nodeId)>`: the documented node-token format. */
function nodeToken(nodeId: string, secret: string): string {
  return `${nodeId}.${createHmac('sha256', secret).update(nodeId, 'utf8').digest('base64url')}`;
}

function hello(agent: Agent, labels: Record<string, string>): AgentMessage {
  return create(AgentMessageSchema, {
    kind: {
      case: 'hello',
      value: {
        nodeId: agent.id,
        labels,
        kernelRelease: '6.18.0-bench',
        agentVersion: 'bench',
        capabilities: { backends: [Backend.SIM], activeBackend: Backend.SIM, hookAbi: HookAbi.ABSENT, sysfs: { enabled: 'madvise', defrag: 'madvise' } },
      },
    },
  });
}

function openStream(agent: Agent, client: Client, start: StartAgents, onConfig: () => void): void {
  const metadata = new grpc.Metadata();
  if (start.secret !== null) metadata.set('authorization', `Bearer ${nodeToken(agent.id, start.secret)}`);
  const stream = client.connect(metadata);
  agent.stream = stream;
  stream.on('data', (message: ControllerMessage) => {
    const kind = message.kind;
    if (kind.case === 'config') {
      if (!agent.configured) {
        agent.configured = true;
        stats.configs += 1;
        onConfig();
      }
      agent.heartbeatMs = kind.value.heartbeatIntervalMs || 10_000;
    } else if (kind.case === 'assignment') {
      const at = now();
      stats.assignments += 1;
      stats.firstAssignmentAt ??= at;
      const a = kind.value;
      stream.write(create(AgentMessageSchema, { kind: { case: 'ack', value: { nonce: a.nonce, policy: a.policy, version: a.version, specHash: a.specHash } } }));
      stats.acks += 1;
      stats.lastAckAt = now();
    } else if (kind.case === 'revoke') {
      stream.write(create(AgentMessageSchema, { kind: { case: 'ack', value: { nonce: kind.value.nonce } } }));
    }
  });
  stream.on('error', (error: grpc.ServiceError) => {
    if (error.code === grpc.status.CANCELLED) return;
    stats.errors += 1;
    stats.lastError = `${agent.id}: ${error.code} ${error.details}`;
  });
  stream.write(hello(agent, start.labels));
}

function metricsReport(samples: number): AgentMessage {
  const node = Math.min(samples, 40);
  const perCgroup = 20;
  const cgroups = Math.ceil((samples - node) / perCgroup);
  const seconds = BigInt(Math.floor(Date.now() / 1000));
  return create(AgentMessageSchema, {
    kind: {
      case: 'metrics',
      value: {
        start: { seconds: seconds - 15n, nanos: 0 },
        end: { seconds, nanos: 0 },
        node: Array.from({ length: node }, (_, i) => ({ name: `vmstat_metric_${i}`, kind: i % 2 === 0 ? MetricKind.COUNTER : MetricKind.GAUGE, value: Math.random() * 1000 })),
        cgroups: Array.from({ length: cgroups }, (_, c) => ({
          path: `/kubepods.slice/workload-${c}`,
          cgroupId: BigInt(1000 + c),
          metrics: Array.from({ length: Math.min(perCgroup, samples - node - c * perCgroup) }, (_, i) => ({ name: `cgroup_metric_${i}`, kind: MetricKind.GAUGE, value: Math.random() * 1e6 })),
        })),
      },
    },
  });
}

async function start(command: StartAgents): Promise<void> {
  const began = now();
  let configured = 0;
  let resolveAll!: () => void;
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  const onConfig = (): void => {
    configured += 1;
    if (configured === command.count) resolveAll();
  };
  for (let i = 0; i < command.count; i++) agents.push({ id: `${command.nodePrefix}-${String(i).padStart(5, '0')}`, stream: undefined, configured: false, heartbeatMs: 10_000 });
  // Connect in waves so the listener's accept queue is not flooded.
  const wave = 250;
  for (let first = 0; first < agents.length; first += wave) {
    for (let i = first; i < Math.min(first + wave, agents.length); i++) {
      if (i % command.perConnection === 0) {
        // A local subchannel pool gives each client its own TCP connection.
        clients.push(createClient(AgentService, command.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 4 << 20 }));
      }
      openStream(agents[i] as Agent, clients[clients.length - 1] as Client, command, onConfig);
      stats.connected += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await all;
  send({ type: 'ready', connected: configured, ms: now() - began });

  if (command.heartbeats) {
    // Spread heartbeats evenly: every 100 ms, the slice of agents whose turn it is.
    let tick = 0;
    timers.push(
      setInterval(() => {
        const interval = agents[0]?.heartbeatMs ?? 10_000;
        const slices = Math.max(1, Math.round(interval / 100));
        const message = create(AgentMessageSchema, { kind: { case: 'heartbeat', value: { sentAt: { seconds: BigInt(Math.floor(Date.now() / 1000)), nanos: 0 } } } });
        for (let i = tick % slices; i < agents.length; i += slices) agents[i]?.stream?.write(message);
        tick += 1;
      }, 100),
    );
  }
  if (command.metrics) startMetrics(command.metrics.samples, command.metrics.intervalMs);
}

/** Every agent sends a report of `samples` samples every `intervalMs`, staggered in 50 ms slices. */
function startMetrics(samples: number, intervalMs: number): void {
  const report = metricsReport(samples);
  let tick = 0;
  const slices = Math.max(1, Math.round(intervalMs / 50));
  timers.push(
    setInterval(() => {
      for (let i = tick % slices; i < agents.length; i += slices) {
        agents[i]?.stream?.write(report);
        stats.reportsSent += 1;
        stats.samplesSent += samples;
      }
      tick += 1;
    }, 50),
  );
}

function snapshot(): AgentStats {
  return { type: 'stats', ...stats };
}

process.on('message', (message: ToAgents) => {
  switch (message.type) {
    case 'start':
      start(message).catch((error: unknown) => send({ type: 'failed', message: error instanceof Error ? error.message : String(error) }));
      return;
    case 'metrics':
      startMetrics(message.samples, message.intervalMs);
      return;
    case 'stats':
      send(snapshot());
      return;
    case 'reset':
      stats.assignments = 0;
      stats.acks = 0;
      stats.firstAssignmentAt = null;
      stats.lastAckAt = null;
      stats.reportsSent = 0;
      stats.samplesSent = 0;
      send(snapshot());
      return;
    case 'stop':
      for (const timer of timers) clearInterval(timer);
      for (const agent of agents) agent.stream?.cancel();
      for (const client of clients) client.close();
      setTimeout(() => process.exit(0), 100);
      return;
  }
});
process.on('disconnect', () => process.exit(0));
