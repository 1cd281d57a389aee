/**
 * Scenario tests: outcomes come from the mechanics (nothing here or in the scenarios is
 * scripted). Each compares policies on the same node size, mix and seed.
 */
import { compilePolicy, makeHook, type ThpPolicy } from '@thp-fleet/policy';
import { describe, expect, it } from 'vitest';
import { GIB } from './constants.js';
import type { CgroupInfo } from './cgroups.js';
import type { NodeMetrics, WorkloadMetrics } from './metrics.js';
import { createNode } from './node.js';
import { POLICIES, cgroupAllowHook, createScenarioNode, runScenario } from './scenarios.js';
import { standardWorkloadMix } from './workloads.js';

const MIN = 60_000;
const wl = (m: NodeMetrics, name: string): WorkloadMetrics => {
  const w = m.workloads.find((x) => x.name === name);
  if (w === undefined) throw new Error(`no workload ${name}`);
  return w;
};

describe('scenario: ZGC with a madvised shmem heap', () => {
  it('maps most of the heap with PMD pages and raises throughput over never', () => {
    const thp = runScenario('zgc', 'madvise', { durationMs: 8 * MIN });
    const never = runScenario('zgc', 'never', { durationMs: 8 * MIN });
    const z = wl(thp, 'zgc-jvm');
    expect(z.shmemThpBytes).toBeGreaterThan(0.8 * 12 * GIB);
    expect(z.thpCoverage).toBeGreaterThan(0.8);
    expect(thp.vmstat.thp_file_alloc).toBeGreaterThan(4000);
    expect(wl(never, 'zgc-jvm').shmemThpBytes).toBe(0);
    expect(z.throughput).toBeGreaterThan(1.05 * wl(never, 'zgc-jvm').throughput);
    expect(z.tlb.overheadFraction).toBeLessThan(wl(never, 'zgc-jvm').tlb.overheadFraction / 3);
  });
});

describe('scenario: sparse key-value store', () => {
  it('under always with max_ptes_none=511 ends with more RSS than under never', () => {
    const opts = { durationMs: 20 * MIN, memoryBytes: 16 * GIB };
    const always = runScenario('kv-bloat', 'always', opts);
    const never = runScenario('kv-bloat', 'never', opts);
    expect(always.vmstat.thp_fault_alloc + always.vmstat.thp_collapse_alloc).toBeGreaterThan(0);
    const a = wl(always, 'kv-store');
    const n = wl(never, 'kv-store');
    expect(a.touchedBytes).toBeCloseTo(n.touchedBytes, -7);
    expect(a.rssBytes).toBeGreaterThan(1.3 * n.rssBytes);
    expect(a.memoryCurrentBytes).toBeGreaterThan(1.3 * n.memoryCurrentBytes);
    // max_ptes_none=0 (TCMalloc/Go guidance): khugepaged no longer collapses sparse ranges.
    const tuned = runScenario('kv-bloat', 'tuned', opts);
    expect(always.vmstat.thp_collapse_alloc).toBeGreaterThan(0);
    expect(tuned.vmstat.thp_collapse_alloc).toBe(0);
    expect(wl(tuned, 'kv-store').rssBytes).toBeLessThan(a.rssBytes);
  });
});

describe('scenario: page-cache job fragmenting memory', () => {
  it('defrag=always stalls in compaction and has a worse p99 fault latency than defrag=madvise on non-madvised memory', () => {
    const opts = { durationMs: 15 * MIN };
    const always = runScenario('fragmentation', 'everywhere', opts); // enabled=always, defrag=always
    const madvise = runScenario('fragmentation', 'always', opts); // enabled=always, defrag=madvise
    expect(POLICIES['everywhere']!.sysfs.defrag).toBe('always');
    expect(POLICIES['always']!.sysfs.defrag).toBe('madvise');
    expect(always.vmstat.compact_stall).toBeGreaterThan(0);
    expect(always.vmstat.compact_stall).toBeGreaterThan(5 * madvise.vmstat.compact_stall);
    const a = wl(always, 'latency-svc');
    const m = wl(madvise, 'latency-svc');
    expect(a.faultLatencyUs.p99).toBeGreaterThan(2 * m.faultLatencyUs.p99);
    expect(a.psi.some.total).toBeGreaterThan(m.psi.some.total);
    expect(always.faultLatency.p99).toBeGreaterThan(madvise.faultLatency.p99);
  });
});

