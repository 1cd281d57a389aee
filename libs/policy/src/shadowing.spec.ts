import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizePolicy } from './canonical.js';
import { cgroupPathArb, oracleSelects, policyArb } from './policy.test-util.js';
import { findShadowedRules } from './shadowing.js';

describe('findShadowedRules', () => {
  it('property: sound — whatever a shadowed rule matches, the earlier rule matches too (regex oracle)', () => {
    let findings = 0;
    fc.assert(
      fc.property(policyArb, fc.array(cgroupPathArb, { minLength: 20, maxLength: 20 }), (policy, paths) => {
        const rules = normalizePolicy(policy).spec.rules;
        for (const { rule: j, by: i } of findShadowedRules(rules)) {
          findings++;
          const later = rules[j]!;
          const earlier = rules[i]!;
          expect(i).toBeLessThan(j);
          for (const c of later.match.contexts) expect(earlier.match.contexts).toContain(c);
          for (const a of later.match.advice) expect(earlier.match.advice).toContain(a);
          for (const path of paths) {
            if (oracleSelects(later.match.cgroups, path)) expect(oracleSelects(earlier.match.cgroups, path)).toBe(true);
          }
        }
      }),
      { numRuns: 2000 },
    );
    // The generator must actually produce shadowed rules, or the property says nothing.
    expect(findings).toBeGreaterThan(100);
  });

  it('reports the first earlier rule that covers, and skips invalid entries', () => {
    const r = (name: string, cgroups: string[]) => ({
      name,
      match: { cgroups, contexts: ['pagefault' as const], advice: ['none' as const] },
      allow: { orders: [9] },
    });
    expect(findShadowedRules([r('a', ['/x']), undefined, r('b', ['/**']), r('c', ['/x/y']), r('d', ['/z'])])).toEqual([
      { rule: 3, by: 0 },
      { rule: 4, by: 2 },
    ]);
  });
});
