import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PressureFeeder } from '../pressure/pressure.feeder.js';
import { memoryStatPoints, mthpPoint, parseKeyValueLines, psiPoints, vmstatPoints } from './kernel-stats.js';
import { metricsInterval, type MetricsSample } from './metrics-sample.js';
import { NodeMetricsCollector, readMthpStats } from './node.metrics.js';

describe('kernel statistics files', () => {
  it('parses name-value lines and names the line of garbage', () => {
    expect(parseKeyValueLines('thp_fault_alloc 12\nnr_free_pages 99\n', 'v')).toEqual(
      new Map([
        ['thp_fault_alloc', 12],
        ['nr_free_pages', 99],
      ]),
    );
    expect(() => parseKeyValueLines('ok 1\nbroken\n', '/proc/vmstat')).toThrow('/proc/vmstat:2: expected "name value", got "broken"');
  });

  it('vmstat: thp_* and compact_* are counters, nr_*hugepages gauges, the rest left out', () => {
    const points = vmstatPoints(new Map([['thp_fault_alloc', 5], ['compact_stall', 2], ['nr_anon_transparent_hugepages', 7], ['pgfault', 100], ['nr_dirty', 3]]));
    expect(points).toEqual([
      { name: 'thp_fault_alloc', kind: 'counter', value: 5 },
      { name: 'compact_stall', kind: 'counter', value: 2 },
      { name: 'nr_anon_transparent_hugepages', kind: 'gauge', value: 7 },
      { name: 'pgfault', kind: 'counter', value: 100 },
    ]);
  });

  it('memory.stat: byte gauges and event counters', () => {
    expect(memoryStatPoints(new Map([['anon_thp', 2097152], ['anon', 4e6], ['thp_fault_alloc', 1], ['slab', 9]]))).toEqual([
      { name: 'anon', kind: 'gauge', value: 4e6 },
      { name: 'anon_thp', kind: 'gauge', value: 2097152 },
      { name: 'thp_fault_alloc', kind: 'counter', value: 1 },
    ]);
  });

  it('per-size stats: nr_anon* are gauges', () => {
    expect(mthpPoint('hugepages-64kB', 'anon_fault_alloc', 3)).toEqual({ name: 'mthp_64kB_anon_fault_alloc', kind: 'counter', value: 3 });
    expect(mthpPoint('hugepages-2048kB', 'nr_anon', 4)).toEqual({ name: 'mthp_2048kB_nr_anon', kind: 'gauge', value: 4 });
    expect(mthpPoint('other', 'x', 1)).toBeUndefined();
  });

  it('PSI: averages as gauges, total as a counter', () => {
    const names = psiPoints({ some: { avg10: 1, avg60: 2, avg300: 3, total: 4 }, full: undefined }).map((p) => `${p.name}:${p.kind}`);
    expect(names).toEqual(['psi_memory_some_avg10:gauge', 'psi_memory_some_avg60:gauge', 'psi_memory_some_avg300:gauge', 'psi_memory_some_total_us:counter']);
  });
});

describe('metricsInterval', () => {
  const sample = (at: number, faults: number, anonThp: number, cgroupFaults: number, cgroupId = 5): MetricsSample => ({
    at,
    node: [
      { name: 'thp_fault_alloc', kind: 'counter', value: faults },
      { name: 'nr_anon_transparent_hugepages', kind: 'gauge', value: anonThp },
    ],
    cgroups: [{ id: cgroupId, path: '/zgc', metrics: [{ name: 'thp_fault_alloc', kind: 'counter', value: cgroupFaults }] }],
    histograms: [{ name: 'fault_latency_us', cgroupPath: '', upperBounds: [1, 10], counts: [faults, faults * 2], count: faults * 3, sum: faults * 10 }],
  });

  it('counters become deltas, gauges stay, histograms become per-interval', () => {
    const r = metricsInterval(sample(1000, 10, 3, 4), sample(11_000, 25, 9, 6));
    expect(r.start).toBe(1000);
    expect(r.end).toBe(11_000);
    expect(r.node).toEqual([
      { name: 'thp_fault_alloc', kind: 'counter', value: 15 },
      { name: 'nr_anon_transparent_hugepages', kind: 'gauge', value: 9 },
    ]);
    expect(r.cgroups[0]!.metrics).toEqual([{ name: 'thp_fault_alloc', kind: 'counter', value: 2 }]);
    expect(r.histograms[0]).toMatchObject({ counts: [15, 30], count: 45, sum: 150 });
  });

  it('a counter that went down was reset: its delta is the new value', () => {
    expect(metricsInterval(sample(0, 100, 0, 0), sample(1, 7, 0, 0)).node[0]!.value).toBe(7);
  });

  it('a cgroup seen for the first time reports zero deltas, not its lifetime total', () => {
    const r = metricsInterval(sample(0, 1, 0, 0, 5), sample(1, 1, 0, 500, 6));
    expect(r.cgroups[0]).toEqual({ id: 6, path: '/zgc', metrics: [{ name: 'thp_fault_alloc', kind: 'counter', value: 0 }] });
  });
});