describe('scenario: khugepaged rate limits', () => {
  it('never collapses faster than pages_to_scan per scan_sleep_millisecs allows, and does collapse', () => {
    const pagesToScan = 2048; // 4 PMD ranges per wake
    const sleep = 2000;
    const node = createNode(
      { memoryBytes: 4 * GIB, sysfs: { enabled: 'always', defrag: 'never', khugepaged: { pages_to_scan: pagesToScan, scan_sleep_millisecs: sleep } } },
      5,
    );
    // Sparse workload whose first touches fall back (defrag=never, memory filled by the batch job).
    node.addWorkload({ kind: 'batch-pagecache', scale: 0.05 });
    node.addWorkload({ kind: 'kv-store', scale: 0.1, params: { loadMiBps: 20 } });
    const samples: number[] = [];
    for (let s = 0; s < 300; s += 10) {
      node.runFor(10_000);
      samples.push(node.metrics().vmstat.thp_collapse_alloc);
    }
    const m = node.metrics();
    const wakes = m.khugepaged.wakes;
    expect(wakes).toBeLessThanOrEqual(Math.floor(300_000 / sleep) + 1);
    expect(m.vmstat.thp_collapse_alloc).toBeGreaterThan(0);
    expect(m.vmstat.thp_collapse_alloc).toBeLessThanOrEqual(wakes * (pagesToScan / 512));
    // In every 10 s window, at most 5 wakes × 4 ranges.
    for (let i = 1; i < samples.length; i++) expect(samples[i]! - samples[i - 1]!).toBeLessThanOrEqual((10_000 / sleep + 1) * 4);
  });
});

describe('scenario: a hook that denies one cgroup', () => {
  it('gives that cgroup zero THP while the others keep theirs', () => {
    const node = createNode({ memoryBytes: 8 * GIB, workloads: standardWorkloadMix(8 * GIB), sysfs: { enabled: 'always', shmem_enabled: 'advise' } }, 3);
    // Allow every workload cgroup except the kv-store's (root and slices match nothing).
    node.setHook(cgroupAllowHook(node, (path) => path.startsWith('/workloads.slice/') && !path.endsWith('/kv-store')), 'v8');
    node.runFor(10 * MIN);
    const m = node.metrics();
    const kv = m.cgroups.find((c) => c.path === '/workloads.slice/kv-store')!;
    expect(kv.memoryStat.thp_fault_alloc).toBe(0);
    expect(kv.memoryStat.thp_collapse_alloc).toBe(0);
    expect(kv.memoryStat.anon_thp).toBe(0);
    expect(wl(m, 'kv-store').thpCoverage).toBe(0);
    expect(wl(m, 'tlb-analytics').anonThpBytes).toBeGreaterThan(0);
    expect(wl(m, 'zgc-jvm').shmemThpBytes).toBeGreaterThan(0);
    expect(m.hook.calls.pagefault).toBeGreaterThan(0);
  });
});

