import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalize, normalizePolicy, parseCanonical, policyHash, sha256Hex } from './canonical.js';
import { parsePolicy } from './parse.js';
import { policyArb, sameMeaningArb } from './policy.test-util.js';
import { PolicyValidationError, type ThpPolicy } from './spec.js';

const ZGC: ThpPolicy = {
  apiVersion: 'thp.fleet/v1',
  kind: 'ThpPolicy',
  metadata: { name: 'zgc-only', description: 'THP for ZGC services, nothing else' },
  spec: {
    default: { action: 'deny' },
    rules: [
      {
        name: 'zgc',
        match: { cgroups: ['/kubepods.slice/**/zgc-*'], contexts: ['pagefault', 'khugepaged'], advice: ['hugepage', 'none'] },
        allow: { orders: [9] },
        underPressure: { memorySomeAvg10Above: 20, orders: [] },
      },
    ],
  },
};

function parsed(text: string): ThpPolicy {
  const result = parsePolicy(text);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.policy;
}

describe('canonicalize', () => {
  it('writes the DESIGN.md example with sorted keys, explicit defaults and fixed list order', () => {
    expect(canonicalize(ZGC)).toBe(
      '{"apiVersion":"thp.fleet/v1","kind":"ThpPolicy",' +
        '"metadata":{"description":"THP for ZGC services, nothing else","name":"zgc-only"},' +
        '"spec":{"default":{"action":"deny"},"node":{"withoutHook":"deny"},"rules":[{' +
        '"allow":{"orders":[9]},' +
        '"match":{"advice":["none","hugepage"],"cgroups":["/kubepods.slice/**/zgc-*"],"contexts":["pagefault","khugepaged"]},' +
        '"name":"zgc","underPressure":{"memorySomeAvg10Above":20,"orders":[]}}]}}',
    );
  });

  it('makes omitted fields explicit and turns sizes into sorted orders', () => {
    const policy = parsed(`
apiVersion: thp.fleet/v1
kind: ThpPolicy
metadata: { name: p }
spec:
  default: { action: allow, sizes: [2048kB, 64K, 2M] }
  rules:
    - name: r
      match: { cgroups: ["/b", "/a", "/b"] }
      allow: { sizes: ["2M", "16KiB"] }
      underPressure: { memorySomeAvg10Above: 5.50, sizes: ["2M", "16K"] }
  node: { hugepages: { 2M: never, 16K: always }, khugepaged: {} }
`);
    expect(JSON.parse(canonicalize(policy))).toEqual({
      apiVersion: 'thp.fleet/v1',
      kind: 'ThpPolicy',
      metadata: { name: 'p', description: '' },
      spec: {
        default: { action: 'allow', orders: [4, 9] },
        rules: [
          {
            name: 'r',
            match: {
              cgroups: ['/a', '/b'],
              contexts: ['smaps', 'pagefault', 'khugepaged', 'forced_collapse'],
              advice: ['none', 'hugepage', 'nohugepage'],
            },
            allow: { orders: [2, 9] },
          },
        ],
        node: { withoutHook: 'deny', hugepages: { '16kB': 'always', '2048kB': 'never' } },
      },
    });
  });

  it('folds allow-nothing into deny and keeps a gate only when it changes something', () => {
    const base = parsed(canonicalize(ZGC));
    const allowNothing = { ...base, spec: { ...base.spec, default: { action: 'allow' as const, orders: [] } } };
    expect(policyHash(allowNothing)).toBe(policyHash(base));
    const rule = base.spec.rules[0]!;
    const noGate = { ...base, spec: { ...base.spec, rules: [{ name: rule.name, match: rule.match, allow: rule.allow }] } };
    const noOpGate = { ...noGate, spec: { ...noGate.spec, rules: [{ ...noGate.spec.rules[0]!, underPressure: { memorySomeAvg10Above: 50, orders: [9] } }] } };
    expect(policyHash(noOpGate)).toBe(policyHash(noGate));
    expect(policyHash(noGate)).not.toBe(policyHash(base));
  });

  it('refuses an invalid policy with every error', () => {
    const bad = { ...ZGC, spec: { ...ZGC.spec, rules: [{ ...ZGC.spec.rules[0]!, allow: { orders: [10, 11] } }] } };
    let thrown: unknown;
    try {
      canonicalize(bad);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(PolicyValidationError);
    expect((thrown as PolicyValidationError).issues.map((i) => i.path)).toEqual([
      'spec.rules[0].allow.orders[0]',
      'spec.rules[0].allow.orders[1]',
    ]);
  });
});

describe('policyHash', () => {
  it('is the lowercase hex sha256 of the canonical JSON', () => {
    // Known-answer test of the hash primitive (FIPS 180-2 "abc").
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(policyHash(ZGC)).toBe(sha256Hex(canonicalize(ZGC)));
    expect(policyHash(ZGC)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('property: rewrites that keep the meaning (key order, sizes vs orders, defaults, YAML vs JSON) hash equal', () => {
    fc.assert(
      fc.property(
        policyArb.chain((p) => fc.tuple(fc.constant(p), sameMeaningArb(p), fc.boolean())),
        ([policy, rewritten, asYaml]) => {
          const text = asYaml ? stringify(rewritten) : JSON.stringify(rewritten);
          const again = parsed(text);
          expect(canonicalize(again)).toBe(canonicalize(policy));
          expect(policyHash(again)).toBe(policyHash(policy));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('property: a change of meaning changes the hash', () => {
    fc.assert(
      fc.property(policyArb, fc.integer({ min: 0, max: 3 }), (policy, what) => {
        const spec = policy.spec;
        const rule = spec.rules[0];
        let changed: ThpPolicy;
        if (what === 0 || rule === undefined) {
          changed = { ...policy, metadata: { ...policy.metadata, name: `${policy.metadata.name}x` } };
        } else if (what === 1) {
          changed = { ...policy, spec: { ...spec, rules: [{ ...rule, name: `${rule.name}x` }, ...spec.rules.slice(1)] } };
        } else if (what === 2) {
          changed = { ...policy, spec: { ...spec, rules: [...spec.rules, { ...rule, name: 'zz-new-rule' }] } };
        } else {
          const orders = normalizePolicy(policy).spec.rules[0]!.allow.orders;
          const extra = [2, 3, 4, 5, 6, 7, 8, 9].find((o) => !orders.includes(o));
          changed = { ...policy, spec: { ...spec, rules: [{ ...rule, allow: { orders: extra === undefined ? [] : [...orders, extra] } }, ...spec.rules.slice(1)] } };
        }
        expect(policyHash(changed)).not.toBe(policyHash(policy));
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseCanonical', () => {
  it('round-trips: canonical JSON -> policy -> the same canonical JSON', () => {
    fc.assert(
      fc.property(policyArb, (policy) => {
        const json = canonicalize(policy);
        const back = parseCanonical(json);
        expect(back.ok).toBe(true);
        if (back.ok) expect(canonicalize(back.policy)).toBe(json);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects JSON that is valid but not canonical, or not JSON, or not a valid policy', () => {
    const json = canonicalize(ZGC);
    const spaced = JSON.stringify(JSON.parse(json), null, 1);
    const notCanonical = parseCanonical(spaced);
    expect(notCanonical.ok).toBe(false);
    if (!notCanonical.ok) expect(notCanonical.errors[0]?.message).toMatch(/not in canonical form \(first difference at character 2\)/);
    const notJson = parseCanonical('apiVersion: thp.fleet/v1');
    expect(notJson.ok).toBe(false);
    if (!notJson.ok) expect(notJson.errors[0]?.message).toMatch(/^not valid JSON: /);
    const invalid = parseCanonical(json.replace('"orders":[9]', '"orders":[10]'));
    expect(invalid.ok).toBe(false);
    if (!invalid.ok) expect(invalid.errors.map((e) => e.message)).toEqual(['order 10 exceeds PMD order 9']);
  });
});

describe('canonicalJson', () => {
  it('sorts keys by code unit, drops undefined, normalises -0, rejects non-JSON values', () => {
    expect(canonicalJson({ b: 1, a: [true, null, -0, 'x'], B: undefined, é: 1, Z: 2 })).toBe('{"Z":2,"a":[true,null,0,"x"],"b":1,"é":1}');
    expect(() => canonicalJson({ a: Infinity })).toThrow(RangeError);
    expect(() => canonicalJson({ a: 1n })).toThrow(TypeError);
  });
});
