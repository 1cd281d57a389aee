/**
 * The agent's one bidirectional stream to the controller (thp.v1.AgentService.Connect).
 *
 * - Opens with Hello (built fresh at every connect, so it says what is applied right now).
 * - Hands Assignment, Config and Revoke to the agent; sends what the agent gives it.
 * - Heartbeats at the configured interval while the stream is up.
 * - When the stream ends or fails, reconnects after a jittered exponential backoff (gRPC's
 *   connection-backoff algorithm, backoff.ts); a stream that was established resets it.
 * - HTTP/2 keepalive pings detect a dead peer (a controller killed without closing TCP).
 *
 * The stream counts as established as soon as the controller sends anything (headers or a
 * message) or the channel is READY with the stream still open a moment later: a controller
 * with nothing to assign may send nothing at all.
 */
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { timestampNow } from '@bufbuild/protobuf/wkt';
import {
  AgentMessageSchema,
  AgentService,
  createClient,
  type AgentMessage,
  type Assignment,
  type Config,
  type ControllerMessage,
  type Hello,
  type Revoke,
  type ServiceClient,
} from '@thp-fleet/proto';
import type { BackoffSettings, TlsSettings } from '../config/agent.config.js';
import type { Logger } from '../log/logger.js';
import { Backoff } from './backoff.js';

export interface ConnectionOptions {
  readonly target: string;
  readonly tls: TlsSettings | undefined;
  /** Bearer token sent as `authorization` metadata on the stream. */
  readonly token: string;
  readonly backoff: BackoffSettings;
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** How long a READY channel with an open, silent stream takes to count as established. */
  readonly establishAfterMs?: number;
  readonly random?: () => number;
  readonly log: Logger;
}

export interface ConnectionHandlers {
  hello(): Hello;
  assignment(message: Assignment): void;
  config(message: Config): void;
  revoke(message: Revoke): void;
  /** The stream is established (the lease is held). */
  connected(): void;
  /** The stream is gone; a reconnect is scheduled in `retryInMs`. */
  disconnected(reason: string, retryInMs: number): void;
}

type Duplex = grpc.ClientDuplexStream<AgentMessage, ControllerMessage>;

