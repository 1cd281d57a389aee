/**
 * The agent streams held by this replica and what each needs to be sent. Every connected node
 * has a session with its acknowledged snapshot and at most one push in flight. When a node's
 * desired state may have changed (NOTIFY on DESIRED_CHANNEL from any replica, a Hello, an
 * ACK/NACK), its session is marked dirty; one drain loop loads the desired rows of all dirty
 * sessions in one query and pushes to those whose snapshot differs (see snapshot.ts).
 */
import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { create, toJson } from '@bufbuild/protobuf';
import {
  CapabilitiesSchema,
  ControllerMessageSchema,
  NackStage,
  ThpSysfsSchema,
  type AgentMessage,
  type AppliedPolicy,
  type ControllerMessage,
  type Hello,
  type Nack,
  type Ack,
  type ObservedState,
  type MetricsReport,
} from '@thp-fleet/proto';
import { CLOCK, CONFIG, LOGGER, STORE, type Clock } from '../common/tokens.js';
import type { ControllerConfig } from '../config/config.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/database.js';
import { AssignmentRepository, DESIRED_CHANNEL } from '../assignment/assignment.repository.js';
import { PolicyCatalog, versionKey } from '../policy/policy-catalog.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { IngestService } from '../metrics/ingest.service.js';
import { samplesFromReport } from '../metrics/report-samples.js';
import { NONE, decidePush, snapshotKey, type Snapshot } from './snapshot.js';
import { SESSIONS_CHANNEL, StatusWriter, type SessionAnnouncement } from './status-writer.js';
import { encodeAssignmentMessage, encodeShared } from './wire.js';
import { cleanJson, cleanText } from '../common/sanitize.js';

/** Where a session writes to its agent; the gRPC layer implements it. */
export interface StreamSink {
  send(message: ControllerMessage): void;
  /** Send an already encoded ControllerMessage (see wire.ts). */
  sendEncoded(bytes: Buffer): void;
  /** End the stream with a gRPC status code and message. */
  close(code: number, details: string): void;
}

/** The gRPC layer's handle on an open session. */
export interface StreamHandle {
  readonly sessionId: string;
  receive(message: AgentMessage): void;
  closed(): void;
}

interface Inflight {
  readonly nonce: string;
  readonly key: string;
  readonly policy: string;
  readonly snapshot: Snapshot;
  readonly sentAt: bigint;
}

interface Session {
  readonly nodeId: string;
  readonly sessionId: string;
  readonly sink: StreamSink;
  ackedKey: string;
  ackedPolicy: string;
  inflight: Inflight | undefined;
  /** Last computed desired snapshot (undefined until first loaded). */
  desired: Snapshot | undefined;
  quarantined: boolean;
  /** Versions this node NACKed during this session ("policy@version"). */
  readonly nacked: Set<string>;
  closed: boolean;
}

/** Recompute batch: one query per this many sessions. */
const RECOMPUTE_BATCH = 10_000;
/** Full resync of every session, as a safety net under LISTEN/NOTIFY. */
const RESYNC_MS = 5 * 60_000;
const GRPC_ABORTED = 10;

const NACK_STAGE_NAMES: Record<NackStage, string> = {
  [NackStage.UNSPECIFIED]: 'unspecified',
  [NackStage.VALIDATE]: 'validate',
  [NackStage.COMPILE]: 'compile',
  [NackStage.VERIFY]: 'verify',
  [NackStage.ATTACH]: 'attach',
  [NackStage.OTHER]: 'other',
};

function appliedKey(applied: AppliedPolicy | undefined): { key: string; policy: string; version: number | null; specHash: string | null } {
  if (!applied || applied.policy === '') return { key: 'none', policy: '', version: null, specHash: null };
  // What the agent reports is stored: keep it within the columns' shape.
  const policy = cleanText(applied.policy, 63);
  const specHash = cleanText(applied.specHash, 64);
  return { key: `${policy}@${applied.version}#${specHash}`, policy, version: applied.version, specHash: specHash || null };
}

