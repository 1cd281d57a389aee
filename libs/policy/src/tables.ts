/**
 * Immutable kernel tables and the difference between two generations of them.
 *
 * Cgroup ids are u64 in the kernel (the cgroup's kernfs node id). In JavaScript they are plain
 * numbers, exact up to 2^53 - 1 (Number.MAX_SAFE_INTEGER); real ids are allocated from 1
 * upwards and stay far below that, and `kernelTables` rejects anything that is not a safe
 * non-negative integer, so no id is silently rounded.
 */
import { DefaultAction, MAX_RULES, type CompiledRule, type KernelTables } from './types.js';

const U32_MAX = 0xffffffff;

/**
 * A Map that refuses writes after construction, so tables handed to `decide` never change under
 * it. It is a real Map: `instanceof Map` holds, and structuredClone / postMessage copy it (as a
 * plain Map) instead of losing the entries.
 */
export class FrozenMap<K, V> extends Map<K, V> {
  #sealed = false;
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of entries) super.set(k, v);
    this.#sealed = true;
    Object.freeze(this);
  }
  override set(key: K, value: V): this {
    if (this.#sealed) throw new TypeError('kernel tables are immutable: build new tables instead of editing the map');
    return super.set(key, value);
  }
  override delete(_key: K): boolean {
    throw new TypeError('kernel tables are immutable: build new tables instead of editing the map');
  }
  override clear(): void {
    throw new TypeError('kernel tables are immutable: build new tables instead of editing the map');
  }
}

function isU32(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= U32_MAX;
}

/** The parts of KernelTables, as plain data (for example from a test generator or a BPF map dump). */
export interface KernelTablesParts {
  readonly generation: number;
  readonly defaultAction: DefaultAction;
  readonly defaultOrders: number;
  readonly rules: readonly CompiledRule[];
  readonly cgroupRules: Iterable<readonly [number, number]>;
}

/**
 * Check and freeze kernel tables: generation a non-negative safe integer, masks and thresholds
 * u32, at most MAX_RULES rules, cgroup ids non-negative safe integers (u64 ids < 2^53).
 * @throws RangeError naming the first offending field.
 */
export function kernelTables(parts: KernelTablesParts): KernelTables {
  const { generation, defaultAction, defaultOrders } = parts;
  if (!Number.isSafeInteger(generation) || generation < 0) {
    throw new RangeError(`generation must be a non-negative safe integer, got ${String(generation)}`);
  }
  if (defaultAction !== DefaultAction.Deny && defaultAction !== DefaultAction.Allow && defaultAction !== DefaultAction.Unchanged) {
    throw new RangeError(`defaultAction must be 0 (deny), 1 (allow) or 2 (unchanged), got ${String(defaultAction)}`);
  }
  if (!isU32(defaultOrders)) throw new RangeError(`defaultOrders must be a u32 mask, got ${String(defaultOrders)}`);
  if (parts.rules.length > MAX_RULES) {
    throw new RangeError(`${parts.rules.length} rules; at most ${MAX_RULES} (MAX_RULES)`);
  }
  const rules = parts.rules.map((r, i) => {
    for (const field of ['ctxMask', 'adviceMask', 'allowOrders', 'pressureThreshold', 'pressureOrders'] as const) {
      if (!isU32(r[field])) throw new RangeError(`rules[${i}].${field} must be a u32, got ${String(r[field])}`);
    }
    return Object.freeze({
      ctxMask: r.ctxMask,
      adviceMask: r.adviceMask,
      allowOrders: r.allowOrders,
      pressureThreshold: r.pressureThreshold,
      pressureOrders: r.pressureOrders,
    });
  });
  const entries: [number, number][] = [];
  for (const [id, set] of parts.cgroupRules) {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new RangeError(`cgroup id ${id} is not a non-negative safe integer (ids must be below 2^53)`);
    }
    if (!isU32(set)) throw new RangeError(`rule set of cgroup ${id} must be a u32 mask, got ${String(set)}`);
    entries.push([id, set]);
  }
  return Object.freeze({
    generation,
    defaultAction,
    defaultOrders,
    rules: Object.freeze(rules),
    cgroupRules: new FrozenMap(entries),
  });
}

/** Writes to the cgroup id -> rule set map. */
export interface CgroupMapDelta {
  /** Entries to insert or overwrite: [cgroup id, rule set]. */
  readonly upserts: readonly (readonly [id: number, ruleSet: number])[];
  /** Ids whose entry must be removed. */
  readonly deletes: readonly number[];
}

/** Everything that differs between two generations of tables. */
export interface TablesDelta extends CgroupMapDelta {
  readonly fromGeneration: number | undefined;
  readonly toGeneration: number;
  /** defaultAction, defaultOrders or the number of rules differ. */
  readonly headerChanged: boolean;
  /**
   * Rule slots that differ: write `next.rules[i]`, or clear the slot when `i >=
   * next.rules.length`. Sorted ascending.
   */
  readonly ruleSlots: readonly number[];
}

function sameRule(a: CompiledRule | undefined, b: CompiledRule | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.ctxMask === b.ctxMask &&
    a.adviceMask === b.adviceMask &&
    a.allowOrders === b.allowOrders &&
    a.pressureThreshold === b.pressureThreshold &&
    a.pressureOrders === b.pressureOrders
  );
}

/**
 * The writes that turn `prev` into `next` (`prev` undefined: everything in `next`).
 *
 * Applying a delta is not atomic. When only cgroup entries change (header and rules equal),
 * writing them in place is safe: each decision sees every entry either old or new, and both
 * are consistent with the same rules. When the header or rules change, write the delta into
 * the buffer that is not live (computed against the tables that buffer last held) and switch
 * generations in one write; then no decision ever sees a mix of two policies.
 */
export function tablesDelta(prev: KernelTables | undefined, next: KernelTables): TablesDelta {
  const ruleSlots: number[] = [];
  const slots = Math.max(prev?.rules.length ?? 0, next.rules.length);
  for (let i = 0; i < slots; i++) if (!sameRule(prev?.rules[i], next.rules[i])) ruleSlots.push(i);
  const upserts: [number, number][] = [];
  for (const [id, set] of next.cgroupRules) if (prev?.cgroupRules.get(id) !== set) upserts.push([id, set]);
  const deletes: number[] = [];
  if (prev !== undefined) for (const id of prev.cgroupRules.keys()) if (!next.cgroupRules.has(id)) deletes.push(id);
  return {
    fromGeneration: prev?.generation,
    toGeneration: next.generation,
    headerChanged:
      prev === undefined ||
      prev.defaultAction !== next.defaultAction ||
      prev.defaultOrders !== next.defaultOrders ||
      prev.rules.length !== next.rules.length,
    ruleSlots,
    upserts,
    deletes,
  };
}
