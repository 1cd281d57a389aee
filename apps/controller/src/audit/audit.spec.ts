/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call -- REST response bodies are untyped JSON checked with expect() */
/**
 * The audit chain on the real Postgres: mutations are recorded with actor, time, before and
 * after; the chain verifies; a tampered, removed or reordered row is found.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerHandle } from '../app.js';
import { TestAgent, apiClient, eventually, policyYaml, startTestController, testConfig, testDatabase, type ApiClient, type TestDatabaseHandle } from '../testing.test-util.js';

describe('audit chain (REST, real Postgres)', () => {
  let db: TestDatabaseHandle;
  let controller: ControllerHandle;
  let api: ApiClient;
  let sqlClient: pg.Client;

  /** As an attacker with database access would: switch the append-only trigger off, change, switch back. */
  async function tamper(statement: string): Promise<void> {
    await sqlClient.query('ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only');
    try {
      await sqlClient.query(statement);
    } finally {
      await sqlClient.query('ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only');
    }
  }

  beforeAll(async () => {
    db = await testDatabase('postgres', 'audit_api');
    if (db.database.kind !== 'postgres') throw new Error('this test needs the real Postgres');
    controller = await startTestController(testConfig(db.database));
    api = apiClient(controller.httpUrl);
    sqlClient = new pg.Client({ connectionString: db.database.url });
    await sqlClient.connect();
  });
  afterAll(async () => {
    await sqlClient?.end();
    await controller?.close();
    await db?.drop();
  });

  it('records every mutation with actor, time, before and after', async () => {
    await api.post('/api/v1/policies', policyYaml('audited'));
    await api.post('/api/v1/policies/audited/versions', policyYaml('audited', { orders: [4] }), { 'if-match': '"v1"' });
    const token = await api.post('/api/v1/tokens', { name: 'ci', role: 'viewer' });
    await api.delete(`/api/v1/tokens/${token.body.record.id as string}`);
    const agent = new TestAgent({ nodeId: 'audited-node', address: controller.grpcAddress });
    await eventually(async () => (await api.get('/api/v1/nodes/audited-node')).status === 200, 5_000, 'node registered');
    await api.put('/api/v1/nodes/audited-node/assignment', { policy: 'audited', version: 2, reason: 'try it' });
    agent.cancel();

    const { entries } = (await api.get('/api/v1/audit?limit=50')).body;
    const actions = entries.map((e: { action: string }) => e.action).reverse();
    expect(actions).toEqual(['token.bootstrap', 'policy.create', 'policy.version.create', 'token.create', 'token.revoke', 'assignment.set']);
    const versionEntry = entries.find((e: { action: string }) => e.action === 'policy.version.create');
    expect(versionEntry).toMatchObject({ actor: expect.stringMatching(/^token:bootstrap-admin#tok_/) as unknown, targetType: 'policy', targetId: 'audited', before: { version: 1 }, after: { version: 2 } });
    expect(versionEntry.after.changes).toEqual([{ path: 'spec.rules["main"].allow.orders', kind: 'changed', before: [9], after: [4] }]);
    const assignment = entries.find((e: { action: string }) => e.action === 'assignment.set');
    expect(assignment).toMatchObject({ targetId: 'audited-node', before: { none: ['audited-node'] }, after: { policy: 'audited', version: 2, nodes: ['audited-node'], reason: 'try it' } });
    expect(entries.find((e: { action: string }) => e.action === 'token.create').after).not.toHaveProperty('token');

    expect((await api.get('/api/v1/audit?action=token.revoke')).body.entries).toHaveLength(1);
    expect((await api.get('/api/v1/audit?targetType=policy&targetId=audited')).body.entries).toHaveLength(2);
    const page1 = (await api.get('/api/v1/audit?limit=2')).body;
    const page2 = (await api.get(`/api/v1/audit?limit=2&before=${page1.next as number}`)).body;
    expect(page2.entries[0].seq).toBe(page1.entries[1].seq - 1);
    expect((await api.get('/api/v1/audit?since=1h')).body.entries.length).toBe(6);
  });

  it('verifies the chain, then finds a tampered row at its exact position', async () => {
    const ok = (await api.get('/api/v1/audit/verify')).body;
    expect(ok).toMatchObject({ ok: true, checked: 6, headSeq: 6 });

    await tamper(`UPDATE audit_log SET after = jsonb_set(after, '{version}', '99') WHERE seq = 3`);
    const broken = (await api.get('/api/v1/audit/verify')).body;
    expect(broken).toMatchObject({ ok: false, checked: 2, firstBroken: { seq: 3, reason: 'row content does not match its hash (the row was changed)' } });

    // Re-hashing the edited row does not help: the next row's prev_hash gives it away.
    await tamper(`UPDATE audit_log SET hash = repeat('e', 64) WHERE seq = 3`);
    const rehashed = (await api.get('/api/v1/audit/verify')).body;
    expect(rehashed.ok).toBe(false);
    expect(rehashed.firstBroken.seq).toBe(3);
  });

  it('finds a removed row', async () => {
    await tamper(`DELETE FROM audit_log WHERE seq = 2`);
    expect((await api.get('/api/v1/audit/verify')).body).toMatchObject({ ok: false, checked: 1, firstBroken: { seq: 3, reason: 'rows missing before seq 3' } });
  });

  it('refuses direct edits while the trigger is on', async () => {
    await expect(sqlClient.query(`UPDATE audit_log SET actor = 'mallory' WHERE seq = 1`)).rejects.toMatchObject({ code: 'THP01' });
  });
});
