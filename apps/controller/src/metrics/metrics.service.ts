/**
 * Prometheus metrics of one controller replica (its own registry, so several replicas can run
 * in one process in tests): streams, pushes, ACK/NACK counts, push-to-ACK latency, ingest.
 */
import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly streamsConnected = new Gauge({ name: 'thp_agent_streams_connected', help: 'Agent streams currently open on this replica', registers: [this.registry] });
  readonly streamsOpened = new Counter({ name: 'thp_agent_streams_opened_total', help: 'Agent streams accepted (after authentication and Hello)', registers: [this.registry] });
  readonly streamsRejected = new Counter({ name: 'thp_agent_streams_rejected_total', help: 'Agent streams refused, by gRPC status', labelNames: ['code'], registers: [this.registry] });
  readonly pushes = new Counter({ name: 'thp_pushes_total', help: 'Assignments and revokes sent to agents', labelNames: ['kind'], registers: [this.registry] });
  readonly acks = new Counter({ name: 'thp_acks_total', help: 'ACKs matched to the nonce in flight', registers: [this.registry] });
  readonly nacks = new Counter({ name: 'thp_nacks_total', help: 'NACKs matched to the nonce in flight, by stage', labelNames: ['stage'], registers: [this.registry] });
  readonly staleNonces = new Counter({ name: 'thp_stale_nonces_total', help: 'ACKs/NACKs for a nonce that is not the one in flight (ignored)', labelNames: ['type'], registers: [this.registry] });
  readonly pushLatency = new Histogram({
    name: 'thp_push_to_ack_seconds',
    help: 'Time from sending an assignment to receiving its ACK',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly reports = new Counter({ name: 'thp_metric_reports_total', help: 'MetricsReports received', registers: [this.registry] });
  readonly samplesIngested = new Counter({ name: 'thp_metric_samples_ingested_total', help: 'Metric samples stored in the database', registers: [this.registry] });
  readonly samplesDropped = new Counter({ name: 'thp_metric_samples_dropped_total', help: 'Metric samples dropped, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly ingestBatch = new Histogram({
    name: 'thp_metric_ingest_batch_seconds',
    help: 'Time to store one batch of metric samples',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly ingestBacklog = new Gauge({ name: 'thp_metric_ingest_backlog', help: 'Metric samples waiting to be stored', registers: [this.registry] });
  readonly statusFlush = new Histogram({
    name: 'thp_node_status_flush_seconds',
    help: 'Time to write one batch of node registrations, heartbeats and status records',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({ name: 'thp_is_leader', help: '1 while this replica holds leadership', registers: [this.registry] });
  readonly leaderTaskFailures = new Counter({ name: 'thp_leader_task_failures_total', help: 'Failed runs of leader background tasks', labelNames: ['task'], registers: [this.registry] });
  readonly nodesMarkedStale = new Counter({ name: 'thp_nodes_marked_stale_total', help: 'Nodes marked stale by this replica while leader', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'thp_controller_' });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
