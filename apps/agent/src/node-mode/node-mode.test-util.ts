/**
 * Test support for the node-mode sequence: a model of the kernel side of enforcement (the
 * `bpf_thp_ops` hook does not exist on this machine's kernel, so it cannot run here) and the
 * safety invariant.
 *
 * `ModelHook` keeps its state in a JSON file, like pinned BPF objects outlive the agent: a
 * "crashed" sequencer's successor (or another process) sees exactly what was left behind.
 * Multi-part operations are modelled in two phases with a crash point between them: loading
 * tables first tears them (half-written maps), detaching unlinks before unpinning.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnforcementPort, PortOp } from './enforcement-port.js';
import { createImitationThpTree, readTreeFiles, type ImitationTreeOptions } from './imitation-tree.js';
import { readJournal, type NodeModeTarget, type PolicyRef } from './journal.js';
import { NodeModeSequencer, type SequencePoint } from './sequencer.js';
import { effectiveSizeModes, type NodeSettings, type SysfsValues } from './settings.js';
import { ThpSysfsTree, controlValues, type NodeSysfs } from './sysfs.js';

/** Thrown to imitate the agent dying at that point: the sequencer must not clean anything up. */
export class SimulatedCrash extends Error {
  constructor(where: string) {
    super(`simulated crash ${where}`);
    this.name = 'SimulatedCrash';
  }
}

export type HookTables =
  | { readonly kind: 'deny-all' }
  | { readonly kind: 'policy'; readonly policy: string; readonly version: number; readonly specHash: string }
  | { readonly kind: 'torn' };

export interface HookState {
  /** The struct_ops link is attached: the program decides THP orders. */
  readonly attached: boolean;
  /** Pinned tables, null when nothing is pinned. */
  readonly tables: HookTables | null;
  /** A verify of exactly these tables succeeded and nothing changed them since. */
  readonly verified: boolean;
}

const EMPTY: HookState = { attached: false, tables: null, verified: false };

export function readHookState(file: string): HookState {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as HookState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY;
    throw err;
  }
}

/** A verified deny-all program or a verified policy is attached and its tables are whole. */
export function enforcingVerified(s: HookState): boolean {
  return s.attached && s.verified && s.tables !== null && s.tables.kind !== 'torn';
}

export interface ModelHookOptions {
  readonly hookPresent?: boolean;
  /**
   * Die in the middle of this call: the first phase is done, the second never happens, and
   * `crashPending` is set. The call then returns, and the test's onPoint (which the sequencer
   * calls right after the port call, before anything else) throws SimulatedCrash. A crash never
   * reaches the sequencer as an exception it could handle, just as a real one would not.
   */
  readonly crashInside?: (op: PortOp, callIndex: number) => boolean;
  /** Make this call fail with an ordinary error (kernel refusal, verifier, mismatch). */
  readonly failOn?: (op: PortOp, policy: PolicyRef | undefined) => string | Error | undefined;
}

export class ModelHook implements EnforcementPort {
  readonly hookPresent: boolean;
  readonly calls: { op: PortOp; policy?: string; failed?: true }[] = [];
  crashPending: string | undefined;

  constructor(
    private readonly file: string,
    private readonly options: ModelHookOptions = {},
  ) {
    this.hookPresent = options.hookPresent ?? true;
  }

  state(): HookState {
    return readHookState(this.file);
  }

  private save(s: HookState): void {
    writeFileSync(this.file, JSON.stringify(s));
  }

  private enter(op: PortOp, policy?: PolicyRef): void {
    this.calls.push(policy === undefined ? { op } : { op, policy: `${policy.policy}@${policy.version}` });
    if (!this.hookPresent) throw new Error(`${op}: this kernel has no bpf_thp_ops`);
    const failure = this.options.failOn?.(op, policy);
    if (failure !== undefined) {
      this.calls[this.calls.length - 1] = { ...this.calls[this.calls.length - 1]!, failed: true };
      throw typeof failure === 'string' ? new Error(failure) : failure;
    }
  }

  /** True when the call must stop here (crash in the middle). */
  private midway(op: PortOp): boolean {
    if (this.options.crashInside?.(op, this.calls.length - 1) !== true) return false;
    this.crashPending = `inside ${op}`;
    return true;
  }

