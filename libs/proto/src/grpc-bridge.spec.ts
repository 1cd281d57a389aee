import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentMessageSchema,
  AgentService,
  Backend,
  ControllerMessageSchema,
  HookAbi,
  NackStage,
  type AgentMessage,
  type ControllerMessage,
} from './gen/thp/v1/agent_pb.js';
import { Health, HealthCheckRequestSchema } from './gen/grpc/health/v1/health_pb.js';
import { addService, createClient, grpcServiceDefinition } from './grpc-bridge.js';
import { HealthRegistry, ServingStatus } from './health.js';
import { ReflectionIndex } from './reflection.js';

const run = promisify(execFile);

/** A real controller-shaped server: answers Hello with an Assignment and records the Ack. */
function startServer(): Promise<{ server: grpc.Server; port: number; received: AgentMessage[]; health: HealthRegistry }> {
  const server = new grpc.Server();
  const received: AgentMessage[] = [];
  const health = new HealthRegistry({ '': ServingStatus.SERVING, 'thp.v1.AgentService': ServingStatus.SERVING });
  addService(server, AgentService, {
    connect: (call) => {
      call.on('data', (message: AgentMessage) => {
        received.push(message);
        if (message.kind.case === 'hello') {
          call.write(
            create(ControllerMessageSchema, {
              kind: {
                case: 'assignment',
                value: {
                  nonce: 'n-1',
                  policy: 'zgc-only',
                  version: 3,
                  specHash: 'ab'.repeat(32),
                  spec: '{"apiVersion":"thp.fleet/v1"}',
                  rolloutId: `r-for-${message.kind.value.nodeId}`,
                },
              },
            }),
          );
        }
        if (message.kind.case === 'ack') call.end();
      });
    },
  });
  health.mount(server);
  new ReflectionIndex([AgentService, Health]).mount(server);
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) reject(error);
      else resolve({ server, port, received, health });
    });
  });
}

describe('grpc-js bridge over loopback', () => {
  let ctx: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    ctx = await startServer();
  });
  afterAll(() => {
    ctx.server.forceShutdown();
  });

  it('exchanges Hello -> Assignment -> Ack on a real bidi stream and decodes every field', async () => {
    const client = createClient(AgentService, `127.0.0.1:${ctx.port}`, grpc.credentials.createInsecure());
    const stream = client.connect();
    const fromController: ControllerMessage[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (message: ControllerMessage) => {
        fromController.push(message);
        if (message.kind.case === 'assignment') {
          const a = message.kind.value;
          stream.write(
            create(AgentMessageSchema, {
              kind: { case: 'ack', value: { nonce: a.nonce, policy: a.policy, version: a.version, specHash: a.specHash } },
            }),
          );
        }
      });
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    stream.write(
      create(AgentMessageSchema, {
        kind: {
          case: 'hello',
          value: {
            nodeId: 'node-7',
            labels: { zone: 'a', kernel: '6.18' },
            kernelRelease: '6.18.0-thp',
            agentVersion: '0.1.0',
            capabilities: {
              backends: [Backend.SIM, Backend.BPF],
              activeBackend: Backend.SIM,
              hookAbi: HookAbi.ABSENT,
              hookDetail: 'kernel lacks bpf_thp_ops',
              sysfs: { enabled: 'madvise', defrag: 'madvise', perSizeEnabled: { 'hugepages-2048kB': 'inherit' }, khugepagedMaxPtesNone: 511 },
              enabledMthpSizesKb: [2048],
            },
            applied: { policy: 'zgc-only', version: 2, specHash: 'cd'.repeat(32) },
          },
        },
      }),
    );
    await done;
    client.close();

    expect(fromController).toHaveLength(1);
    const assignment = fromController[0]!.kind;
    expect(assignment.case).toBe('assignment');
    if (assignment.case !== 'assignment') return;
    expect(assignment.value).toMatchObject({ nonce: 'n-1', policy: 'zgc-only', version: 3, specHash: 'ab'.repeat(32), rolloutId: 'r-for-node-7' });

    const [hello, ack] = ctx.received;
    expect(hello?.kind.case).toBe('hello');
    if (hello?.kind.case !== 'hello') return;
    expect(hello.kind.value.nodeId).toBe('node-7');
    expect(hello.kind.value.labels).toEqual({ zone: 'a', kernel: '6.18' });
    expect(hello.kind.value.capabilities?.backends).toEqual([Backend.SIM, Backend.BPF]);
    expect(hello.kind.value.capabilities?.hookAbi).toBe(HookAbi.ABSENT);
    expect(hello.kind.value.capabilities?.sysfs?.perSizeEnabled).toEqual({ 'hugepages-2048kB': 'inherit' });
    expect(hello.kind.value.capabilities?.sysfs?.khugepagedMaxPtesNone).toBe(511);
    expect(hello.kind.value.applied).toMatchObject({ policy: 'zgc-only', version: 2 });
    expect(ack?.kind).toMatchObject({ case: 'ack', value: { nonce: 'n-1', policy: 'zgc-only', version: 3, specHash: 'ab'.repeat(32) } });
  });

  it('round-trips a Nack with its structured error', () => {
    const nack = create(AgentMessageSchema, {
      kind: { case: 'nack', value: { nonce: 'n-2', policy: 'p', version: 4, error: { stage: NackStage.VERIFY, message: 'verifier rejected', detail: 'R1 invalid mem access' } } },
    });
    const bytes = grpcCodecRoundTrip(nack);
    expect(bytes.kind).toMatchObject({ case: 'nack', value: { error: { stage: NackStage.VERIFY, detail: 'R1 invalid mem access' } } });
  });

  it('serves health checks, and status changes reach the client', async () => {
    const client = createClient(Health, `127.0.0.1:${ctx.port}`, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<{ status?: ServingStatus; code?: number }>((resolve) =>
        client.check(create(HealthCheckRequestSchema, { service }), new grpc.Metadata(), {}, (error, response) =>
          resolve(error ? { code: error.code } : { status: response!.status }),
        ),
      );
    expect(await check('thp.v1.AgentService')).toEqual({ status: ServingStatus.SERVING });
    expect(await check('nope.Service')).toEqual({ code: grpc.status.NOT_FOUND });
    ctx.health.set('thp.v1.AgentService', ServingStatus.NOT_SERVING);
    expect(await check('thp.v1.AgentService')).toEqual({ status: ServingStatus.NOT_SERVING });
    ctx.health.set('thp.v1.AgentService', ServingStatus.SERVING);
    client.close();
  });

  it('answers reflection well enough for a third-party client (buf curl) to list and describe the service', async () => {
    const require = createRequire(import.meta.url);
    const buf = require.resolve('@bufbuild/buf/bin/buf');
    const url = `http://127.0.0.1:${ctx.port}`;
    const listed = await run(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--reflect', '--list-methods', url]);
    expect(listed.stdout.split('\n')).toContain('thp.v1.AgentService/Connect');
    const health = await run(buf, ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--data', '{"service":""}', `${url}/grpc.health.v1.Health/Check`]);
    expect(JSON.parse(health.stdout)).toEqual({ status: 'SERVING' });
  });
});

/** Serialize then deserialize through the definition the bridge gives grpc-js: exactly what the wire does. */
function grpcCodecRoundTrip(message: AgentMessage): AgentMessage {
  const connect = grpcServiceDefinition(AgentService).connect!;
  return connect.requestDeserialize(connect.requestSerialize(message)) as AgentMessage;
}
