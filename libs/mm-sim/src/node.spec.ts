import { describe, expect, it } from 'vitest';
import { FAULT_LATENCY_BOUNDS_US, GIB, REQUEST_LATENCY_BOUNDS_US } from './constants.js';
import { MTHP_STATS, VMSTAT_EVENTS, VMSTAT_GAUGES } from './counters.js';
import { createNode } from './node.js';
import { SysfsError } from './sysfs.js';
import { standardWorkloadMix } from './workloads.js';

const small = (seed = 1) => createNode({ memoryBytes: 8 * GIB, workloads: standardWorkloadMix(8 * GIB), sysfs: { enabled: 'always' } }, seed);

describe('createNode API', () => {
  it('validates its inputs with errors naming the field', () => {
    expect(() => createNode({ memoryBytes: 100 }, 1)).toThrow('memoryBytes 100 must be at least 256 MiB');
    expect(() => createNode({ tickMs: 0 }, 1)).toThrow('tickMs 0 must be an integer in 1..2000');
    expect(() => createNode({}, 1.5)).toThrow('seed 1.5 must be an integer');
    expect(() => createNode({ hookAbi: 'v9' as never }, 1)).toThrow('hookAbi "v9"');
    expect(() => createNode({ sysfs: { defrag: 'sometimes' as never } }, 1)).toThrow(SysfsError);
    const n = createNode({ memoryBytes: GIB }, 1);
    expect(() => n.addWorkload({ kind: 'redis' as never })).toThrow('kind: "redis" is not one of');
    expect(() => n.addWorkload({ kind: 'kv-store', params: { nope: 1 } })).toThrow('params.nope: unknown parameter');
    expect(() => n.addWorkload({ kind: 'kv-store', thpDisable: 'yes' as never })).toThrow('thpDisable');
    n.addWorkload({ kind: 'kv-store', scale: 0.01 });
    expect(() => n.addWorkload({ kind: 'kv-store', scale: 0.01 })).toThrow('already runs');
    expect(() => n.runFor(-1)).toThrow('runFor');
    expect(() => n.madvise('kv-store', 'nope', 'hugepage')).toThrow('has no VMA "nope"');
  });

  it('gives identical metrics for the same seed and calls, and different ones for another seed', () => {
    const drive = (seed: number) => {
      const n = small(seed);
      n.runFor(30_000);
      n.setSysfs({ defrag: 'always', khugepaged: { max_ptes_none: 0 } });
      n.setHook((i) => (i.cgroupChain.length > 2 ? -1 : 0), 'v12');
      n.runFor(30_000);
      return n.metrics();
    };
    const a = drive(7);
    expect(drive(7)).toEqual(a);
    const c = drive(8);
    expect(c.workloads.map((w) => w.throughput)).not.toEqual(a.workloads.map((w) => w.throughput));
  });

  it('advances time only through step and runFor', () => {
    const n = createNode({ memoryBytes: GIB, tickMs: 50 }, 1);
    expect(n.now()).toBe(0);
    n.step();
    expect(n.now()).toBe(50);
    n.step(7);
    n.runFor(1000);
    expect(n.now()).toBe(1057);
    expect(n.metrics().timeMs).toBe(1057);
  });

  it('exposes a cgroup v2 tree with stable ids and the hook chain of a workload', () => {
    const n = createNode({ memoryBytes: GIB }, 1);
    const a = n.addWorkload({ kind: 'kv-store', name: 'redis-a', scale: 0.02 });
    const b = n.addWorkload({ kind: 'latency-svc', name: 'api', scale: 0.02, cgroup: '/kubepods.slice/pod1/api' });
    const tree = n.cgroups();
    expect(tree.id).toBe(1);
    expect(tree.path).toBe('/');
    const paths: string[] = [];
    const walk = (c: typeof tree): void => {
      paths.push(c.path);
      c.children.forEach(walk);
    };
    walk(tree);
    expect(paths).toEqual(expect.arrayContaining(['/workloads.slice', '/workloads.slice/redis-a', '/kubepods.slice', '/kubepods.slice/pod1', '/kubepods.slice/pod1/api']));
    expect(a.cgroupPath).toBe('/workloads.slice/redis-a');
    const chain = n.cgroupChain('api');
    expect(chain[0]).toBe(b.cgroupId);
    expect(chain[chain.length - 1]).toBe(1);
    expect(chain).toHaveLength(4);
    // Ids are never reused: a removed cgroup's id does not come back.
    n.removeWorkload('redis-a');
    const c = n.addWorkload({ kind: 'kv-store', name: 'redis-b', scale: 0.02 });
    expect(c.cgroupId).toBeGreaterThan(b.cgroupId);
    expect(n.cgroupChain('api')).toEqual(chain);
  });

  it('returns memory when a workload is removed and keeps the model consistent', () => {
    const n = small(3);
    n.runFor(20_000);
    const before = n.metrics();
    const kv = before.workloads.find((w) => w.name === 'kv-store')!;
    expect(kv.rssBytes).toBeGreaterThan(0);
    n.removeWorkload('kv-store');
    expect(n.checkInvariants()).toEqual([]);
    const after = n.metrics();
    expect(after.workloads.map((w) => w.name)).not.toContain('kv-store');
    expect(after.memory.anonBytes).toBeLessThan(before.memory.anonBytes - kv.rssBytes * 0.9);
    n.runFor(5_000);
    expect(n.checkInvariants()).toEqual([]);
  });

  it('reports kernel counter names, per-size stats files and fixed histogram bounds', () => {
    const n = small();
    n.runFor(10_000);
    const m = n.metrics();
    expect(Object.keys(m.vmstat).sort()).toEqual([...VMSTAT_EVENTS, ...VMSTAT_GAUGES].sort());
    expect(Object.keys(m.mthp)).toEqual(['8', '16', '32', '64', '128', '256', '512', '1024', '2048'].map((s) => `hugepages-${s}kB`));
    expect(Object.keys(m.mthp['hugepages-2048kB']!)).toEqual([...MTHP_STATS]);
    expect(m.mthp['hugepages-8kB']!.anon_fault_alloc).toBeUndefined();
    expect(m.mthp['hugepages-8kB']!.shmem_alloc).toBe(0);
    expect(m.mthp['hugepages-2048kB']!.anon_fault_alloc).toBe(m.vmstat.thp_fault_alloc);
    expect(m.faultLatency.boundsUs).toEqual(FAULT_LATENCY_BOUNDS_US);
    expect(m.faultLatency.total).toBe(m.vmstat.pgfault);
    const w = m.workloads[0]!;
    expect(Object.keys(w)).toEqual(
      expect.arrayContaining(['throughput', 'latencyUs', 'faultLatencyUs', 'rssBytes', 'memoryCurrentBytes', 'anonThpBytes', 'thpCoverage', 'tlb', 'psi']),
    );
    expect(REQUEST_LATENCY_BOUNDS_US[4]).toBe(2);
    const cg = m.cgroups.find((c) => c.path === w.cgroupPath)!;
    expect(cg.memoryStat.anon_thp).toBe(w.anonThpBytes);
    expect(cg.psi.some).toEqual(w.psi.some);
    expect(m.buddyinfo).toHaveLength(11);
    expect(m.buddyinfo.reduce((s, c, o) => s + c * 4096 * 2 ** o, 0)).toBe(m.memory.freeBytes);
  });

  it('applies sysfs writes all-or-nothing and reads them back', () => {
    const n = createNode({ memoryBytes: GIB }, 1);
    n.setSysfs({ enabled: 'always', hugepages: { 'hugepages-64kB': { enabled: 'madvise' } } });
    expect(n.sysfs().enabled).toBe('always');
    expect(n.sysfs().hugepages['hugepages-64kB']!.enabled).toBe('madvise');
    expect(() => n.setSysfs({ enabled: 'never', khugepaged: { max_ptes_none: 9999 } })).toThrow('khugepaged.max_ptes_none');
    expect(n.sysfs().enabled).toBe('always');
  });

  it('prctl(PR_SET_THP_DISABLE) and MADV_COLLAPSE act on one workload', () => {
    const n = createNode({ memoryBytes: 4 * GIB, sysfs: { enabled: 'never' } }, 1);
    n.addWorkload({ kind: 'tlb-analytics', name: 'a', scale: 0.05 });
    n.addWorkload({ kind: 'tlb-analytics', name: 'b', scale: 0.05, thpDisable: 'completely' });
    n.runFor(10_000);
    // enabled=never: no THP at all, but MADV_COLLAPSE ignores sysfs (kernel-interface.md 5.2).
    expect(n.metrics().vmstat.thp_fault_alloc).toBe(0);
    const ra = n.madvise('a', 'columns', 'collapse');
    expect(ra.collapsed).toBeGreaterThan(0);
    const rb = n.madvise('b', 'columns', 'collapse');
    expect(rb.collapsed).toBe(0);
    const m = n.metrics();
    expect(m.workloads.find((w) => w.name === 'a')!.anonThpBytes).toBe(ra.collapsed * 2 * 1024 * 1024);
    expect(m.workloads.find((w) => w.name === 'b')!.anonThpBytes).toBe(0);
    expect(m.vmstat.thp_collapse_alloc).toBe(ra.collapsed);
    n.setThpDisable('b', 'none');
    n.setSysfs({ enabled: 'always' });
    expect(n.madvise('b', 'columns', 'collapse').collapsed).toBeGreaterThan(0);
    expect(n.checkInvariants()).toEqual([]);
  });
});
