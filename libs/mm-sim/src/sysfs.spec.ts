import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  GlobalMode,
  SHMEM_ENABLED_VALUES,
  SysfsError,
  THP_DEFRAG_VALUES,
  THP_ENABLED_VALUES,
  THP_SIZE_ENABLED_VALUES,
  anonSysfsMask,
  applySysfsPatch,
  computeMasks,
  defaultSysfs,
  hugepagePmdEnabled,
  shmemSysfsMask,
  sizeDirName,
  sysfsFiles,
  type SysfsPatch,
} from './sysfs.js';

describe('THP sysfs', () => {
  it('has the kernel defaults (kernel-interface.md 5.1, 5.2, 5.4)', () => {
    const s = defaultSysfs();
    expect(s.defrag).toBe('madvise');
    expect(s.shmem_enabled).toBe('never');
    expect(s.shrink_underused).toBe(1);
    expect(s.hpage_pmd_size).toBe(2097152);
    expect(s.hugepages['hugepages-2048kB']).toEqual({ enabled: 'inherit', shmem_enabled: 'inherit' });
    expect(s.hugepages['hugepages-64kB']).toEqual({ enabled: 'never', shmem_enabled: 'never' });
    expect(s.hugepages['hugepages-8kB']).toEqual({ shmem_enabled: 'never' });
    expect(Object.keys(s.hugepages)).toEqual(['8', '16', '32', '64', '128', '256', '512', '1024', '2048'].map((k) => `hugepages-${k}kB`));
    expect(s.khugepaged).toEqual({
      defrag: 1,
      pages_to_scan: 4096,
      scan_sleep_millisecs: 10000,
      alloc_sleep_millisecs: 60000,
      max_ptes_none: 511,
      max_ptes_swap: 64,
      max_ptes_shared: 256,
    });
  });

  it('formats files the way the kernel prints them', () => {
    const f = sysfsFiles(applySysfsPatch(defaultSysfs(), { enabled: 'always', defrag: 'defer+madvise' }));
    expect(f['enabled']).toBe('[always] madvise never');
    expect(f['defrag']).toBe('always defer [defer+madvise] madvise never');
    expect(f['shmem_enabled']).toBe('always within_size advise [never] deny force');
    expect(f['hugepages-2048kB/enabled']).toBe('always [inherit] madvise never');
    expect(f['hugepages-8kB/enabled']).toBeUndefined();
    expect(f['khugepaged/max_ptes_none']).toBe('511');
  });

  it('reports every bad value with its path and applies nothing', () => {
    const before = defaultSysfs();
    let err: unknown;
    try {
      applySysfsPatch(before, {
        enabled: 'sometimes' as never,
        hugepages: { 'hugepages-8kB': { enabled: 'always' }, 'hugepages-3kB': { enabled: 'always' } },
        khugepaged: { max_ptes_none: 512, pages_to_scan: 0 },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SysfsError);
    const problems = (err as SysfsError).problems;
    expect(problems).toHaveLength(5);
    expect(problems.join('\n')).toContain('enabled: "sometimes" is not one of always | madvise | never');
    expect(problems.join('\n')).toContain('hugepages.hugepages-8kB.enabled: no such file');
    expect(problems.join('\n')).toContain('hugepages.hugepages-3kB: no such directory');
    expect(problems.join('\n')).toContain('khugepaged.max_ptes_none: 512 is not an integer in 0..511');
    expect(problems.join('\n')).toContain('khugepaged.pages_to_scan: 0 is not an integer in 1..4294967295');
    expect(() => applySysfsPatch(before, { hpage_pmd_size: 4096 } as unknown as SysfsPatch)).toThrow('read-only');
  });

  it('accepts exactly the kernel value sets (property)', () => {
    const anyString = fc.oneof(fc.constantFrom(...THP_ENABLED_VALUES, ...THP_DEFRAG_VALUES, ...SHMEM_ENABLED_VALUES, ...THP_SIZE_ENABLED_VALUES), fc.string());
    fc.assert(
      fc.property(anyString, anyString, anyString, anyString, fc.integer({ min: -5, max: 600 }), (enabled, defrag, shmem, size, ptes) => {
        const patch = {
          enabled,
          defrag,
          shmem_enabled: shmem,
          hugepages: { 'hugepages-64kB': { enabled: size } },
          khugepaged: { max_ptes_none: ptes },
        } as unknown as SysfsPatch;
        const valid =
          (THP_ENABLED_VALUES as readonly string[]).includes(enabled) &&
          (THP_DEFRAG_VALUES as readonly string[]).includes(defrag) &&
          (SHMEM_ENABLED_VALUES as readonly string[]).includes(shmem) &&
          (THP_SIZE_ENABLED_VALUES as readonly string[]).includes(size) &&
          ptes >= 0 &&
          ptes <= 511;
        if (valid) {
          const s = applySysfsPatch(defaultSysfs(), patch);
          expect(s.enabled).toBe(enabled);
          expect(s.hugepages['hugepages-64kB']!.enabled).toBe(size);
        } else expect(() => applySysfsPatch(defaultSysfs(), patch)).toThrow(SysfsError);
      }),
    );
  });

  it('derives the anonymous order masks of thp_vma_allowable_orders (kernel-interface.md 5.3)', () => {
    const pmd = 1 << 9;
    const s = applySysfsPatch(defaultSysfs(), {
      enabled: 'madvise',
      hugepages: { [sizeDirName(4)]: { enabled: 'always' }, [sizeDirName(5)]: { enabled: 'madvise' } },
    });
    const m = computeMasks(s);
    expect(m.global).toBe(GlobalMode.Madvise);
    // Not madvised: only per-size "always"; "inherit" needs global always.
    expect(anonSysfsMask(m, false)).toBe(1 << 4);
    // Madvised: + per-size madvise + inherit (global enabled).
    expect(anonSysfsMask(m, true)).toBe((1 << 4) | (1 << 5) | pmd);
    const never = computeMasks(applySysfsPatch(defaultSysfs(), { enabled: 'never' }));
    expect(anonSysfsMask(never, true)).toBe(0);
    expect(hugepagePmdEnabled(never)).toBe(false);
    expect(hugepagePmdEnabled(m)).toBe(true);
  });

  it('derives shmem huge orders from shmem_enabled and the per-size controls', () => {
    const pmd = 1 << 9;
    const advise = computeMasks(applySysfsPatch(defaultSysfs(), { shmem_enabled: 'advise' }));
    expect(shmemSysfsMask(advise, true)).toBe(pmd);
    expect(shmemSysfsMask(advise, false)).toBe(0);
    const always = computeMasks(applySysfsPatch(defaultSysfs(), { shmem_enabled: 'always' }));
    expect(shmemSysfsMask(always, false)).toBe(pmd);
    const deny = computeMasks(applySysfsPatch(defaultSysfs(), { shmem_enabled: 'deny', hugepages: { 'hugepages-64kB': { shmem_enabled: 'always' } } }));
    expect(shmemSysfsMask(deny, true)).toBe(0);
    // khugepaged also runs for shmem-only PMD THP (6.11+).
    expect(hugepagePmdEnabled(computeMasks(applySysfsPatch(defaultSysfs(), { enabled: 'never', shmem_enabled: 'advise' })))).toBe(true);
  });
});
