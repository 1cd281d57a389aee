/**
 * Benchmark of `decide` (target: >= 10 million decisions/s in one thread) and of the compiler.
 * Run: `npx nx run policy:bench` (or `npx tsx src/evaluator.bench.ts` in libs/policy).
 *
 * Realistic tables: 10,000 mapped cgroups in a kubepods-like tree, leaves at depth 4-8,
 * 8 rules. Inputs mix the kernel's requests (kernel-interface.md 2.7: PMD order for faults and
 * khugepaged, BIT(PMD_ORDER) - 1 for mTHP faults, all orders for smaps) and four cgroup cases:
 * a mapped leaf (one lookup), a cgroup created a moment ago (walks to its parent), a cgroup
 * outside every glob (walks the whole chain, default action), and a deep chain.
 * Pure script: no Node imports (performance and console are globals in browsers too).
 */
import { bit } from './abi.js';
import { CgroupRuleIndex, compilePolicy, type CgroupRef } from './compile.js';
import { decide } from './evaluator.js';
import type { ThpPolicy } from './spec.js';
import { MAX_CGROUP_DEPTH, PMD_ORDER, type HookInput, type KernelTables, type TvaType, type VmaAdvice } from './types.js';

// The project compiles against the pure ES2023 lib (no DOM or Node types); these two globals
// exist in every runtime the bench runs in.
declare const performance: { now(): number };
declare const console: { log(...args: unknown[]): void };

/** Deterministic PRNG (mulberry32) so every run measures the same inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORKLOADS = ['zgc-jvm', 'tcmalloc-svc', 'kv-store', 'latency-svc', 'batch-pagecache', 'tlb-analytics'];

const POLICY: ThpPolicy = {
  apiVersion: 'thp.fleet/v1',
  kind: 'ThpPolicy',
  metadata: { name: 'bench' },
  spec: {
    default: { action: 'deny' },
    rules: [
      { name: 'kv-deny', match: { cgroups: ['/kubepods.slice/**/kv-store*'] }, allow: { orders: [] } },
      { name: 'latency-deny', match: { cgroups: ['/kubepods.slice/**/latency-svc*'] }, allow: { orders: [] } },
      {
        name: 'zgc',
        match: { cgroups: ['/kubepods.slice/**/zgc-*'], contexts: ['pagefault', 'khugepaged'], advice: ['hugepage', 'none'] },
        allow: { sizes: ['2M'] },
        underPressure: { memorySomeAvg10Above: 20, orders: [] },
      },
      { name: 'zgc-collapse', match: { cgroups: ['/kubepods.slice/**/zgc-*'], contexts: ['forced_collapse'] }, allow: { orders: [9] } },
      { name: 'tcmalloc', match: { cgroups: ['/kubepods.slice/**/tcmalloc-*'], advice: ['hugepage'] }, allow: { sizes: ['2M', '64K'] } },
      { name: 'analytics', match: { cgroups: ['/kubepods.slice/**/tlb-analytics*'] }, allow: { orders: [4, 9] } },
      { name: 'batch', match: { cgroups: ['/kubepods.slice/**/batch-*'], contexts: ['khugepaged'] }, allow: { orders: [9] } },
      { name: 'rest-mthp', match: { cgroups: ['/kubepods.slice/**'] }, allow: { sizes: ['64K'] } },
    ],
  },
};

/** A kubepods-like tree: qos slice / pod / workload container / worker cgroups, depth 4-8. */
function buildTree(count: number, random: () => number): { cgroups: CgroupRef[]; leaves: CgroupRef[] } {
  const cgroups: CgroupRef[] = [];
  let nextId = 1;
  const add = (path: string): CgroupRef => {
    const c = { id: nextId++, path };
    cgroups.push(c);
    return c;
  };
  add('/');
  add('/kubepods.slice');
  const qos = ['/kubepods.slice/kubepods-burstable.slice', '/kubepods.slice/kubepods-besteffort.slice'].map((p) => add(p).path);
  const leaves: CgroupRef[] = [];
  let pod = 0;
  while (cgroups.length < count) {
    const podPath = `${qos[pod % qos.length]}/pod-${pod}`;
    add(podPath);
    const workload = WORKLOADS[pod % WORKLOADS.length]!;
    let path = `${podPath}/${workload}-${pod}`;
    leaves.push(add(path));
    // Nested worker cgroups down to depth 8.
    const extra = Math.floor(random() * 5);
    for (let d = 0; d < extra && cgroups.length < count; d++) {
      path = `${path}/w${d}`;
      leaves.push(add(path));
    }
    pod++;
  }
  return { cgroups, leaves };
}

function chainOf(path: string, ids: ReadonlyMap<string, number>, fresh: number[]): number[] {
  const out: number[] = [...fresh];
  let p = path;
  for (;;) {
    out.push(ids.get(p) ?? 0);
    if (p === '/') break;
    const cut = p.lastIndexOf('/');
    p = cut === 0 ? '/' : p.slice(0, cut);
  }
  return out;
}

