/**
 * The node-mode sequencer (node-mode/sequencer.ts) as the executor's `NodeModePort`: opens it
 * over this node's THP sysfs and the agent's state directory, turns its outcomes into Ack/Nack
 * results, and logs what it did to recover.
 *
 * The reconciler builds its port synchronously; opening the sequencer reads the journal and the
 * boot id, so it happens in `resume()`, which the reconciler runs first thing at start. Until it
 * has run (or when it failed, e.g. a damaged journal) every apply and removal is refused: the
 * agent never changes a node whose journal it could not read.
 */
import type { CanonicalNode } from '@thp-fleet/policy';
import type { EnforcementPort } from '../node-mode/enforcement-port.js';
import type { NodeModeTarget } from '../node-mode/journal.js';
import { NodeModeSequencer, type NodeModeOutcome, type Recovery, type SequencePoint } from '../node-mode/sequencer.js';
import type { NodeSettings } from '../node-mode/settings.js';
import type { NodeSysfs } from '../node-mode/sysfs.js';
import type { Logger } from '../log/logger.js';
import type { NodeModeApplied, NodeModeDrift, NodeModePort, NodeModeResult, NodeModeTargetInput } from './reconciler.js';

export interface SequencerNodeModeOptions {
  /** The agent's state directory; the journal is `<stateDir>/node-mode.journal.json`. */
  readonly stateDir: string;
  /** This node's THP sysfs: the kernel's (`--sysfs-root`), an imitation tree, or the simulator's. */
  readonly sysfs: NodeSysfs;
  /** The boot the node's THP state belongs to (Backend.bootId). */
  readonly bootId: () => Promise<string>;
  readonly log: Logger;
  /** Every sysfs write, port call and journal write (tracing; fault injection in tests). */
  readonly onPoint?: (point: SequencePoint) => void | Promise<void>;
}

/** `ReconcilerOptions.nodeMode`: given the executor's enforcement port, the sequencer behind a `NodeModePort`. */
export function sequencerNodeMode(options: SequencerNodeModeOptions): (enforcement: EnforcementPort) => NodeModePort {
  return (enforcement) => new SequencerNodeMode(options, enforcement);
}

const RECOVERY: Readonly<Record<Recovery, string>> = {
  unchanged: 'nothing on the node was changed',
  'reverted-to-previous': 'the previous policy is enforced again',
  'rolled-back-to-baseline': "the node is back at its own THP settings with nothing attached",
  incomplete: 'a recovery step failed too; the node is in a safe intermediate state and the next apply or restart finishes it',
};

/** libs/policy's canonical `spec.node` as the sequencer's `NodeSettings` (the same fields, by design). */
export function toNodeSettings(node: CanonicalNode): NodeSettings {
  return {
    ...(node.enabled !== undefined ? { enabled: node.enabled } : {}),
    ...(node.defrag !== undefined ? { defrag: node.defrag } : {}),
    ...(node.shmemEnabled !== undefined ? { shmemEnabled: node.shmemEnabled } : {}),
    ...(node.hugepages !== undefined ? { hugepages: { ...node.hugepages } } : {}),
    ...(node.khugepaged !== undefined
      ? {
          khugepaged: {
            ...(node.khugepaged.maxPtesNone !== undefined ? { maxPtesNone: node.khugepaged.maxPtesNone } : {}),
            ...(node.khugepaged.pagesToScan !== undefined ? { pagesToScan: node.khugepaged.pagesToScan } : {}),
          },
        }
      : {}),
    withoutHook: node.withoutHook,
  };
}

export class SequencerNodeMode implements NodeModePort {
  private sequencer: NodeModeSequencer | undefined;
  private openError: string | undefined = 'node mode has not been started (resume() runs at agent start)';

  constructor(
    private readonly options: SequencerNodeModeOptions,
    private readonly enforcement: EnforcementPort,
  ) {}

  async resume(): Promise<NodeModeResult> {
    if (this.sequencer === undefined) {
      try {
        this.sequencer = await NodeModeSequencer.open({
          stateDir: this.options.stateDir,
          sysfs: this.options.sysfs,
          port: this.enforcement,
          bootId: this.options.bootId,
          ...(this.options.onPoint ? { onPoint: this.options.onPoint } : {}),
        });
        this.openError = undefined;
      } catch (error) {
        this.openError = `node mode cannot start: ${(error as Error).message}`;
        return { ok: false, stage: 'other', message: this.openError, detail: (error as Error).stack ?? '', rolledBack: false };
      }
    }
    return this.run('resume', (s) => s.resume());
  }

  apply(target: NodeModeTargetInput): Promise<NodeModeResult> {
    const t: NodeModeTarget = { policy: target.policy, version: target.version, specHash: target.specHash, spec: target.spec, node: toNodeSettings(target.node) };
    return this.run(`apply of policy "${target.policy}" v${target.version}`, (s) => s.apply(t));
  }

  remove(): Promise<NodeModeResult> {
    return this.run('removal', (s) => s.remove());
  }

  applied(): NodeModeApplied | undefined {
    const a = this.sequencer?.status().applied;
    if (!a) return undefined;
    return { policy: a.target.policy, version: a.target.version, specHash: a.target.specHash, spec: a.target.spec, enforcement: a.enforcement };
  }

  pending(): boolean {
    return (this.sequencer?.status().pending ?? null) !== null;
  }

  async drift(): Promise<readonly NodeModeDrift[]> {
    return this.sequencer ? this.sequencer.drift() : [];
  }

  /**
   * Run one sequencer call. An exception (rather than an outcome) means the sequence stopped
   * between two persisted steps, like a crash: the journal says where, and the next call or
   * restart finishes it; nothing else may touch the node meanwhile, so it is a Nack, not retried.
   */
  private async run(what: string, call: (s: NodeModeSequencer) => Promise<NodeModeOutcome>): Promise<NodeModeResult> {
    const sequencer = this.sequencer;
    if (sequencer === undefined) return { ok: false, stage: 'other', message: this.openError ?? 'node mode is not available', detail: '', rolledBack: false };
    let out: NodeModeOutcome;
    try {
      out = await call(sequencer);
    } catch (error) {
      this.options.log.error(`node mode: ${what} stopped`, { error: (error as Error).message });
      return {
        ok: false,
        stage: 'other',
        message: `node mode: ${what} stopped: ${(error as Error).message}`,
        detail: `${(error as Error).stack ?? ''}\nthe journal keeps the last completed step; the next apply or restart finishes the sequence`,
        rolledBack: false,
      };
    }
    if (out.rebooted) this.options.log.info('node mode: the journal was from an earlier boot (sysfs and pins did not survive it) and was discarded');
    if (out.ok) return { ok: true, changed: out.changed };
    const e = out.error;
    this.options.log.warn(`node mode: ${what} failed`, { code: e.code, stage: e.stage, message: e.message, recovery: out.recovery });
    return {
      ok: false,
      stage: e.stage,
      message: e.code === 'incompatible' ? `incompatible: ${e.message}` : e.message,
      detail: `${e.code}: ${e.detail}\nrecovery: ${RECOVERY[out.recovery]}`,
      rolledBack: out.recovery === 'rolled-back-to-baseline',
    };
  }
}
