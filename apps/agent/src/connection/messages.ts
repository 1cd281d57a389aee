/**
 * Domain values -> thp.v1 wire messages. Pure builders; the connection only sends what these
 * return, so the mapping (stage names, metric kinds, timestamps) is tested without a stream.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import {
  AgentMessageSchema,
  Backend as WireBackend,
  HookAbi as WireHookAbi,
  MetricKind,
  NackStage,
  type AgentMessage,
  type AppliedPolicy,
  type Hello,
  HelloSchema,
  type ThpSysfs,
} from '@thp-fleet/proto';
import type { MetricPoint, MetricsInterval } from '../metrics/metrics-sample.js';

export type BackendKind = 'bpf' | 'sim';
export type HookStatus = 'v7' | 'v8' | 'v12' | 'absent';
export type NackStageName = 'validate' | 'compile' | 'verify' | 'attach' | 'other';

export interface AppliedSummary {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
}

export interface CapabilityReport {
  readonly backends: readonly BackendKind[];
  readonly active: BackendKind;
  readonly hook: HookStatus;
  readonly hookDetail: string;
  /** Proto ThpSysfs fields, or undefined when the sysfs could not be read. */
  readonly sysfs: Omit<ThpSysfs, '$typeName'> | undefined;
  readonly enabledMthpSizesKb: readonly number[];
}

export interface HelloInput {
  readonly nodeId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly kernelRelease: string;
  readonly agentVersion: string;
  readonly capabilities: CapabilityReport;
  readonly applied: AppliedSummary | undefined;
}

export function wireBackend(kind: BackendKind): WireBackend {
  switch (kind) {
    case 'bpf':
      return WireBackend.BPF;
    case 'sim':
      return WireBackend.SIM;
  }
}

export function wireHookAbi(hook: HookStatus): WireHookAbi {
  switch (hook) {
    case 'v7':
      return WireHookAbi.V7;
    case 'v8':
      return WireHookAbi.V8;
    case 'v12':
      return WireHookAbi.V12;
    case 'absent':
      return WireHookAbi.ABSENT;
  }
}

export function wireNackStage(stage: NackStageName): NackStage {
  switch (stage) {
    case 'validate':
      return NackStage.VALIDATE;
    case 'compile':
      return NackStage.COMPILE;
    case 'verify':
      return NackStage.VERIFY;
    case 'attach':
      return NackStage.ATTACH;
    case 'other':
      return NackStage.OTHER;
  }
}

function applied(summary: AppliedSummary | undefined): { applied: Omit<AppliedPolicy, '$typeName'> } | Record<string, never> {
  return summary ? { applied: { policy: summary.policy, version: summary.version, specHash: summary.specHash } } : {};
}

export function helloMessage(input: HelloInput): Hello {
  const c = input.capabilities;
  return create(HelloSchema, {
    nodeId: input.nodeId,
    labels: { ...input.labels },
    kernelRelease: input.kernelRelease,
    agentVersion: input.agentVersion,
    capabilities: {
      backends: c.backends.map(wireBackend),
      activeBackend: wireBackend(c.active),
      hookAbi: wireHookAbi(c.hook),
      hookDetail: c.hookDetail,
      ...(c.sysfs ? { sysfs: c.sysfs } : {}),
      enabledMthpSizesKb: [...c.enabledMthpSizesKb],
    },
    ...applied(input.applied),
  });
}

export function ackMessage(nonce: string, summary: AppliedSummary): AgentMessage {
  return create(AgentMessageSchema, { kind: { case: 'ack', value: { nonce, policy: summary.policy, version: summary.version, specHash: summary.specHash } } });
}

export function nackMessage(nonce: string, policy: string, version: number, stage: NackStageName, message: string, detail: string): AgentMessage {
  return create(AgentMessageSchema, {
    kind: { case: 'nack', value: { nonce, policy, version, error: { stage: wireNackStage(stage), message, detail } } },
  });
}

export interface ObservedInput {
  readonly applied: AppliedSummary | undefined;
  readonly programIds: readonly number[];
  readonly mapContentHash: string;
  readonly sysfs: Omit<ThpSysfs, '$typeName'> | undefined;
  readonly enforcement: string;
}

export function observedMessage(input: ObservedInput): AgentMessage {
  return create(AgentMessageSchema, {
    kind: {
      case: 'observed',
      value: {
        ...applied(input.applied),
        programIds: [...input.programIds],
        mapContentHash: input.mapContentHash,
        ...(input.sysfs ? { sysfs: input.sysfs } : {}),
        enforcement: input.enforcement,
      },
    },
  });
}

function wireMetric(p: MetricPoint): { name: string; kind: MetricKind; value: number } {
  return { name: p.name, kind: p.kind === 'counter' ? MetricKind.COUNTER : MetricKind.GAUGE, value: p.value };
}

export function metricsMessage(interval: MetricsInterval): AgentMessage {
  return create(AgentMessageSchema, {
    kind: {
      case: 'metrics',
      value: {
        start: timestampFromMs(interval.start),
        end: timestampFromMs(interval.end),
        node: interval.node.map(wireMetric),
        cgroups: interval.cgroups.map((c) => ({ path: c.path, cgroupId: BigInt(c.id), metrics: c.metrics.map(wireMetric) })),
        histograms: interval.histograms.map((h) => ({
          name: h.name,
          cgroupPath: h.cgroupPath,
          upperBounds: [...h.upperBounds],
          counts: h.counts.map((n) => BigInt(Math.max(0, Math.round(n)))),
          count: BigInt(Math.max(0, Math.round(h.count))),
          sum: h.sum,
        })),
      },
    },
  });
}
