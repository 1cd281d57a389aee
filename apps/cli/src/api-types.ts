/**
 * The shapes of the controller's answers that thpctl reads (docs/controller.md,
 * docs/rollouts.md, /api/docs). Only the fields the CLI shows; `--output json` prints the
 * server's whole answer.
 */

export interface Issue {
  readonly path: string;
  readonly message: string;
  readonly severity?: 'error' | 'warning';
  readonly line?: number;
  readonly column?: number;
}

export interface Policy {
  readonly name: string;
  readonly description: string;
  readonly latestVersion: number;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
}

export interface PolicyVersion {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly message: string;
  readonly author: string;
  readonly createdAt: string;
}

export interface PolicyVersionDetail extends PolicyVersion {
  readonly sourceFormat: 'yaml' | 'json';
  readonly source: string;
  readonly canonical: string;
  readonly spec: unknown;
}

export interface ValidationResult {
  readonly ok: boolean;
  readonly errors: readonly Issue[];
  readonly warnings: readonly Issue[];
  readonly name?: string;
  readonly specHash?: string;
}

export interface VersionWritten {
  readonly policy: Policy;
  readonly version: PolicyVersion;
  readonly created?: boolean;
  readonly warnings: readonly Issue[];
}

export interface DiffChange {
  readonly path: string;
  readonly kind: 'added' | 'removed' | 'changed';
  readonly before?: unknown;
  readonly after?: unknown;
}

export interface PolicyRefView {
  readonly policy: string | null;
  readonly version: number | null;
  readonly specHash?: string | null;
  readonly at?: string;
}

export interface NodeView {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly state: string;
  readonly drift: readonly string[];
  readonly incompatibility: string | null;
  readonly connected: boolean;
  readonly stale: boolean;
  readonly lastSeen: string;
  readonly desired: (PolicyRefView & { readonly rolloutId: string | null; readonly revision: number }) | null;
  readonly acked: PolicyRefView | null;
  readonly observed: (PolicyRefView & { readonly enforcement: string | null }) | null;
  readonly quarantined: boolean;
  readonly lastNack: { readonly policy: string; readonly version: number; readonly stage: string; readonly message: string } | null;
}

export interface NodeList {
  readonly nodes: readonly NodeView[];
  readonly next: string | null;
  readonly total: number;
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
  readonly hash: string;
}

export interface AuditVerify {
  readonly ok: boolean;
  readonly checked: number;
  readonly headSeq: number | null;
  readonly headHash: string | null;
  readonly firstBroken?: { readonly seq: number; readonly reason: string; readonly expected?: string; readonly actual?: string } | null;
}

export interface Whoami {
  readonly tokenId: string;
  readonly name: string;
  readonly role: string;
  readonly actor: string;
}

export interface Rollout {
  readonly id: string;
  readonly policy: string;
  readonly kind: 'rollout' | 'rollback';
  readonly fromVersion: number | null;
  readonly toVersion: number;
  readonly phase: string;
  readonly step: number;
  readonly revision: number;
  readonly reason: string | null;
  readonly pausedFrom: string | null;
  readonly bakeUntil: string | null;
  readonly judging: { readonly attempt: number; readonly awaiting: boolean; readonly deadline: string } | null;
  readonly touched: readonly string[];
  readonly nacked: readonly string[];
  readonly gateSkipReason: string | null;
  readonly plan: unknown;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

export interface RolloutStep {
  readonly index: number;
  readonly selector: unknown;
  readonly bakeMs: number;
  readonly gates: unknown;
  readonly state: string;
  readonly cohort: readonly string[];
  readonly excluded: unknown;
  readonly startedAt: string | null;
  readonly bakeUntil: string | null;
  readonly completedAt: string | null;
}

export interface Judgment {
  readonly step: number;
  readonly attempt: number;
  readonly metric: string;
  readonly method: string;
  readonly verdict: string;
  readonly statistic: number | null;
  readonly effect: number | null;
  readonly interval: { readonly low: number | null; readonly high: number | null };
  readonly threshold: number | null;
  readonly nCanary: number | null;
  readonly nBaseline: number | null;
  readonly judgedAt: string;
}

export interface RolloutEvent {
  readonly id: number;
  readonly at: string;
  readonly from: string | null;
  readonly to: string;
  readonly step: number | null;
  readonly actor: string;
  readonly message: string;
  readonly data: unknown;
}

export interface RolloutDetail {
  readonly rollout: Rollout;
  readonly steps: readonly RolloutStep[];
  readonly nodes: readonly { readonly nodeId: string; readonly step: number }[];
  readonly judgments: readonly Judgment[];
  readonly events: readonly RolloutEvent[];
}
