/**
 * Simulated nodes in this process: `--backend sim` (one node) or `--sim-nodes N`. Each has
 * its own id, labels, token, stream, state directory and seeded simulator; one clock steps
 * them all in accelerated time (`--time-scale`), spread over each second so the event loop
 * stays responsive for the streams.
 */
import { join } from 'node:path';
import { standardWorkloadMix, type SysfsPatch, type WorkloadSpec } from '@thp-fleet/mm-sim';
import { NodeAgent } from '../agent/node.agent.js';
import { AGENT_VERSION } from '../agent/version.js';
import { SimBackend } from '../backends/sim.backend.js';
import type { AgentConfig } from '../config/agent.config.js';
import { nodeToken } from '../connection/node-token.js';
import type { BaselinePolicy } from '../lease/baseline.js';
import type { Logger } from '../log/logger.js';
import type { AgentHooks, Running } from '../run.js';
import type { SequencePoint } from '../node-mode/sequencer.js';
import { StateStore } from '../state/state.store.js';
import { simNodeIdentity, type HardwareClass, type SimNodeIdentity, type WorkloadMix } from './sim-identity.js';

const GIB = 2 ** 30;

/** Memory of each hardware class. */
export const HARDWARE_MEMORY: Readonly<Record<HardwareClass, number>> = {
  'general-8g': 8 * GIB,
  'memory-16g': 16 * GIB,
  'compact-4g': 4 * GIB,
};

/** The workloads of each mix on a node with `memoryBytes`; sizes scale with memory (libs/mm-sim sizes are for 64 GiB). */
export function workloadsFor(mix: WorkloadMix, memoryBytes: number): WorkloadSpec[] {
  const scale = memoryBytes / (64 * GIB);
  switch (mix) {
    case 'standard':
      return standardWorkloadMix(memoryBytes);
    case 'jvm-heavy':
      return [
        { kind: 'zgc-jvm', name: 'zgc-orders', scale },
        { kind: 'zgc-jvm', name: 'zgc-search', scale },
        { kind: 'tcmalloc-svc', name: 'tcmalloc-svc', scale },
        { kind: 'latency-svc', name: 'latency-svc', scale },
      ];
    case 'kv-heavy':
      return [
        { kind: 'kv-store', name: 'kv-sessions', scale },
        { kind: 'kv-store', name: 'kv-cache', scale },
        { kind: 'latency-svc', name: 'latency-svc', scale },
        { kind: 'batch-pagecache', name: 'batch-pagecache', scale },
      ];
  }
}

/**
 * Boot THP sysfs of simulated nodes: the kernel defaults (libs/mm-sim `defaultSysfs`,
 * kernel-interface.md 5.2: `defrag: madvise`, `shmem_enabled: never`, 2048kB `inherit`, the
 * other sizes `never`) with `enabled` from `--sim-thp`, default `never`: a cautious fleet
 * boots with THP off (the cover letter's deployment step 1, or `transparent_hugepage=never`
 * on the kernel command line), and a policy's node section is what switches THP on, after its
 * program is attached and verified (docs/node-mode.md).
 */
export function bootSysfs(enabled: AgentConfig['simThp']): SysfsPatch {
  return { enabled };
}

export interface SimNodeSetup {
  readonly identity: SimNodeIdentity;
  readonly nodeId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly stateDir: string;
}

/** Who the simulated nodes of this process are. `simNodes` 0 means one node named by `--node-id`. */
export function simNodeSetups(config: AgentConfig): SimNodeSetup[] {
  const mix = config.simMix === 'varied' ? undefined : config.simMix;
  if (config.simNodes === 0) {
    const identity = simNodeIdentity(config.nodeId, 0, 1, config.simSeed, {}, mix);
    return [{ identity, nodeId: config.nodeId, labels: { ...identity.labels, ...config.labels }, stateDir: config.stateDir }];
  }
  return Array.from({ length: config.simNodes }, (_, i) => {
    const identity = simNodeIdentity(config.nodeId, i, config.simNodes, config.simSeed, config.labels, mix);
    return { identity, nodeId: identity.nodeId, labels: identity.labels, stateDir: join(config.stateDir, identity.nodeId) };
  });
}

