/**
 * The resolver against the machine's real cgroup v2 hierarchy (as root): creates a private
 * test cgroup, children appear and vanish, the resolver sees each with the directory's inode
 * as its id. Skipped, saying why, when not root or without cgroup v2.
 */
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CgroupChange } from './cgroup-tree.js';
import { CgroupResolver, detectCgroupRoot, walkCgroupTree } from './cgroup.resolver.js';

const detected = detectCgroupRoot();
const isRoot = process.getuid?.() === 0;
const skipReason = !isRoot ? 'not root: cannot create cgroups' : !detected.ok ? detected.reason : undefined;
if (skipReason) process.stderr.write(`[cgroup resolver] skipped: ${skipReason}\n`);

describe.skipIf(skipReason !== undefined)('CgroupResolver on the real cgroup v2 hierarchy', () => {
  const root = detected.ok ? detected.root : '';
  const testName = `thp-agent-test-${process.pid}`;
  const testDir = join(root, testName);
  let resolver: CgroupResolver;

  beforeAll(() => {
    mkdirSync(testDir);
    resolver = new CgroupResolver({ root, rescanMs: 60_000, debounceMs: 10 });
  });
  afterAll(() => {
    resolver?.close();
    for (const child of ['zgc-b/inner', 'zgc-b', 'zgc-a']) {
      try {
        rmdirSync(join(testDir, child));
      } catch {
        // already gone
      }
    }
    rmdirSync(testDir);
  });

  it('walks the hierarchy: ids are directory inodes, paths are from the root', () => {
    const tree = walkCgroupTree(root);
    const mine = [...tree.values()].find((e) => e.path === `/${testName}`);
    expect(mine).toBeDefined();
    expect(mine!.id).toBe(statSync(testDir).ino);
    const rootEntry = tree.get(statSync(root).ino);
    expect(rootEntry).toMatchObject({ path: '/', parentId: undefined });
    expect(mine!.parentId).toBe(rootEntry!.id);
  });

  it('sees cgroups created and removed, through inotify without waiting for the rescan', async () => {
    const changes: CgroupChange[] = [];
    const off = resolver.onChange((change) => changes.push(change));
    const waitFor = async (predicate: () => boolean): Promise<void> => {
      const until = Date.now() + 5000;
      while (!predicate()) {
        if (Date.now() > until) throw new Error(`timed out; changes: ${JSON.stringify(changes)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    mkdirSync(join(testDir, 'zgc-a'));
    await waitFor(() => changes.some((c) => c.added.some((e) => e.path === `/${testName}/zgc-a`)));
    const idA = statSync(join(testDir, 'zgc-a')).ino;
    expect(resolver.current().get(idA)?.path).toBe(`/${testName}/zgc-a`);

    mkdirSync(join(testDir, 'zgc-b'));
    await waitFor(() => resolver.current().has(statSync(join(testDir, 'zgc-b')).ino));
    // A grandchild: its parent's watch was added after the parent appeared.
    mkdirSync(join(testDir, 'zgc-b', 'inner'));
    const idInner = statSync(join(testDir, 'zgc-b', 'inner')).ino;
    await waitFor(() => resolver.current().get(idInner)?.parentId === statSync(join(testDir, 'zgc-b')).ino);

    rmdirSync(join(testDir, 'zgc-a'));
    await waitFor(() => changes.some((c) => c.removed.some((e) => e.id === idA)));
    expect(resolver.current().has(idA)).toBe(false);
    off();
  });

  it('a rescan finds what happened with no event (e.g. after watches were lost)', () => {
    const quiet = new CgroupResolver({ root, rescanMs: 60_000 });
    quiet.close(); // no watches, no timer
    const fresh = new CgroupResolver({ root, rescanMs: 60_000 });
    const before = fresh.current().size;
    rmdirSync(join(testDir, 'zgc-b', 'inner'));
    const change = fresh.rescan();
    expect(change.removed.map((e) => e.path)).toEqual([`/${testName}/zgc-b/inner`]);
    expect(fresh.current().size).toBe(before - 1);
    fresh.close();
  });
});
