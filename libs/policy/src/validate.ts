/**
 * Validation of `thp.fleet/v1 ThpPolicy` documents: every error with its path, never just the
 * first, plus warnings for policies that are valid but probably not what the author meant.
 * Works on any value (parsed YAML/JSON, or objects built in code) and never throws.
 */
import { cgroupGlobProblems } from './glob.js';
import { normalizeRule, orderSetToOrders, type CanonicalRule } from './normalize.js';
import { findShadowedRules } from './shadowing.js';
import { MIN_ANON_ORDER, orderProblem, orderToShortSize, orderToSizeName, parseThpSize } from './sizes.js';
import {
  ALLOCATION_CONTEXTS,
  API_VERSION,
  HUGEPAGE_SIZE_MODES,
  MAX_PTES_NONE_LIMIT,
  PAGES_TO_SCAN_MAX,
  POLICY_KIND,
  SHMEM_ENABLED_MODES,
  THP_DEFRAG_MODES,
  THP_ENABLED_MODES,
  VMA_ADVICE_NAMES,
  WITHOUT_HOOK_MODES,
  type AllocationContext,
  type DefaultActionSpec,
  type HugepageSizeMode,
  type KhugepagedSettings,
  type NodeSettings,
  type OrderSet,
  type PolicyIssue,
  type PolicyMetadata,
  type PolicyRule,
  type PolicySpec,
  type PressureGate,
  type RuleMatch,
  type ThpPolicy,
  type ValidationResult,
  type VmaAdviceName,
} from './spec.js';
import { MAX_RULES, PMD_ORDER } from './types.js';

/** A path into the document: mapping keys and list indices. */
export type Segment = string | number;
/** Whether an issue is about a mapping key (unknown field) or the value under it. */
export type IssueTarget = 'key' | 'value';
/** Maps a path to a 1-based source position (parsePolicy supplies one built from the YAML ranges). */
export type Locator = (segments: readonly Segment[], target: IssueTarget) => { line: number; column: number } | undefined;

/** Policy names: lowercase DNS-label-like, so they fit URLs, CLI arguments and metric labels. */
const POLICY_NAME_RE = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
/** Rule names appear in diffs, audit entries and metric labels. */
const RULE_NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

const TOP_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec'] as const;
const METADATA_FIELDS = ['name', 'description'] as const;
const SPEC_FIELDS = ['default', 'rules', 'node'] as const;
const RULE_FIELDS = ['name', 'match', 'allow', 'underPressure'] as const;
const MATCH_FIELDS = ['cgroups', 'contexts', 'advice'] as const;
const ORDER_SET_FIELDS = ['orders', 'sizes'] as const;
const GATE_FIELDS = ['memorySomeAvg10Above', 'orders', 'sizes'] as const;
const NODE_FIELDS = ['enabled', 'defrag', 'shmemEnabled', 'hugepages', 'khugepaged', 'withoutHook'] as const;
const KHUGEPAGED_FIELDS = ['maxPtesNone', 'pagesToScan'] as const;
const DEFAULT_ACTIONS = ['deny', 'unchanged', 'allow'] as const;

interface RawIssue {
  readonly segments: readonly Segment[];
  readonly target: IssueTarget;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

class Issues {
  readonly list: RawIssue[] = [];
  errors = 0;
  error(segments: readonly Segment[], message: string, target: IssueTarget = 'value'): void {
    this.list.push({ segments, target, message, severity: 'error' });
    this.errors++;
  }
  warn(segments: readonly Segment[], message: string, target: IssueTarget = 'value'): void {
    this.list.push({ segments, target, message, severity: 'warning' });
  }
}

/** `['spec', 'rules', 1, 'allow']` -> `spec.rules[1].allow`; odd keys are quoted: `hugepages["64kB"]`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Small decoders. Each reports its own errors and returns undefined when the value is unusable;
// the assembled policy is only returned when no error was reported anywhere.

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A short description of a value for messages (never prints whole structures). */
function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (isPlainObject(v)) return 'a mapping';
  switch (typeof v) {
    case 'string':
      return v.length > 40 ? `the string ${JSON.stringify(v.slice(0, 40))}...` : `the string ${JSON.stringify(v)}`;
    case 'number':
      return `the number ${String(v)}`;
    case 'boolean':
      return `the boolean ${String(v)}`;
    default:
      return `a value of type ${v instanceof Set ? 'set' : v instanceof Map ? 'map' : typeof v}`;
  }
}

