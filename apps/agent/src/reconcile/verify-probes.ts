/**
 * Verification after a load or update: decisions computed where enforcement happens (the
 * kernel's test-run program for bpf, the installed hook for sim) must equal libs/policy's
 * reference `decide` over the tables the agent meant to install, for a set of probe inputs
 * that touches every rule: each mapped cgroup (with its real ancestor chain) and one unmapped
 * cgroup, every allocation context, every advice, a full and a PMD-only request, and the
 * pressure below and above every rule's gate.
 */
import { MAX_CGROUP_DEPTH, NO_PRESSURE_GATE, THP_ORDERS_ALL_ANON, PMD_ORDER, decide, type HookInput, type KernelTables, type TvaType, type VmaAdvice } from '@thp-fleet/policy';
import { cgroupChain, type CgroupTree } from '../cgroups/cgroup-tree.js';

/** Mapped cgroups probed per verification; more are checked by the map content hash only. */
export const MAX_PROBED_CGROUPS = 32;

export function probeInputs(tables: KernelTables, tree: CgroupTree): HookInput[] {
  const chains: number[][] = [];
  let probed = 0;
  for (const id of tables.cgroupRules.keys()) {
    if (probed++ >= MAX_PROBED_CGROUPS) break;
    const chain = tree.has(id) ? cgroupChain(tree, id) : [id];
    chains.push(chain.slice(0, MAX_CGROUP_DEPTH));
  }
  // A cgroup id no map holds: the default action.
  const unmapped = [...tree.keys()].find((id) => !tables.cgroupRules.has(id) && cgroupChain(tree, id).every((a) => !tables.cgroupRules.has(a)));
  chains.push([unmapped ?? 0]);
  const pressures = new Set<number>([0]);
  for (const rule of tables.rules) {
    if (rule.pressureThreshold !== NO_PRESSURE_GATE) {
      pressures.add(rule.pressureThreshold);
      pressures.add(rule.pressureThreshold + 1);
    }
  }
  const inputs: HookInput[] = [];
  const tvas: TvaType[] = [0, 1, 2, 3, 4];
  const advices: VmaAdvice[] = [0, 1, 2];
  for (const cgroupChain of chains) {
    for (const tva of tvas) {
      for (const advice of advices) {
        for (const requestedOrders of [THP_ORDERS_ALL_ANON, 1 << PMD_ORDER]) {
          for (const pressure of pressures) inputs.push({ cgroupChain, tva, advice, requestedOrders, pressure });
        }
      }
    }
  }
  return inputs;
}

export interface ProbeMismatch {
  readonly input: HookInput;
  readonly expected: number;
  readonly actual: number;
}

/** Run every probe through `installed`; returns the mismatches (empty = verified). */
export async function verifyDecisions(tables: KernelTables, tree: CgroupTree, installed: (input: HookInput) => Promise<number>, limit = 5): Promise<{ probes: number; mismatches: ProbeMismatch[] }> {
  const inputs = probeInputs(tables, tree);
  const mismatches: ProbeMismatch[] = [];
  for (const input of inputs) {
    const expected = decide(tables, input);
    const actual = await installed(input);
    if (actual !== expected) {
      mismatches.push({ input, expected, actual });
      if (mismatches.length >= limit) break;
    }
  }
  return { probes: inputs.length, mismatches };
}

export function describeMismatch(m: ProbeMismatch): string {
  const i = m.input;
  return `chain [${Array.from(i.cgroupChain).join(',')}] tva ${i.tva} advice ${i.advice} orders 0x${i.requestedOrders.toString(16)} pressure ${i.pressure}: expected ${m.expected}, got ${m.actual}`;
}
