/**
 * The controller's configuration: read from the environment once, at start, into one typed
 * object. Every bad variable is reported together (`ConfigError.problems`), so an operator
 * fixes a deployment in one round instead of one variable per restart.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type DatabaseConfig =
  | { readonly kind: 'postgres'; readonly url: string; readonly poolSize: number }
  | { readonly kind: 'pglite'; readonly dataDir: string };

export interface GrpcTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** When set, agents must present a client certificate signed by this CA (mutual TLS). */
  readonly clientCaFile: string | null;
}

export interface IntervalConfig {
  /** How often agents send a Heartbeat (sent to them in Config). */
  readonly heartbeatMs: number;
  /** A node silent (no heartbeat, metrics or other message) for this long is marked stale. */
  readonly staleAfterMs: number;
  /** How often agents send a MetricsReport (sent to them in Config). */
  readonly metricsIntervalMs: number;
  /** How long an agent keeps enforcing without reaching the controller (sent in Config). */
  readonly leaseTtlMs: number;
  /** Metric samples older than this are deleted by the leader. */
  readonly metricRetentionMs: number;
  /** How often a replica that is not the leader tries to take leadership. */
  readonly leaderPollMs: number;
  /** How often each replica records that it is alive (GET /api/v1/cluster). */
  readonly replicaHeartbeatMs: number;
}

export interface ControllerConfig {
  readonly database: DatabaseConfig;
  readonly http: { readonly host: string; readonly port: number; readonly bodyLimitBytes: number };
  readonly grpc: { readonly host: string; readonly port: number; readonly tls: GrpcTlsConfig | null; readonly maxMessageBytes: number };
  readonly replicaId: string;
  /** Bootstrap admin API token (`thp_...`); null = create one on first start when no admin token exists. */
  readonly adminToken: string | null;
  /** HMAC secret for node tokens; null = generated once and kept in the database (cluster_settings). */
  readonly agentSecret: string | null;
  /** Static dashboard files served at `/` when the directory exists. */
  readonly dashboardDir: string | null;
  readonly intervals: IntervalConfig;
  readonly logLevel: LogLevel;
}

export interface ConfigProblem {
  readonly variable: string;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(`invalid controller configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** Defaults; the intervals are operational choices, not kernel constants (docs/controller.md explains them). */
export const DEFAULTS = {
  dataDir: './.data/controller',
  httpHost: '127.0.0.1',
  httpPort: 8080,
  grpcHost: '127.0.0.1',
  grpcPort: 8081,
  poolSize: 10,
  bodyLimitBytes: 1024 * 1024,
  grpcMaxMessageBytes: 4 * 1024 * 1024,
  heartbeatMs: 10_000,
  staleAfterMs: 35_000,
  metricsIntervalMs: 15_000,
  leaseTtlMs: 15 * 60_000,
  metricRetentionMs: 7 * 24 * 3_600_000,
  leaderPollMs: 1_000,
  replicaHeartbeatMs: 2_000,
} as const;

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "250ms", "10s", "5m", "24h", "7d" or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!match) return undefined;
  const value = Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1);
  return Number.isFinite(value) ? Math.round(value) : undefined;
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };

/** "512kb", "1mb" or a bare number of bytes. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+)\s*(b|kb|mb)?\s*$/i.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (SIZE_UNITS[(match[2] ?? 'b').toLowerCase()] ?? 1);
}

/** Shape of an API token: `thp_` and at least 32 more URL-safe characters. */
export const API_TOKEN_PATTERN = /^thp_[A-Za-z0-9_-]{32,}$/;

type Env = Readonly<Record<string, string | undefined>>;

/** Parse the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): ControllerConfig {
  const problems: ConfigProblem[] = [];
  const bad = (variable: string, message: string): void => {
    problems.push({ variable, message });
  };
  const text = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const port = (name: string, fallback: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value > 65_535) {
      bad(name, `must be a port number 0..65535 (0 picks a free port), got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const host = (name: string, fallback: string): string => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    if (!/^[A-Za-z0-9.:\-[\]]+$/.test(raw)) bad(name, `must be a host name or IP address, got "${raw}"`);
    return raw;
  };
  const duration = (name: string, fallback: number, min: number): number => {
    const raw = text(name);
    if (raw === undefined) return fallback;
    const value = parseDuration(raw);
    if (value === undefined) {
      bad(name, `must be a duration such as 500ms, 10s, 5m, 24h, 7d (or milliseconds), got "${raw}"`);
      return fallback;
    }
    if (value < min) {
      bad(name, `must be at least ${min} ms, got ${value} ms`);
      return fallback;
    }
    return value;
  };
  const readableFile = (name: string): string | null => {
    const raw = text(name);
    if (raw === undefined) return null;
    const path = resolve(raw);
    try {
      accessSync(path, constants.R_OK);
      if (!statSync(path).isFile()) bad(name, `${path} is not a file`);
    } catch {
      bad(name, `cannot read ${path}`);
    }
    return path;
  };