function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest known word, if close enough to be a likely typo. */
function suggest(word: string, known: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const kl = k.toLowerCase();
    const d = kl === w ? 0 : kl.startsWith(w) || w.startsWith(kl) ? 1 : levenshtein(w, kl);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function oneOf(known: readonly string[]): string {
  return known.map((k) => `"${k}"`).join(', ');
}

function unknownField(is: Issues, at: readonly Segment[], key: string, known: readonly string[]): void {
  const guess = suggest(key, known);
  is.error(
    [...at, key],
    guess === undefined
      ? `unknown field "${key}" (expected one of ${oneOf(known)})`
      : `unknown field "${key}"; did you mean "${guess}"?`,
    'key',
  );
}

function checkFields(is: Issues, obj: Record<string, unknown>, at: readonly Segment[], known: readonly string[]): void {
  for (const key of Object.keys(obj)) if (!known.includes(key)) unknownField(is, at, key, known);
}

function get(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Decodes a required field: reports it missing, or runs `decode` on it. */
function required<T>(
  is: Issues,
  obj: Record<string, unknown>,
  at: readonly Segment[],
  key: string,
  decode: (is: Issues, v: unknown, at: readonly Segment[]) => T | undefined,
): T | undefined {
  if (!Object.hasOwn(obj, key)) {
    is.error([...at, key], `required field "${key}" is missing`);
    return undefined;
  }
  return decode(is, obj[key], [...at, key]);
}

function optional<T>(
  is: Issues,
  obj: Record<string, unknown>,
  at: readonly Segment[],
  key: string,
  decode: (is: Issues, v: unknown, at: readonly Segment[]) => T | undefined,
): T | undefined {
  return Object.hasOwn(obj, key) ? decode(is, obj[key], [...at, key]) : undefined;
}

function mapping(is: Issues, v: unknown, at: readonly Segment[]): Record<string, unknown> | undefined {
  if (isPlainObject(v)) return v;
  is.error(at, `expected a mapping, got ${describe(v)}`);
  return undefined;
}

function list(is: Issues, v: unknown, at: readonly Segment[]): readonly unknown[] | undefined {
  // Array.from turns holes of sparse arrays into undefined, so every index gets checked.
  if (Array.isArray(v)) return Array.from(v as unknown[]);
  is.error(at, `expected a list, got ${describe(v)}`);
  return undefined;
}

function text(is: Issues, v: unknown, at: readonly Segment[]): string | undefined {
  if (typeof v === 'string') return v;
  is.error(at, `expected a string, got ${describe(v)}`);
  return undefined;
}

function enumValue<T extends string>(known: readonly T[], what: string) {
  return (is: Issues, v: unknown, at: readonly Segment[]): T | undefined => {
    if (typeof v === 'string' && (known as readonly string[]).includes(v)) return v as T;
    if (typeof v !== 'string') {
      is.error(at, `${what} must be one of ${oneOf(known)}, got ${describe(v)}`);
      return undefined;
    }
    const guess = suggest(v, known);
    is.error(at, `${what} "${v}" is not one of ${oneOf(known)}${guess === undefined ? '' : `; did you mean "${guess}"?`}`);
    return undefined;
  };
}

function integerIn(min: number, max: number, what: string) {
  return (is: Issues, v: unknown, at: readonly Segment[]): number | undefined => {
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      is.error(at, `${what} must be an integer ${min}..${max}, got ${describe(v)}`);
      return undefined;
    }
    if (v < min || v > max) {
      is.error(at, `${what} ${v} is out of range ${min}..${max}`);
      return undefined;
    }
    return v;
  };
}

/** A list of enum names, non-empty, duplicates warned. */
function nameList<T extends string>(known: readonly T[], what: string, emptyMessage: string) {
  const item = enumValue(known, what);
  return (is: Issues, v: unknown, at: readonly Segment[]): T[] | undefined => {
    const items = list(is, v, at);
    if (items === undefined) return undefined;
    if (items.length === 0) {
      is.error(at, emptyMessage);
      return undefined;
    }
    const out: T[] = [];
    const before = is.errors;
    items.forEach((x, i) => {
      const name = item(is, x, [...at, i]);
      if (name === undefined) return;
      if (out.includes(name)) is.warn([...at, i], `${what} "${name}" is listed twice`);
      out.push(name);
    });
    return is.errors === before ? out : undefined;
  };
}

// ---------------------------------------------------------------------------------------------
// Orders and sizes.

function orderItem(is: Issues, v: unknown, at: readonly Segment[]): number | undefined {
  if (typeof v === 'string' && parseThpSize(v).ok) {
    is.error(at, `order must be a number, got the size "${v}"; list sizes under "sizes" instead`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    is.error(at, `order must be an integer ${MIN_ANON_ORDER}..${PMD_ORDER}, got ${describe(v)}`);
    return undefined;
  }
  const problem = orderProblem(v);
  if (problem !== undefined) {
    is.error(at, problem);
    return undefined;
  }
  return v;
}

function sizeItem(is: Issues, v: unknown, at: readonly Segment[]): number | undefined {
  if (typeof v !== 'string') {
    is.error(
      at,
      typeof v === 'number'
        ? `size must be a string such as "2M" or "64K", got the number ${v}; list order numbers under "orders" instead`
        : `size must be a string such as "2M" or "64K", got ${describe(v)}`,
    );
    return undefined;
  }
  const parsed = parseThpSize(v);
  if (!parsed.ok) {
    is.error(at, parsed.message);
    return undefined;
  }
  return parsed.order;
}

/** The items of an `orders` or `sizes` list, each checked; duplicates warned. */
function orderItems(is: Issues, obj: Record<string, unknown>, at: readonly Segment[], key: 'orders' | 'sizes'): unknown[] | undefined {
  const items = list(is, obj[key], [...at, key]);
  if (items === undefined) return undefined;
  const before = is.errors;
  const seen = new Map<number, number>();
  items.forEach((x, i) => {
    const order = (key === 'orders' ? orderItem : sizeItem)(is, x, [...at, key, i]);
    if (order === undefined) return;
    const first = seen.get(order);
    if (first !== undefined) {
      is.warn([...at, key, i], `${key === 'orders' ? `order ${order}` : `size ${String(x)}`} is already listed at ${key}[${first}]`);
    } else {
      seen.set(order, i);
    }
  });
  return is.errors === before ? [...items] : undefined;
}

/** `orders: [...]` or `sizes: [...]` inside `obj` (exactly one of them). */
function orderSet(is: Issues, obj: Record<string, unknown>, at: readonly Segment[]): OrderSet | undefined {
  const hasOrders = Object.hasOwn(obj, 'orders');
  const hasSizes = Object.hasOwn(obj, 'sizes');
  if (!hasOrders && !hasSizes) {
    is.error(at, 'missing "orders" or "sizes" (an empty list denies)');
    return undefined;
  }
  const orders = hasOrders ? orderItems(is, obj, at, 'orders') : undefined;
  const sizes = hasSizes ? orderItems(is, obj, at, 'sizes') : undefined;
  if (hasOrders && hasSizes) {
    is.error([...at, 'sizes'], 'give either "orders" or "sizes", not both', 'key');
    return undefined;
  }
  if (orders !== undefined) return { orders: orders as number[] };
  if (sizes !== undefined) return { sizes: sizes as string[] };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// The document.

function metadata(is: Issues, v: unknown, at: readonly Segment[]): PolicyMetadata | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  checkFields(is, o, at, METADATA_FIELDS);
  const name = required(is, o, at, 'name', (is2, x, p) => {
    const s = text(is2, x, p);
    if (s === undefined) return undefined;
    if (!POLICY_NAME_RE.test(s)) {
      is2.error(
        p,
        s === ''
          ? 'policy name is empty'
          : `policy name "${s}" must be 1-63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit`,
      );
      return undefined;
    }
    return s;
  });
  const description = optional(is, o, at, 'description', text);
  if (name === undefined) return undefined;
  return description === undefined ? { name } : { name, description };
}

function defaultAction(is: Issues, v: unknown, at: readonly Segment[]): DefaultActionSpec | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  const action = required(is, o, at, 'action', enumValue(DEFAULT_ACTIONS, 'action'));
  if (action === 'deny' || action === 'unchanged') {
    for (const key of Object.keys(o)) {
      if (key === 'action') continue;
      if (key === 'orders' || key === 'sizes') is.error([...at, key], `"${key}" is only valid with action: allow`, 'key');
      else unknownField(is, at, key, ['action']);
    }
    return { action };
  }
  checkFields(is, o, at, ['action', ...ORDER_SET_FIELDS]);
  if (action === undefined) return undefined;
  const set = orderSet(is, o, at);
  if (set === undefined) return undefined;
  if (orderSetToOrders(set).length === 0) {
    is.warn(at, 'action: allow with no orders denies every call; write {action: deny} to say so');
  }
  return { action, ...set };
}

function cgroupGlobs(is: Issues, v: unknown, at: readonly Segment[]): string[] | undefined {
  const items = list(is, v, at);
  if (items === undefined) return undefined;
  if (items.length === 0) {
    is.error(at, 'cgroups must list at least one glob; use "/**" for every cgroup');
    return undefined;
  }
  const before = is.errors;
  const out: string[] = [];
  items.forEach((x, i) => {
    const glob = text(is, x, [...at, i]);
    if (glob === undefined) return;
    for (const problem of cgroupGlobProblems(glob)) is.error([...at, i], problem);
    if (out.includes(glob)) is.warn([...at, i], `cgroup glob "${glob}" is listed twice`);
    out.push(glob);
  });
  return is.errors === before ? out : undefined;
}

const contextList = nameList(
  ALLOCATION_CONTEXTS,
  'context',
  'contexts is empty, so the rule can never match; omit the field to match every context',
);
const adviceList = nameList(
  VMA_ADVICE_NAMES,
  'advice',
  'advice is empty, so the rule can never match; omit the field to match every advice',
);

function ruleMatch(is: Issues, v: unknown, at: readonly Segment[]): RuleMatch | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  checkFields(is, o, at, MATCH_FIELDS);
  const cgroups = required(is, o, at, 'cgroups', cgroupGlobs);
  const contexts: AllocationContext[] | undefined = optional(is, o, at, 'contexts', contextList);
  const advice: VmaAdviceName[] | undefined = optional(is, o, at, 'advice', adviceList);
  if (cgroups === undefined) return undefined;
  return { cgroups, ...(contexts === undefined ? {} : { contexts }), ...(advice === undefined ? {} : { advice }) };
}

