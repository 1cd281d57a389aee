/**
 * The safe enable / switch / rollback sequence for the node's THP mode (issue 9), after the
 * kernel proposal's production recipe (kernel-interface.md 3.7): THP off, program attached
 * deny-all and verified, policy loaded and verified, and only then the sysfs mode switched on;
 * on removal, sysfs back to the recorded previous values first, then the program detached and
 * unpinned. Every completed step is persisted in the journal (journal.ts) before the next one
 * starts, and every step is idempotent, so a crash between any two steps leaves the node safe
 * and `resume()` finishes the sequence. docs/node-mode.md has the crash table.
 *
 * Safety invariant (checked by the property test): while the journal exists, a THP size is
 * allowed (`always`/`madvise`, directly or by `inherit`) only if a verified deny-all program or
 * a verified policy enforces, or node-level-only was chosen, or the size has exactly the mode
 * it had before thp-fleet touched the node (thp-fleet never turns THP on unenforced).
 */
import { readFile } from 'node:fs/promises';
import type { EnforcementPort, PortOp } from './enforcement-port.js';
import {
  APPLY_STEPS,
  REMOVE_STEPS,
  readJournal,
  removeJournal,
  writeJournal,
  JOURNAL_FORMAT,
  type AppliedRecord,
  type ApplyPath,
  type ApplyStep,
  type Enforcement,
  type Journal,
  type NodeModeError,
  type NodeModeTarget,
  type Operation,
  type RemoveStep,
} from './journal.js';
import { orderedWrites, planNodeValues, thpOffWrites, type ControlPath, type NodeSettings, type SysfsValues } from './settings.js';
import { controlValues, type NodeSysfs, type ThpSysfsSnapshot } from './sysfs.js';

/** Observation / fault-injection point, reported after each action and each journal write. */
export type SequencePoint =
  | { readonly kind: 'sysfs-write'; readonly path: ControlPath; readonly value: string }
  | { readonly kind: 'port'; readonly op: PortOp }
  | { readonly kind: 'journal'; readonly operation: 'apply' | 'remove' | 'none'; readonly step: string };

export interface NodeModeSequencerOptions {
  /** The agent's state directory; the journal is `<stateDir>/node-mode.journal.json`. */
  readonly stateDir: string;
  readonly sysfs: NodeSysfs;
  readonly port: EnforcementPort;
  /** Identifies the running boot; default reads /proc/sys/kernel/random/boot_id. */
  readonly bootId?: () => Promise<string>;
  /**
   * Called after every sysfs write, port call and journal write. For tests and tracing: an
   * exception thrown here propagates at once with no clean-up, exactly like a crash.
   */
  readonly onPoint?: (point: SequencePoint) => void | Promise<void>;
  /** Base page size for the max_ptes_none bound (default 4096, see settings.ts). */
  readonly pageSizeBytes?: number;
  readonly now?: () => Date;
}

export type Recovery =
  /** Nothing was changed (validation, incompatibility). */
  | 'unchanged'
  /** The new policy failed; the previous one is enforced again. */
  | 'reverted-to-previous'
  /** The policy failed and there was no previous one to go back to (or that failed too): node back to its own values. */
  | 'rolled-back-to-baseline'
  /** A recovery step failed too; the node is in a safe intermediate state and the journal says what is left. */
  | 'incomplete';

export interface NodeModeStatus {
  readonly enforcement: Enforcement;
  readonly applied: AppliedRecord | null;
  /** The node's own values, recorded before the first change; null when thp-fleet manages nothing. */
  readonly baseline: SysfsValues | null;
  /** An unfinished sequence (after a crash, or a recovery that failed). */
  readonly pending: Operation | null;
}

export type NodeModeOutcome =
  | { readonly ok: true; readonly changed: boolean; readonly rebooted: boolean; readonly status: NodeModeStatus }
  | {
      readonly ok: false;
      readonly error: NodeModeError;
      readonly recovery: Recovery;
      readonly rebooted: boolean;
      readonly status: NodeModeStatus;
    };

export interface DriftEntry {
  readonly path: string;
  readonly expected: string;
  readonly actual: string | undefined;
}

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

async function readBootId(): Promise<string> {
  return (await readFile(BOOT_ID_FILE, 'utf8')).trim();
}

