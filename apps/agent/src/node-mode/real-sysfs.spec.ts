/**
 * Detection against this machine's real /sys/kernel/mm/transparent_hugepage, READ ONLY: the
 * tree is opened without allowKernelWrites, the values are compared with `cat` output parsed
 * here independently, and every file's content is checked unchanged afterwards.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cloneThpTree } from './imitation-tree.js';
import { DEFAULT_THP_SYSFS_ROOT, SysfsWriteError, ThpSysfsTree } from './sysfs.js';

const run = promisify(execFile);
const ROOT = DEFAULT_THP_SYSFS_ROOT;
const present = existsSync(ROOT);

async function cat(path: string): Promise<string> {
  return (await run('cat', [join(ROOT, path)])).stdout;
}

/** Independent parse: the word inside the only [...] of `cat` output. */
function bracketed(text: string): string {
  const all = [...text.matchAll(/\[([^\]]+)\]/g)];
  expect(all).toHaveLength(1);
  return all[0]![1]!;
}

/**
 * Every file `find` lists under the tree with its content, except counters the kernel itself
 * moves (per-size stats, khugepaged's full_scans and pages_collapsed).
 */
async function catAll(): Promise<Map<string, string>> {
  const { stdout } = await run('find', [
    ROOT, '-type', 'f', '-not', '-path', '*/stats/*', '-not', '-name', 'full_scans', '-not', '-name', 'pages_collapsed',
  ]);
  const out = new Map<string, string>();
  for (const file of stdout.split('\n').filter((l) => l.length > 0).sort()) {
    out.set(file, (await run('cat', [file])).stdout);
  }
  return out;
}

describe.skipIf(!present)(`real THP sysfs at ${ROOT} (read only)${present ? '' : ' — SKIPPED: this kernel has no such directory'}`, () => {
  it('detects the kernel tree and reads every value as cat shows it, changing nothing', async () => {
    const before = await catAll();
    const tree = await ThpSysfsTree.open();
    expect(tree.kind).toBe('kernel');
    const s = await tree.readSnapshot();

    expect(s.enabled).toBe(bracketed(await cat('enabled')));
    expect(s.defrag).toBe(bracketed(await cat('defrag')));
    expect(s.shmemEnabled).toBe(bracketed(await cat('shmem_enabled')));
    expect(s.khugepaged.maxPtesNone).toBe(Number((await cat('khugepaged/max_ptes_none')).trim()));
    expect(s.khugepaged.pagesToScan).toBe(Number((await cat('khugepaged/pages_to_scan')).trim()));
    expect(s.khugepaged.scanSleepMillisecs).toBe(Number((await cat('khugepaged/scan_sleep_millisecs')).trim()));
    expect(s.khugepaged.allocSleepMillisecs).toBe(Number((await cat('khugepaged/alloc_sleep_millisecs')).trim()));
    expect(s.hpagePmdSize).toBe(Number((await cat('hpage_pmd_size')).trim()));
    if (existsSync(join(ROOT, 'shrink_underused'))) {
      expect(s.shrinkUnderused).toBe((await cat('shrink_underused')).trim() === '1');
    } else {
      expect(s.shrinkUnderused).toBeNull();
    }
    // Per-size: every hugepages-<n>kB directory that has an `enabled` file, per `ls`.
    const { stdout } = await run('ls', [ROOT]);
    const dirs = stdout.split('\n').filter((n) => /^hugepages-\d+kB$/.test(n) && existsSync(join(ROOT, n, 'enabled')));
    expect(Object.keys(s.perSizeEnabled).sort()).toEqual(dirs.sort());
    for (const d of dirs) expect(s.perSizeEnabled[d], d).toBe(bracketed(await cat(`${d}/enabled`)));

    expect(await catAll()).toEqual(before);
  });

  it('refuses to write the real sysfs without allowKernelWrites (and writes nothing)', async () => {
    const before = await catAll();
    const tree = await ThpSysfsTree.open();
    const current = (await tree.readSnapshot()).enabled;
    // Even if the guard were broken this would write the value already selected.
    await expect(tree.write('enabled', current)).rejects.toThrow(SysfsWriteError);
    await expect(tree.write('enabled', current)).rejects.toThrow(/writes to the kernel sysfs are disabled/);
    expect(await catAll()).toEqual(before);
  });

  it('a clone of the real tree reads the same as the real tree', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'thp-clone-'));
    try {
      const real = await (await ThpSysfsTree.open()).readSnapshot();
      const clone = await ThpSysfsTree.open({ root: await cloneThpTree(ROOT, join(dir, 'thp')) });
      expect(clone.kind).toBe('imitation');
      const copy = await clone.readSnapshot();
      expect({ ...copy, root: ROOT, kind: 'kernel' }).toEqual(real);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
