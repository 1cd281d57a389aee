/**
 * The agent-facing gRPC server on its own port: thp.v1.AgentService, standard health checking
 * (grpc.health.v1) and reflection (grpc.reflection.v1, so grpcurl / buf curl work), plaintext,
 * TLS or mutual TLS.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { AgentService, Health, HealthRegistry, ReflectionIndex, ServingStatus, grpcServiceDefinition } from '@thp-fleet/proto';
import type { ControllerConfig } from '../config/config.js';
import { agentServiceImpl, type AgentGrpcDeps } from './agent.grpc.js';

export interface GrpcServerHandle {
  readonly address: string;
  readonly health: HealthRegistry;
  /** Stop accepting streams, mark health NOT_SERVING, and shut down (forcefully after graceMs). */
  close(graceMs?: number): Promise<void>;
}

function credentials(config: ControllerConfig['grpc']): grpc.ServerCredentials {
  if (!config.tls) return grpc.ServerCredentials.createInsecure();
  const ca = config.tls.clientCaFile ? readFileSync(config.tls.clientCaFile) : null;
  return grpc.ServerCredentials.createSsl(ca, [{ private_key: readFileSync(config.tls.keyFile), cert_chain: readFileSync(config.tls.certFile) }], config.tls.clientCaFile !== null);
}

const hostPort = (host: string, port: number): string => (host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`);

export async function startGrpcServer(config: ControllerConfig, deps: AgentGrpcDeps): Promise<GrpcServerHandle> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': config.grpc.maxMessageBytes,
    'grpc.max_send_message_length': config.grpc.maxMessageBytes,
    // Find agents that vanished without closing their TCP connection.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  });
  // The bridge's definition of AgentService, with one change: responses that are already
  // encoded (Buffers, see wire.ts) are written as they are.
  const bridged = grpcServiceDefinition(AgentService);
  const connect = bridged['connect'];
  if (!connect) throw new Error('thp.v1.AgentService has no Connect method');
  const definition: grpc.ServiceDefinition = { ...bridged, connect: { ...connect, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : connect.responseSerialize(value)) } };
  server.addService(definition, agentServiceImpl(deps));
  const health = new HealthRegistry({ '': ServingStatus.SERVING, [AgentService.typeName]: ServingStatus.SERVING });
  health.mount(server);
  new ReflectionIndex([AgentService, Health]).mount(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort(config.grpc.host, config.grpc.port), credentials(config.grpc), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return {
    address: hostPort(config.grpc.host, port),
    health,
    async close(graceMs = 2_000) {
      health.shutdown();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