export class AgentConnection {
  private readonly client: ServiceClient<(typeof AgentService)['method']>;
  private readonly backoff: Backoff;
  private stream: Duplex | undefined;
  private established = false;
  private heartbeatMs: number;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private establishTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private attempts = 0;
  private lastUnreachableLog = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.backoff = new Backoff(options.backoff, options.random);
    this.heartbeatMs = options.heartbeatIntervalMs;
    const credentials = options.tls
      ? grpc.credentials.createSsl(options.tls.ca ?? null, options.tls.key ?? null, options.tls.cert ?? null)
      : grpc.credentials.createInsecure();
    const channelOptions: grpc.ClientOptions = {
      'grpc.keepalive_time_ms': options.keepaliveMs,
      'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs,
      'grpc.keepalive_permit_without_calls': 1,
      // The channel's own reconnects follow the same schedule as the stream's.
      'grpc.initial_reconnect_backoff_ms': options.backoff.initialMs,
      'grpc.max_reconnect_backoff_ms': options.backoff.maxMs,
      ...(options.tls?.serverName ? { 'grpc.ssl_target_name_override': options.tls.serverName, 'grpc.default_authority': options.tls.serverName } : {}),
    };
    this.client = createClient(AgentService, options.target, credentials, channelOptions);
  }

  /** Open the stream (and keep reopening it until `close`). */
  start(): void {
    this.open();
  }

  /** True while a stream is established. */
  isConnected(): boolean {
    return this.established;
  }

  /** Send on the current stream (queued by grpc-js until it is writable); false when there is none. */
  send(message: AgentMessage): boolean {
    if (!this.stream) return false;
    this.stream.write(message);
    return true;
  }

  /** The controller's Config may change the heartbeat interval. */
  setHeartbeatInterval(ms: number): void {
    if (ms <= 0 || ms === this.heartbeatMs) return;
    this.heartbeatMs = ms;
    if (this.heartbeatTimer) this.startHeartbeats();
  }

  /** Number of streams opened so far (tests and logs). */
  attemptCount(): number {
    return this.attempts;
  }

  close(): void {
    this.closed = true;
    this.clearTimers();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const stream = this.stream;
    this.stream = undefined;
    this.established = false;
    if (stream) {
      stream.removeAllListeners();
      stream.on('error', () => undefined);
      stream.cancel();
    }
    this.client.close();
  }

  private open(): void {
    if (this.closed) return;
    this.attempts++;
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.options.token}`);
    const stream = this.client.connect(metadata);
    this.stream = stream;
    let ended = false;
    const finish = (reason: string): void => {
      if (ended) return;
      ended = true;
      this.onStreamEnd(stream, reason);
    };
    stream.on('metadata', () => this.establish(stream));
    stream.on('data', (message: ControllerMessage) => {
      this.establish(stream);
      this.dispatch(message);
    });
    stream.on('error', (error: grpc.ServiceError) => finish(`${grpc.status[error.code] ?? error.code}: ${error.details || error.message}`));
    stream.on('status', (status: grpc.StatusObject) => finish(status.code === grpc.status.OK ? 'controller closed the stream' : `${grpc.status[status.code]}: ${status.details}`));
    stream.on('end', () => finish('controller ended the stream'));
    stream.write(create(AgentMessageSchema, { kind: { case: 'hello', value: this.handlers.hello() } }));
    this.establishTimer = setTimeout(() => {
      if (this.stream === stream && this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY) this.establish(stream);
    }, this.options.establishAfterMs ?? 1000);
  }

  private establish(stream: Duplex): void {
    if (this.stream !== stream || this.established) return;
    this.established = true;
    if (this.establishTimer) clearTimeout(this.establishTimer);
    this.backoff.reset();
    this.startHeartbeats();
    this.options.log.info('connected to controller', { target: this.options.target, attempt: this.attempts });
    this.handlers.connected();
  }

  private dispatch(message: ControllerMessage): void {
    switch (message.kind.case) {
      case 'assignment':
        this.handlers.assignment(message.kind.value);
        return;
      case 'config':
        this.handlers.config(message.kind.value);
        return;
      case 'revoke':
        this.handlers.revoke(message.kind.value);
        return;
      case undefined:
        this.options.log.warn('controller sent an empty message; ignored');
        return;
    }
  }

  private startHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      this.send(create(AgentMessageSchema, { kind: { case: 'heartbeat', value: { sentAt: timestampNow() } } }));
    }, this.heartbeatMs);
  }

  private clearTimers(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.establishTimer) clearTimeout(this.establishTimer);
    this.heartbeatTimer = undefined;
    this.establishTimer = undefined;
  }

  private onStreamEnd(stream: Duplex, reason: string): void {
    if (this.stream !== stream || this.closed) return;
    const wasEstablished = this.established;
    this.stream = undefined;
    this.established = false;
    this.clearTimers();
    stream.removeAllListeners();
    stream.on('error', () => undefined);
    stream.cancel();
    const delay = this.backoff.next();
    // Every lost stream is worth a warning; failed attempts while the controller stays away are
    // logged at most once a minute (each one at debug), so a long outage does not flood the log.
    const now = Date.now();
    const loud = wasEstablished || now - this.lastUnreachableLog >= 60_000;
    if (loud && !wasEstablished) this.lastUnreachableLog = now;
    this.options.log[loud ? 'warn' : 'debug'](wasEstablished ? 'stream to controller lost; reconnecting' : 'controller unreachable; reconnecting', {
      reason,
      retryInMs: delay,
      attempt: this.attempts,
    });
    this.handlers.disconnected(reason, delay);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
  }
}
