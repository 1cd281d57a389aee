/**
 * The fleet as the API shows it: each node with its desired, intended (sent), acknowledged and
 * observed policy, derived state, drift, staleness, capabilities and last NACK.
 */
import { Inject, Injectable } from '@nestjs/common';
import { AppError } from '../common/errors.js';
import { STORE } from '../common/tokens.js';
import type { Store } from '../store/database.js';
import { PolicyCatalog, versionKey } from '../policy/policy-catalog.js';
import { MetricSampleRepository, type MetricSample } from '../metrics/metric-sample.repository.js';
import { NodeRepository, type NodeFilter, type NodeRecord, type QuarantineRecord, type StatusRecord } from './node.repository.js';
import { deriveNodeState, type NodeState, type PolicyRef } from './node-state.js';

export interface StatusView {
  readonly policy: string | null;
  readonly version: number | null;
  readonly specHash: string | null;
  readonly nonce?: string | null;
  readonly at: string;
}

export interface NodeView {
  readonly id: string;
  readonly labels: Record<string, string>;
  readonly kernelRelease: string;
  readonly agentVersion: string;
  readonly capabilities: Record<string, unknown>;
  readonly state: NodeState;
  readonly drift: readonly string[];
  readonly incompatibility: string | null;
  readonly connected: boolean;
  readonly connectedReplica: string | null;
  readonly connectedAt: string | null;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly stale: boolean;
  readonly staleSince: string | null;
  /** What the operator or a rollout wants (assignments). */
  readonly desired: { readonly policy: string | null; readonly version: number | null; readonly specHash: string | null; readonly rolloutId: string | null; readonly revision: number; readonly updatedAt: string; readonly updatedBy: string } | null;
  /** What the controller last sent the node. */
  readonly intent: StatusView | null;
  /** What the node acknowledged. */
  readonly acked: StatusView | null;
  /** What the node reports it runs. */
  readonly observed: (StatusView & { readonly enforcement: string | null; readonly mapContentHash: string | null; readonly sysfs: unknown; readonly programIds: unknown }) | null;
  /** Whether the desired version is quarantined on this node (it NACKed it). */
  readonly quarantined: boolean;
  readonly lastNack: { readonly policy: string; readonly version: number; readonly stage: string; readonly message: string; readonly detail: string; readonly at: string } | null;
}

function ref(record: { policy: string | null; version: number | null; specHash: string | null } | null): PolicyRef | null {
  if (!record || record.policy === null || record.version === null) return null;
  return { policy: record.policy, version: record.version, specHash: record.specHash };
}

function statusView(record: StatusRecord | null, withNonce: boolean): StatusView | null {
  if (!record) return null;
  return { policy: record.policy, version: record.version, specHash: record.specHash, ...(withNonce ? { nonce: record.nonce } : {}), at: record.updatedAt.toISOString() };
}

function nackView(nack: QuarantineRecord | null): NodeView['lastNack'] {
  return nack ? { policy: nack.policy, version: nack.version, stage: nack.stage, message: nack.message, detail: nack.detail, at: nack.nackedAt.toISOString() } : null;
}

export interface NodeListQuery extends NodeFilter {
  readonly states?: readonly NodeState[];
  /** Paging: only nodes with id > after. */
  readonly after?: string;
  readonly limit: number;
}

