/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- REST response bodies are untyped JSON checked with expect() */
/**
 * The REST surface as a client sees it, on the real Postgres: authentication and roles, error
 * bodies and statuses (never a 5xx for bad input), payload limits, SSE, Prometheus, health,
 * OpenAPI and the dashboard's static files. Plus the whole path once on embedded PGlite (the
 * `npm start` default).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerHandle } from './app.js';
import { TestAgent, apiClient, eventually, policyYaml, startTestController, testConfig, testDatabase, type ApiClient, type TestDatabaseHandle } from './testing.test-util.js';

describe('REST API (real Postgres)', () => {
  let db: TestDatabaseHandle;
  let controller: ControllerHandle;
  let admin: ApiClient;
  let dashboard: string;

  beforeAll(async () => {
    db = await testDatabase('postgres', 'rest_api');
    dashboard = mkdtempSync(join(tmpdir(), 'thp-dashboard-'));
    writeFileSync(join(dashboard, 'index.html'), '<!doctype html><title>thp-fleet</title>');
    writeFileSync(join(dashboard, 'app.js'), 'console.log("dashboard")');
    controller = await startTestController(testConfig(db.database, { dashboardDir: dashboard }));
    admin = apiClient(controller.httpUrl);
  });
  afterAll(async () => {
    await controller?.close();
    await db?.drop();
    if (dashboard) rmSync(dashboard, { recursive: true, force: true });
  });

  it('requires a token, and each role can do exactly its share', async () => {
    const anonymous = apiClient(controller.httpUrl, null);
    expect((await anonymous.get('/api/v1/policies')).body.error).toMatchObject({ code: 'unauthenticated' });
    expect((await apiClient(controller.httpUrl, 'thp_not_a_real_token_0000000000000000000').get('/api/v1/policies')).status).toBe(401);
    expect((await admin.get('/api/v1/policies', { authorization: 'Basic abc' })).status).toBe(401);

    const viewer = apiClient(controller.httpUrl, (await admin.post('/api/v1/tokens', { name: 'dash viewer', role: 'viewer' })).body.token);
    const operator = apiClient(controller.httpUrl, (await admin.post('/api/v1/tokens', { name: 'ci@pipeline', role: 'operator' })).body.token);
    expect((await viewer.get('/api/v1/whoami')).body).toMatchObject({ name: 'dash viewer', role: 'viewer' });

    expect((await viewer.get('/api/v1/policies')).status).toBe(200);
    const denied = await viewer.post('/api/v1/policies', policyYaml('by-viewer'));
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toBe('this needs the operator role; token "dash viewer" has viewer');
    expect((await operator.post('/api/v1/policies', policyYaml('by-operator'))).status).toBe(201);
    expect((await operator.get('/api/v1/tokens')).status).toBe(403);
    expect((await operator.post('/api/v1/nodes/n1/token')).status).toBe(403);
    expect((await admin.get('/api/v1/tokens')).body.tokens.map((t: { name: string }) => t.name)).toEqual(['bootstrap-admin', 'dash viewer', 'ci@pipeline']);
  });

  it('revoking a token takes effect at once; secrets are never listed', async () => {
    const created = await admin.post('/api/v1/tokens', { name: 'short-lived', role: 'operator', expiresInSeconds: 3600 });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^thp_[A-Za-z0-9_-]{43}$/);
    expect(created.body.record).toMatchObject({ name: 'short-lived', role: 'operator', prefix: created.body.token.slice(0, 10) });
    const user = apiClient(controller.httpUrl, created.body.token);
    expect((await user.get('/api/v1/whoami')).status).toBe(200);
    expect((await admin.delete(`/api/v1/tokens/${created.body.record.id as string}`)).body.revokedAt).not.toBeNull();
    expect((await user.get('/api/v1/whoami')).status).toBe(401);
    expect((await admin.delete(`/api/v1/tokens/${created.body.record.id as string}`)).status).toBe(409);
    expect(JSON.stringify((await admin.get('/api/v1/tokens')).body)).not.toContain(created.body.token);
    expect((await admin.post('/api/v1/tokens', { name: '', role: 'root', extra: 1 })).body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['body.extra', 'body.name', 'body.role']);
  });

  it('answers bad input with 4xx and every problem with its path, never 5xx', async () => {
    const cases: [string, () => Promise<{ status: number; body: { error: { code: string; message: unknown; details: unknown } } }>, number, string][] = [
      ['malformed JSON', () => admin.post('/api/v1/assignments', '{"policy": ', { 'content-type': 'application/json' }), 400, 'invalid_argument'],
      ['wrong media type', () => admin.post('/api/v1/assignments', 'policy=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type'],
      ['missing body', () => admin.post('/api/v1/assignments'), 400, 'invalid_argument'],
      ['unknown node', () => admin.put('/api/v1/nodes/ghost/assignment', { policy: 'by-operator', version: 1 }), 404, 'not_found'],
      ['bad node id', () => admin.get('/api/v1/nodes/-bad-'), 400, 'invalid_argument'],
      ['bad state filter', () => admin.get('/api/v1/nodes?state=happy'), 400, 'invalid_argument'],
      ['bad selector', () => admin.get('/api/v1/nodes?labels=zone'), 400, 'invalid_argument'],
      ['bad limit', () => admin.get('/api/v1/audit?limit=0'), 400, 'invalid_argument'],
      ['repeated query parameter', () => admin.get('/api/v1/audit?limit=1&limit=2'), 400, 'invalid_argument'],
      ['both ids and selector', () => admin.post('/api/v1/assignments', { policy: null, nodeIds: ['a'], selector: { labels: {} } }), 400, 'invalid_argument'],
      ['unknown route', () => admin.get('/api/v1/nope'), 404, 'not_found'],
      ['policy too large', () => admin.post('/api/v1/policies/validate', `# ${'x'.repeat(70 * 1024)}\n${policyYaml('big')}`), 413, 'payload_too_large'],
      ['json too large', () => admin.post('/api/v1/assignments', { policy: null, nodeIds: Array.from({ length: 8_000 }, (_, i) => `node-${i}`) }), 413, 'payload_too_large'],
      ['unknown token id', () => admin.delete('/api/v1/tokens/tok_abcdef'), 404, 'not_found'],
      ['malformed token id', () => admin.delete('/api/v1/tokens/abc'), 400, 'invalid_argument'],
      ['bad If-Match', () => admin.post('/api/v1/policies/by-operator/versions', policyYaml('by-operator'), { 'if-match': 'yesterday' }), 400, 'invalid_argument'],
    ];
    for (const [what, call, status, code] of cases) {
      const response = await call();
      expect({ what, status: response.status, code: response.body?.error?.code }).toEqual({ what, status, code });
      expect(typeof response.body.error.message).toBe('string');
      expect(Array.isArray(response.body.error.details)).toBe(true);
    }
    const assignmentProblems = await admin.put('/api/v1/nodes/n1/assignment', { policy: 'Bad Name', version: 0 });
    expect(assignmentProblems.body.error.details).toEqual([
      { path: 'body.policy', message: expect.stringContaining('lowercase') as unknown },
      { path: 'body.version', message: 'must be between 1 and 2147483647, got 0' },
    ]);
  });

  it('assignments: per node with If-Match, and in bulk by selector; stale revisions get 409', async () => {
    const agents = ['rest-1', 'rest-2', 'rest-3'].map((nodeId, i) => new TestAgent({ nodeId, address: controller.grpcAddress, labels: { zone: i < 2 ? 'east' : 'west' } }));
    try {
      await eventually(async () => (await admin.get('/api/v1/nodes?labels=zone=east')).body.total === 2, 5_000, 'nodes registered');
      const put = await admin.put('/api/v1/nodes/rest-1/assignment', { policy: 'by-operator', version: 1 }, { 'if-match': '"rev-0"' });
      expect(put.status).toBe(200);
      expect(put.headers.get('etag')).toBe('"rev-1"');
      const stale = await admin.put('/api/v1/nodes/rest-1/assignment', { policy: null }, { 'if-match': '"rev-0"' });
      expect(stale.status).toBe(409);
      expect(stale.body.error.details).toEqual([{ path: 'expectedRevision', message: 'node rest-1: expected revision 0, current 1' }]);
      expect((await admin.get('/api/v1/nodes/rest-1')).headers.get('etag')).toBe('"rev-1"');

      const bulk = await admin.post('/api/v1/assignments', { policy: 'by-operator', version: 1, selector: { labels: { zone: 'east' } } });
      expect(bulk.body).toMatchObject({ matched: 2, changed: ['rest-2'], unchanged: ['rest-1'], quarantined: [] });
      const missingNodes = await admin.post('/api/v1/assignments', { policy: 'by-operator', version: 1, nodeIds: ['rest-3', 'ghost-1'] });
      expect(missingNodes.status).toBe(404);
      expect(missingNodes.body.error.details).toEqual([{ path: 'nodeIds', message: 'unknown node ghost-1' }]);
      const missingVersion = await admin.post('/api/v1/assignments', { policy: 'by-operator', version: 9, nodeIds: ['rest-3'] });
      expect(missingVersion.body.error).toMatchObject({ code: 'not_found', message: 'policy by-operator has no version 9' });
      const pending = (await admin.get('/api/v1/nodes?state=pending')).body.nodes.map((n: { id: string }) => n.id);
      expect(pending).toEqual(['rest-1', 'rest-2']);
      const paged = (await admin.get('/api/v1/nodes?limit=2')).body;
      expect(paged.nodes).toHaveLength(2);
      const rest = (await admin.get(`/api/v1/nodes?limit=2&after=${paged.next as string}`)).body;
      expect(rest.nodes[0].id > paged.nodes[1].id).toBe(true);
      expect((await admin.get('/api/v1/nodes/summary')).body).toMatchObject({ pending: 2, unassigned: 1 });
    } finally {
      for (const agent of agents) agent.cancel();
    }
  });

  it('streams server-sent events for policy, node, assignment and audit changes', async () => {
    const controllerAbort = new AbortController();
    const response = await fetch(`${controller.httpUrl}/api/v1/events?types=policy,audit&access_token=${encodeURIComponent((await admin.post('/api/v1/tokens', { name: 'sse', role: 'viewer' })).body.token as string)}`, {
      signal: controllerAbort.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const until = async (pattern: RegExp): Promise<string> => {
      const deadline = Date.now() + 5_000;
      while (!pattern.test(text)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no SSE matching ${pattern} in: ${text}`);
        const chunk = await Promise.race([reader.read(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), left))]);
        if (chunk?.value) text += decoder.decode(chunk.value);
      }
      return text;
    };
    await until(/event: hello/);
    await admin.post('/api/v1/policies', policyYaml('sse-policy'));
    const seen = await until(/event: policy[\s\S]*event: audit|event: audit[\s\S]*event: policy/);
    expect(seen).toContain('"policy":"sse-policy"');
    expect(seen).toContain('"action":"policy.create"');
    expect(seen).not.toContain('event: node');
    controllerAbort.abort();
    expect((await apiClient(controller.httpUrl, null).get('/api/v1/events')).status).toBe(401);
    expect((await admin.get('/api/v1/events?types=weather')).status).toBe(400);
  });

  it('serves health, readiness, Prometheus metrics and the OpenAPI document', async () => {
    const anonymous = apiClient(controller.httpUrl, null);
    expect((await anonymous.get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await anonymous.get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', database: { kind: 'postgres', ok: true }, migrations: { ok: true } });
    const metrics = await anonymous.get('/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    for (const name of ['thp_agent_streams_connected', 'thp_pushes_total', 'thp_acks_total', 'thp_nacks_total', 'thp_push_to_ack_seconds_bucket', 'thp_metric_samples_ingested_total', 'thp_is_leader 1', 'thp_controller_process_resident_memory_bytes']) {
      expect(metrics.body).toContain(name);
    }
    const docs = await anonymous.get('/api/docs-json');
    expect(docs.status).toBe(200);
    expect(docs.body.openapi).toMatch(/^3\./);
    expect(Object.keys(docs.body.paths)).toEqual(expect.arrayContaining(['/api/v1/policies', '/api/v1/policies/{name}/versions', '/api/v1/nodes/{id}/assignment', '/api/v1/assignments', '/api/v1/audit/verify', '/api/v1/tokens', '/api/v1/events', '/api/v1/cluster', '/api/v1/nodes/{id}/metrics']));
    expect(docs.body.paths['/api/v1/assignments'].post.requestBody.content['application/json'].schema.properties).toHaveProperty('selector');
    const html = await fetch(`${controller.httpUrl}/api/docs`);
    expect(html.status).toBe(200);
    expect(await html.text()).toContain('swagger');
  });

  it('serves the dashboard at / with a single-page fallback, without shadowing the API', async () => {
    const index = await fetch(`${controller.httpUrl}/`);
    expect(await index.text()).toContain('<title>thp-fleet</title>');
    expect(await (await fetch(`${controller.httpUrl}/app.js`)).text()).toContain('dashboard');
    expect(await (await fetch(`${controller.httpUrl}/fleet/nodes/n1`)).text()).toContain('<title>thp-fleet</title>');
    expect((await fetch(`${controller.httpUrl}/missing.css`)).status).toBe(404);
    expect((await fetch(`${controller.httpUrl}/api/v1/unknown`)).status).toBe(404);
  });

  it('mints node tokens that agents can use', async () => {
    const minted = await admin.post('/api/v1/nodes/fresh-node/token');
    expect(minted.status).toBe(201);
    const agent = new TestAgent({ nodeId: 'fresh-node', address: controller.grpcAddress, token: minted.body.token });
    try {
      await eventually(async () => (await admin.get('/api/v1/nodes/fresh-node')).body.connected === true, 5_000, 'connected with a minted token');
    } finally {
      agent.cancel();
    }
    expect((await admin.get('/api/v1/audit?action=node.token.mint')).body.entries[0]).toMatchObject({ targetId: 'fresh-node' });
  });
});

describe('bootstrap admin token', () => {
  it('is created and returned once when none is configured, and not again on restart', async () => {
    const db = await testDatabase('postgres', 'bootstrap');
    try {
      const first = await startTestController(testConfig(db.database, { adminToken: null }));
      const token = first.bootstrapAdminToken;
      expect(token).toMatch(/^thp_/);
      expect((await apiClient(first.httpUrl, token ?? '').get('/api/v1/whoami')).body).toMatchObject({ role: 'admin', name: 'bootstrap-admin' });
      await first.close();
      const second = await startTestController(testConfig(db.database, { adminToken: null }));
      expect(second.bootstrapAdminToken).toBeNull();
      expect((await apiClient(second.httpUrl, token ?? '').get('/api/v1/whoami')).status).toBe(200);
      await second.close();
    } finally {
      await db.drop();
    }
  });
});

describe('the whole path on embedded PGlite (the npm start default)', () => {
  it('creates a policy, registers an agent, pushes, ACKs and reports in-sync', async () => {
    const db = await testDatabase('pglite', 'pglite_e2e');
    const controller = await startTestController(testConfig(db.database));
    const agent = new TestAgent({ nodeId: 'pg-lite-node', address: controller.grpcAddress });
    try {
      expect(controller.storeKind).toBe('pglite');
      const api = apiClient(controller.httpUrl);
      expect((await api.post('/api/v1/policies', policyYaml('embedded'))).status).toBe(201);
      await eventually(async () => (await api.get('/api/v1/nodes/pg-lite-node')).status === 200, 5_000, 'registered');
      await api.put('/api/v1/nodes/pg-lite-node/assignment', { policy: 'embedded', version: 1 });
      agent.ack(await agent.nextAssignment(0));
      await eventually(async () => (await api.get('/api/v1/nodes/pg-lite-node')).body.state === 'in-sync', 5_000, 'in-sync');
      expect((await api.get('/api/v1/audit/verify')).body).toMatchObject({ ok: true, checked: 3 });
      expect((await api.get('/readyz')).body).toMatchObject({ status: 'ready', database: { kind: 'pglite' } });
      expect((await api.get('/api/v1/cluster')).body).toMatchObject({ leader: controller.replicaId });
    } finally {
      agent.cancel();
      await controller.close();
      await db.drop();
    }
  });
});
