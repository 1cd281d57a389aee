/**
 * Write-behind for everything the agent streams learn: registrations (Hello), status records
 * (intent on push, acked on ACK, observed on ObservedState), quarantine (NACK), liveness
 * (any message) and disconnects. Decisions are made in memory at once; the database catches
 * up every STATUS_FLUSH_MS in one transaction with one set-based statement per kind, so a
 * connect storm or a fleet-wide push costs a few statements instead of one per node.
 * A failed flush keeps its items (last write per key wins) and is retried.
 */
import { Inject, Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { CLOCK, LOGGER, STORE, type Clock } from '../common/tokens.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/database.js';
import { EventsService } from '../events/events.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { NodeRepository, type NodeRegistration, type QuarantineWrite, type StatusWrite } from '../node/node.repository.js';
import { isDataError } from '../store/db-errors.js';

export const STATUS_FLUSH_MS = 50;
/** A batch the database rejects for its data this many times in a row is dropped (and logged). */
const MAX_DATA_ERROR_RETRIES = 3;
/** Channel announcing which replica now holds which node's stream (older streams elsewhere close). */
export const SESSIONS_CHANNEL = 'thp_sessions';
const MAX_NOTIFY_BYTES = 7_500;

export interface SessionAnnouncement {
  readonly replica: string;
  /** [nodeId, sessionId] pairs. */
  readonly sessions: readonly (readonly [string, string])[];
}

@Injectable()
export class StatusWriter {
  private registrations = new Map<string, NodeRegistration>();
  private statuses = new Map<string, StatusWrite>();
  private quarantines = new Map<string, QuarantineWrite>();
  private touched = new Set<string>();
  private disconnects = new Map<string, { nodeId: string; sessionId: string }>();
  private changedNodes = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private again = false;
  private waiters: (() => void)[] = [];
  private readonly log: Logger;
  private replicaId = '';
  private failures = 0;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(NodeRepository) private readonly nodes: NodeRepository,
    @Inject(EventsService) private readonly events: EventsService,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child('status-writer');
  }

  start(replicaId: string): void {
    this.replicaId = replicaId;
    this.timer = setInterval(() => void this.flush(), STATUS_FLUSH_MS);
    this.timer.unref();
  }

  register(registration: NodeRegistration): void {
    this.registrations.set(registration.id, registration);
    this.changedNodes.add(registration.id);
  }

  status(write: StatusWrite): void {
    this.statuses.set(`${write.nodeId}\u0000${write.kind}`, write);
    this.changedNodes.add(write.nodeId);
  }

  quarantine(write: QuarantineWrite): void {
    this.quarantines.set(`${write.nodeId}\u0000${write.policy}\u0000${write.version}`, write);
    this.changedNodes.add(write.nodeId);
  }

  touch(nodeId: string): void {
    this.touched.add(nodeId);
  }

  disconnect(nodeId: string, sessionId: string): void {
    this.disconnects.set(`${nodeId}\u0000${sessionId}`, { nodeId, sessionId });
    this.changedNodes.add(nodeId);
  }

  /** Resolves once everything queued before the call is written (or a flush failed). */
  flushed(): Promise<void> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      void this.flush();
    });
  }

  private get empty(): boolean {
    return this.registrations.size === 0 && this.statuses.size === 0 && this.quarantines.size === 0 && this.touched.size === 0 && this.disconnects.size === 0;
  }

  flush(): Promise<void> {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    if (this.empty) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const waiter of waiters) waiter();
      return Promise.resolve();
    }
    this.flushing = this.writeOnce().finally(() => {
      this.flushing = undefined;
      if (this.again || this.waiters.length > 0) {
        this.again = false;
        void this.flush();
      }
    });
    return this.flushing;
  }

  private async writeOnce(): Promise<void> {
    const registrations = this.registrations;
    const statuses = this.statuses;
    const quarantines = this.quarantines;
    const touched = this.touched;
    const disconnects = this.disconnects;
    const changed = this.changedNodes;
    const waiters = this.waiters;
    this.registrations = new Map();
    this.statuses = new Map();
    this.quarantines = new Map();
    this.touched = new Set();
    this.disconnects = new Map();
    this.changedNodes = new Set();
    this.waiters = [];
    const started = process.hrtime.bigint();
    try {
      await this.store.db.transaction().execute(async (tx) => {
        await this.nodes.register(tx, [...registrations.values()]);
        await this.nodes.writeStatuses(tx, [...statuses.values()]);
        await this.nodes.quarantine(tx, [...quarantines.values()]);
        const fresh = await this.nodes.touch(tx, [...touched], this.clock.now());
        for (const id of fresh) changed.add(id);
        await this.nodes.disconnect(tx, [...disconnects.values()]);
        for (const payload of sessionPayloads(this.replicaId, [...registrations.values()].map((r) => [r.id, r.sessionId] as const))) {
          await sql`SELECT pg_notify(${SESSIONS_CHANNEL}, ${payload})`.execute(tx);
        }
        if (changed.size > 0) await this.events.publish(tx, { type: 'node', data: { nodeIds: [...changed] } });
      });
      this.failures = 0;
      this.metrics.statusFlush.observe(Number(process.hrtime.bigint() - started) / 1e9);
    } catch (error) {
      this.failures += 1;
      if (isDataError(error) && this.failures >= MAX_DATA_ERROR_RETRIES) {
        // Not a transient fault: the same rows would fail forever and block every later write.
        this.log.error('dropping a batch of node status the database refuses', { error, registrations: registrations.size, statuses: statuses.size, quarantines: quarantines.size });
        this.failures = 0;
        return;
      }
      if (this.failures === 1 || this.failures % 100 === 0) this.log.warn('could not write node status; will retry', { error, failures: this.failures });
      // Put everything back, newer writes (queued meanwhile) winning.
      for (const [key, value] of registrations) if (!this.registrations.has(key)) this.registrations.set(key, value);
      for (const [key, value] of statuses) if (!this.statuses.has(key)) this.statuses.set(key, value);
      for (const [key, value] of quarantines) if (!this.quarantines.has(key)) this.quarantines.set(key, value);
      for (const id of touched) this.touched.add(id);
      for (const [key, value] of disconnects) this.disconnects.set(key, value);
      for (const id of changed) this.changedNodes.add(id);
    } finally {
      for (const waiter of waiters) waiter();
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
    if (!this.empty) await this.flush();
  }
}

/** Session announcements, each under the notification size limit. */
export function sessionPayloads(replica: string, sessions: readonly (readonly [string, string])[]): string[] {
  const out: string[] = [];
  let batch: (readonly [string, string])[] = [];
  let size = 0;
  for (const pair of sessions) {
    const cost = pair[0].length + pair[1].length + 8;
    if (size + cost > MAX_NOTIFY_BYTES && batch.length > 0) {
      out.push(JSON.stringify({ replica, sessions: batch } satisfies SessionAnnouncement));
      batch = [];
      size = 0;
    }
    batch.push(pair);
    size += cost;
  }
  if (batch.length > 0) out.push(JSON.stringify({ replica, sessions: batch } satisfies SessionAnnouncement));
  return out;
}
