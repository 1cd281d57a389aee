/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- REST response bodies are untyped JSON checked with expect() */
/**
 * Policy lifecycle through the REST API on the real Postgres: create, versions, read, diff,
 * validate; immutability enforced by the database itself; optimistic concurrency.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerHandle } from '../app.js';
import { apiClient, policyYaml, startTestController, testConfig, testDatabase, type ApiClient, type TestDatabaseHandle } from '../testing.test-util.js';

describe('policy lifecycle (REST, real Postgres)', () => {
  let db: TestDatabaseHandle;
  let controller: ControllerHandle;
  let api: ApiClient;

  beforeAll(async () => {
    db = await testDatabase('postgres', 'policy_api');
    controller = await startTestController(testConfig(db.database));
    api = apiClient(controller.httpUrl);
  });
  afterAll(async () => {
    await controller?.close();
    await db?.drop();
  });

  it('creates a policy from YAML, lists it, reads it back with an ETag', async () => {
    const created = await api.post('/api/v1/policies?message=first%20cut', policyYaml('zgc-only', { description: 'THP for ZGC' }));
    expect(created.status).toBe(201);
    expect(created.headers.get('etag')).toBe('"v1"');
    expect(created.headers.get('location')).toBe('/api/v1/policies/zgc-only/versions/1');
    expect(created.body).toMatchObject({ policy: { name: 'zgc-only', description: 'THP for ZGC', latestVersion: 1 }, version: { version: 1, message: 'first cut', author: 'token:bootstrap-admin#' + (created.body.version.author as string).split('#')[1] } });

    const list = await api.get('/api/v1/policies');
    expect(list.body.policies.map((p: { name: string }) => p.name)).toEqual(['zgc-only']);
    const got = await api.get('/api/v1/policies/zgc-only');
    expect(got.headers.get('etag')).toBe('"v1"');
    expect(got.body.versions).toHaveLength(1);

    const duplicate = await api.post('/api/v1/policies', policyYaml('zgc-only'));
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error).toMatchObject({ code: 'already_exists', details: [{ path: 'metadata.name', message: 'already exists' }] });
  });

  it('adds versions (YAML and JSON bodies), keeps the source, canonical form and hash, and diffs them', async () => {
    const json = JSON.stringify({
      apiVersion: 'thp.fleet/v1',
      kind: 'ThpPolicy',
      metadata: { name: 'zgc-only', description: 'THP for ZGC' },
      spec: { default: { action: 'deny' }, rules: [{ name: 'main', match: { cgroups: ['/workloads.slice/**/zgc-*'] }, allow: { sizes: ['2M', '64K'] } }] },
    });
    const v2 = await api.post('/api/v1/policies/zgc-only/versions?message=add%2064K', json, { 'content-type': 'application/json', 'if-match': '"v1"' });
    expect(v2.status).toBe(201);
    expect(v2.body).toMatchObject({ created: true, version: { version: 2, message: 'add 64K' } });
    expect(v2.headers.get('etag')).toBe('"v2"');

    const detail = await api.get('/api/v1/policies/zgc-only/versions/2');
    expect(detail.body).toMatchObject({ version: 2, sourceFormat: 'json', source: json });
    expect(detail.body.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect(detail.body.spec.spec.rules[0].allow).toEqual({ orders: [4, 9] });

    const diff = await api.get('/api/v1/policies/zgc-only/diff?from=1&to=2');
    expect(diff.status).toBe(200);
    expect(diff.body.changes).toEqual([{ path: 'spec.rules["main"].allow.orders', kind: 'changed', before: [9], after: [4, 9] }]);

    // The same meaning again (different spelling) writes nothing: apply is idempotent.
    const same = await api.post('/api/v1/policies/zgc-only/versions', policyYaml('zgc-only', { description: 'THP for ZGC', orders: [9, 4] }), { 'if-match': '"v2"' });
    expect(same.status).toBe(200);
    expect(same.body).toMatchObject({ created: false, version: { version: 2 } });
    expect((await api.get('/api/v1/policies/zgc-only')).body.policy.latestVersion).toBe(2);
  });

  it('reports every validation error with its path, line and column (422), and validates without saving', async () => {
    const bad = policyYaml('bad-one').replace('orders: [9]', 'orders: [10, 1]').replace('action: deny', 'action: maybe');
    const rejected = await api.post('/api/v1/policies', bad);
    expect(rejected.status).toBe(422);
    expect(rejected.body.error.code).toBe('validation_failed');
    const paths = rejected.body.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['spec.default.action', 'spec.rules[0].allow.orders[0]', 'spec.rules[0].allow.orders[1]']));
    const orderIssue = rejected.body.error.details.find((d: { path: string }) => d.path === 'spec.rules[0].allow.orders[0]');
    expect(orderIssue).toMatchObject({ line: 12 });
    expect(orderIssue.column).toBeGreaterThan(0);
    expect((await api.get('/api/v1/policies/bad-one')).status).toBe(404);

    const checked = await api.post('/api/v1/policies/validate', bad);
    expect(checked.status).toBe(200);
    expect(checked.body.ok).toBe(false);
    expect(checked.body.errors.length).toBe(rejected.body.error.details.length);
    const good = await api.post('/api/v1/policies/validate', policyYaml('fine'));
    expect(good.body).toMatchObject({ ok: true, name: 'fine', errors: [] });
    expect(good.body.specHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await api.get('/api/v1/policies/fine')).status).toBe(404);

    const wrongName = await api.post('/api/v1/policies/zgc-only/versions', policyYaml('other-name'), { 'if-match': '"v2"' });
    expect(wrongName.status).toBe(422);
    expect(wrongName.body.error.details).toEqual([{ path: 'metadata.name', message: 'must be "zgc-only"' }]);
  });

  it('optimistic concurrency: a stale or missing precondition never overwrites', async () => {
    const stale = await api.post('/api/v1/policies/zgc-only/versions', policyYaml('zgc-only', { orders: [2] }), { 'if-match': '"v1"' });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'conflict', details: [{ path: 'expectedVersion', message: 'stale: latest is 2' }] });
    const missing = await api.post('/api/v1/policies/zgc-only/versions', policyYaml('zgc-only', { orders: [2] }));
    expect(missing.status).toBe(428);
    expect(missing.body.error.code).toBe('precondition_required');

    // Two editors of v2 at the same time: exactly one wins, the other gets 409.
    const [a, b] = await Promise.all([
      api.post('/api/v1/policies/zgc-only/versions?expectedVersion=2', policyYaml('zgc-only', { orders: [2] })),
      api.post('/api/v1/policies/zgc-only/versions?expectedVersion=2', policyYaml('zgc-only', { orders: [3] })),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    expect((await api.get('/api/v1/policies/zgc-only')).body.policy.latestVersion).toBe(3);
  });

  it('immutability is enforced by the database: even direct SQL cannot change or delete a version', async () => {
    if (db.database.kind !== 'postgres') throw new Error('this test needs the real Postgres');
    const client = new pg.Client({ connectionString: db.database.url });
    await client.connect();
    try {
      await expect(client.query(`UPDATE policy_versions SET canonical = '{}' WHERE policy = 'zgc-only' AND version = 1`)).rejects.toMatchObject({ code: 'THP01' });
      await expect(client.query(`DELETE FROM policy_versions WHERE policy = 'zgc-only'`)).rejects.toMatchObject({ code: 'THP01' });
      const rows = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM policy_versions WHERE policy = 'zgc-only'`);
      expect(rows.rows[0]?.n).toBe(3);
    } finally {
      await client.end();
    }
    const v1 = await api.get('/api/v1/policies/zgc-only/versions/1');
    expect(v1.body.spec.spec.rules[0].allow).toEqual({ orders: [9] });
  });

  it('answers bad paths and unknown versions with 4xx and the path', async () => {
    expect((await api.get('/api/v1/policies/Not_A_Name')).body.error).toMatchObject({ code: 'invalid_argument', details: [{ path: 'path.name' }] });
    expect((await api.get('/api/v1/policies/zgc-only/versions/99')).body.error).toMatchObject({ code: 'not_found', message: 'policy zgc-only has no version 99 (latest is 3)' });
    expect((await api.get('/api/v1/policies/zgc-only/versions/0')).status).toBe(400);
    expect((await api.get('/api/v1/policies/zgc-only/diff?from=1')).body.error.details[0].path).toBe('query.to');
    expect((await api.post('/api/v1/policies', '')).status).toBe(400);
  });
});
