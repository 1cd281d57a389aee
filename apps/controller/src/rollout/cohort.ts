/**
 * Cohort choice: which nodes a rollout step moves, which are excluded and why, which nodes are
 * the baseline the canary is judged against, and how many may change at once (the blast-radius
 * budget). Pure functions over plain data; the only dependency is sha256 for the ranking.
 *
 * The order of nodes in a rollout is sha256(rolloutId "\n" nodeId): deterministic, stable across
 * controller restarts and replicas, different for every rollout (so the same nodes are not
 * always the canaries), and independent of the order the database returns rows in.
 */
import { createHash } from 'node:crypto';
import { matchesSelector, type Labels } from './label-selector.js';
import { formatPolicyRef, samePolicyRef, type PolicyRef } from './policy-ref.js';
import { selectsWholeTarget, type RolloutPlan, type StrataSettings } from './rollout.plan.js';

// ---------------------------------------------------------------------------------------------
// Nodes.
// ---------------------------------------------------------------------------------------------

export interface FleetNode {
  readonly id: string;
  readonly labels: Labels;
  /** No heartbeat or report within the stale window. */
  readonly stale: boolean;
  /**
   * Why the node cannot run the rollout's policy (node-state.ts `incompatibility`: no
   * bpf_thp_ops hook, no sim backend, and the policy does not allow node-level-only
   * enforcement); null when it can.
   */
  readonly incompatibility: string | null;
  /** What the node last acknowledged (null = nothing). */
  readonly acked: PolicyRef | null;
  /** What the node should run (null = nothing). */
  readonly desired: PolicyRef | null;
}

// ---------------------------------------------------------------------------------------------
// Ranking.
// ---------------------------------------------------------------------------------------------

/** The node's position in this rollout's order: lowercase sha256 hex, compared as strings. */
export function cohortRank(rolloutId: string, nodeId: string): string {
  return createHash('sha256').update(rolloutId).update('\n').update(nodeId).digest('hex');
}

