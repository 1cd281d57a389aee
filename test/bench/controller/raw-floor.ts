/**
 * The raw floor for push latency: a bare grpc-js server that holds the same number of
 * AgentService streams and, on command, writes the same bytes (one pre-encoded Assignment,
 * the size the controller sends) to every stream, counting the ACKs. No database, no
 * snapshots, no bookkeeping: what grpc-js itself costs. Driven over IPC by bench.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AgentMessageSchema, ControllerMessageSchema, type AgentMessage } from '@thp-fleet/proto';
import { now, type FromFloor, type ToFloor } from './protocol.js';

const streams = new Set<grpc.ServerDuplexStream<AgentMessage, Buffer>>();
let acks = 0;
let lastAckAt: number | null = null;
let wroteAt: number | null = null;

function send(message: FromFloor): void {
  process.send?.(message);
}

const definition: grpc.ServiceDefinition = {
  connect: {
    path: '/thp.v1.AgentService/Connect',
    requestStream: true,
    responseStream: true,
    requestSerialize: (message: AgentMessage) => Buffer.from(toBinary(AgentMessageSchema, message)),
    requestDeserialize: (bytes: Buffer) => fromBinary(AgentMessageSchema, bytes),
    // The response is already encoded: grpc-js frames the same bytes for every stream.
    responseSerialize: (bytes: Buffer) => bytes,
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

const config = Buffer.from(toBinary(ControllerMessageSchema, create(ControllerMessageSchema, { kind: { case: 'config', value: { heartbeatIntervalMs: 10_000, metricsIntervalMs: 15_000, leaseTtlMs: 900_000 } } })));

const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 << 20 });
server.addService(definition, {
  connect: (call: grpc.ServerDuplexStream<AgentMessage, Buffer>) => {
    call.on('data', (message: AgentMessage) => {
      switch (message.kind.case) {
        case 'hello':
          streams.add(call);
          call.write(config);
          return;
        case 'ack':
          acks += 1;
          lastAckAt = now();
          return;
        default:
          return;
      }
    });
    const drop = (): void => {
      streams.delete(call);
    };
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
    call.on('end', () => {
      drop();
      call.end();
    });
  },
});

process.on('message', (message: ToFloor) => {
  switch (message.type) {
    case 'listen':
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
        if (error) throw error;
        send({ type: 'listening', address: `127.0.0.1:${port}` });
      });
      return;
    case 'push': {
      // A nonce of the controller's length, the same for every stream: identical bytes.
      const bytes = Buffer.from(
        toBinary(
          ControllerMessageSchema,
          create(ControllerMessageSchema, { kind: { case: 'assignment', value: { nonce: 'AAAAAAAA-zzzz', policy: message.policy, version: message.version, specHash: message.specHash, spec: message.spec, rolloutId: '' } } }),
        ),
      );
      acks = 0;
      lastAckAt = null;
      for (const stream of streams) stream.write(bytes);
      wroteAt = now();
      send({ type: 'pushed', streams: streams.size, bytes: bytes.length, wroteAt });
      return;
    }
    case 'stats':
      send({ type: 'stats', streams: streams.size, acks, lastAckAt, wroteAt });
      return;
    case 'stop':
      server.forceShutdown();
      setTimeout(() => process.exit(0), 100);
      return;
  }
});
process.on('disconnect', () => process.exit(0));
