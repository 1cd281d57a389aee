/**
 * The kernel backend: loads the BPF objects, keeps the policy tables in pinned maps,
 * decides through the kernel (BPF_PROG_TEST_RUN of the syscall program), attaches the
 * struct_ops hook where the kernel has one, and re-opens all of it from the pins.
 *
 * State lives in the pins, not in this process: a KernelPolicy holds fds opened from
 * the pin root and a cached copy of what the maps hold. Several handles may read; one
 * writer at a time (the agent) is assumed.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  HOOK_ABIS,
  type Decision,
  type HookAbi,
  type HookInput,
  type KernelTables,
} from '@thp-fleet/policy';

import { requireAddonPort, type ThpBpfAddon } from './addon.js';
import { bpffsStatus, detectHook, type HookDetection } from './detect.js';
import { BpfBackendError, kernelError } from './errors.js';
import {
  ABI_NUMBER,
  COUNTER,
  CTX_CURRENT_TASK,
  LAYOUT,
  LAYOUT_VERSION,
  decodeActive,
  decodeCgroupKey,
  decodeContextChain,
  decodeProbeEntry,
  decodeSlot,
  encodeActive,
  encodeCgroupBatch,
  encodeContextWords,
  encodePressure,
  inputIsValid,
  encodeSlot,
  planUpdate,
  validateInput,
  validateTables,
  type KernelState,
  type MapWrite,
  type ProbeEntry,
  type UpdatePlan,
} from './layout.js';
import { DEFAULT_PIN_ROOT, OBJECT_DIR, VMLINUX_BTF, objectPath, type ObjectVariant } from './paths.js';

/** Maps every object defines and pins by name (bpf/thp_policy.bpf.c). */
export const POLICY_MAPS = [
  'thp_active',
  'thp_slots',
  'thp_cgroups',
  'thp_pressure',
  'thp_counters',
  'thp_rcu_token',
  'thp_rcu_sync',
] as const;
type PolicyMap = (typeof POLICY_MAPS)[number];

/** Names under the pin root besides the maps. */
export const PINS = {
  decideProgram: 'thp_decide_ctx',
  hookLink: 'thp_hook_link',
  probeLink: 'thp_probe_link',
  probeMap: 'thp_probe_seen',
} as const;

const STRUCT_OPS_MAP = 'thp_fleet_ops';
const PROBE_PROGRAM = 'thp_probe';
/** BPF_F_LINK (uapi since 6.4; value from the 6.18 BTF): struct_ops attached through a link. */
const BPF_F_LINK = 1 << 13;
const BPF_ANY = 0;
/** Entries per batch syscall. */
const BATCH = 8192;

export interface KernelPolicyOptions {
  /** Where maps, programs and links are pinned; default /sys/fs/bpf/thp-fleet. */
  readonly pinRoot?: string;
  /** BTF used to detect the hook; default /sys/kernel/btf/vmlinux. */
  readonly btfPath?: string;
  /** The addon port; default the built addon. */
  readonly addon?: ThpBpfAddon;
  /** Directory of the compiled objects; default build/bpf of this package. */
  readonly objectDir?: string;
}

export interface KernelDecision {
  readonly decision: Decision;
  /** What thp_get_order returns for this decision under the ABI asked for. */
  readonly hookReturn: number;
  /** Consistent-read attempts the program needed (1 unless a flip overlapped). */
  readonly attempts: number;
}

export interface UpdateResult {
  readonly mode: UpdatePlan['mode'];
  readonly writes: number;
  readonly slot: number;
  readonly seq: number;
}

export interface UpdateOptions {
  /** Called after each map write (tests interleave kernel decisions here). */
  readonly onWrite?: (write: MapWrite, index: number) => void;
}

export interface ProgramStats {
  readonly name: string;
  readonly id: number;
  readonly runCnt: number;
  readonly runTimeNs: number;
  /** runTimeNs / runCnt; null before a counted run (needs kernel.bpf_stats_enabled=1). */
  readonly avgNs: number | null;
  readonly verifiedInsns: number;
}

