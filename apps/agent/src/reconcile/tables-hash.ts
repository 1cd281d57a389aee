/**
 * Content hash of kernel tables (ObservedState.map_content_hash): sha256 over a canonical
 * text of what the policy maps hold: default action and orders, the rules in slot order, and
 * the cgroup map sorted by id. The generation is left out: it numbers writes, it is not
 * content, so the same policy on the same cgroups always hashes the same.
 */
import { createHash } from 'node:crypto';
import { DefaultAction, kernelTables, type KernelTables } from '@thp-fleet/policy';

export function tablesContentHash(tables: KernelTables): string {
  const rules = tables.rules.map((r) => [r.ctxMask, r.adviceMask, r.allowOrders, r.pressureThreshold, r.pressureOrders].join(','));
  const cgroups = [...tables.cgroupRules].sort((a, b) => a[0] - b[0]).map(([id, set]) => `${id}:${set}`);
  const text = `default ${tables.defaultAction} ${tables.defaultOrders}\nrules ${rules.join(';')}\ncgroups ${cgroups.join(';')}\n`;
  return createHash('sha256').update(text).digest('hex');
}

/** Header and rules equal (cgroup entries may differ): the same policy, possibly on an older cgroup tree. */
export function samePolicyTables(a: KernelTables, b: KernelTables): boolean {
  if (a.defaultAction !== b.defaultAction || a.defaultOrders !== b.defaultOrders || a.rules.length !== b.rules.length) return false;
  return a.rules.every((r, i) => {
    const o = b.rules[i]!;
    return r.ctxMask === o.ctxMask && r.adviceMask === o.adviceMask && r.allowOrders === o.allowOrders && r.pressureThreshold === o.pressureThreshold && r.pressureOrders === o.pressureOrders;
  });
}

/**
 * The kernel proposal's "empty allow-list" (kernel-interface.md 3.7): no rules, no cgroups,
 * default deny, so nothing gets THP while the node's THP mode is switched.
 */
export function denyAllTables(generation: number): KernelTables {
  return kernelTables({ generation, defaultAction: DefaultAction.Deny, defaultOrders: 0, rules: [], cgroupRules: [] });
}