  loadDenyAll(): Promise<void> {
    this.enter('loadDenyAll');
    const s = this.state();
    if (s.attached) {
      this.save({ attached: true, tables: { kind: 'torn' }, verified: false });
      if (this.midway('loadDenyAll')) return Promise.resolve();
      this.save({ attached: true, tables: { kind: 'deny-all' }, verified: false });
    } else {
      // Maps created empty and pinned, then the program attached.
      this.save({ attached: false, tables: { kind: 'deny-all' }, verified: false });
      if (this.midway('loadDenyAll')) return Promise.resolve();
      this.save({ attached: true, tables: { kind: 'deny-all' }, verified: false });
    }
    return Promise.resolve();
  }

  verifyDenyAll(): Promise<void> {
    this.enter('verifyDenyAll');
    const s = this.state();
    if (!s.attached || s.tables?.kind !== 'deny-all') {
      throw new Error(`expected the deny-all program attached, found ${JSON.stringify(s)}`);
    }
    this.save({ ...s, verified: true });
    return Promise.resolve();
  }

  applyPolicy(policy: PolicyRef): Promise<void> {
    this.enter('applyPolicy', policy);
    const s = this.state();
    if (!s.attached) throw new Error('applyPolicy: no program attached');
    this.save({ attached: true, tables: { kind: 'torn' }, verified: false });
    if (this.midway('applyPolicy')) return Promise.resolve();
    this.save({
      attached: true,
      tables: { kind: 'policy', policy: policy.policy, version: policy.version, specHash: policy.specHash },
      verified: false,
    });
    return Promise.resolve();
  }

  verifyPolicy(policy: PolicyRef): Promise<void> {
    this.enter('verifyPolicy', policy);
    const s = this.state();
    const t = s.tables;
    if (!s.attached || t?.kind !== 'policy' || t.specHash !== policy.specHash) {
      throw new Error(`expected policy ${policy.specHash} attached, found ${JSON.stringify(s)}`);
    }
    this.save({ ...s, verified: true });
    return Promise.resolve();
  }

  detachAndUnpin(): Promise<void> {
    this.enter('detachAndUnpin');
    const s = this.state();
    if (s.attached) {
      this.save({ ...s, attached: false, verified: false });
      if (this.midway('detachAndUnpin')) return Promise.resolve();
    }
    this.save(EMPTY);
    return Promise.resolve();
  }
}

/**
 * The safety invariant, checked against what is on disk and in the "kernel" right now. Returns
 * a description of the violation, or null.
 *
 * - No journal: the node is unmanaged, so every control holds its original value and nothing is attached.
 * - Journal, hook absent: node-level-only was chosen (or nothing runs); the hook was never used.
 * - Journal, hook present: a THP size may be on only if a verified program enforces, or the size
 *   is exactly as it was before thp-fleet touched the node (and likewise the top-level switch).
 */
export async function safetyViolation(args: {
  readonly sysfs: NodeSysfs;
  readonly stateDir: string;
  readonly hook: HookState;
  readonly hookPresent: boolean;
  readonly original: SysfsValues;
}): Promise<string | null> {
  const live = controlValues(await args.sysfs.readSnapshot());
  const journal = await readJournal(args.stateDir);
  if (journal === null) {
    const changed = Object.keys(args.original).filter((k) => live[k] !== args.original[k]);
    if (changed.length > 0) return `no journal but controls differ from the original: ${changed.join(', ')}`;
    if (args.hook.attached || args.hook.tables !== null) return `no journal but the hook holds ${JSON.stringify(args.hook)}`;
    return null;
  }
  if (JSON.stringify(journal.baseline) !== JSON.stringify(args.original)) {
    return `journal baseline ${JSON.stringify(journal.baseline)} is not the original ${JSON.stringify(args.original)}`;
  }
  if (!args.hookPresent) {
    return args.hook.attached || args.hook.tables !== null ? 'hook absent but something is attached' : null;
  }
  if (enforcingVerified(args.hook)) return null;
  const problems: string[] = [];
  const liveTop = live['enabled'] ?? 'never';
  if (liveTop !== 'never' && liveTop !== args.original['enabled']) problems.push(`enabled=${liveTop}`);
  const before = effectiveSizeModes(args.original);
  for (const [kb, mode] of effectiveSizeModes(live)) {
    if (mode !== 'never' && mode !== before.get(kb)) problems.push(`${kb}kB effectively ${mode} (was ${before.get(kb)})`);
  }
  return problems.length === 0
    ? null
    : `THP on without verified enforcement (hook ${JSON.stringify(args.hook)}): ${problems.join(', ')}`;
}

