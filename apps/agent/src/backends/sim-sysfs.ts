/**
 * A simulated node's THP sysfs as the agent reads (and node mode writes) a real one: the same
 * `NodeSysfs` interface as the kernel tree (node-mode/sysfs.ts), with the simulator's values and
 * its own validation (libs/mm-sim rejects what the kernel rejects, naming the file).
 */
import { SHMEM_ENABLED_VALUES, SysfsError, THP_DEFRAG_VALUES, THP_ENABLED_VALUES, THP_SIZE_ENABLED_VALUES, type SimNode, type SysfsPatch } from '@thp-fleet/mm-sim';
import { SysfsWriteError, type ControlState, type NodeSysfs, type ThpSysfsSnapshot } from '../node-mode/sysfs.js';
import { isControlPath, perSizeKb, type ControlPath } from '../node-mode/settings.js';

export class SimSysfs implements NodeSysfs {
  /** Shown in errors and journals; a simulated node has no directory. */
  readonly root: string;

  constructor(
    private readonly node: SimNode,
    nodeId: string,
  ) {
    this.root = `sim://${nodeId}/sys/kernel/mm/transparent_hugepage`;
  }

  readSnapshot(): Promise<ThpSysfsSnapshot> {
    const s = this.node.sysfs();
    const controls: Record<string, ControlState> = {
      enabled: { value: s.enabled, options: THP_ENABLED_VALUES },
      defrag: { value: s.defrag, options: THP_DEFRAG_VALUES },
      shmem_enabled: { value: s.shmem_enabled, options: SHMEM_ENABLED_VALUES },
      'khugepaged/max_ptes_none': { value: String(s.khugepaged.max_ptes_none), options: null },
      'khugepaged/pages_to_scan': { value: String(s.khugepaged.pages_to_scan), options: null },
    };
    const perSizeEnabled: Record<string, string> = {};
    for (const [dir, size] of Object.entries(s.hugepages)) {
      if (size.enabled === undefined) continue; // file-only sizes (hugepages-8kB) have no anon control
      perSizeEnabled[dir] = size.enabled;
      controls[`${dir}/enabled`] = { value: size.enabled, options: THP_SIZE_ENABLED_VALUES };
    }
    return Promise.resolve({
      root: this.root,
      kind: 'simulator',
      enabled: s.enabled,
      defrag: s.defrag,
      shmemEnabled: s.shmem_enabled,
      perSizeEnabled,
      khugepaged: {
        maxPtesNone: s.khugepaged.max_ptes_none,
        pagesToScan: s.khugepaged.pages_to_scan,
        scanSleepMillisecs: s.khugepaged.scan_sleep_millisecs,
        allocSleepMillisecs: s.khugepaged.alloc_sleep_millisecs,
      },
      shrinkUnderused: s.shrink_underused === 1,
      hpagePmdSize: s.hpage_pmd_size,
      controls,
    });
  }

  write(path: ControlPath, value: string): Promise<void> {
    const file = `${this.root}/${path}`;
    try {
      if (!isControlPath(path)) throw new SysfsWriteError(file, value, 'not a control thp-fleet writes');
      this.node.setSysfs(patchFor(path, value, file));
      return Promise.resolve();
    } catch (error) {
      if (error instanceof SysfsError) return Promise.reject(new SysfsWriteError(file, value, error.problems.join('; ')));
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function patchFor(path: ControlPath, value: string, file: string): SysfsPatch {
  const integer = (): number => {
    if (!/^[0-9]+$/.test(value)) throw new SysfsWriteError(file, value, 'expected an unsigned decimal integer');
    return Number(value);
  };
  const choice = <T extends string>(options: readonly T[]): T => {
    const found = options.find((o) => o === value);
    if (found === undefined) throw new SysfsWriteError(file, value, `not an option of this file (it lists: ${options.join(' ')})`);
    return found;
  };
  switch (path) {
    case 'enabled':
      return { enabled: choice(THP_ENABLED_VALUES) };
    case 'defrag':
      return { defrag: choice(THP_DEFRAG_VALUES) };
    case 'shmem_enabled':
      return { shmem_enabled: choice(SHMEM_ENABLED_VALUES) };
    case 'khugepaged/max_ptes_none':
      return { khugepaged: { max_ptes_none: integer() } };
    case 'khugepaged/pages_to_scan':
      return { khugepaged: { pages_to_scan: integer() } };
    default: {
      const kb = perSizeKb(path);
      if (kb === undefined) throw new SysfsWriteError(file, value, 'not a control thp-fleet writes');
      return { hugepages: { [`hugepages-${kb}kB`]: { enabled: choice(THP_SIZE_ENABLED_VALUES) } } };
    }
  }
}
