/**
 * Test helpers: fast-check arbitraries for valid policies and cgroup trees, meaning-preserving
 * rewrites of a policy, and an independent glob oracle (regular expressions, not minimatch).
 */
import fc from 'fast-check';
import { ALLOCATION_CONTEXTS, VMA_ADVICE_NAMES, type ThpPolicy } from './spec.js';

/** Path segments the generators draw from (a small alphabet so globs and paths collide). */
export const SEGMENTS = ['workloads.slice', 'zgc-jvm', 'zgc-a', 'kv-store', 'a', 'b', '.x'] as const;

const globSegment = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 2, arbitrary: fc.constantFrom('*', 'zgc-*', '?', 'k*-store', '*.slice') },
  { weight: 1, arbitrary: fc.constant('**') },
  { weight: 1, arbitrary: fc.constant('{a,b}') },
);

/** Globs using the syntax the oracle understands: literals, `*`, `?`, `**` segments, `{a,b}`. */
export const globArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.array(globSegment, { minLength: 1, maxLength: 4 }).map((s) => '/' + s.join('/')) },
  { weight: 1, arbitrary: fc.constantFrom('/', '/**') },
);

export const cgroupPathArb: fc.Arbitrary<string> = fc
  .array(fc.constantFrom(...SEGMENTS), { minLength: 0, maxLength: 6 })
  .map((s) => '/' + s.join('/'));

/** A set of cgroups with unique ids (ids sometimes above 2^32, always below 2^53). */
export const cgroupsArb = fc
  .uniqueArray(cgroupPathArb, { maxLength: 40 })
  .chain((paths) =>
    fc
      .uniqueArray(fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 2 ** 32, max: Number.MAX_SAFE_INTEGER })), {
        minLength: paths.length,
        maxLength: paths.length,
      })
      .map((ids) => paths.map((path, i) => ({ id: ids[i] ?? 0, path }))),
  );

const ordersArb = fc.uniqueArray(fc.integer({ min: 2, max: 9 }), { maxLength: 8 });

function sizeSpelling(order: number, style: number): string {
  const kb = 4 << order;
  switch (style % 5) {
    case 0:
      return `${kb}kB`;
    case 1:
      return `${kb}K`;
    case 2:
      return kb >= 1024 ? `${kb / 1024}M` : `${kb}KiB`;
    case 3:
      return `${kb}KB`;
    default:
      return kb >= 1024 ? `${kb / 1024}MiB` : `${kb}k`;
  }
}

const orderSetArb = fc
  .tuple(ordersArb, fc.boolean(), fc.nat())
  .map(([orders, asSizes, style]) => (asSizes ? { sizes: orders.map((o) => sizeSpelling(o, style)) } : { orders }));

const ruleNameArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/);

const ruleArb = (name: string) =>
  fc
    .record(
      {
        cgroups: fc.uniqueArray(globArb, { minLength: 1, maxLength: 3 }),
        contexts: fc.subarray([...ALLOCATION_CONTEXTS], { minLength: 1 }),
        advice: fc.subarray([...VMA_ADVICE_NAMES], { minLength: 1 }),
        allow: orderSetArb,
        gate: fc.option(fc.tuple(fc.integer({ min: 0, max: 9999 }), orderSetArb), { nil: undefined }),
      },
      { requiredKeys: ['cgroups', 'allow'] },
    )
    .map((r) => ({
      name,
      match: {
        cgroups: r.cgroups,
        ...(r.contexts === undefined ? {} : { contexts: r.contexts }),
        ...(r.advice === undefined ? {} : { advice: r.advice }),
      },
      allow: r.allow,
      ...(r.gate === undefined ? {} : { underPressure: { memorySomeAvg10Above: r.gate[0] / 100, ...r.gate[1] } }),
    }));

const nodeArb = fc.record(
  {
    enabled: fc.constantFrom('always', 'madvise', 'never'),
    defrag: fc.constantFrom('always', 'defer', 'defer+madvise', 'madvise', 'never'),
    shmemEnabled: fc.constantFrom('always', 'within_size', 'advise', 'never', 'deny', 'force'),
    hugepages: fc.dictionary(
      fc.integer({ min: 2, max: 9 }).map((o) => `${4 << o}kB`),
      fc.constantFrom('always', 'inherit', 'madvise', 'never'),
      { maxKeys: 3 },
    ),
    khugepaged: fc.record(
      { maxPtesNone: fc.integer({ min: 0, max: 511 }), pagesToScan: fc.integer({ min: 1, max: 100_000 }) },
      { requiredKeys: [] },
    ),
    withoutHook: fc.constantFrom('deny', 'node-level'),
  },
  { requiredKeys: [] },
);

/** A valid policy (0..8 rules with unique names, every optional field sometimes present). */
export const policyArb: fc.Arbitrary<ThpPolicy> = fc
  .record(
    {
      name: ruleNameArb,
      description: fc.string({ maxLength: 20 }),
      default: fc.oneof(
        fc.constant({ action: 'deny' as const }),
        fc.constant({ action: 'unchanged' as const }),
        orderSetArb.map((s) => ({ action: 'allow' as const, ...s })),
      ),
      ruleNames: fc.uniqueArray(ruleNameArb, { maxLength: 8 }),
      node: nodeArb,
    },
    { requiredKeys: ['name', 'default', 'ruleNames'] },
  )
  .chain((p) =>
    fc.tuple(...p.ruleNames.map(ruleArb)).map(
      (rules): ThpPolicy => ({
          apiVersion: 'thp.fleet/v1',
          kind: 'ThpPolicy',
          metadata: p.description === undefined ? { name: p.name } : { name: p.name, description: p.description },
          spec: { default: p.default, rules, ...(p.node === undefined ? {} : { node: p.node }) },
        }),
    ),
  );

