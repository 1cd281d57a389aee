/**
 * The reference evaluator: `decide(tables, input)` exactly as /work/briefs/semantics.md states
 * it, shared with the BPF program (libs/bpf) and the simulator (libs/mm-sim).
 *
 * Speed: a Map lookup per chain element is too slow for ten million decisions a second, so the
 * first `decide` on a tables object builds a flat index (open-addressing hash of cgroup ids in
 * typed arrays, rules as parallel typed arrays) and caches it per tables object. Tables are
 * immutable by contract (those from compilePolicy / kernelTables are frozen); a caller that
 * mutates a plain Map after deciding with it gets stale answers.
 */
import { toHookReturn } from './abi.js';
import {
  DECISION_DENY,
  DECISION_UNCHANGED,
  DefaultAction,
  MAX_CGROUP_DEPTH,
  type Decision,
  type HookAbi,
  type HookInput,
  type KernelTables,
  type ThpHook,
} from './types.js';

interface FlatTables {
  /** Cgroup ids; NaN marks an empty slot. Float64 holds every id below 2^53 exactly. */
  readonly keys: Float64Array;
  /** Rule set per slot, as int32 bits. */
  readonly sets: Int32Array;
  readonly slotMask: number;
  readonly ruleCount: number;
  readonly ctx: Int32Array;
  readonly advice: Int32Array;
  readonly allow: Int32Array;
  /** u32 thresholds. */
  readonly threshold: Uint32Array;
  readonly pressureOrders: Int32Array;
  readonly defaultAction: number;
  readonly defaultOrders: number;
}

function hashId(id: number): number {
  // Low and high 32 bits of the id (exact for integers below 2^53), mixed (murmur3 finaliser).
  let h = (id >>> 0) ^ Math.imul((id / 4294967296) >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function flatten(tables: KernelTables): FlatTables {
  let capacity = 16;
  while (capacity < tables.cgroupRules.size * 2) capacity *= 2;
  const keys = new Float64Array(capacity).fill(NaN);
  const sets = new Int32Array(capacity);
  const slotMask = capacity - 1;
  for (const [id, set] of tables.cgroupRules) {
    if (Number.isNaN(id)) continue; // NaN is our empty marker; no real id is NaN
    let i = hashId(id) & slotMask;
    while (!Number.isNaN(keys[i] ?? NaN) && keys[i] !== id) i = (i + 1) & slotMask;
    keys[i] = id;
    sets[i] = set;
  }
  const n = Math.min(tables.rules.length, 32); // a u32 rule set has no bit for rule 32 and above
  const ctx = new Int32Array(n);
  const advice = new Int32Array(n);
  const allow = new Int32Array(n);
  const threshold = new Uint32Array(n);
  const pressureOrders = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const rule = tables.rules[r];
    if (rule === undefined) continue;
    ctx[r] = rule.ctxMask;
    advice[r] = rule.adviceMask;
    allow[r] = rule.allowOrders;
    threshold[r] = rule.pressureThreshold;
    pressureOrders[r] = rule.pressureOrders;
  }
  return {
    keys,
    sets,
    slotMask,
    ruleCount: n,
    ctx,
    advice,
    allow,
    threshold,
    pressureOrders,
    defaultAction: tables.defaultAction,
    defaultOrders: tables.defaultOrders,
  };
}

const flatCache = new WeakMap<KernelTables, FlatTables>();
// One-entry memo in front of the WeakMap: the common caller decides many times in a row
// against the same tables, and an identity check is cheaper than a WeakMap lookup.
let lastTables: KernelTables | undefined;
let lastFlat: FlatTables | undefined;

function flatFor(tables: KernelTables): FlatTables {
  if (tables === lastTables && lastFlat !== undefined) return lastFlat;
  let flat = flatCache.get(tables);
  if (flat === undefined) {
    flat = flatten(tables);
    flatCache.set(tables, flat);
  }
  lastTables = tables;
  lastFlat = flat;
  return flat;
}

/**
 * Decide one THP call (/work/briefs/semantics.md):
 * 1. walk `cgroupChain` leaf first, at most MAX_CGROUP_DEPTH ids, to the first id with an
 *    entry in `tables.cgroupRules`; its rule set applies (none found: the empty set);
 * 2. the lowest-numbered rule in the set whose context and advice masks contain `tva` and
 *    `advice` decides: its allowed orders (the pressure orders when `pressure` exceeds the
 *    rule's threshold, unsigned) intersected with `requestedOrders`, highest order first,
 *    or DECISION_DENY when the intersection is empty;
 * 3. no rule matched: the default action (deny, unchanged, or allow defaultOrders like a rule).
 * `tva`, `advice` and `pressure` are read as u32, as the kernel passes them. Allocation-free.
 */
export function decide(tables: KernelTables, input: HookInput): Decision {
  const f = flatFor(tables);
  const chain = input.cgroupChain;
  const depth = chain.length < MAX_CGROUP_DEPTH ? chain.length : MAX_CGROUP_DEPTH;
  const keys = f.keys;
  const slotMask = f.slotMask;
  let ruleSet = 0;
  walk: for (let i = 0; i < depth; i++) {
    const id = chain[i] as number;
    let slot = hashId(id) & slotMask;
    for (;;) {
      const k = keys[slot] as number;
      if (k === id) {
        ruleSet = f.sets[slot] as number;
        break walk;
      }
      if (k !== k) break; // empty slot: id not mapped
      slot = (slot + 1) & slotMask;
    }
  }
  const tva = input.tva >>> 0;
  const advice = input.advice >>> 0;
  const requested = input.requestedOrders;
  if (f.ruleCount < 32) ruleSet &= (1 << f.ruleCount) - 1;
  if (ruleSet !== 0 && tva <= 31 && advice <= 31) {
    const pressure = input.pressure >>> 0;
    do {
      const low = ruleSet & -ruleSet;
      ruleSet ^= low;
      const r = 31 - Math.clz32(low);
      if ((((f.ctx[r] as number) >>> tva) & 1) === 0 || (((f.advice[r] as number) >>> advice) & 1) === 0) continue;
      const allowed = pressure > (f.threshold[r] as number) ? (f.pressureOrders[r] as number) : (f.allow[r] as number);
      const m = allowed & requested;
      return m === 0 ? DECISION_DENY : 31 - Math.clz32(m);
    } while (ruleSet !== 0);
  }
  switch (f.defaultAction) {
    case DefaultAction.Unchanged:
      return DECISION_UNCHANGED;
    case DefaultAction.Allow: {
      const m = f.defaultOrders & requested;
      return m === 0 ? DECISION_DENY : 31 - Math.clz32(m);
    }
    default:
      // Deny, and any value outside the enum in hand-made tables: the safe answer.
      return DECISION_DENY;
  }
}

/**
 * A ThpHook for the simulator: decides with `tables` (or the tables the getter returns at
 * each call, so a live generation swap is picked up) and maps the decision to the value a
 * BPF program returns under `abi` (`toHookReturn`).
 */
export function makeHook(tables: KernelTables | (() => KernelTables), abi: HookAbi): ThpHook {
  if (typeof tables === 'function') {
    return (input) => toHookReturn(decide(tables(), input), input.requestedOrders, abi);
  }
  return (input) => toHookReturn(decide(tables, input), input.requestedOrders, abi);
}
