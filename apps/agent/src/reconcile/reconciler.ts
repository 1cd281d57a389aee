/**
 * The executor around `plan`: runs the planned steps against the backend, one desired state
 * at a time (single-flight: a desired state that arrives while one is being applied waits,
 * and only the latest waiting one is applied), and reports the outcome: applied (Ack with the
 * version actually applied) or rejected (Nack with the stage), in which case the previous
 * policy is put back and stays enforced.
 *
 * It also keeps the cgroup map current: cgroup changes are folded into the applied policy's
 * incremental index (libs/policy CgroupRuleIndex) and written as one map update, between
 * desired-state applies, never concurrently with one.
 *
 * Node mode (issue 9) slots in through two ports: the executor hands the whole kernel-facing
 * sequence of an apply or a removal to a `NodeModePort` (the node-mode sequencer), and gives
 * that sequencer `enforcementPort()`, through which it loads deny-all tables, loads the
 * policy's tables, verifies and detaches, in the recipe's order. At start the sequencer
 * finishes whatever a crash interrupted (`resume`) before anything else is decided.
 */
import { createHash } from 'node:crypto';
import { CgroupRuleIndex, parseCanonical, PolicyValidationError, type CanonicalNode, type CanonicalPolicy, type KernelTables } from '@thp-fleet/policy';
import type { AdoptedState, Backend } from '../backends/backend.js';
import { BackendError } from '../backends/backend.js';
import type { NackStageName } from '../connection/messages.js';
import type { Logger } from '../log/logger.js';
import type { EnforcementPort } from '../node-mode/enforcement-port.js';
import type { PolicyRef } from '../node-mode/journal.js';
import type { AppliedRecord, StateStore } from '../state/state.store.js';
import { plan, type Action, type ActionKind, type Desired, type Observed } from './plan.js';
import { denyAllTables, samePolicyTables, tablesContentHash } from './tables-hash.js';
import { describeMismatch, verifyDecisions } from './verify-probes.js';

export type Enforcement = 'full' | 'node-level-only' | 'none';

/** How start-up went: nothing recorded, the pinned state re-adopted, or the recorded policy applied again. */
export type StartResult = 'nothing' | 'adopted' | 'reapplied' | 'reapply-failed';

export interface NodeModeTargetInput extends PolicyRef {
  /** The canonical `spec.node` (withoutHook explicit). */
  readonly node: CanonicalNode;
}

export type NodeModeResult =
  | { readonly ok: true; readonly changed: boolean }
  | {
      readonly ok: false;
      readonly stage: NackStageName;
      readonly message: string;
      readonly detail: string;
      /** The sequencer undid everything: the node is at its own THP values, nothing attached, no policy in force. */
      readonly rolledBack: boolean;
    };

/** What the node-mode journal says is in force. */
export interface NodeModeApplied extends PolicyRef {
  readonly enforcement: 'full' | 'node-level-only';
}

export interface NodeModeDrift {
  readonly path: string;
  readonly expected: string;
  readonly actual: string | undefined;
}

/**
 * The node-mode sequencer as the executor uses it. On failure it has already put the node back
 * (previous policy, or the node's own values) through the enforcement port.
 */
export interface NodeModePort {
  /** Start-up, before any apply: open the journal, finish (or safely roll back) a sequence a crash interrupted. */
  resume(): Promise<NodeModeResult>;
  apply(target: NodeModeTargetInput): Promise<NodeModeResult>;
  remove(): Promise<NodeModeResult>;
  /** What the journal says is in force (undefined: thp-fleet manages nothing on this node). */
  applied(): NodeModeApplied | undefined;
  /** An unfinished sequence is recorded (a recovery step failed; the next call retries it). */
  pending(): boolean;
  /** Controls whose live value differs from what the applied policy set. */
  drift(): Promise<readonly NodeModeDrift[]>;
}

export type Outcome =
  | {
      readonly kind: 'applied';
      readonly desired: Desired;
      /** What is applied now (undefined after a revoke). */
      readonly record: AppliedRecord | undefined;
      readonly actions: readonly ActionKind[];
    }
  | {
      readonly kind: 'rejected';
      readonly desired: Desired;
      readonly stage: NackStageName;
      readonly message: string;
      readonly detail: string;
      /** What stays applied (the previous policy). */
      readonly record: AppliedRecord | undefined;
      readonly actions: readonly ActionKind[];
    };

