/**
 * The fleet page's model (pure): label selectors and strata filters, counts by state, the
 * order rows are shown in, and the words for each state. The node state itself is the
 * controller's (node-state.ts); the dashboard never re-derives it.
 */
import { NODE_STATES, type NodeState, type NodeView, type PolicyRefView } from '../api/types.js';

/** Display order: the controller's precedence (worst first). */
export const STATE_ORDER: readonly NodeState[] = NODE_STATES;

export const STATE_LABEL: Readonly<Record<NodeState, string>> = {
  stale: 'stale',
  nacked: 'NACKed',
  incompatible: 'incompatible',
  pending: 'pending',
  drifted: 'drifted',
  'in-sync': 'in sync',
  unassigned: 'unassigned',
};

/** What each state means, for the legend and tooltips (the controller's definitions). */
export const STATE_MEANING: Readonly<Record<NodeState, string>> = {
  'in-sync': 'acknowledged and observed equal the desired version',
  drifted: 'what it runs differs from what it acknowledged (or sysfs differs from the policy)',
  pending: 'the desired version is not acknowledged yet',
  nacked: 'it rejected its desired version (quarantined: never re-sent)',
  stale: 'silent past the stale timeout',
  incompatible: 'its kernel lacks what the desired policy needs',
  unassigned: 'nothing desired and nothing applied',
};

/**
 * Label keys that name strata: the labels the agent gives simulated nodes and the rollout
 * planner's default strata keys (docs/rollouts.md "Cohorts", apps/agent sim-identity.ts).
 */
export const STRATA_KEYS: readonly string[] = ['kernel', 'hardware-class', 'workload-mix'];

export type LabelTerm =
  | { readonly op: 'eq'; readonly key: string; readonly value: string }
  | { readonly op: 'neq'; readonly key: string; readonly value: string }
  | { readonly op: 'exists'; readonly key: string }
  | { readonly op: 'absent'; readonly key: string };

export type SelectorParse = { readonly ok: true; readonly terms: readonly LabelTerm[] } | { readonly ok: false; readonly problems: readonly string[] };

const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/;

/**
 * `zone=a, kernel!=6.1, gpu, !spot`: comma-separated terms, all of which must hold. Every bad
 * term is reported with its position (1-based), not just the first.
 */
export function parseLabelSelector(text: string): SelectorParse {
  const terms: LabelTerm[] = [];
  const problems: string[] = [];
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '') return { ok: true, terms };
  parts.forEach((part, i) => {
    const where = `term ${i + 1} "${part}"`;
    if (part === '') {
      problems.push(`${where}: empty (two commas in a row?)`);
      return;
    }
    const neq = part.indexOf('!=');
    const eq = part.indexOf('=');
    let term: LabelTerm;
    if (neq > 0) term = { op: 'neq', key: part.slice(0, neq).trim(), value: part.slice(neq + 2).trim() };
    else if (eq > 0) term = { op: 'eq', key: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim().replace(/^=/, '') };
    else if (eq === 0 || neq === 0) {
      problems.push(`${where}: a label key is missing before "="`);
      return;
    } else if (part.startsWith('!')) term = { op: 'absent', key: part.slice(1).trim() };
    else term = { op: 'exists', key: part };
    if (!LABEL_KEY.test(term.key)) {
      problems.push(`${where}: "${term.key}" is not a label key (letters, digits, ".", "_", "/", "-")`);
      return;
    }
    terms.push(term);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, terms };
}

export function matchesSelector(labels: Readonly<Record<string, string>>, terms: readonly LabelTerm[]): boolean {
  for (const term of terms) {
    const value = labels[term.key];
    switch (term.op) {
      case 'eq':
        if (value !== term.value) return false;
        break;
      case 'neq':
        if (value === term.value) return false;
        break;
      case 'exists':
        if (value === undefined) return false;
        break;
      case 'absent':
        if (value !== undefined) return false;
        break;
    }
  }
  return true;
}

export function parseStateFilter(text: string): NodeState[] {
  const wanted = new Set(text.split(',').map((s) => s.trim()));
  return NODE_STATES.filter((s) => wanted.has(s));
}

/**
 * Strata chosen on the fleet page: per label key the values wanted. Within a key any value
 * matches (kernel 6.6 or 6.12); across keys all must (kernel 6.6 and hardware m6).
 */
export type StrataFilter = ReadonlyMap<string, ReadonlySet<string>>;

/** `kernel=6.6,kernel=6.12,workload-mix=jvm` (the fleet URL's `strata`); bad terms are ignored. */
export function parseStrataFilter(text: string): StrataFilter {
  const out = new Map<string, Set<string>>();
  const parsed = parseLabelSelector(text);
  if (!parsed.ok) return out;
  for (const term of parsed.terms) {
    if (term.op !== 'eq') continue;
    const values = out.get(term.key) ?? new Set<string>();
    values.add(term.value);
    out.set(term.key, values);
  }
  return out;
}