export interface KernelStats {
  readonly pinRoot: string;
  readonly abi: HookAbi;
  readonly hook: { readonly kernel: HookDetection; readonly attached: boolean; readonly linkId: number | null; readonly structOpsMapId: number | null };
  readonly programs: readonly ProgramStats[];
  readonly maps: Readonly<Record<string, number>>;
  readonly activeSlot: number;
  readonly seq: number;
  readonly generation: number;
  readonly rules: number;
  readonly cgroupEntries: number;
  /** sha256 of the active tables as read back from the maps (slot-independent). */
  readonly contentHash: string;
  /** Sums of the per-CPU counters the hook and probe programs keep. */
  readonly counters: {
    readonly calls: number;
    readonly deny: number;
    readonly unchanged: number;
    readonly noCgroup: number;
    readonly retry: number;
    /** Index k: decisions for order k (0..18). */
    readonly orders: readonly number[];
  };
}

/** sha256 of tables in their map encoding: equal tables hash equal whatever slot holds them. */
export function tablesContentHash(tables: KernelTables): string {
  const hash = createHash('sha256');
  hash.update(encodeSlot(tables));
  const entries = [...tables.cgroupRules].sort((a, b) => a[0] - b[0]);
  const { keys, values } = encodeCgroupBatch(entries, 0);
  hash.update(keys);
  hash.update(values);
  return hash.digest('hex');
}

function requireObject(variant: ObjectVariant, dir: string): string {
  const path = objectPath(variant, dir);
  if (!existsSync(path))
    throw new BpfBackendError('OBJECT_MISSING', `BPF object ${path} is not built (clang and libbpf-dev are needed: node libs/bpf/scripts/build.mjs)`);
  return path;
}

function requireBpffs(pinRoot: string): void {
  const status = bpffsStatus(pinRoot);
  if (!status.mounted) throw new BpfBackendError('BPFFS_MISSING', `pin root ${pinRoot} is not on a bpf filesystem: ${status.detail}`);
}

function u32Key(value: number): Buffer {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(value, 0);
  return key;
}

/** Opens an object with the pin root, so its maps are created-and-pinned or reused from the pins. */
function loadObject(addon: ThpBpfAddon, path: string, pinRoot: string, prepare?: (obj: InstanceType<ThpBpfAddon['BpfObject']>) => void) {
  let obj;
  try {
    obj = new addon.BpfObject(path, pinRoot);
  } catch (error) {
    throw kernelError(`opening ${path}`, error);
  }
  try {
    prepare?.(obj);
    obj.load();
    return obj;
  } catch (error) {
    obj.close();
    const wrapped = kernelError(`loading ${path}`, error);
    if (wrapped.details.log?.includes("couldn't reuse pinned map"))
      throw new BpfBackendError(
        'LAYOUT_MISMATCH',
        `maps pinned under ${pinRoot} do not match ${path} (written by another version); unpin them first (KernelPolicy.unpin or rm -r ${pinRoot})`,
        wrapped.details,
      );
    throw wrapped;
  }
}

export class KernelPolicy {
  private readonly ctx = Buffer.alloc(LAYOUT.thp_decide_ctx.size);
  private readonly ctxWords = new Uint32Array(this.ctx.buffer, this.ctx.byteOffset, LAYOUT.thp_decide_ctx.size / 4);
  private readonly ctxOut = new Int32Array(this.ctx.buffer, this.ctx.byteOffset, LAYOUT.thp_decide_ctx.size / 4);
  private closed = false;
  private probeMapFd: number | null = null;

  private constructor(
    private readonly addon: ThpBpfAddon,
    /** Where this policy's maps, program and links are pinned. */
    readonly pinRoot: string,
    private abiValue: HookAbi,
    /** The kernel's hook, detected from BTF when the handle was made. */
    readonly kernelHook: { readonly hook: HookDetection; readonly detail: string },
    private readonly objectDir: string,
    private readonly mapFds: Readonly<Record<PolicyMap, number>>,
    private readonly decideFd: number,
    private state: KernelState,
  ) {}

  /** The ABI the tables target: the hook program and decide()'s hookReturn use it. */
  get abi(): HookAbi {
    return this.abiValue;
  }

