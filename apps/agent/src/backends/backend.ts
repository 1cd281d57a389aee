/**
 * The enforcement backend port: what the reconciler needs from "the kernel", whether that is
 * the real one through libs/bpf or a libs/mm-sim node. Small on purpose; each backend is a
 * thin shell over its library.
 */
import type { HookInput, KernelTables } from '@thp-fleet/policy';
import type { CgroupSource } from '../cgroups/cgroup.resolver.js';
import type { BackendKind, HookStatus } from '../connection/messages.js';
import type { MetricsSample } from '../metrics/metrics-sample.js';
import type { NodeSysfs } from '../node-mode/sysfs.js';

export interface BackendObservation {
  /** Tables are installed (pinned maps for bpf). */
  readonly loaded: boolean;
  /** The hook program is attached and governs THP decisions. */
  readonly attached: boolean;
  /** Kernel program ids (bpf); empty for sim. */
  readonly programIds: readonly number[];
  /** sha256 over the installed tables (tablesContentHash), read back from the maps where the backend can; "" when none. */
  readonly mapContentHash: string;
}

/** What is left over from a previous agent process (pinned maps and links). */
export interface AdoptedState {
  /** The tables as read back from the pinned maps. */
  readonly tables: KernelTables;
  readonly attached: boolean;
}

export interface Backend {
  readonly kind: BackendKind;
  /** The hook ABI of this kernel (or simulated node), or "absent". */
  readonly hook: HookStatus;
  /** Why the hook is absent or which ABI was found, in words. */
  readonly hookDetail: string;
  /** This node's cgroup tree, kept current. */
  readonly cgroups: CgroupSource;
  /** This node's THP sysfs (kernel, imitation or simulator), or undefined when it cannot be read. */
  readonly sysfs: NodeSysfs | undefined;
  /**
   * Identifies the running boot of this node's kernel: THP sysfs values and pinned programs
   * last as long as it does. The node-mode journal records it and forgets a journal from
   * another boot (docs/node-mode.md section 5).
   */
  bootId(): Promise<string>;
  observe(): BackendObservation;
  /** Install tables for the first time (bpf: load the programs, create and pin the maps). */
  load(tables: KernelTables): Promise<void>;
  /** Replace the installed tables (bpf: map writes; the program stays). */
  update(tables: KernelTables): Promise<void>;
  /** The decision the installed tables give for `input`, computed where enforcement happens (bpf: BPF_PROG_TEST_RUN). */
  decide(input: HookInput): Promise<number>;
  /** Attach the hook; throws where the hook is absent. */
  attach(): Promise<void>;
  detach(): Promise<void>;
  /** Remove the tables (bpf: unpin and close). */
  unload(): Promise<void>;
  /** At start-up: what a previous agent process left installed, or undefined. */
  adopt(): Promise<AdoptedState | undefined>;
  /** The node's memory pressure for the policy's pressure cell (hundredths of a percent). */
  setPressure(value: number): void;
  /** Cumulative metrics now. */
  sample(): MetricsSample;
  /** Stop timers and release handles. Leaves pinned kernel state in place (enforcement survives the agent). */
  close(): Promise<void>;
}

/** A failure in a backend step, carrying the stage the Nack reports. */
export class BackendError extends Error {
  constructor(
    readonly stage: 'verify' | 'attach' | 'other',
    message: string,
    readonly detail = '',
  ) {
    super(message);
    this.name = 'BackendError';
  }
}