@Injectable()
export class NodeService {
  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(NodeRepository) private readonly repository: NodeRepository,
    @Inject(PolicyCatalog) private readonly catalog: PolicyCatalog,
    @Inject(MetricSampleRepository) private readonly samples: MetricSampleRepository,
  ) {}

  async list(query: NodeListQuery): Promise<{ nodes: NodeView[]; next: string | null; total: number }> {
    const records = await this.repository.list(this.store.db, query);
    const views = await this.views(records);
    // Page in code-unit order (the database's collation may order ids differently).
    const filtered = views.filter((view) => (query.states && query.states.length > 0 ? query.states.includes(view.state) : true)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const start = query.after === undefined ? 0 : filtered.findIndex((view) => view.id > (query.after ?? ''));
    const page = start < 0 ? [] : filtered.slice(start, start + query.limit);
    const last = page[page.length - 1];
    const next = last && start + query.limit < filtered.length ? last.id : null;
    return { nodes: page, next, total: filtered.length };
  }

  async get(id: string): Promise<NodeView> {
    const record = await this.repository.get(this.store.db, id);
    if (!record) throw new AppError('not_found', `node ${id} not found`);
    const [view] = await this.views([record]);
    if (!view) throw new AppError('not_found', `node ${id} not found`);
    return view;
  }

  /** Fleet counts by state (for the dashboard's overview). */
  async summary(): Promise<Record<NodeState, number>> {
    const views = await this.views(await this.repository.list(this.store.db, {}));
    const out: Record<NodeState, number> = { 'in-sync': 0, drifted: 0, pending: 0, nacked: 0, stale: 0, incompatible: 0, unassigned: 0 };
    for (const view of views) out[view.state] += 1;
    return out;
  }

  async quarantine(id: string): Promise<QuarantineRecord[]> {
    await this.get(id);
    return this.repository.quarantineOf(this.store.db, id);
  }

  async metrics(id: string, query: { name?: string; cgroup?: string; since: Date; limit: number }): Promise<{ samples: MetricSample[]; names: string[] }> {
    const exists = await this.repository.exists(this.store.db, [id]);
    if (!exists.has(id)) throw new AppError('not_found', `node ${id} not found`);
    const [samples, names] = await Promise.all([this.samples.query(this.store.db, { nodeId: id, ...query }), this.samples.names(this.store.db, id, query.since)]);
    return { samples, names };
  }

  private async views(records: readonly NodeRecord[]): Promise<NodeView[]> {
    const keys: { policy: string; version: number }[] = [];
    for (const record of records) {
      for (const candidate of [record.desired, record.acked]) {
        if (candidate && candidate.policy !== null && candidate.version !== null) keys.push({ policy: candidate.policy, version: candidate.version });
      }
    }
    const catalog = await this.catalog.getMany(keys);
    const parsed = (r: PolicyRef | null) => (r ? catalog.get(versionKey(r.policy, r.version))?.parsed : undefined);
    return records.map((record) => {
      const desired = ref(record.desired);
      const acked = ref(record.acked);
      const observed = record.observed;
      // An observation older than the last ACK says nothing about what was acknowledged since.
      const current = observed && (!record.acked || observed.updatedAt >= record.acked.updatedAt) ? observed : null;
      const derived = deriveNodeState({
        stale: record.stale,
        desired,
        desiredQuarantined: record.desiredQuarantined,
        desiredPolicy: parsed(desired),
        acked,
        ackedPolicy: parsed(acked),
        observed: current ? { applied: ref(current), enforcement: current.enforcement ?? '', sysfs: (current.sysfs ?? null) as Record<string, unknown> | null } : null,
        capabilities: record.capabilities,
      });
      return {
        id: record.id,
        labels: record.labels,
        kernelRelease: record.kernelRelease,
        agentVersion: record.agentVersion,
        capabilities: record.capabilities,
        state: derived.state,
        drift: derived.drift,
        incompatibility: derived.incompatibility,
        connected: record.connectedReplica !== null,
        connectedReplica: record.connectedReplica,
        connectedAt: record.connectedAt?.toISOString() ?? null,
        firstSeen: record.firstSeen.toISOString(),
        lastSeen: record.lastSeen.toISOString(),
        stale: record.stale,
        staleSince: record.staleSince?.toISOString() ?? null,
        desired: record.desired
          ? {
              policy: record.desired.policy,
              version: record.desired.version,
              specHash: record.desired.specHash,
              rolloutId: record.desired.rolloutId,
              revision: record.desired.revision,
              updatedAt: record.desired.updatedAt.toISOString(),
              updatedBy: record.desired.updatedBy,
            }
          : null,
        intent: statusView(record.intent, true),
        acked: statusView(record.acked, true),
        observed: observed
          ? { ...(statusView(observed, false) as StatusView), enforcement: observed.enforcement, mapContentHash: observed.mapContentHash, sysfs: observed.sysfs, programIds: observed.programIds }
          : null,
        quarantined: record.desiredQuarantined,
        lastNack: nackView(record.lastNack),
      };
    });
  }
}
