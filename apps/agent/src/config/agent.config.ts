/**
 * The agent's configuration: one typed object, parsed once at start from command-line flags
 * and environment variables (a flag wins over its variable). Parsing never stops at the first
 * problem: it returns every bad setting, each naming the flag or variable it came from.
 *
 * The parser is pure apart from the injected `ConfigProbe` (host name and file reads), so it
 * is tested without touching the machine.
 */
import { parseArgs } from 'node:util';
import { WORKLOAD_MIXES, type WorkloadMix } from '../fleet/sim-identity.js';
import { formatDuration, parseDuration } from './duration.js';

export type BackendChoice = 'bpf' | 'sim' | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['bpf', 'sim', 'auto'];

export type LogFormat = 'text' | 'json';
export type SimThpMode = 'always' | 'madvise' | 'never';
/** Workloads of simulated nodes: one mix on every node, or `varied` (each node's from its index, see sim-identity.ts). */
export type SimMix = WorkloadMix | 'varied';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Reconnect backoff. Defaults are gRPC's connection-backoff parameters
 * (https://github.com/grpc/grpc/blob/master/doc/connection-backoff.md):
 * INITIAL_BACKOFF 1 s, MULTIPLIER 1.6, JITTER 0.2, MAX_BACKOFF 120 s.
 */
export interface BackoffSettings {
  readonly initialMs: number;
  readonly multiplier: number;
  readonly jitter: number;
  readonly maxMs: number;
}
export const GRPC_CONNECTION_BACKOFF: BackoffSettings = { initialMs: 1000, multiplier: 1.6, jitter: 0.2, maxMs: 120_000 };

/** TLS material, read at start so a missing file fails fast. Absent = plaintext (development only). */
export interface TlsSettings {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Override of the name checked against the server certificate. */
  readonly serverName?: string;
}

/** How the agent proves its node identity: a token given to it, or the shared agent secret to mint tokens. */
export type AgentAuth = { readonly kind: 'token'; readonly token: string } | { readonly kind: 'secret'; readonly secret: string };

export interface AgentConfig {
  /** gRPC target of the controller, e.g. `127.0.0.1:8081`. */
  readonly controller: string;
  /** This node's id; with `simNodes > 0`, the prefix of the simulated nodes' ids. */
  readonly nodeId: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly backend: BackendChoice;
  readonly stateDir: string;
  readonly tls: TlsSettings | undefined;
  readonly auth: AgentAuth;
  readonly metricsIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly pressureIntervalMs: number;
  readonly cgroupRescanMs: number;
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  readonly backoff: BackoffSettings;
  /** Simulated seconds per wall-clock second (sim backend). */
  readonly timeScale: number;
  /** Simulator tick in simulated milliseconds (sim backend; libs/mm-sim allows 1..2000). */
  readonly simTickMs: number;
  /** THP `enabled` of simulated nodes at boot (sim backend). */
  readonly simThp: SimThpMode;
  /** Workload mix of simulated nodes (sim backend). */
  readonly simMix: SimMix;
  /** 0: this process is one node. N > 0: host N simulated nodes `<nodeId>-001` .. */
  readonly simNodes: number;
  readonly simSeed: number;
  readonly sysfsRoot: string;
  /** cgroup v2 mount; undefined = find it in /proc/self/mounts. */
  readonly cgroupRoot: string | undefined;
  readonly procRoot: string;
  readonly pinRoot: string;
  /** Opt-in fail-safe lease; undefined = off (a controller outage never changes enforcement). */
  readonly leaseTtlMs: number | undefined;
  /** The baseline policy file (YAML or JSON) applied when the lease ends. */
  readonly baselinePolicyFile: string | undefined;
  readonly baselinePolicyText: string | undefined;
  /** Most cgroups reported per metrics interval. */
  readonly metricsCgroupLimit: number;
  readonly logFormat: LogFormat;
  readonly logLevel: LogLevel;
}

export interface ConfigProbe {
  hostname(): string;
  /** Read a file; throws with the OS error when it cannot. */
  readFile(path: string): Buffer;
}

export type ConfigResult = { readonly ok: true; readonly config: AgentConfig } | { readonly ok: false; readonly errors: readonly string[] } | { readonly ok: 'help'; readonly text: string };

interface FlagSpec {
  readonly flag: string;
  readonly env: string | undefined;
  readonly multiple?: boolean;
  readonly boolean?: boolean;
  readonly help: string;
}

/** Every flag, its variable and its help line; `--help` prints this table. */
const FLAGS = {
  controller: { flag: 'controller', env: 'THP_AGENT_CONTROLLER', help: 'controller gRPC address host:port (required)' },
  nodeId: { flag: 'node-id', env: 'THP_AGENT_NODE_ID', help: 'node id (default: host name); with --sim-nodes, the id prefix (default "sim")' },
  label: { flag: 'label', env: undefined, multiple: true, help: 'label k=v (repeatable)' },
  labels: { flag: 'labels', env: 'THP_AGENT_LABELS', help: 'labels k=v,k2=v2' },
  backend: { flag: 'backend', env: 'THP_AGENT_BACKEND', help: 'bpf | sim | auto (default auto: bpf where the kernel has the hook, else sim)' },
  stateDir: { flag: 'state-dir', env: 'THP_AGENT_STATE_DIR', help: 'state directory (default /var/lib/thp-agent)' },
  tlsCa: { flag: 'tls-ca', env: 'THP_AGENT_TLS_CA', help: 'CA certificate file (PEM); enables TLS' },
  tlsCert: { flag: 'tls-cert', env: 'THP_AGENT_TLS_CERT', help: 'client certificate file for mutual TLS (PEM)' },
  tlsKey: { flag: 'tls-key', env: 'THP_AGENT_TLS_KEY', help: 'client key file for mutual TLS (PEM)' },
  tlsServerName: { flag: 'tls-server-name', env: 'THP_AGENT_TLS_SERVER_NAME', help: 'server name to verify instead of the address host' },
  tokenFile: { flag: 'token-file', env: 'THP_AGENT_TOKEN_FILE', help: 'file holding this node\'s token (or set THP_AGENT_TOKEN)' },
  token: { flag: undefined, env: 'THP_AGENT_TOKEN', help: 'this node\'s token <nodeId>.<signature>' },
  secret: { flag: undefined, env: 'THP_AGENT_SECRET', help: 'agent secret: mint node tokens (required with --sim-nodes)' },
  metricsInterval: { flag: 'metrics-interval', env: 'THP_AGENT_METRICS_INTERVAL', help: 'metrics report interval (default 10s)' },
  heartbeatInterval: { flag: 'heartbeat-interval', env: 'THP_AGENT_HEARTBEAT_INTERVAL', help: 'heartbeat interval (default 5s)' },
  pressureInterval: { flag: 'pressure-interval', env: 'THP_AGENT_PRESSURE_INTERVAL', help: 'PSI read interval (default 1s)' },
  cgroupRescan: { flag: 'cgroup-rescan', env: 'THP_AGENT_CGROUP_RESCAN', help: 'full cgroup tree rescan interval besides inotify (default 5s)' },
  keepalive: { flag: 'keepalive', env: 'THP_AGENT_KEEPALIVE', help: 'HTTP/2 keepalive ping interval (default 30s)' },
  keepaliveTimeout: { flag: 'keepalive-timeout', env: 'THP_AGENT_KEEPALIVE_TIMEOUT', help: 'keepalive ping timeout (default 10s)' },
  backoffInitial: { flag: 'backoff-initial', env: 'THP_AGENT_BACKOFF_INITIAL', help: 'first reconnect delay (default 1s)' },
  backoffMax: { flag: 'backoff-max', env: 'THP_AGENT_BACKOFF_MAX', help: 'longest reconnect delay (default 120s)' },
  backoffMultiplier: { flag: 'backoff-multiplier', env: 'THP_AGENT_BACKOFF_MULTIPLIER', help: 'reconnect delay growth (default 1.6)' },
  backoffJitter: { flag: 'backoff-jitter', env: 'THP_AGENT_BACKOFF_JITTER', help: 'reconnect delay jitter fraction 0..1 (default 0.2)' },
  timeScale: { flag: 'time-scale', env: 'THP_AGENT_TIME_SCALE', help: 'sim: simulated seconds per wall second (default 1)' },
  simTick: { flag: 'sim-tick', env: 'THP_AGENT_SIM_TICK', help: 'sim: simulator tick in simulated time, 1ms..2s (default 1s)' },
  simThp: { flag: 'sim-thp', env: 'THP_AGENT_SIM_THP', help: 'sim: THP enabled of simulated nodes at boot: always | madvise | never (default never: a policy node section turns THP on)' },
  simMix: { flag: 'sim-mix', env: 'THP_AGENT_SIM_MIX', help: 'sim: workloads of simulated nodes: varied (standard, jvm-heavy and kv-heavy by node) | standard | jvm-heavy | kv-heavy (default varied)' },
  simNodes: { flag: 'sim-nodes', env: 'THP_AGENT_SIM_NODES', help: 'host N simulated nodes in this process (default 0)' },
  simSeed: { flag: 'sim-seed', env: 'THP_AGENT_SIM_SEED', help: 'sim: seed of the first simulated node (default 1)' },
  sysfsRoot: { flag: 'sysfs-root', env: 'THP_AGENT_SYSFS_ROOT', help: 'THP sysfs directory (default /sys/kernel/mm/transparent_hugepage)' },
  cgroupRoot: { flag: 'cgroup-root', env: 'THP_AGENT_CGROUP_ROOT', help: 'cgroup v2 mount (default: found in /proc/self/mounts)' },
  procRoot: { flag: 'proc-root', env: 'THP_AGENT_PROC_ROOT', help: 'procfs mount (default /proc)' },
  pinRoot: { flag: 'pin-root', env: 'THP_AGENT_PIN_ROOT', help: 'bpffs pin directory (default /sys/fs/bpf/thp-fleet)' },
  leaseTtl: { flag: 'lease-ttl', env: 'THP_AGENT_LEASE_TTL', help: 'fail-safe lease: apply the baseline after this long without the controller (default off)' },
  baselinePolicy: { flag: 'baseline-policy', env: 'THP_AGENT_BASELINE_POLICY', help: 'policy file the fail-safe lease applies' },
  metricsCgroupLimit: { flag: 'metrics-cgroup-limit', env: 'THP_AGENT_METRICS_CGROUP_LIMIT', help: 'most cgroups per metrics report (default 64)' },
  logFormat: { flag: 'log-format', env: 'THP_AGENT_LOG_FORMAT', help: 'text | json (default text)' },
  logLevel: { flag: 'log-level', env: 'THP_AGENT_LOG_LEVEL', help: 'debug | info | warn | error (default info)' },
  help: { flag: 'help', env: undefined, boolean: true, help: 'print this help' },
} as const satisfies Record<string, Omit<FlagSpec, 'flag'> & { flag: string | undefined }>;

type Key = keyof typeof FLAGS;

export function configHelp(): string {
  const lines = ['usage: thp-agent --controller host:port [options]', ''];
  for (const spec of Object.values(FLAGS)) {
    const name = spec.flag ? `--${spec.flag}` : '';
    const env = spec.env ? `$${spec.env}` : '';
    lines.push(`  ${[name, env].filter(Boolean).join(', ').padEnd(50)} ${spec.help}`);
  }
  return lines.join('\n');
}

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/;
const LABEL_KEY = /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}\/)?[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

/** Parse argv (without node and script) and the environment into an AgentConfig, or every error. */
export function parseAgentConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, probe: ConfigProbe): ConfigResult {
  const errors: string[] = [];
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  const flagToKey = new Map<string, Key>();
  for (const [key, spec] of Object.entries(FLAGS) as [Key, FlagSpec | (typeof FLAGS)[Key]][]) {
    if (!spec.flag) continue;
    options[spec.flag] = { type: 'boolean' in spec && spec.boolean ? 'boolean' : 'string', ...('multiple' in spec && spec.multiple ? { multiple: true } : {}) };
    flagToKey.set(spec.flag, key);
  }
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
  const flagValues = new Map<Key, string[]>();
  for (const token of tokens) {
    if (token.kind === 'positional') {
      errors.push(`unexpected argument "${token.value}"`);
      continue;
    }
    if (token.kind !== 'option') continue;
    const key = flagToKey.get(token.name);
    if (!key) {
      errors.push(`${token.rawName}: unknown flag (see --help)`);
      continue;
    }
    const spec: FlagSpec | (typeof FLAGS)[Key] = FLAGS[key];
    if ('boolean' in spec && spec.boolean) {
      flagValues.set(key, ['true']);
      continue;
    }
    if (typeof token.value !== 'string') {
      errors.push(`${token.rawName}: needs a value`);
      continue;
    }
    const list = flagValues.get(key) ?? [];
    list.push(token.value);
    flagValues.set(key, list);
  }
  if (flagValues.has('help')) return { ok: 'help', text: configHelp() };

  /** The raw text of a setting and where it came from (flag wins; the last repeat of a flag wins). */
  const raw = (key: Key): { value: string; where: string } | undefined => {
    const spec: FlagSpec | (typeof FLAGS)[Key] = FLAGS[key];
    const fromFlag = flagValues.get(key);
    if (fromFlag && fromFlag.length > 0 && spec.flag) return { value: fromFlag[fromFlag.length - 1]!, where: `--${spec.flag}` };
    if (spec.env) {
      const fromEnv = env[spec.env];
      if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, where: `$${spec.env}` };
    }
    return undefined;
  };
  const duration = (key: Key, fallback: number, min: number, max: number): number => {
    const r = raw(key);
    if (!r) return fallback;
    const parsed = parseDuration(r.value);
    if (!parsed.ok) {
      errors.push(`${r.where}: ${parsed.message}`);
      return fallback;
    }
    if (parsed.ms < min || parsed.ms > max) {
      errors.push(`${r.where}: ${formatDuration(parsed.ms)} is outside ${formatDuration(min)}..${formatDuration(max)}`);
      return fallback;
    }
    return parsed.ms;
  };
  const number = (key: Key, fallback: number, min: number, max: number, integer: boolean): number => {
    const r = raw(key);
    if (!r) return fallback;
    const value = Number(r.value);
    if (r.value.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      errors.push(`${r.where}: "${r.value}" is not ${integer ? 'an integer' : 'a number'}`);
      return fallback;
    }
    if (value < min || value > max) {
      errors.push(`${r.where}: ${value} is outside ${min}..${max}`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(key: Key, choices: readonly T[], fallback: T): T => {
    const r = raw(key);
    if (!r) return fallback;
    if ((choices as readonly string[]).includes(r.value)) return r.value as T;
    errors.push(`${r.where}: "${r.value}" is not one of ${choices.join(', ')}`);
    return fallback;
  };
  const path = (key: Key, fallback: string): string => {
    const r = raw(key);
    if (!r) return fallback;
    if (!r.value.startsWith('/')) {
      errors.push(`${r.where}: "${r.value}" must be an absolute path`);
      return fallback;
    }
    return r.value.length > 1 ? r.value.replace(/\/+$/, '') : r.value;
  };
  const file = (key: Key): { path: string; content: Buffer } | undefined => {
    const r = raw(key);
    if (!r) return undefined;
    try {
      return { path: r.value, content: probe.readFile(r.value) };
    } catch (error) {
      errors.push(`${r.where}: cannot read "${r.value}": ${(error as Error).message}`);
      return undefined;
    }
  };

  // --- identity and controller -------------------------------------------------------------
  const controllerRaw = raw('controller');
  let controller = '';
  if (!controllerRaw) errors.push('--controller / $THP_AGENT_CONTROLLER: required (the controller gRPC address host:port)');
  else {
    const problem = checkTarget(controllerRaw.value);
    if (problem) errors.push(`${controllerRaw.where}: ${problem}`);
    else controller = controllerRaw.value;
  }

  const simNodes = number('simNodes', 0, 0, 10_000, true);
  const nodeIdRaw = raw('nodeId');
  const nodeId = nodeIdRaw?.value ?? (simNodes > 0 ? 'sim' : probe.hostname());
  if (!NODE_ID.test(nodeId) || nodeId.length > 200) {
    errors.push(`${nodeIdRaw?.where ?? 'node id from the host name'}: "${nodeId}" is not a valid node id (letters, digits, "-", "_", dot-separated; at most 200)`);
  }

  const labels: Record<string, string> = {};
  const labelSources: { value: string; where: string }[] = [];
  const fromLabels = raw('labels');
  if (fromLabels) for (const part of fromLabels.value.split(',')) if (part.trim() !== '') labelSources.push({ value: part.trim(), where: fromLabels.where });
  for (const value of flagValues.get('label') ?? []) labelSources.push({ value, where: '--label' });
  for (const { value, where } of labelSources) {
    const eq = value.indexOf('=');
    const k = eq < 0 ? value : value.slice(0, eq);
    const v = eq < 0 ? undefined : value.slice(eq + 1);
    if (v === undefined) errors.push(`${where}: "${value}" is not k=v`);
    else if (!LABEL_KEY.test(k)) errors.push(`${where}: label key "${k}" is not a valid label key`);
    else if (!LABEL_VALUE.test(v)) errors.push(`${where}: label value "${v}" of "${k}" is not a valid label value (at most 63 of letters, digits, "-", "_", ".")`);
    else labels[k] = v;
  }

  const backend = oneOf('backend', BACKEND_CHOICES, 'auto');
  if (simNodes > 0 && backend === 'bpf') errors.push('--backend bpf with --sim-nodes: simulated nodes use the sim backend (use --backend sim or auto)');

  // --- credentials ---------------------------------------------------------------------------
  const tokenRaw = raw('token');
  const tokenFile = file('tokenFile');
  const secretRaw = raw('secret');
  let auth: AgentAuth = { kind: 'secret', secret: '' };
  const tokenText = tokenFile ? tokenFile.content.toString('utf8').trim() : tokenRaw?.value.trim();
  if (tokenRaw && tokenFile) errors.push('$THP_AGENT_TOKEN and --token-file: give one of them');
  if (tokenText !== undefined && secretRaw) errors.push('a node token and $THP_AGENT_SECRET: give one of them');
  if (tokenText !== undefined) {
    if (simNodes > 0) errors.push('a node token with --sim-nodes: each simulated node needs its own token; set $THP_AGENT_SECRET instead');
    const dot = tokenText.lastIndexOf('.');
    const where = tokenFile ? `--token-file ${tokenFile.path}` : '$THP_AGENT_TOKEN';
    if (dot <= 0 || dot === tokenText.length - 1) errors.push(`${where}: not a node token <nodeId>.<signature>`);
    else if (tokenText.slice(0, dot) !== nodeId) errors.push(`${where}: the token is for node "${tokenText.slice(0, dot)}", this node is "${nodeId}"`);
    auth = { kind: 'token', token: tokenText };
  } else if (secretRaw) {
    if (secretRaw.value.length < 16) errors.push('$THP_AGENT_SECRET: shorter than 16 characters');
    auth = { kind: 'secret', secret: secretRaw.value };
  } else {
    errors.push('no credentials: set $THP_AGENT_TOKEN, --token-file or $THP_AGENT_SECRET');
  }

  // --- TLS -----------------------------------------------------------------------------------
  const ca = file('tlsCa');
  const cert = file('tlsCert');
  const key = file('tlsKey');
  const serverName = raw('tlsServerName')?.value;
  if ((raw('tlsCert') !== undefined) !== (raw('tlsKey') !== undefined)) {
    errors.push('--tls-cert and --tls-key: give both for mutual TLS, or neither');
  }
  const tlsWanted = raw('tlsCa') || raw('tlsCert') || raw('tlsKey') || serverName !== undefined;
  const tls: TlsSettings | undefined = tlsWanted
    ? {
        ...(ca ? { ca: ca.content } : {}),
        ...(cert ? { cert: cert.content } : {}),
        ...(key ? { key: key.content } : {}),
        ...(serverName !== undefined ? { serverName } : {}),
      }
    : undefined;

  // --- intervals and backoff -----------------------------------------------------------------
  const metricsIntervalMs = duration('metricsInterval', 10_000, 100, 3_600_000);
  const heartbeatIntervalMs = duration('heartbeatInterval', 5_000, 100, 600_000);
  const pressureIntervalMs = duration('pressureInterval', 1_000, 50, 60_000);
  const cgroupRescanMs = duration('cgroupRescan', 5_000, 50, 3_600_000);
  const keepaliveMs = duration('keepalive', 30_000, 1_000, 3_600_000);
  const keepaliveTimeoutMs = duration('keepaliveTimeout', 10_000, 100, 600_000);
  const backoff: BackoffSettings = {
    initialMs: duration('backoffInitial', GRPC_CONNECTION_BACKOFF.initialMs, 1, 3_600_000),
    maxMs: duration('backoffMax', GRPC_CONNECTION_BACKOFF.maxMs, 1, 86_400_000),
    multiplier: number('backoffMultiplier', GRPC_CONNECTION_BACKOFF.multiplier, 1, 100, false),
    jitter: number('backoffJitter', GRPC_CONNECTION_BACKOFF.jitter, 0, 1, false),
  };
  if (backoff.maxMs < backoff.initialMs) errors.push(`--backoff-max ${formatDuration(backoff.maxMs)} is shorter than --backoff-initial ${formatDuration(backoff.initialMs)}`);

  // --- simulator -----------------------------------------------------------------------------
  const timeScale = number('timeScale', 1, 0.001, 100_000, false);
  // libs/mm-sim NodeConfig.tickMs: 1..2000 ms.
  const simTickMs = duration('simTick', 1_000, 1, 2_000);
  // Default never: simulated nodes boot like a cautious fleet, THP off until a policy's node section turns it on.
  const simThp = oneOf<SimThpMode>('simThp', ['always', 'madvise', 'never'], 'never');
  const simMix = oneOf<SimMix>('simMix', ['varied', ...WORKLOAD_MIXES], 'varied');
  const simSeed = number('simSeed', 1, 0, 0xffffffff, true);

  // --- paths ---------------------------------------------------------------------------------
  const stateDir = path('stateDir', '/var/lib/thp-agent');
  const sysfsRoot = path('sysfsRoot', '/sys/kernel/mm/transparent_hugepage');
  const cgroupRootRaw = raw('cgroupRoot');
  const cgroupRoot = cgroupRootRaw ? path('cgroupRoot', '/') : undefined;
  const procRoot = path('procRoot', '/proc');
  const pinRoot = path('pinRoot', '/sys/fs/bpf/thp-fleet');

  // --- fail-safe lease -------------------------------------------------------------------------
  const leaseRaw = raw('leaseTtl');
  const leaseTtlMs = leaseRaw ? duration('leaseTtl', 0, 1_000, 30 * 86_400_000) : undefined;
  const baseline = file('baselinePolicy');
  if (leaseRaw && !raw('baselinePolicy')) errors.push(`${leaseRaw.where}: the fail-safe lease needs --baseline-policy (the policy it falls back to)`);
  if (!leaseRaw && raw('baselinePolicy')) errors.push('--baseline-policy without --lease-ttl: the baseline is only used when the lease ends');

  const metricsCgroupLimit = number('metricsCgroupLimit', 64, 0, 100_000, true);
  const logFormat = oneOf<LogFormat>('logFormat', ['text', 'json'], 'text');
  const logLevel = oneOf('logLevel', LOG_LEVELS, 'info');

  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: {
      controller,
      nodeId,
      labels,
      backend,
      stateDir,
      tls,
      auth,
      metricsIntervalMs,
      heartbeatIntervalMs,
      pressureIntervalMs,
      cgroupRescanMs,
      keepaliveMs,
      keepaliveTimeoutMs,
      backoff,
      timeScale,
      simTickMs,
      simThp,
      simMix,
      simNodes,
      simSeed,
      sysfsRoot,
      cgroupRoot,
      procRoot,
      pinRoot,
      leaseTtlMs,
      baselinePolicyFile: baseline?.path,
      baselinePolicyText: baseline?.content.toString('utf8'),
      metricsCgroupLimit,
      logFormat,
      logLevel,
    },
  };
}

/** A gRPC target: `host:port`, `[v6]:port`, `dns:///host:port` or `unix:/path`; returns the problem or undefined. */
function checkTarget(target: string): string | undefined {
  if (target.startsWith('unix:')) return target.length > 5 ? undefined : 'empty unix socket path';
  const hostPort = target.startsWith('dns:///') ? target.slice(7) : target;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d+)$/.exec(hostPort);
  if (!match) return `"${target}" is not host:port`;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return `port ${port} is outside 1..65535`;
  return undefined;
}
