/**
 * The shapes of the controller's REST responses, as the dashboard reads them. The controller's
 * DTO views (apps/controller/src/ * /*.dto.ts and node.service.ts) are the truth; apps never
 * import apps, so the fields used here are restated. Fields the dashboard does not read are
 * left out or typed `unknown`.
 */

import type { MetricVerdict } from '@thp-fleet/judge';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface WhoAmI {
  readonly tokenId: string;
  readonly name: string;
  readonly role: Role;
  readonly actor: string;
}

/** Node states in the controller's precedence order (node-state.ts). */
export const NODE_STATES = ['stale', 'nacked', 'incompatible', 'pending', 'drifted', 'in-sync', 'unassigned'] as const;
export type NodeState = (typeof NODE_STATES)[number];

export interface PolicyRefView {
  readonly policy: string | null;
  readonly version: number | null;
  readonly specHash: string | null;
}

export interface StatusView extends PolicyRefView {
  readonly nonce?: string | null;
  readonly at: string;
}

export interface ThpSysfsView {
  readonly enabled?: string;
  readonly defrag?: string;
  readonly shmemEnabled?: string;
  readonly perSizeEnabled?: Readonly<Record<string, string>>;
  readonly khugepagedMaxPtesNone?: number;
  readonly khugepagedPagesToScan?: number;
  readonly khugepagedScanSleepMillisecs?: number;
  readonly khugepagedAllocSleepMillisecs?: number;
  readonly shrinkUnderused?: boolean;
}

/** Capabilities as proto JSON (defaults omitted). */
export interface CapabilitiesView {
  readonly backends?: readonly string[];
  readonly activeBackend?: string;
  readonly hookAbi?: string;
  readonly hookDetail?: string;
  readonly sysfs?: ThpSysfsView;
  readonly enabledMthpSizesKb?: readonly number[];
}

