/**
 * The enforcement side of the node-mode sequence: what the sequencer needs from a backend
 * (libs/bpf on a real kernel, the simulator's hook in the sim backend).
 *
 * Contract for implementers:
 * - Every method is idempotent: the sequencer repeats the last step after a crash, so a second
 *   call with the same argument must succeed and leave the same state.
 * - State lives where an agent crash does not lose it (pinned objects under bpffs, the
 *   simulator's node): a restarted agent drives the same program.
 * - `loadDenyAll` loads, attaches and pins the program with empty tables, so every THP
 *   decision is "no THP" (the cover letter's empty allow-list). If a program is already
 *   attached it replaces its tables with the deny-all ones.
 * - `applyPolicy` requires an attached program and replaces what it enforces with `policy`.
 *   It need not be atomic: the sequencer only calls it while THP is off.
 * - `verifyDenyAll` / `verifyPolicy` read back what the kernel holds (program attached, tables
 *   equal to the expected ones) and throw an Error saying what differs.
 * - `detachAndUnpin` detaches the program and removes every pin; no-op when nothing is pinned.
 * - An Error may carry `stage: 'validate' | 'compile' | 'attach' | 'verify' | 'other'` to choose the
 *   Nack stage; without it, load steps report `attach` and verify steps `verify`.
 */
import type { PolicyRef } from './journal.js';

export interface EnforcementPort {
  /** True when the kernel offers the hook (`bpf_thp_ops`) and the program can be attached. */
  readonly hookPresent: boolean;
  loadDenyAll(): Promise<void>;
  verifyDenyAll(): Promise<void>;
  applyPolicy(policy: PolicyRef): Promise<void>;
  verifyPolicy(policy: PolicyRef): Promise<void>;
  detachAndUnpin(): Promise<void>;
}

export type PortOp = 'loadDenyAll' | 'verifyDenyAll' | 'applyPolicy' | 'verifyPolicy' | 'detachAndUnpin';
