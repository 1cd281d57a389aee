/**
 * Named THP policies (sysfs settings plus an optional hook) and named scenarios (node size,
 * workload mix, duration), so a person or a test can compare policies on the same node and
 * seed. Outcomes are never scripted here: a scenario only starts workloads and lets the
 * mechanics run.
 */
import { highestOrder, type HookAbi, type HookInput, type ThpHook } from '@thp-fleet/policy';
import type { CgroupInfo } from './cgroups.js';
import { GIB } from './constants.js';
import type { NodeMetrics } from './metrics.js';
import { createNode, type SimNode } from './node.js';
import type { SysfsPatch } from './sysfs.js';
import { standardWorkloadMix, type WorkloadSpec } from './workloads.js';

export interface PolicyDefinition {
  readonly name: string;
  readonly description: string;
  readonly sysfs: SysfsPatch;
  /** Builds the hook for a node; absent = no hook attached. */
  readonly hook?: (node: SimNode) => ThpHook;
  readonly abi?: HookAbi;
}

/**
 * A hook that allows THP (the highest requested order) for cgroups selected by `allow` and
 * denies it (returns 0) for all others. Valid under every ABI (kif 7.2: "a safe policy
 * encoding returns an order present in orders, or 0"). Cgroup ids are resolved to paths
 * through the node's tree and cached.
 */
export function cgroupAllowHook(node: SimNode, allow: (path: string) => boolean): ThpHook {
  const cache = new Map<number, boolean>();
  const resolve = (id: number): boolean => {
    const found = cache.get(id);
    if (found !== undefined) return found;
    const paths = new Map<number, string>();
    const walk = (c: CgroupInfo): void => {
      paths.set(c.id, c.path);
      c.children.forEach(walk);
    };
    walk(node.cgroups());
    const path = paths.get(id);
    const ok = path !== undefined && allow(path);
    cache.set(id, ok);
    return ok;
  };
  return (input: HookInput): number => {
    const chain = input.cgroupChain;
    for (let i = 0; i < chain.length; i++) {
      if (resolve(chain[i]!)) return Math.max(0, highestOrder(input.requestedOrders));
    }
    return 0;
  };
}

const base = (name: string): string => name.slice(name.lastIndexOf('/') + 1);

export const POLICIES: Readonly<Record<string, PolicyDefinition>> = {
  never: {
    name: 'never',
    description: 'THP off: enabled=never, shmem_enabled=never (what most fleets run)',
    sysfs: { enabled: 'never', shmem_enabled: 'never', defrag: 'madvise' },
  },
  madvise: {
    name: 'madvise',
    description: 'enabled=madvise, shmem_enabled=advise, defrag=madvise (ZGC recommendation; only madvised memory gets THP)',
    sysfs: { enabled: 'madvise', shmem_enabled: 'advise', defrag: 'madvise' },
  },
  always: {
    name: 'always',
    description: 'enabled=always with the default defrag=madvise and max_ptes_none=511',
    sysfs: { enabled: 'always', shmem_enabled: 'advise', defrag: 'madvise', khugepaged: { max_ptes_none: 511 } },
  },
  everywhere: {
    name: 'everywhere',
    description: 'THP everywhere: enabled=always, defrag=always, max_ptes_none=511, no hook',
    sysfs: { enabled: 'always', shmem_enabled: 'advise', defrag: 'always', khugepaged: { max_ptes_none: 511 } },
  },
  tuned: {
    name: 'tuned',
    description: 'enabled=always, defrag=defer+madvise, max_ptes_none=0 (TCMalloc/Go/MongoDB guidance, mech 3)',
    sysfs: { enabled: 'always', shmem_enabled: 'advise', defrag: 'defer+madvise', khugepaged: { max_ptes_none: 0 } },
  },
  'zgc-only': {
    name: 'zgc-only',
    description: 'THP only for zgc and tlb-analytics: enabled=always, defrag=madvise, hook denies every other cgroup (the production recipe)',
    sysfs: { enabled: 'always', shmem_enabled: 'advise', defrag: 'madvise', khugepaged: { max_ptes_none: 511 } },
    hook: (node) => cgroupAllowHook(node, (path) => /^(zgc|tlb-analytics)/.test(base(path))),
  },
};

export interface ScenarioDefinition {
  readonly name: string;
  readonly description: string;
  readonly memoryBytes: number;
  readonly durationMs: number;
  readonly workloads: readonly WorkloadSpec[];
  /** Policies compared by default. */
  readonly policies: readonly string[];
}

