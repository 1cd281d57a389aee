import { describe, expect, it } from 'vitest';
import type { NodeView } from '../api-types.js';
import { nodeDetail, observedText, renderNodes } from './nodes.js';
import { renderDiff } from './policy.js';

const node = (over: Partial<NodeView>): NodeView => ({
  id: 'sim-001',
  labels: { zone: 'a' },
  state: 'in-sync',
  drift: [],
  incompatibility: null,
  connected: true,
  stale: false,
  lastSeen: '2026-11-25T11:59:58Z',
  desired: { policy: 'zgc-only', version: 2, rolloutId: null, revision: 3 },
  acked: { policy: 'zgc-only', version: 2 },
  observed: { policy: 'zgc-only', version: 2, enforcement: 'full' },
  quarantined: false,
  lastNack: null,
  ...over,
});

describe('nodes table', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');

  it('says what is off: drift, the NACK, the incompatibility', () => {
    expect(nodeDetail(node({ state: 'drifted', drift: ['sysfs enabled is always, the policy says madvise', 'observed version 1'] }))).toBe('sysfs enabled is always, the policy says madvise; observed version 1');
    expect(nodeDetail(node({ state: 'nacked', lastNack: { policy: 'p', version: 3, stage: 'validate', message: 'no hugepages-64kB' } }))).toBe('NACK p@3 (validate): no hugepages-64kB');
    expect(nodeDetail(node({ state: 'incompatible', incompatibility: 'no bpf_thp_ops hook' }))).toBe('no bpf_thp_ops hook');
    expect(nodeDetail(node({}))).toBe('');
  });

  it('shows observed policy with its enforcement, "-" for nothing', () => {
    expect(observedText(node({}))).toBe('zgc-only@2 (full)');
    expect(observedText(node({ observed: { policy: null, version: null, enforcement: 'none' } }))).toBe('-');
    expect(observedText(node({ observed: null }))).toBe('-');
  });

  it('renders rows, an offline marker and counts by state', () => {
    const lines = renderNodes([node({}), node({ id: 'sim-002', state: 'drifted', drift: ['x'], connected: false })], now, true);
    expect(lines[0]).toMatch(/^NODE\s+STATE\s+DESIRED\s+ACKED\s+OBSERVED\s+LAST SEEN\s+DRIFT \/ REASON\s+LABELS$/);
    expect(lines[1]).toMatch(/^sim-001\s+in-sync\s+zgc-only@2\s+zgc-only@2\s+zgc-only@2 \(full\)\s+2s ago\s+zone=a$/);
    expect(lines[2]).toMatch(/^sim-002\s+drifted\s+.*2s ago \(offline\)\s+x\s+zone=a$/);
    expect(lines.at(-1)).toBe('2 nodes: 1 drifted, 1 in-sync');
    expect(renderNodes([], now, false)).toEqual(['No nodes.']);
  });
});

describe('policy diff', () => {
  it('one line per change', () => {
    expect(
      renderDiff({
        policy: 'p',
        from: 1,
        to: 3,
        changes: [
          { path: 'spec.node.enabled', kind: 'changed', before: 'never', after: 'madvise' },
          { path: 'spec.rules[1]', kind: 'added', after: { name: 'kv' } },
          { path: 'metadata.description', kind: 'removed', before: 'old' },
        ],
      }),
    ).toEqual(['policy p: version 1 → 3: 3 changes', '~ spec.node.enabled: never → madvise', '+ spec.rules[1]: {"name":"kv"}', '- metadata.description: old']);
    expect(renderDiff({ policy: 'p', from: 2, to: 2, changes: [] })).toEqual(['policy p: version 2 → 2: no differences']);
  });
});
