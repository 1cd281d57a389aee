/**
 * The real cgroup v2 tree of this node: walk the hierarchy, then keep it current with inotify
 * watches on every cgroup directory (mkdir/rmdir in cgroupfs raise IN_CREATE/IN_DELETE) plus a
 * periodic full rescan, which catches anything a watch missed (watch limits, races between a
 * mkdir and the watch on its parent). Every change is a diff against the previous walk, so
 * listeners see each added or removed cgroup exactly once.
 */
import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { childPath, diffCgroupTrees, findCgroup2Mount, type CgroupChange, type CgroupEntry, type CgroupTree } from './cgroup-tree.js';

export interface CgroupSource {
  /** The tree as of the last walk. */
  current(): CgroupTree;
  /** Called after every walk that changed something. Returns an unsubscribe function. */
  onChange(listener: (change: CgroupChange, tree: CgroupTree) => void): () => void;
  close(): void;
}

/** Find the cgroup v2 mount of this machine, or say why there is none. */
export function detectCgroupRoot(procRoot = '/proc'): { ok: true; root: string } | { ok: false; reason: string } {
  let mounts: string;
  try {
    mounts = readFileSync(join(procRoot, 'self/mounts'), 'utf8');
  } catch (error) {
    return { ok: false, reason: `cannot read ${procRoot}/self/mounts: ${(error as Error).message}` };
  }
  const root = findCgroup2Mount(mounts);
  return root ? { ok: true, root } : { ok: false, reason: 'no cgroup2 file system is mounted' };
}

/** The cgroup id of a directory: its inode number (the kernfs node id on cgroup v2). */
export function cgroupIdOf(directory: string): number {
  const ino = statSync(directory, { bigint: true }).ino;
  if (ino > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`cgroup id ${ino} of ${directory} does not fit in 53 bits`);
  return Number(ino);
}

/** One synchronous walk of the hierarchy under `root`. Directories that vanish mid-walk are skipped. */
export function walkCgroupTree(root: string): Map<number, CgroupEntry> {
  const tree = new Map<number, CgroupEntry>();
  const visit = (directory: string, path: string, parentId: number | undefined): void => {
    let id: number;
    try {
      id = cgroupIdOf(directory);
    } catch (error) {
      if (isGone(error)) return;
      throw error;
    }
    tree.set(id, { id, path, parentId });
    let names: string[];
    try {
      names = readdirSync(directory, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map((d) => d.name)
        .sort();
    } catch (error) {
      if (isGone(error)) return;
      throw error;
    }
    for (const name of names) visit(join(directory, name), childPath(path, name), id);
  };
  visit(root, '/', undefined);
  return tree;
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export interface CgroupResolverOptions {
  readonly root: string;
  /** Full rescan period (milliseconds). */
  readonly rescanMs: number;
  /** Delay between an inotify event and the rescan it triggers, to batch bursts (milliseconds). */
  readonly debounceMs?: number;
  readonly log?: (message: string) => void;
}

export class CgroupResolver implements CgroupSource {
  private tree: Map<number, CgroupEntry>;
  private readonly listeners = new Set<(change: CgroupChange, tree: CgroupTree) => void>();
  private readonly watchers = new Map<string, FSWatcher>();
  private watching = true;
  private readonly timer: NodeJS.Timeout;
  private pending: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: CgroupResolverOptions) {
    this.tree = walkCgroupTree(options.root);
    this.syncWatches();
    this.timer = setInterval(() => this.rescan(), options.rescanMs);
    this.timer.unref();
  }

  current(): CgroupTree {
    return this.tree;
  }

  onChange(listener: (change: CgroupChange, tree: CgroupTree) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Walk again now and notify listeners of any difference; returns the change. */
  rescan(): CgroupChange {
    if (this.closed) return { added: [], removed: [] };
    const next = walkCgroupTree(this.options.root);
    const change = diffCgroupTrees(this.tree, next);
    this.tree = next;
    if (change.added.length > 0 || change.removed.length > 0) {
      this.syncWatches();
      for (const listener of this.listeners) listener(change, next);
    }
    return change;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    this.listeners.clear();
  }

  private scheduleRescan(): void {
    if (this.pending || this.closed) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.rescan();
    }, this.options.debounceMs ?? 20);
  }

  /** One non-recursive watch per cgroup directory: new and removed children show up as 'rename' events. */
  private syncWatches(): void {
    if (!this.watching) return;
    const wanted = new Set<string>();
    for (const entry of this.tree.values()) wanted.add(entry.path);
    for (const [path, watcher] of this.watchers) {
      if (!wanted.has(path)) {
        watcher.close();
        this.watchers.delete(path);
      }
    }
    for (const path of wanted) {
      if (this.watchers.has(path)) continue;
      try {
        const watcher = watch(join(this.options.root, path), { persistent: false }, (event) => {
          if (event === 'rename') this.scheduleRescan();
        });
        watcher.on('error', () => {
          watcher.close();
          this.watchers.delete(path);
        });
        this.watchers.set(path, watcher);
      } catch (error) {
        if (isGone(error)) continue;
        // Out of inotify watches (ENOSPC) or descriptors: the periodic rescan still keeps the map current.
        this.watching = false;
        this.options.log?.(`cgroup watches disabled (${(error as Error).message}); relying on the ${this.options.rescanMs} ms rescan`);
        for (const w of this.watchers.values()) w.close();
        this.watchers.clear();
        return;
      }
    }
  }
}
