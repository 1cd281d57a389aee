// These tests build deliberately malformed documents by editing an untyped copy of a good one.
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { canonicalize, policyHash } from './canonical.js';
import { parsePolicy } from './parse.js';
import { policyArb } from './policy.test-util.js';
import type { PolicyIssue, ValidationResult } from './spec.js';
import { MAX_RULES } from './types.js';
import { validatePolicy } from './validate.js';

const GOOD = {
  apiVersion: 'thp.fleet/v1',
  kind: 'ThpPolicy',
  metadata: { name: 'zgc-only' },
  spec: {
    default: { action: 'deny' },
    rules: [{ name: 'zgc', match: { cgroups: ['/workloads.slice/zgc-*'] }, allow: { orders: [9] } }],
  },
};

/** A deep copy of JSON data (structuredClone is not in the pure ES2023 lib this project compiles against). */
function clone(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** GOOD with `edit` applied to a deep copy. */
function withEdit(edit: (doc: any) => void): unknown {
  const doc = clone(GOOD) as any;
  edit(doc);
  return doc;
}

function errorsOf(result: ValidationResult): readonly PolicyIssue[] {
  if (result.ok) throw new Error('expected errors, got a valid policy');
  return result.errors;
}

function only(result: ValidationResult): PolicyIssue {
  const errors = errorsOf(result);
  expect(errors).toHaveLength(1);
  return errors[0]!;
}

describe('validatePolicy: valid documents', () => {
  it('accepts the DESIGN.md example and returns the typed policy', () => {
    const result = validatePolicy(GOOD);
    expect(result).toEqual({ ok: true, policy: GOOD, warnings: [] });
  });

  it('accepts every field of the spec, node section included', () => {
    const doc = withEdit((d) => {
      d.metadata.description = 'all fields';
      d.spec.default = { action: 'allow', sizes: ['64K'] };
      d.spec.rules[0].match.contexts = ['pagefault', 'khugepaged'];
      d.spec.rules[0].match.advice = ['hugepage', 'none'];
      d.spec.rules[0].underPressure = { memorySomeAvg10Above: 12.5, orders: [] };
      d.spec.node = {
        enabled: 'madvise',
        defrag: 'defer+madvise',
        shmemEnabled: 'within_size',
        hugepages: { '2048kB': 'inherit', '64K': 'madvise', '2M': undefined },
        khugepaged: { maxPtesNone: 0, pagesToScan: 4096 },
        withoutHook: 'node-level',
      };
      delete d.spec.node.hugepages['2M'];
    });
    const result = validatePolicy(doc);
    expect(result.ok).toBe(true);
    expect(result.warnings).toEqual([]);
  });
});

describe('validatePolicy: every error kind, with its path', () => {
  it('unknown field, with a did-you-mean', () => {
    const issue = only(validatePolicy(withEdit((d) => (d.spec.rules[0].match.context = ['pagefault']))));
    expect(issue).toEqual({
      path: 'spec.rules[0].match.context',
      message: 'unknown field "context"; did you mean "contexts"?',
      severity: 'error',
    });
    const far = only(validatePolicy(withEdit((d) => (d.spec.frobnicate = 1))));
    expect(far.message).toBe('unknown field "frobnicate" (expected one of "default", "rules", "node")');
  });

  it('wrong type', () => {
    expect(only(validatePolicy(withEdit((d) => (d.spec.rules = { a: 1 }))))).toMatchObject({
      path: 'spec.rules',
      message: 'expected a list, got a mapping',
    });
    expect(only(validatePolicy(withEdit((d) => (d.spec.rules[0].match.cgroups = '/a'))))).toMatchObject({
      path: 'spec.rules[0].match.cgroups',
      message: 'expected a list, got the string "/a"',
    });
  });

  it('missing required fields, each reported', () => {
    const errors = errorsOf(
      validatePolicy(
        withEdit((d) => {
          delete d.kind;
          delete d.spec.default;
          delete d.spec.rules[0].allow;
        }),
      ),
    );
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['kind', 'required field "kind" is missing'],
      ['spec.default', 'required field "default" is missing'],
      ['spec.rules[0].allow', 'required field "allow" is missing'],
    ]);
  });

  it('orders above PMD order 9 or below 2', () => {
    const errors = errorsOf(validatePolicy(withEdit((d) => (d.spec.rules[0].allow.orders = [10, 1, 9, 18]))));
    expect(errors).toEqual([
      { path: 'spec.rules[0].allow.orders[0]', message: 'order 10 exceeds PMD order 9', severity: 'error' },
      {
        path: 'spec.rules[0].allow.orders[1]',
        message: 'order 1 is below 2, the smallest anonymous THP order (orders 0 and 1 are not THP)',
        severity: 'error',
      },
      { path: 'spec.rules[0].allow.orders[3]', message: 'order 18 exceeds PMD order 9', severity: 'error' },
    ]);
  });

  it('sizes that are not THP sizes', () => {
    const errors = errorsOf(
      validatePolicy(withEdit((d) => (d.spec.rules[0].allow = { sizes: ['2M', '3M', '8K', '4M', 'huge', '2048', 2048] }))),
    );
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['spec.rules[0].allow.sizes[1]', '3M is not a THP size: THP sizes are 4K << order, from 16K (order 2) to 2M (order 9)'],
      ['spec.rules[0].allow.sizes[2]', '8K is order 1; anonymous THP sizes are 16K (order 2) to 2M (order 9)'],
      ['spec.rules[0].allow.sizes[3]', '4M is order 10 and exceeds PMD order 9 (2M)'],
      ['spec.rules[0].allow.sizes[4]', '"huge" is not a size: write e.g. "2M", "64K" or "2048kB"'],
      ['spec.rules[0].allow.sizes[5]', 'size "2048" needs a unit: write e.g. "2M", "64K" or "2048kB"'],
      [
        'spec.rules[0].allow.sizes[6]',
        'size must be a string such as "2M" or "64K", got the number 2048; list order numbers under "orders" instead',
      ],
    ]);
  });

  it('orders and sizes together, or neither', () => {
    expect(only(validatePolicy(withEdit((d) => (d.spec.rules[0].allow = { orders: [9], sizes: ['2M'] }))))).toMatchObject({
      path: 'spec.rules[0].allow.sizes',
      message: 'give either "orders" or "sizes", not both',
    });
    expect(only(validatePolicy(withEdit((d) => (d.spec.rules[0].allow = {}))))).toMatchObject({
      path: 'spec.rules[0].allow',
      message: 'missing "orders" or "sizes" (an empty list denies)',
    });
  });

  it('empty and duplicate rule names', () => {
    const errors = errorsOf(
      validatePolicy(
        withEdit((d) => {
          const rule = d.spec.rules[0];
          d.spec.rules = [rule, { ...rule, name: '' }, { ...rule }, { ...rule, name: 'bad name' }];
        }),
      ),
    );
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['spec.rules[1].name', 'rule name is empty'],
      [
        'spec.rules[3].name',
        `rule name "bad name" must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
      ],
      ['spec.rules[2].name', 'duplicate rule name "zgc" (first used by spec.rules[0])'],
    ]);
  });

  it('bad cgroup globs', () => {
    const globs = ['workloads.slice/*', '/a/', '/a//b', '/a/../b', '/a/[bc', '/a/{b,c', '/a/b}', '/a/**x', '/a/{1..3}', '/a/{,b}', '/a\\'];
    const errors = errorsOf(validatePolicy(withEdit((d) => (d.spec.rules[0].match.cgroups = globs))));
    expect(errors.map((e) => e.path)).toEqual(globs.map((_, i) => `spec.rules[0].match.cgroups[${i}]`));
    expect(errors[0]?.message).toBe(
      `cgroup glob "workloads.slice/*" must be absolute: start it with '/' (paths are relative to the cgroup v2 root)`,
    );
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringContaining('must be absolute'),
      expect.stringContaining("must not end with '/'"),
      expect.stringContaining("empty path segment ('//')"),
      expect.stringContaining("'.' or '..' segment"),
      expect.stringContaining("unclosed '['"),
      expect.stringContaining("unclosed '{'"),
      expect.stringContaining("'}' without a matching '{'"),
      expect.stringContaining("'**' must be a whole path segment"),
      expect.stringContaining('ranges like {1..3} are not supported'),
      expect.stringContaining(`alternative "/a/" of cgroup glob "/a/" must not end with '/'`),
      expect.stringContaining('ends with an escape character'),
    ]);
  });

  it('empty cgroups, contexts and advice lists', () => {
    const errors = errorsOf(
      validatePolicy(withEdit((d) => (d.spec.rules[0].match = { cgroups: [], contexts: [], advice: [] }))),
    );
    expect(errors.map((e) => e.path)).toEqual([
      'spec.rules[0].match.cgroups',
      'spec.rules[0].match.contexts',
      'spec.rules[0].match.advice',
    ]);
  });

  it('unknown context and advice names, with suggestions', () => {
    const errors = errorsOf(
      validatePolicy(withEdit((d) => (d.spec.rules[0].match = { cgroups: ['/'], contexts: ['page_fault'], advice: ['hugepages'] }))),
    );
    expect(errors.map((e) => e.message)).toEqual([
      'context "page_fault" is not one of "smaps", "pagefault", "khugepaged", "forced_collapse"; did you mean "pagefault"?',
      'advice "hugepages" is not one of "none", "hugepage", "nohugepage"; did you mean "hugepage"?',
    ]);
  });

  it('pressure threshold out of range or too precise', () => {
    const at = (v: unknown) =>
      only(validatePolicy(withEdit((d) => (d.spec.rules[0].underPressure = { memorySomeAvg10Above: v, orders: [] }))));
    expect(at(-1)).toMatchObject({
      path: 'spec.rules[0].underPressure.memorySomeAvg10Above',
      message: 'memorySomeAvg10Above -1 is out of range 0..100 (percent)',
    });
    expect(at(100.5).message).toBe('memorySomeAvg10Above 100.5 is out of range 0..100 (percent)');
    expect(at(12.345).message).toContain('more than two decimals');
    expect(at('20%').message).toBe('memorySomeAvg10Above must be a percentage 0..100, got the string "20%"');
    expect(validatePolicy(withEdit((d) => (d.spec.rules[0].underPressure = { memorySomeAvg10Above: 12.34, orders: [] }))).ok).toBe(true);
  });

  it(`more than MAX_RULES (${MAX_RULES}) rules`, () => {
    const errors = errorsOf(
      validatePolicy(
        withEdit((d) => {
          d.spec.rules = Array.from({ length: MAX_RULES + 1 }, (_, i) => ({
            name: `r${i}`,
            match: { cgroups: [`/c${i}`] },
            allow: { orders: [9] },
          }));
        }),
      ),
    );
    expect(errors).toEqual([
      {
        path: 'spec.rules',
        message: '33 rules; at most 32 are allowed (the kernel\'s per-cgroup rule set is a 32-bit mask)',
        severity: 'error',
      },
    ]);
  });

  it('wrong apiVersion, kind and policy name', () => {
    const errors = errorsOf(
      validatePolicy(
        withEdit((d) => {
          d.apiVersion = 'thp.fleet/v2';
          d.kind = 'Policy';
          d.metadata.name = 'Zgc Only';
        }),
      ),
    );
    expect(errors.map((e) => e.message)).toEqual([
      'apiVersion must be "thp.fleet/v1", got the string "thp.fleet/v2"',
      'kind must be "ThpPolicy", got the string "Policy"',
      `policy name "Zgc Only" must be 1-63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit`,
    ]);
  });

  it('default action: bad action, orders where none belong', () => {
    expect(only(validatePolicy(withEdit((d) => (d.spec.default = { action: 'alow' }))))).toMatchObject({
      path: 'spec.default.action',
      message: 'action "alow" is not one of "deny", "unchanged", "allow"; did you mean "allow"?',
    });
    expect(only(validatePolicy(withEdit((d) => (d.spec.default = { action: 'deny', orders: [9] }))))).toMatchObject({
      path: 'spec.default.orders',
      message: '"orders" is only valid with action: allow',
    });
  });

  it('node section: every field checked', () => {
    const errors = errorsOf(
      validatePolicy(
        withEdit(
          (d) =>
            (d.spec.node = {
              enabled: 'on',
              defrag: 'sometimes',
              shmemEnabled: true,
              hugepages: { '8kB': 'always', '64K': 'sometimes', '2M': 'inherit', '2048kB': 'never', '3M': 'always' },
              khugepaged: { maxPtesNone: 512, pagesToScan: 0, scanSleep: 1 },
              withoutHook: 'allow',
            }),
        ),
      ),
    );
    expect(errors.map((e) => [e.path, e.message])).toEqual([
      ['spec.node.enabled', 'enabled "on" is not one of "always", "madvise", "never"'],
      [
        'spec.node.defrag',
        'defrag "sometimes" is not one of "always", "defer", "defer+madvise", "madvise", "never"',
      ],
      [
        'spec.node.shmemEnabled',
        'shmemEnabled must be one of "always", "within_size", "advise", "never", "deny", "force", got the boolean true',
      ],
      [
        'spec.node.hugepages["8kB"]',
        'hugepages-8kB has no anonymous "enabled" control: order 1 is not an anonymous THP order (its directory exists for shmem/file only)',
      ],
      ['spec.node.hugepages["64K"]', 'hugepages mode "sometimes" is not one of "always", "inherit", "madvise", "never"'],
      ['spec.node.hugepages["2048kB"]', '"2048kB" is the same size as "2M" (2048kB)'],
      ['spec.node.hugepages["3M"]', '3M is not a THP size: THP sizes are 4K << order, from 16K (order 2) to 2M (order 9)'],
      ['spec.node.khugepaged.scanSleep', 'unknown field "scanSleep" (expected one of "maxPtesNone", "pagesToScan")'],
      ['spec.node.khugepaged.maxPtesNone', 'maxPtesNone 512 is out of range 0..511'],
      ['spec.node.khugepaged.pagesToScan', 'pagesToScan 0 is out of range 1..4294967295'],
      ['spec.node.withoutHook', 'withoutHook "allow" is not one of "deny", "node-level"'],
    ]);
  });

  it('returns every error at once, not just the first', () => {
    const errors = errorsOf(
      validatePolicy({
        apiVersion: 'v1',
        kind: 'ThpPolicy',
        metadata: { name: '', extra: 1 },
        spec: {
          default: { action: 'allow', orders: [1] },
          rules: [
            { name: 'a', match: { cgroups: ['x'] }, allow: { orders: [10] } },
            { name: 'a', match: { cgroups: ['/y'] }, allow: { sizes: ['1G'] }, underPressure: { memorySomeAvg10Above: 101, orders: [] } },
          ],
        },
      }),
    );
    expect(errors.map((e) => e.path)).toEqual([
      'apiVersion',
      'metadata.extra',
      'metadata.name',
      'spec.default.orders[0]',
      'spec.rules[0].match.cgroups[0]',
      'spec.rules[0].allow.orders[0]',
      'spec.rules[1].allow.sizes[0]',
      'spec.rules[1].underPressure.memorySomeAvg10Above',
      'spec.rules[1].name',
    ]);
  });

  it('non-mapping documents', () => {
    for (const doc of [null, 42, 'apiVersion: thp.fleet/v1', [], new Map(), new Set()]) {
      const issue = only(validatePolicy(doc));
      expect(issue.path).toBe('');
      expect(issue.message).toMatch(/^a policy must be a mapping with apiVersion, kind, metadata and spec; got /);
    }
  });
});

describe('validatePolicy: warnings', () => {
  const rule = (name: string, match: object, allow: object = { orders: [9] }) => ({ name, match, allow });
  const warningsFor = (rules: object[], node?: object) => {
    const result = validatePolicy(withEdit((d) => ((d.spec.rules = rules), node && (d.spec.node = node))));
    expect(result.ok).toBe(true);
    return result.warnings.map((w) => [w.path, w.message]);
  };

  it('a rule shadowed by an earlier, broader rule', () => {
    expect(warningsFor([rule('all', { cgroups: ['/**'] }), rule('zgc', { cgroups: ['/workloads.slice/zgc-*'] })])).toEqual([
      [
        'spec.rules[1]',
        'rule "zgc" can never decide: the earlier rule "all" (spec.rules[0]) matches every cgroup, context and advice it matches',
      ],
    ]);
    // Identical globs, narrower contexts and advice; pressure gates do not matter.
    expect(
      warningsFor([
        { ...rule('a', { cgroups: ['/x/*', '/y'] }), underPressure: { memorySomeAvg10Above: 5, orders: [] } },
        rule('b', { cgroups: ['/x/*'], contexts: ['pagefault'], advice: ['hugepage'] }, { orders: [4] }),
      ]),
    ).toHaveLength(1);
    // Covered through a literal prefix: /x/* selects /x/k, whose subtree holds /x/k/**/z*.
    expect(warningsFor([rule('a', { cgroups: ['/x/*'] }), rule('b', { cgroups: ['/x/k/**/z*'] })])).toHaveLength(1);
  });

  it('no shadowing warning when the later rule reaches something the earlier does not', () => {
    expect(warningsFor([rule('a', { cgroups: ['/x/*'], contexts: ['pagefault'] }), rule('b', { cgroups: ['/x/*'] })])).toEqual([]);
    expect(warningsFor([rule('a', { cgroups: ['/x/*'], advice: ['hugepage'] }), rule('b', { cgroups: ['/x/*'] })])).toEqual([]);
    expect(warningsFor([rule('a', { cgroups: ['/x/a*'] }), rule('b', { cgroups: ['/x/*'] })])).toEqual([]);
    expect(warningsFor([rule('a', { cgroups: ['/x/*'] }), rule('b', { cgroups: ['/x/*', '/y'] })])).toEqual([]);
    // Later rules are never reported as shadowing earlier ones.
    expect(warningsFor([rule('b', { cgroups: ['/x/y'] }), rule('a', { cgroups: ['/**'] })])).toEqual([]);
  });

  it('duplicates, no-op or widening gates, PMD-only contexts, allow without orders', () => {
    const result = validatePolicy(
      withEdit((d) => {
        d.spec.default = { action: 'allow', orders: [] };
        d.spec.rules = [
          { ...rule('a', { cgroups: ['/a', '/a'], contexts: ['khugepaged', 'khugepaged'] }, { orders: [4, 4] }) },
          { ...rule('b', { cgroups: ['/b'] }), underPressure: { memorySomeAvg10Above: 100, orders: [9] } },
          { ...rule('c', { cgroups: ['/c'] }, { orders: [4] }), underPressure: { memorySomeAvg10Above: 10, orders: [4, 9] } },
        ];
      }),
    );
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => w.path)).toEqual([
      'spec.default',
      'spec.rules[0].match.cgroups[1]',
      'spec.rules[0].match.contexts[1]',
      'spec.rules[0].allow.orders[1]',
      'spec.rules[1].underPressure.memorySomeAvg10Above',
      'spec.rules[0].allow',
      'spec.rules[1].underPressure',
      'spec.rules[2].underPressure',
    ]);
    expect(result.warnings[5]?.message).toBe(
      'khugepaged and forced_collapse only request PMD order 9 (kernel-interface.md 2.7), so this rule denies every call it matches',
    );
  });

  it('node settings that make granted orders impossible', () => {
    const warnings = warningsFor([rule('a', { cgroups: ['/a'] }, { sizes: ['64K', '2M'] })], {
      enabled: 'never',
      hugepages: { '64kB': 'never', '2M': 'inherit' },
    });
    expect(warnings).toEqual([
      [
        'spec.node.enabled',
        'enabled: never with rules that grant THP: BPF can only narrow what sysfs allows, so only sizes set to always or madvise under hugepages can be granted',
      ],
      [
        'spec.rules[0].allow',
        'orders 4 (64K), 9 (2M) can never be granted: spec.node.hugepages sets "64kB", "2M" so sysfs does not allow them, and BPF can only narrow',
      ],
    ]);
    expect(warningsFor([rule('a', { cgroups: ['/a'] })], { withoutHook: 'node-level' })).toEqual([
      [
        'spec.node.withoutHook',
        'withoutHook: node-level with no node settings: on a kernel without the hook the agent would change nothing',
      ],
    ]);
  });
});

describe('parsePolicy: YAML and JSON text with positions', () => {
  const yaml = [
    'apiVersion: thp.fleet/v1', //  1
    'kind: ThpPolicy', //           2
    'metadata: { name: demo }', //  3
    'spec:', //                     4
    '  default: { action: deny }', // 5
    '  rules:', //                  6
    '    - name: zgc', //           7
    '      match:', //              8
    '        cgroups: ["/workloads.slice/zgc-*"]', // 9
    '      allow: { orders: [9] }', // 10
    '    - name: big', //           11
    '      match: { cgroups: ["/a"], contxts: [pagefault] }', // 12
    '      allow: { orders: [9, 10] }', // 13
  ].join('\n');

  it('points at the offending node (value or key)', () => {
    const errors = errorsOf(parsePolicy(yaml));
    expect(errors).toEqual([
      {
        path: 'spec.rules[1].match.contxts',
        message: 'unknown field "contxts"; did you mean "contexts"?',
        severity: 'error',
        line: 12,
        column: 33,
      },
      { path: 'spec.rules[1].allow.orders[1]', message: 'order 10 exceeds PMD order 9', severity: 'error', line: 13, column: 28 },
    ]);
  });

  it('points at the parent mapping for a missing field', () => {
    const errors = errorsOf(parsePolicy(yaml.replace('      allow: { orders: [9] }\n', '')));
    expect(errors.find((e) => e.path === 'spec.rules[0].allow')).toMatchObject({ line: 7, column: 7 });
  });

  it('reads JSON, with positions', () => {
    const json = JSON.stringify(
      { ...GOOD, spec: { ...GOOD.spec, rules: [{ ...GOOD.spec.rules[0], allow: { orders: [11] } }] } },
      null,
      2,
    );
    const issue = only(parsePolicy(json));
    const line = json.split('\n').findIndex((l) => l.includes('11')) + 1;
    expect(issue).toMatchObject({ path: 'spec.rules[0].allow.orders[0]', line });
    const tabbed = JSON.stringify(GOOD, null, '\t');
    expect(parsePolicy(tabbed)).toEqual(validatePolicy(GOOD));
  });

  it('YAML syntax errors carry their line', () => {
    const errors = errorsOf(parsePolicy('apiVersion: thp.fleet/v1\nkind: [ThpPolicy\nmetadata: {}\n'));
    expect(errors[0]).toMatchObject({ path: '', line: 3, severity: 'error' });
    expect(errors[0]?.message).toMatch(/^YAML syntax: /);
    expect(only(parsePolicy('a: 1\na: 2\n'))).toMatchObject({ line: 2, column: 1, message: 'YAML syntax: Map keys must be unique' });
    expect(only(parsePolicy('a: 1\n---\nb: 2\n')).message).toContain('multiple documents');
  });

  it('aliases: unresolved, cyclic and exponential ones are errors, never a throw or a hang', () => {
    expect(only(parsePolicy('a: *nowhere\n')).message).toContain('Unresolved alias');
    const cyclic = parsePolicy(`${yaml.replace('cgroups: ["/workloads.slice/zgc-*"]', 'cgroups: &c [*c]')}\n`);
    expect(cyclic.ok).toBe(false);
    const bomb = ['a: &a [x,x,x,x,x,x,x,x,x,x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${`*${'abcdefg'[i]},`.repeat(10)}]`)].join('\n');
    expect(only(parsePolicy(bomb)).message).toContain('resource exhaustion');
  });

  it('empty text and oversized text', () => {
    expect(only(parsePolicy('')).message).toMatch(/^a policy must be a mapping/);
    expect(only(parsePolicy(' '.repeat((1 << 20) + 1))).message).toBe('policy text is 1048577 characters; the limit is 1048576');
  });

  it('the example policies are valid', async () => {
    const { default: zgcOnly } = await import('../examples/zgc-only.yaml?raw');
    const { default: everywhere } = await import('../examples/thp-everywhere.yaml?raw');
    for (const text of [zgcOnly, everywhere]) {
      const result = parsePolicy(text);
      expect(result.ok, JSON.stringify(result)).toBe(true);
      expect(result.warnings).toEqual([]);
    }
    // Golden hash: a change to the canonical form changes every stored policy hash. If this
    // fails on purpose, say so in the release notes and update docs/policy.md section 8.
    const zgc = parsePolicy(zgcOnly);
    if (zgc.ok) expect(policyHash(zgc.policy)).toBe('3c4637942705f9198cee9161f12fe322b4fc7ba1566d901c08f8a93f624b8e82');
  });
});

