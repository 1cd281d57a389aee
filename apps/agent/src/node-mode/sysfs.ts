/**
 * Reading and writing the THP controls under `/sys/kernel/mm/transparent_hugepage` (or a
 * directory tree that imitates it), in the kernel's exact formats (kernel-interface.md 5.2, 5.4).
 *
 * Two stores share one validation path. Every write first reads the file and checks the value
 * against the options the file itself lists (or the integer bounds), then:
 * - on the real sysfs (statfs type SYSFS_MAGIC) it writes the bare value, and the kernel
 *   re-renders the file (`madvise` -> `always [madvise] never`);
 * - on any other filesystem (an imitation tree in a temp dir, a simulated node's tree) it
 *   emulates that: it rewrites the file in the bracketed format, atomically (temp + rename),
 *   the way the kernel's attribute store is atomic.
 * The store is chosen from the filesystem type, not from configuration, so an imitation tree
 * can never be written in the kernel's way (which would leave a bare `madvise` that no longer
 * parses) and the kernel's files are never rewritten with brackets (which the kernel rejects).
 * Writing the real sysfs needs `allowKernelWrites: true`; by default a kernel tree is read-only.
 */
import { open, readFile, readdir, rename, stat, statfs, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ThpSysfs } from '@thp-fleet/proto';
import {
  DEFAULT_PAGE_SIZE_BYTES,
  isControlPath,
  thpOnSizes,
  type ControlPath,
  type NodeControls,
  type SysfsValues,
} from './settings.js';

export const DEFAULT_THP_SYSFS_ROOT = '/sys/kernel/mm/transparent_hugepage';
/** `SYSFS_MAGIC` from include/uapi/linux/magic.h: the f_type statfs reports for sysfs. */
export const SYSFS_MAGIC = 0x62656572;

/** A file had content this parser does not accept. */
export class SysfsFormatError extends Error {
  constructor(
    readonly file: string,
    readonly content: string,
    reason: string,
  ) {
    super(`${file}: ${reason} (content ${JSON.stringify(content)})`);
    this.name = 'SysfsFormatError';
  }
}

/** A write was refused (invalid value, read-only tree) or failed in the kernel. */
export class SysfsWriteError extends Error {
  constructor(
    readonly file: string,
    readonly value: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`cannot write ${JSON.stringify(value)} to ${file}: ${reason}`, options);
    this.name = 'SysfsWriteError';
  }
}

/** A bracketed selection file such as `always [madvise] never`. */
export interface Selection {
  readonly selected: string;
  /** Every option, in the order the file lists them. */
  readonly options: readonly string[];
}

/** Parse the kernel's selection format: space-separated options, exactly one in brackets, newline-terminated. */
export function parseSelection(content: string, file: string): Selection {
  const body = content.endsWith('\n') ? content.slice(0, -1) : content;
  if (body.length === 0) throw new SysfsFormatError(file, content, 'empty file, expected options such as "always [madvise] never"');
  if (body.includes('\n')) throw new SysfsFormatError(file, content, 'more than one line');
  const tokens = body.split(' ');
  const options: string[] = [];
  let selected: string | undefined;
  for (const token of tokens) {
    const m = /^\[([^[\]\s]+)\]$/.exec(token);
    const name = m?.[1] ?? token;
    if (!/^[^[\]\s]+$/.test(name)) throw new SysfsFormatError(file, content, `malformed option ${JSON.stringify(token)}`);
    if (options.includes(name)) throw new SysfsFormatError(file, content, `option "${name}" listed twice`);
    if (m !== null) {
      if (selected !== undefined) throw new SysfsFormatError(file, content, 'more than one option in brackets');
      selected = name;
    }
    options.push(name);
  }
  if (selected === undefined) throw new SysfsFormatError(file, content, 'no option in brackets');
  return { selected, options };
}

