/**
 * One node's agent: its stream to the controller, its reconciler over an enforcement backend,
 * its metrics and observed-state reports, and the opt-in fail-safe lease. A real node runs
 * one; a simulated fleet runs one per simulated node in the same process.
 *
 * Wire behaviour (docs/agent.md has the full story):
 * - Hello at every connect: capabilities (backends, hook ABI or its absence, THP sysfs values,
 *   enabled mTHP sizes; node-level-only enforcement is named in the hook detail) and what is
 *   applied (the lease baseline shows as version 0).
 * - Assignment -> reconcile -> Ack(nonce, the version actually applied) or Nack(nonce, stage).
 *   Revoke -> the policy removed -> Ack(nonce, revoked policy, version 0).
 * - ObservedState after every apply or reject, after cgroup-map updates, and whenever the
 *   observation changes (checked at every metrics interval).
 * - MetricsReport every metrics interval; while disconnected the interval simply grows, so
 *   nothing is double-counted or lost.
 *
 * Node mode (issue 9) is always wired: every policy, with or without `spec.node`, goes through
 * the node-mode sequencer over this node's THP sysfs (docs/node-mode.md), and its journal is
 * resumed at start before anything is reconciled.
 */
import type { Assignment, Config, Hello, Revoke, ThpSysfs } from '@thp-fleet/proto';
import type { Backend } from '../backends/backend.js';
import type { BackoffSettings, TlsSettings } from '../config/agent.config.js';
import { AgentConnection } from '../connection/agent.connection.js';
import { ackMessage, helloMessage, metricsMessage, nackMessage, observedMessage, type BackendKind, type ObservedInput } from '../connection/messages.js';
import { Lease } from '../lease/lease.js';
import type { Logger } from '../log/logger.js';
import { metricsInterval, type MetricsSample } from '../metrics/metrics-sample.js';
import { enabledMthpSizesKb, toThpSysfsFields, type ThpSysfsSnapshot } from '../node-mode/sysfs.js';
import type { Desired } from '../reconcile/plan.js';
import { Reconciler, type Outcome } from '../reconcile/reconciler.js';
import { sequencerNodeMode } from '../reconcile/node-mode.adapter.js';
import type { SequencePoint } from '../node-mode/sequencer.js';
import type { StateStore } from '../state/state.store.js';
import type { BaselinePolicy } from '../lease/baseline.js';

export interface NodeAgentOptions {
  readonly nodeId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly kernelRelease: string;
  readonly agentVersion: string;
  /** Backends this agent could run (Capabilities.backends). */
  readonly availableBackends: readonly BackendKind[];
  readonly backend: Backend;
  readonly store: StateStore;
  readonly controller: string;
  readonly tls: TlsSettings | undefined;
  readonly token: string;
  readonly backoff: BackoffSettings;
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly metricsIntervalMs: number;
  readonly leaseTtlMs: number | undefined;
  readonly baseline: BaselinePolicy | undefined;
  /** Every node-mode sysfs write, port call and journal write (tracing; crash injection in tests). */
  readonly nodeModePoint?: (point: SequencePoint) => void | Promise<void>;
  readonly log: Logger;
  readonly random?: () => number;
  readonly now?: () => number;
}

export class NodeAgent {
  readonly reconciler: Reconciler;
  private readonly connection: AgentConnection;
  private readonly lease: Lease;
  private readonly log: Logger;
  private readonly now: () => number;
  private metricsMs: number;
  private metricsTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private lastSample: MetricsSample | undefined;
  private sysfs: ThpSysfsSnapshot | undefined;
  private sysfsError: string | undefined;
  private lastObservedKey = '';
  private lastDriftKey = '';
  private closed = false;

  constructor(private readonly options: NodeAgentOptions) {
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.metricsMs = options.metricsIntervalMs;
    this.lease = new Lease(options.leaseTtlMs, this.now());
    const sysfs = options.backend.sysfs;
    if (!sysfs) throw new Error(`node ${options.nodeId}: node mode needs this node's THP sysfs tree, which the ${options.backend.kind} backend does not have`);
    this.reconciler = new Reconciler({
      backend: options.backend,
      store: options.store,
      log: options.log,
      nodeMode: sequencerNodeMode({
        stateDir: options.store.directory,
        sysfs,
        bootId: () => options.backend.bootId(),
        log: options.log,
        ...(options.nodeModePoint ? { onPoint: options.nodeModePoint } : {}),
      }),
      now: this.now,
      onOutcome: (outcome) => this.onOutcome(outcome),
      onTablesChanged: () => this.sendObserved(true),
    });
    this.connection = new AgentConnection(
      {
        target: options.controller,
        tls: options.tls,
        token: options.token,
        backoff: options.backoff,
        keepaliveMs: options.keepaliveMs,
        keepaliveTimeoutMs: options.keepaliveTimeoutMs,
        heartbeatIntervalMs: options.heartbeatIntervalMs,
        ...(options.random ? { random: options.random } : {}),
        log: options.log,
      },
      {
        hello: () => this.hello(),
        assignment: (a) => this.onAssignment(a),
        config: (c) => this.onConfig(c),
        revoke: (r) => this.onRevoke(r),
        connected: () => this.onConnected(),
        disconnected: () => this.lease.disconnected(this.now()),
      },
    );
  }

