/**
 * @thp-fleet/agent: the node agent (`thp-agent`). The process entry is main.ts; this module
 * exposes the parts other code composes or tests: configuration, the reconcile core, the
 * backends, one node's agent and the simulated fleet. docs/agent.md describes them.
 */
export { parseAgentConfig, configHelp, GRPC_CONNECTION_BACKOFF, BACKEND_CHOICES, type AgentConfig, type AgentAuth, type BackendChoice, type BackoffSettings, type ConfigProbe, type ConfigResult, type TlsSettings } from './config/agent.config.js';
export { parseDuration, formatDuration } from './config/duration.js';
export { Backoff } from './connection/backoff.js';
export { AgentConnection, type ConnectionHandlers, type ConnectionOptions } from './connection/agent.connection.js';
export { mintNodeToken, nodeToken } from './connection/node-token.js';
export { plan, type Action, type ActionKind, type Desired, type DesiredNone, type DesiredPolicy, type Observed } from './reconcile/plan.js';
export {
  Reconciler,
  StepError,
  type Enforcement,
  type NodeModeApplied,
  type NodeModeDrift,
  type NodeModePort,
  type NodeModeResult,
  type NodeModeTargetInput,
  type Outcome,
  type ReconcilerOptions,
  type StartResult,
} from './reconcile/reconciler.js';
export { sequencerNodeMode, SequencerNodeMode, toNodeSettings, type SequencerNodeModeOptions } from './reconcile/node-mode.adapter.js';
export { tablesContentHash, denyAllTables } from './reconcile/tables-hash.js';
export { BackendError, type AdoptedState, type Backend, type BackendObservation } from './backends/backend.js';
export { BpfBackend, bpfUnavailableReason, type BpfBackendOptions } from './backends/bpf.backend.js';
export { SimBackend, SimCgroups, type SimBackendOptions } from './backends/sim.backend.js';
export { SimSysfs } from './backends/sim-sysfs.js';
export { CgroupResolver, detectCgroupRoot, walkCgroupTree, cgroupIdOf, type CgroupSource } from './cgroups/cgroup.resolver.js';
export { diffCgroupTrees, cgroupChain, findCgroup2Mount, type CgroupEntry, type CgroupTree, type CgroupChange } from './cgroups/cgroup-tree.js';
export { PressureFeeder } from './pressure/pressure.feeder.js';
export { parsePsi, pressureCellValue, type Psi, type PsiLine } from './pressure/psi.js';
export { metricsInterval, type MetricPoint, type MetricsSample, type MetricsInterval } from './metrics/metrics-sample.js';
export { NodeMetricsCollector } from './metrics/node.metrics.js';
export { simMetricsSample } from './metrics/sim.metrics.js';
export { StateStore, type AppliedRecord, type AppliedSource } from './state/state.store.js';
export { Lease } from './lease/lease.js';
export { loadBaseline, type BaselinePolicy } from './lease/baseline.js';
export { NodeAgent, type NodeAgentOptions } from './agent/node.agent.js';
export { startSimFleet, SimClock, simNodeSetups, workloadsFor, bootSysfs, HARDWARE_MEMORY, type SimFleet } from './fleet/sim.fleet.js';
export { simNodeIdentity, simNodeId, type SimNodeIdentity } from './fleet/sim-identity.js';
export { run, startAgents, type AgentHooks, type Running } from './run.js';