  /**
   * Loads the syscall-program object (creating or reusing the pinned maps), pins the
   * program, and writes `tables` for `abi`. On a kernel with the hook, attach() then
   * loads the ABI's struct_ops object against the same maps.
   */
  static load(tables: KernelTables, abi: HookAbi, options: KernelPolicyOptions = {}): KernelPolicy {
    if (!HOOK_ABIS.includes(abi)) throw new BpfBackendError('INVALID_INPUT', `abi must be one of ${HOOK_ABIS.join(', ')}, got ${String(abi)}`);
    const issues = validateTables(tables);
    if (issues.length > 0)
      throw new BpfBackendError('INVALID_TABLES', `invalid tables: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
    const addon = requireAddonPort(options.addon);
    const pinRoot = options.pinRoot ?? DEFAULT_PIN_ROOT;
    const objectDir = options.objectDir ?? OBJECT_DIR;
    const path = requireObject('syscall', objectDir);
    requireBpffs(pinRoot);
    mkdirSync(pinRoot, { recursive: true });

    const obj = loadObject(addon, path, pinRoot);
    try {
      const pin = join(pinRoot, PINS.decideProgram);
      rmSync(pin, { force: true });
      obj.pinProgram(PINS.decideProgram, pin);
    } catch (error) {
      throw kernelError(`pinning ${PINS.decideProgram} under ${pinRoot}`, error);
    } finally {
      obj.close(); // the pins keep maps and program alive; open() takes it from here
    }
    const policy = KernelPolicy.open({ ...options, pinRoot, objectDir, addon });
    policy.abiValue = abi;
    try {
      policy.update(tables);
    } catch (error) {
      policy.close();
      throw error;
    }
    return policy;
  }

  /** Re-opens a loaded policy from its pins (after an agent restart). */
  static open(options: KernelPolicyOptions = {}): KernelPolicy {
    const addon = requireAddonPort(options.addon);
    const pinRoot = options.pinRoot ?? DEFAULT_PIN_ROOT;
    const required = [...POLICY_MAPS, PINS.decideProgram];
    const missing = required.filter((name) => !existsSync(join(pinRoot, name)));
    if (missing.length > 0)
      throw new BpfBackendError('PINS_MISSING', `no loaded policy under ${pinRoot}: missing pins ${missing.join(', ')}`);

    const opened: number[] = [];
    const get = (name: string): number => {
      try {
        const fd = addon.objGet(join(pinRoot, name));
        opened.push(fd);
        return fd;
      } catch (error) {
        for (const fd of opened) addon.closeFd(fd);
        throw kernelError(`opening pin ${join(pinRoot, name)}`, error);
      }
    };
    const mapFds = Object.fromEntries(POLICY_MAPS.map((name) => [name, get(name)])) as Record<PolicyMap, number>;
    const decideFd = get(PINS.decideProgram);
    const btfPath = options.btfPath ?? VMLINUX_BTF;
    const policy = new KernelPolicy(
      addon,
      pinRoot,
      'v12',
      detectHook(addon, btfPath),
      options.objectDir ?? OBJECT_DIR,
      mapFds,
      decideFd,
      { tables: emptyTables(), slot: 1, seq: 0, abi: 0, staleInactive: [] },
    );
    try {
      policy.state = policy.readState();
    } catch (error) {
      policy.close();
      throw error;
    }
    const abi = HOOK_ABIS.find((a) => ABI_NUMBER[a] === policy.state.abi);
    if (abi !== undefined) policy.abiValue = abi;
    return policy;
  }

  private ensureOpen(): void {
    if (this.closed) throw new BpfBackendError('CLOSED', `kernel policy handle for ${this.pinRoot} is closed`);
  }

  // ------------------------------------------------------------ reading the maps

  private lookup(map: PolicyMap, key: Buffer, size: number): Buffer {
    const value = Buffer.alloc(size);
    try {
      if (!this.addon.mapLookup(this.mapFds[map], key, value)) throw new Error('no such key');
    } catch (error) {
      throw kernelError(`reading ${map}`, error);
    }
    return value;
  }

  /** Every (cgroup id, slot, rule set) in thp_cgroups, by batches. */
  private dumpCgroups(): { cgroupId: number; slot: number; ruleSet: number }[] {
    const keySize = LAYOUT.thp_cgroup_key.size;
    const keys = Buffer.alloc(BATCH * keySize);
    const values = Buffer.alloc(BATCH * 4);
    const tokenIn = Buffer.alloc(keySize);
    const tokenOut = Buffer.alloc(keySize);
    const out: { cgroupId: number; slot: number; ruleSet: number }[] = [];
    let first = true;
    for (;;) {
      let batch;
      try {
        batch = this.addon.mapLookupBatch(this.mapFds.thp_cgroups, keys, values, first ? null : tokenIn, tokenOut, BATCH);
      } catch (error) {
        throw kernelError('reading thp_cgroups', error);
      }
      for (let i = 0; i < batch.count; i++) out.push({ ...decodeCgroupKey(keys, i * keySize), ruleSet: values.readUInt32LE(i * 4) });
      if (batch.done) return out;
      tokenOut.copy(tokenIn);
      first = false;
    }
  }

  private readState(): KernelState {
    const active = decodeActive(this.lookup('thp_active', u32Key(0), LAYOUT.thp_active.size));
    if (active.seq > 0 && active.layoutVersion !== LAYOUT_VERSION)
      throw new BpfBackendError(
        'LAYOUT_MISMATCH',
        `maps under ${this.pinRoot} hold layout version ${active.layoutVersion}, this package writes ${LAYOUT_VERSION}; unpin and load again`,
      );
    // Before the first flip nothing is active: treat slot 1 as current so the first switch writes slot 0.
    const slot = active.seq === 0 ? 1 : active.slot & 1;
    const content = decodeSlot(this.lookup('thp_slots', u32Key(slot), LAYOUT.thp_slot.size));
    const cgroupRules = new Map<number, number>();
    const staleInactive: number[] = [];
    for (const entry of this.dumpCgroups()) {
      if (entry.slot === slot) cgroupRules.set(entry.cgroupId, entry.ruleSet);
      else staleInactive.push(entry.cgroupId);
    }
    return { tables: { ...content, cgroupRules }, slot, seq: active.seq, abi: active.abi, staleInactive };
  }

  /** The active tables as the kernel holds them now (read back from the maps). */
  tables(): KernelTables {
    this.ensureOpen();
    return this.readState().tables;
  }

  // ------------------------------------------------------------ writing the maps

  /**
   * Makes the maps hold `tables` with the fewest writes that never expose a mix: one
   * cgroup entry changes in place; anything else writes the inactive slot, flips the
   * active cell (one write), waits until no hook invocation can still read the old slot,
   * then cleans it.
   */
  update(tables: KernelTables, options: UpdateOptions = {}): UpdateResult {
    this.ensureOpen();
    const issues = validateTables(tables);
    if (issues.length > 0)
      throw new BpfBackendError('INVALID_TABLES', `invalid tables: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
    const plan = planUpdate(this.state, tables, this.abiValue);
    plan.writes.forEach((write, index) => {
      this.apply(write);
      options.onWrite?.(write, index);
    });
    const flip = plan.writes.find((w) => w.kind === 'flip');
    if (flip?.kind === 'flip') this.state = { tables, slot: flip.slot, seq: flip.seq, abi: flip.abi, staleInactive: [] };
    return { mode: plan.mode, writes: plan.writes.length, slot: this.state.slot, seq: this.state.seq };
  }

  private apply(write: MapWrite): void {
    const fds = this.mapFds;
    try {
      switch (write.kind) {
        case 'slot':
          this.addon.mapUpdate(fds.thp_slots, u32Key(write.slot), encodeSlot(write.tables), BPF_ANY);
          return;
        case 'slot-clear':
          this.addon.mapUpdate(fds.thp_slots, u32Key(write.slot), Buffer.alloc(LAYOUT.thp_slot.size), BPF_ANY);
          return;
        case 'cgroups':
          for (let i = 0; i < write.entries.length; i += BATCH) {
            const chunk = write.entries.slice(i, i + BATCH);
            const { keys, values } = encodeCgroupBatch(chunk, write.slot);
            this.addon.mapUpdateBatch(fds.thp_cgroups, keys, values, chunk.length, BPF_ANY);
          }
          return;
        case 'cgroups-delete':
          for (let i = 0; i < write.ids.length; i += BATCH) this.deleteCgroups(write.ids.slice(i, i + BATCH), write.slot);
          return;
        case 'flip':
          this.addon.mapUpdate(
            fds.thp_active,
            u32Key(0),
            encodeActive({ slot: write.slot, layoutVersion: LAYOUT_VERSION, seq: write.seq, abi: write.abi }),
            BPF_ANY,
          );
          return;
        case 'rcu-sync': {
          // A map-in-map update returns after synchronize_rcu(): hook invocations that
          // started before the flip are done once this returns.
          const value = Buffer.alloc(4);
          value.writeUInt32LE(fds.thp_rcu_token, 0);
          this.addon.mapUpdate(fds.thp_rcu_sync, u32Key(0), value, BPF_ANY);
          return;
        }
      }
    } catch (error) {
      throw kernelError(`map write ${write.kind}${'slot' in write ? ` (slot ${write.slot})` : ''}`, error);
    }
  }

  private deleteCgroups(ids: readonly number[], slot: number): void {
    const { keys } = encodeCgroupBatch(
      ids.map((id) => [id, 0] as const),
      slot,
    );
    try {
      this.addon.mapDeleteBatch(this.mapFds.thp_cgroups, keys, ids.length);
    } catch (error) {
      // The batch stops at the first absent key (ENOENT); finish one by one, absent is fine.
      if ((error as { errno?: unknown }).errno !== 2) throw error;
      const size = LAYOUT.thp_cgroup_key.size;
      for (let i = 0; i < ids.length; i++) this.addon.mapDelete(this.mapFds.thp_cgroups, keys.subarray(i * size, (i + 1) * size));
    }
  }

  /** Writes the pressure cell the hook reads (memory PSI some avg10, hundredths of a percent). */
  setPressure(someAvg10: number): void {
    this.ensureOpen();
    if (!Number.isInteger(someAvg10) || someAvg10 < 0 || someAvg10 > 0xffffffff)
      throw new BpfBackendError('INVALID_INPUT', `pressure must be an integer in 0..4294967295 (hundredths of a percent), got ${someAvg10}`);
    try {
      this.addon.mapUpdate(this.mapFds.thp_pressure, u32Key(0), encodePressure(someAvg10, process.hrtime.bigint()), BPF_ANY);
    } catch (error) {
      throw kernelError('writing thp_pressure', error);
    }
  }

  // ------------------------------------------------------------ deciding through the kernel

  private run(): { decision: Decision; hookReturn: number; attempts: number } {
    let retval;
    try {
      retval = this.addon.progTestRun(this.decideFd, this.ctx);
    } catch (error) {
      throw kernelError('BPF_PROG_TEST_RUN of thp_decide_ctx', error);
    }
    if (retval !== 0) throw new BpfBackendError('INVALID_INPUT', `thp_decide_ctx rejected the context (returned ${retval}: unknown ABI)`);
    const f = LAYOUT.thp_decide_ctx.fields;
    return {
      decision: this.ctxOut[f.out_decision / 4] ?? 0,
      hookReturn: this.ctxOut[f.out_return / 4] ?? 0,
      attempts: this.ctxWords[f.out_attempts / 4] ?? 0,
    };
  }

  /** The kernel program's decision for `input`, and the hook's return value under `abi`. */
  decide(input: HookInput, abi: HookAbi = this.abiValue): KernelDecision {
    this.ensureOpen();
    if (!inputIsValid(input)) {
      const issues = validateInput(input);
      throw new BpfBackendError('INVALID_INPUT', `invalid hook input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
    }
    encodeContextWords(this.ctxWords, input, abi);
    return this.run();
  }

  /**
   * The decision for the calling task's own cgroup: the program resolves the chain from
   * the current task's cgroup (the hook's walk) and returns it with the decision.
   */
  decideForCurrentTask(input: Omit<HookInput, 'cgroupChain'>, abi: HookAbi = this.abiValue): KernelDecision & { readonly chain: readonly number[] } {
    this.ensureOpen();
    const full: HookInput = { ...input, cgroupChain: [] };
    const issues = validateInput(full);
    if (issues.length > 0)
      throw new BpfBackendError('INVALID_INPUT', `invalid hook input: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
    encodeContextWords(this.ctxWords, full, abi, CTX_CURRENT_TASK);
    const result = this.run();
    return { ...result, chain: decodeContextChain(this.ctx) };
  }

  // ------------------------------------------------------------ the hook

  private hookAbsent(action: string): BpfBackendError {
    return new BpfBackendError(
      'HOOK_ABSENT',
      `${this.kernelHook.detail}: cannot ${action} the THP hook on this kernel (policy maps and decide() still work)`,
    );
  }

  private get hookLinkPin(): string {
    return join(this.pinRoot, PINS.hookLink);
  }

  /**
   * Attaches the struct_ops program of this policy's ABI (global instance; v12 pid 0) and
   * pins the link, or, when a link is already pinned, swaps its program atomically
   * (bpf_link__update_map). Refused before any syscall where the kernel has no hook.
   */
  attach(): { readonly linkId: number; readonly replaced: boolean } {
    if (this.kernelHook.hook === 'absent') throw this.hookAbsent('attach');
    this.ensureOpen();
    if (this.kernelHook.hook !== this.abiValue)
      throw new BpfBackendError('ABI_MISMATCH', `kernel hook is ${this.kernelHook.hook} (${this.kernelHook.detail}); the tables were loaded for ${this.abiValue}`);
    const path = requireObject(this.abiValue, this.objectDir);
    const obj = loadObject(this.addon, path, this.pinRoot, (o) => o.setMapFlags(STRUCT_OPS_MAP, BPF_F_LINK));
    try {
      const replaced = existsSync(this.hookLinkPin);
      if (replaced) {
        obj.updateStructOpsLink(this.hookLinkPin, STRUCT_OPS_MAP);
      } else {
        const linkFd = obj.attachStructOps(STRUCT_OPS_MAP);
        try {
          this.addon.objPin(linkFd, this.hookLinkPin);
        } finally {
          this.addon.closeFd(linkFd);
        }
      }
      return { linkId: this.hookLinkInfo()?.id ?? 0, replaced };
    } catch (error) {
      throw kernelError(`attaching ${STRUCT_OPS_MAP} from ${path}`, error);
    } finally {
      obj.close();
    }
  }

  /** Detaches the hook and removes its link pin. Refused where the kernel has no hook. */
  detach(): boolean {
    if (this.kernelHook.hook === 'absent') throw this.hookAbsent('detach');
    this.ensureOpen();
    if (!existsSync(this.hookLinkPin)) return false;
    try {
      const fd = this.addon.objGet(this.hookLinkPin);
      try {
        this.addon.linkDetach(fd);
      } finally {
        this.addon.closeFd(fd);
      }
    } catch (error) {
      throw kernelError('detaching the THP hook', error);
    }
    rmSync(this.hookLinkPin, { force: true });
    return true;
  }

  private hookLinkInfo(): { id: number; structOpsMapId: number } | null {
    if (!existsSync(this.hookLinkPin)) return null;
    const fd = this.addon.objGet(this.hookLinkPin);
    try {
      const info = this.addon.linkInfo(fd);
      return { id: info.id, structOpsMapId: info.structOpsMapId };
    } finally {
      this.addon.closeFd(fd);
    }
  }

  // ------------------------------------------------------------ the cgroup probe

  /**
   * Attaches the probe (tp_btf/mmap_lock_acquire_returned): for every mm taking its mmap
   * lock it resolves the owner's cgroup chain as the hook would and records, per leaf
   * cgroup, the chain and the policy's answer for a PMD page fault. Works without the hook.
   */
  attachProbe(): void {
    this.ensureOpen();
    const pin = join(this.pinRoot, PINS.probeLink);
    if (existsSync(pin)) return;
    const path = requireObject('probe', this.objectDir);
    const obj = loadObject(this.addon, path, this.pinRoot);
    try {
      const fd = obj.attachProgram(PROBE_PROGRAM);
      try {
        this.addon.objPin(fd, pin);
      } finally {
        this.addon.closeFd(fd);
      }
    } catch (error) {
      throw kernelError(`attaching ${PROBE_PROGRAM}`, error);
    } finally {
      obj.close();
    }
  }

  /** Stops the probe: its link lives only in the pin, so removing the pin releases it. */
  detachProbe(): boolean {
    this.ensureOpen();
    const pin = join(this.pinRoot, PINS.probeLink);
    if (!existsSync(pin)) return false;
    rmSync(pin, { force: true });
    return true;
  }

  /** What the probe recorded, by leaf cgroup id. Empty when the probe never ran. */
  probeEntries(): Map<number, ProbeEntry> {
    this.ensureOpen();
    const out = new Map<number, ProbeEntry>();
    const pin = join(this.pinRoot, PINS.probeMap);
    if (this.probeMapFd === null) {
      if (!existsSync(pin)) return out;
      this.probeMapFd = this.addon.objGet(pin);
    }
    const fd = this.probeMapFd;
    const key = Buffer.alloc(8);
    const value = Buffer.alloc(LAYOUT.thp_probe_entry.size);
    let previous: Buffer | null = null;
    try {
      while (this.addon.mapGetNextKey(fd, previous, key)) {
        if (this.addon.mapLookup(fd, key, value)) out.set(key.readUInt32LE(0) + key.readUInt32LE(4) * 0x1_0000_0000, decodeProbeEntry(value));
        previous = Buffer.from(key);
      }
    } catch (error) {
      throw kernelError(`reading ${PINS.probeMap}`, error);
    }
    return out;
  }

  // ------------------------------------------------------------ statistics

  stats(): KernelStats {
    this.ensureOpen();
    const programs: ProgramStats[] = [];
    const progStats = (fd: number): ProgramStats => {
      const info = this.addon.progInfo(fd);
      const runCnt = Number(info.runCnt);
      const runTimeNs = Number(info.runTimeNs);
      return { name: info.name, id: info.id, runCnt, runTimeNs, avgNs: runCnt > 0 ? runTimeNs / runCnt : null, verifiedInsns: info.verifiedInsns };
    };
    let link: { id: number; structOpsMapId: number } | null;
    try {
      programs.push(progStats(this.decideFd));
      link = this.kernelHook.hook === 'absent' ? null : this.hookLinkInfo();
    } catch (error) {
      throw kernelError('reading program info', error);
    }
    const maps: Record<string, number> = {};
    for (const name of POLICY_MAPS) maps[name] = this.addon.mapInfo(this.mapFds[name]).id;

    const state = this.readState();
    const cpus = this.addon.numPossibleCpus();
    const perCpu = Buffer.alloc(8 * cpus);
    const counter = (index: number): number => {
      this.addon.mapLookup(this.mapFds.thp_counters, u32Key(index), perCpu);
      let sum = 0;
      for (let cpu = 0; cpu < cpus; cpu++) sum += Number(perCpu.readBigUInt64LE(cpu * 8));
      return sum;
    };
    return {
      pinRoot: this.pinRoot,
      abi: this.abiValue,
      hook: { kernel: this.kernelHook.hook, attached: link !== null, linkId: link?.id ?? null, structOpsMapId: link?.structOpsMapId ?? null },
      programs,
      maps,
      activeSlot: state.slot,
      seq: state.seq,
      generation: state.tables.generation,
      rules: state.tables.rules.length,
      cgroupEntries: state.tables.cgroupRules.size,
      contentHash: tablesContentHash(state.tables),
      counters: {
        calls: counter(COUNTER.calls),
        deny: counter(COUNTER.deny),
        unchanged: counter(COUNTER.unchanged),
        noCgroup: counter(COUNTER.noCgroup),
        retry: counter(COUNTER.retry),
        orders: Array.from({ length: COUNTER.deny - COUNTER.orderBase }, (_, k) => counter(COUNTER.orderBase + k)),
      },
    };
  }

  // ------------------------------------------------------------ lifetime

  /** Closes this handle's fds. Pinned state (and an attached hook) stays in the kernel. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [...Object.values(this.mapFds), this.decideFd, ...(this.probeMapFd === null ? [] : [this.probeMapFd])]) {
      try {
        this.addon.closeFd(fd);
      } catch {
        // already closed: nothing left to release
      }
    }
  }

  /**
   * Removes every pin of this policy (maps, program, hook and probe links) and closes the
   * handle. Removing a link pin releases the link: the hook and probe stop.
   */
  unpin(): void {
    this.close();
    const names = [...POLICY_MAPS, PINS.decideProgram, PINS.hookLink, PINS.probeLink, PINS.probeMap];
    for (const name of names) rmSync(join(this.pinRoot, name), { force: true });
    if (existsSync(this.pinRoot) && readdirSync(this.pinRoot).length === 0) rmdirSync(this.pinRoot);
  }

  /** Detaches the hook and probe (where attached), then unpins and closes. */
  destroy(): void {
    if (!this.closed) {
      if (this.kernelHook.hook !== 'absent') this.detach();
      this.detachProbe();
    }
    this.unpin();
  }
}

function emptyTables(): KernelTables {
  return { generation: 0, defaultAction: 0, defaultOrders: 0, rules: [], cgroupRules: new Map() };
}

/** KernelPolicy.load: load the objects, pin, write `tables` for `abi`. */
export function load(tables: KernelTables, abi: HookAbi, options: KernelPolicyOptions = {}): KernelPolicy {
  return KernelPolicy.load(tables, abi, options);
}

/** KernelPolicy.open: re-open a loaded policy from its pins. */
export function open(options: KernelPolicyOptions = {}): KernelPolicy {
  return KernelPolicy.open(options);
}