const MIN = 60_000;

export const SCENARIOS: Readonly<Record<string, ScenarioDefinition>> = {
  standard: {
    name: 'standard',
    description: '64 GiB node with the six-workload mix for one hour',
    memoryBytes: 64 * GIB,
    durationMs: 60 * MIN,
    workloads: standardWorkloadMix(64 * GIB),
    policies: ['never', 'zgc-only', 'everywhere'],
  },
  fragmentation: {
    name: 'fragmentation',
    description: 'page-cache batch job fragmenting a 16 GiB node while a latency service grows and trims its arenas (non-madvised)',
    memoryBytes: 16 * GIB,
    durationMs: 20 * MIN,
    workloads: [
      // A faster reader than the standard mix's (3 ms of CPU per MiB): more page-cache churn.
      { kind: 'batch-pagecache', scale: 0.25, params: { cpuUsPerOp: 3000 } },
      { kind: 'latency-svc', scale: 1 },
      { kind: 'tcmalloc-svc', scale: 0.25 },
    ],
    policies: ['never', 'always', 'everywhere'],
  },
  'kv-bloat': {
    name: 'kv-bloat',
    description: 'sparse Redis-like store next to a page-cache job on 32 GiB',
    memoryBytes: 32 * GIB,
    durationMs: 20 * MIN,
    workloads: [
      { kind: 'kv-store', scale: 0.5 },
      { kind: 'batch-pagecache', scale: 0.5 },
    ],
    policies: ['never', 'always', 'everywhere', 'tuned'],
  },
  zgc: {
    name: 'zgc',
    description: 'ZGC JVM with a madvised shmem heap next to a page-cache job on 32 GiB',
    memoryBytes: 32 * GIB,
    durationMs: 15 * MIN,
    workloads: [
      { kind: 'zgc-jvm', scale: 1 },
      { kind: 'batch-pagecache', scale: 0.5 },
    ],
    policies: ['never', 'madvise', 'zgc-only'],
  },
  analytics: {
    name: 'analytics',
    description: 'TLB-bound analytics job alone on 32 GiB',
    memoryBytes: 32 * GIB,
    durationMs: 15 * MIN,
    workloads: [{ kind: 'tlb-analytics', scale: 1 }],
    policies: ['never', 'always'],
  },
};

export interface RunOptions {
  readonly seed?: number;
  readonly durationMs?: number;
  readonly memoryBytes?: number;
  readonly tickMs?: number;
}

function resolvePolicy(policy: string | PolicyDefinition): PolicyDefinition {
  if (typeof policy !== 'string') return policy;
  const p = POLICIES[policy];
  if (p === undefined) throw new Error(`unknown policy ${JSON.stringify(policy)} (known: ${Object.keys(POLICIES).join(', ')})`);
  return p;
}

function resolveScenario(s: string | ScenarioDefinition): ScenarioDefinition {
  if (typeof s !== 'string') return s;
  const d = SCENARIOS[s];
  if (d === undefined) throw new Error(`unknown scenario ${JSON.stringify(s)} (known: ${Object.keys(SCENARIOS).join(', ')})`);
  return d;
}

/** Creates a scenario's node with a policy applied (workloads start at time 0). */
export function createScenarioNode(scenario: string | ScenarioDefinition, policy: string | PolicyDefinition, opts: RunOptions = {}): SimNode {
  const s = resolveScenario(scenario);
  const p = resolvePolicy(policy);
  const mem = opts.memoryBytes ?? s.memoryBytes;
  const scale = mem / s.memoryBytes;
  const node = createNode(
    {
      memoryBytes: mem,
      sysfs: p.sysfs,
      ...(opts.tickMs !== undefined ? { tickMs: opts.tickMs } : {}),
      ...(p.abi !== undefined ? { hookAbi: p.abi } : {}),
    },
    opts.seed ?? 1,
  );
  for (const w of s.workloads) node.addWorkload({ ...w, scale: (w.scale ?? 1) * scale });
  if (p.hook !== undefined) node.setHook(p.hook(node), p.abi);
  return node;
}

/** Runs a scenario under a policy and returns the final metrics. */
export function runScenario(scenario: string | ScenarioDefinition, policy: string | PolicyDefinition, opts: RunOptions = {}): NodeMetrics {
  const s = resolveScenario(scenario);
  const node = createScenarioNode(s, policy, opts);
  node.runFor(opts.durationMs ?? s.durationMs);
  return node.metrics();
}