export interface DesiredView extends PolicyRefView {
  readonly rolloutId: string | null;
  readonly revision: number;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

export interface ObservedView extends StatusView {
  readonly enforcement: string | null;
  readonly mapContentHash: string | null;
  readonly sysfs: ThpSysfsView | null;
}

export interface NackView {
  readonly policy: string;
  readonly version: number;
  readonly stage: string;
  readonly message: string;
  readonly detail: string;
  readonly at: string;
}

export interface NodeView {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly kernelRelease: string;
  readonly agentVersion: string;
  readonly capabilities: CapabilitiesView;
  readonly state: NodeState;
  readonly drift: readonly string[];
  readonly incompatibility: string | null;
  readonly connected: boolean;
  readonly lastSeen: string;
  readonly stale: boolean;
  readonly staleSince: string | null;
  readonly desired: DesiredView | null;
  readonly intent: StatusView | null;
  readonly acked: StatusView | null;
  readonly observed: ObservedView | null;
  readonly quarantined: boolean;
  readonly lastNack: NackView | null;
}

export interface NodeList {
  readonly nodes: readonly NodeView[];
  readonly next: string | null;
  readonly total: number;
}

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricSampleView {
  readonly ts: string;
  readonly name: string;
  /** '' for node-wide. */
  readonly cgroup: string;
  readonly kind: MetricKind;
  readonly value: number;
}

export interface NodeMetrics {
  readonly nodeId: string;
  readonly since: string;
  readonly names: readonly string[];
  readonly samples: readonly MetricSampleView[];
}

export interface PolicySummary {
  readonly name: string;
  readonly description: string;
  readonly latestVersion: number;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
}

export interface PolicyVersionSummary {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly message: string;
  readonly author: string;
  readonly createdAt: string;
}

export interface PolicyVersionDetail extends PolicyVersionSummary {
  readonly sourceFormat: string;
  readonly source: string;
  readonly canonical: string;
  readonly spec: unknown;
}

export interface PolicyIssueView {
  readonly path: string;
  readonly message: string;
  readonly severity?: 'error' | 'warning';
  readonly line?: number;
  readonly column?: number;
}

export interface PolicyWrite {
  readonly policy: PolicySummary;
  readonly version: PolicyVersionSummary;
  /** Absent on create (always new). */
  readonly created?: boolean;
  readonly warnings: readonly PolicyIssueView[];
}

export interface DiffChange {
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

/** Rollout phases (rollout.machine.ts). */
export const ROLLOUT_PHASES = ['pending', 'progressing', 'baking', 'judging', 'paused', 'completed', 'failed', 'rolling_back', 'rolled_back', 'aborted'] as const;
export type RolloutPhase = (typeof ROLLOUT_PHASES)[number];
export const TERMINAL_PHASES: readonly RolloutPhase[] = ['completed', 'failed', 'rolled_back', 'aborted'];

export interface GateView {
  readonly name: string;
  readonly direction: 'increase-is-bad' | 'decrease-is-bad';
  readonly tolerance: number;
  readonly critical: boolean;
  readonly test?: string;
  readonly alpha?: number;
  readonly minSamples?: number;
}

/** A plan step as the API returns it (planToJson): `bake` in ms, the step's resolved gates. */
export interface PlanStepView {
  readonly name: string;
  readonly select: { readonly count?: number; readonly percent?: number; readonly labels?: unknown };
  readonly bake: number;
  readonly gates: readonly GateView[];
}

export interface PlanView {
  readonly steps?: readonly PlanStepView[];
  readonly target?: unknown;
  readonly strata?: { readonly labelKeys?: readonly string[]; readonly mode?: string };
  readonly judging?: { readonly interval?: number; readonly timeout?: number; readonly onInconclusive?: string; readonly normalize?: string; readonly lookback?: number };
  readonly autoRollback?: boolean;
  readonly skipGates?: { readonly reason: string };
}

export interface RolloutView {
  readonly id: string;
  readonly policy: string;
  readonly kind: 'rollout' | 'rollback';
  readonly fromVersion: number | null;
  readonly toVersion: number;
  readonly phase: RolloutPhase;
  readonly step: number;
  readonly revision: number;
  readonly reason: string | null;
  readonly pausedFrom: string | null;
  readonly bakeUntil: string | null;
  readonly judging: { readonly attempt: number; readonly awaiting: boolean; readonly deadline: string } | null;
  readonly touched: readonly string[];
  readonly nacked: readonly string[];
  readonly gateSkipReason: string | null;
  readonly plan: PlanView;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

export interface ExclusionView {
  readonly node: string;
  readonly reasons: readonly { readonly code: string; readonly message: string }[];
}

export interface StrataReportView {
  readonly labelKeys: readonly string[];
  readonly mode: string;
  readonly present: readonly string[];
  readonly covered: readonly string[];
  readonly uncovered: readonly { readonly stratum: string; readonly why: string }[];
  readonly addedForCoverage: number;
}

export interface BaselineView {
  readonly nodes: readonly string[];
  readonly matches?: readonly { readonly canary: string; readonly baseline: readonly string[]; readonly sharedKeys: number }[];
  readonly unmatched?: readonly string[];
}

export interface StepView {
  readonly index: number;
  /** `{name, labels, amount: {kind, count | percent}}` as stored (read it with selectText). */
  readonly selector: { readonly name?: string; readonly [key: string]: unknown } | null;
  readonly bakeMs: number;
  readonly gates: readonly GateView[] | null;
  /** pending, progressing, baking, judging, paused, passed, failed, rolling_back, rolled_back, aborted */
  readonly state: string;
  readonly cohort: readonly string[];
  readonly excluded: readonly ExclusionView[] | null;
  readonly strata: StrataReportView | null;
  readonly baseline: BaselineView | null;
  readonly startedAt: string | null;
  readonly bakeUntil: string | null;
  readonly completedAt: string | null;
}

export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'no-data';

/** `judgments.details` as the controller stores it (rollout.judgment.ts). */
export interface JudgmentDetails {
  readonly judge: MetricVerdict | null;
  readonly normalization: string;
  readonly fallback: string | null;
  readonly series: { readonly canary: number; readonly baseline: number } | null;
  readonly canaryNodes: readonly string[];
  readonly baselineNodes: readonly string[];
  readonly window: { readonly from: string; readonly to: string } | null;
  readonly preWindow: { readonly from: string; readonly to: string } | null;
}

export interface JudgmentView {
  readonly id: number;
  readonly step: number;
  readonly attempt: number;
  readonly metric: string;
  readonly method: string;
  readonly verdict: Verdict;
  readonly statistic: number | null;
  readonly effect: number | null;
  readonly interval: { readonly low: number | null; readonly high: number | null };
  readonly threshold: number | null;
  readonly nCanary: number;
  readonly nBaseline: number;
  /** The judge's evidence (judge: MetricVerdict with `explanation`), nodes and windows; read it with readJudgmentDetails. */
  readonly details: unknown;
  readonly judgedAt: string;
}

export interface RolloutEventView {
  readonly id: number;
  readonly at: string;
  readonly from: string | null;
  readonly to: string;
  readonly step: number | null;
  readonly actor: string;
  readonly message: string;
  readonly data: unknown;
}

export interface RolloutNodeView {
  readonly nodeId: string;
  readonly step: number;
  readonly previous: unknown;
  readonly assignedAt: string;
}

export interface RolloutDetail {
  readonly rollout: RolloutView;
  readonly steps: readonly StepView[];
  readonly nodes: readonly RolloutNodeView[];
  readonly judgments: readonly JudgmentView[];
  readonly events: readonly RolloutEventView[];
}

export interface AuditEntry {
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly targetType: string;
  readonly targetId: string;
  readonly before: unknown;
  readonly after: unknown;
  readonly prevHash: string;
  readonly hash: string;
}

export interface AuditPage {
  readonly entries: readonly AuditEntry[];
  readonly next: number | null;
}

export interface AuditVerification {
  readonly ok: boolean;
  readonly checked: number;
  readonly headSeq: number | null;
  readonly headHash: string | null;
  readonly firstBroken?: { readonly seq: number; readonly reason: string; readonly expected?: string; readonly actual?: string } | null;
}

/** The body of every API error (common/http.ts). */
export interface ApiErrorBody {
  readonly error: {
    readonly code: string;
    readonly message: string;
    readonly details?: readonly { readonly path: string; readonly message: string; readonly line?: number; readonly column?: number }[];
  };
}

export interface QuarantineEntry {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly stage: string;
  readonly message: string;
  readonly detail: string;
  readonly at: string;
}

/** One server-sent event's `data` (events.service.ts ReceivedEvent). */
export interface FleetEvent {
  readonly type: 'node' | 'policy' | 'assignment' | 'audit' | 'rollout';
  readonly data: Readonly<Record<string, unknown>>;
  readonly origin: string;
  readonly at: string;
}