function allowSet(is: Issues, v: unknown, at: readonly Segment[]): OrderSet | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  checkFields(is, o, at, ORDER_SET_FIELDS);
  return orderSet(is, o, at);
}

function threshold(is: Issues, v: unknown, at: readonly Segment[]): number | undefined {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    is.error(at, `memorySomeAvg10Above must be a percentage 0..100, got ${describe(v)}`);
    return undefined;
  }
  if (v < 0 || v > 100) {
    is.error(at, `memorySomeAvg10Above ${v} is out of range 0..100 (percent)`);
    return undefined;
  }
  if (Math.abs(v * 100 - Math.round(v * 100)) > 1e-6) {
    is.error(at, `memorySomeAvg10Above ${v} has more than two decimals (PSI avg10 is reported in hundredths of a percent)`);
    return undefined;
  }
  if (v >= 100) is.warn(at, 'memorySomeAvg10Above 100 never triggers: PSI some avg10 cannot exceed 100%');
  return v;
}

function pressureGate(is: Issues, v: unknown, at: readonly Segment[]): PressureGate | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  checkFields(is, o, at, GATE_FIELDS);
  const limit = required(is, o, at, 'memorySomeAvg10Above', threshold);
  const set = orderSet(is, o, at);
  if (limit === undefined || set === undefined) return undefined;
  return { memorySomeAvg10Above: limit, ...set };
}

