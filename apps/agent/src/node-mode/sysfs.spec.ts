import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createImitationThpTree, readTreeFiles } from './imitation-tree.js';
import {
  SysfsFormatError,
  SysfsWriteError,
  ThpSysfsTree,
  enabledMthpSizesKb,
  formatSelection,
  parseFlag,
  parseSelection,
  parseUnsigned,
  toThpSysfsFields,
} from './sysfs.js';

describe('kernel value formats', () => {
  it('takes the bracketed option and keeps the listed order', () => {
    expect(parseSelection('always [madvise] never\n', 'f')).toEqual({ selected: 'madvise', options: ['always', 'madvise', 'never'] });
    expect(parseSelection('always defer defer+madvise [madvise] never\n', 'f').selected).toBe('madvise');
    expect(parseSelection('[always] inherit madvise never', 'f')).toEqual({
      selected: 'always',
      options: ['always', 'inherit', 'madvise', 'never'],
    });
  });

  it.each([
    ['', /empty file/],
    ['\n', /empty file/],
    ['always madvise never\n', /no option in brackets/],
    ['[always] [madvise] never\n', /more than one option in brackets/],
    ['always [madvise] madvise\n', /listed twice/],
    ['always [madvise]\nnever\n', /more than one line/],
    ['always  [madvise] never\n', /malformed option/],
    ['always [mad vise] never\n', /malformed option/],
    ['always [[madvise]] never\n', /malformed option/],
  ])('rejects %j with a message naming the file', (content, reason) => {
    expect(() => parseSelection(content, '/x/enabled')).toThrow(SysfsFormatError);
    expect(() => parseSelection(content, '/x/enabled')).toThrow(reason);
    expect(() => parseSelection(content, '/x/enabled')).toThrow(/^\/x\/enabled: /);
  });

  it('formats the way the kernel prints and parses back (property)', () => {
    const option = fc.stringMatching(/^[a-z][a-z_+]{0,11}$/);
    fc.assert(
      fc.property(fc.uniqueArray(option, { minLength: 1, maxLength: 8 }), fc.nat(), (options, i) => {
        const selected = options[i % options.length]!;
        const text = formatSelection(options, selected);
        expect(text.endsWith('\n')).toBe(true);
        expect(text.split('[').length).toBe(2);
        expect(parseSelection(text, 'f')).toEqual({ selected, options });
      }),
    );
  });

  it('parses unsigned integers and 0/1 flags exactly', () => {
    expect(parseUnsigned('4096\n', 'f')).toBe(4096);
    expect(parseUnsigned('0', 'f')).toBe(0);
    expect(parseFlag('1\n', 'f')).toBe(true);
    expect(parseFlag('0\n', 'f')).toBe(false);
    for (const bad of ['', '-1\n', '4096 \n', ' 4096\n', '0x10\n', '1.5\n', 'abc\n', '4096\n\n']) {
      expect(() => parseUnsigned(bad, '/x/pages_to_scan'), bad).toThrow(/^\/x\/pages_to_scan: expected an unsigned decimal integer/);
    }
    expect(() => parseFlag('2\n', '/x/shrink_underused')).toThrow(/expected 0 or 1/);
  });
});