  get nodeId(): string {
    return this.options.nodeId;
  }

  /** Re-adopt or re-apply what was applied before, then connect. */
  async start(): Promise<void> {
    const how = await this.reconciler.start();
    // After start: node mode may have just finished a sequence, and Hello reports these values.
    await this.refreshSysfs();
    this.log.info('agent started', { backend: this.options.backend.kind, hook: this.options.backend.hook, restored: how, applied: this.reconciler.applied()?.policy });
    this.lastSample = this.options.backend.sample();
    this.connection.start();
    this.scheduleMetrics();
    this.scheduleLease();
  }

  isConnected(): boolean {
    return this.connection.isConnected();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.connection.close();
    this.reconciler.close();
    await this.reconciler.idle();
    await this.options.backend.close();
  }

  /** The lease episode, if the baseline is in force because the lease ran out. */
  leaseExpiredSince(): number | undefined {
    return this.lease.expiredSince();
  }

  // ---- stream handlers -------------------------------------------------------------------

  private hello(): Hello {
    const record = this.reconciler.applied();
    const b = this.options.backend;
    return helloMessage({
      nodeId: this.options.nodeId,
      labels: this.options.labels,
      kernelRelease: this.options.kernelRelease,
      agentVersion: this.options.agentVersion,
      capabilities: {
        backends: this.options.availableBackends,
        active: b.kind,
        hook: b.hook,
        hookDetail: [b.hookDetail, this.nodeLevelNote(), this.sysfsError ? `THP sysfs unreadable: ${this.sysfsError}` : ''].filter(Boolean).join('; '),
        sysfs: this.sysfs ? toThpSysfsFields(this.sysfs) : undefined,
        enabledMthpSizesKb: this.sysfs ? enabledMthpSizesKb(this.sysfs) : [],
      },
      applied: record ? { policy: record.policy, version: record.version, specHash: record.specHash } : undefined,
    });
  }

  /** Hello has no enforcement field: a node enforcing only a node section says so in the hook detail. */
  private nodeLevelNote(): string {
    if (this.reconciler.enforcement() !== 'node-level-only') return '';
    const record = this.reconciler.applied();
    return `enforcement node-level-only${record ? ` (policy "${record.policy}" v${record.version}: its node section only, no per-cgroup decisions)` : ''}`;
  }

  private onConnected(): void {
    this.lease.connected(this.now());
    // The Hello said what is applied; the observation adds enforcement, program ids and the map hash.
    this.sendObserved(true);
  }

  private onAssignment(a: Assignment): void {
    this.log.info('assignment', { policy: a.policy, version: a.version, nonce: a.nonce, rollout: a.rolloutId || undefined });
    this.reconciler.submit({ kind: 'policy', source: 'controller', policy: a.policy, version: a.version, specHash: a.specHash, spec: a.spec, nonce: a.nonce });
  }

  private onRevoke(r: Revoke): void {
    this.log.info('revoke', { policy: r.policy, nonce: r.nonce, reason: r.reason || undefined });
    this.reconciler.submit({ kind: 'none', nonce: r.nonce, policy: r.policy });
  }

  private onConfig(c: Config): void {
    if (c.metricsIntervalMs > 0 && c.metricsIntervalMs !== this.metricsMs) {
      this.metricsMs = c.metricsIntervalMs;
      this.scheduleMetrics();
    }
    if (c.heartbeatIntervalMs > 0) this.connection.setHeartbeatInterval(c.heartbeatIntervalMs);
    if (c.leaseTtlMs > 0 && this.options.baseline) {
      this.lease.setTtl(c.leaseTtlMs);
      this.scheduleLease();
    }
    this.log.debug('config from controller', { metricsIntervalMs: c.metricsIntervalMs, heartbeatIntervalMs: c.heartbeatIntervalMs, leaseTtlMs: c.leaseTtlMs });
  }

