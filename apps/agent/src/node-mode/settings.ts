/**
 * The node section of a policy (`spec.node`, issue 9) as this module takes it, and the pure
 * planning around it: which sysfs values a policy needs on this node, in which order they are
 * written, and which THP sizes a set of values turns on.
 *
 * `NodeSettings` mirrors libs/policy's `spec.node` field for field, so the agent can hand one
 * over as the other; this module does not import libs/policy so either can change on its own.
 */

/** `transparent_hugepage/enabled` (kernel-interface.md 5.2). */
export const THP_ENABLED_VALUES = ['always', 'madvise', 'never'] as const;
export type ThpEnabledValue = (typeof THP_ENABLED_VALUES)[number];

/** `transparent_hugepage/defrag` (kernel-interface.md 5.2). */
export const THP_DEFRAG_VALUES = ['always', 'defer', 'defer+madvise', 'madvise', 'never'] as const;
export type ThpDefragValue = (typeof THP_DEFRAG_VALUES)[number];

/** Global `transparent_hugepage/shmem_enabled` (kernel-interface.md 5.2). */
export const SHMEM_ENABLED_VALUES = ['always', 'within_size', 'advise', 'never', 'deny', 'force'] as const;
export type ShmemEnabledValue = (typeof SHMEM_ENABLED_VALUES)[number];

/** `transparent_hugepage/hugepages-<size>kB/enabled` (kernel-interface.md 5.2). */
export const PER_SIZE_ENABLED_VALUES = ['always', 'inherit', 'madvise', 'never'] as const;
export type PerSizeEnabledValue = (typeof PER_SIZE_ENABLED_VALUES)[number];

/** What to do on a kernel without `bpf_thp_ops` (issue 9): refuse, or apply only the node section. */
export const WITHOUT_HOOK_VALUES = ['deny', 'node-level'] as const;
export type WithoutHookValue = (typeof WITHOUT_HOOK_VALUES)[number];

/** `spec.node`. Every field is optional; an omitted control keeps the node's own (pre-thp-fleet) value. */
export interface NodeSettings {
  readonly enabled?: ThpEnabledValue;
  readonly defrag?: ThpDefragValue;
  readonly shmemEnabled?: ShmemEnabledValue;
  /** Key: a size as the kernel spells it without the prefix, e.g. "2048kB" for `hugepages-2048kB/enabled`. */
  readonly hugepages?: Readonly<Record<string, PerSizeEnabledValue>>;
  readonly khugepaged?: { readonly maxPtesNone?: number; readonly pagesToScan?: number };
  /** Default `deny`. */
  readonly withoutHook?: WithoutHookValue;
}

/**
 * A control thp-fleet may write, as a path relative to the THP sysfs root. These are exactly
 * the files recorded in the baseline and restored on removal.
 */
export type ControlPath =
  | 'enabled'
  | 'defrag'
  | 'shmem_enabled'
  | `hugepages-${number}kB/enabled`
  | 'khugepaged/max_ptes_none'
  | 'khugepaged/pages_to_scan';

/** Control path -> value in the kernel's spelling (integers in decimal). */
export type SysfsValues = Readonly<Record<string, string>>;

const PER_SIZE_RE = /^hugepages-([1-9][0-9]*)kB\/enabled$/;
const SIZE_KEY_RE = /^([1-9][0-9]*)kB$/;

export function isControlPath(path: string): path is ControlPath {
  return (
    path === 'enabled' ||
    path === 'defrag' ||
    path === 'shmem_enabled' ||
    path === 'khugepaged/max_ptes_none' ||
    path === 'khugepaged/pages_to_scan' ||
    PER_SIZE_RE.test(path)
  );
}

export function perSizeControl(sizeKb: number): ControlPath {
  return `hugepages-${sizeKb}kB/enabled`;
}

