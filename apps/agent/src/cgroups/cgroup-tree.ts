/**
 * A node's cgroup v2 tree as plain data, and the pure functions over it.
 *
 * A cgroup's id is what `bpf_get_current_cgroup_id()` returns for its tasks: on cgroup v2
 * that is the kernfs node id, which is also the inode number of the cgroup's directory
 * (`stat -c %i`). Paths are absolute within the hierarchy: the root is "/", a child
 * "/kubepods.slice/pod1"; policy globs are matched against these paths.
 */

export interface CgroupEntry {
  readonly id: number;
  readonly path: string;
  /** Undefined for the root of the hierarchy. */
  readonly parentId: number | undefined;
}

export type CgroupTree = ReadonlyMap<number, CgroupEntry>;

export interface CgroupChange {
  readonly added: readonly CgroupEntry[];
  readonly removed: readonly CgroupEntry[];
}

/**
 * What changed from `before` to `after`. An id whose path changed (a cgroup cannot be
 * renamed, but an id can be reused after removal) counts as removed and added.
 */
export function diffCgroupTrees(before: CgroupTree, after: CgroupTree): CgroupChange {
  const added: CgroupEntry[] = [];
  const removed: CgroupEntry[] = [];
  for (const [id, entry] of before) {
    const now = after.get(id);
    if (!now || now.path !== entry.path) removed.push(entry);
  }
  for (const [id, entry] of after) {
    const then = before.get(id);
    if (!then || then.path !== entry.path) added.push(entry);
  }
  added.sort((a, b) => a.path.localeCompare(b.path));
  removed.sort((a, b) => a.path.localeCompare(b.path));
  return { added, removed };
}

/** Leaf-to-root id chain of `id` (the leaf included), as the BPF program walks it. */
export function cgroupChain(tree: CgroupTree, id: number): number[] {
  const chain: number[] = [];
  let entry = tree.get(id);
  while (entry) {
    chain.push(entry.id);
    entry = entry.parentId === undefined ? undefined : tree.get(entry.parentId);
  }
  return chain;
}

/** The cgroup v2 mount point from /proc/self/mounts text; prefers /sys/fs/cgroup (unified), then any cgroup2 mount. */
export function findCgroup2Mount(mounts: string): string | undefined {
  const points: string[] = [];
  for (const line of mounts.split('\n')) {
    const fields = line.split(' ');
    if (fields[2] === 'cgroup2' && fields[1]) points.push(unescapeMountPath(fields[1]));
  }
  return points.find((p) => p === '/sys/fs/cgroup') ?? points.find((p) => p === '/sys/fs/cgroup/unified') ?? points[0];
}

/** /proc/mounts escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** Join a cgroup path and a child directory name. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}
