/**
 * Metrics of a real node: /proc/vmstat, memory PSI, the per-size THP stats under
 * `transparent_hugepage/hugepages-<size>kB/stats/`, and per cgroup memory.stat and
 * memory.pressure. A file that does not exist on this kernel or hierarchy (memory.stat in a
 * hybrid-mode unified tree without the memory controller, PSI compiled out) is left out of the
 * sample rather than reported as zero.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupEntry } from '../cgroups/cgroup-tree.js';
import type { PressureFeeder } from '../pressure/pressure.feeder.js';
import { memoryStatPoints, mthpPoint, parseKeyValueLines, psiPoints, vmstatPoints } from './kernel-stats.js';
import type { CgroupSample, MetricPoint, MetricsSample } from './metrics-sample.js';

export interface NodeMetricsOptions {
  readonly procRoot: string;
  readonly sysfsRoot: string;
  readonly cgroupRoot: string | undefined;
  readonly pressure: PressureFeeder;
  /** The cgroups to report this interval. */
  readonly cgroups: () => readonly CgroupEntry[];
  readonly now?: () => number;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function readMthpStats(sysfsRoot: string): MetricPoint[] {
  const points: MetricPoint[] = [];
  let directories: string[];
  try {
    directories = readdirSync(sysfsRoot).filter((name) => name.startsWith('hugepages-')).sort();
  } catch {
    return points;
  }
  for (const directory of directories) {
    const statsDir = join(sysfsRoot, directory, 'stats');
    let stats: string[];
    try {
      stats = readdirSync(statsDir).sort();
    } catch {
      continue;
    }
    for (const stat of stats) {
      const text = readOptional(join(statsDir, stat));
      if (text === undefined) continue;
      const value = Number(text.trim());
      if (!Number.isFinite(value)) continue;
      const point = mthpPoint(directory, stat, value);
      if (point) points.push(point);
    }
  }
  return points;
}

export class NodeMetricsCollector {
  constructor(private readonly options: NodeMetricsOptions) {}

  sample(): MetricsSample {
    const { procRoot, sysfsRoot, cgroupRoot, pressure } = this.options;
    const node: MetricPoint[] = [];
    const vmstatPath = join(procRoot, 'vmstat');
    const vmstat = readOptional(vmstatPath);
    if (vmstat !== undefined) node.push(...vmstatPoints(parseKeyValueLines(vmstat, vmstatPath)));
    const psi = pressure.nodePsi();
    if (psi) node.push(...psiPoints(psi));
    node.push(...readMthpStats(sysfsRoot));

    const cgroups: CgroupSample[] = [];
    if (cgroupRoot !== undefined) {
      for (const cgroup of this.options.cgroups()) {
        const metrics: MetricPoint[] = [];
        const statPath = join(cgroupRoot, cgroup.path, 'memory.stat');
        const stat = readOptional(statPath);
        if (stat !== undefined) metrics.push(...memoryStatPoints(parseKeyValueLines(stat, statPath)));
        const cgroupPsi = pressure.cgroupPsi(cgroup.id);
        if (cgroupPsi) metrics.push(...psiPoints(cgroupPsi));
        cgroups.push({ id: cgroup.id, path: cgroup.path, metrics });
      }
    }
    return { at: (this.options.now ?? Date.now)(), node, cgroups, histograms: [] };
  }
}