/** `hugepages-64kB/enabled` -> 64; undefined for other controls. */
export function perSizeKb(path: string): number | undefined {
  const m = PER_SIZE_RE.exec(path);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** One problem with a node section on this node, with the spec path it concerns. */
export interface NodeSettingsIssue {
  /** e.g. `spec.node.hugepages["64kB"]`, the same spelling libs/policy uses. */
  readonly path: string;
  readonly message: string;
}

/** What `planNodeValues` needs to know about the node. */
export interface NodeControls {
  /** Every writable control present on the node: current value and the options its file lists (null: integer file). */
  readonly controls: Readonly<Record<string, { readonly value: string; readonly options: readonly string[] | null }>>;
  /** `hpage_pmd_size` in bytes. */
  readonly hpagePmdSize: number;
}

export type NodePlan =
  | { readonly ok: true; readonly values: SysfsValues }
  | { readonly ok: false; readonly issues: readonly NodeSettingsIssue[] };

/**
 * Base page size assumed when bounding `max_ptes_none` by HPAGE_PMD_NR - 1: 4 KiB, x86-64
 * (kernel-interface.md 5.1 "x86-64 with 4K pages"). The kernel checks the exact bound itself.
 */
export const DEFAULT_PAGE_SIZE_BYTES = 4096;
/** `pages_to_scan` is an unsigned int and 0 gives -EINVAL (kernel-interface.md 5.4). */
const PAGES_TO_SCAN_MAX = 0xffffffff;

function quoteKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function checkChoice(
  issues: NodeSettingsIssue[],
  node: NodeControls,
  specPath: string,
  control: string,
  value: unknown,
  allowed: readonly string[],
  out: Record<string, string>,
): void {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    issues.push({ path: specPath, message: `${JSON.stringify(value)} is not one of ${allowed.join(', ')}` });
    return;
  }
  const state = node.controls[control];
  if (state === undefined) {
    issues.push({ path: specPath, message: `this node has no ${control}` });
    return;
  }
  if (state.options !== null && !state.options.includes(value)) {
    issues.push({
      path: specPath,
      message: `this node's ${control} does not offer "${value}" (it lists: ${state.options.join(' ')})`,
    });
    return;
  }
  out[control] = value;
}

function checkInteger(
  issues: NodeSettingsIssue[],
  node: NodeControls,
  specPath: string,
  control: string,
  value: unknown,
  min: number,
  max: number,
  why: string,
  out: Record<string, string>,
): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    issues.push({ path: specPath, message: `${JSON.stringify(value)} is not an integer in ${min}..${max} (${why})` });
    return;
  }
  if (node.controls[control] === undefined) {
    issues.push({ path: specPath, message: `this node has no ${control}` });
    return;
  }
  out[control] = String(value);
}

/**
 * The complete set of values the node should hold under a policy: the baseline (the node's own
 * values, recorded before thp-fleet changed anything) overlaid with the policy's node section.
 * Checks every field against what this node offers (size directories present, options listed
 * by each file, khugepaged bounds) and reports every problem, never just the first.
 */
export function planNodeValues(
  settings: NodeSettings | undefined,
  node: NodeControls,
  baseline: SysfsValues,
  pageSizeBytes = DEFAULT_PAGE_SIZE_BYTES,
): NodePlan {
  const issues: NodeSettingsIssue[] = [];
  const out: Record<string, string> = { ...baseline };
  if (settings === undefined) return { ok: true, values: out };
  // Runtime shape checks: the settings come from JSON on the wire.
  const s = settings as Record<string, unknown>;
  const known = new Set(['enabled', 'defrag', 'shmemEnabled', 'hugepages', 'khugepaged', 'withoutHook']);
  for (const key of Object.keys(s)) {
    if (!known.has(key)) issues.push({ path: `spec.node${quoteKey(key)}`, message: 'unknown field' });
  }
  if (s['enabled'] !== undefined) checkChoice(issues, node, 'spec.node.enabled', 'enabled', s['enabled'], THP_ENABLED_VALUES, out);
  if (s['defrag'] !== undefined) checkChoice(issues, node, 'spec.node.defrag', 'defrag', s['defrag'], THP_DEFRAG_VALUES, out);
  if (s['shmemEnabled'] !== undefined) {
    checkChoice(issues, node, 'spec.node.shmemEnabled', 'shmem_enabled', s['shmemEnabled'], SHMEM_ENABLED_VALUES, out);
  }
  if (s['withoutHook'] !== undefined && !WITHOUT_HOOK_VALUES.includes(s['withoutHook'] as WithoutHookValue)) {
    issues.push({
      path: 'spec.node.withoutHook',
      message: `${JSON.stringify(s['withoutHook'])} is not one of ${WITHOUT_HOOK_VALUES.join(', ')}`,
    });
  }
  const hugepages = s['hugepages'];
  if (hugepages !== undefined) {
    if (typeof hugepages !== 'object' || hugepages === null || Array.isArray(hugepages)) {
      issues.push({ path: 'spec.node.hugepages', message: 'must be a map of "<size>kB" to a mode' });
    } else {
      for (const [key, value] of Object.entries(hugepages as Record<string, unknown>)) {
        const specPath = `spec.node.hugepages${quoteKey(key)}`;
        const m = SIZE_KEY_RE.exec(key);
        if (m?.[1] === undefined) {
          issues.push({ path: specPath, message: `"${key}" is not a size in the kernel's spelling, e.g. "2048kB"` });
          continue;
        }
        checkChoice(issues, node, specPath, perSizeControl(Number(m[1])), value, PER_SIZE_ENABLED_VALUES, out);
      }
    }
  }
  const k = s['khugepaged'];
  if (k !== undefined) {
    if (typeof k !== 'object' || k === null || Array.isArray(k)) {
      issues.push({ path: 'spec.node.khugepaged', message: 'must be an object with maxPtesNone and/or pagesToScan' });
    } else {
      const kh = k as Record<string, unknown>;
      for (const key of Object.keys(kh)) {
        if (key !== 'maxPtesNone' && key !== 'pagesToScan') {
          issues.push({ path: `spec.node.khugepaged${quoteKey(key)}`, message: 'unknown field' });
        }
      }
      // HPAGE_PMD_NR - 1 is the largest accepted max_ptes_none (kernel-interface.md 5.4).
      const pmdNr = Math.floor(node.hpagePmdSize / pageSizeBytes);
      if (kh['maxPtesNone'] !== undefined) {
        checkInteger(
          issues, node, 'spec.node.khugepaged.maxPtesNone', 'khugepaged/max_ptes_none', kh['maxPtesNone'],
          0, pmdNr - 1, `HPAGE_PMD_NR - 1 = ${pmdNr - 1} on this node`, out,
        );
      }
      if (kh['pagesToScan'] !== undefined) {
        checkInteger(
          issues, node, 'spec.node.khugepaged.pagesToScan', 'khugepaged/pages_to_scan', kh['pagesToScan'],
          1, PAGES_TO_SCAN_MAX, 'the kernel rejects 0', out,
        );
      }
    }
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, values: out };
}

