/**
 * The world the rollout end-to-end tests run in: the real controller process (main.ts, on the
 * real Postgres from @thp-fleet/testing), a real agent process hosting a simulated fleet
 * (`thp-agent --sim-nodes N`, libs/mm-sim in accelerated time), and a REST client. Only public
 * surfaces: processes, environment, stdout, signals, REST. No app code is imported.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestDatabase } from '@thp-fleet/testing';

const CONTROLLER_MAIN = fileURLToPath(new URL('../../apps/controller/src/main.ts', import.meta.url));
const AGENT_MAIN = fileURLToPath(new URL('../../apps/agent/src/main.ts', import.meta.url));
export const EXAMPLE_POLICY = (name: string): string => readFileSync(fileURLToPath(new URL(`../../libs/policy/examples/${name}.yaml`, import.meta.url)), 'utf8');

/** Run TypeScript sources of the workspace, as the package scripts do. */
const NODE_ARGS = ['--conditions=@thp-fleet/source', '--import', 'tsx'];

/** A free TCP port on loopback (so a restarted controller listens where the agents reconnect). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Processes {
  readonly output: string[];
  /** SIGKILL is a crash, SIGTERM a clean stop; resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  readonly pid: number;
}

function track(child: ChildProcess, output: string[]): { exited: Promise<void> } {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString().split('\n')) if (line.trim() !== '') output.push(line);
    if (output.length > 5_000) output.splice(0, output.length - 5_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { exited };
}

export interface ControllerProcess extends Processes {
  readonly httpUrl: string;
  readonly grpcAddress: string;
}

export interface Secrets {
  readonly adminToken: string;
  readonly agentSecret: string;
}

export function newSecrets(): Secrets {
  return { adminToken: `thp_${randomBytes(24).toString('base64url')}`, agentSecret: randomBytes(32).toString('base64url') };
}

/** The controller process, ready (it printed where it listens). */
export async function startController(options: { db: TestDatabase; secrets: Secrets; grpcPort: number; env?: Record<string, string> }): Promise<ControllerProcess> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? tmpdir(),
    THP_ADMIN_TOKEN: options.secrets.adminToken,
    THP_AGENT_SECRET: options.secrets.agentSecret,
    THP_HTTP_PORT: '0',
    THP_GRPC_PORT: String(options.grpcPort),
    THP_METRICS_INTERVAL: '500ms',
    THP_HEARTBEAT_INTERVAL: '500ms',
    THP_STALE_AFTER: '15s',
    THP_LEADER_POLL: '200ms',
    THP_LOG_LEVEL: 'warn',
    THP_ROLLOUT_INTERVAL: '250ms',
    THP_ROLLOUT_ACK_TIMEOUT: '60s',
    ...(options.db.kind === 'postgres' ? { DATABASE_URL: options.db.url } : { THP_DATA_DIR: options.db.dataDir }),
    ...options.env,
  };
  const child = spawn(process.execPath, [...NODE_ARGS, CONTROLLER_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const { exited } = track(child, output);
  const ready = new Promise<{ httpUrl: string; grpcAddress: string }>((resolve, reject) => {
    let httpUrl: string | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        httpUrl ??= /REST \+ dashboard:\s+(\S+)/.exec(line)?.[1];
        const grpc = /agent gRPC:\s+(\S+)/.exec(line)?.[1];
        if (grpc && httpUrl) resolve({ httpUrl, grpcAddress: grpc });
      }
    });
    child.once('exit', (code, signal) => reject(new Error(`controller exited (${code ?? signal}) before it was ready:\n${output.join('\n')}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 90_000);
  try {
    const { httpUrl, grpcAddress } = await ready;
    return {
      httpUrl,
      grpcAddress,
      output,
      pid: child.pid ?? -1,
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
  } finally {
    clearTimeout(timeout);
  }
}

export interface AgentFleet extends Processes {
  readonly stateDir: string;
}

/**
 * One agent process hosting `nodes` simulated nodes (ids sim-001...), in accelerated time: every
 * wall second is `timeScale` simulated seconds. The nodes boot with THP never (the agent's
 * default): a policy's node section is what turns THP on.
 */
export function startSimFleet(options: { grpcAddress: string; secrets: Secrets; nodes: number; timeScale: number; seed?: number; extraArgs?: readonly string[] }): AgentFleet {
  const stateDir = mkdtempSync(join(tmpdir(), 'thp-rollout-e2e-agent-'));
  const args = [
    ...NODE_ARGS,
    AGENT_MAIN,
    '--controller',
    options.grpcAddress,
    '--sim-nodes',
    String(options.nodes),
    '--time-scale',
    String(options.timeScale),
    '--sim-seed',
    String(options.seed ?? 1),
    '--state-dir',
    stateDir,
    '--backoff-initial',
    '200ms',
    '--backoff-max',
    '2s',
    '--keepalive',
    '2s',
    '--keepalive-timeout',
    '1s',
    '--log-level',
    'warn',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), THP_AGENT_SECRET: options.secrets.agentSecret }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const { exited } = track(child, output);
  return {
    stateDir,
    output,
    pid: child.pid ?? -1,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return -- REST bodies are untyped JSON the tests check with expect() */
export interface Reply {
  readonly status: number;
  readonly body: any;
}

export class Rest {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call(method: string, path: string, body?: { json: unknown } | { yaml: string }, headers: Record<string, string> = {}): Promise<Reply> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${this.token}`, ...headers } };
    if (body && 'json' in body) {
      init.body = JSON.stringify(body.json);
      init.headers = { ...init.headers, 'content-type': 'application/json' };
    } else if (body) {
      init.body = body.yaml;
      init.headers = { ...init.headers, 'content-type': 'application/yaml' };
    }
    const response = await fetch(`${this.baseUrl}${path}`, init);
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  get(path: string): Promise<Reply> {
    return this.call('GET', path);
  }

  post(path: string, json?: unknown): Promise<Reply> {
    return this.call('POST', path, json === undefined ? undefined : { json });
  }

  async createPolicy(yaml: string): Promise<{ name: string; version: number }> {
    const r = await this.call('POST', '/api/v1/policies', { yaml });
    if (r.status !== 201) throw new Error(`create policy: ${r.status} ${JSON.stringify(r.body)}`);
    return { name: r.body.version.policy, version: r.body.version.version };
  }

  async nodes(): Promise<any[]> {
    const r = await this.get('/api/v1/nodes');
    if (r.status !== 200) throw new Error(`nodes: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.nodes;
  }

  async rollout(id: string): Promise<any> {
    const r = await this.get(`/api/v1/rollouts/${id}?events=1000`);
    if (r.status !== 200) throw new Error(`rollout ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async audit(query: string): Promise<any[]> {
    const r = await this.get(`/api/v1/audit?${query}&limit=1000`);
    if (r.status !== 200) throw new Error(`audit: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.entries;
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return */

/** The judgments of a rollout as lines (per attempt and metric: verdict, effect, interval, tolerance, sample sizes), for the test log. */
export function judgmentLines(label: string, detail: { rollout: { id: string; phase: string; reason: string | null }; judgments: readonly Record<string, unknown>[] }): string[] {
  const fmt = (x: unknown): string => (typeof x === 'number' ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(3)) : 'n/a');
  const lines = [`[rollout e2e] ${label}: ${detail.rollout.id} ${detail.rollout.phase}${detail.rollout.reason ? ` (${detail.rollout.reason.slice(0, 300)})` : ''}`];
  for (const j of detail.judgments) {
    const interval = j['interval'] as { low: unknown; high: unknown } | undefined;
    lines.push(
      `  step ${String(j['step'])} attempt ${String(j['attempt'])} ${String(j['metric'])}: ${String(j['verdict'])} ${String(j['method'])} statistic=${fmt(j['statistic'])} effect=${fmt(j['effect'])} interval=[${fmt(interval?.low)}, ${fmt(interval?.high)}] tolerance=${fmt(j['threshold'])} n=${String(j['nCanary'])}/${String(j['nBaseline'])}`,
    );
  }
  return lines;
}

/**
 * Server-sent events of one type from the controller (`/api/v1/events?types=`), collected until
 * `close()`, as a browser's EventSource would receive them.
 */
export function collectEvents(baseUrl: string, token: string, type: string): { readonly events: { readonly type: string; readonly data: Record<string, unknown> }[]; close(): void } {
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const abort = new AbortController();
  void (async () => {
    const response = await fetch(`${baseUrl}/api/v1/events?types=${type}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    if (!response.body) return;
    const reader = response.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const chunk = (await reader.read()) as { done: true; value?: undefined } | { done: false; value: Uint8Array };
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const eventType = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (eventType === type && data !== undefined) events.push({ type: eventType, data: (JSON.parse(data) as { data: Record<string, unknown> }).data });
      }
    }
  })().catch(() => undefined);
  return { events, close: () => abort.abort() };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms: number, everyMs = 200): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export const TERMINAL = ['completed', 'failed', 'rolled_back', 'aborted'];

/**
 * The gates of the product's standard canary: what the DESIGN fears THP does, measured where it
 * happens. Fault latency of the latency-sensitive services (compaction stalls), resident memory
 * of the sparse key-value stores (bloat), memory pressure of the node. Tolerances are relative.
 */
export const STANDARD_GATES = [
  { name: 'workload_fault_latency_p99_us@/workloads.slice/latency-*', direction: 'increase-is-bad', tolerance: 1.0, critical: true },
  { name: 'workload_rss_bytes@/workloads.slice/kv-*', direction: 'increase-is-bad', tolerance: 0.1, critical: true },
  { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.5, critical: true },
];