/**
 * Rewrite a policy without changing its meaning: reorder keys, spell orders as sizes and
 * back, drop default-valued fields or spell them out, shuffle sets, add duplicates.
 */
export function sameMeaningArb(policy: ThpPolicy): fc.Arbitrary<unknown> {
  return fc.infiniteStream(fc.nat()).map((stream) => {
    const it = stream[Symbol.iterator]();
    const rand = (n: number) => (n <= 1 ? 0 : (it.next().value as number) % n);
    const shuffle = <T>(xs: readonly T[]): T[] => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = rand(i + 1);
        [out[i], out[j]] = [out[j] as T, out[i] as T];
      }
      return out;
    };
    const reorderKeys = (o: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(shuffle(Object.entries(o)));
    const respell = (set: { orders?: readonly number[]; sizes?: readonly string[] }): Record<string, unknown> => {
      const orders =
        set.orders ??
        (set.sizes ?? []).map((s) => {
          const m = /^(\d+)\s*([kKmM])/.exec(s);
          const kb = Number(m?.[1]) * (m?.[2]?.toLowerCase() === 'm' ? 1024 : 1);
          return 31 - Math.clz32(kb / 4);
        });
      const shuffled = shuffle([...orders, ...(rand(3) === 0 && orders.length > 0 ? [orders[0] as number] : [])]);
      return rand(2) === 0 ? { orders: shuffled } : { sizes: shuffled.map((o) => sizeSpelling(o, rand(5))) };
    };
    const d = policy.spec.default;
    const def = reorderKeys(
      d.action === 'allow'
        ? { action: 'allow', ...respell(d) }
        : d.action === 'deny' && rand(3) === 0
          ? { action: 'allow', ...respell({ orders: [] }) } // allowing nothing is denying
          : { ...d },
    );
    const rules = policy.spec.rules.map((r) => {
      const contexts = r.match.contexts ?? (rand(2) === 0 ? undefined : shuffle(ALLOCATION_CONTEXTS));
      const advice = r.match.advice ?? (rand(2) === 0 ? undefined : shuffle(VMA_ADVICE_NAMES));
      const match = reorderKeys({
        cgroups: shuffle(r.match.cgroups),
        ...(contexts === undefined ? {} : { contexts: shuffle(contexts) }),
        ...(advice === undefined ? {} : { advice: shuffle(advice) }),
      });
      const gate = r.underPressure;
      return reorderKeys({
        name: r.name,
        match,
        allow: reorderKeys(respell(r.allow)),
        ...(gate === undefined
          ? rand(3) === 0
            ? { underPressure: { memorySomeAvg10Above: rand(100), ...respell(r.allow) } } // a no-op gate
            : {}
          : { underPressure: reorderKeys({ memorySomeAvg10Above: gate.memorySomeAvg10Above, ...respell(gate) }) }),
      });
    });
    const node = policy.spec.node;
    const nodeOut =
      node === undefined
        ? rand(2) === 0
          ? undefined
          : { withoutHook: 'deny' }
        : reorderKeys({
            ...node,
            ...(node.withoutHook === undefined && rand(2) === 0 ? { withoutHook: 'deny' } : {}),
            ...(node.hugepages === undefined
              ? {}
              : {
                  hugepages: reorderKeys(
                    Object.fromEntries(
                      Object.entries(node.hugepages).map(([k, v]) => [sizeSpelling(31 - Math.clz32(Number.parseInt(k, 10) / 4), rand(5)), v]),
                    ),
                  ),
                }),
          });
    const description = policy.metadata.description;
    return reorderKeys({
      apiVersion: policy.apiVersion,
      kind: policy.kind,
      metadata: reorderKeys({
        name: policy.metadata.name,
        ...(description === undefined || (description === '' && rand(2) === 0) ? (rand(2) === 0 ? {} : { description: '' }) : { description }),
      }),
      spec: reorderKeys({ default: def, rules, ...(nodeOut === undefined ? {} : { node: nodeOut }) }),
    });
  });
}

/** Expand `{a,b}` groups (not nested), as the generators write them. */
function expandBraces(glob: string): string[] {
  const m = /\{([^{}]*)\}/.exec(glob);
  if (m === null) return [glob];
  return (m[1] ?? '').split(',').flatMap((alt) => expandBraces(glob.slice(0, m.index) + alt + glob.slice(m.index + m[0].length)));
}

/** One glob segment (not `**`) as a regular expression over one path segment. */
function segmentRegex(seg: string): RegExp {
  const body = seg
    .split('')
    .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/** Segment-list matching with "`**` = zero or more whole segments". */
function matchSegments(glob: readonly string[], path: readonly string[]): boolean {
  if (glob.length === 0) return path.length === 0;
  const [head, ...rest] = glob;
  if (head === '**') {
    for (let skip = 0; skip <= path.length; skip++) if (matchSegments(rest, path.slice(skip))) return true;
    return false;
  }
  return path.length > 0 && segmentRegex(head ?? '').test(path[0] ?? '') && matchSegments(rest, path.slice(1));
}

const split = (p: string): string[] => (p === '/' ? [] : p.slice(1).split('/'));

/** Oracle: does any glob match `path` or one of its ancestors? */
export function oracleSelects(globs: readonly string[], path: string): boolean {
  const expanded = globs.flatMap(expandBraces).map(split);
  const segments = split(path);
  for (let n = 0; n <= segments.length; n++) {
    const prefix = segments.slice(0, n);
    if (expanded.some((g) => matchSegments(g, prefix))) return true;
  }
  return false;
}