@Injectable()
export class AgentStreamService {
  private readonly sessions = new Map<string, Session>();
  private readonly dirty = new Set<Session>();
  private draining: Promise<void> | undefined;
  private readonly unlisten: (() => Promise<void>)[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly noncePrefix = randomBytes(6).toString('base64url');
  private nonceCounter = 0;
  private replicaId = '';
  private readonly log: Logger;
  private stopped = false;
  /** Encoded shared fields per (version, rollout): a fleet-wide push encodes its document once. */
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(
    @Inject(CONFIG) private readonly config: ControllerConfig,
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(AssignmentRepository) private readonly assignments: AssignmentRepository,
    @Inject(PolicyCatalog) private readonly catalog: PolicyCatalog,
    @Inject(StatusWriter) private readonly writer: StatusWriter,
    @Inject(IngestService) private readonly ingest: IngestService,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child('agent-stream');
  }

  async start(replicaId: string): Promise<void> {
    this.replicaId = replicaId;
    this.unlisten.push(await this.store.listen(DESIRED_CHANNEL, (payload) => this.onDesiredNotification(payload)));
    this.unlisten.push(await this.store.listen(SESSIONS_CHANNEL, (payload) => this.onSessionAnnouncement(payload)));
    this.store.onListenReset(() => this.markDirty([...this.sessions.values()]));
    this.resyncTimer = setInterval(() => this.markDirty([...this.sessions.values()]), RESYNC_MS);
    this.resyncTimer.unref();
  }

  /** Close every stream (UNAVAILABLE so agents reconnect elsewhere) and stop listening. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    for (const stop of this.unlisten) await stop().catch(() => undefined);
    for (const session of [...this.sessions.values()]) {
      session.sink.close(14 /* UNAVAILABLE */, 'controller replica shutting down');
      this.closeSession(session);
    }
    await this.draining;
  }

  get connectedCount(): number {
    return this.sessions.size;
  }

  isConnected(nodeId: string): boolean {
    return this.sessions.has(nodeId);
  }

  /** Accept a stream whose Hello was validated and whose node id was authenticated. */
  open(hello: Hello, sink: StreamSink): StreamHandle {
    const nodeId = hello.nodeId;
    const previous = this.sessions.get(nodeId);
    if (previous) {
      previous.sink.close(GRPC_ABORTED, 'superseded by a newer stream from the same node');
      this.closeSession(previous);
    }
    const applied = appliedKey(hello.applied);
    const session: Session = {
      nodeId,
      sessionId: randomBytes(9).toString('base64url'),
      sink,
      ackedKey: applied.key,
      ackedPolicy: applied.policy,
      inflight: undefined,
      desired: undefined,
      quarantined: false,
      nacked: new Set(),
      closed: false,
    };
    // In the map before any read of the desired state, so a NOTIFY from now on marks it dirty.
    this.sessions.set(nodeId, session);
    const now = this.clock.now();
    const capabilities = hello.capabilities ? cleanJson(toJson(CapabilitiesSchema, hello.capabilities)) : {};
    this.writer.register({ id: nodeId, labels: { ...hello.labels }, kernelRelease: hello.kernelRelease, agentVersion: hello.agentVersion, capabilities, replicaId: this.replicaId, sessionId: session.sessionId, at: now });
    this.writer.status({ nodeId, kind: 'acked', policy: applied.version === null ? null : applied.policy, version: applied.version, specHash: applied.specHash, nonce: null, rolloutId: null, mapContentHash: null, sysfs: null, enforcement: null, programIds: null, at: now });
    this.writer.status({
      nodeId,
      kind: 'observed',
      policy: applied.version === null ? null : applied.policy,
      version: applied.version,
      specHash: applied.specHash,
      nonce: null,
      rolloutId: null,
      mapContentHash: null,
      sysfs: hello.capabilities?.sysfs ? cleanJson(toJson(ThpSysfsSchema, hello.capabilities.sysfs)) : null,
      enforcement: null,
      programIds: null,
      at: now,
    });
    sink.send(
      create(ControllerMessageSchema, {
        kind: {
          case: 'config',
          value: { metricsIntervalMs: this.config.intervals.metricsIntervalMs, heartbeatIntervalMs: this.config.intervals.heartbeatMs, leaseTtlMs: this.config.intervals.leaseTtlMs },
        },
      }),
    );
    this.metrics.streamsConnected.set(this.sessions.size);
    this.metrics.streamsOpened.inc();
    this.markDirty([session]);
    return {
      sessionId: session.sessionId,
      receive: (message) => this.receive(session, message),
      closed: () => this.closeSession(session),
    };
  }

  private closeSession(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    this.dirty.delete(session);
    if (this.sessions.get(session.nodeId) === session) this.sessions.delete(session.nodeId);
    this.writer.disconnect(session.nodeId, session.sessionId);
    this.metrics.streamsConnected.set(this.sessions.size);
  }

  private receive(session: Session, message: AgentMessage): void {
    if (session.closed) return;
    this.writer.touch(session.nodeId);
    const kind = message.kind;
    switch (kind.case) {
      case 'ack':
        this.onAck(session, kind.value);
        return;
      case 'nack':
        this.onNack(session, kind.value);
        return;
      case 'metrics':
        this.onMetrics(session, kind.value);
        return;
      case 'observed':
        this.onObserved(session, kind.value);
        return;
      case 'heartbeat':
        return;
      case 'hello':
        session.sink.close(3 /* INVALID_ARGUMENT */, 'Hello may only be the first message of a stream');
        this.closeSession(session);
        return;
      case undefined:
        return;
    }
  }

  private onAck(session: Session, ack: Ack): void {
    const inflight = session.inflight;
    if (!inflight || ack.nonce !== inflight.nonce) {
      this.metrics.staleNonces.inc({ type: 'ack' });
      return;
    }
    session.inflight = undefined;
    // The node says what it applied; when it names something other than what we sent, believe it.
    let key = inflight.key;
    let policy = inflight.snapshot.kind === 'policy' ? inflight.snapshot.policy : '';
    let version = inflight.snapshot.kind === 'policy' ? inflight.snapshot.version : null;
    let specHash = inflight.snapshot.kind === 'policy' ? inflight.snapshot.specHash : null;
    if (ack.policy !== '' && inflight.snapshot.kind === 'policy' && (ack.policy !== policy || ack.version !== version || (ack.specHash !== '' && ack.specHash !== specHash))) {
      this.log.warn('ACK names a different version than the assignment it answers', { nodeId: session.nodeId, sent: inflight.key, acked: `${ack.policy}@${ack.version}#${ack.specHash}` });
      policy = cleanText(ack.policy, 63);
      version = ack.version;
      specHash = cleanText(ack.specHash, 64) || null;
      key = `${policy}@${version}#${specHash ?? ''}`;
    }
    session.ackedKey = key;
    session.ackedPolicy = policy;
    this.metrics.acks.inc();
    this.metrics.pushLatency.observe(Number(process.hrtime.bigint() - inflight.sentAt) / 1e9);
    this.writer.status({
      nodeId: session.nodeId,
      kind: 'acked',
      policy: version === null ? null : policy,
      version,
      specHash,
      nonce: ack.nonce,
      rolloutId: inflight.snapshot.kind === 'policy' ? inflight.snapshot.rolloutId : null,
      mapContentHash: null,
      sysfs: null,
      enforcement: null,
      programIds: null,
      at: this.clock.now(),
    });
    this.reconsider(session);
  }

  private onNack(session: Session, nack: Nack): void {
    const inflight = session.inflight;
    if (!inflight || nack.nonce !== inflight.nonce) {
      this.metrics.staleNonces.inc({ type: 'nack' });
      return;
    }
    session.inflight = undefined;
    const stage = NACK_STAGE_NAMES[nack.error?.stage ?? NackStage.UNSPECIFIED] ?? 'unspecified';
    this.metrics.nacks.inc({ stage });
    if (inflight.snapshot.kind === 'policy') {
      const { policy, version, specHash } = inflight.snapshot;
      session.nacked.add(versionKey(policy, version));
      this.writer.quarantine({
        nodeId: session.nodeId,
        policy,
        version,
        specHash,
        nonce: nack.nonce,
        stage,
        message: cleanText(nack.error?.message ?? '', 2_000),
        detail: cleanText(nack.error?.detail ?? '', 64_000),
        at: this.clock.now(),
      });
      this.log.info('node rejected an assignment; quarantined', { nodeId: session.nodeId, policy, version, stage, message: nack.error?.message });
      // Make the quarantine durable promptly: it must survive this replica.
      void this.writer.flush();
    } else {
      this.log.warn('node rejected a revoke', { nodeId: session.nodeId, stage, message: nack.error?.message });
    }
    this.reconsider(session);
  }

  private onMetrics(session: Session, report: MetricsReport): void {
    this.metrics.reports.inc();
    const { samples, rejected } = samplesFromReport(session.nodeId, report, this.clock.now());
    if (rejected > 0) this.metrics.samplesDropped.inc({ reason: 'invalid' }, rejected);
    this.ingest.enqueue(samples);
  }

  private onObserved(session: Session, observed: ObservedState): void {
    const applied = appliedKey(observed.applied);
    this.writer.status({
      nodeId: session.nodeId,
      kind: 'observed',
      policy: applied.version === null ? null : applied.policy,
      version: applied.version,
      specHash: applied.specHash,
      nonce: null,
      rolloutId: null,
      mapContentHash: cleanText(observed.mapContentHash, 128) || null,
      sysfs: observed.sysfs ? cleanJson(toJson(ThpSysfsSchema, observed.sysfs)) : null,
      enforcement: cleanText(observed.enforcement, 64) || null,
      programIds: observed.programIds.slice(0, 64),
      at: this.clock.now(),
    });
  }

  // ------------------------------------------------------------------------------------------
  // Desired state -> pushes
  // ------------------------------------------------------------------------------------------

  private onDesiredNotification(payload: string): void {
    let parsed: { nodes?: unknown; all?: unknown };
    try {
      parsed = JSON.parse(payload) as { nodes?: unknown; all?: unknown };
    } catch {
      this.log.warn('ignoring malformed desired-state notification');
      return;
    }
    if (parsed.all === true || !Array.isArray(parsed.nodes)) {
      this.markDirty([...this.sessions.values()]);
      return;
    }
    const targets: Session[] = [];
    for (const id of parsed.nodes) {
      const session = typeof id === 'string' ? this.sessions.get(id) : undefined;
      if (session) targets.push(session);
    }
    this.markDirty(targets);
  }

  private onSessionAnnouncement(payload: string): void {
    let parsed: SessionAnnouncement;
    try {
      parsed = JSON.parse(payload) as SessionAnnouncement;
    } catch {
      return;
    }
    if (parsed.replica === this.replicaId || !Array.isArray(parsed.sessions)) return;
    for (const pair of parsed.sessions as unknown[]) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') continue;
      const [nodeId, sessionId] = pair as [string, string];
      const local = this.sessions.get(nodeId);
      if (local && local.sessionId !== sessionId) {
        local.sink.close(GRPC_ABORTED, `superseded by a newer stream from the same node on replica ${parsed.replica}`);
        this.closeSession(local);
      }
    }
  }

  private markDirty(sessions: readonly Session[]): void {
    if (this.stopped) return;
    for (const session of sessions) if (!session.closed) this.dirty.add(session);
    if (this.dirty.size > 0 && !this.draining) {
      this.draining = this.drain().finally(() => {
        this.draining = undefined;
        if (this.dirty.size > 0) this.markDirty([]);
      });
    }
  }

  /** Push whatever a session now needs, using its cached desired snapshot (after an ACK/NACK). */
  private reconsider(session: Session): void {
    const desired = session.desired;
    if (desired === undefined) return; // first load still pending: it will decide
    if (desired.kind === 'policy' && session.nacked.has(versionKey(desired.policy, desired.version))) session.quarantined = true;
    this.apply(session, desired, session.quarantined);
  }

  private async drain(): Promise<void> {
    // Let a burst of notifications coalesce into one query.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.dirty.size > 0 && !this.stopped) {
      const batch: Session[] = [];
      for (const session of this.dirty) {
        batch.push(session);
        if (batch.length >= RECOMPUTE_BATCH) break;
      }
      for (const session of batch) this.dirty.delete(session);
      try {
        await this.recompute(batch);
      } catch (error) {
        this.log.warn('could not load desired state; retrying', { sessions: batch.length, error });
        for (const session of batch) if (!session.closed) this.dirty.add(session);
        await new Promise((resolve) => setTimeout(resolve, 500).unref());
      }
    }
  }

  private async recompute(batch: readonly Session[]): Promise<void> {
    const started = performance.now();
    const rows = await this.assignments.desiredFor(this.store.db, batch.map((session) => session.nodeId));
    const byNode = new Map(rows.map((row) => [row.nodeId, row]));
    const versions = await this.catalog.getMany(rows.filter((row) => row.policy !== null && row.version !== null).map((row) => ({ policy: row.policy as string, version: row.version as number })));
    for (const session of batch) {
      if (session.closed) continue;
      const row = byNode.get(session.nodeId);
      let desired: Snapshot = NONE;
      let quarantined = false;
      if (row && row.policy !== null && row.version !== null) {
        const entry = versions.get(versionKey(row.policy, row.version));
        if (entry) {
          desired = { kind: 'policy', policy: row.policy, version: row.version, specHash: entry.specHash, rolloutId: row.rolloutId };
          quarantined = row.quarantined || session.nacked.has(versionKey(row.policy, row.version));
        }
      }
      session.desired = desired;
      session.quarantined = quarantined;
      this.apply(session, desired, quarantined);
    }
    this.log.debug('recomputed snapshots', { sessions: batch.length, ms: Math.round(performance.now() - started) });
  }

  private apply(session: Session, desired: Snapshot, quarantined: boolean): void {
    if (session.closed) return;
    const decision = decidePush(desired, quarantined, { ackedKey: session.ackedKey, ackedPolicy: session.ackedPolicy, inflight: session.inflight });
    switch (decision.action) {
      case 'nothing':
      case 'hold':
        return;
      case 'assign': {
        this.sendAssignment(session, decision.snapshot);
        return;
      }
      case 'revoke':
        this.sendRevoke(session, decision.policy);
        return;
    }
  }

  private nextNonce(): string {
    this.nonceCounter += 1;
    return `${this.noncePrefix}-${this.nonceCounter.toString(36)}`;
  }

  private sendAssignment(session: Session, snapshot: Extract<Snapshot, { kind: 'policy' }>): void {
    const entry = this.catalog.peek(snapshot.policy, snapshot.version);
    if (!entry) {
      // Evicted from the catalog since the last load: reload through the drain loop.
      this.markDirty([session]);
      return;
    }
    const nonce = this.nextNonce();
    session.inflight = { nonce, key: snapshotKey(snapshot), policy: snapshot.policy, snapshot, sentAt: process.hrtime.bigint() };
    this.writer.status({
      nodeId: session.nodeId,
      kind: 'intent',
      policy: snapshot.policy,
      version: snapshot.version,
      specHash: snapshot.specHash,
      nonce,
      rolloutId: snapshot.rolloutId,
      mapContentHash: null,
      sysfs: null,
      enforcement: null,
      programIds: null,
      at: this.clock.now(),
    });
    this.metrics.pushes.inc({ kind: 'assignment' });
    session.sink.sendEncoded(encodeAssignmentMessage(this.sharedBytes(snapshot, entry.canonical), nonce));
  }

  private sharedBytes(snapshot: Extract<Snapshot, { kind: 'policy' }>, canonical: string): Uint8Array {
    const key = `${snapshotKey(snapshot)}|${snapshot.rolloutId ?? ''}`;
    let bytes = this.encoded.get(key);
    if (!bytes) {
      if (this.encoded.size >= 256) this.encoded.clear();
      bytes = encodeShared({ policy: snapshot.policy, version: snapshot.version, specHash: snapshot.specHash, spec: canonical, rolloutId: snapshot.rolloutId ?? '' });
      this.encoded.set(key, bytes);
    }
    return bytes;
  }

  private sendRevoke(session: Session, policy: string): void {
    const nonce = this.nextNonce();
    session.inflight = { nonce, key: 'none', policy, snapshot: NONE, sentAt: process.hrtime.bigint() };
    this.writer.status({ nodeId: session.nodeId, kind: 'intent', policy: null, version: null, specHash: null, nonce, rolloutId: null, mapContentHash: null, sysfs: null, enforcement: null, programIds: null, at: this.clock.now() });
    this.metrics.pushes.inc({ kind: 'revoke' });
    session.sink.send(create(ControllerMessageSchema, { kind: { case: 'revoke', value: { nonce, policy, reason: 'the node has no desired policy any more' } } }));
  }
}