describe('NodeMetricsCollector over an imitation /proc and sysfs', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('samples vmstat, PSI, per-size stats and per-cgroup memory.stat', () => {
    dir = mkdtempSync(join(tmpdir(), 'thp-metrics-'));
    mkdirSync(join(dir, 'proc/pressure'), { recursive: true });
    mkdirSync(join(dir, 'thp/hugepages-2048kB/stats'), { recursive: true });
    mkdirSync(join(dir, 'thp/hugepages-64kB/stats'), { recursive: true });
    mkdirSync(join(dir, 'cg/zgc'), { recursive: true });
    writeFileSync(join(dir, 'proc/vmstat'), 'nr_free_pages 1000\nthp_fault_alloc 42\ncompact_stall 3\n');
    writeFileSync(join(dir, 'proc/pressure/memory'), 'some avg10=1.50 avg60=0 avg300=0 total=9\nfull avg10=0 avg60=0 avg300=0 total=1\n');
    writeFileSync(join(dir, 'thp/hugepages-2048kB/stats/anon_fault_alloc'), '40\n');
    writeFileSync(join(dir, 'thp/hugepages-2048kB/stats/nr_anon'), '12\n');
    writeFileSync(join(dir, 'thp/hugepages-64kB/stats/anon_fault_alloc'), '2\n');
    writeFileSync(join(dir, 'cg/zgc/memory.stat'), 'anon 8388608\nanon_thp 4194304\nthp_fault_alloc 2\n');
    writeFileSync(join(dir, 'cg/zgc/memory.pressure'), 'some avg10=0.10 avg60=0 avg300=0 total=5\nfull avg10=0 avg60=0 avg300=0 total=0\n');
    const cgroups = [{ id: 77, path: '/zgc', parentId: 1 }];
    const pressure = new PressureFeeder({ procRoot: join(dir, 'proc'), cgroupRoot: join(dir, 'cg'), intervalMs: 1000, sink: () => undefined, cgroups: () => cgroups });
    pressure.tick();
    const collector = new NodeMetricsCollector({ procRoot: join(dir, 'proc'), sysfsRoot: join(dir, 'thp'), cgroupRoot: join(dir, 'cg'), pressure, cgroups: () => cgroups, now: () => 5 });
    const s = collector.sample();
    const node = Object.fromEntries(s.node.map((p) => [p.name, p.value]));
    expect(node).toMatchObject({ nr_free_pages: 1000, thp_fault_alloc: 42, compact_stall: 3, psi_memory_some_avg10: 1.5, mthp_2048kB_anon_fault_alloc: 40, mthp_2048kB_nr_anon: 12, mthp_64kB_anon_fault_alloc: 2 });
    expect(s.cgroups).toHaveLength(1);
    const cg = Object.fromEntries(s.cgroups[0]!.metrics.map((p) => [p.name, p.value]));
    expect(cg).toMatchObject({ anon: 8388608, anon_thp: 4194304, thp_fault_alloc: 2, psi_memory_some_avg10: 0.1 });
  });

  it('reads this machine\'s per-size THP stats', () => {
    const points = readMthpStats('/sys/kernel/mm/transparent_hugepage');
    if (points.length === 0) {
      process.stderr.write('[metrics] this kernel exposes no hugepages-*/stats; real per-size stats not checked\n');
      return;
    }
    expect(points.some((p) => p.name === 'mthp_2048kB_anon_fault_alloc' && p.kind === 'counter')).toBe(true);
    expect(points.some((p) => p.name === 'mthp_2048kB_nr_anon' && p.kind === 'gauge')).toBe(true);
  });
});