/** Rank used to order writes: tunables first, then modes, THP-enabling values last, `enabled` very last. */
function writeRank(path: string, value: string): number {
  if (path.startsWith('khugepaged/')) return 0;
  if (path === 'defrag') return 1;
  if (path === 'shmem_enabled') return 2;
  if (path === 'enabled') return 5;
  // Per-size: switching sizes off (never/inherit) before switching others on.
  return value === 'always' || value === 'madvise' ? 4 : 3;
}

/**
 * The writes that take a node from `current` to `target`, in the order they are made: khugepaged
 * tunables, defrag, shmem_enabled, per-size controls (off before on, ascending size), and the
 * top-level `enabled` last, so the global switch that turns THP on is the final write.
 * Controls already at their target value are not written.
 */
export function orderedWrites(current: SysfsValues, target: SysfsValues): { path: ControlPath; value: string }[] {
  const writes: { path: ControlPath; value: string; rank: number; size: number }[] = [];
  for (const [path, value] of Object.entries(target)) {
    if (current[path] === value) continue;
    if (!isControlPath(path)) throw new Error(`internal: ${path} is not a writable THP control`);
    writes.push({ path, value, rank: writeRank(path, value), size: perSizeKb(path) ?? 0 });
  }
  writes.sort((a, b) => a.rank - b.rank || a.size - b.size || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return writes.map(({ path, value }) => ({ path, value }));
}

/**
 * The writes that switch THP off without touching anything else: every per-size control set to
 * `always` or `madvise` goes to `never` (such a size gets THP even when `enabled` is `never`,
 * kernel-interface.md 5.3), then `enabled` goes to `never`, which also switches off the sizes
 * set to `inherit`.
 */
export function thpOffWrites(current: SysfsValues): { path: ControlPath; value: string }[] {
  const target: Record<string, string> = {};
  for (const [path, value] of Object.entries(current)) {
    if (perSizeKb(path) !== undefined && (value === 'always' || value === 'madvise')) target[path] = 'never';
  }
  if (current['enabled'] !== undefined && current['enabled'] !== 'never') target['enabled'] = 'never';
  return orderedWrites(current, target);
}

/**
 * Per anonymous THP size, the mode that decides faults: the per-size value, or the top-level
 * `enabled` value for `inherit` (the mask in `thp_vma_allowable_orders`, kernel-interface.md 5.3).
 */
export function effectiveSizeModes(values: SysfsValues): Map<number, string> {
  const top = values['enabled'] ?? 'never';
  const out = new Map<number, string>();
  for (const [path, value] of Object.entries(values)) {
    const kb = perSizeKb(path);
    if (kb !== undefined) out.set(kb, value === 'inherit' ? top : value);
  }
  return out;
}

/**
 * True when any THP can be allocated under `values` outside MADV_COLLAPSE: the top-level
 * `enabled` is not `never` (it also gates file/shmem VMAs, kernel-interface.md 5.3), or a
 * per-size control is `always` or `madvise` (such a size works even under a `never` top level).
 */
export function thpOn(values: SysfsValues): boolean {
  if ((values['enabled'] ?? 'never') !== 'never') return true;
  return Object.entries(values).some(([path, v]) => perSizeKb(path) !== undefined && (v === 'always' || v === 'madvise'));
}

/** Sizes in kB whose effective mode lets THP be allocated (`always` or `madvise`), ascending. */
export function thpOnSizes(values: SysfsValues): number[] {
  return [...effectiveSizeModes(values)]
    .filter(([, mode]) => mode === 'always' || mode === 'madvise')
    .map(([kb]) => kb)
    .sort((a, b) => a - b);
}
