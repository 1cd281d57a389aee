/**
 * Identity of the i-th simulated node of a fleet, deterministic from its index so the same
 * `--sim-nodes N` always yields the same fleet and every label value occurs (rollouts can
 * select by label and the canary judge can compare like with like):
 *
 * - zone: i mod 3;
 * - kernel: which bpf_thp_ops revision the simulated kernel carries (kernel-interface.md 1:
 *   v7 was posted against 6.17, v8 and v12 against 6.18-era trees): half v8, a third v12,
 *   the rest v7, interleaved so every zone gets each;
 * - hardware class: memory size of the simulated node;
 * - workload mix: which workloads run (the standard mix, or one weighted to JVM heaps or to a
 *   key-value store), in blocks of nine nodes, unless `--sim-mix` puts one mix on every node.
 *
 * These label values are synthetic: they name strata for the demo and load tests.
 */
import type { HookAbi } from '@thp-fleet/policy';

export const ZONES = ['zone-a', 'zone-b', 'zone-c'] as const;

export const SIM_KERNELS: readonly { readonly label: string; readonly abi: HookAbi }[] = [
  { label: '6.18-bpf-thp-v8', abi: 'v8' },
  { label: '6.18-bpf-thp-v12', abi: 'v12' },
  { label: '6.17-bpf-thp-v7', abi: 'v7' },
];

export const HARDWARE_CLASSES = ['general-8g', 'memory-16g', 'compact-4g'] as const;
export type HardwareClass = (typeof HARDWARE_CLASSES)[number];

export const WORKLOAD_MIXES = ['standard', 'jvm-heavy', 'kv-heavy'] as const;
export type WorkloadMix = (typeof WORKLOAD_MIXES)[number];

export interface SimNodeIdentity {
  readonly index: number;
  readonly nodeId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly abi: HookAbi;
  readonly hardware: HardwareClass;
  readonly mix: WorkloadMix;
  /** Seed of this node's simulator: the base seed plus the index. */
  readonly seed: number;
}

/** `sim-001`: at least three digits, more when the fleet needs them. */
export function simNodeId(prefix: string, index: number, count: number): string {
  const width = Math.max(3, String(count).length);
  return `${prefix}-${String(index + 1).padStart(width, '0')}`;
}

/** `mix` puts one workload mix on every node instead of the index's (`--sim-mix`). */
export function simNodeIdentity(prefix: string, index: number, count: number, baseSeed: number, extraLabels: Readonly<Record<string, string>> = {}, mix?: WorkloadMix): SimNodeIdentity {
  const zone = ZONES[index % ZONES.length]!;
  // 0,1,2,3,4 -> v8, v12, v8, v7, v12 ... : 1/2 v8 (rounded), 3/10 v12, 1/5 v7 over every 10 nodes.
  const kernelPattern = [0, 1, 0, 2, 0, 1, 0, 2, 0, 1];
  const kernel = SIM_KERNELS[kernelPattern[index % kernelPattern.length]!]!;
  const hardware = HARDWARE_CLASSES[Math.floor(index / 3) % HARDWARE_CLASSES.length]!;
  const nodeMix = mix ?? WORKLOAD_MIXES[Math.floor(index / 9) % WORKLOAD_MIXES.length]!;
  return {
    index,
    nodeId: simNodeId(prefix, index, count),
    labels: { ...extraLabels, zone, kernel: kernel.label, 'hardware-class': hardware, 'workload-mix': nodeMix },
    abi: kernel.abi,
    hardware,
    mix: nodeMix,
    seed: (baseSeed + index) >>> 0,
  };
}
