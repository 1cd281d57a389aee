/**
 * Fleet events (node, policy, assignment, audit; rollout later) for the SSE stream and for
 * in-process subscribers such as the rollout orchestrator. Events are published with
 * pg_notify inside the transaction of the change, so they are delivered only if it commits,
 * and they reach every replica (each LISTENs on the channel, including the publisher).
 */
import { Inject, Injectable } from '@nestjs/common';
import { sql } from 'kysely';
import { Observable, Subject } from 'rxjs';
import { LOGGER, STORE } from '../common/tokens.js';
import type { Logger } from '../common/logger.js';
import type { Db, Store } from '../store/database.js';

export const EVENTS_CHANNEL = 'thp_events';
/** Postgres NOTIFY payloads must stay below 8000 bytes; leave room for the envelope. */
const MAX_PAYLOAD = 7_800;

export type KnownEventType = 'node' | 'policy' | 'assignment' | 'audit' | 'rollout';

export interface FleetEvent {
  readonly type: KnownEventType;
  /** What changed; node id lists longer than fit a notification become null ("many: refetch"). */
  readonly data: Record<string, unknown>;
}

export interface ReceivedEvent extends FleetEvent {
  /** Replica that published it. */
  readonly origin: string;
  readonly at: string;
}

export type EventHandler = (event: ReceivedEvent) => void;

/** Shrink an event until its JSON fits a notification: long id lists become null plus a count. */
export function fitPayload(envelope: { type: string; data: Record<string, unknown>; origin: string; at: string }): string {
  let text = JSON.stringify(envelope);
  if (text.length <= MAX_PAYLOAD) return text;
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(envelope.data)) {
    if (Array.isArray(value)) {
      data[key] = null;
      data[`${key}Count`] = value.length;
    } else {
      data[key] = typeof value === 'string' && value.length > 500 ? `${value.slice(0, 500)}...` : value;
    }
  }
  text = JSON.stringify({ ...envelope, data });
  return text.length <= MAX_PAYLOAD ? text : JSON.stringify({ ...envelope, data: { truncated: true } });
}

@Injectable()
export class EventsService {
  private readonly subject = new Subject<ReceivedEvent>();
  private stopListening: (() => Promise<void>) | undefined;
  /** This replica's id, stamped on what it publishes. */
  private origin = 'unknown';
  private readonly log: Logger;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child('events');
  }

  /** Start receiving events from every replica (called once at start). */
  async start(replicaId: string): Promise<void> {
    this.origin = replicaId;
    this.stopListening = await this.store.listen(EVENTS_CHANNEL, (payload) => {
      try {
        const parsed = JSON.parse(payload) as ReceivedEvent;
        this.subject.next(parsed);
      } catch (error) {
        this.log.warn('ignoring malformed event notification', { error });
      }
    });
  }

  async stop(): Promise<void> {
    await this.stopListening?.();
    this.stopListening = undefined;
    this.subject.complete();
  }

  /** Publish within `tx` (delivered when it commits) or immediately with the pool. */
  async publish(tx: Db, event: FleetEvent): Promise<void> {
    const payload = fitPayload({ type: event.type, data: event.data, origin: this.origin, at: new Date().toISOString() });
    await sql`SELECT pg_notify(${EVENTS_CHANNEL}, ${payload})`.execute(tx);
  }

  /** Publish outside any transaction; failures are logged, never thrown (events are advisory). */
  publishNow(event: FleetEvent): void {
    this.publish(this.store.db, event).catch((error: unknown) => this.log.warn('could not publish event', { type: event.type, error }));
  }

  get events$(): Observable<ReceivedEvent> {
    return this.subject.asObservable();
  }

  subscribe(handler: EventHandler): () => void {
    const subscription = this.subject.subscribe(handler);
    return () => subscription.unsubscribe();
  }
}
