/**
 * What every page needs: the API client of the signed-in token, who that token is (its role
 * decides which actions are shown), and the live event stream (`GET /api/v1/events`, one
 * connection for the whole app) with a hook to reload on the events a page cares about.
 */
import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import type { ApiClient } from '../api/client.js';
import { EventStream, type StreamStatus } from '../api/sse.js';
import type { FleetEvent, WhoAmI } from '../api/types.js';

export type LiveListener = (event: FleetEvent | 'resync') => void;

const EVENT_TYPES = new Set(['node', 'policy', 'assignment', 'audit', 'rollout']);

/** One SSE connection, many listeners. After a reconnect every listener gets 'resync' (events may have been missed). */
export class LiveHub {
  private readonly listeners = new Set<LiveListener>();
  private stream: EventStream | null = null;
  status: StreamStatus = 'connecting';
  onStatus: ((status: StreamStatus, error?: string) => void) | null = null;

  start(baseUrl: string, token: string): void {
    this.stream = new EventStream({
      url: `${baseUrl}/api/v1/events`,
      token,
      onMessage: (message) => {
        if (!EVENT_TYPES.has(message.event)) return;
        let event: FleetEvent;
        try {
          event = JSON.parse(message.data) as FleetEvent;
        } catch {
          return;
        }
        for (const listener of this.listeners) listener(event);
      },
      onStatus: (status, detail) => {
        this.status = status;
        this.onStatus?.(status, detail.error);
        if (detail.resync) for (const listener of this.listeners) listener('resync');
      },
    });
    this.stream.start();
  }

  stop(): void {
    this.stream?.close();
    this.stream = null;
  }

  subscribe(listener: LiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface Session {
  readonly api: ApiClient;
  readonly who: WhoAmI;
  readonly live: LiveHub;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider(props: { session: Session; children: ReactNode }): ReactNode {
  return <SessionContext.Provider value={props.session}>{props.children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside SessionProvider');
  return session;
}

/**
 * Call `reload` when an event of one of `types` arrives that `accept` lets through (and after
 * every reconnect), at most once per `delayMs`: a burst of events gives one reload.
 */
export function useLiveReload(types: readonly FleetEvent['type'][], reload: () => void, options: { delayMs?: number; accept?: (event: FleetEvent) => boolean } = {}): void {
  const { live } = useSession();
  const reloadRef = useRef(reload);
  reloadRef.current = reload;
  const acceptRef = useRef(options.accept);
  acceptRef.current = options.accept;
  const delayMs = options.delayMs ?? 500;
  const key = types.join(',');
  useEffect(() => {
    const wanted = new Set(key.split(','));
    let timer: ReturnType<typeof setTimeout> | null = null;
    const unsubscribe = live.subscribe((event) => {
      if (event !== 'resync' && (!wanted.has(event.type) || (acceptRef.current && !acceptRef.current(event)))) return;
      if (timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        reloadRef.current();
      }, delayMs);
    });
    return () => {
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
    };
  }, [live, key, delayMs]);
}

/** The stream's state, for the header ("live", "reconnecting"). */
export function useLiveStatus(): { status: StreamStatus; error: string | undefined } {
  const { live } = useSession();
  const [state, setState] = useState<{ status: StreamStatus; error: string | undefined }>({ status: live.status, error: undefined });
  useEffect(() => {
    live.onStatus = (status, error) => setState({ status, error });
    return () => {
      live.onStatus = null;
    };
  }, [live]);
  return state;
}