describe('ThpSysfsTree on an imitation tree', () => {
  let dir: string;
  let root: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thp-sysfs-'));
    root = join(dir, 'transparent_hugepage');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads the defaults of a 6.18 x86-64 kernel', async () => {
    await createImitationThpTree(root);
    const tree = await ThpSysfsTree.open({ root });
    expect(tree.kind).toBe('imitation');
    const s = await tree.readSnapshot();
    expect(s.enabled).toBe('madvise');
    expect(s.defrag).toBe('madvise');
    expect(s.shmemEnabled).toBe('never');
    // hugepages-8kB has only shmem_enabled: not an anonymous size.
    expect(Object.keys(s.perSizeEnabled)).toEqual([16, 32, 64, 128, 256, 512, 1024, 2048].map((kb) => `hugepages-${kb}kB`));
    expect(s.perSizeEnabled['hugepages-2048kB']).toBe('inherit');
    expect(s.perSizeEnabled['hugepages-64kB']).toBe('never');
    expect(s.khugepaged).toEqual({ maxPtesNone: 511, pagesToScan: 4096, scanSleepMillisecs: 10000, allocSleepMillisecs: 60000 });
    expect(s.shrinkUnderused).toBe(true);
    expect(s.hpagePmdSize).toBe(2097152);
    expect(s.controls['enabled']).toEqual({ value: 'madvise', options: ['always', 'madvise', 'never'] });
    expect(s.controls['khugepaged/pages_to_scan']).toEqual({ value: '4096', options: null });
    expect(Object.keys(s.controls)).toHaveLength(3 + 8 + 2);
    expect(toThpSysfsFields(s)).toEqual({
      enabled: 'madvise',
      defrag: 'madvise',
      shmemEnabled: 'never',
      perSizeEnabled: s.perSizeEnabled,
      khugepagedMaxPtesNone: 511,
      khugepagedPagesToScan: 4096,
      khugepagedScanSleepMillisecs: 10000,
      khugepagedAllocSleepMillisecs: 60000,
      shrinkUnderused: true,
    });
    expect(enabledMthpSizesKb(s)).toEqual([2048]);
  });

  it('writes like the kernel: the file then reads in the bracketed format', async () => {
    await createImitationThpTree(root, { enabled: 'never' });
    const tree = await ThpSysfsTree.open({ root });
    await tree.write('enabled', 'madvise');
    expect(await readFile(join(root, 'enabled'), 'utf8')).toBe('always [madvise] never\n');
    await tree.write('enabled', 'always');
    expect(await readFile(join(root, 'enabled'), 'utf8')).toBe('[always] madvise never\n');
    await tree.write('defrag', 'defer+madvise');
    expect(await readFile(join(root, 'defrag'), 'utf8')).toBe('always defer [defer+madvise] madvise never\n');
    await tree.write('shmem_enabled', 'within_size');
    expect(await readFile(join(root, 'shmem_enabled'), 'utf8')).toBe('always [within_size] advise never deny force\n');
    await tree.write('hugepages-64kB/enabled', 'inherit');
    expect(await readFile(join(root, 'hugepages-64kB/enabled'), 'utf8')).toBe('always [inherit] madvise never\n');
    await tree.write('khugepaged/pages_to_scan', '1024');
    await tree.write('khugepaged/max_ptes_none', '0');
    expect(await readFile(join(root, 'khugepaged/pages_to_scan'), 'utf8')).toBe('1024\n');
    expect(await readFile(join(root, 'khugepaged/max_ptes_none'), 'utf8')).toBe('0\n');
    const s = await tree.readSnapshot();
    expect([s.enabled, s.defrag, s.shmemEnabled, s.perSizeEnabled['hugepages-64kB']]).toEqual(['always', 'defer+madvise', 'within_size', 'inherit']);
    expect(enabledMthpSizesKb(s)).toEqual([64, 2048]);
    // Only the written files changed, and no temp files were left behind.
    const files = await readTreeFiles(root);
    const fresh = await readTreeFiles(await createImitationThpTree(join(dir, 'fresh'), { enabled: 'never' }));
    expect([...files.keys()]).toEqual([...fresh.keys()]);
    const changed = [...files.keys()].filter((k) => files.get(k) !== fresh.get(k));
    expect(changed.sort()).toEqual(
      ['defrag', 'enabled', 'hugepages-64kB/enabled', 'khugepaged/max_ptes_none', 'khugepaged/pages_to_scan', 'shmem_enabled'].sort(),
    );
  });

  it('refuses values the file does not list, naming file, value and options, and leaves the file alone', async () => {
    await createImitationThpTree(root, { options: { defrag: ['always', 'defer', 'madvise', 'never'] } });
    const tree = await ThpSysfsTree.open({ root });
    const before = await readTreeFiles(root);
    await expect(tree.write('enabled', 'sometimes')).rejects.toThrow(SysfsWriteError);
    await expect(tree.write('enabled', 'sometimes')).rejects.toThrow(
      `cannot write "sometimes" to ${join(root, 'enabled')}: not an option of this file (it lists: always madvise never)`,
    );
    // defer+madvise is a valid mode in general but this (older) file does not offer it.
    await expect(tree.write('defrag', 'defer+madvise')).rejects.toThrow(/defrag: not an option of this file \(it lists: always defer madvise never\)/);
    await expect(tree.write('hugepages-64kB/enabled', 'inherit ')).rejects.toThrow(/not an option/);
    await expect(tree.write('hugepages-4kB/enabled', 'never')).rejects.toThrow(/hugepages-4kB\/enabled: cannot read \(ENOENT\)/);
    await expect(tree.write('khugepaged/pages_to_scan', '0')).rejects.toThrow(/pages_to_scan: must be in 1\.\.4294967295/);
    await expect(tree.write('khugepaged/pages_to_scan', '4294967296')).rejects.toThrow(/must be in 1\.\.4294967295/);
    await expect(tree.write('khugepaged/pages_to_scan', '-5')).rejects.toThrow(/expected an unsigned decimal integer/);
    await expect(tree.write('khugepaged/max_ptes_none', '512')).rejects.toThrow(/max_ptes_none: must be in 0\.\.511 \(HPAGE_PMD_NR - 1\)/);
    // @ts-expect-error: not a control thp-fleet writes
    await expect(tree.write('use_zero_page', '0')).rejects.toThrow(/use_zero_page: not a control thp-fleet writes/);
    expect(await readTreeFiles(root)).toEqual(before);
    await tree.write('khugepaged/max_ptes_none', '511');
  });

  it('derives the max_ptes_none bound from hpage_pmd_size and the page size', async () => {
    // arm64 with 64K pages: PMD 512 MiB, HPAGE_PMD_NR 8192.
    await createImitationThpTree(root, { hpagePmdSize: 512 * 1024 * 1024 });
    const tree = await ThpSysfsTree.open({ root, pageSizeBytes: 65536 });
    await tree.write('khugepaged/max_ptes_none', '8191');
    await expect(tree.write('khugepaged/max_ptes_none', '8192')).rejects.toThrow(/0\.\.8191/);
  });

  it('reports a tree without shrink_underused and a malformed file clearly', async () => {
    await createImitationThpTree(root, { shrinkUnderused: null, anonSizesKb: [64, 2048], fileOnlySizesKb: [] });
    const tree = await ThpSysfsTree.open({ root });
    const s = await tree.readSnapshot();
    expect(s.shrinkUnderused).toBeNull();
    expect(toThpSysfsFields(s).shrinkUnderused).toBe(false);
    expect(Object.keys(s.perSizeEnabled)).toEqual(['hugepages-64kB', 'hugepages-2048kB']);
    await writeFile(join(root, 'defrag'), 'always defer madvise never\n');
    await expect(tree.readSnapshot()).rejects.toThrow(`${join(root, 'defrag')}: no option in brackets`);
    await rm(join(root, 'khugepaged/pages_to_scan'));
    await writeFile(join(root, 'defrag'), '[madvise]\n');
    await expect(tree.readSnapshot()).rejects.toThrow(`${join(root, 'khugepaged/pages_to_scan')}: cannot read (ENOENT)`);
  });

  it('refuses a root that does not exist', async () => {
    await expect(ThpSysfsTree.open({ root: join(dir, 'nope') })).rejects.toThrow(/THP sysfs root .*nope is not a directory/);
  });
});
