/**
 * The node-mode safety invariant (docs/node-mode.md section 4) checked on a simulated node at
 * every sequence point: THP on beyond what the node booted with only while the hook is
 * attached and holds tables verified since they last changed (the deny-all tables or the
 * policy's). Fed with the sequencer's points (NodeAgentOptions.nodeModePoint, or the adapter's
 * onPoint); violations are collected, never thrown, so the sequence runs as it would.
 */
import type { SequencePoint } from '../node-mode/sequencer.js';
import { effectiveSizeModes, type SysfsValues } from '../node-mode/settings.js';
import { controlValues } from '../node-mode/sysfs.js';
import type { SimBackend } from './sim.backend.js';

export function describePoint(p: SequencePoint): string {
  switch (p.kind) {
    case 'sysfs-write':
      return `write ${p.path}=${p.value}`;
    case 'port':
      return `port ${p.op}`;
    case 'journal':
      return `journal ${p.operation}:${p.step}`;
  }
}

export class SimInvariant {
  readonly violations: string[] = [];
  readonly trace: string[] = [];
  private readonly verified = new Set<string>();
  private readonly bootModes: Map<number, string>;

  private constructor(
    private readonly backend: SimBackend,
    private readonly boot: SysfsValues,
  ) {
    this.bootModes = effectiveSizeModes(boot);
  }

  /** Record the node's values now as what it booted with. */
  static async of(backend: SimBackend): Promise<SimInvariant> {
    return new SimInvariant(backend, controlValues(await backend.sysfs.readSnapshot()));
  }

  async check(p: SequencePoint): Promise<void> {
    this.trace.push(describePoint(p));
    const obs = this.backend.observe();
    if (p.kind === 'port' && (p.op === 'loadDenyAll' || p.op === 'applyPolicy')) this.verified.clear();
    if (p.kind === 'port' && (p.op === 'verifyDenyAll' || p.op === 'verifyPolicy')) this.verified.add(obs.mapContentHash);
    if (p.kind === 'port' && p.op === 'detachAndUnpin') this.verified.clear();
    const live = controlValues(await this.backend.sysfs.readSnapshot());
    const on = [...effectiveSizeModes(live)].filter(([kb, mode]) => mode !== 'never' && mode !== this.bootModes.get(kb)).map(([kb, mode]) => `${kb}kB=${mode}`);
    if (live['enabled'] !== 'never' && live['enabled'] !== this.boot['enabled']) on.push(`enabled=${live['enabled']}`);
    if (on.length > 0 && !(obs.attached && this.verified.has(obs.mapContentHash))) {
      this.violations.push(`after ${describePoint(p)}: THP on (${on.join(', ')}) without verified enforcement`);
    }
  }
}