/** A step's action failed (kernel refused, verification mismatch). Crashes are not StepFailures. */
class StepFailure extends Error {
  constructor(
    readonly step: ApplyStep | RemoveStep,
    readonly action: string,
    override readonly cause: unknown,
  ) {
    super(`${action} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StepFailure';
  }
}

function stageOf(cause: unknown): NodeModeError['stage'] | undefined {
  const stage = (cause as { stage?: unknown } | null)?.stage;
  return stage === 'validate' || stage === 'compile' || stage === 'attach' || stage === 'verify' || stage === 'other' ? stage : undefined;
}

function describe(cause: unknown): string {
  return cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
}

function classify(f: StepFailure, target: NodeModeTarget | null): NodeModeError {
  const who = target === null ? 'node-mode removal' : `policy "${target.policy}" v${target.version}`;
  const message = `${who}: ${f.message}`;
  const detail = `step ${f.step}: ${describe(f.cause)}`;
  switch (f.step) {
    case 'begun':
    case 'thp-off':
    case 'node-written':
    case 'sysfs-restored':
      return { code: 'sysfs-failed', stage: stageOf(f.cause) ?? 'other', message, detail };
    case 'deny-all-loaded':
    case 'policy-loaded':
    case 'detached':
      return { code: 'enforcement-failed', stage: stageOf(f.cause) ?? 'attach', message, detail };
    case 'deny-all-verified':
    case 'policy-verified':
      return { code: 'enforcement-failed', stage: stageOf(f.cause) ?? 'verify', message, detail };
  }
}

/** Key-order-independent JSON, to compare node sections. */
function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Same tables and same node section: applying one over the other changes nothing on the node. */
function sameSpec(a: NodeModeTarget, b: NodeModeTarget): boolean {
  return a.specHash === b.specHash && a.spec === b.spec && stableJson(a.node ?? null) === stableJson(b.node ?? null);
}

function sameTarget(a: NodeModeTarget, b: NodeModeTarget): boolean {
  return a.policy === b.policy && a.version === b.version && sameSpec(a, b);
}

/** A plain copy of a target for the journal (no undefined fields, no foreign prototypes). */
function targetRecord(t: NodeModeTarget): NodeModeTarget {
  const base = { policy: t.policy, version: t.version, specHash: t.specHash, spec: t.spec };
  return t.node === undefined ? base : { ...base, node: JSON.parse(JSON.stringify(t.node)) as NodeSettings };
}

type JournalBody = Pick<Journal, 'baseline' | 'applied' | 'operation'>;

export class NodeModeSequencer {
  private journal: Journal | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private rebootSeen = false;

  private constructor(
    private readonly opts: NodeModeSequencerOptions,
    private readonly bootId: string,
  ) {}

  /** Read the journal (if any) and the boot id. Does not change the node: call `resume()` for that. */
  static async open(opts: NodeModeSequencerOptions): Promise<NodeModeSequencer> {
    const bootId = await (opts.bootId ?? readBootId)();
    const seq = new NodeModeSequencer(opts, bootId);
    seq.journal = await readJournal(opts.stateDir);
    if (seq.journal !== null && seq.journal.sysfsRoot !== opts.sysfs.root) {
      throw new Error(
        `node-mode journal in ${opts.stateDir} manages the THP tree at ${seq.journal.sysfsRoot}, but the agent is configured for ${opts.sysfs.root}`,
      );
    }
    return seq;
  }

  /** What the node enforces according to the journal. */
  status(): NodeModeStatus {
    const j = this.journal;
    return {
      enforcement: j?.applied?.enforcement ?? 'none',
      applied: j?.applied ?? null,
      baseline: j?.baseline ?? null,
      pending: j?.operation ?? null,
    };
  }

  /** On start: finish (or safely roll back) a sequence a crash interrupted; discard a journal from an earlier boot. */
  resume(): Promise<NodeModeOutcome> {
    return this.serialize(async () => {
      await this.load();
      return this.finishPending();
    });
  }

  /**
   * Enforce `target` on this node: the fresh, switch or node-level path (see journal.ts). A
   * target equal to the applied one changes nothing; one with the same spec under another name
   * or version only relabels the record. Failures come back as `ok: false` with
   * what was done to recover; validation and incompatibility change nothing at all.
   */
  apply(target: NodeModeTarget): Promise<NodeModeOutcome> {
    return this.serialize(async () => {
      await this.load();
      const pending = await this.finishPending();
      if (!pending.ok && pending.recovery === 'incomplete') return pending;
      const out = await this.startApply(target);
      // Finishing an interrupted sequence counts as a change even if the target then needs none.
      return out.ok && !out.changed && pending.ok && pending.changed ? { ...out, changed: true } : out;
    });
  }

  /** Stop enforcing and put every control back to its recorded value, then detach and unpin. */
  remove(): Promise<NodeModeOutcome> {
    return this.serialize(async () => {
      await this.load();
      const pending = await this.finishPending();
      if (!pending.ok && pending.recovery === 'incomplete') return pending;
      if (this.journal === null) return this.outcomeOk(pending.ok && pending.changed);
      return this.runRemove(await this.beginRemove(undefined));
    });
  }

  /** Controls whose live value differs from what the applied policy set (empty when nothing is applied). */
  async drift(): Promise<DriftEntry[]> {
    const applied = this.journal?.applied;
    if (applied === undefined || applied === null || this.journal?.operation !== null) return [];
    const live = controlValues(await this.opts.sysfs.readSnapshot());
    return Object.entries(applied.values)
      .filter(([path, expected]) => live[path] !== expected)
      .map(([path, expected]) => ({ path, expected, actual: live[path] }));
  }

  // ---- internals ----------------------------------------------------------------------------

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The journal on disk is the truth: reload it before each operation; forget one from another boot. */
  private async load(): Promise<void> {
    this.rebootSeen = false;
    this.journal = await readJournal(this.opts.stateDir);
    if (this.journal !== null && this.journal.bootId !== this.bootId) {
      // sysfs is back at its boot values and bpffs pins did not survive the reboot: nothing of
      // what the journal describes exists any more. Detach anyway in case a backend keeps pins
      // elsewhere (idempotent), then start unmanaged; the reconcile loop applies again.
      if (this.opts.port.hookPresent) await this.opts.port.detachAndUnpin();
      await removeJournal(this.opts.stateDir);
      await this.point({ kind: 'journal', operation: 'none', step: 'discarded-after-reboot' });
      this.journal = null;
      this.rebootSeen = true;
    }
  }

  private flags(): { rebooted: boolean; status: NodeModeStatus } {
    return { rebooted: this.rebootSeen, status: this.status() };
  }

  private outcomeOk(changed: boolean): NodeModeOutcome {
    return { ok: true, changed, ...this.flags() };
  }

  private outcomeErr(error: NodeModeError, recovery: Recovery): NodeModeOutcome {
    return { ok: false, error, recovery, ...this.flags() };
  }

  private async point(p: SequencePoint): Promise<void> {
    await this.opts.onPoint?.(p);
  }

  private async persist(body: JournalBody): Promise<void> {
    const next: Journal = {
      format: JOURNAL_FORMAT,
      seq: (this.journal?.seq ?? 0) + 1,
      bootId: this.bootId,
      sysfsRoot: this.opts.sysfs.root,
      baseline: body.baseline,
      applied: body.applied,
      operation: body.operation,
      updatedAt: (this.opts.now?.() ?? new Date()).toISOString(),
    };
    await writeJournal(this.opts.stateDir, next);
    this.journal = next;
    const op = body.operation;
    await this.point({ kind: 'journal', operation: op?.kind ?? 'none', step: op?.done ?? 'committed' });
  }

  private async finishPending(): Promise<NodeModeOutcome> {
    const op = this.journal?.operation;
    if (op === undefined || op === null) return this.outcomeOk(false);
    return op.kind === 'apply' ? this.runApply(op) : this.runRemove(op);
  }

  private async startApply(target: NodeModeTarget): Promise<NodeModeOutcome> {
    const applied = this.journal?.applied ?? null;
    if (applied !== null && sameTarget(applied.target, target)) return this.outcomeOk(false);
    if (applied !== null && this.journal !== null && sameSpec(applied.target, target)) {
      // A new name or version of an identical spec (a no-op rollout step): the node keeps what
      // it enforces, THP is not switched off and on again; only the record is relabelled.
      await this.persist({ baseline: this.journal.baseline, applied: { ...applied, target: targetRecord(target) }, operation: null });
      return this.outcomeOk(false);
    }
    const port = this.opts.port;
    if (!port.hookPresent && target.node?.withoutHook !== 'node-level') {
      return this.outcomeErr(
        {
          code: 'incompatible',
          stage: 'attach',
          message: `policy "${target.policy}" v${target.version} needs the bpf_thp_ops hook, which this kernel does not have; set spec.node.withoutHook: node-level to apply only its node section here`,
          detail: 'hook absent; spec.node.withoutHook is deny (the default); nothing was changed',
        },
        'unchanged',
      );
    }
    let snapshot: ThpSysfsSnapshot;
    try {
      snapshot = await this.opts.sysfs.readSnapshot();
    } catch (err) {
      return this.outcomeErr(
        { code: 'sysfs-failed', stage: 'other', message: `cannot read the THP sysfs tree: ${(err as Error).message}`, detail: describe(err) },
        'unchanged',
      );
    }
    const baseline = this.journal?.baseline ?? controlValues(snapshot);
    const plan = planNodeValues(target.node, snapshot, baseline, this.opts.pageSizeBytes);
    if (!plan.ok) {
      return this.outcomeErr(
        {
          code: 'invalid-settings',
          stage: 'validate',
          message: `policy "${target.policy}" v${target.version}: the node section does not fit this node (${plan.issues.length} problem${plan.issues.length === 1 ? '' : 's'})`,
          detail: plan.issues.map((i) => `${i.path}: ${i.message}`).join('\n'),
        },
        'unchanged',
      );
    }
    const path: ApplyPath = !port.hookPresent ? 'node-level' : applied?.enforcement === 'full' ? 'switch' : 'fresh';
    const op: Operation = { kind: 'apply', path, target: targetRecord(target), values: plan.values, done: 'begun' };
    // Recording the baseline happens here, once: a later policy keeps the first record.
    await this.persist({ baseline, applied, operation: op });
    return this.runApply(op);
  }

  private async act(step: ApplyStep | RemoveStep, action: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      throw new StepFailure(step, action, err);
    }
  }

  private async portStep(step: ApplyStep | RemoveStep, op: PortOp, fn: (port: EnforcementPort) => Promise<void>): Promise<void> {
    await this.act(step, op, () => fn(this.opts.port));
    await this.point({ kind: 'port', op });
  }

  /** Write `writes` one by one, reporting each. */
  private async writeAll(step: ApplyStep | RemoveStep, compute: (live: SysfsValues) => { path: ControlPath; value: string }[]): Promise<void> {
    let writes: { path: ControlPath; value: string }[] = [];
    await this.act(step, 'read THP sysfs', async () => {
      writes = compute(controlValues(await this.opts.sysfs.readSnapshot()));
    });
    for (const w of writes) {
      await this.act(step, `write ${w.value} to ${w.path}`, () => this.opts.sysfs.write(w.path, w.value));
      await this.point({ kind: 'sysfs-write', path: w.path, value: w.value });
    }
  }

  private async doApplyStep(step: ApplyStep, op: Extract<Operation, { kind: 'apply' }>): Promise<void> {
    switch (step) {
      case 'begun':
        return;
      case 'thp-off':
        return this.writeAll(step, thpOffWrites);
      case 'deny-all-loaded':
        return this.portStep(step, 'loadDenyAll', (p) => p.loadDenyAll());
      case 'deny-all-verified':
        return this.portStep(step, 'verifyDenyAll', (p) => p.verifyDenyAll());
      case 'policy-loaded':
        return this.portStep(step, 'applyPolicy', (p) => p.applyPolicy(op.target));
      case 'policy-verified':
        return this.portStep(step, 'verifyPolicy', (p) => p.verifyPolicy(op.target));
      case 'node-written':
        return this.writeAll(step, (live) => orderedWrites(live, op.values));
    }
  }

  private async runApply(op: Extract<Operation, { kind: 'apply' }>): Promise<NodeModeOutcome> {
    const j = this.journal;
    if (j === null) throw new Error('internal: apply without a journal');
    const steps = APPLY_STEPS[op.path];
    let current = op;
    for (const step of steps.slice(steps.indexOf(op.done) + 1)) {
      try {
        await this.doApplyStep(step, current);
      } catch (err) {
        if (err instanceof StepFailure) return this.applyFailed(current, err);
        throw err;
      }
      current = { ...current, done: step };
      await this.persist({ baseline: j.baseline, applied: j.applied, operation: current });
    }
    const enforcement = op.path === 'node-level' ? 'node-level-only' : 'full';
    await this.persist({ baseline: j.baseline, applied: { target: op.target, enforcement, values: op.values }, operation: null });
    if (op.revertOf !== undefined) return this.outcomeErr(op.revertOf.error, 'reverted-to-previous');
    return this.outcomeOk(true);
  }

  /**
   * After a failed step: a failed switch goes back to the previous policy (the program is still
   * attached, THP is off); a failed fresh apply, or a failed revert, removes everything.
   */
  private async applyFailed(op: Extract<Operation, { kind: 'apply' }>, failure: StepFailure): Promise<NodeModeOutcome> {
    const j = this.journal;
    if (j === null) throw new Error('internal: failure without a journal');
    const error = classify(failure, op.target);
    const previous = j.applied;
    if (op.revertOf === undefined && op.path !== 'fresh' && previous !== null) {
      const revert: Operation = {
        kind: 'apply',
        path: previous.enforcement === 'full' ? 'switch' : 'node-level',
        target: previous.target,
        values: previous.values,
        done: 'begun',
        revertOf: { policy: op.target.policy, version: op.target.version, error },
      };
      await this.persist({ baseline: j.baseline, applied: previous, operation: revert });
      return this.runApply(revert);
    }
    const cause: NodeModeError =
      op.revertOf === undefined
        ? error
        : { ...op.revertOf.error, detail: `${op.revertOf.error.detail}\nputting back policy "${op.target.policy}" v${op.target.version} failed too: ${error.message}\n${error.detail}` };
    return this.runRemove(await this.beginRemove(cause));
  }

  private async beginRemove(cause: NodeModeError | undefined): Promise<Extract<Operation, { kind: 'remove' }>> {
    const j = this.journal;
    if (j === null) throw new Error('internal: remove without a journal');
    const op: Extract<Operation, { kind: 'remove' }> = cause === undefined ? { kind: 'remove', done: 'begun' } : { kind: 'remove', done: 'begun', cause };
    await this.persist({ baseline: j.baseline, applied: j.applied, operation: op });
    return op;
  }

  private async doRemoveStep(step: RemoveStep, baseline: SysfsValues): Promise<void> {
    switch (step) {
      case 'begun':
        return;
      case 'sysfs-restored':
        // Every recorded control back to its exact previous value while the program still enforces.
        return this.writeAll(step, (live) => orderedWrites(live, baseline));
      case 'detached':
        if (!this.opts.port.hookPresent) return;
        return this.portStep(step, 'detachAndUnpin', (p) => p.detachAndUnpin());
    }
  }

  private async runRemove(op: Extract<Operation, { kind: 'remove' }>): Promise<NodeModeOutcome> {
    const j = this.journal;
    if (j === null) throw new Error('internal: remove without a journal');
    let current = op;
    for (const step of REMOVE_STEPS.slice(REMOVE_STEPS.indexOf(op.done) + 1)) {
      try {
        await this.doRemoveStep(step, j.baseline);
      } catch (err) {
        if (!(err instanceof StepFailure)) throw err;
        const failure = classify(err, null);
        const error: NodeModeError =
          op.cause === undefined ? failure : { ...op.cause, detail: `${op.cause.detail}\nrolling back failed too: ${failure.message}\n${failure.detail}` };
        return this.outcomeErr(error, 'incomplete');
      }
      current = { ...current, done: step };
      await this.persist({ baseline: j.baseline, applied: j.applied, operation: current });
    }
    await removeJournal(this.opts.stateDir);
    this.journal = null;
    await this.point({ kind: 'journal', operation: 'none', step: 'cleared' });
    return op.cause === undefined ? this.outcomeOk(true) : this.outcomeErr(op.cause, 'rolled-back-to-baseline');
  }
}
