/**
 * IPC between the benchmark driver (bench.ts) and its child processes: the load generator
 * (load-agents.ts) and the raw-floor server (raw-floor.ts). Times are epoch milliseconds with
 * sub-millisecond precision (performance.timeOrigin + performance.now()), comparable across
 * processes on one machine.
 */

export interface StartAgents {
  readonly type: 'start';
  readonly address: string;
  readonly count: number;
  /** Agents multiplexed on one HTTP/2 connection (1 = one TCP connection per agent, like a fleet). */
  readonly perConnection: number;
  /** HMAC secret for node tokens (null: send none, for the raw floor). */
  readonly secret: string | null;
  readonly nodePrefix: string;
  readonly labels: Record<string, string>;
  /** Send Heartbeats at the interval the server's Config asks for. */
  readonly heartbeats: boolean;
  /** Send MetricsReports of `samples` samples every `intervalMs` per agent (staggered). */
  readonly metrics: { readonly samples: number; readonly intervalMs: number } | null;
}

export interface AgentStats {
  readonly type: 'stats';
  readonly connected: number;
  readonly configs: number;
  readonly assignments: number;
  readonly acks: number;
  readonly firstAssignmentAt: number | null;
  readonly lastAckAt: number | null;
  readonly reportsSent: number;
  readonly samplesSent: number;
  readonly errors: number;
  readonly lastError: string | null;
}

export type ToAgents = StartAgents | { readonly type: 'metrics'; readonly samples: number; readonly intervalMs: number } | { readonly type: 'stats' } | { readonly type: 'reset' } | { readonly type: 'stop' };
export type FromAgents = AgentStats | { readonly type: 'ready'; readonly connected: number; readonly ms: number } | { readonly type: 'failed'; readonly message: string };

export interface FloorPush {
  readonly type: 'push';
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly spec: string;
}

export type ToFloor = { readonly type: 'listen' } | FloorPush | { readonly type: 'stats' } | { readonly type: 'stop' };
export type FromFloor =
  | { readonly type: 'listening'; readonly address: string }
  | { readonly type: 'stats'; readonly streams: number; readonly acks: number; readonly lastAckAt: number | null; readonly wroteAt: number | null }
  | { readonly type: 'pushed'; readonly streams: number; readonly bytes: number; readonly wroteAt: number };

export const now = (): number => performance.timeOrigin + performance.now();