  private onOutcome(outcome: Outcome): void {
    const d: Desired = outcome.desired;
    if (outcome.kind === 'applied') {
      this.log.info(d.kind === 'policy' ? 'applied' : 'removed', { policy: d.policy, version: d.kind === 'policy' ? d.version : undefined, source: d.kind === 'policy' ? d.source : undefined, steps: outcome.actions.join(',') });
      if (d.kind === 'policy' && d.source === 'controller') this.lease.renewed();
      if (d.nonce !== '') {
        const r = outcome.record;
        this.connection.send(ackMessage(d.nonce, r && d.kind === 'policy' ? { policy: r.policy, version: r.version, specHash: r.specHash } : { policy: d.policy, version: 0, specHash: '' }));
      }
    } else {
      this.log.warn('rejected', { policy: d.policy, stage: outcome.stage, message: outcome.message });
      if (d.nonce !== '') this.connection.send(nackMessage(d.nonce, d.policy, d.kind === 'policy' ? d.version : 0, outcome.stage, outcome.message, outcome.detail));
    }
    void this.refreshSysfs().then(() => this.sendObserved(true));
  }

  // ---- observation ---------------------------------------------------------------------

  /** What the node enforces, as ObservedState says it. */
  observation(): ObservedInput {
    const record = this.reconciler.applied();
    const o = this.options.backend.observe();
    const expired = this.lease.expiredSince();
    const level = this.reconciler.enforcement();
    const sysfs: Omit<ThpSysfs, '$typeName'> | undefined = this.sysfs ? toThpSysfsFields(this.sysfs) : undefined;
    return {
      applied: record ? { policy: record.policy, version: record.version, specHash: record.specHash } : undefined,
      programIds: o.programIds,
      mapContentHash: o.mapContentHash,
      sysfs,
      // The level stays the first word; the lease note follows (docs/agent.md, "Fail-safe lease").
      enforcement: expired !== undefined && record?.source === 'lease-baseline' ? `${level}; fail-safe baseline since ${new Date(expired).toISOString()}` : level,
    };
  }

  /** Send ObservedState when it changed (or always, with `force`). */
  private sendObserved(force: boolean): void {
    if (this.closed) return;
    const o = this.observation();
    const key = JSON.stringify(o);
    if (!force && key === this.lastObservedKey) return;
    if (this.connection.send(observedMessage(o))) this.lastObservedKey = key;
  }

  private async refreshSysfs(): Promise<void> {
    const sysfs = this.options.backend.sysfs;
    if (!sysfs) return;
    try {
      this.sysfs = await sysfs.readSnapshot();
      this.sysfsError = undefined;
    } catch (error) {
      this.sysfsError = (error as Error).message;
      return;
    }
    // ObservedState carries the live values, so the controller sees drift; the log says it once per change.
    try {
      const drift = await this.reconciler.drift();
      const key = JSON.stringify(drift);
      if (key !== this.lastDriftKey && drift.length > 0) this.log.warn('THP sysfs drifted from what the node-mode policy set', { drift: drift.map((d) => `${d.path}=${d.actual ?? '(missing)'} (policy: ${d.expected})`).join(', ') });
      this.lastDriftKey = key;
    } catch (error) {
      this.log.debug('node-mode drift check failed', { error: (error as Error).message });
    }
  }

  // ---- timers ----------------------------------------------------------------------------

  private scheduleMetrics(): void {
    if (this.metricsTimer) clearInterval(this.metricsTimer);
    this.metricsTimer = setInterval(() => void this.reportMetrics(), this.metricsMs);
  }

  private async reportMetrics(): Promise<void> {
    if (this.closed) return;
    await this.refreshSysfs();
    this.sendObserved(false);
    if (!this.connection.isConnected()) return; // the next report covers the whole gap
    const now = this.options.backend.sample();
    const before = this.lastSample ?? now;
    if (this.connection.send(metricsMessage(metricsInterval(before, now)))) this.lastSample = now;
  }

  private scheduleLease(): void {
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    if (this.closed || !this.options.baseline) return;
    const remaining = this.lease.remaining(this.now());
    // Held (connected) or off: check again in a while; the lease clock only runs while disconnected.
    const wait = remaining === undefined ? 1000 : Math.max(remaining, 10);
    this.leaseTimer = setTimeout(() => {
      if (this.lease.check(this.now())) this.leaseExpired();
      this.scheduleLease();
    }, Math.min(wait, 1000));
    this.leaseTimer.unref();
  }

  private leaseExpired(): void {
    const baseline = this.options.baseline!;
    this.log.warn('fail-safe lease ran out: applying the baseline policy', { policy: baseline.policy, ttlMs: this.lease.ttl() });
    this.reconciler.submit({ kind: 'policy', source: 'lease-baseline', policy: baseline.policy, version: 0, specHash: baseline.specHash, spec: baseline.spec, nonce: '' });
  }
}