function ruleName(is: Issues, v: unknown, at: readonly Segment[]): string | undefined {
  const s = text(is, v, at);
  if (s === undefined) return undefined;
  if (s.trim() === '') {
    is.error(at, 'rule name is empty');
    return undefined;
  }
  if (!RULE_NAME_RE.test(s)) {
    is.error(
      at,
      `rule name "${s}" must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
    );
    return undefined;
  }
  return s;
}

function rule(is: Issues, v: unknown, at: readonly Segment[]): PolicyRule | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  checkFields(is, o, at, RULE_FIELDS);
  const name = required(is, o, at, 'name', ruleName);
  const match = required(is, o, at, 'match', ruleMatch);
  const allow = required(is, o, at, 'allow', allowSet);
  const gate = optional(is, o, at, 'underPressure', pressureGate);
  if (name === undefined || match === undefined || allow === undefined) return undefined;
  return gate === undefined ? { name, match, allow } : { name, match, allow, underPressure: gate };
}

function hugepages(is: Issues, v: unknown, at: readonly Segment[]): Record<string, HugepageSizeMode> | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  const before = is.errors;
  const seen = new Map<number, string>();
  const mode = enumValue(HUGEPAGE_SIZE_MODES, 'hugepages mode');
  const out: Record<string, HugepageSizeMode> = {};
  for (const [key, value] of Object.entries(o)) {
    const parsed = parseThpSize(key);
    const m = mode(is, value, [...at, key]);
    if (!parsed.ok) {
      const order1 = /^(8\s*k|8192\s*b)/i.test(key.trim());
      is.error(
        [...at, key],
        order1
          ? `hugepages-8kB has no anonymous "enabled" control: order 1 is not an anonymous THP order (its directory exists for shmem/file only)`
          : parsed.message,
        'key',
      );
      continue;
    }
    const first = seen.get(parsed.order);
    if (first !== undefined) {
      is.error([...at, key], `"${key}" is the same size as "${first}" (${orderToSizeName(parsed.order)})`, 'key');
      continue;
    }
    seen.set(parsed.order, key);
    if (m !== undefined) out[key] = m;
  }
  return is.errors === before ? out : undefined;
}

function khugepaged(is: Issues, v: unknown, at: readonly Segment[]): KhugepagedSettings | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  checkFields(is, o, at, KHUGEPAGED_FIELDS);
  const maxPtesNone = optional(is, o, at, 'maxPtesNone', integerIn(0, MAX_PTES_NONE_LIMIT, 'maxPtesNone'));
  const pagesToScan = optional(is, o, at, 'pagesToScan', integerIn(1, PAGES_TO_SCAN_MAX, 'pagesToScan'));
  return {
    ...(maxPtesNone === undefined ? {} : { maxPtesNone }),
    ...(pagesToScan === undefined ? {} : { pagesToScan }),
  };
}

function nodeSettings(is: Issues, v: unknown, at: readonly Segment[]): NodeSettings | undefined {
  const o = mapping(is, v, at);
  if (o === undefined) return undefined;
  checkFields(is, o, at, NODE_FIELDS);
  const out: { -readonly [K in keyof NodeSettings]: NodeSettings[K] } = {};
  const enabled = optional(is, o, at, 'enabled', enumValue(THP_ENABLED_MODES, 'enabled'));
  const defrag = optional(is, o, at, 'defrag', enumValue(THP_DEFRAG_MODES, 'defrag'));
  const shmem = optional(is, o, at, 'shmemEnabled', enumValue(SHMEM_ENABLED_MODES, 'shmemEnabled'));
  const sizes = optional(is, o, at, 'hugepages', hugepages);
  const k = optional(is, o, at, 'khugepaged', khugepaged);
  const withoutHook = optional(is, o, at, 'withoutHook', enumValue(WITHOUT_HOOK_MODES, 'withoutHook'));
  if (enabled !== undefined) out.enabled = enabled;
  if (defrag !== undefined) out.defrag = defrag;
  if (shmem !== undefined) out.shmemEnabled = shmem;
  if (sizes !== undefined) out.hugepages = sizes;
  if (k !== undefined) out.khugepaged = k;
  if (withoutHook !== undefined) out.withoutHook = withoutHook;
  return out;
}

function rules(is: Issues, v: unknown, at: readonly Segment[]): { rules: PolicyRule[]; all: (PolicyRule | undefined)[] } | undefined {
  const items = list(is, v, at);
  if (items === undefined) return undefined;
  if (items.length > MAX_RULES) {
    is.error(at, `${items.length} rules; at most ${MAX_RULES} are allowed (the kernel's per-cgroup rule set is a 32-bit mask)`);
  }
  const all = items.map((x, i) => rule(is, x, [...at, i]));
  const firstByName = new Map<string, number>();
  items.forEach((x, i) => {
    const name = isPlainObject(x) ? get(x, 'name') : undefined;
    if (typeof name !== 'string' || name.trim() === '') return;
    const first = firstByName.get(name);
    if (first === undefined) firstByName.set(name, i);
    else is.error([...at, i, 'name'], `duplicate rule name "${name}" (first used by ${formatPath([...at, first])})`);
  });
  return all.every((r) => r !== undefined) ? { rules: all, all } : { rules: [], all };
}

function spec(is: Issues, v: unknown, at: readonly Segment[]): { spec?: PolicySpec; all: (PolicyRule | undefined)[] } {
  const o = mapping(is, v, at);
  if (o === undefined) return { all: [] };
  checkFields(is, o, at, SPEC_FIELDS);
  const def = required(is, o, at, 'default', defaultAction);
  const decoded = required(is, o, at, 'rules', rules);
  const node = optional(is, o, at, 'node', nodeSettings);
  const all = decoded?.all ?? [];
  if (def === undefined || decoded === undefined) return { all };
  return {
    spec: node === undefined ? { default: def, rules: decoded.rules } : { default: def, rules: decoded.rules, node },
    all,
  };
}

function constant(value: string, field: string) {
  return (is: Issues, v: unknown, at: readonly Segment[]): string | undefined => {
    if (v === value) return value;
    is.error(at, `${field} must be "${value}", got ${describe(v)}`);
    return undefined;
  };
}

// ---------------------------------------------------------------------------------------------
// Warnings that need the whole (valid) policy.

function ruleWarnings(is: Issues, all: readonly (PolicyRule | undefined)[], policy: ThpPolicy | undefined): void {
  const canonical: (CanonicalRule | undefined)[] = all.map((r) => {
    if (r === undefined) return undefined;
    try {
      return normalizeRule(r);
    } catch {
      return undefined; // cannot happen for a rule that decoded without errors
    }
  });
  canonical.forEach((r, i) => {
    if (r === undefined) return;
    const at = ['spec', 'rules', i];
    const raw = all[i];
    const gate = raw?.underPressure;
    if (gate !== undefined) {
      const gateOrders = orderSetToOrders(gate);
      if (r.underPressure === undefined) {
        is.warn([...at, 'underPressure'], 'underPressure grants the same orders as allow, so the gate has no effect');
      } else if (gateOrders.some((o) => !r.allow.orders.includes(o))) {
        is.warn(
          [...at, 'underPressure'],
          'underPressure grants orders that allow does not; a pressure gate normally narrows what the rule grants',
        );
      }
    }
    const pmdOnly = r.match.contexts.every((c) => c === 'khugepaged' || c === 'forced_collapse');
    if (pmdOnly && r.allow.orders.length > 0 && !r.allow.orders.includes(PMD_ORDER)) {
      is.warn(
        [...at, 'allow'],
        `khugepaged and forced_collapse only request PMD order ${PMD_ORDER} (kernel-interface.md 2.7), so this rule denies every call it matches`,
      );
    }
  });
  for (const { rule: j, by: i } of findShadowedRules(canonical)) {
    is.warn(
      ['spec', 'rules', j],
      `rule "${canonical[j]?.name ?? ''}" can never decide: the earlier rule "${canonical[i]?.name ?? ''}" (spec.rules[${i}]) matches every cgroup, context and advice it matches`,
    );
  }
  if (policy !== undefined) nodeWarnings(is, policy);
}

/** Orders the policy's rules or default could grant, with the path that grants them. */
function grants(policy: ThpPolicy): { at: Segment[]; orders: number[] }[] {
  const out: { at: Segment[]; orders: number[] }[] = [];
  const d = policy.spec.default;
  if (d.action === 'allow') out.push({ at: ['spec', 'default'], orders: orderSetToOrders(d) });
  policy.spec.rules.forEach((r, i) => {
    out.push({ at: ['spec', 'rules', i, 'allow'], orders: orderSetToOrders(r.allow) });
    if (r.underPressure !== undefined) {
      out.push({ at: ['spec', 'rules', i, 'underPressure'], orders: orderSetToOrders(r.underPressure) });
    }
  });
  return out;
}

function nodeWarnings(is: Issues, policy: ThpPolicy): void {
  const node = policy.spec.node;
  if (node === undefined) return;
  const hasSettings =
    node.enabled !== undefined ||
    node.defrag !== undefined ||
    node.shmemEnabled !== undefined ||
    Object.keys(node.hugepages ?? {}).length > 0 ||
    node.khugepaged?.maxPtesNone !== undefined ||
    node.khugepaged?.pagesToScan !== undefined;
  if (node.withoutHook === 'node-level' && !hasSettings) {
    is.warn(
      ['spec', 'node', 'withoutHook'],
      'withoutHook: node-level with no node settings: on a kernel without the hook the agent would change nothing',
    );
  }
  // Per order: the size's sysfs mode as this policy sets it (undefined = left as the node has it).
  const modeByOrder = new Map<number, { key: string; mode: HugepageSizeMode }>();
  for (const [key, mode] of Object.entries(node.hugepages ?? {})) {
    const parsed = parseThpSize(key);
    if (parsed.ok) modeByOrder.set(parsed.order, { key, mode });
  }
  const granted = grants(policy).filter((g) => g.orders.length > 0);
  if (
    node.enabled === 'never' &&
    granted.length > 0 &&
    ![...modeByOrder.values()].some((m) => m.mode === 'always' || m.mode === 'madvise')
  ) {
    is.warn(
      ['spec', 'node', 'enabled'],
      'enabled: never with rules that grant THP: BPF can only narrow what sysfs allows, so only sizes set to always or madvise under hugepages can be granted',
    );
  }
  for (const g of granted) {
    const blocked = g.orders.filter((o) => {
      const m = modeByOrder.get(o);
      return m !== undefined && (m.mode === 'never' || (m.mode === 'inherit' && node.enabled === 'never'));
    });
    if (blocked.length === 0) continue;
    const names = blocked.map((o) => `${o} (${orderToShortSize(o)})`).join(', ');
    is.warn(
      g.at,
      `order${blocked.length > 1 ? 's' : ''} ${names} can never be granted: spec.node.hugepages sets ${blocked
        .map((o) => `"${modeByOrder.get(o)?.key ?? ''}"`)
        .join(', ')} so sysfs does not allow ${blocked.length > 1 ? 'them' : 'it'}, and BPF can only narrow`,
    );
  }
}

// ---------------------------------------------------------------------------------------------

/** Validation with an optional source locator (used by parsePolicy). */
export function validateDocument(doc: unknown, locate?: Locator): ValidationResult {
  const is = new Issues();
  let policy: ThpPolicy | undefined;
  let all: (PolicyRule | undefined)[] = [];
  const o = isPlainObject(doc) ? doc : undefined;
  if (o === undefined) {
    is.error(
      [],
      `a policy must be a mapping with apiVersion, kind, metadata and spec; got ${describe(doc)}${
        typeof doc === 'string' ? ' (use parsePolicy for YAML or JSON text)' : ''
      }`,
    );
  } else {
    checkFields(is, o, [], TOP_FIELDS);
    const apiVersion = required(is, o, [], 'apiVersion', constant(API_VERSION, 'apiVersion'));
    const kind = required(is, o, [], 'kind', constant(POLICY_KIND, 'kind'));
    const meta = required(is, o, [], 'metadata', metadata);
    const decoded = required(is, o, [], 'spec', spec);
    all = decoded?.all ?? [];
    const body = decoded?.spec;
    if (apiVersion !== undefined && kind !== undefined && meta !== undefined && body !== undefined && is.errors === 0) {
      policy = { apiVersion: API_VERSION, kind: POLICY_KIND, metadata: meta, spec: body };
    }
  }
  if (policy === undefined && is.errors === 0) {
    // Every decoder reports before giving up, so this is a bug; keep the result's promise anyway.
    is.error([], 'internal error: the policy could not be assembled although no error was reported');
  }
  ruleWarnings(is, all, policy);
  const issues: PolicyIssue[] = is.list.map((raw) => {
    const pos = locate?.(raw.segments, raw.target);
    const base = { path: formatPath(raw.segments), message: raw.message, severity: raw.severity };
    return pos === undefined ? base : { ...base, line: pos.line, column: pos.column };
  });
  const errors = issues.filter((i) => i.severity === 'error');
  const warnings = issues.filter((i) => i.severity === 'warning');
  return policy === undefined ? { ok: false, errors, warnings } : { ok: true, policy, warnings };
}

/**
 * Validate a parsed document (for example the result of `JSON.parse`, or an object built in
 * code). Returns the typed policy and warnings, or every error with its path. Never throws.
 * Use `parsePolicy` for YAML/JSON text: it also reports line and column.
 */
export function validatePolicy(doc: unknown): ValidationResult {
  return validateDocument(doc);
}