/**
 * Advances simulated nodes so that each keeps up with wall time x `timeScale`. Every
 * `slotMs` one slot of the nodes is stepped (node i in slot i mod slots), by whole simulator
 * ticks, towards its target; a node that fell behind (an overloaded core) catches up by at
 * most two periods per step, and `lag()` says how far behind the slowest node is.
 */
export class SimClock {
  private readonly members: SimBackend[] = [];
  private timer: NodeJS.Timeout | undefined;
  private slot = 0;
  private readonly started: number;
  private readonly slots: number;

  constructor(
    private readonly options: { readonly timeScale: number; readonly periodMs?: number; readonly slotMs?: number; readonly now?: () => number },
  ) {
    this.started = this.now();
    this.slots = Math.max(1, Math.round((options.periodMs ?? 1000) / (options.slotMs ?? 20)));
  }

  add(backend: SimBackend): void {
    this.members.push(backend);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.slotMs ?? 20);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Simulated milliseconds the slowest node is behind its target. */
  lag(): number {
    const target = this.target();
    return this.members.reduce((worst, b) => Math.max(worst, target - b.node.now()), 0);
  }

  /** Step one slot now (the timer calls this; tests may too). */
  tick(): void {
    const target = this.target();
    const maxStep = 2 * (this.options.periodMs ?? 1000) * this.options.timeScale;
    for (let i = this.slot; i < this.members.length; i += this.slots) {
      const b = this.members[i]!;
      const tick = b.node.tickMs;
      const behind = Math.min(target - b.node.now(), maxStep);
      const steps = Math.floor(behind / tick);
      if (steps > 0) b.advance(steps * tick);
    }
    this.slot = (this.slot + 1) % this.slots;
  }

  private now(): number {
    return (this.options.now ?? (() => performance.now()))();
  }

  private target(): number {
    return (this.now() - this.started) * this.options.timeScale;
  }
}

export interface SimFleet extends Running {
  readonly agents: readonly NodeAgent[];
  readonly backends: readonly SimBackend[];
  readonly clock: SimClock;
}

export async function startSimFleet(config: AgentConfig, baseline: BaselinePolicy | undefined, log: Logger, bpfAvailable: boolean, hooks: AgentHooks = {}): Promise<SimFleet> {
  const setups = simNodeSetups(config);
  const clock = new SimClock({ timeScale: config.timeScale });
  const agents: NodeAgent[] = [];
  const backends: SimBackend[] = [];
  for (const setup of setups) {
    const memoryBytes = HARDWARE_MEMORY[setup.identity.hardware];
    const backend = new SimBackend({
      nodeId: setup.nodeId,
      abi: setup.identity.abi,
      memoryBytes,
      workloads: workloadsFor(setup.identity.mix, memoryBytes),
      sysfs: bootSysfs(config.simThp),
      seed: setup.identity.seed,
      tickMs: config.simTickMs,
    });
    const agent = new NodeAgent({
      nodeId: setup.nodeId,
      labels: setup.labels,
      kernelRelease: `${setup.labels['kernel'] ?? 'unknown'}-sim`,
      agentVersion: AGENT_VERSION,
      // A simulated node of a fleet can only be simulated; a single `--backend sim` node on a real machine could also run bpf.
      availableBackends: bpfAvailable && config.simNodes === 0 ? ['sim', 'bpf'] : ['sim'],
      backend,
      store: new StateStore(setup.stateDir),
      controller: config.controller,
      tls: config.tls,
      token: nodeToken(config.auth, setup.nodeId),
      backoff: config.backoff,
      keepaliveMs: config.keepaliveMs,
      keepaliveTimeoutMs: config.keepaliveTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      metricsIntervalMs: config.metricsIntervalMs,
      leaseTtlMs: config.leaseTtlMs,
      baseline,
      ...(hooks.nodeModePoint ? { nodeModePoint: (p: SequencePoint) => hooks.nodeModePoint!(setup.nodeId, p) } : {}),
      log: log.child({ node: setup.nodeId }),
    });
    clock.add(backend);
    backends.push(backend);
    agents.push(agent);
  }
  for (const agent of agents) await agent.start();
  clock.start();
  log.info('simulated nodes running', { nodes: agents.length, timeScale: config.timeScale, tickMs: config.simTickMs });
  return {
    agents,
    backends,
    clock,
    close: async () => {
      clock.stop();
      for (const agent of agents) await agent.close();
    },
  };
}
