/**
 * This replica's place in the cluster: it records itself in `replicas`, heartbeats, publishes
 * whether it leads, and answers GET /api/v1/cluster. It also resolves the node-token secret
 * shared by all replicas.
 */
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, CONFIG, LOGGER, STORE, type Clock } from '../common/tokens.js';
import type { ControllerConfig } from '../config/config.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/database.js';
import { ClusterRepository, randomSecret, type ReplicaRecord } from './cluster.repository.js';
import { LeadershipService } from './leadership.service.js';

/** A replica counts as alive while it heartbeated within this many heartbeat intervals. */
export const REPLICA_ALIVE_HEARTBEATS = 5;

export interface ReplicaView {
  readonly id: string;
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly startedAt: string;
  readonly heartbeatAt: string;
  readonly alive: boolean;
  readonly leader: boolean;
  readonly connectedNodes: number;
}

export interface ClusterView {
  readonly self: string;
  readonly leader: string | null;
  readonly replicas: readonly ReplicaView[];
}

@Injectable()
export class ClusterService {
  private timer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(
    @Inject(CONFIG) private readonly config: ControllerConfig,
    @Inject(STORE) private readonly store: Store,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ClusterRepository) private readonly repository: ClusterRepository,
    @Inject(LeadershipService) private readonly leadership: LeadershipService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child('cluster');
  }

  /** THP_AGENT_SECRET, or the secret generated once for this database and shared by all replicas. */
  async agentSecret(): Promise<string> {
    if (this.config.agentSecret !== null) return this.config.agentSecret;
    return this.repository.getOrCreateSetting(this.store.db, 'agent_secret', randomSecret);
  }

  async start(httpUrl: string, grpcAddress: string): Promise<void> {
    await this.repository.upsertReplica(this.store.db, { id: this.config.replicaId, httpUrl, grpcAddress, at: this.clock.now() });
    this.leadership.onChange((leader) => {
      this.repository.setLeader(this.store.db, this.config.replicaId, leader ? this.clock.now() : null).catch((error: unknown) => this.log.warn('could not record leadership', { error }));
    });
    this.timer = setInterval(() => {
      this.repository.heartbeat(this.store.db, this.config.replicaId, this.clock.now()).catch((error: unknown) => this.log.warn('replica heartbeat failed', { error }));
    }, this.config.intervals.replicaHeartbeatMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.repository.markStopped(this.store.db, this.config.replicaId, this.clock.now()).catch((error: unknown) => this.log.warn('could not record replica stop', { error }));
  }

  aliveCutoff(): Date {
    return new Date(this.clock.now().getTime() - REPLICA_ALIVE_HEARTBEATS * this.config.intervals.replicaHeartbeatMs);
  }

  aliveReplicas(): Promise<string[]> {
    return this.repository.aliveSince(this.store.db, this.aliveCutoff());
  }

  async view(): Promise<ClusterView> {
    const [replicas, counts] = await Promise.all([this.repository.list(this.store.db), this.repository.connectedCounts(this.store.db)]);
    const cutoff = this.aliveCutoff();
    const alive = (replica: ReplicaRecord): boolean => replica.stoppedAt === null && replica.heartbeatAt >= cutoff;
    const views = replicas.filter(alive).map((replica) => ({
      id: replica.id,
      httpUrl: replica.httpUrl,
      grpcAddress: replica.grpcAddress,
      startedAt: replica.startedAt.toISOString(),
      heartbeatAt: replica.heartbeatAt.toISOString(),
      alive: true,
      leader: replica.id === this.config.replicaId ? this.leadership.isLeader : replica.leaderSince !== null,
      connectedNodes: counts.get(replica.id) ?? 0,
    }));
    return { self: this.config.replicaId, leader: views.find((replica) => replica.leader)?.id ?? null, replicas: views };
  }
}
