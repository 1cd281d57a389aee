/**
 * The agent's stream against a small real gRPC server (grpc-js with the bridge's addService):
 * Hello with the node token, assignments handed over, heartbeats, reconnect with backoff after
 * the server dies and comes back, and keepalive detecting a peer that stops answering.
 */
import { createServer, Socket, type Server as NetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { addService, AgentService, ControllerMessageSchema, type AgentMessage, type Assignment, type ControllerMessage } from '@thp-fleet/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../log/logger.js';
import { AgentConnection, type ConnectionHandlers } from './agent.connection.js';
import { helloMessage } from './messages.js';

interface TestServer {
  server: grpc.Server;
  port: number;
  received: { message: AgentMessage; authorization: string }[];
  streams: grpc.ServerDuplexStream<AgentMessage, ControllerMessage>[];
}

function startServer(port = 0, onHello?: (call: grpc.ServerDuplexStream<AgentMessage, ControllerMessage>, hello: AgentMessage) => void): Promise<TestServer> {
  const server = new grpc.Server();
  const received: TestServer['received'] = [];
  const streams: TestServer['streams'] = [];
  addService(server, AgentService, {
    connect: (call) => {
      streams.push(call);
      const authorization = String(call.metadata.get('authorization')[0] ?? '');
      call.on('data', (message: AgentMessage) => {
        received.push({ message, authorization });
        if (message.kind.case === 'hello') onHello?.(call, message);
      });
      call.on('error', () => undefined);
    },
  });
  return new Promise((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
      if (error) reject(error);
      else resolve({ server, port: bound, received, streams });
    });
  });
}