// ---- a test node: imitation tree + state dir + modelled hook, all in one temp dir ----------

export interface TestNode {
  readonly dir: string;
  readonly root: string;
  readonly stateDir: string;
  readonly hookFile: string;
  /** Control values and every file's bytes before anything ran. */
  readonly original: SysfsValues;
  readonly originalFiles: Map<string, string>;
  open(o?: {
    readonly hook?: ModelHookOptions;
    readonly onPoint?: (p: SequencePoint) => void | Promise<void>;
    readonly bootId?: string;
  }): Promise<{ seq: NodeModeSequencer; hook: ModelHook; sysfs: ThpSysfsTree }>;
  hookState(): HookState;
  files(): Promise<Map<string, string>>;
  values(): Promise<SysfsValues>;
  violation(hookPresent: boolean): Promise<string | null>;
  cleanup(): Promise<void>;
}

export const TEST_BOOT_ID = 'boot-0000';

export async function makeTestNode(tree: ImitationTreeOptions = {}, base: string = tmpdir()): Promise<TestNode> {
  const dir = await mkdtemp(join(base, 'thp-node-'));
  const root = await createImitationThpTree(join(dir, 'transparent_hugepage'), tree);
  const stateDir = join(dir, 'state');
  const hookFile = join(dir, 'hook.json');
  const sysfs = await ThpSysfsTree.open({ root });
  const original = controlValues(await sysfs.readSnapshot());
  const originalFiles = await readTreeFiles(root);
  return {
    dir,
    root,
    stateDir,
    hookFile,
    original,
    originalFiles,
    async open(o = {}) {
      const hook = new ModelHook(hookFile, o.hook);
      const seq = await NodeModeSequencer.open({
        stateDir,
        sysfs,
        port: hook,
        bootId: () => Promise.resolve(o.bootId ?? TEST_BOOT_ID),
        ...(o.onPoint === undefined ? {} : { onPoint: o.onPoint }),
      });
      return { seq, hook, sysfs };
    },
    hookState: () => readHookState(hookFile),
    files: () => readTreeFiles(root),
    values: async () => controlValues(await sysfs.readSnapshot()),
    violation: (hookPresent) => safetyViolation({ sysfs, stateDir, hook: readHookState(hookFile), hookPresent, original }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A policy target whose spec is its own JSON and whose hash is that JSON's sha256. */
export function makeTarget(policy: string, version: number, node?: NodeSettings): NodeModeTarget {
  const spec = JSON.stringify({ policy, version, node: node ?? null });
  const specHash = createHash('sha256').update(spec).digest('hex');
  return node === undefined ? { policy, version, specHash, spec } : { policy, version, specHash, spec, node };
}

/** Baseline overlaid with a node section, computed independently of planNodeValues for assertions. */
export function expectedValues(original: SysfsValues, node: NodeSettings | undefined): Record<string, string> {
  const out: Record<string, string> = { ...original };
  if (node?.enabled !== undefined) out['enabled'] = node.enabled;
  if (node?.defrag !== undefined) out['defrag'] = node.defrag;
  if (node?.shmemEnabled !== undefined) out['shmem_enabled'] = node.shmemEnabled;
  for (const [size, mode] of Object.entries(node?.hugepages ?? {})) out[`hugepages-${size}/enabled`] = mode;
  if (node?.khugepaged?.maxPtesNone !== undefined) out['khugepaged/max_ptes_none'] = String(node.khugepaged.maxPtesNone);
  if (node?.khugepaged?.pagesToScan !== undefined) out['khugepaged/pages_to_scan'] = String(node.khugepaged.pagesToScan);
  return out;
}
