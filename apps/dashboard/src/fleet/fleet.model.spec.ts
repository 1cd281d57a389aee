import { describe, expect, it } from 'vitest';
import type { NodeState, NodeView } from '../api/types.js';
import {
  ago,
  countByState,
  filterNodes,
  firstMismatch,
  matchesSelector,
  matchesStrata,
  mergeNodes,
  nodeLevelOnly,
  parseLabelSelector,
  parseStateFilter,
  parseStrataFilter,
  refText,
  strataFilterText,
  strataOf,
  toggleStratum,
  type FleetFilter,
} from './fleet.model.js';

const ref = (policy: string | null, version: number | null) => ({ policy, version, specHash: null });

function node(id: string, state: NodeState, labels: Record<string, string> = {}, extra: Partial<NodeView> = {}): NodeView {
  return {
    id,
    labels,
    kernelRelease: '6.18',
    agentVersion: '0.1.0',
    capabilities: {},
    state,
    drift: [],
    incompatibility: null,
    connected: true,
    lastSeen: '2026-01-01T00:00:00Z',
    stale: state === 'stale',
    staleSince: null,
    desired: null,
    intent: null,
    acked: null,
    observed: null,
    quarantined: false,
    lastNack: null,
    ...extra,
  };
}

const none: FleetFilter = { terms: [], strata: new Map(), states: [], nodeLevelOnly: false, search: '' };

describe('label selectors', () => {
  it('parses equality, inequality, existence and absence, all of which must hold', () => {
    const parsed = parseLabelSelector(' zone=a , kernel!=6.1, gpu, !spot ');
    expect(parsed).toEqual({
      ok: true,
      terms: [
        { op: 'eq', key: 'zone', value: 'a' },
        { op: 'neq', key: 'kernel', value: '6.1' },
        { op: 'exists', key: 'gpu' },
        { op: 'absent', key: 'spot' },
      ],
    });
    if (!parsed.ok) return;
    expect(matchesSelector({ zone: 'a', kernel: '6.6', gpu: 'yes' }, parsed.terms)).toBe(true);
    expect(matchesSelector({ zone: 'b', kernel: '6.6', gpu: 'yes' }, parsed.terms)).toBe(false);
    expect(matchesSelector({ zone: 'a', kernel: '6.1', gpu: 'yes' }, parsed.terms)).toBe(false);
    expect(matchesSelector({ zone: 'a', kernel: '6.6' }, parsed.terms)).toBe(false);
    expect(matchesSelector({ zone: 'a', kernel: '6.6', gpu: '', spot: 'x' }, parsed.terms)).toBe(false);
  });

  it('accepts "==" and an empty text (every node)', () => {
    expect(parseLabelSelector('zone==a')).toEqual({ ok: true, terms: [{ op: 'eq', key: 'zone', value: 'a' }] });
    expect(parseLabelSelector('')).toEqual({ ok: true, terms: [] });
  });

  it('names every bad term with its position', () => {
    const parsed = parseLabelSelector('zone=a,,=b,bad key');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toEqual([
      'term 2 "": empty (two commas in a row?)',
      'term 3 "=b": a label key is missing before "="',
      'term 4 "bad key": "bad key" is not a label key (letters, digits, ".", "_", "/", "-")',
    ]);
  });
});

describe('strata filters', () => {
  it('ORs values of one key and ANDs keys; round-trips through the URL text', () => {
    const filter = parseStrataFilter('kernel=6.6,kernel=6.12,workload-mix=jvm');
    expect(matchesStrata({ kernel: '6.12', 'workload-mix': 'jvm' }, filter)).toBe(true);
    expect(matchesStrata({ kernel: '6.6', 'workload-mix': 'jvm' }, filter)).toBe(true);
    expect(matchesStrata({ kernel: '6.1', 'workload-mix': 'jvm' }, filter)).toBe(false);
    expect(matchesStrata({ kernel: '6.6' }, filter)).toBe(false);
    expect(strataFilterText(filter)).toBe('kernel=6.12,kernel=6.6,workload-mix=jvm');
    expect(strataFilterText(parseStrataFilter(strataFilterText(filter)))).toBe(strataFilterText(filter));
  });

  it('toggles a value on and off without changing the filter it came from', () => {
    const start = parseStrataFilter('kernel=6.6');
    const added = toggleStratum(start, 'zone', 'a');
    expect(strataFilterText(added)).toBe('kernel=6.6,zone=a');
    expect(strataFilterText(start)).toBe('kernel=6.6');
    expect(strataFilterText(toggleStratum(added, 'kernel', '6.6'))).toBe('zone=a');
    expect(strataFilterText(toggleStratum(toggleStratum(added, 'kernel', '6.6'), 'zone', 'a'))).toBe('');
  });

  it('counts the values of each strata key present in the fleet', () => {
    const nodes = [node('a', 'in-sync', { kernel: '6.6', zone: 'z1' }), node('b', 'in-sync', { kernel: '6.12' }), node('c', 'in-sync', { kernel: '6.6' })];
    expect(strataOf(nodes, ['kernel', 'hardware-class'])).toEqual([
      {
        key: 'kernel',
        values: [
          { value: '6.12', count: 1 },
          { value: '6.6', count: 2 },
        ],
      },
    ]);
  });
});