async function waitFor(what: string, predicate: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recorder() {
  const events: string[] = [];
  const assignments: Assignment[] = [];
  const delays: number[] = [];
  const handlers: ConnectionHandlers = {
    hello: () =>
      helloMessage({
        nodeId: 'node-7',
        labels: { zone: 'a' },
        kernelRelease: '6.18',
        agentVersion: 'test',
        capabilities: { backends: ['sim'], active: 'sim', hook: 'absent', hookDetail: '', sysfs: undefined, enabledMthpSizesKb: [] },
        applied: undefined,
      }),
    assignment: (a) => {
      events.push(`assignment ${a.nonce}`);
      assignments.push(a);
    },
    config: (c) => events.push(`config ${c.metricsIntervalMs}`),
    revoke: (r) => events.push(`revoke ${r.nonce}`),
    connected: () => events.push('connected'),
    disconnected: (_reason, retryInMs) => {
      events.push('disconnected');
      delays.push(retryInMs);
    },
  };
  return { events, assignments, delays, handlers };
}

const assignment = (nonce: string): ControllerMessage =>
  create(ControllerMessageSchema, { kind: { case: 'assignment', value: { nonce, policy: 'p', version: 1, specHash: 'a'.repeat(64), spec: '{}' } } });

describe('AgentConnection against a real gRPC server', () => {
  const cleanup: (() => void)[] = [];
  afterEach(() => {
    for (const fn of cleanup.splice(0)) fn();
  });

  it('opens with Hello carrying the bearer token, receives assignments, sends heartbeats', async () => {
    const srv = await startServer(0, (call) => {
      call.write(assignment('n-1'));
      call.write(create(ControllerMessageSchema, { kind: { case: 'config', value: { metricsIntervalMs: 2500 } } }));
    });
    cleanup.push(() => srv.server.forceShutdown());
    const rec = recorder();
    const conn = new AgentConnection(
      { target: `127.0.0.1:${srv.port}`, tls: undefined, token: 'node-7.sig', backoff: { initialMs: 50, multiplier: 2, jitter: 0, maxMs: 400 }, keepaliveMs: 30_000, keepaliveTimeoutMs: 10_000, heartbeatIntervalMs: 100, log: memoryLogger() },
      rec.handlers,
    );
    cleanup.push(() => conn.close());
    conn.start();
    await waitFor('assignment and config', () => rec.events.includes('assignment n-1') && rec.events.includes('config 2500'));
    expect(rec.events[0]).toBe('connected');
    expect(conn.isConnected()).toBe(true);
    const hello = srv.received[0]!;
    expect(hello.message.kind.case).toBe('hello');
    expect(hello.authorization).toBe('Bearer node-7.sig');
    if (hello.message.kind.case === 'hello') expect(hello.message.kind.value.nodeId).toBe('node-7');
    await waitFor('three heartbeats', () => srv.received.filter((r) => r.message.kind.case === 'heartbeat').length >= 3);
    const beat = srv.received.find((r) => r.message.kind.case === 'heartbeat')!.message;
    if (beat.kind.case === 'heartbeat') expect(Number(beat.kind.value.sentAt!.seconds)).toBeGreaterThan(1_700_000_000);
  });

  it('the controller goes away: backoff grows while it is down, a new stream with a fresh Hello when it is back', async () => {
    let srv = await startServer(0);
    const port = srv.port;
    const rec = recorder();
    const conn = new AgentConnection(
      { target: `127.0.0.1:${port}`, tls: undefined, token: 't', backoff: { initialMs: 50, multiplier: 2, jitter: 0, maxMs: 400 }, keepaliveMs: 30_000, keepaliveTimeoutMs: 10_000, heartbeatIntervalMs: 60_000, establishAfterMs: 100, log: memoryLogger() },
      rec.handlers,
    );
    cleanup.push(() => conn.close());
    conn.start();
    await waitFor('connected', () => conn.isConnected());
    srv.server.forceShutdown();
    await waitFor('several failed attempts', () => rec.delays.length >= 4);
    // Established once, so the first delay is the initial one; then it doubles while nothing answers.
    expect(rec.delays.slice(0, 4)).toEqual([50, 100, 200, 400]);
    expect(conn.isConnected()).toBe(false);
    const attemptsWhileDown = conn.attemptCount();
    srv = await startServer(port);
    cleanup.push(() => srv.server.forceShutdown());
    await waitFor('reconnected', () => conn.isConnected(), 15_000);
    expect(conn.attemptCount()).toBeGreaterThan(attemptsWhileDown);
    await waitFor('a Hello on the new server', () => srv.received.some((r) => r.message.kind.case === 'hello'));
    // After a successful connection the backoff starts over.
    srv.server.forceShutdown();
    const before = rec.delays.length;
    await waitFor('next failure', () => rec.delays.length > before);
    expect(rec.delays[before]).toBe(50);
  });

  it('keepalive pings detect a controller that stops answering without closing the connection', async () => {
    const srv = await startServer(0);
    cleanup.push(() => srv.server.forceShutdown());
    // A TCP relay we can freeze: it keeps both sockets open but stops forwarding bytes.
    let frozen = false;
    const sockets: Socket[] = [];
    const relay: NetServer = createServer((client) => {
      const upstream = new Socket();
      upstream.connect(srv.port, '127.0.0.1');
      sockets.push(client, upstream);
      client.on('data', (d: Buffer) => {
        if (!frozen) upstream.write(d);
      });
      upstream.on('data', (d: Buffer) => {
        if (!frozen) client.write(d);
      });
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    cleanup.push(() => {
      for (const s of sockets) s.destroy();
      relay.close();
    });
    const relayPort = (relay.address() as { port: number }).port;
    const rec = recorder();
    const log = memoryLogger();
    const conn = new AgentConnection(
      { target: `127.0.0.1:${relayPort}`, tls: undefined, token: 't', backoff: { initialMs: 5_000, multiplier: 2, jitter: 0, maxMs: 10_000 }, keepaliveMs: 1_000, keepaliveTimeoutMs: 500, heartbeatIntervalMs: 60_000, establishAfterMs: 100, log },
      rec.handlers,
    );
    cleanup.push(() => conn.close());
    conn.start();
    await waitFor('connected', () => conn.isConnected());
    frozen = true;
    const frozenAt = Date.now();
    await waitFor('keepalive to notice', () => rec.events.includes('disconnected'), 10_000);
    // keepalive time + timeout, with slack for timers; a dead peer without keepalive would hang for minutes.
    expect(Date.now() - frozenAt).toBeLessThan(5_000);
    expect(log.lines.some((l) => l.includes('stream to controller lost'))).toBe(true);
  });
});