const REQUESTS = [bit(PMD_ORDER), bit(PMD_ORDER) - 1, (1 << 19) - 1 - 3];

function makeInputs(kind: 'leaf' | 'fresh' | 'unmapped' | 'mixed', n: number, leaves: CgroupRef[], ids: ReadonlyMap<string, number>, random: () => number): HookInput[] {
  const inputs: HookInput[] = [];
  for (let i = 0; i < n; i++) {
    const k = kind === 'mixed' ? (['leaf', 'leaf', 'leaf', 'fresh', 'unmapped'] as const)[i % 5]! : kind;
    const leaf = leaves[Math.floor(random() * leaves.length)]!;
    let chain: number[];
    if (k === 'leaf') chain = chainOf(leaf.path, ids, []);
    else if (k === 'fresh') chain = chainOf(leaf.path, ids, [10_000_000 + i]);
    else chain = [20_000_000 + i, 20_000_001 + i, 20_000_002 + i, 20_000_003 + i, 20_000_004 + i, ids.get('/') ?? 1];
    inputs.push({
      cgroupChain: Uint32Array.from(chain.slice(0, MAX_CGROUP_DEPTH + 2)),
      tva: Math.floor(random() * 5) as TvaType,
      advice: Math.floor(random() * 3) as VmaAdvice,
      requestedOrders: REQUESTS[Math.floor(random() * REQUESTS.length)]!,
      pressure: Math.floor(random() * 4000),
    });
  }
  return inputs;
}

/** Best of `rounds` timed passes over the inputs, in decisions per second. */
function measure(tables: KernelTables, inputs: HookInput[], decideFn: (t: KernelTables, i: HookInput) => number, rounds = 15, passes = 50): number {
  let sink = 0;
  for (let w = 0; w < 20; w++) for (const input of inputs) sink += decideFn(tables, input); // warm up the JIT
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let p = 0; p < passes; p++) for (let i = 0; i < inputs.length; i++) sink += decideFn(tables, inputs[i]!);
    best = Math.min(best, performance.now() - start);
  }
  if (sink === 0.5) console.log('unreachable'); // keep the results observable so the loop is not dropped
  return (inputs.length * passes) / (best / 1000);
}

/** The contract with plain Map lookups, for comparison with the flat index. */
function decideWithMap(tables: KernelTables, input: HookInput): number {
  let ruleSet = 0;
  const chain = input.cgroupChain;
  const depth = Math.min(chain.length, MAX_CGROUP_DEPTH);
  for (let i = 0; i < depth; i++) {
    const v = tables.cgroupRules.get(chain[i]!);
    if (v !== undefined) {
      ruleSet = v;
      break;
    }
  }
  for (let r = 0; r < tables.rules.length; r++) {
    if (((ruleSet >>> r) & 1) === 0) continue;
    const rule = tables.rules[r]!;
    if (((rule.ctxMask >>> input.tva) & 1) === 0 || ((rule.adviceMask >>> input.advice) & 1) === 0) continue;
    const m = (input.pressure > rule.pressureThreshold ? rule.pressureOrders : rule.allowOrders) & input.requestedOrders;
    return m === 0 ? -2 : 31 - Math.clz32(m);
  }
  return -2;
}

const fmt = (n: number) => `${(n / 1e6).toFixed(1)} M/s`;

const random = rng(42);
const { cgroups, leaves } = buildTree(10_001, random) // the root is not mapped: 10,000 entries;
const ids = new Map(cgroups.map((c) => [c.path, c.id]));

let start = performance.now();
const tables = compilePolicy(POLICY, cgroups);
const compileMs = performance.now() - start;
const depths = leaves.map((l) => l.path.split('/').length - 1);

console.log(`tables: ${tables.cgroupRules.size} cgroups mapped, ${tables.rules.length} rules, leaf depth ${Math.min(...depths)}-${Math.max(...depths)}`);
console.log(`compilePolicy (${cgroups.length} cgroups): ${compileMs.toFixed(0)} ms`);

const index = new CgroupRuleIndex(POLICY, cgroups);
start = performance.now();
for (let i = 0; i < 10_000; i++) index.add(50_000_000 + i, `${leaves[i % leaves.length]!.path}/new-${i}`);
console.log(`CgroupRuleIndex.add (new cgroup under a mapped one): ${((performance.now() - start) / 10).toFixed(1)} us per cgroup`);

console.log('decide, one thread (best of 15 rounds):');
for (const kind of ['mixed', 'leaf', 'fresh', 'unmapped'] as const) {
  const inputs = makeInputs(kind, 4096, leaves, ids, random);
  console.log(`  ${kind.padEnd(8)} flat index ${fmt(measure(tables, inputs, decide))}   plain Map ${fmt(measure(tables, inputs, decideWithMap))}`);
}
