/**
 * The agent process: configuration, then either one node on this machine's kernel (bpf
 * backend), or one or many simulated nodes (sim backend), until SIGINT/SIGTERM. Closing
 * leaves pinned kernel state in place: enforcement survives the agent.
 */
import { readFileSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { detectKernel } from '@thp-fleet/bpf';
import { BpfBackend, bpfUnavailableReason } from './backends/bpf.backend.js';
import type { CgroupEntry } from './cgroups/cgroup-tree.js';
import { detectCgroupRoot } from './cgroups/cgroup.resolver.js';
import { parseAgentConfig, type AgentConfig } from './config/agent.config.js';
import { nodeToken } from './connection/node-token.js';
import { NodeAgent } from './agent/node.agent.js';
import { AGENT_VERSION } from './agent/version.js';
import { loadBaseline, type BaselinePolicy } from './lease/baseline.js';
import { createLogger, type Logger } from './log/logger.js';
import { ThpSysfsTree } from './node-mode/sysfs.js';
import { StateStore } from './state/state.store.js';
import { startSimFleet } from './fleet/sim.fleet.js';
import type { SequencePoint } from './node-mode/sequencer.js';

export interface Running {
  close(): Promise<void>;
}

/** Observation points for tests and tracing; the `thp-agent` process passes none. */
export interface AgentHooks {
  /** Every node-mode sysfs write, port call and journal write, with the node it happened on. */
  readonly nodeModePoint?: (nodeId: string, point: SequencePoint) => void | Promise<void>;
}

export async function run(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const parsed = parseAgentConfig(argv, env, { hostname, readFile: (path) => readFileSync(path) });
  if (parsed.ok === 'help') {
    process.stdout.write(`${parsed.text}\n`);
    return 0;
  }
  if (!parsed.ok) {
    process.stderr.write(`thp-agent: invalid configuration (${parsed.errors.length} problem${parsed.errors.length === 1 ? '' : 's'}):\n${parsed.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    return 2;
  }
  const config = parsed.config;
  let baseline: BaselinePolicy | undefined;
  if (config.baselinePolicyText !== undefined && config.baselinePolicyFile !== undefined) {
    const loaded = loadBaseline(config.baselinePolicyText, config.baselinePolicyFile);
    if (!loaded.ok) {
      process.stderr.write(`thp-agent: invalid baseline policy:\n${loaded.errors.map((e) => `  - ${e}`).join('\n')}\n`);
      return 2;
    }
    baseline = loaded.baseline;
  }
  const log = createLogger({ format: config.logFormat, level: config.logLevel });
  let running: Running;
  try {
    running = await startAgents(config, baseline, log);
  } catch (error) {
    log.error('cannot start', { error: (error as Error).message });
    return 1;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info('stopping (kernel pins, if any, stay in place: enforcement outlives the agent)', { signal });
  await running.close();
  return 0;
}

/** Start what the configuration asks for: the real node (bpf) or simulated nodes (sim). */
export async function startAgents(config: AgentConfig, baseline: BaselinePolicy | undefined, log: Logger, hooks: AgentHooks = {}): Promise<Running> {
  const support = detectKernel();
  const bpfProblem = bpfUnavailableReason(support);
  let backend = config.backend;
  if (config.simNodes > 0) backend = 'sim';
  if (backend === 'auto') {
    backend = support.hook !== 'absent' && bpfProblem === undefined ? 'bpf' : 'sim';
    log.info(`backend auto: ${backend}`, { hook: support.hook, detail: backend === 'bpf' ? support.detail : (bpfProblem ?? support.detail) });
  }
  if (backend === 'sim') return startSimFleet(config, baseline, log, bpfProblem === undefined, hooks);
  if (bpfProblem !== undefined) throw new Error(`--backend bpf: ${bpfProblem}`);
  return startKernelNode(config, baseline, log, support, hooks);
}

async function startKernelNode(config: AgentConfig, baseline: BaselinePolicy | undefined, log: Logger, support: ReturnType<typeof detectKernel>, hooks: AgentHooks): Promise<Running> {
  let cgroupRoot = config.cgroupRoot;
  if (cgroupRoot === undefined) {
    const found = detectCgroupRoot(config.procRoot);
    if (!found.ok) throw new Error(`cgroup v2: ${found.reason} (set --cgroup-root)`);
    cgroupRoot = found.root;
  }
  // Node mode writes this tree (the kernel's, or an imitation with --sysfs-root); without it
  // the agent could not honour any policy's node section, so it does not start.
  let sysfs: ThpSysfsTree;
  try {
    sysfs = await ThpSysfsTree.open({ root: config.sysfsRoot, allowKernelWrites: true });
    await sysfs.readSnapshot();
  } catch (error) {
    throw new Error(`THP sysfs at ${config.sysfsRoot} (--sysfs-root): ${(error as Error).message}`);
  }
  log.info('THP sysfs', { root: sysfs.root, kind: sysfs.kind });
  const nodeLog = log.child({ node: config.nodeId });
  // The cgroups reported in metrics: those the applied policy maps, up to the configured limit.
  // (The backend needs this before the agent that knows the policy exists, hence the holder.)
  const holder: { agent?: NodeAgent; backend?: BpfBackend } = {};
  const metricsCgroups = (): CgroupEntry[] => {
    const tables = holder.agent?.reconciler.tables();
    if (!tables || !holder.backend) return [];
    const tree = holder.backend.cgroups.current();
    const out: CgroupEntry[] = [];
    for (const id of tables.cgroupRules.keys()) {
      const entry = tree.get(id);
      if (entry) out.push(entry);
      if (out.length >= config.metricsCgroupLimit) break;
    }
    return out;
  };
  const backend = new BpfBackend({
    pinRoot: config.pinRoot,
    cgroupRoot,
    cgroupRescanMs: config.cgroupRescanMs,
    procRoot: config.procRoot,
    sysfsRoot: config.sysfsRoot,
    sysfs,
    pressureIntervalMs: config.pressureIntervalMs,
    metricsCgroups,
    log: nodeLog,
    support,
  });
  holder.backend = backend;
  const agent = new NodeAgent({
    nodeId: config.nodeId,
    labels: config.labels,
    kernelRelease: release(),
    agentVersion: AGENT_VERSION,
    availableBackends: ['bpf', 'sim'],
    backend,
    store: new StateStore(config.stateDir),
    controller: config.controller,
    tls: config.tls,
    token: nodeToken(config.auth, config.nodeId),
    backoff: config.backoff,
    keepaliveMs: config.keepaliveMs,
    keepaliveTimeoutMs: config.keepaliveTimeoutMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    metricsIntervalMs: config.metricsIntervalMs,
    leaseTtlMs: config.leaseTtlMs,
    baseline,
    ...(hooks.nodeModePoint ? { nodeModePoint: (p: SequencePoint) => hooks.nodeModePoint!(config.nodeId, p) } : {}),
    log: nodeLog,
  });
  holder.agent = agent;
  await agent.start();
  return { close: () => agent.close() };
}