describe('canary comparisons on the standard 64 GiB mix', () => {
  const duration = 30 * MIN;
  const never = runScenario('standard', 'never', { durationMs: duration, seed: 11 });
  const zgcOnly = runScenario('standard', 'zgc-only', { durationMs: duration, seed: 11 });
  const everywhere = runScenario('standard', 'everywhere', { durationMs: duration, seed: 11 });
  const zgcOnlyOtherSeed = runScenario('standard', 'zgc-only', { durationMs: duration, seed: 12 });

  it('THP only for zgc + tlb-analytics helps those two and leaves the others unchanged', () => {
    expect(wl(zgcOnly, 'zgc-jvm').throughput).toBeGreaterThan(1.05 * wl(never, 'zgc-jvm').throughput);
    expect(wl(zgcOnly, 'tlb-analytics').throughput).toBeGreaterThan(1.2 * wl(never, 'tlb-analytics').throughput);
    // Same seed: the load is identical, so anything that moved was moved by the mechanics.
    for (const name of ['tcmalloc-svc', 'kv-store', 'latency-svc', 'batch-pagecache']) {
      const a = wl(zgcOnly, name);
      const b = wl(never, name);
      expect(a.thpCoverage, name).toBe(0);
      expect(Math.abs(a.throughput / b.throughput - 1), `${name} throughput`).toBeLessThan(0.01);
      expect(Math.abs(a.latencyUs.p99 / b.latencyUs.p99 - 1), `${name} latency p99`).toBeLessThan(0.05);
      expect(Math.abs(a.rssBytes / b.rssBytes - 1), `${name} rss`).toBeLessThan(0.01);
      expect(a.faultLatencyUs.p99, `${name} fault p99`).toBeLessThan(5);
      expect(a.psi.some.total, `${name} psi`).toBe(b.psi.some.total);
    }
    // Another node (seed): only noise separates the workloads without traffic bursts.
    for (const name of ['tcmalloc-svc', 'kv-store', 'batch-pagecache']) {
      const a = wl(zgcOnlyOtherSeed, name);
      const b = wl(never, name);
      expect(Math.abs(a.throughput / b.throughput - 1), `${name} throughput, other seed`).toBeLessThan(0.05);
      expect(Math.abs(a.rssBytes / b.rssBytes - 1), `${name} rss, other seed`).toBeLessThan(0.05);
    }
  });

  it('THP everywhere with defrag=always and max_ptes_none=511 bloats the kv-store and stalls the latency service', () => {
    const kv = wl(everywhere, 'kv-store');
    expect(kv.memoryCurrentBytes).toBeGreaterThan(1.4 * wl(never, 'kv-store').memoryCurrentBytes);
    const lat = wl(everywhere, 'latency-svc');
    const base = wl(never, 'latency-svc');
    expect(lat.faultLatencyUs.p99).toBeGreaterThan(20 * base.faultLatencyUs.p99);
    expect(lat.psi.some.total).toBeGreaterThan(0);
    expect(base.psi.some.total).toBe(0);
    expect(lat.stallMsPerSec).toBeGreaterThan(base.stallMsPerSec + 1);
    expect(everywhere.vmstat.compact_stall).toBeGreaterThan(0);
    expect(never.vmstat.compact_stall).toBe(0);
  });
});

describe('with the policy library (compilePolicy + makeHook)', () => {
  it('a zgc-only ThpPolicy behaves like the hand-written allow-list hook', () => {
    const policy: ThpPolicy = {
      apiVersion: 'thp.fleet/v1',
      kind: 'ThpPolicy',
      metadata: { name: 'zgc-only' },
      spec: {
        default: { action: 'deny' },
        rules: [{ name: 'zgc', match: { cgroups: ['/workloads.slice/zgc-*', '/workloads.slice/tlb-analytics'] }, allow: { orders: [9] } }],
      },
    };
    const run = (useLib: boolean): NodeMetrics => {
      const node = createScenarioNode('standard', 'zgc-only', { seed: 4, memoryBytes: 8 * GIB });
      if (useLib) {
        const refs: { id: number; path: string }[] = [];
        const walk = (c: CgroupInfo): void => {
          refs.push({ id: c.id, path: c.path });
          c.children.forEach(walk);
        };
        walk(node.cgroups());
        node.setHook(makeHook(compilePolicy(policy, refs), 'v12'), 'v12');
      } else node.setHook(cgroupAllowHook(node, (p) => /\/(zgc|tlb-analytics)/.test(p)), 'v12');
      node.runFor(5 * MIN);
      return node.metrics();
    };
    const lib = run(true);
    const own = run(false);
    for (const w of lib.workloads) {
      const o = wl(own, w.name);
      expect(w.anonThpBytes + w.shmemThpBytes, w.name).toBe(o.anonThpBytes + o.shmemThpBytes);
    }
    expect(wl(lib, 'zgc-jvm').shmemThpBytes).toBeGreaterThan(0);
    expect(wl(lib, 'kv-store').anonThpBytes).toBe(0);
  });
});