/** The kernel's rendering of a selection file (`always [madvise] never\n`). */
export function formatSelection(options: readonly string[], selected: string): string {
  if (!options.includes(selected)) throw new Error(`"${selected}" is not among ${options.join(' ')}`);
  return `${options.map((o) => (o === selected ? `[${o}]` : o)).join(' ')}\n`;
}

/** Parse an unsigned decimal attribute (`4096\n`), as the kernel prints with "%u\n" / "%lu\n". */
export function parseUnsigned(content: string, file: string): number {
  if (!/^[0-9]+\n?$/.test(content)) throw new SysfsFormatError(file, content, 'expected an unsigned decimal integer');
  const n = Number(content.trim());
  if (!Number.isSafeInteger(n)) throw new SysfsFormatError(file, content, 'integer out of range');
  return n;
}

/** Parse a 0/1 flag attribute such as `shrink_underused`. */
export function parseFlag(content: string, file: string): boolean {
  const n = parseUnsigned(content, file);
  if (n !== 0 && n !== 1) throw new SysfsFormatError(file, content, 'expected 0 or 1');
  return n === 1;
}

/** A writable control: its current value and the options its file lists (null for an integer file). */
export interface ControlState {
  readonly value: string;
  readonly options: readonly string[] | null;
}

export type TreeKind = 'kernel' | 'imitation' | 'simulator';

/** Everything readable about the node's THP mode; maps onto proto `ThpSysfs` (see `toThpSysfsFields`). */
export interface ThpSysfsSnapshot {
  readonly root: string;
  readonly kind: TreeKind;
  /** Selected values as the kernel spells them (strings: a newer kernel may offer a mode this code does not know). */
  readonly enabled: string;
  readonly defrag: string;
  readonly shmemEnabled: string;
  /** "hugepages-<n>kB" -> selected value, for every size directory that has an `enabled` file. */
  readonly perSizeEnabled: Readonly<Record<string, string>>;
  readonly khugepaged: {
    readonly maxPtesNone: number;
    readonly pagesToScan: number;
    readonly scanSleepMillisecs: number;
    readonly allocSleepMillisecs: number;
  };
  /** null when the kernel has no `shrink_underused` (it is newer than the other controls). */
  readonly shrinkUnderused: boolean | null;
  /** `hpage_pmd_size` in bytes (2097152 on x86-64 with 4K pages, kernel-interface.md 5.1). */
  readonly hpagePmdSize: number;
  /** Every control thp-fleet may write (see `ControlPath`), keyed by path relative to the root. */
  readonly controls: Readonly<Record<string, ControlState>>;
}

/** What the node-mode sequencer needs from a THP tree; `ThpSysfsTree` implements it, a simulator may too. */
export interface NodeSysfs {
  readonly root: string;
  readSnapshot(): Promise<ThpSysfsSnapshot>;
  /** Validate `value` against the file's own options (or integer bounds) and write it; throws SysfsWriteError. */
  write(path: ControlPath, value: string): Promise<void>;
}

/** The values of every writable control in a snapshot (what the baseline records). */
export function controlValues(snapshot: NodeControls): SysfsValues {
  const out: Record<string, string> = {};
  for (const [path, state] of Object.entries(snapshot.controls)) out[path] = state.value;
  return out;
}

/** Proto `ThpSysfs` fields (`create(ThpSysfsSchema, toThpSysfsFields(s))`). */
export function toThpSysfsFields(s: ThpSysfsSnapshot): Omit<ThpSysfs, '$typeName'> {
  return {
    enabled: s.enabled,
    defrag: s.defrag,
    shmemEnabled: s.shmemEnabled,
    perSizeEnabled: { ...s.perSizeEnabled },
    khugepagedMaxPtesNone: s.khugepaged.maxPtesNone,
    khugepagedPagesToScan: s.khugepaged.pagesToScan,
    khugepagedScanSleepMillisecs: s.khugepaged.scanSleepMillisecs,
    khugepagedAllocSleepMillisecs: s.khugepaged.allocSleepMillisecs,
    shrinkUnderused: s.shrinkUnderused ?? false,
  };
}

