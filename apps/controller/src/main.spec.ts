/* eslint-disable @typescript-eslint/no-unsafe-member-access -- REST response bodies are untyped JSON checked with expect() */
/**
 * The controller as a process, started the way operators and `npm start` do:
 * `node --import tsx apps/controller/src/main.ts`, configured by the environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, AGENT_SECRET, TestAgent, apiClient, eventually, policyYaml, testDatabase, type TestDatabaseHandle } from './testing.test-util.js';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function startProcess(env: Record<string, string>): { child: ChildProcess; output: () => { stdout: string; stderr: string }; exited: Promise<number | null> } {
  // The "@thp-fleet/source" condition runs the workspace libraries from source, as the tests do.
  const child = spawn(process.execPath, ['--conditions=@thp-fleet/source', '--import', 'tsx', MAIN], { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => ({ stdout, stderr }), exited };
}

describe('controller process (node --import tsx src/main.ts)', () => {
  let db: TestDatabaseHandle;
  let proc: ReturnType<typeof startProcess>;
  let httpUrl = '';
  let grpcAddress = '';

  beforeAll(async () => {
    db = await testDatabase('postgres', 'process');
    if (db.database.kind !== 'postgres') throw new Error('this test needs the real Postgres');
    proc = startProcess({
      DATABASE_URL: db.database.url,
      THP_HTTP_PORT: '0',
      THP_GRPC_PORT: '0',
      THP_ADMIN_TOKEN: ADMIN_TOKEN,
      THP_AGENT_SECRET: AGENT_SECRET,
      THP_REPLICA_ID: 'process-replica',
      THP_LOG_LEVEL: 'warn',
    });
    const started = await eventually(() => {
      const { stdout } = proc.output();
      const http = /REST \+ dashboard: (\S+)/.exec(stdout)?.[1];
      const grpc = /agent gRPC: +(\S+)/.exec(stdout)?.[1];
      return http && grpc ? { http, grpc } : undefined;
    }, 60_000, `the process to print its addresses (stderr: ${proc.output().stderr})`);
    httpUrl = started.http;
    grpcAddress = started.grpc;
  }, 90_000);

  afterAll(async () => {
    if (proc && proc.child.exitCode === null) proc.child.kill('SIGKILL');
    await db?.drop();
  });

  it('serves REST and gRPC requests', async () => {
    const api = apiClient(httpUrl);
    expect((await api.get('/readyz')).body).toMatchObject({ status: 'ready' });
    expect((await api.get('/api/v1/whoami')).body).toMatchObject({ role: 'admin' });
    // The rollout module is mounted by default: its endpoints answer, and the OpenAPI document lists them.
    expect((await api.get('/api/v1/rollouts')).body).toEqual({ rollouts: [] });
    expect((await api.get('/api/v1/rollout-budget')).body).toMatchObject({ budget: { source: 'environment' } });
    const paths = Object.keys((await api.get<{ paths: Record<string, unknown> }>('/api/docs-json')).body.paths);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/rollouts', '/api/v1/rollouts/{id}/promote', '/api/v1/policies/{name}/rollback', '/api/v1/rollout-budget']));
    expect((await api.post('/api/v1/policies', policyYaml('from-process'))).status).toBe(201);
    const agent = new TestAgent({ nodeId: 'process-node', address: grpcAddress });
    try {
      await eventually(async () => (await api.get('/api/v1/nodes/process-node')).status === 200, 10_000, 'registered');
      await api.put('/api/v1/nodes/process-node/assignment', { policy: 'from-process', version: 1 });
      agent.ack(await agent.nextAssignment(0));
      await eventually(async () => (await api.get('/api/v1/nodes/process-node')).body.state === 'in-sync', 10_000, 'in-sync');
    } finally {
      agent.cancel();
    }
  });

  it('stops cleanly on SIGTERM', async () => {
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  });
});

describe('controller process configuration errors', () => {
  it('exits with status 2, naming every bad variable', async () => {
    const proc = startProcess({ THP_HTTP_PORT: 'eighty', THP_LOG_LEVEL: 'loud', THP_ROLLOUT_INTERVAL: 'often', THP_ROLLOUT_BUDGET_PERCENT: '150' });
    expect(await proc.exited).toBe(2);
    expect(proc.output().stderr).toContain('THP_HTTP_PORT: must be a port number');
    expect(proc.output().stderr).toContain('THP_LOG_LEVEL: must be one of');
    // The rollout settings are checked at the same time and reported together.
    expect(proc.output().stderr).toContain('THP_ROLLOUT_INTERVAL: "often" is not a duration');
    expect(proc.output().stderr).toContain('THP_ROLLOUT_BUDGET_PERCENT: "150" is not a number from 0.001 to 100');
  }, 60_000);
});
