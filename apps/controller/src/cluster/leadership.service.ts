/**
 * Leadership: exactly one replica holds a session-level advisory lock (on a connection of its
 * own) and runs the registered background tasks. The lock lives as long as that connection:
 * when the leader closes, crashes or loses its database connection, Postgres releases it and
 * the next replica to poll (every THP_LEADER_POLL) takes over. A leader that finds its lock
 * connection dead stops its tasks at once, before anyone else can have taken over.
 *
 * The rollout orchestrator (issue 7) registers here as a LeaderTask.
 */
import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, LOGGER, STORE } from '../common/tokens.js';
import type { ControllerConfig } from '../config/config.js';
import type { Logger } from '../common/logger.js';
import type { LockSession, Store } from '../store/database.js';
import { MetricsService } from '../metrics/metrics.service.js';

/** Advisory lock key for leadership: the ASCII bytes of "thp_lead". */
export const LEADER_LOCK_KEY = 0x7468705f6c656164n;

/** Background work that runs only on the leader. */
export interface LeaderTask {
  readonly name: string;
  /** Pause between the end of one tick and the start of the next. */
  readonly intervalMs: number;
  /** One round of work; `signal` aborts when leadership is lost or the replica stops. */
  tick(signal: AbortSignal): Promise<void>;
  /** Called when this replica becomes leader, before the first tick. */
  onElected?(): Promise<void>;
  /** Called when this replica stops being leader (after ticks have been aborted). */
  onDeposed?(): Promise<void>;
}

export type LeadershipListener = (leader: boolean) => void;

interface RunningTask {
  readonly task: LeaderTask;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
}

@Injectable()
export class LeadershipService {
  private readonly tasks: LeaderTask[] = [];
  private readonly running = new Map<string, RunningTask>();
  private readonly listeners: LeadershipListener[] = [];
  private session: LockSession | undefined;
  private leader = false;
  private abort: AbortController | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(
    @Inject(CONFIG) private readonly config: ControllerConfig,
    @Inject(STORE) private readonly store: Store,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child('leadership');
  }

  /** Add a task; if this replica already leads, it starts at once. */
  register(task: LeaderTask): void {
    if (this.tasks.some((t) => t.name === task.name)) throw new Error(`leader task ${task.name} is already registered`);
    this.tasks.push(task);
    if (this.leader && this.abort) void this.startTask(task, this.abort.signal);
  }

  onChange(listener: LeadershipListener): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    const poll = (): void => {
      if (this.stopped) return;
      this.polling = this.pollOnce().finally(() => {
        this.polling = undefined;
        if (!this.stopped) {
          this.pollTimer = setTimeout(poll, this.config.intervals.leaderPollMs);
          this.pollTimer.unref();
        }
      });
    };
    poll();
  }

  /** Give up leadership (if held) and stop polling. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await this.polling;
    await this.depose('replica stopping');
    if (this.session) {
      if (this.session.alive) await this.session.unlock(LEADER_LOCK_KEY).catch(() => undefined);
      await this.session.close();
      this.session = undefined;
    }
  }

  private async pollOnce(): Promise<void> {
    try {
      if (this.leader) {
        if (!this.session?.alive) throw new Error('lock connection lost');
        await this.session.ping();
        return;
      }
      if (!this.session?.alive) {
        await this.session?.close();
        this.session = await this.store.openLockSession();
      }
      if (await this.session.tryLock(LEADER_LOCK_KEY)) await this.elect();
    } catch (error) {
      if (this.leader) {
        this.log.error('leadership lost: the lock connection failed', { error });
        await this.depose('lock connection failed');
      } else {
        this.log.warn('could not contend for leadership', { error });
      }
      await this.session?.close();
      this.session = undefined;
    }
  }

  private async elect(): Promise<void> {
    if (this.stopped) {
      await this.session?.unlock(LEADER_LOCK_KEY);
      return;
    }
    this.leader = true;
    this.abort = new AbortController();
    this.metrics.isLeader.set(1);
    this.log.info('this replica is now the leader', { replica: this.config.replicaId });
    for (const listener of this.listeners) listener(true);
    for (const task of this.tasks) void this.startTask(task, this.abort.signal);
  }

  private async startTask(task: LeaderTask, signal: AbortSignal): Promise<void> {
    const state: RunningTask = { task, timer: undefined, running: undefined };
    this.running.set(task.name, state);
    try {
      await task.onElected?.();
    } catch (error) {
      this.metrics.leaderTaskFailures.inc({ task: task.name });
      this.log.error('leader task failed to start', { task: task.name, error });
    }
    const loop = (): void => {
      if (signal.aborted) return;
      state.running = task
        .tick(signal)
        .catch((error: unknown) => {
          this.metrics.leaderTaskFailures.inc({ task: task.name });
          if (!signal.aborted) this.log.warn('leader task failed', { task: task.name, error });
        })
        .finally(() => {
          state.running = undefined;
          if (!signal.aborted) {
            state.timer = setTimeout(loop, task.intervalMs);
            state.timer.unref();
          }
        });
    };
    loop();
  }

  private async depose(why: string): Promise<void> {
    if (!this.leader) return;
    this.leader = false;
    this.abort?.abort(new Error(why));
    this.metrics.isLeader.set(0);
    const states = [...this.running.values()];
    this.running.clear();
    for (const state of states) if (state.timer) clearTimeout(state.timer);
    await Promise.all(states.map((state) => state.running).filter((running): running is Promise<void> => running !== undefined));
    for (const state of states) {
      try {
        await state.task.onDeposed?.();
      } catch (error) {
        this.log.warn('leader task failed to stop cleanly', { task: state.task.name, error });
      }
    }
    this.log.info('this replica is no longer the leader', { why });
    for (const listener of this.listeners) listener(false);
  }
}
