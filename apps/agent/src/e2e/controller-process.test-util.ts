/**
 * The real controller as a separate process, for the agent's end-to-end tests. Only its public
 * surfaces are used: the process (environment in, listening addresses on stdout, signals),
 * REST with the bootstrap admin token, and the gRPC agent stream. No controller code is
 * imported (apps never import apps).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { TestDatabase } from '@thp-fleet/testing';

const CONTROLLER_MAIN = fileURLToPath(new URL('../../../controller/src/main.ts', import.meta.url));

export interface ControllerProcess {
  readonly httpUrl: string;
  readonly grpcAddress: string;
  readonly grpcPort: number;
  readonly adminToken: string;
  readonly agentSecret: string;
  readonly output: string[];
  /** SIGKILL (a crash) or SIGTERM (a clean stop); resolves when the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ControllerOptions {
  readonly db: TestDatabase;
  readonly grpcPort?: number;
  readonly adminToken?: string;
  readonly agentSecret?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export async function startControllerProcess(options: ControllerOptions): Promise<ControllerProcess> {
  const adminToken = options.adminToken ?? `thp_${randomBytes(24).toString('base64url')}`;
  const agentSecret = options.agentSecret ?? randomBytes(32).toString('base64url');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    THP_ADMIN_TOKEN: adminToken,
    THP_AGENT_SECRET: agentSecret,
    THP_HTTP_PORT: '0',
    THP_GRPC_PORT: String(options.grpcPort ?? 0),
    THP_METRICS_INTERVAL: '1s',
    THP_HEARTBEAT_INTERVAL: '500ms',
    THP_STALE_AFTER: '5s',
    THP_LOG_LEVEL: 'warn',
    ...(options.db.kind === 'postgres' ? { DATABASE_URL: options.db.url } : { THP_DATA_DIR: options.db.dataDir }),
    ...options.env,
  };
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@thp-fleet/source', '--import', 'tsx', CONTROLLER_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<{ httpUrl: string; grpcAddress: string }>((resolve, reject) => {
    let httpUrl: string | undefined;
    const onLine = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) {
        if (line.trim() === '') continue;
        output.push(line);
        httpUrl ??= /REST \+ dashboard:\s+(\S+)/.exec(line)?.[1];
        const grpc = /agent gRPC:\s+(\S+)/.exec(line)?.[1];
        if (grpc && httpUrl) resolve({ httpUrl, grpcAddress: grpc });
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', (chunk: Buffer) => output.push(...chunk.toString().split('\n').filter(Boolean)));
    child.once('exit', (code) => reject(new Error(`controller exited with ${code} before it was ready:\n${output.join('\n')}`)));
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    const { httpUrl, grpcAddress } = await ready;
    return {
      httpUrl,
      grpcAddress,
      grpcPort: Number(grpcAddress.slice(grpcAddress.lastIndexOf(':') + 1)),
      adminToken,
      agentSecret,
      output,
      async stop(signal: NodeJS.Signals = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      },
    };
  } finally {
    clearTimeout(timeout);
  }
}

/** REST calls with the admin token. */
export class Rest {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async call<T>(method: string, path: string, body?: { json: unknown } | { yaml: string }, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
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
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async createPolicy(yaml: string): Promise<{ name: string; version: number }> {
    const r = await this.call<{ version: { policy: string; version: number } }>('POST', '/api/v1/policies', { yaml });
    if (r.status !== 201) throw new Error(`create policy: ${r.status} ${JSON.stringify(r.body)}`);
    return { name: r.body.version.policy, version: r.body.version.version };
  }

  async addVersion(name: string, yaml: string, expected: number): Promise<number> {
    const r = await this.call<{ version: { version: number } }>('POST', `/api/v1/policies/${name}/versions`, { yaml }, { 'if-match': `"v${expected}"` });
    if (r.status !== 201) throw new Error(`add version: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.version.version;
  }

  async assign(nodeId: string, policy: string, version: number): Promise<void> {
    const r = await this.call('PUT', `/api/v1/nodes/${nodeId}/assignment`, { json: { policy, version } });
    if (r.status !== 200) throw new Error(`assign: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** Clear the node's desired policy: the node gets a Revoke. */
  async unassign(nodeId: string): Promise<void> {
    const r = await this.call('DELETE', `/api/v1/nodes/${nodeId}/assignment`);
    if (r.status !== 200) throw new Error(`unassign: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** One desired state on many nodes (`policy` null: none, i.e. a Revoke). */
  async assignMany(nodeIds: readonly string[], policy: string | null, version?: number): Promise<void> {
    const r = await this.call('POST', '/api/v1/assignments', { json: policy === null ? { nodeIds, policy } : { nodeIds, policy, version } });
    if (r.status !== 200) throw new Error(`bulk assign: ${r.status} ${JSON.stringify(r.body)}`);
  }

  async node(nodeId: string): Promise<NodeView> {
    const r = await this.call<NodeView>('GET', `/api/v1/nodes/${nodeId}`);
    if (r.status !== 200) throw new Error(`node ${nodeId}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async metrics(nodeId: string, name: string, cgroup?: string): Promise<{ ts: string; name: string; cgroup: string; kind: string; value: number }[]> {
    const query = new URLSearchParams({ name, since: '1h', ...(cgroup !== undefined ? { cgroup } : {}) });
    const r = await this.call<{ samples: { ts: string; name: string; cgroup: string; kind: string; value: number }[] }>('GET', `/api/v1/nodes/${nodeId}/metrics?${query.toString()}`);
    if (r.status !== 200) throw new Error(`metrics: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.samples;
  }
}

/** ObservedState.sysfs as the controller stores it (proto JSON: defaults omitted). */
export interface ObservedSysfs {
  readonly enabled?: string;
  readonly defrag?: string;
  readonly shmemEnabled?: string;
  readonly perSizeEnabled?: Record<string, string>;
  readonly khugepagedMaxPtesNone?: number;
  readonly khugepagedPagesToScan?: number;
}

export interface NodeView {
  readonly id: string;
  readonly state: string;
  readonly drift: string[];
  readonly connected: boolean;
  readonly labels: Record<string, string>;
  readonly capabilities: { hookAbi?: string; activeBackend?: string; hookDetail?: string; sysfs?: ObservedSysfs };
  readonly acked: { policy: string | null; version: number | null; specHash: string | null } | null;
  readonly intent: { policy: string | null; version: number | null; nonce?: string | null } | null;
  readonly observed: { policy: string | null; version: number | null; enforcement: string | null; mapContentHash: string | null; sysfs: ObservedSysfs | null } | null;
  readonly quarantined: boolean;
  readonly lastNack: { policy: string; version: number; stage: string; message: string; detail: string } | null;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