export interface ReconcilerOptions {
  readonly backend: Backend;
  readonly store: StateStore;
  readonly log: Logger;
  /** Given the executor's enforcement port, returns the node-mode sequencer; omitted = no node mode. */
  readonly nodeMode?: (enforcement: EnforcementPort) => NodeModePort;
  readonly now?: () => number;
  /** After every apply or reject (the agent sends Ack/Nack and ObservedState). */
  readonly onOutcome?: (outcome: Outcome) => void;
  /** After a cgroup-map update (the agent sends ObservedState). */
  readonly onTablesChanged?: () => void;
}

/** A failed step: the Nack stage, a line for people and the details. */
export class StepError extends Error {
  constructor(
    readonly stage: NackStageName,
    message: string,
    readonly detail = '',
    /** The node-mode sequencer already put the node back; the executor must not roll back again. */
    readonly recovered = false,
  ) {
    super(message);
    this.name = 'StepError';
  }
}

/** What the backend holds right now, with what is needed to keep its cgroup map current. */
interface Installed {
  readonly tables: KernelTables;
  /** The policy's index (undefined for the deny-all tables). */
  readonly index: CgroupRuleIndex | undefined;
  /** cgroup id -> path as folded into `index`. */
  readonly known: Map<number, string>;
  /** sha256 of the canonical spec the tables come from ("" for deny-all). */
  readonly specHash: string;
}

interface Compiled {
  readonly policy: CanonicalPolicy;
  readonly index: CgroupRuleIndex;
  readonly known: Map<number, string>;
}