describe('the fleet list', () => {
  const nodes = [
    node('n3', 'in-sync', { zone: 'a' }),
    node('n1', 'drifted', { zone: 'b' }),
    node('n2', 'stale', { zone: 'a' }),
    node('n4', 'nacked', { zone: 'a' }),
    node('n5', 'in-sync', { zone: 'b' }, { observed: { ...ref('p', 1), at: '', enforcement: 'node-level-only', mapContentHash: null, sysfs: null } }),
  ];

  it('orders by state precedence (worst first), then id', () => {
    expect(filterNodes(nodes, none).map((n) => n.id)).toEqual(['n2', 'n4', 'n1', 'n3', 'n5']);
  });

  it('filters by state, labels, strata, id substring and node-level-only enforcement', () => {
    expect(filterNodes(nodes, { ...none, states: parseStateFilter('in-sync,bogus') }).map((n) => n.id)).toEqual(['n3', 'n5']);
    const zoneA = parseLabelSelector('zone=a');
    expect(zoneA.ok && filterNodes(nodes, { ...none, terms: zoneA.terms }).map((n) => n.id)).toEqual(['n2', 'n4', 'n3']);
    expect(filterNodes(nodes, { ...none, strata: parseStrataFilter('zone=b') }).map((n) => n.id)).toEqual(['n1', 'n5']);
    expect(filterNodes(nodes, { ...none, search: ' N4 ' }).map((n) => n.id)).toEqual(['n4']);
    expect(filterNodes(nodes, { ...none, nodeLevelOnly: true }).map((n) => n.id)).toEqual(['n5']);
    expect(nodes.filter(nodeLevelOnly)).toHaveLength(1);
  });

  it('counts every state, zero included', () => {
    expect(countByState(nodes)).toEqual({ stale: 1, nacked: 1, incompatible: 0, pending: 0, drifted: 1, 'in-sync': 2, unassigned: 0 });
  });

  it('merges refetched nodes by id and adds new ones', () => {
    const merged = mergeNodes(nodes, [node('n1', 'in-sync'), node('n9', 'pending')]);
    expect(merged.map((n) => `${n.id}:${n.state}`)).toEqual(['n3:in-sync', 'n1:in-sync', 'n2:stale', 'n4:nacked', 'n5:in-sync', 'n9:pending']);
  });
});

describe('where the desired -> sent -> acknowledged -> observed chain breaks', () => {
  const status = (policy: string | null, version: number | null) => ({ ...ref(policy, version), at: '2026-01-01T00:00:00Z' });
  const desired = { ...ref('p', 2), rolloutId: null, revision: 3, updatedAt: '', updatedBy: '' };
  const observed = (policy: string | null, version: number | null) => ({ ...status(policy, version), enforcement: 'full', mapContentHash: null, sysfs: null });

  it('finds nothing when every stage names the desired version', () => {
    expect(firstMismatch(node('a', 'in-sync', {}, { desired, intent: status('p', 2), acked: status('p', 2), observed: observed('p', 2) }))).toBeNull();
  });
  it('a node never sent anything, wanting nothing, is not broken', () => {
    expect(firstMismatch(node('a', 'unassigned'))).toBeNull();
  });
  it('marks the first stage that differs', () => {
    expect(firstMismatch(node('a', 'pending', {}, { desired, intent: status('p', 1), acked: status('p', 1), observed: observed('p', 1) }))).toBe('intended');
    expect(firstMismatch(node('a', 'pending', {}, { desired, intent: status('p', 2), acked: status('p', 1), observed: observed('p', 1) }))).toBe('acknowledged');
    expect(firstMismatch(node('a', 'drifted', {}, { desired, intent: status('p', 2), acked: status('p', 2), observed: observed('p', 1) }))).toBe('observed');
  });
  it('writes a reference as policy@version or none', () => {
    expect(refText(ref('zgc-only', 3))).toBe('zgc-only@3');
    expect(refText(ref(null, null))).toBe('none');
    expect(refText(null)).toBe('none');
  });
});

describe('ago', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  it('says how long ago in the largest sensible unit', () => {
    expect(ago('2026-01-01T11:59:57Z', now)).toBe('3 s ago');
    expect(ago('2026-01-01T11:55:00Z', now)).toBe('5 min ago');
    expect(ago('2026-01-01T10:00:00Z', now)).toBe('2 h ago');
    expect(ago('2025-12-28T12:00:00Z', now)).toBe('4 d ago');
    expect(ago('not a time', now)).toBe('?');
  });
});
