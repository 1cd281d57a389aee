/**
 * Directory trees that imitate `/sys/kernel/mm/transparent_hugepage`, with the kernel's file
 * formats, for tests and for simulated nodes. `ThpSysfsTree` writes them the way the kernel
 * renders its files (see sysfs.ts), so `write('enabled', 'madvise')` leaves
 * `always [madvise] never\n`.
 *
 * The default layout and values are a 6.18 x86-64 kernel with 4 KiB pages, as on the machine
 * these were checked on; each value's source is noted where it is set.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { formatSelection } from './sysfs.js';

export interface ImitationTreeOptions {
  /** Selected values; defaults below. */
  readonly enabled?: string;
  readonly defrag?: string;
  readonly shmemEnabled?: string;
  /** Anonymous sizes in kB that get `hugepages-<n>kB/enabled`; default 16..2048 (orders 2..9, kernel-interface.md 5.1). */
  readonly anonSizesKb?: readonly number[];
  /** Sizes with only `shmem_enabled` (file orders); default [8] (order 1, as listed on a 6.18 x86-64 kernel). */
  readonly fileOnlySizesKb?: readonly number[];
  /** "hugepages-<n>kB" -> selected value; unlisted sizes get the kernel default (2048kB inherit, others never). */
  readonly perSizeEnabled?: Readonly<Record<string, string>>;
  readonly khugepaged?: {
    readonly maxPtesNone?: number;
    readonly pagesToScan?: number;
    readonly scanSleepMillisecs?: number;
    readonly allocSleepMillisecs?: number;
  };
  /** null: no `shrink_underused` file (kernels before it existed). Default true. */
  readonly shrinkUnderused?: boolean | null;
  /** Default 2097152 (kernel-interface.md 5.1). */
  readonly hpagePmdSize?: number;
  /** Override the option lists a file offers (e.g. an older kernel without `defer+madvise`). */
  readonly options?: {
    readonly enabled?: readonly string[];
    readonly defrag?: readonly string[];
    readonly shmemEnabled?: readonly string[];
    readonly perSizeEnabled?: readonly string[];
  };
}

// Option lists in the order the kernel prints them (kernel-interface.md 5.2; the per-size
// shmem_enabled order is as the 6.18 kernel prints it).
const ENABLED_OPTIONS = ['always', 'madvise', 'never'];
const DEFRAG_OPTIONS = ['always', 'defer', 'defer+madvise', 'madvise', 'never'];
const SHMEM_OPTIONS = ['always', 'within_size', 'advise', 'never', 'deny', 'force'];
const PER_SIZE_OPTIONS = ['always', 'inherit', 'madvise', 'never'];
const PER_SIZE_SHMEM_OPTIONS = ['always', 'inherit', 'within_size', 'advise', 'never'];

/** 16 kB .. 2048 kB: anonymous orders 2..9 on x86-64 with 4K pages (kernel-interface.md 5.1). */
export const DEFAULT_ANON_SIZES_KB: readonly number[] = [16, 32, 64, 128, 256, 512, 1024, 2048];
/** PMD size in kB on x86-64 with 4K pages (kernel-interface.md 5.1). */
const PMD_SIZE_KB = 2048;

/**
 * Write an imitation tree into `dir` (created if needed) and return `dir`. Files already there
 * are overwritten; nothing else is removed.
 */
export async function createImitationThpTree(dir: string, o: ImitationTreeOptions = {}): Promise<string> {
  const files = new Map<string, string>();
  const opt = o.options ?? {};
  // Build-time default CONFIG_TRANSPARENT_HUGEPAGE_MADVISE (kernel-interface.md 5.2), as on Debian kernels.
  files.set('enabled', formatSelection(opt.enabled ?? ENABLED_OPTIONS, o.enabled ?? 'madvise'));
  // Default madvise: TRANSPARENT_HUGEPAGE_DEFRAG_REQ_MADV_FLAG (kernel-interface.md 5.2).
  files.set('defrag', formatSelection(opt.defrag ?? DEFRAG_OPTIONS, o.defrag ?? 'madvise'));
  files.set('shmem_enabled', formatSelection(opt.shmemEnabled ?? SHMEM_OPTIONS, o.shmemEnabled ?? 'never'));
  // use_zero_page default 1, shrink_underused default 1 (kernel-interface.md 5.2).
  files.set('use_zero_page', '1\n');
  if (o.shrinkUnderused !== null) files.set('shrink_underused', o.shrinkUnderused === false ? '0\n' : '1\n');
  files.set('hpage_pmd_size', `${o.hpagePmdSize ?? PMD_SIZE_KB * 1024}\n`);
  for (const kb of o.anonSizesKb ?? DEFAULT_ANON_SIZES_KB) {
    const key = `hugepages-${kb}kB`;
    // "PMD-sized hugepages have enabled="inherit" and all other hugepage sizes have enabled="never"" (5.2).
    const selected = o.perSizeEnabled?.[key] ?? (kb === PMD_SIZE_KB ? 'inherit' : 'never');
    files.set(`${key}/enabled`, formatSelection(opt.perSizeEnabled ?? PER_SIZE_OPTIONS, selected));
    files.set(`${key}/shmem_enabled`, formatSelection(PER_SIZE_SHMEM_OPTIONS, kb === PMD_SIZE_KB ? 'inherit' : 'never'));
  }
  for (const kb of o.fileOnlySizesKb ?? [8]) {
    files.set(`hugepages-${kb}kB/shmem_enabled`, formatSelection(PER_SIZE_SHMEM_OPTIONS, 'never'));
  }
  // khugepaged defaults (kernel-interface.md 5.4, x86-64: HPAGE_PMD_NR = 512).
  const k = o.khugepaged ?? {};
  files.set('khugepaged/defrag', '1\n');
  files.set('khugepaged/pages_to_scan', `${k.pagesToScan ?? 4096}\n`);
  files.set('khugepaged/scan_sleep_millisecs', `${k.scanSleepMillisecs ?? 10000}\n`);
  files.set('khugepaged/alloc_sleep_millisecs', `${k.allocSleepMillisecs ?? 60000}\n`);
  files.set('khugepaged/max_ptes_none', `${k.maxPtesNone ?? 511}\n`);
  files.set('khugepaged/max_ptes_swap', '64\n');
  files.set('khugepaged/max_ptes_shared', '256\n');
  files.set('khugepaged/pages_collapsed', '0\n');
  files.set('khugepaged/full_scans', '0\n');
  for (const [path, content] of files) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

/**
 * Copy a THP tree (normally the real one, read only) into `dir`: every regular file except the
 * per-size `stats/` counters. The result imitates this machine's kernel exactly.
 */
export async function cloneThpTree(sourceRoot: string, dir: string): Promise<string> {
  for (const [path, content] of await readTreeFiles(sourceRoot)) {
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  return dir;
}

/** Every regular file under `root` except `stats/` directories: relative path -> content, sorted by path. */
export async function readTreeFiles(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'stats') await walk(path);
      } else if (e.isFile()) {
        out.set(relative(root, path), await readFile(path, 'utf8'));
      }
    }
  };
  await walk(root);
  return out;
}
