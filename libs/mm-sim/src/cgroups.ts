/**
 * The node's cgroup v2 tree. Ids are stable for the life of a cgroup and never reused, like
 * kernfs node ids; the root is id 1. Per-cgroup counters live in the kernel, indexed by the
 * dense slot number a cgroup gets here.
 */

export const MAX_CGROUPS = 256;
export const ROOT_CGROUP_ID = 1;

export interface CgroupInfo {
  readonly id: number;
  readonly path: string;
  readonly name: string;
  readonly parentId: number | null;
  readonly children: readonly CgroupInfo[];
}

/** Validates a cgroup v2 path: absolute, no empty, `.` or `..` components, no trailing slash. */
export function normalizeCgroupPath(path: string): string {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new Error(`cgroup path ${JSON.stringify(path)}: must start with "/"`);
  if (path === '/') return '/';
  const parts = path.split('/').slice(1);
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..' || /[\s\0]/.test(part)) {
      throw new Error(`cgroup path ${JSON.stringify(path)}: bad component ${JSON.stringify(part)}`);
    }
  }
  return '/' + parts.join('/');
}

export class CgroupTree {
  private nextId = ROOT_CGROUP_ID + 1;
  readonly ids = new Int32Array(MAX_CGROUPS).fill(-1);
  readonly parent = new Int32Array(MAX_CGROUPS).fill(-1);
  readonly depth = new Int32Array(MAX_CGROUPS);
  readonly paths: (string | null)[] = new Array<string | null>(MAX_CGROUPS).fill(null);
  private readonly bySlotPath = new Map<string, number>();
  /** Leaf-to-root id chains, rebuilt when a cgroup is created. */
  private readonly chains: (Uint32Array | null)[] = new Array<Uint32Array | null>(MAX_CGROUPS).fill(null);

  constructor() {
    this.ids[0] = ROOT_CGROUP_ID;
    this.paths[0] = '/';
    this.bySlotPath.set('/', 0);
    this.chains[0] = Uint32Array.of(ROOT_CGROUP_ID);
  }

  /** Slot of an existing path, or -1. */
  slotOf(path: string): number {
    return this.bySlotPath.get(path) ?? -1;
  }

  /** Creates the cgroup and any missing ancestors; returns its slot. */
  ensure(rawPath: string): number {
    const path = normalizeCgroupPath(rawPath);
    const existing = this.bySlotPath.get(path);
    if (existing !== undefined) return existing;
    const cut = path.lastIndexOf('/');
    const parentPath = cut === 0 ? '/' : path.slice(0, cut);
    const parentSlot = this.ensure(parentPath);
    let slot = -1;
    for (let i = 1; i < MAX_CGROUPS; i++) {
      if (this.paths[i] === null) {
        slot = i;
        break;
      }
    }
    if (slot < 0) throw new Error(`cgroup ${path}: more than ${MAX_CGROUPS} cgroups on one node`);
    this.ids[slot] = this.nextId++;
    this.parent[slot] = parentSlot;
    this.depth[slot] = this.depth[parentSlot]! + 1;
    this.paths[slot] = path;
    this.bySlotPath.set(path, slot);
    const parentChain = this.chains[parentSlot]!;
    const chain = new Uint32Array(parentChain.length + 1);
    chain[0] = this.ids[slot]!;
    chain.set(parentChain, 1);
    this.chains[slot] = chain;
    return slot;
  }

  hasChildren(slot: number): boolean {
    for (let i = 1; i < MAX_CGROUPS; i++) if (this.paths[i] !== null && this.parent[i] === slot) return true;
    return false;
  }

  /** Removes an empty leaf cgroup (rmdir). */
  remove(slot: number): void {
    if (slot <= 0) throw new Error('cgroup: the root cannot be removed');
    if (this.hasChildren(slot)) throw new Error(`cgroup ${this.paths[slot]}: has children`);
    const path = this.paths[slot];
    if (path !== null && path !== undefined) this.bySlotPath.delete(path);
    this.paths[slot] = null;
    this.ids[slot] = -1;
    this.parent[slot] = -1;
    this.chains[slot] = null;
  }

  /** Leaf-to-root ids (shared array: callers must not modify it). */
  chain(slot: number): Uint32Array {
    const c = this.chains[slot];
    if (c === null || c === undefined) throw new Error(`cgroup slot ${slot} does not exist`);
    return c;
  }

  /** Slots from `slot` up to the root, leaf first. */
  ancestors(slot: number): number[] {
    const out: number[] = [];
    for (let s = slot; s >= 0; s = this.parent[s]!) out.push(s);
    return out;
  }

  liveSlots(): number[] {
    const out: number[] = [];
    for (let i = 0; i < MAX_CGROUPS; i++) if (this.paths[i] !== null) out.push(i);
    return out;
  }

  tree(): CgroupInfo {
    const build = (slot: number): CgroupInfo => {
      const children: CgroupInfo[] = [];
      const kids = this.liveSlots()
        .filter((s) => s !== slot && this.parent[s] === slot)
        .sort((a, b) => this.ids[a]! - this.ids[b]!);
      for (const k of kids) children.push(build(k));
      const path = this.paths[slot]!;
      return {
        id: this.ids[slot]!,
        path,
        name: path === '/' ? '' : path.slice(path.lastIndexOf('/') + 1),
        parentId: slot === 0 ? null : this.ids[this.parent[slot]!]!,
        children,
      };
    };
    return build(0);
  }
}
