/**
 * The fleet page's model (pure): label selectors and strata filters, counts by state, the
 * order rows are shown in, and the words for each state. The node state itself is the
 * controller's (node-state.ts); the dashboard never re-derives it.
 */
import { NODE_STATES, type NodeState, type NodeView, type PolicyRefView } from '../api/types.js';

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

export interface FleetFilter {
  readonly terms: readonly LabelTerm[];
  readonly states: readonly NodeState[];
  /** Substring of the node id (case-insensitive). */
  readonly search: string;
}

const STATE_RANK: Readonly<Record<NodeState, number>> = Object.fromEntries(NODE_STATES.map((s, i) => [s, i])) as Record<NodeState, number>;

/** Matching nodes, worst state first (the controller's precedence), then by id. */
export function filterNodes(nodes: readonly NodeView[], filter: FleetFilter): NodeView[] {
  const search = filter.search.trim().toLowerCase();
  const states = new Set(filter.states);
  const out = nodes.filter((n) => (states.size === 0 || states.has(n.state)) && (search === '' || n.id.toLowerCase().includes(search)) && matchesSelector(n.labels, filter.terms));
  return out.sort((a, b) => STATE_RANK[a.state] - STATE_RANK[b.state] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