/** Node ids in rollout order (rank, then id for the impossible tie). */
export function rankNodes(rolloutId: string, nodeIds: readonly string[]): string[] {
  const ranked = nodeIds.map((id) => ({ id, rank: cohortRank(rolloutId, id) }));
  ranked.sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ranked.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------
// Strata.
// ---------------------------------------------------------------------------------------------

/** Shown for a missing label in `combination` strata. */
export const UNSET_LABEL = '(unset)';

/**
 * The strata a node belongs to. `each-value`: one per stratum key the node has (`key=value`);
 * a node without a key belongs to no stratum of that key. `combination`: exactly one, the tuple
 * of all keys' values.
 */
export function strataOf(settings: StrataSettings, labels: Labels): string[] {
  if (settings.labelKeys.length === 0) return [];
  if (settings.mode === 'combination') {
    return [settings.labelKeys.map((k) => `${k}=${Object.hasOwn(labels, k) ? labels[k] : UNSET_LABEL}`).join(',')];
  }
  const out: string[] = [];
  for (const key of settings.labelKeys) {
    if (Object.hasOwn(labels, key)) out.push(`${key}=${labels[key]}`);
  }
  return out;
}

export interface UncoveredStratum {
  readonly stratum: string;
  readonly why: string;
}

export interface StrataReport {
  readonly labelKeys: readonly string[];
  readonly mode: StrataSettings['mode'];
  /** Every stratum present in the targeted fleet, sorted. */
  readonly present: readonly string[];
  /** Those the first step (with the nodes already on the version) covers. */
  readonly covered: readonly string[];
  readonly uncovered: readonly UncoveredStratum[];
  /** Nodes added beyond the step's count or percent to cover strata. */
  readonly addedForCoverage: number;
}

// ---------------------------------------------------------------------------------------------
// Exclusions.
// ---------------------------------------------------------------------------------------------

export const EXCLUSION_CODES = ['stale', 'incapable', 'nacked'] as const;
export type ExclusionCode = (typeof EXCLUSION_CODES)[number];

export interface ExclusionReason {
  readonly code: ExclusionCode;
  readonly message: string;
}

export interface Exclusion {
  readonly node: string;
  readonly reasons: readonly ExclusionReason[];
}

/** Why a targeted node cannot be given the target version now (empty = eligible). */
export function exclusionReasons(node: FleetNode, nackedTarget: ReadonlySet<string>, target: PolicyRef): ExclusionReason[] {
  const reasons: ExclusionReason[] = [];
  if (node.stale) reasons.push({ code: 'stale', message: 'no heartbeat or report within the stale window' });
  if (node.incompatibility !== null) reasons.push({ code: 'incapable', message: node.incompatibility });
  if (nackedTarget.has(node.id)) reasons.push({ code: 'nacked', message: `rejected ${formatPolicyRef(target)} before; it is not sent again` });
  return reasons;
}

// ---------------------------------------------------------------------------------------------
// Cohort choice.
// ---------------------------------------------------------------------------------------------

export interface CohortInput {
  readonly rolloutId: string;
  readonly plan: RolloutPlan;
  readonly step: number;
  readonly fleet: readonly FleetNode[];
  readonly target: PolicyRef;
  /** Nodes this rollout already assigned the target version (earlier steps). */
  readonly touched: readonly string[];
  /** Nodes that rejected the target version (in this rollout or an earlier one). */
  readonly nacked: readonly string[];
}

export interface CohortChoice {
  readonly step: number;
  /** The nodes this step adds, in rollout order (first the strata cover, then by rank). */
  readonly nodes: readonly string[];
  /** Nodes in the targeted fleet. */
  readonly targeted: number;
  /** Targeted nodes that may be given the version (not excluded). */
  readonly eligible: number;
  /** Targeted nodes on the new version after this step (touched, already there, and new). */
  readonly total: number;
  /** Targeted nodes the step wanted (count or percent of the matching nodes). */
  readonly wanted: number;
  /** Targeted nodes that were already on the target version before the rollout touched them. */
  readonly alreadyOnTarget: readonly string[];
  /** Targeted, not yet on the version, and excluded: with every reason. */
  readonly excluded: readonly Exclusion[];
  /** The first step's strata coverage; null for later steps. */
  readonly strata: StrataReport | null;
}

/**
 * Choose the nodes step `step` adds. Selection is cumulative (rollout.plan.ts): the step wants
 * `count` (or `percent` of the matching targeted nodes, rounded up) matching nodes on the
 * version; nodes already there count, and the rest come from the eligible matching nodes in
 * rank order. The first step also covers every stratum present in the targeted fleet when an
 * eligible node allows it, even past its count, and reports the strata it cannot cover.
 */
export function chooseCohort(input: CohortInput): CohortChoice {
  const { plan, fleet, target } = input;
  const step = plan.steps[input.step];
  if (step === undefined) throw new RangeError(`step ${input.step} is not in the plan (0..${plan.steps.length - 1})`);
  const touched = new Set(input.touched);
  const nacked = new Set(input.nacked);
  const targeted = fleet.filter((n) => matchesSelector(plan.target, n.labels));
  const byId = new Map(targeted.map((n) => [n.id, n]));
  const order = rankNodes(input.rolloutId, targeted.map((n) => n.id));

  const isOnTarget = (n: FleetNode): boolean => samePolicyRef(n.acked, target) && samePolicyRef(n.desired, target);
  const alreadyOnTarget = order.filter((id) => !touched.has(id) && isOnTarget(byId.get(id)!));
  const covered = new Set([...touched, ...alreadyOnTarget].filter((id) => byId.has(id)));

  const excluded: Exclusion[] = [];
  const eligible: string[] = [];
  for (const id of order) {
    if (covered.has(id)) continue;
    const reasons = exclusionReasons(byId.get(id)!, nacked, target);
    if (reasons.length > 0) excluded.push({ node: id, reasons });
    else eligible.push(id);
  }

  const matches = (id: string): boolean => step.select.labels === null || matchesSelector(step.select.labels, byId.get(id)!.labels);
  const matching = order.filter(matches);
  const eligibleMatching = eligible.filter(matches);
  const amount = step.select.amount;
  const wanted = selectsWholeTarget(step.select) || amount.kind === 'all' ? matching.length : amount.kind === 'count' ? Math.min(amount.count, matching.length) : Math.ceil((amount.percent / 100) * matching.length - 1e-9);
  const coveredMatching = matching.filter((id) => covered.has(id)).length;
  let need = Math.max(0, wanted - coveredMatching);

  const chosen: string[] = [];
  const chosenSet = new Set<string>();
  let strata: StrataReport | null = null;

  if (input.step === 0 && plan.strata.labelKeys.length > 0) {
    const strataOfId = new Map(targeted.map((n) => [n.id, strataOf(plan.strata, n.labels)]));
    const excludedBy = new Map(excluded.map((e) => [e.node, e.reasons]));
    const present = [...new Set(targeted.flatMap((n) => strataOfId.get(n.id) ?? []))].sort();
    const have = new Set([...covered].flatMap((id) => strataOfId.get(id) ?? []));
    // Greedy set cover in rank order: the node covering the most uncovered strata, lowest rank first.
    for (;;) {
      let best: string | undefined;
      let bestGain = 0;
      for (const id of eligibleMatching) {
        if (chosenSet.has(id)) continue;
        const gain = (strataOfId.get(id) ?? []).filter((s) => !have.has(s)).length;
        if (gain > bestGain) {
          best = id;
          bestGain = gain;
        }
      }
      if (best === undefined) break;
      chosen.push(best);
      chosenSet.add(best);
      for (const s of strataOfId.get(best) ?? []) have.add(s);
    }
    const uncovered: UncoveredStratum[] = present
      .filter((s) => !have.has(s))
      .map((s) => {
        const members = targeted.filter((n) => strataOfId.get(n.id)?.includes(s));
        const outside = members.filter((n) => !matches(n.id)).length;
        // Counted in a fixed order, so the text does not depend on the order of the fleet.
        const parts = EXCLUSION_CODES.map((code) => [code, members.filter((n) => excludedBy.get(n.id)?.some((r) => r.code === code)).length] as const)
          .filter(([, count]) => count > 0)
          .map(([code, count]) => `${count} ${code}`);
        if (outside > 0) parts.push(`${outside} outside the step's label selector`);
        return { stratum: s, why: `no eligible node: ${members.length} node(s) in the stratum (${parts.join(', ')})` };
      });
    strata = {
      labelKeys: plan.strata.labelKeys,
      mode: plan.strata.mode,
      present,
      covered: present.filter((s) => have.has(s)),
      uncovered,
      addedForCoverage: Math.max(0, chosen.length - need),
    };
    need = Math.max(0, need - chosen.length);
  }

  for (const id of eligibleMatching) {
    if (need === 0) break;
    if (chosenSet.has(id)) continue;
    chosen.push(id);
    chosenSet.add(id);
    need--;
  }

  return {
    step: input.step,
    nodes: chosen,
    targeted: targeted.length,
    eligible: eligible.length,
    total: covered.size + chosen.length,
    wanted,
    alreadyOnTarget,
    excluded,
    strata,
  };
}

// ---------------------------------------------------------------------------------------------
// Baseline choice.
// ---------------------------------------------------------------------------------------------

export interface BaselineInput {
  readonly rolloutId: string;
  readonly plan: RolloutPlan;
  readonly fleet: readonly FleetNode[];
  /** The canary: nodes of this rollout now on the target version. */
  readonly canary: readonly string[];
  /** Every node this rollout touched (never part of the baseline). */
  readonly touched: readonly string[];
  /** What the canary nodes ran before (null = no policy). */
  readonly previous: PolicyRef | null;
}

export interface BaselineChoice {
  readonly nodes: readonly string[];
  /** Per canary node: the baseline nodes matched to it and how many stratum keys they share. */
  readonly matches: readonly { readonly canary: string; readonly baseline: readonly string[]; readonly sharedKeys: number }[];
  /** Canary nodes for which no baseline node exists at all. */
  readonly unmatched: readonly string[];
}

/**
 * The baseline: targeted nodes that are not stale, were not touched, and still run (desired and
 * acknowledged) the canary's previous version, matched stratum by stratum. For each canary node
 * the baseline takes the nodes whose stratum labels equal its own; when there are none, those
 * sharing the most stratum keys. So a canary of one JVM node and one key-value node is compared
 * with JVM and key-value nodes, not with whatever runs elsewhere.
 */
export function chooseBaseline(input: BaselineInput): BaselineChoice {
  const { plan, fleet } = input;
  const touched = new Set(input.touched);
  const targeted = fleet.filter((n) => matchesSelector(plan.target, n.labels));
  const byId = new Map(fleet.map((n) => [n.id, n]));
  const candidates = rankNodes(
    input.rolloutId,
    targeted.filter((n) => !touched.has(n.id) && !n.stale && samePolicyRef(n.acked, input.previous) && samePolicyRef(n.desired, input.previous)).map((n) => n.id),
  );
  const keys = plan.strata.labelKeys;
  const shared = (a: Labels, b: Labels): number => keys.filter((k) => (Object.hasOwn(a, k) ? a[k] : undefined) === (Object.hasOwn(b, k) ? b[k] : undefined)).length;

  const picked = new Set<string>();
  const matches: { canary: string; baseline: string[]; sharedKeys: number }[] = [];
  const unmatched: string[] = [];
  for (const canaryId of input.canary) {
    const canaryNode = byId.get(canaryId);
    if (canaryNode === undefined || candidates.length === 0) {
      unmatched.push(canaryId);
      continue;
    }
    let best = -1;
    for (const id of candidates) best = Math.max(best, shared(canaryNode.labels, byId.get(id)!.labels));
    const baseline = candidates.filter((id) => shared(canaryNode.labels, byId.get(id)!.labels) === best);
    for (const id of baseline) picked.add(id);
    matches.push({ canary: canaryId, baseline, sharedKeys: best });
  }
  return { nodes: candidates.filter((id) => picked.has(id)), matches, unmatched };
}

// ---------------------------------------------------------------------------------------------
// Blast-radius budget.
// ---------------------------------------------------------------------------------------------

export interface BudgetSpec {
  /** At most this many nodes in a non-stable state; null = no absolute cap. */
  readonly maxNodes: number | null;
  /** At most this percentage of the fleet (rounded down, at least 1 node); null = no percentage cap. */
  readonly maxPercent: number | null;
}

/** The budget in nodes for a fleet of `fleetSize` nodes (Infinity when unlimited). */
export function resolveBudget(spec: BudgetSpec, fleetSize: number): number {
  let limit = Number.POSITIVE_INFINITY;
  if (spec.maxNodes !== null) limit = Math.min(limit, spec.maxNodes);
  if (spec.maxPercent !== null) limit = Math.min(limit, Math.max(1, Math.floor((spec.maxPercent / 100) * fleetSize)));
  return Math.max(1, limit);
}

/** One active rollout as the budget sees it. */
export interface BudgetView {
  readonly rolloutId: string;
  readonly phase: 'pending' | 'progressing' | 'baking' | 'judging' | 'paused' | 'rolling_back' | 'completed' | 'failed' | 'rolled_back' | 'aborted';
  /** The current step is judged by gates (its nodes stay unverified until it passes). */
  readonly currentStepGated: boolean;
  /** Of the current step's cohort, the nodes assigned so far. */
  readonly admitted: readonly string[];
  readonly touched: readonly string[];
  /** Nodes whose acknowledged version is what this rollout wants them on right now. */
  readonly settled: ReadonlySet<string>;
}

/**
 * Nodes in a non-stable state, across rollouts (a node counts once): assigned a version they
 * have not acknowledged yet (including nodes being rolled back), or on a version whose gates
 * have not passed yet (the current step of a gated rollout).
 */
export function nonStableNodes(views: readonly BudgetView[]): Set<string> {
  const out = new Set<string>();
  for (const v of views) {
    switch (v.phase) {
      case 'progressing':
      case 'baking':
      case 'judging':
      case 'paused':
        for (const id of v.touched) if (!v.settled.has(id)) out.add(id);
        if (v.currentStepGated) for (const id of v.admitted) out.add(id);
        break;
      case 'rolling_back':
        for (const id of v.touched) if (!v.settled.has(id)) out.add(id);
        break;
      case 'pending':
      case 'completed':
      case 'failed':
      case 'rolled_back':
      case 'aborted':
        break;
    }
  }
  return out;
}

export type Admission =
  | { readonly kind: 'admit'; readonly nodes: readonly string[] }
  /** Nothing can be admitted now; nodes in a non-stable state hold the budget and will free it. */
  | { readonly kind: 'wait'; readonly reason: string }
  /** The step can never fit: it needs more unverified nodes at once than the whole budget. */
  | { readonly kind: 'blocked'; readonly reason: string }
  | { readonly kind: 'done' };

/**
 * Which of the step's remaining nodes the budget admits now, in order. `own` is the rollout's
 * own view, `others` every other active rollout's. A node another rollout is changing right
 * now waits for it (two changes at once on one node would confound both judgments).
 */
export function admit(limit: number, own: BudgetView, others: readonly BudgetView[], remaining: readonly string[]): Admission {
  if (remaining.length === 0) return { kind: 'done' };
  const stepSize = own.admitted.length + remaining.length;
  if (own.currentStepGated && stepSize > limit) {
    return { kind: 'blocked', reason: `the step needs ${stepSize} unverified node(s) at once but the blast-radius budget is ${limit}` };
  }
  const elsewhere = nonStableNodes(others);
  const busy = nonStableNodes([own, ...others]);
  let free = limit - busy.size;
  const nodes: string[] = [];
  for (const id of remaining) {
    if (free <= 0) break;
    if (elsewhere.has(id)) continue;
    nodes.push(id);
    free--;
  }
  if (nodes.length > 0) return { kind: 'admit', nodes };
  const heldElsewhere = remaining.filter((id) => elsewhere.has(id)).length;
  return {
    kind: 'wait',
    reason: limit - busy.size <= 0 ? `blast-radius budget full (${busy.size} of ${limit} nodes in a non-stable state)` : `${heldElsewhere} remaining node(s) are being changed by another rollout`,
  };
}
