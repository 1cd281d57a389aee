import { describe, expect, it } from 'vitest';
import { cgroupChain, childPath, diffCgroupTrees, findCgroup2Mount, type CgroupEntry } from './cgroup-tree.js';

function tree(entries: [number, string, number | undefined][]): Map<number, CgroupEntry> {
  return new Map(entries.map(([id, path, parentId]) => [id, { id, path, parentId }]));
}

describe('cgroup tree', () => {
  const before = tree([
    [1, '/', undefined],
    [10, '/kubepods.slice', 1],
    [11, '/kubepods.slice/zgc-a', 10],
    [12, '/kubepods.slice/redis', 10],
  ]);

  it('diffs added and removed cgroups', () => {
    const after = tree([
      [1, '/', undefined],
      [10, '/kubepods.slice', 1],
      [11, '/kubepods.slice/zgc-a', 10],
      [13, '/kubepods.slice/zgc-b', 10],
    ]);
    expect(diffCgroupTrees(before, after)).toEqual({
      added: [{ id: 13, path: '/kubepods.slice/zgc-b', parentId: 10 }],
      removed: [{ id: 12, path: '/kubepods.slice/redis', parentId: 10 }],
    });
    expect(diffCgroupTrees(before, before)).toEqual({ added: [], removed: [] });
  });

  it('an id reused for another path is a removal and an addition', () => {
    const after = tree([
      [1, '/', undefined],
      [10, '/kubepods.slice', 1],
      [11, '/kubepods.slice/zgc-a', 10],
      [12, '/kubepods.slice/other', 10],
    ]);
    const d = diffCgroupTrees(before, after);
    expect(d.added.map((e) => e.path)).toEqual(['/kubepods.slice/other']);
    expect(d.removed.map((e) => e.path)).toEqual(['/kubepods.slice/redis']);
  });

  it('builds the leaf-to-root chain the BPF program walks', () => {
    expect(cgroupChain(before, 11)).toEqual([11, 10, 1]);
    expect(cgroupChain(before, 1)).toEqual([1]);
    expect(cgroupChain(before, 99)).toEqual([]);
  });

  it('finds the cgroup v2 mount, unified or hybrid', () => {
    const hybrid = [
      'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
      'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0',
      'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
    ].join('\n');
    expect(findCgroup2Mount(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(findCgroup2Mount('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n')).toBe('/sys/fs/cgroup');
    expect(findCgroup2Mount('cgroup2 /mnt/my\\040cg cgroup2 rw 0 0\n')).toBe('/mnt/my cg');
    expect(findCgroup2Mount('proc /proc proc rw 0 0\n')).toBeUndefined();
  });

  it('joins paths from the root', () => {
    expect(childPath('/', 'a')).toBe('/a');
    expect(childPath('/a', 'b')).toBe('/a/b');
  });
});