export class Reconciler {
  private readonly backend: Backend;
  private readonly nodeMode: NodeModePort | undefined;
  private record: AppliedRecord | undefined;
  private installed: Installed | undefined;
  private generation = 0;
  private running: Promise<void> | undefined;
  private pending: Desired | undefined;
  private cgroupsDirty = false;
  private unsubscribe: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: ReconcilerOptions) {
    this.backend = options.backend;
    this.nodeMode = options.nodeMode?.(this.enforcementPort());
  }

  /** What is applied (the persisted record), or undefined. */
  applied(): AppliedRecord | undefined {
    return this.record;
  }

  /** The tables the backend holds, as the agent installed them. */
  tables(): KernelTables | undefined {
    return this.installed?.tables;
  }

  /** How the applied policy is enforced on this node. */
  enforcement(): Enforcement {
    if (this.nodeMode) {
      const applied = this.nodeMode.applied();
      // The journal says what the sequence set up; "full" also needs the program still there.
      return applied && this.intact(applied) ? applied.enforcement : 'none';
    }
    if (!this.record) return 'none';
    const o = this.backend.observe();
    // The simulator's hook is always there; on a kernel without bpf_thp_ops the pinned tables decide nothing.
    return o.loaded && (o.attached || this.backend.kind === 'sim') ? 'full' : 'none';
  }

  /**
   * Start-up: read the state record and what the backend still has installed, and either
   * re-adopt it (same policy: no reload; cgroup entries brought up to date), or re-apply the
   * recorded policy locally, so a restart or a reboot never leaves the node unenforced while
   * the controller is unreachable.
   */
  async start(): Promise<StartResult> {
    const log = this.options.log;
    this.record = this.options.store.load((m) => log.warn(m));
    const adopted = await this.backend.adopt();
    this.unsubscribe = this.backend.cgroups.onChange(() => this.cgroupsChanged());
    if (this.nodeMode) return this.startNodeMode(this.nodeMode, adopted);
    const record = this.record;
    if (!record) {
      if (adopted) {
        this.installed = { tables: adopted.tables, index: undefined, known: new Map(), specHash: '' };
        this.generation = adopted.tables.generation;
        log.warn('pinned tables of an unknown policy are installed (no state record); keeping them until the controller assigns one');
      }
      return 'nothing';
    }
    if (adopted) {
      const compiled = this.compile(record.spec);
      if (!(compiled instanceof StepError) && samePolicyTables(compiled.index.tables(0), adopted.tables)) {
        this.generation = adopted.tables.generation;
        this.installed = { tables: adopted.tables, index: compiled.index, known: compiled.known, specHash: record.specHash };
        const current = compiled.index.tables(this.generation + 1);
        if (tablesContentHash(current) !== tablesContentHash(adopted.tables)) await this.install(current, compiled, record.specHash);
        if (this.backend.hook !== 'absent' && !adopted.attached) await this.backend.attach();
        log.info('re-adopted the pinned policy without re-applying it', { policy: record.policy, version: record.version, specHash: record.specHash });
        return 'adopted';
      }
      log.warn('pinned tables differ from the recorded policy; re-applying the recorded policy', { policy: record.policy, version: record.version });
    }
    return this.reapply(record);
  }

  /** Re-apply the recorded policy locally (no nonce: nothing is acknowledged). */
  private async reapply(record: AppliedRecord): Promise<StartResult> {
    const log = this.options.log;
    const outcome = await this.execute({ kind: 'policy', source: record.source, policy: record.policy, version: record.version, specHash: record.specHash, spec: record.spec, nonce: '' });
    if (outcome.kind === 'applied') {
      log.info('re-applied the recorded policy from the state directory', { policy: record.policy, version: record.version });
      return 'reapplied';
    }
    log.error('could not re-apply the recorded policy', { policy: record.policy, stage: outcome.stage, message: outcome.message });
    return 'reapply-failed';
  }

  /**
   * Start-up with node mode. The sequencer's journal first: `resume()` finishes (or rolls back)
   * a sequence a crash interrupted, so the node is in a consistent, safe state before anything
   * else happens. The journal then says what the node runs. A journal ahead of the state record
   * (the agent died after the sequence, before recording it) is recorded as applied rather than
   * undone, so the node does not switch THP off and on again: Hello reports it, and the
   * controller, which never got an Ack, sends what it wants instead (or nothing, if it wanted
   * exactly this). Its policy still in place: re-adopted. Otherwise (a journal from another boot
   * was dropped, or its program is gone) the recorded policy is applied again.
   */
  private async startNodeMode(nodeMode: NodeModePort, adopted: AdoptedState | undefined): Promise<StartResult> {
    const log = this.options.log;
    if (adopted) this.generation = adopted.tables.generation;
    const resumed = await nodeMode.resume();
    if (!resumed.ok) log.error('node mode: the interrupted sequence could not be finished', { stage: resumed.stage, message: resumed.message, detail: resumed.detail });
    else if (resumed.changed) log.warn('node mode: finished a sequence a crash had interrupted', { applied: nodeMode.applied()?.policy });
    const applied = nodeMode.applied();
    if (this.installed === undefined && adopted && this.backend.observe().loaded) {
      // resume() did not replace the pinned tables: they are as found. Whose are they?
      this.installed = { tables: adopted.tables, index: undefined, known: new Map(), specHash: '' };
      if (applied?.enforcement === 'full') {
        const compiled = this.compile(applied.spec);
        if (!(compiled instanceof StepError) && samePolicyTables(compiled.index.tables(0), adopted.tables)) {
          this.installed = { tables: adopted.tables, index: compiled.index, known: compiled.known, specHash: applied.specHash };
          // Cgroups created or removed while the agent was down.
          const current = compiled.index.tables(this.generation + 1);
          if (tablesContentHash(current) !== tablesContentHash(adopted.tables)) await this.install(current, compiled, applied.specHash);
        }
      }
    }
    let record = this.record;
    if (applied && (record?.policy !== applied.policy || record.version !== applied.version || record.specHash !== applied.specHash)) {
      log.warn('node mode: the journal shows a policy in force that the state record does not (the agent stopped before recording it); recording it', {
        journal: `${applied.policy} v${applied.version}`,
        record: record ? `${record.policy} v${record.version}` : 'none',
      });
      record = {
        policy: applied.policy,
        version: applied.version,
        specHash: applied.specHash,
        spec: applied.spec,
        // No controller version is 0: that is the fail-safe lease's baseline (lease/baseline.ts).
        source: applied.version === 0 ? 'lease-baseline' : 'controller',
        appliedAt: new Date((this.options.now ?? Date.now)()).toISOString(),
        backend: this.backend.kind,
      };
      this.options.store.save(record);
      this.record = record;
    }
    if (!record) {
      if (this.installed) log.warn('pinned tables of an unknown policy are installed (no state record); keeping them until the controller assigns one');
      return 'nothing';
    }
    if (applied && this.intact(applied)) {
      log.info('re-adopted the node-mode policy without re-applying it', { policy: record.policy, version: record.version, enforcement: applied.enforcement });
      return 'adopted';
    }
    if (applied) log.warn("node mode: the journal's policy lost its program; putting sysfs back and applying it again", { policy: applied.policy, version: applied.version });
    return this.reapply(record);
  }

  /** The journal's policy is still in place: node-level needs nothing more; full needs the program attached with its tables. */
  private intact(applied: NodeModeApplied): boolean {
    if (applied.enforcement === 'node-level-only') return true;
    const o = this.backend.observe();
    return o.loaded && o.attached && this.installed?.specHash === applied.specHash;
  }

  /** Ask for a desired state. Applied now if idle; otherwise it replaces any waiting one. */
  submit(desired: Desired): void {
    if (this.closed) return;
    this.pending = desired;
    this.kick();
  }

  /** Resolves when nothing is running or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
  }

  /** What `plan` sees. */
  observed(): Observed {
    const o = this.backend.observe();
    const nodeModeApplied = this.nodeMode?.applied();
    return {
      applied: this.record ? { policy: this.record.policy, version: this.record.version, specHash: this.record.specHash, source: this.record.source } : undefined,
      loaded: o.loaded,
      attached: o.attached,
      hookPresent: this.backend.hook !== 'absent',
      nodeMode: this.nodeMode !== undefined,
      nodeModeApplied: nodeModeApplied ? { specHash: nodeModeApplied.specHash, intact: this.intact(nodeModeApplied) } : undefined,
    };
  }

  /** Live THP sysfs values that differ from what the node-mode policy set (empty without node mode). */
  async drift(): Promise<readonly NodeModeDrift[]> {
    return this.nodeMode ? this.nodeMode.drift() : [];
  }

  /**
   * The table steps for the node-mode sequencer (node-mode/enforcement-port.ts). Each is
   * idempotent, as the sequencer repeats the last step after a crash.
   */
  enforcementPort(): EnforcementPort {
    const attachIfPossible = async (): Promise<void> => {
      if (this.backend.hook !== 'absent' && !this.backend.observe().attached) await this.backend.attach();
    };
    const checkAttached = (): void => {
      if (this.backend.hook !== 'absent' && !this.backend.observe().attached) throw new StepError('verify', 'the hook program is not attached');
    };
    return {
      hookPresent: this.backend.hook !== 'absent',
      loadDenyAll: async () => {
        await this.install(denyAllTables(this.generation + 1), undefined, '');
        await attachIfPossible();
      },
      verifyDenyAll: async () => {
        checkAttached();
        await this.verify(denyAllTables(0));
      },
      applyPolicy: async (ref) => {
        const compiled = this.compile(ref.spec);
        if (compiled instanceof StepError) throw compiled;
        await this.install(compiled.index.tables(this.generation + 1), compiled, ref.specHash);
        await attachIfPossible();
      },
      verifyPolicy: async (ref) => {
        checkAttached();
        const installed = this.installed;
        if (installed?.specHash === ref.specHash) return this.verify(installed.tables);
        // This process did not install these tables (a restart resuming the sequence): the maps
        // must hold the policy compiled for today's cgroups; then they are adopted as installed.
        const compiled = this.compile(ref.spec);
        if (compiled instanceof StepError) throw compiled;
        const tables = compiled.index.tables(this.generation);
        await this.verify(tables);
        this.installed = { tables, index: compiled.index, known: compiled.known, specHash: ref.specHash };
      },
      detachAndUnpin: () => this.removeAll(),
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private cgroupsChanged(): void {
    this.cgroupsDirty = true;
    this.kick();
  }

  private kick(): void {
    if (this.running || this.closed) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if ((this.pending || this.cgroupsDirty) && !this.closed) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (!this.closed && (this.pending || this.cgroupsDirty)) {
      const desired = this.pending;
      this.pending = undefined;
      if (desired) {
        const outcome = await this.execute(desired);
        this.options.onOutcome?.(outcome);
        continue;
      }
      this.cgroupsDirty = false;
      try {
        if (await this.refreshCgroups()) this.options.onTablesChanged?.();
      } catch (error) {
        this.options.log.error('cgroup map update failed; retrying on the next change or rescan', { error: (error as Error).message });
      }
    }
  }

  /** Fold the current cgroup tree into the installed policy's index; one map update when anything changed. */
  private async refreshCgroups(): Promise<boolean> {
    const installed = this.installed;
    if (!installed?.index) return false;
    const { index, known } = installed;
    const tree = this.backend.cgroups.current();
    let changed = false;
    for (const [id, path] of known) {
      if (tree.get(id)?.path !== path) {
        known.delete(id);
        const d = index.remove(id);
        changed ||= d.deletes.length > 0 || d.upserts.length > 0;
      }
    }
    for (const entry of tree.values()) {
      if (known.get(entry.id) === entry.path) continue;
      known.set(entry.id, entry.path);
      const d = index.add(entry.id, entry.path);
      changed ||= d.deletes.length > 0 || d.upserts.length > 0;
    }
    if (!changed) return false;
    const next = index.tables(this.generation + 1);
    await this.backend.update(next);
    this.generation = next.generation;
    this.installed = { ...installed, tables: next };
    this.options.log.debug('cgroup map updated', { entries: next.cgroupRules.size, generation: next.generation });
    return true;
  }

  /** Parse, check and index a canonical spec against this node's cgroups; a StepError when it cannot. */
  private compile(spec: string): Compiled | StepError {
    const parsed = parseCanonical(spec);
    if (!parsed.ok) {
      const first = parsed.errors[0];
      return new StepError('validate', `invalid policy: ${first?.path ? `${first.path}: ` : ''}${first?.message ?? 'unknown error'}`, formatIssues(parsed.errors));
    }
    try {
      const tree = this.backend.cgroups.current();
      const known = new Map<number, string>();
      for (const entry of tree.values()) known.set(entry.id, entry.path);
      const index = new CgroupRuleIndex(parsed.policy, tree.values());
      return { policy: index.policy, index, known };
    } catch (error) {
      if (error instanceof PolicyValidationError) return new StepError('validate', error.message, formatIssues(error.issues));
      return new StepError('compile', `cannot compile the policy for this node: ${(error as Error).message}`);
    }
  }

  /** Load (first time) or update the backend's tables, and remember what it holds. */
  private async install(tables: KernelTables, compiled: Compiled | undefined, specHash: string): Promise<void> {
    const first = !this.backend.observe().loaded;
    try {
      if (first) await this.backend.load(tables);
      else await this.backend.update(tables);
    } catch (error) {
      throw asStepError(error, 'verify', first ? 'loading the tables failed' : 'updating the maps failed');
    }
    this.generation = tables.generation;
    this.installed = { tables, index: compiled?.index, known: new Map<number, string>(compiled?.known ?? []), specHash };
  }

  private async removeAll(): Promise<void> {
    const o = this.backend.observe();
    if (o.attached) await this.backend.detach();
    if (o.loaded) await this.backend.unload();
    this.installed = undefined;
  }

  /** The maps hold `tables` (content hash), and decisions where enforcement happens equal the reference evaluator's. */
  private async verify(tables: KernelTables): Promise<void> {
    const observed = this.backend.observe();
    const expected = tablesContentHash(tables);
    if (observed.mapContentHash !== expected) {
      throw new StepError('verify', 'the installed maps do not hold the compiled tables', `map content hash ${observed.mapContentHash || '(none)'}, expected ${expected}`);
    }
    const result = await verifyDecisions(tables, this.backend.cgroups.current(), (input) => this.backend.decide(input));
    if (result.mismatches.length > 0) {
      throw new StepError('verify', `${result.mismatches.length} of ${result.probes} probe decisions differ from the reference evaluator`, result.mismatches.map(describeMismatch).join('\n'));
    }
  }

  /** Run the plan for `desired`; on a failed step put the previous state back. Never throws. */
  private async execute(desired: Desired): Promise<Outcome> {
    const observed = this.observed();
    const actions = plan(desired, observed);
    const kinds = actions.map((a) => a.kind);
    const previous = { record: this.record, installed: this.installed, attached: observed.attached, loaded: observed.loaded };
    let compiled: Compiled | undefined;
    const target = desired.kind === 'policy' ? desired : undefined;
    /** A node-mode step changed the node: a later failure is undone through the sequencer, never around it. */
    let nodeModeRan = false;
    /** A node-mode step failed and the sequencer removed everything, the previous policy included. */
    let nodeModeRolledBack = false;

    const step = async (action: Action): Promise<void> => {
      switch (action.kind) {
        case 'validate': {
          const hash = createHash('sha256').update(target!.spec).digest('hex');
          if (hash !== target!.specHash) {
            throw new StepError('validate', 'spec hash mismatch: the spec is not the one the assignment names', `sha256(spec) = ${hash}, assignment spec_hash = ${target!.specHash}`);
          }
          const result = this.compile(target!.spec);
          if (result instanceof StepError) throw result;
          compiled = result;
          return;
        }
        case 'compile':
          try {
            // Builds and range-checks the tables (rule count, masks, ids) before anything is installed.
            compiled!.index.tables(this.generation + 1);
          } catch (error) {
            throw new StepError('compile', `cannot compile the policy for this node: ${(error as Error).message}`);
          }
          if (!this.nodeMode) this.checkNodeSection(compiled!.policy);
          return;
        case 'load':
        case 'update':
          await this.install(compiled!.index.tables(this.generation + 1), compiled, target!.specHash);
          return;
        case 'verify':
          await this.verify(this.installed!.tables);
          return;
        case 'attach':
          try {
            await this.backend.attach();
          } catch (error) {
            throw asStepError(error, 'attach', 'attaching the hook failed');
          }
          return;
        case 'node-mode-apply': {
          const d = target!;
          const result = await this.nodeMode!.apply({ policy: d.policy, version: d.version, specHash: d.specHash, spec: d.spec, node: compiled!.policy.spec.node });
          if (!result.ok) {
            nodeModeRolledBack = result.rolledBack;
            throw new StepError(result.stage, result.message, result.detail, true);
          }
          nodeModeRan = true;
          return;
        }
        case 'node-mode-remove': {
          const result = await this.nodeMode!.remove();
          if (!result.ok) {
            nodeModeRolledBack = result.rolledBack;
            throw new StepError(result.stage, result.message, result.detail, true);
          }
          nodeModeRan = true;
          // Tables no journal accounts for (pins from before node mode, or loaded on a kernel
          // without the hook, where the sequencer never loads any): sysfs is at the node's own
          // values now, so removing them turns nothing on.
          if (this.backend.observe().loaded) await this.removeAll();
          return;
        }
        case 'detach':
          await this.backend.detach();
          return;
        case 'unload':
          await this.backend.unload();
          this.installed = undefined;
          return;
        case 'persist': {
          const d = target!;
          const record: AppliedRecord = {
            policy: d.policy,
            version: d.version,
            specHash: d.specHash,
            spec: d.spec,
            source: d.source,
            appliedAt: new Date((this.options.now ?? Date.now)()).toISOString(),
            backend: this.backend.kind,
          };
          try {
            this.options.store.save(record);
          } catch (error) {
            throw new StepError('other', `cannot record the applied policy in ${this.options.store.directory}`, (error as Error).message);
          }
          this.record = record;
          return;
        }
        case 'forget':
          this.options.store.clear();
          this.record = undefined;
          return;
        case 'ack':
          return;
      }
    };

    for (const action of actions) {
      try {
        await step(action);
      } catch (error) {
        const failure = error instanceof StepError ? error : asStepError(error, 'other', `${action.kind} failed`);
        this.options.log.warn('apply failed; keeping the previous policy', { step: action.kind, stage: failure.stage, message: failure.message });
        const problems = failure.recovered ? '' : nodeModeRan ? await this.rollbackNodeMode(previous.record) : await this.rollback(previous);
        this.record = previous.record;
        if (nodeModeRolledBack && this.record && !this.nodeMode?.applied()) {
          // The sequence rolled the node back to its own values: the previous policy is not enforced any more.
          this.options.log.warn('node mode rolled the node back to its own THP settings; the previous policy is no longer applied', { policy: this.record.policy, version: this.record.version });
          try {
            this.options.store.clear();
          } catch (error) {
            this.options.log.error('cannot clear the state record', { error: (error as Error).message });
          }
          this.record = undefined;
        }
        const detail = [failure.detail, problems ? `rollback incomplete: ${problems}` : ''].filter(Boolean).join('\n');
        return { kind: 'rejected', desired, stage: failure.stage, message: failure.message, detail, record: this.record, actions: kinds };
      }
    }
    return { kind: 'applied', desired, record: this.record, actions: kinds };
  }

  /**
   * A reconciler built without node mode (tables only: the backend tests, tools) writes no THP
   * sysfs value, so a policy that sets node controls (spec.node) cannot be honoured by it: it is
   * refused rather than applied without its node section. The agent always wires node mode
   * (agent/node.agent.ts), so agents never take this path.
   */
  private checkNodeSection(policy: CanonicalPolicy): void {
    const node = policy.spec.node;
    const controls = Object.keys(node).filter((k) => k !== 'withoutHook');
    if (controls.length === 0) return;
    const message =
      this.backend.hook === 'absent' && node.withoutHook === 'deny'
        ? 'incompatible: the kernel has no bpf_thp_ops hook and the policy sets node.withoutHook: deny'
        : `incompatible: the policy sets node THP settings (spec.node: ${controls.join(', ')}) and this reconciler runs without node mode`;
    throw new StepError('attach', message, this.backend.hook === 'absent' ? this.backend.hookDetail : '');
  }

  /**
   * A step after a successful node-mode step failed (the state record could not be written):
   * put the previous policy back through the sequencer, or remove node mode if there was none.
   * Returns the problems, "" when clean.
   */
  private async rollbackNodeMode(previous: AppliedRecord | undefined): Promise<string> {
    const nodeMode = this.nodeMode!;
    try {
      if (!previous) {
        const removed = await nodeMode.remove();
        return removed.ok ? '' : `node-mode removal: ${removed.message}`;
      }
      const compiled = this.compile(previous.spec);
      if (compiled instanceof StepError) return `previous policy "${previous.policy}" v${previous.version}: ${compiled.message}`;
      const back = await nodeMode.apply({ policy: previous.policy, version: previous.version, specHash: previous.specHash, spec: previous.spec, node: compiled.policy.spec.node });
      return back.ok ? '' : `putting back policy "${previous.policy}" v${previous.version}: ${back.message}`;
    } catch (error) {
      return `node-mode rollback: ${(error as Error).message}`;
    }
  }

  /** Put back what the backend held before a failed apply; returns the problems, "" when clean. */
  private async rollback(previous: { installed: Installed | undefined; attached: boolean; loaded: boolean }): Promise<string> {
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    const before = previous.installed;
    if (before && this.installed !== before) {
      // Fresh generation: the kernel side double-buffers by generation (libs/policy tablesDelta).
      const tables = before.index ? before.index.tables(this.generation + 1) : denyAllTables(this.generation + 1);
      await attempt('previous tables', async () => {
        await this.backend.update(tables);
        this.generation = tables.generation;
        this.installed = { ...before, tables };
      });
    }
    const now = this.backend.observe();
    if (!previous.attached && now.attached) await attempt('detach', () => this.backend.detach());
    if (previous.attached && !now.attached) await attempt('re-attach', () => this.backend.attach());
    if (!previous.loaded && this.backend.observe().loaded) {
      await attempt('unload', async () => {
        await this.backend.unload();
        this.installed = undefined;
      });
    }
    if (problems.length > 0) this.options.log.error('rollback incomplete', { problems: problems.join('; ') });
    return problems.join('; ');
  }
}

function asStepError(error: unknown, fallbackStage: NackStageName, message: string): StepError {
  if (error instanceof StepError) return error;
  if (error instanceof BackendError) return new StepError(error.stage, `${message}: ${error.message}`, error.detail);
  const stage = (error as { stage?: unknown } | null)?.stage;
  const known: NackStageName | undefined = stage === 'validate' || stage === 'compile' || stage === 'verify' || stage === 'attach' || stage === 'other' ? stage : undefined;
  return new StepError(known ?? fallbackStage, `${message}: ${(error as Error).message}`, (error as Error).stack ?? '');
}

function formatIssues(issues: readonly { path: string; message: string }[]): string {
  return issues.map((i) => `${i.path || '(document)'}: ${i.message}`).join('\n');
}
