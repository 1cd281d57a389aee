/**
 * A small gRPC controller for the fleet benchmark, run as its own process so its CPU is not
 * counted against the agent: answers every Hello with an Assignment of one policy, counts
 * Acks, Nacks, metrics reports and heartbeats, and prints the counts as JSON on each
 * "report" line written to its stdin.
 *
 *   node --conditions=@thp-fleet/source --import tsx bench-controller.test-util.ts <port>
 */
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { addService, AgentService, ControllerMessageSchema, type AgentMessage } from '@thp-fleet/proto';
import { allowPolicy, desiredFromYaml } from '../reconcile/reconcile.test-util.js';

// Simulated nodes boot with THP off; the node section switches it on (through node mode), so
// the measured nodes run THP as they did when this benchmark's figures were taken.
const policy = desiredFromYaml(`${allowPolicy('zgc-only', '/workloads.slice/zgc-*')}  node: { enabled: always, shmemEnabled: advise }\n`, 1, '');
const counts = { streams: 0, hellos: 0, acks: 0, nacks: 0, metrics: 0, heartbeats: 0, observed: 0, metricPoints: 0 };
let nonce = 0;

const server = new grpc.Server();
addService(server, AgentService, {
  connect: (call) => {
    counts.streams++;
    call.on('data', (m: AgentMessage) => {
      switch (m.kind.case) {
        case 'hello':
          counts.hellos++;
          call.write(
            create(ControllerMessageSchema, {
              kind: { case: 'assignment', value: { nonce: `b-${++nonce}`, policy: policy.policy, version: policy.version, specHash: policy.specHash, spec: policy.spec } },
            }),
          );
          return;
        case 'ack':
          counts.acks++;
          return;
        case 'nack':
          counts.nacks++;
          return;
        case 'metrics':
          counts.metrics++;
          counts.metricPoints += m.kind.value.node.length + m.kind.value.cgroups.reduce((n, c) => n + c.metrics.length, 0);
          return;
        case 'heartbeat':
          counts.heartbeats++;
          return;
        case 'observed':
          counts.observed++;
          return;
        case undefined:
          return;
      }
    });
    call.on('error', () => undefined);
  },
});
server.bindAsync(`127.0.0.1:${process.argv[2] ?? '0'}`, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'report') process.stdout.write(`${JSON.stringify(counts)}\n`);
  if (line.trim() === 'exit') server.tryShutdown(() => process.exit(0));
});
