import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffPolicies } from './diff.js';
import { policyArb, sameMeaningArb } from './policy.test-util.js';
import type { PolicyRule, ThpPolicy } from './spec.js';
import { validatePolicy } from './validate.js';

const rule = (name: string, cgroups: string[], orders: number[]): PolicyRule => ({ name, match: { cgroups }, allow: { orders } });

const A: ThpPolicy = {
  apiVersion: 'thp.fleet/v1',
  kind: 'ThpPolicy',
  metadata: { name: 'p', description: 'v1' },
  spec: {
    default: { action: 'deny' },
    rules: [rule('zgc', ['/w/zgc-*'], [9]), rule('kv', ['/w/kv-store'], []), rule('tlb', ['/w/tlb-*'], [9])],
    node: { enabled: 'madvise' },
  },
};

const withSpec = (p: ThpPolicy, spec: Partial<ThpPolicy['spec']>): ThpPolicy => ({ ...p, spec: { ...p.spec, ...spec } });

describe('diffPolicies', () => {
  it('no entries for the same policy, or a rewrite with the same meaning', () => {
    expect(diffPolicies(A, A)).toEqual([]);
    const rewritten = withSpec(A, {
      rules: [
        { name: 'zgc', match: { cgroups: ['/w/zgc-*'], contexts: ['smaps', 'pagefault', 'khugepaged', 'forced_collapse'] }, allow: { sizes: ['2M'] } },
        ...A.spec.rules.slice(1),
      ],
      node: { enabled: 'madvise', withoutHook: 'deny' },
    });
    expect(diffPolicies(A, rewritten)).toEqual([]);
  });

  it('field changes inside a rule are reported at the rule, by name', () => {
    const b = withSpec(A, { rules: [rule('zgc', ['/w/zgc-*'], [4, 9]), A.spec.rules[1]!, A.spec.rules[2]!] });
    expect(diffPolicies(A, b)).toEqual([{ path: 'spec.rules["zgc"].allow.orders', kind: 'changed', before: [9], after: [4, 9] }]);
  });

  it('a reordering is one entry at spec.rules, not a change of every field', () => {
    const b = withSpec(A, { rules: [A.spec.rules[2]!, A.spec.rules[0]!, A.spec.rules[1]!] });
    expect(diffPolicies(A, b)).toEqual([
      { path: 'spec.rules', kind: 'changed', before: ['zgc', 'kv', 'tlb'], after: ['tlb', 'zgc', 'kv'] },
    ]);
  });

  it('added and removed rules; the order entry only when the new order is not "old minus removed, plus appended"', () => {
    const appended = withSpec(A, { rules: [...A.spec.rules.slice(1), rule('new', ['/n'], [9])] });
    const entries = diffPolicies(A, appended);
    expect(entries.map((e) => [e.path, e.kind])).toEqual([
      ['spec.rules["zgc"]', 'removed'],
      ['spec.rules["new"]', 'added'],
    ]);
    expect(entries[1]?.after).toEqual({
      name: 'new',
      match: { cgroups: ['/n'], contexts: ['smaps', 'pagefault', 'khugepaged', 'forced_collapse'], advice: ['none', 'hugepage', 'nohugepage'] },
      allow: { orders: [9] },
    });
    const inserted = withSpec(A, { rules: [rule('new', ['/n'], [9]), ...A.spec.rules] });
    expect(diffPolicies(A, inserted).map((e) => [e.path, e.kind])).toEqual([
      ['spec.rules', 'changed'],
      ['spec.rules["new"]', 'added'],
    ]);
  });

  it('metadata, default and node changes, with readable paths', () => {
    const b: ThpPolicy = {
      ...A,
      metadata: { name: 'p' },
      spec: { ...A.spec, default: { action: 'allow', sizes: ['64K'] }, node: { enabled: 'always', hugepages: { '64K': 'always' } } },
    };
    expect(diffPolicies(A, b)).toEqual([
      { path: 'metadata.description', kind: 'changed', before: 'v1', after: '' },
      { path: 'spec.default.action', kind: 'changed', before: 'deny', after: 'allow' },
      { path: 'spec.default.orders', kind: 'added', after: [4] },
      { path: 'spec.node.enabled', kind: 'changed', before: 'madvise', after: 'always' },
      { path: 'spec.node.hugepages', kind: 'added', after: { '64kB': 'always' } },
    ]);
    const c: ThpPolicy = { ...b, spec: { ...b.spec, node: { enabled: 'always', hugepages: { '64K': 'never', '2M': 'inherit' } } } };
    expect(diffPolicies(b, c)).toEqual([
      { path: 'spec.node.hugepages["2048kB"]', kind: 'added', after: 'inherit' },
      { path: 'spec.node.hugepages["64kB"]', kind: 'changed', before: 'always', after: 'never' },
    ]);
  });

  it('property: empty exactly when the canonical forms are equal; same-meaning rewrites give no entries', () => {
    fc.assert(
      fc.property(
        policyArb.chain((p) => fc.tuple(fc.constant(p), sameMeaningArb(p))),
        policyArb,
        ([a, rewritten], other) => {
          const same = validatePolicy(rewritten);
          expect(same.ok).toBe(true);
          if (same.ok) expect(diffPolicies(a, same.policy)).toEqual([]);
          const d = diffPolicies(a, other);
          expect(d.length === 0).toBe(JSON.stringify(diffPolicies(other, a)) === '[]');
          for (const e of d) {
            expect(e.kind === 'added' ? 'after' in e && !('before' in e) : 'before' in e).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
