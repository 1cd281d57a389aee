/**
 * Metric ingest: samples from every stream go into one bounded in-memory buffer that is
 * written in batches (one multi-row INSERT per batch, up to INGEST_PARALLELISM at a time).
 * When the database falls behind and the buffer is full, new samples are dropped and
 * counted (thp_metric_samples_dropped_total{reason="backlog"}) rather than letting memory grow:
 * metrics are for judging and charts, losing a few under overload is the lesser harm.
 */
import { Inject, Injectable } from '@nestjs/common';
import { LOGGER, STORE } from '../common/tokens.js';
import type { Logger } from '../common/logger.js';
import type { Store } from '../store/database.js';
import { MetricSampleRepository, type MetricSample } from './metric-sample.repository.js';
import { MetricsService } from './metrics.service.js';

export const INGEST_BATCH = 5_000;
export const INGEST_FLUSH_MS = 200;
export const INGEST_MAX_BACKLOG = 500_000;

@Injectable()
export class IngestService {
  private buffer: MetricSample[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<Promise<void>>();
  private readonly log: Logger;
  private closed = false;
  private readonly parallelism: number;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(MetricSampleRepository) private readonly repository: MetricSampleRepository,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.log = logger.child('ingest');
    // PGlite serves one session: parallel batches would only queue on its mutex.
    this.parallelism = store.kind === 'postgres' ? 2 : 1;
  }

  start(): void {
    this.timer = setInterval(() => this.pump(), INGEST_FLUSH_MS);
    this.timer.unref();
  }

  /** Queue samples; returns how many were accepted. */
  enqueue(samples: readonly MetricSample[]): number {
    if (this.closed) return 0;
    const room = INGEST_MAX_BACKLOG - this.buffer.length;
    const accepted = room >= samples.length ? samples : samples.slice(0, Math.max(0, room));
    if (accepted.length < samples.length) this.metrics.samplesDropped.inc({ reason: 'backlog' }, samples.length - accepted.length);
    for (const sample of accepted) this.buffer.push(sample);
    this.metrics.ingestBacklog.set(this.buffer.length);
    if (this.buffer.length >= INGEST_BATCH) this.pump();
    return accepted.length;
  }

  get backlog(): number {
    return this.buffer.length;
  }

  private pump(): void {
    while (this.buffer.length > 0 && this.inFlight < this.parallelism) {
      const batch = this.buffer.length <= INGEST_BATCH ? this.buffer : this.buffer.slice(0, INGEST_BATCH);
      this.buffer = this.buffer.length <= INGEST_BATCH ? [] : this.buffer.slice(INGEST_BATCH);
      this.metrics.ingestBacklog.set(this.buffer.length);
      this.inFlight += 1;
      const started = process.hrtime.bigint();
      const write = this.repository
        .insert(this.store.db, batch)
        .then(
          () => {
            this.metrics.samplesIngested.inc(batch.length);
            this.metrics.ingestBatch.observe(Number(process.hrtime.bigint() - started) / 1e9);
          },
          (error: unknown) => {
            this.metrics.samplesDropped.inc({ reason: 'write-failed' }, batch.length);
            this.log.warn('could not store metric samples', { samples: batch.length, error });
          },
        )
        .finally(() => {
          this.inFlight -= 1;
          this.pending.delete(write);
          if (this.buffer.length >= INGEST_BATCH || this.closed) this.pump();
        });
      this.pending.add(write);
    }
  }

  /** Write everything buffered (used at shutdown and by tests). */
  async drain(): Promise<void> {
    while (this.buffer.length > 0 || this.pending.size > 0) {
      this.pump();
      await Promise.all([...this.pending]);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.drain();
    this.closed = true;
  }
}
