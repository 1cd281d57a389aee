/**
 * The agent's reconciler core: `plan(desired, observed)` lists the steps that take the node
 * from what it enforces to what it should enforce. It is pure and level-based: it looks at
 * the state, not at the history, so a repeated or replayed desired state plans nothing new,
 * and a node whose pinned program vanished is planned back to the desired state.
 *
 * Without node mode the policy's tables are loaded (or the maps updated), verified against
 * the reference evaluator, then attached where the kernel has the hook.
 *
 * With node mode (issue 9, the node's THP sysfs settings as part of desired state), the
 * node-mode sequencer owns the order of everything that touches the node, after the kernel
 * proposal's deployment recipe (kernel-interface.md 3.7): THP off, program attached with
 * deny-all tables and verified, the policy's tables loaded and verified, and only then the
 * sysfs mode switched; on removal, sysfs restored first, then detach and unpin. It performs
 * the table steps through the executor's enforcement port, so the plan is one step there.
 * What is in force is then what the sequencer's journal says, as long as it is still in place
 * (node-level: always; full: its program attached with its tables); a journal policy whose
 * program vanished is removed (sysfs back to the node's own values first) and applied afresh.
 */
import type { AppliedSource } from '../state/state.store.js';

export interface DesiredPolicy {
  readonly kind: 'policy';
  readonly source: AppliedSource;
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  /** Canonical JSON spec. */
  readonly spec: string;
  /** The controller's nonce to answer; "" for a local decision (lease, re-adopt). */
  readonly nonce: string;
}

export interface DesiredNone {
  readonly kind: 'none';
  readonly nonce: string;
  /** The policy the controller revoked ("" = whatever is applied). */
  readonly policy: string;
}

export type Desired = DesiredPolicy | DesiredNone;

export interface AppliedIdentity {
  readonly policy: string;
  readonly version: number;
  readonly specHash: string;
  readonly source: AppliedSource;
}

export interface Observed {
  /** What the agent last applied successfully (undefined: nothing). */
  readonly applied: AppliedIdentity | undefined;
  /** Tables are in the backend (pinned maps for bpf). */
  readonly loaded: boolean;
  /** The hook program is attached (never true where the hook is absent). */
  readonly attached: boolean;
  /** The kernel (or simulator) offers the hook, so attaching is possible. */
  readonly hookPresent: boolean;
  /** A node-mode sequencer (THP sysfs settings, issue 9) is wired into the executor. */
  readonly nodeMode: boolean;
  /** Node mode: the policy the sequencer's journal says is in force, and whether it still is (undefined: none). */
  readonly nodeModeApplied?: NodeModeObserved | undefined;
}

export interface NodeModeObserved {
  readonly specHash: string;
  /** node-level-only: always; full: the program is attached and holds this policy's tables. */
  readonly intact: boolean;
}

export type Action =
  /** Parse the canonical spec, check its sha256 against the assignment, validate it. */
  | { readonly kind: 'validate' }
  /** Compile the spec against this node's cgroup tree. */
  | { readonly kind: 'compile' }
  /** Load the program and maps for the first time and pin them. */
  | { readonly kind: 'load' }
  /** Replace the map contents of an already loaded program (a live policy change). */
  | { readonly kind: 'update' }
  /** Read the maps back and check they hold exactly the compiled tables. */
  | { readonly kind: 'verify' }
  /** Attach the hook (only where the kernel has it). */
  | { readonly kind: 'attach' }
  /** Node mode: the sequencer enforces the policy (tables through the enforcement port, then sysfs). */
  | { readonly kind: 'node-mode-apply' }
  /** Node mode: the sequencer restores THP sysfs to the recorded values, then detaches and unpins. */
  | { readonly kind: 'node-mode-remove' }
  | { readonly kind: 'detach' }
  /** Unpin and unload program and maps. */
  | { readonly kind: 'unload' }
  /** Record what is applied in the state directory. */
  | { readonly kind: 'persist' }
  /** Remove the state record (nothing applied). */
  | { readonly kind: 'forget' }
  /** Answer the controller (Ack), when the desired state came with a nonce. */
  | { readonly kind: 'ack' };

export type ActionKind = Action['kind'];

function sameIdentity(a: AppliedIdentity, d: DesiredPolicy): boolean {
  return a.policy === d.policy && a.version === d.version && a.specHash === d.specHash && a.source === d.source;
}

export function plan(desired: Desired, observed: Observed): Action[] {
  const ack: Action[] = desired.nonce === '' ? [] : [{ kind: 'ack' }];
  if (observed.nodeMode) return planNodeMode(desired, observed, ack);
  if (desired.kind === 'none') {
    const revokedOther = desired.policy !== '' && observed.applied !== undefined && observed.applied.policy !== desired.policy;
    if (revokedOther) return ack;
    if (!observed.applied && !observed.loaded && !observed.attached) return ack;
    const steps: Action[] = [];
    if (observed.attached) steps.push({ kind: 'detach' });
    if (observed.loaded) steps.push({ kind: 'unload' });
    if (observed.applied) steps.push({ kind: 'forget' });
    return [...steps, ...ack];
  }

  const enforcing = observed.loaded && (observed.attached || !observed.hookPresent);
  if (enforcing && observed.applied && observed.applied.specHash === desired.specHash) {
    // Same tables: nothing touches the kernel. A new version or name of an identical spec is
    // validated (the spec must really hash to what it claims before it is recorded) and
    // recorded, so a no-op rollout step costs no map write.
    return sameIdentity(observed.applied, desired) ? ack : [{ kind: 'validate' }, { kind: 'persist' }, ...ack];
  }

  const steps: Action[] = [{ kind: 'validate' }, { kind: 'compile' }];
  steps.push(observed.loaded ? { kind: 'update' } : { kind: 'load' });
  steps.push({ kind: 'verify' });
  if (observed.hookPresent && !observed.attached) steps.push({ kind: 'attach' });
  return [...steps, { kind: 'persist' }, ...ack];
}

/** With node mode every step that touches the node goes through the sequencer. */
function planNodeMode(desired: Desired, observed: Observed, ack: Action[]): Action[] {
  const inForce = observed.nodeModeApplied;
  if (desired.kind === 'none') {
    const revokedOther = desired.policy !== '' && observed.applied !== undefined && observed.applied.policy !== desired.policy;
    if (revokedOther) return ack;
    if (!observed.applied && !inForce && !observed.loaded && !observed.attached) return ack;
    return [{ kind: 'node-mode-remove' }, ...(observed.applied ? [{ kind: 'forget' } as const] : []), ...ack];
  }
  if (inForce?.intact && inForce.specHash === desired.specHash && observed.applied?.specHash === desired.specHash) {
    // The same spec is in force: nothing on the node changes. A new name or version is
    // validated, relabelled in the journal (no sysfs write, no THP off) and recorded.
    return sameIdentity(observed.applied, desired) ? ack : [{ kind: 'validate' }, { kind: 'node-mode-apply' }, { kind: 'persist' }, ...ack];
  }
  const steps: Action[] = [{ kind: 'validate' }, { kind: 'compile' }];
  // The journal's policy lost its program (pins removed behind the agent's back): THP may be on
  // with nothing enforcing. Put sysfs back to the node's own values first, then start afresh.
  if (inForce && !inForce.intact) steps.push({ kind: 'node-mode-remove' });
  return [...steps, { kind: 'node-mode-apply' }, { kind: 'persist' }, ...ack];
}
