import { describe, expect, it } from 'vitest';
import type { MetricSampleView, NodeView } from '../api/types.js';
import { MAX_CGROUP_LINES, NODE_CHARTS, backendText, cgroupLabel, chartData, chartMetricNames, hookShort, hookText, policyStages, sysfsRows } from './node.model.js';

const at = (s: number): string => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000).toISOString();
const t = (s: number): number => Date.parse(at(s)) / 1000;
const sample = (name: string, s: number, value: number, cgroup = '', kind: MetricSampleView['kind'] = 'gauge'): MetricSampleView => ({ ts: at(s), name, cgroup, kind, value });
const spec = (id: string) => NODE_CHARTS.find((c) => c.id === id)!;

describe('node charts', () => {
  it('asks for every metric the charts draw, once', () => {
    const names = chartMetricNames();
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['thp_fault_alloc', 'thp_fault_fallback', 'compact_stall', 'psi_memory_some_avg10', 'workload_rss_bytes', 'anon_thp', 'workload_throughput', 'workload_latency_p99_us']));
  });

  it('draws counters as rates per second and gauges as they are', () => {
    const samples = new Map([
      ['thp_fault_alloc', [sample('thp_fault_alloc', 0, 0, '', 'counter'), sample('thp_fault_alloc', 10, 50, '', 'counter'), sample('thp_fault_alloc', 20, 100, '', 'counter')]],
      ['thp_fault_fallback', [sample('thp_fault_fallback', 10, 10, '', 'counter'), sample('thp_fault_fallback', 20, 0, '', 'counter')]],
    ]);
    const data = chartData(spec('thp-faults'), samples);
    expect(data.xs).toEqual([t(10), t(20)]);
    expect(data.series).toEqual([
      { label: 'thp_fault_alloc', values: [5, 10] },
      { label: 'thp_fault_fallback', values: [null, 0] },
    ]);
    const psi = chartData(spec('psi'), new Map([['psi_memory_some_avg10', [sample('psi_memory_some_avg10', 0, 1.5), sample('psi_memory_some_avg10', 5, 2.5, '/x')]]]));
    expect(psi.series[0]).toEqual({ label: 'some', values: [1.5] });
  });

  it('draws one line per cgroup, the largest ones when there are many', () => {
    const rows = Array.from({ length: MAX_CGROUP_LINES + 2 }, (_, i) => sample('workload_rss_bytes', 0, (i + 1) * 100, `/workloads.slice/w${i}`));
    const data = chartData(spec('rss'), new Map([['workload_rss_bytes', [...rows, sample('workload_rss_bytes', 0, 1)]]]));
    expect(data.series).toHaveLength(MAX_CGROUP_LINES);
    expect(data.hiddenCgroups).toBe(2);
    expect(data.series.map((s) => s.label)).not.toContain('w0');
    expect(data.series.map((s) => s.label)).toContain(`w${MAX_CGROUP_LINES + 1}`);
  });

  it('labels cgroups by their last component unless that is ambiguous', () => {
    expect(cgroupLabel('/a/x', ['/a/x', '/b/y'])).toBe('x');
    expect(cgroupLabel('/a/x', ['/a/x', '/b/x'])).toBe('/a/x');
  });
});

describe('node facts in words', () => {
  it('names the hook ABI, or says why it is absent', () => {
    expect(hookText({ hookAbi: 'HOOK_ABI_V8' })).toBe('bpf_thp_ops v8 (3 arguments, orders &= BIT(ret))');
    expect(hookText({ hookAbi: 'HOOK_ABI_ABSENT', hookDetail: 'no BTF for bpf_thp_ops' })).toBe('absent: no BTF for bpf_thp_ops');
    expect(hookText({})).toBe('not reported (HOOK_ABI_UNSPECIFIED)');
    expect(hookShort({ hookAbi: 'HOOK_ABI_V12', activeBackend: 'BACKEND_SIM' })).toBe('sim, v12');
    expect(hookShort({ hookAbi: 'HOOK_ABI_ABSENT', activeBackend: 'BACKEND_BPF' })).toBe('absent');
    expect(backendText({ activeBackend: 'BACKEND_BPF', backends: ['BACKEND_BPF', 'BACKEND_SIM'] })).toBe('bpf (available: bpf, sim)');
  });

  it('lists the THP sysfs modes reported at registration and observed now, sizes in order', () => {
    const rows = sysfsRows({ enabled: 'never', perSizeEnabled: { 'hugepages-2048kB': 'inherit', 'hugepages-64kB': 'never' }, khugepagedMaxPtesNone: 511 }, { enabled: 'madvise', perSizeEnabled: { 'hugepages-2048kB': 'inherit' } });
    expect(rows.map((r) => [r.setting, r.reported, r.observed])).toEqual([
      ['enabled', 'never', 'madvise'],
      ['defrag', '–', '–'],
      ['shmem_enabled', '–', '–'],
      ['hugepages-64kB/enabled', 'never', '–'],
      ['hugepages-2048kB/enabled', 'inherit', 'inherit'],
      ['khugepaged/max_ptes_none', '511', '–'],
      ['khugepaged/pages_to_scan', '–', '–'],
    ]);
  });

  it('lists desired, intended, acknowledged and observed with what each means', () => {
    const n = {
      desired: { policy: 'p', version: 2, specHash: null, rolloutId: 'ro-1', revision: 1, updatedAt: at(0), updatedBy: 'x' },
      intent: { policy: 'p', version: 2, specHash: null, nonce: 'n1', at: at(1) },
      acked: null,
      observed: { policy: 'p', version: 1, specHash: null, at: at(2), enforcement: 'full', mapContentHash: null, sysfs: null },
    } as unknown as NodeView;
    expect(policyStages(n).map((s) => [s.stage, s.ref?.version ?? null, s.at, s.extra])).toEqual([
      ['desired', 2, at(0), 'rollout ro-1'],
      ['intended', 2, at(1), 'nonce n1'],
      ['acknowledged', null, null, ''],
      ['observed', 1, at(2), 'enforcement full'],
    ]);
  });
});
