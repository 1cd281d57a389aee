/**
 * The simulator's THP sysfs through the `NodeSysfs` interface node mode uses for the kernel's:
 * the same snapshot shape, the same value spellings, and writes refused the way the kernel
 * refuses them, naming the file.
 */
import { createNode, defaultSysfs, standardWorkloadMix } from '@thp-fleet/mm-sim';
import { describe, expect, it } from 'vitest';
import { controlValues, SysfsWriteError } from '../node-mode/sysfs.js';
import { SimSysfs } from './sim-sysfs.js';

const GIB = 2 ** 30;
const node = () => createNode({ memoryBytes: GIB, tickMs: 1000, sysfs: { enabled: 'never' }, hookAbi: 'v12', workloads: standardWorkloadMix(GIB) }, 1);

describe('SimSysfs', () => {
  it('reads what the simulated kernel holds, with every writable control and only anonymous sizes', async () => {
    const n = node();
    const snap = await new SimSysfs(n, 'sim-007').readSnapshot();
    const d = defaultSysfs();
    expect(snap).toMatchObject({
      root: 'sim://sim-007/sys/kernel/mm/transparent_hugepage',
      kind: 'simulator',
      enabled: 'never',
      defrag: d.defrag,
      shmemEnabled: d.shmem_enabled,
      khugepaged: { maxPtesNone: 511, pagesToScan: 4096, scanSleepMillisecs: 10000, allocSleepMillisecs: 60000 },
      hpagePmdSize: 2097152,
      shrinkUnderused: true,
    });
    // hugepages-8kB has only shmem_enabled (order 1): not an anonymous size, not a control.
    expect(Object.keys(snap.perSizeEnabled)).toEqual(['hugepages-16kB', 'hugepages-32kB', 'hugepages-64kB', 'hugepages-128kB', 'hugepages-256kB', 'hugepages-512kB', 'hugepages-1024kB', 'hugepages-2048kB']);
    expect(snap.perSizeEnabled['hugepages-2048kB']).toBe('inherit');
    expect(Object.keys(controlValues(snap)).sort()).toEqual(
      ['enabled', 'defrag', 'shmem_enabled', 'khugepaged/max_ptes_none', 'khugepaged/pages_to_scan', ...Object.keys(snap.perSizeEnabled).map((k) => `${k}/enabled`)].sort(),
    );
    expect(snap.controls['defrag']?.options).toEqual(['always', 'defer', 'defer+madvise', 'madvise', 'never']);
  });

  it('writes each control into the simulated kernel', async () => {
    const n = node();
    const s = new SimSysfs(n, 'sim-1');
    await s.write('enabled', 'madvise');
    await s.write('defrag', 'defer+madvise');
    await s.write('shmem_enabled', 'advise');
    await s.write('hugepages-64kB/enabled', 'always');
    await s.write('khugepaged/max_ptes_none', '64');
    await s.write('khugepaged/pages_to_scan', '1024');
    expect(n.sysfs()).toMatchObject({ enabled: 'madvise', defrag: 'defer+madvise', shmem_enabled: 'advise', khugepaged: { max_ptes_none: 64, pages_to_scan: 1024 } });
    expect(n.sysfs().hugepages['hugepages-64kB']?.enabled).toBe('always');
    expect(controlValues(await s.readSnapshot())).toMatchObject({ enabled: 'madvise', 'hugepages-64kB/enabled': 'always', 'khugepaged/max_ptes_none': '64' });
  });

  it('refuses what the kernel refuses, naming the file, and changes nothing', async () => {
    const n = node();
    const s = new SimSysfs(n, 'sim-2');
    const before = structuredClone(n.sysfs());
    await expect(s.write('enabled', 'sometimes')).rejects.toThrow('cannot write "sometimes" to sim://sim-2/sys/kernel/mm/transparent_hugepage/enabled: not an option of this file (it lists: always madvise never)');
    await expect(s.write('khugepaged/max_ptes_none', '512')).rejects.toThrow(SysfsWriteError);
    await expect(s.write('khugepaged/max_ptes_none', '512')).rejects.toThrow(/max_ptes_none.*512.*0\.\.511/);
    await expect(s.write('khugepaged/pages_to_scan', '0')).rejects.toThrow(/pages_to_scan/);
    await expect(s.write('khugepaged/pages_to_scan', '1e3')).rejects.toThrow(/unsigned decimal integer/);
    await expect(s.write('hugepages-8kB/enabled', 'always')).rejects.toThrow(/hugepages-8kB/);
    await expect(s.write('hugepages-4096kB/enabled', 'always')).rejects.toThrow(/hugepages-4096kB/);
    expect(n.sysfs()).toEqual(before);
  });
});
