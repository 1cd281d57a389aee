/**
 * The kernel backend: policy tables compiled from this node's real cgroup tree, loaded and
 * pinned through libs/bpf (maps, the decision program, and the struct_ops hook link where the
 * kernel has `bpf_thp_ops`), map writes on every change, and the pressure cell fed from PSI.
 *
 * On a kernel without the hook (every stock kernel, including this machine's 6.18) the tables
 * are still loaded, pinned, kept current and verified through BPF_PROG_TEST_RUN of the same
 * decision code, but nothing in the kernel's fault path consults them: the backend reports
 * hook "absent" as a capability and enforcement "none", never an error.
 *
 * State survives the agent: `close()` leaves the pins; a restarted agent `adopt()`s them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BpfBackendError, detectKernel, loadAddon, open as openPins, load as loadPins, type KernelPolicy, type KernelSupport } from '@thp-fleet/bpf';
import type { HookAbi, HookInput, KernelTables } from '@thp-fleet/policy';
import { CgroupResolver } from '../cgroups/cgroup.resolver.js';
import type { CgroupEntry } from '../cgroups/cgroup-tree.js';
import type { HookStatus } from '../connection/messages.js';
import type { Logger } from '../log/logger.js';
import type { MetricsSample } from '../metrics/metrics-sample.js';
import { NodeMetricsCollector } from '../metrics/node.metrics.js';
import type { NodeSysfs } from '../node-mode/sysfs.js';
import { PressureFeeder } from '../pressure/pressure.feeder.js';
import { tablesContentHash } from '../reconcile/tables-hash.js';
import { BackendError, type AdoptedState, type Backend, type BackendObservation } from './backend.js';

/** Why the bpf backend cannot run on this machine, or undefined when it can (load and pin; attaching needs the hook too). */
export function bpfUnavailableReason(support: KernelSupport): string | undefined {
  if (!support.addon.available) return support.addon.reason;
  if (!support.objects.available) return support.objects.reason;
  if (!support.root && !(support.capabilities.bpf && support.capabilities.sysAdmin)) return 'not root and without CAP_BPF + CAP_SYS_ADMIN: cannot load BPF programs';
  return undefined;
}

export interface BpfBackendOptions {
  readonly pinRoot: string;
  readonly cgroupRoot: string;
  readonly cgroupRescanMs: number;
  readonly procRoot: string;
  readonly sysfsRoot: string;
  readonly sysfs: NodeSysfs | undefined;
  readonly pressureIntervalMs: number;
  /** The cgroups whose metrics and PSI are reported (the agent picks the policy's mapped ones). */
  readonly metricsCgroups: () => readonly CgroupEntry[];
  readonly log: Logger;
  /** Detection result; default detectKernel(). */
  readonly support?: KernelSupport;
}

export class BpfBackend implements Backend {
  readonly kind = 'bpf' as const;
  readonly hook: HookStatus;
  readonly hookDetail: string;
  readonly cgroups: CgroupResolver;
  readonly sysfs: NodeSysfs | undefined;
  private readonly abi: HookAbi;
  private readonly pressure: PressureFeeder;
  private readonly metrics: NodeMetricsCollector;
  private policy: KernelPolicy | undefined;
  private observation: BackendObservation = { loaded: false, attached: false, programIds: [], mapContentHash: '' };
  private pressureValue = 0;

  constructor(private readonly options: BpfBackendOptions) {
    const support = options.support ?? detectKernel();
    this.hook = support.hook;
    this.hookDetail = support.detail;
    // Where there is no hook the ABI only shapes decide()'s hook return value; v12 is the newest.
    this.abi = support.hook === 'absent' ? 'v12' : support.hook;
    this.sysfs = options.sysfs;
    this.cgroups = new CgroupResolver({ root: options.cgroupRoot, rescanMs: options.cgroupRescanMs, log: (m) => options.log.warn(m) });
    this.pressure = new PressureFeeder({
      procRoot: options.procRoot,
      cgroupRoot: options.cgroupRoot,
      intervalMs: options.pressureIntervalMs,
      sink: (value) => this.setPressure(value),
      cgroups: options.metricsCgroups,
      log: (m) => options.log.warn(m),
    });
    this.metrics = new NodeMetricsCollector({ procRoot: options.procRoot, sysfsRoot: options.sysfsRoot, cgroupRoot: options.cgroupRoot, pressure: this.pressure, cgroups: options.metricsCgroups });
    this.pressure.start();
  }

  observe(): BackendObservation {
    return this.observation;
  }

  load(tables: KernelTables): Promise<void> {
    if (this.policy) return this.update(tables);
    return settle(() => {
      this.policy = this.kernel('load', () => loadPins(tables, this.abi, { pinRoot: this.options.pinRoot }));
      this.kernel('pressure', () => this.policy!.setPressure(this.pressureValue));
      this.readBack();
    });
  }

  update(tables: KernelTables): Promise<void> {
    return settle(() => {
      const policy = this.requirePolicy('update');
      this.kernel('update', () => policy.update(tables));
      this.readBack();
    });
  }