  // Database.
  let database: DatabaseConfig;
  const url = text('DATABASE_URL');
  if (url !== undefined) {
    let ok = false;
    try {
      const parsed = new URL(url);
      ok = parsed.protocol === 'postgres:' || parsed.protocol === 'postgresql:';
    } catch {
      ok = false;
    }
    if (!ok) bad('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
    let poolSize: number = DEFAULTS.poolSize;
    const rawPool = text('THP_DB_POOL_SIZE');
    if (rawPool !== undefined) {
      if (!/^\d+$/.test(rawPool) || Number(rawPool) < 2 || Number(rawPool) > 200) bad('THP_DB_POOL_SIZE', `must be an integer 2..200, got "${rawPool}"`);
      else poolSize = Number(rawPool);
    }
    database = { kind: 'postgres', url, poolSize };
  } else {
    database = { kind: 'pglite', dataDir: resolve(text('THP_DATA_DIR') ?? DEFAULTS.dataDir) };
  }

  // Listeners.
  let bodyLimitBytes: number = DEFAULTS.bodyLimitBytes;
  const rawLimit = text('THP_HTTP_BODY_LIMIT');
  if (rawLimit !== undefined) {
    const value = parseByteSize(rawLimit);
    if (value === undefined || value < 1024 || value > 64 * 1024 * 1024) bad('THP_HTTP_BODY_LIMIT', `must be a size 1kb..64mb such as 512kb or 1mb, got "${rawLimit}"`);
    else bodyLimitBytes = value;
  }
  const http = { host: host('THP_HTTP_HOST', DEFAULTS.httpHost), port: port('THP_HTTP_PORT', DEFAULTS.httpPort), bodyLimitBytes };

  const certFile = readableFile('THP_GRPC_TLS_CERT');
  const keyFile = readableFile('THP_GRPC_TLS_KEY');
  const clientCaFile = readableFile('THP_GRPC_TLS_CLIENT_CA');
  let tls: GrpcTlsConfig | null = null;
  if ((certFile === null) !== (keyFile === null)) {
    bad(certFile === null ? 'THP_GRPC_TLS_CERT' : 'THP_GRPC_TLS_KEY', 'THP_GRPC_TLS_CERT and THP_GRPC_TLS_KEY must be set together');
  } else if (certFile !== null && keyFile !== null) {
    tls = { certFile, keyFile, clientCaFile };
  }
  if (clientCaFile !== null && tls === null) bad('THP_GRPC_TLS_CLIENT_CA', 'mutual TLS needs THP_GRPC_TLS_CERT and THP_GRPC_TLS_KEY as well');
  const grpc = { host: host('THP_GRPC_HOST', DEFAULTS.grpcHost), port: port('THP_GRPC_PORT', DEFAULTS.grpcPort), tls, maxMessageBytes: DEFAULTS.grpcMaxMessageBytes };

  // Identity and secrets.
  const replicaId = text('THP_REPLICA_ID') ?? `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(replicaId)) bad('THP_REPLICA_ID', 'must be 1..100 characters of letters, digits, ".", "_", ":" or "-"');
  const adminToken = text('THP_ADMIN_TOKEN') ?? null;
  if (adminToken !== null && !API_TOKEN_PATTERN.test(adminToken)) bad('THP_ADMIN_TOKEN', 'must look like thp_ followed by at least 32 characters of [A-Za-z0-9_-]');
  const agentSecret = text('THP_AGENT_SECRET') ?? null;
  if (agentSecret !== null && agentSecret.length < 32) bad('THP_AGENT_SECRET', `must be at least 32 characters (got ${agentSecret.length})`);

  const dashboardRaw = text('THP_DASHBOARD_DIR');
  const dashboardDir = dashboardRaw === undefined ? null : resolve(dashboardRaw);

  const intervals: IntervalConfig = {
    heartbeatMs: duration('THP_HEARTBEAT_INTERVAL', DEFAULTS.heartbeatMs, 100),
    staleAfterMs: duration('THP_STALE_AFTER', DEFAULTS.staleAfterMs, 300),
    metricsIntervalMs: duration('THP_METRICS_INTERVAL', DEFAULTS.metricsIntervalMs, 100),
    leaseTtlMs: duration('THP_LEASE_TTL', DEFAULTS.leaseTtlMs, 1_000),
    metricRetentionMs: duration('THP_METRIC_RETENTION', DEFAULTS.metricRetentionMs, 60_000),
    leaderPollMs: duration('THP_LEADER_POLL', DEFAULTS.leaderPollMs, 50),
    replicaHeartbeatMs: duration('THP_REPLICA_HEARTBEAT', DEFAULTS.replicaHeartbeatMs, 100),
  };
  if (intervals.staleAfterMs <= 2 * intervals.heartbeatMs && text('THP_STALE_AFTER') !== undefined) {
    bad('THP_STALE_AFTER', `must exceed twice THP_HEARTBEAT_INTERVAL (${intervals.heartbeatMs} ms) so one lost heartbeat does not mark a node stale`);
  } else if (intervals.staleAfterMs <= 2 * intervals.heartbeatMs) {
    bad('THP_HEARTBEAT_INTERVAL', `must be less than half of THP_STALE_AFTER (${intervals.staleAfterMs} ms)`);
  }

  const rawLevel = text('THP_LOG_LEVEL') ?? 'info';
  const logLevel = LOG_LEVELS.find((level) => level === rawLevel);
  if (logLevel === undefined) bad('THP_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${rawLevel}"`);

  if (problems.length > 0) throw new ConfigError(problems);
  return { database, http, grpc, replicaId, adminToken, agentSecret, dashboardDir, intervals, logLevel: logLevel ?? 'info' };
}
