/**
 * Shadowed rules: a rule that can never decide a call because an earlier rule matches every
 * call it matches (first matching rule wins, /work/briefs/semantics.md).
 *
 * The test is sound but deliberately incomplete (it never warns wrongly, it may miss cases):
 * rule j is shadowed by an earlier rule i when
 *  - contexts: j's context bits are a subset of i's, and
 *  - advice: j's advice bits are a subset of i's, and
 *  - cgroups: every glob g of j is covered by i, i.e. i lists g verbatim, or i selects the
 *    literal prefix of g (or an ancestor of it). Every cgroup g selects lies under that
 *    prefix, and a match covers the subtree, so i matches it too. `/**` covers everything.
 * Pressure gates never matter: the gate only chooses which orders the matching rule grants,
 * the rule still decides, so a later rule is unreachable whatever the pressure.
 * Not detected: a rule covered only by the union of several earlier rules, or by globs that
 * overlap in ways a literal prefix cannot show (`/a/*-x` vs `/a/b-*`).
 */
import { CgroupGlobSet, ancestorsAndSelf, literalPrefix } from './glob.js';
import { adviceMask, contextMask } from './masks.js';
import type { CanonicalRule } from './normalize.js';

export interface ShadowFinding {
  /** Index of the shadowed rule. */
  readonly rule: number;
  /** Index of the first earlier rule that shadows it. */
  readonly by: number;
}

interface Prepared {
  readonly index: number;
  readonly globs: ReadonlySet<string>;
  readonly prefixes: readonly string[];
  readonly selector: CgroupGlobSet;
  readonly ctx: number;
  readonly advice: number;
}

function covers(earlier: Prepared, later: Prepared): boolean {
  if ((later.ctx & ~earlier.ctx) !== 0 || (later.advice & ~earlier.advice) !== 0) return false;
  let k = 0;
  for (const glob of later.globs) {
    const prefix = later.prefixes[k++] ?? '/';
    if (earlier.globs.has(glob)) continue;
    if (!ancestorsAndSelf(prefix).some((p) => earlier.selector.selectsRoot(p))) return false;
  }
  return true;
}

/**
 * For each rule shadowed by an earlier one, the first such earlier rule. Entries that are
 * `undefined` (rules that failed validation) are skipped.
 */
export function findShadowedRules(rules: readonly (CanonicalRule | undefined)[]): ShadowFinding[] {
  const prepared: Prepared[] = [];
  const findings: ShadowFinding[] = [];
  rules.forEach((rule, index) => {
    if (rule === undefined) return;
    const globs = new Set(rule.match.cgroups);
    const p: Prepared = {
      index,
      globs,
      prefixes: [...globs].map(literalPrefix),
      selector: new CgroupGlobSet(rule.match.cgroups),
      ctx: contextMask(rule.match.contexts),
      advice: adviceMask(rule.match.advice),
    };
    const by = prepared.find((earlier) => covers(earlier, p));
    if (by !== undefined) findings.push({ rule: index, by: by.index });
    prepared.push(p);
  });
  return findings;
}
