/**
 * Compiler: policy + a node's cgroups -> kernel tables (DESIGN.md section 3).
 *
 * A cgroup's rule set is the bitmask of rules with a glob that matches the cgroup or one of its
 * ancestors (a match covers the subtree). It depends only on the cgroup's own path, so adding
 * or removing one cgroup never changes another's entry. Cgroups whose rule set is 0 get no
 * entry: their ancestors' sets are subsets of theirs, hence 0 too, and `decide` finds nothing
 * on the walk up, which is the same as an entry of 0.
 */
import { normalizePolicy } from './canonical.js';
import { CgroupGlobSet, ancestorsAndSelf, cgroupPathProblem } from './glob.js';
import { compileDefault, compileRule } from './masks.js';
import type { CanonicalPolicy } from './normalize.js';
import type { ThpPolicy } from './spec.js';
import { kernelTables, type CgroupMapDelta } from './tables.js';
import type { CompiledRule, DefaultAction, KernelTables } from './types.js';

/** A cgroup as the agent sees it: the kernel's id (u64, < 2^53) and its cgroup v2 path. */
export interface CgroupRef {
  readonly id: number;
  readonly path: string;
}

const NO_DELTA: CgroupMapDelta = Object.freeze({ upserts: Object.freeze([]), deletes: Object.freeze([]) });

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0) {
    throw new RangeError(`cgroup id ${id} is not a non-negative safe integer (ids must be below 2^53)`);
  }
}

/**
 * The cgroup id -> rule set map of one policy, kept current as cgroups appear and vanish.
 * `add` and `remove` return the map writes they imply (usually one, often none), so the
 * agent does minimal BPF map writes; `tables(generation)` snapshots immutable KernelTables.
 */
export class CgroupRuleIndex {
  /** The policy in canonical form. */
  readonly policy: CanonicalPolicy;
  readonly rules: readonly CompiledRule[];
  readonly defaultAction: DefaultAction;
  readonly defaultOrders: number;
  private readonly selectors: readonly CgroupGlobSet[];
  private readonly entries = new Map<number, number>();
  /** Memo of path -> rules matching that path itself; bounded, cleared when it grows too big. */
  private readonly rootMasks = new Map<string, number>();

  /** @throws PolicyValidationError if `policy` is invalid; RangeError for a bad cgroup. */
  constructor(policy: ThpPolicy, cgroups: Iterable<CgroupRef> = []) {
    this.policy = normalizePolicy(policy);
    this.rules = Object.freeze(this.policy.spec.rules.map(compileRule));
    this.selectors = this.policy.spec.rules.map((r) => new CgroupGlobSet(r.match.cgroups));
    ({ defaultAction: this.defaultAction, defaultOrders: this.defaultOrders } = compileDefault(this.policy.spec.default));
    for (const c of cgroups) this.add(c.id, c.path);
  }

  /** Number of cgroups with an entry (non-zero rule set). */
  get size(): number {
    return this.entries.size;
  }

  /** The rule set stored for `id` (0 when it has no entry). */
  ruleSetOf(id: number): number {
    return this.entries.get(id) ?? 0;
  }

  /** The rule set a cgroup at `path` gets: rules whose globs match it or an ancestor. */
  ruleSetForPath(path: string): number {
    const problem = cgroupPathProblem(path);
    if (problem !== undefined) throw new RangeError(problem);
    let set = 0;
    for (const p of ancestorsAndSelf(path)) set |= this.rootMask(p);
    return set >>> 0;
  }

  private rootMask(path: string): number {
    const cached = this.rootMasks.get(path);
    if (cached !== undefined) return cached;
    let mask = 0;
    for (let r = 0; r < this.selectors.length; r++) if (this.selectors[r]?.selectsRoot(path)) mask |= 1 << r;
    if (this.rootMasks.size > 4 * this.entries.size + 4096) this.rootMasks.clear();
    this.rootMasks.set(path, mask >>> 0);
    return mask >>> 0;
  }

  /**
   * A cgroup appeared (or, with a known id, moved). Returns the map writes: an upsert when it
   * gets a non-zero rule set that differs from its entry, a delete when its entry must go.
   * @throws RangeError for an id that is not a non-negative safe integer or a bad path.
   */
  add(id: number, path: string): CgroupMapDelta {
    checkId(id);
    const set = this.ruleSetForPath(path);
    const before = this.entries.get(id);
    if (set === 0) {
      if (before === undefined) return NO_DELTA;
      this.entries.delete(id);
      return { upserts: [], deletes: [id] };
    }
    if (before === set) return NO_DELTA;
    this.entries.set(id, set);
    return { upserts: [[id, set]], deletes: [] };
  }

  /** A cgroup vanished. Returns a delete if it had an entry. */
  remove(id: number): CgroupMapDelta {
    return this.entries.delete(id) ? { upserts: [], deletes: [id] } : NO_DELTA;
  }

  /** An immutable snapshot of the current tables, tagged with `generation`. */
  tables(generation: number): KernelTables {
    return kernelTables({
      generation,
      defaultAction: this.defaultAction,
      defaultOrders: this.defaultOrders,
      rules: this.rules,
      cgroupRules: this.entries,
    });
  }
}

/**
 * Compile a policy for a node: rule array, default action and the cgroup id -> rule set map
 * for `cgroups` (only cgroups with a non-zero rule set get an entry).
 * @throws PolicyValidationError if `policy` is invalid; RangeError for a bad or duplicate cgroup id or path.
 */
export function compilePolicy(policy: ThpPolicy, cgroups: Iterable<CgroupRef>, generation = 1): KernelTables {
  const index = new CgroupRuleIndex(policy);
  const seen = new Set<number>();
  for (const c of cgroups) {
    if (seen.has(c.id)) throw new RangeError(`cgroup id ${c.id} is listed twice (second path "${c.path}")`);
    seen.add(c.id);
    index.add(c.id, c.path);
  }
  return index.tables(generation);
}