describe('property: any document gives a valid policy or errors, never a throw', () => {
  /** JSON-ish trees that sometimes reuse spec field names so validation goes deep. */
  const fieldName = fc.constantFrom(
    'apiVersion', 'kind', 'metadata', 'spec', 'name', 'description', 'default', 'rules', 'node', 'action',
    'match', 'allow', 'underPressure', 'cgroups', 'contexts', 'advice', 'orders', 'sizes',
    'memorySomeAvg10Above', 'enabled', 'defrag', 'hugepages', 'khugepaged', 'withoutHook', '__proto__', 'constructor', 'x',
  );
  const leaf = fc.oneof(
    fc.constantFrom('thp.fleet/v1', 'ThpPolicy', 'deny', 'allow', 'unchanged', '/**', '/a/*', '2M', '64kB', 'pagefault', 'always', ''),
    fc.integer({ min: -20, max: 1000 }),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.string(),
  );
  const tree = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('list'), tie('map')),
    list: fc.array(tie('node'), { maxLength: 4 }),
    map: fc.dictionary(fieldName, tie('node'), { maxKeys: 5 }),
  })).node;

  /** A valid policy with one random edit at a random depth. */
  const mutated = fc.tuple(policyArb, fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), tree, fc.nat()).map(([policy, walk, value, how]) => {
    const doc = clone(policy);
    let node = doc;
    for (const step of walk) {
      const keys = node !== null && typeof node === 'object' ? Object.keys(node) : [];
      if (keys.length === 0) break;
      const k = keys[step % keys.length]!;
      const child = (node as Record<string, unknown>)[k];
      if (child === null || typeof child !== 'object' || step % 4 === 0) {
        const target = node as Record<string, unknown>;
        if (how % 3 === 0) delete target[k];
        else if (how % 3 === 1) target[k] = value;
        else target[`${k}x`] = value;
        break;
      }
      node = child;
    }
    return doc;
  });

  const check = (result: ValidationResult) => {
    if (result.ok) {
      expect(() => canonicalize(result.policy)).not.toThrow();
    } else {
      expect(result.errors.length).toBeGreaterThan(0);
      for (const e of result.errors) expect(e.severity).toBe('error');
    }
  };

  it('5,000 random JSON-ish trees', () => {
    fc.assert(
      fc.property(fc.oneof(tree, fc.jsonValue()), (doc) => {
        check(validatePolicy(doc));
      }),
      { numRuns: 5000 },
    );
  });

  it('5,000 mutated valid policies, as objects and as YAML text', () => {
    fc.assert(
      fc.property(mutated, (doc) => {
        const direct = validatePolicy(doc);
        check(direct);
        const viaText = parsePolicy(stringify(doc));
        check(viaText);
        expect(viaText.ok).toBe(direct.ok);
      }),
      { numRuns: 5000 },
    );
  });

  it('1,000 random edits of YAML text', () => {
    const text = stringify(GOOD);
    fc.assert(
      fc.property(fc.nat({ max: text.length }), fc.nat({ max: 8 }), fc.string({ maxLength: 6 }), (at, cut, insert) => {
        check(parsePolicy(text.slice(0, at) + insert + text.slice(at + cut)));
      }),
      { numRuns: 1000 },
    );
  });

  it('valid random policies validate without errors', () => {
    fc.assert(
      fc.property(policyArb, (policy) => {
        const result = validatePolicy(policy);
        expect(result.ok ? [] : result.errors).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});
