/**
 * Reads memory PSI every interval (default one second): the node's /proc/pressure/memory,
 * whose `some avg10` goes into the policy's pressure cell (the value rules with an
 * `underPressure` gate compare against), and the memory.pressure of the cgroups being
 * reported, kept for the metrics reports.
 *
 * The kernel recomputes the averages every 2 s (PSI_FREQ in kernel/sched/psi.c), so reading
 * every second never misses an update by more than one period.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CgroupEntry } from '../cgroups/cgroup-tree.js';
import { parsePsi, pressureCellValue, type Psi } from './psi.js';

export interface PressureFeederOptions {
  readonly procRoot: string;
  /** cgroup v2 mount, for per-cgroup memory.pressure; undefined = node only. */
  readonly cgroupRoot: string | undefined;
  readonly intervalMs: number;
  /** Writes the pressure cell (hundredths of a percent). */
  readonly sink: (value: number) => void;
  /** The cgroups whose pressure the metrics report wants. */
  readonly cgroups: () => Iterable<CgroupEntry>;
  readonly log?: (message: string) => void;
}

export class PressureFeeder {
  private node: Psi | undefined;
  private readonly perCgroup = new Map<number, Psi>();
  private timer: NodeJS.Timeout | undefined;
  private nodeUnavailable: string | undefined;
  private lastCell = -1;

  constructor(private readonly options: PressureFeederOptions) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The node's memory PSI at the last read (undefined when PSI is unavailable). */
  nodePsi(): Psi | undefined {
    return this.node;
  }

  /** Why node PSI is unavailable, or undefined when it is read fine. */
  unavailable(): string | undefined {
    return this.nodeUnavailable;
  }

  cgroupPsi(id: number): Psi | undefined {
    return this.perCgroup.get(id);
  }

  /** One read of every file and one write of the cell. */
  tick(): void {
    const path = join(this.options.procRoot, 'pressure/memory');
    try {
      this.node = parsePsi(readFileSync(path, 'utf8'), path);
      this.nodeUnavailable = undefined;
    } catch (error) {
      const reason = `${path}: ${(error as Error).message}`;
      if (this.nodeUnavailable !== reason) this.options.log?.(`memory PSI unavailable, pressure cell stays 0 (${reason})`);
      this.nodeUnavailable = reason;
      this.node = undefined;
    }
    const cell = this.node ? pressureCellValue(this.node) : 0;
    if (cell !== this.lastCell) {
      this.options.sink(cell);
      this.lastCell = cell;
    }
    const root = this.options.cgroupRoot;
    if (root === undefined) return;
    const seen = new Set<number>();
    for (const cgroup of this.options.cgroups()) {
      seen.add(cgroup.id);
      const file = join(root, cgroup.path, 'memory.pressure');
      try {
        this.perCgroup.set(cgroup.id, parsePsi(readFileSync(file, 'utf8'), file));
      } catch {
        // Removed between the walk and the read, or PSI off for it: no sample this time.
        this.perCgroup.delete(cgroup.id);
      }
    }
    for (const id of this.perCgroup.keys()) if (!seen.has(id)) this.perCgroup.delete(id);
  }
}