  decide(input: HookInput): Promise<number> {
    return settle(() => {
      const policy = this.requirePolicy('decide');
      return this.kernel('decide', () => policy.decide(input).decision);
    });
  }

  attach(): Promise<void> {
    return settle(() => {
      if (this.hook === 'absent') throw new BackendError('attach', 'this kernel has no bpf_thp_ops hook to attach to', this.hookDetail);
      const policy = this.requirePolicy('attach');
      this.kernel('attach', () => policy.attach());
      this.readBack();
    });
  }

  detach(): Promise<void> {
    return settle(() => {
      const policy = this.policy;
      if (this.hook === 'absent' || !policy) return;
      this.kernel('detach', () => policy.detach());
      this.readBack();
    });
  }

  unload(): Promise<void> {
    return settle(() => {
      const policy = this.policy;
      if (policy) this.kernel('unload', () => (this.hook === 'absent' ? policy.unpin() : policy.destroy()));
      this.policy = undefined;
      this.observation = { loaded: false, attached: false, programIds: [], mapContentHash: '' };
    });
  }

  adopt(): Promise<AdoptedState | undefined> {
    return settle(() => {
      let policy: KernelPolicy;
      try {
        policy = openPins({ pinRoot: this.options.pinRoot });
      } catch (error) {
        if (error instanceof BpfBackendError && (error.code === 'PINS_MISSING' || error.code === 'BPFFS_MISSING')) return undefined;
        throw error;
      }
      this.policy = policy;
      this.readBack();
      this.kernel('pressure', () => policy.setPressure(this.pressureValue));
      return { tables: policy.tables(), attached: this.observation.attached };
    });
  }

  /** `/proc/sys/kernel/random/boot_id` (under `--proc-root`): sysfs values and bpffs pins last exactly one boot. */
  async bootId(): Promise<string> {
    const file = join(this.options.procRoot, 'sys/kernel/random/boot_id');
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw new Error(`cannot read the boot id from ${file}: ${(error as Error).message}`);
    }
  }

  setPressure(value: number): void {
    this.pressureValue = value;
    const policy = this.policy;
    if (!policy) return;
    try {
      policy.setPressure(value);
    } catch (error) {
      this.options.log.warn('writing the pressure cell failed', { error: (error as Error).message });
    }
  }

  sample(): MetricsSample {
    const sample = this.metrics.sample();
    const policy = this.policy;
    if (!policy) return sample;
    // What the hook decided (per-CPU counters the BPF programs keep): zero where nothing calls it.
    const c = policy.stats().counters;
    return {
      ...sample,
      node: [
        ...sample.node,
        { name: 'thp_policy_calls', kind: 'counter', value: c.calls },
        { name: 'thp_policy_deny', kind: 'counter', value: c.deny },
        { name: 'thp_policy_unchanged', kind: 'counter', value: c.unchanged },
        { name: 'thp_policy_no_cgroup', kind: 'counter', value: c.noCgroup },
      ],
    };
  }

  close(): Promise<void> {
    this.pressure.close();
    this.cgroups.close();
    this.policy?.close();
    this.policy = undefined;
    return Promise.resolve();
  }

  /** Refresh the observation from the kernel: tables read back from the maps, program ids, hook link. */
  private readBack(): void {
    const policy = this.policy!;
    const stats = this.kernel('read back', () => policy.stats());
    this.observation = {
      loaded: true,
      attached: stats.hook.attached,
      programIds: stats.programs.map((p) => p.id),
      mapContentHash: tablesContentHash(policy.tables()),
    };
  }

  private requirePolicy(action: string): KernelPolicy {
    if (!this.policy) throw new BackendError('other', `cannot ${action}: no tables are loaded`);
    return this.policy;
  }

  /** Run a libs/bpf call, turning its errors into the Nack stage they belong to. */
  private kernel<T>(action: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof BpfBackendError)) throw error;
      const detail = [error.details.errno !== undefined ? `errno ${error.details.errno}` : '', error.details.op ?? '', error.details.log ?? ''].filter(Boolean).join('\n');
      switch (error.code) {
        case 'HOOK_ABSENT':
        case 'ABI_MISMATCH':
          throw new BackendError('attach', `${action}: ${error.message}`, detail);
        case 'INVALID_TABLES':
        case 'KERNEL':
        case 'LAYOUT_MISMATCH':
          throw new BackendError(action === 'attach' ? 'attach' : 'verify', `${action}: ${error.message}`, detail);
        case 'ADDON_UNAVAILABLE':
        case 'OBJECT_MISSING':
        case 'BPFFS_MISSING':
        case 'PINS_MISSING':
        case 'INVALID_INPUT':
        case 'CLOSED':
          throw new BackendError('other', `${action}: ${error.message}`, detail);
      }
    }
  }
}

/** libs/bpf calls are synchronous; the port is asynchronous. A throw becomes a rejection. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}

/** Addon availability without detection (for Capabilities.backends before choosing). */
export function bpfAddonAvailable(): boolean {
  return loadAddon().available;
}