/** Capabilities.enabled_mthp_sizes_kb: anonymous sizes whose effective mode is not `never`. */
export function enabledMthpSizesKb(s: ThpSysfsSnapshot): number[] {
  return thpOnSizes(controlValues(s));
}

export interface ThpSysfsTreeOptions {
  /** Default `/sys/kernel/mm/transparent_hugepage`. */
  readonly root?: string;
  /** Writes to a real sysfs are refused unless this is true. Imitation trees are always writable. */
  readonly allowKernelWrites?: boolean;
  /** Base page size for the max_ptes_none bound; default 4096 (see settings.ts). */
  readonly pageSizeBytes?: number;
}

const SIZE_DIR_RE = /^hugepages-([1-9][0-9]*)kB$/;
/** Upper bound of an unsigned int sysfs attribute. */
const UINT_MAX = 0xffffffff;

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SysfsFormatError(file, '', `cannot read (${code})`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

let tmpCounter = 0;

/** A THP control tree: the kernel's, or an imitation of it in an ordinary directory. */
export class ThpSysfsTree implements NodeSysfs {
  private constructor(
    readonly root: string,
    readonly kind: 'kernel' | 'imitation',
    private readonly writable: boolean,
    private readonly pageSizeBytes: number,
  ) {}

  /** Check the root exists and decide kernel vs imitation from the filesystem type. */
  static async open(options: ThpSysfsTreeOptions = {}): Promise<ThpSysfsTree> {
    const root = options.root ?? DEFAULT_THP_SYSFS_ROOT;
    let isDir = false;
    try {
      isDir = (await stat(root)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      throw new Error(
        `THP sysfs root ${root} is not a directory (is the kernel built with CONFIG_TRANSPARENT_HUGEPAGE, or is the path wrong?)`,
      );
    }
    const kind = (await statfs(root)).type === SYSFS_MAGIC ? 'kernel' : 'imitation';
    const writable = kind === 'imitation' || options.allowKernelWrites === true;
    return new ThpSysfsTree(root, kind, writable, options.pageSizeBytes ?? DEFAULT_PAGE_SIZE_BYTES);
  }

  /** Sizes in kB of the `hugepages-<n>kB` directories that have an `enabled` file (anonymous sizes), ascending. */
  async perSizeDirs(): Promise<number[]> {
    const entries = await readdir(this.root, { withFileTypes: true });
    const sizes: number[] = [];
    for (const e of entries) {
      const m = SIZE_DIR_RE.exec(e.name);
      if (m?.[1] === undefined || !e.isDirectory()) continue;
      // File-only orders (e.g. hugepages-8kB on 6.18) have shmem_enabled but no enabled.
      if (await exists(join(this.root, e.name, 'enabled'))) sizes.push(Number(m[1]));
    }
    return sizes.sort((a, b) => a - b);
  }

  async readSelection(path: string): Promise<Selection> {
    const file = join(this.root, path);
    return parseSelection(await readText(file), file);
  }

  async readUnsigned(path: string): Promise<number> {
    const file = join(this.root, path);
    return parseUnsigned(await readText(file), file);
  }

  async readSnapshot(): Promise<ThpSysfsSnapshot> {
    const controls: Record<string, ControlState> = {};
    const sel = async (path: ControlPath): Promise<string> => {
      const s = await this.readSelection(path);
      controls[path] = { value: s.selected, options: s.options };
      return s.selected;
    };
    const num = async (path: ControlPath): Promise<number> => {
      const n = await this.readUnsigned(path);
      controls[path] = { value: String(n), options: null };
      return n;
    };
    const enabled = await sel('enabled');
    const defrag = await sel('defrag');
    const shmemEnabled = await sel('shmem_enabled');
    const perSizeEnabled: Record<string, string> = {};
    for (const kb of await this.perSizeDirs()) {
      perSizeEnabled[`hugepages-${kb}kB`] = await sel(`hugepages-${kb}kB/enabled`);
    }
    const maxPtesNone = await num('khugepaged/max_ptes_none');
    const pagesToScan = await num('khugepaged/pages_to_scan');
    const scanSleepMillisecs = await this.readUnsigned('khugepaged/scan_sleep_millisecs');
    const allocSleepMillisecs = await this.readUnsigned('khugepaged/alloc_sleep_millisecs');
    const shrinkPath = join(this.root, 'shrink_underused');
    const shrinkUnderused = (await exists(shrinkPath)) ? parseFlag(await readText(shrinkPath), shrinkPath) : null;
    const hpagePmdSize = await this.readUnsigned('hpage_pmd_size');
    return {
      root: this.root,
      kind: this.kind,
      enabled,
      defrag,
      shmemEnabled,
      perSizeEnabled,
      khugepaged: { maxPtesNone, pagesToScan, scanSleepMillisecs, allocSleepMillisecs },
      shrinkUnderused,
      hpagePmdSize,
      controls,
    };
  }

  async write(path: ControlPath, value: string): Promise<void> {
    const file = join(this.root, path);
    if (!isControlPath(path)) throw new SysfsWriteError(file, value, 'not a control thp-fleet writes');
    if (!this.writable) {
      throw new SysfsWriteError(file, value, 'writes to the kernel sysfs are disabled (open the tree with allowKernelWrites)');
    }
    const content = await readText(file);
    let rendered: string;
    if (path.startsWith('khugepaged/')) {
      parseUnsigned(content, file);
      rendered = `${await this.checkInteger(path, file, value)}\n`;
    } else {
      const { options } = parseSelection(content, file);
      if (!options.includes(value)) {
        throw new SysfsWriteError(file, value, `not an option of this file (it lists: ${options.join(' ')})`);
      }
      rendered = formatSelection(options, value);
    }
    if (this.kind === 'kernel') await this.storeKernel(file, value);
    else await storeImitation(file, rendered);
  }

  private async checkInteger(path: string, file: string, value: string): Promise<number> {
    if (!/^[0-9]+$/.test(value)) throw new SysfsWriteError(file, value, 'expected an unsigned decimal integer');
    const n = Number(value);
    if (path === 'khugepaged/pages_to_scan' && (n < 1 || n > UINT_MAX)) {
      // khugepaged_init(): writing 0 gives -EINVAL (kernel-interface.md 5.4).
      throw new SysfsWriteError(file, value, `must be in 1..${UINT_MAX}`);
    }
    if (path === 'khugepaged/max_ptes_none') {
      // Writes above HPAGE_PMD_NR - 1 give -EINVAL (kernel-interface.md 5.4).
      const limit = await this.maxPtesNoneLimit();
      if (n > limit) throw new SysfsWriteError(file, value, `must be in 0..${limit} (HPAGE_PMD_NR - 1)`);
    }
    return n;
  }

  /** The kernel parses the bare value (sysfs_streq / kstrtouint) and re-renders the file itself. */
  private async storeKernel(file: string, value: string): Promise<void> {
    let handle;
    try {
      // r+: never create or truncate anything in the kernel's tree.
      handle = await open(file, 'r+');
      await handle.write(value);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new SysfsWriteError(file, value, `the kernel refused it (${code})`, { cause: err });
    } finally {
      await handle?.close();
    }
  }

  /** The writable controls' current values (the baseline a policy is laid over). */
  async readValues(): Promise<SysfsValues> {
    return controlValues(await this.readSnapshot());
  }

  /** HPAGE_PMD_NR - 1 for this tree. */
  async maxPtesNoneLimit(): Promise<number> {
    return Math.floor((await this.readUnsigned('hpage_pmd_size')) / this.pageSizeBytes) - 1;
  }
}

/** Emulated kernel store: the whole file replaced in one rename, as the kernel's attribute store is atomic. */
async function storeImitation(file: string, rendered: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${++tmpCounter}`;
  try {
    await writeFile(tmp, rendered);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SysfsWriteError(file, rendered.trim(), `cannot replace the imitation file (${code})`, { cause: err });
  }
}