export function strataFilterText(filter: StrataFilter): string {
  const parts: string[] = [];
  for (const key of [...filter.keys()].sort()) for (const value of [...(filter.get(key) ?? [])].sort()) parts.push(`${key}=${value}`);
  return parts.join(',');
}

/** The filter with key=value added, or removed when it was there. */
export function toggleStratum(filter: StrataFilter, key: string, value: string): StrataFilter {
  const out = new Map<string, Set<string>>([...filter].map(([k, v]) => [k, new Set(v)]));
  const values = out.get(key) ?? new Set<string>();
  if (values.has(value)) values.delete(value);
  else values.add(value);
  if (values.size === 0) out.delete(key);
  else out.set(key, values);
  return out;
}

export function matchesStrata(labels: Readonly<Record<string, string>>, filter: StrataFilter): boolean {
  for (const [key, values] of filter) {
    const value = labels[key];
    if (value === undefined || !values.has(value)) return false;
  }
  return true;
}

/**
 * A node that runs its policy without the kernel hook: the agent enforces only the node-wide
 * sysfs settings (spec.node.withoutHook: node-level). Its state may be in-sync; the page shows it
 * apart because per-cgroup rules do not apply there.
 */
export function nodeLevelOnly(node: NodeView): boolean {
  return node.observed?.enforcement === 'node-level-only';
}

export interface FleetFilter {
  readonly terms: readonly LabelTerm[];
  readonly strata: StrataFilter;
  readonly states: readonly NodeState[];
  /** Only nodes enforcing node-level settings only. */
  readonly nodeLevelOnly: boolean;
  /** Substring of the node id (case-insensitive). */
  readonly search: string;
}

/** The order states are listed in: the controller's precedence, worst first. */
const STATE_RANK: Readonly<Record<NodeState, number>> = Object.fromEntries(NODE_STATES.map((s, i) => [s, i])) as Record<NodeState, number>;

/** Matching nodes, worst state first (the controller's precedence), then by id. */
export function filterNodes(nodes: readonly NodeView[], filter: FleetFilter): NodeView[] {
  const search = filter.search.trim().toLowerCase();
  const states = new Set(filter.states);
  const out = nodes.filter(
    (n) =>
      (states.size === 0 || states.has(n.state)) &&
      (!filter.nodeLevelOnly || nodeLevelOnly(n)) &&
      (search === '' || n.id.toLowerCase().includes(search)) &&
      matchesSelector(n.labels, filter.terms) &&
      matchesStrata(n.labels, filter.strata),
  );
  return out.sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Where a node's chain desired -> intended -> acknowledged -> observed breaks: the first stage
 * that differs from the one before it (null when all agree). "Intended" is what the controller
 * last sent; a node that was never sent anything has no intent, which is no break by itself.
 */
export function firstMismatch(node: NodeView): 'intended' | 'acknowledged' | 'observed' | null {
  const desired = refText(node.desired);
  if (node.intent !== null && refText(node.intent) !== desired) return 'intended';
  if (refText(node.acked) !== desired) return 'acknowledged';
  if (node.observed !== null && refText(node.observed) !== refText(node.acked)) return 'observed';
  return null;
}

export function countByState(nodes: readonly NodeView[]): Record<NodeState, number> {
  const counts = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
  for (const n of nodes) counts[n.state] += 1;
  return counts;
}

export interface StratumValue {
  readonly value: string;
  readonly count: number;
}

/** For each strata key present in the fleet, its values and how many nodes carry each. */
export function strataOf(nodes: readonly NodeView[], keys: readonly string[] = STRATA_KEYS): { key: string; values: StratumValue[] }[] {
  const out: { key: string; values: StratumValue[] }[] = [];
  for (const key of keys) {
    const counts = new Map<string, number>();
    for (const n of nodes) {
      const value = n.labels[key];
      if (value !== undefined) counts.set(value, (counts.get(value) ?? 0) + 1);
    }
    if (counts.size > 0) out.push({ key, values: [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)) });
  }
  return out;
}

/** `zgc-only@3`, or `none`. */
export function refText(ref: PolicyRefView | null | undefined): string {
  if (!ref || ref.policy === null || ref.version === null) return 'none';
  return `${ref.policy}@${ref.version}`;
}

export function sameRef(a: PolicyRefView | null | undefined, b: PolicyRefView | null | undefined): boolean {
  return refText(a) === refText(b);
}

/** Replace or add nodes (from a refetch of changed ids) and keep the list's identity stable otherwise. */
export function mergeNodes(current: readonly NodeView[], updates: readonly NodeView[]): NodeView[] {
  if (updates.length === 0) return [...current];
  const byId = new Map(current.map((n) => [n.id, n]));
  for (const u of updates) byId.set(u.id, u);
  return [...byId.values()];
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago". */
export function ago(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}
