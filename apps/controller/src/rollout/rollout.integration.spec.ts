/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- REST response bodies are untyped JSON checked with expect() */
/**
 * The rollout domain end to end inside one controller: real Postgres, the real controller with
 * the RolloutModule, the orchestrator on the leader, and agents over real gRPC streams. The
 * agents here are scripted test drivers (they ACK or NACK and report a metric whose level the
 * test chooses per version), so these tests check the orchestration itself; the tests in test/
 * run the real agent processes and the simulator.
 */
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { MetricKind } from '@thp-fleet/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerHandle } from '../app.js';
import { ADMIN_TOKEN, TestAgent, apiClient, eventually, policyYaml, startTestController, testConfig, testDatabase, type ApiClient, type TestDatabaseHandle } from '../testing.test-util.js';

interface Behaviour {
  /** Metric level per version of the policy the node runs (0 = none). */
  level: (version: number) => number;
  /** Versions this node refuses. */
  nacks: ReadonlySet<number>;
}

/** A scripted node: answers every assignment, reports `psi_memory_some_avg10` every 50 ms. */
class ScriptedNode {
  readonly agent: TestAgent;
  running = 0;
  private handled = 0;
  private timer: NodeJS.Timeout;
  readonly sentVersions: number[] = [];

  constructor(
    readonly id: string,
    address: string,
    labels: Record<string, string>,
    public behaviour: Behaviour,
    private readonly size: number,
  ) {
    this.agent = new TestAgent({ nodeId: id, address, labels });
    let tick = 0;
    this.timer = setInterval(() => {
      for (; this.handled < this.agent.received.length; this.handled++) {
        const message = this.agent.received[this.handled]!;
        if (message.kind.case === 'assignment') {
          const a = message.kind.value;
          this.sentVersions.push(a.version);
          if (this.behaviour.nacks.has(a.version)) this.agent.nack(a, `version ${a.version} does not load here`);
          else {
            this.running = a.version;
            this.agent.ack(a);
          }
        } else if (message.kind.case === 'revoke') {
          this.running = 0;
          this.agent.send({ case: 'ack', value: { nonce: message.kind.value.nonce, policy: '', version: 0, specHash: '' } });
        }
      }
      tick++;
      const jitter = 1 + 0.03 * Math.sin(tick * 1.7 + this.size);
      const now = Date.now();
      this.agent.send({
        case: 'metrics',
        value: { start: timestampFromMs(now - 50), end: timestampFromMs(now), node: [{ name: 'psi_memory_some_avg10', kind: MetricKind.GAUGE, value: this.size * this.behaviour.level(this.running) * jitter }] },
      });
    }, 50);
  }

  close(): void {
    clearInterval(this.timer);
    this.agent.close();
  }
}

/** Server-sent events of one type, as a browser's EventSource would receive them. */
function collectSse(baseUrl: string, type: string): { events: { type: string; data: any }[]; close(): void } {
  const events: { type: string; data: any }[] = [];
  const abort = new AbortController();
  void (async () => {
    const response = await fetch(`${baseUrl}/api/v1/events?types=${type}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: abort.signal });
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const eventType = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (eventType === type && data !== undefined) events.push({ type: eventType, data: (JSON.parse(data) as { data: unknown }).data });
      }
    }
  })().catch(() => undefined);
  return { events, close: () => abort.abort() };
}

const FLAT: Behaviour = { level: () => 10, nacks: new Set() };
const V2_IS_BAD: Behaviour = { level: (v) => (v === 2 ? 25 : 10), nacks: new Set() };

const GATE = { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.2, critical: true };
const plan = (extra: Record<string, unknown> = {}) => ({
  steps: [{ name: 'canary', select: { count: 2 }, bake: '300ms' }, { name: 'fleet', select: { percent: 100 }, bake: '200ms' }],
  gates: [GATE],
  judging: { interval: '200ms', timeout: '20s', lookback: '30s' },
  strata: { labelKeys: ['kernel'] },
  ...extra,
});

describe('rollouts in one controller (real Postgres, gRPC agents)', () => {
  let db: TestDatabaseHandle;
  let controller: ControllerHandle;
  let api: ApiClient;
  let nodes: ScriptedNode[] = [];

  beforeAll(async () => {
    db = await testDatabase('postgres', 'rollout-integration');
    // A blast-radius budget of 3 nodes: the whole-fleet steps go in batches.
    controller = await startTestController(testConfig(db.database), { rollouts: { config: { intervalMs: 50, ackTimeoutMs: 10_000, budget: { maxNodes: 3, maxPercent: null } } } });
    api = apiClient(controller.httpUrl, ADMIN_TOKEN);
    const address = controller.grpcAddress;
    for (let i = 0; i < 8; i++) nodes.push(new ScriptedNode(`node-${i}`, address, { kernel: i % 2 === 0 ? '6.1' : '6.6', zone: `z${i % 3}` }, FLAT, 1 + (i % 4)));
    await eventually(async () => (await api.get('/api/v1/nodes')).body?.nodes?.length === 8, 10_000, 'all nodes registered');
    expect((await api.post('/api/v1/policies', policyYaml('zgc-only'))).status).toBe(201);
    expect((await api.post('/api/v1/policies/zgc-only/versions?expectedVersion=1', policyYaml('zgc-only', { orders: [4, 9] }))).status).toBe(201);
    expect((await api.post('/api/v1/policies/zgc-only/versions?expectedVersion=2', policyYaml('zgc-only', { orders: [5, 9] }))).status).toBe(201);
    // Every node on version 1 first, directly.
    expect((await api.post('/api/v1/assignments', { policy: 'zgc-only', version: 1, selector: { labels: {} } })).status).toBe(200);
    await eventually(() => nodes.every((n) => n.running === 1), 10_000, 'every node on v1');
    // Some samples before the rollouts (the judges' pre-window).
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) n.close();
    nodes = [];
    await controller?.close();
    await db?.drop();
  });

  const detail = async (id: string): Promise<any> => (await api.get(`/api/v1/rollouts/${id}`)).body;
  const finished = (id: string, timeoutMs = 40_000) =>
    eventually(async () => {
      const d = await detail(id);
      return ['completed', 'failed', 'rolled_back', 'aborted'].includes(d.rollout.phase) ? d : undefined;
    }, timeoutMs, `rollout ${id} to finish`);

  it('rejects a bad plan with every error and its path, and a gate skip from a non-admin', async () => {
    const bad = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: { steps: [{ select: { count: 0 } }, { select: { count: 2 } }], gates: [{ name: 'x', direction: 'up' }] } });
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.map((d: any) => d.path)).toEqual(
      expect.arrayContaining(['body.plan.steps[0].select.count', 'body.plan.steps[1].select', 'body.plan.gates[0].direction', 'body.plan.gates[0].tolerance']),
    );
    const token = await api.post('/api/v1/tokens', { name: 'ops', role: 'operator' });
    expect(token.status).toBe(201);
    const operator = apiClient(controller.httpUrl, token.body.token);
    const skip = await operator.post('/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: plan({ skipGates: { reason: 'trust me' } }) });
    expect(skip.status).toBe(403);
    const missing = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 9, plan: plan() });
    expect(missing.status).toBe(404);
  });

  it('answers bad input on every rollout endpoint with a 4xx naming what and where, never a 5xx', async () => {
    const token = await api.post('/api/v1/tokens', { name: 'viewer', role: 'viewer' });
    const viewer = apiClient(controller.httpUrl, token.body.token);
    /** [method, path, body, headers, expected status, a path in error.details (or null)] */
    const cases: [string, string, unknown, Record<string, string>, number, string | null][] = [
      ['POST', '/api/v1/rollouts', undefined, {}, 400, 'body'],
      ['POST', '/api/v1/rollouts', 'policy: zgc-only', { 'content-type': 'text/plain' }, 415, null],
      ['POST', '/api/v1/rollouts', '{"policy": ', { 'content-type': 'application/json' }, 400, null],
      ['POST', '/api/v1/rollouts', [1, 2], {}, 400, 'body'],
      ['POST', '/api/v1/rollouts', { policy: 'Not A Name', version: '2', plan: {} }, {}, 400, 'body.policy'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 0, plan: {} }, {}, 400, 'body.version'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: {}, extra: 1 }, {}, 400, 'body.extra'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2 }, {}, 400, 'body.plan'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: 'fast' }, {}, 422, 'body.plan'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: { steps: [{ select: { percent: 100 }, bake: 'soon' }] } }, {}, 422, 'body.plan.steps[0].bake'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: { steps: [{ select: { labels: { matchLabels: { 'bad key!': 'x' } } } }, { select: { percent: 100 } }] } }, {}, 422, null],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: { steps: [{ select: { count: 1 } }, { select: { percent: 100 }, gates: [GATE] }] } }, {}, 422, 'body.plan.steps[1].gates'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: { ...plan(), judging: { interval: '10s', timeout: '1s' } } }, {}, 422, 'body.plan.judging.timeout'],
      ['POST', '/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: { ...plan(), gates: [{ ...GATE, name: 'x@/[' }] } }, {}, 422, 'body.plan.gates[0].name'],
      ['POST', '/api/v1/rollouts', { policy: 'no-such-policy', version: 1, plan: plan() }, {}, 404, 'body.version'],
      ['GET', '/api/v1/rollouts?state=sleeping', undefined, {}, 400, 'query.state'],
      ['GET', '/api/v1/rollouts?limit=0', undefined, {}, 400, 'query.limit'],
      ['GET', '/api/v1/rollouts?active=yes', undefined, {}, 400, 'query.active'],
      ['GET', '/api/v1/rollouts?policy=A_B', undefined, {}, 400, 'query.policy'],
      ['GET', '/api/v1/rollouts/NOT%20AN%20ID', undefined, {}, 400, 'path.id'],
      ['GET', '/api/v1/rollouts/ro-doesnotexist', undefined, {}, 404, null],
      ['GET', '/api/v1/rollouts/ro-doesnotexist?events=many', undefined, {}, 400, 'query.events'],
      ['POST', '/api/v1/rollouts/ro-doesnotexist/pause', { reason: 'x' }, {}, 404, null],
      ['POST', '/api/v1/rollouts/ro-doesnotexist/pause', {}, {}, 400, 'body.reason'],
      ['POST', '/api/v1/rollouts/ro-doesnotexist/pause', { reason: '' }, {}, 400, 'body.reason'],
      ['POST', '/api/v1/rollouts/ro-doesnotexist/abort', { reason: 'x'.repeat(1001) }, {}, 400, 'body.reason'],
      ['POST', '/api/v1/rollouts/ro-doesnotexist/promote', { skipGate: { reason: 5 } }, {}, 400, 'body.skipGate.reason'],
      ['POST', '/api/v1/rollouts/ro-doesnotexist/resume', undefined, { 'if-match': 'yesterday' }, 400, 'header.If-Match'],
      ['POST', '/api/v1/rollouts/Bad_Id/resume', undefined, {}, 400, 'path.id'],
      ['POST', '/api/v1/policies/zgc-only/rollback', { version: 'one' }, {}, 400, 'body.version'],
      ['POST', '/api/v1/policies/zgc-only/rollback', { version: 1, skipGates: {} }, {}, 400, 'body.skipGates.reason'],
      ['POST', '/api/v1/policies/zgc-only/rollback', { version: 1, canaryBake: 'soon', gates: [GATE] }, {}, 422, 'body.canaryBake'],
      ['POST', '/api/v1/policies/zgc-only/rollback', { version: 1, gates: [{ name: 'psi' }] }, {}, 422, 'body.gates[0].direction'],
      ['POST', '/api/v1/policies/zgc-only/rollback', { version: 1, gates: 'psi' }, {}, 422, 'body.gates'],
      ['POST', '/api/v1/policies/zgc-only/rollback', 'version: 1', { 'content-type': 'application/yaml' }, 415, null],
      ['POST', '/api/v1/policies/zgc-only/rollback', '{"version":', { 'content-type': 'application/json' }, 400, 'body'],
      ['POST', '/api/v1/policies/NO/rollback', { version: 1 }, {}, 400, 'path.name'],
      ['POST', '/api/v1/policies/zgc-only/rollback', { version: 99 }, {}, 404, 'body.version'],
      ['PUT', '/api/v1/rollout-budget', {}, {}, 400, 'body.maxNodes'],
      ['PUT', '/api/v1/rollout-budget', { maxNodes: 0, maxPercent: null }, {}, 400, 'body.maxNodes'],
      ['PUT', '/api/v1/rollout-budget', { maxNodes: null, maxPercent: 150 }, {}, 400, 'body.maxPercent'],
      ['PUT', '/api/v1/rollout-budget', { maxNodes: null, maxPercent: '5%' }, {}, 400, 'body.maxPercent'],
      ['PUT', '/api/v1/rollout-budget', { maxNodes: 2.5, maxPercent: null }, {}, 400, 'body.maxNodes'],
      ['PUT', '/api/v1/rollout-budget', { maxNodes: 2, maxPercent: null }, { 'if-match': '"rev-7"' }, 409, 'header.If-Match'],
    ];
    for (const [method, path, body, headers, status, where] of cases) {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...(body !== undefined && typeof body !== 'string' ? { 'content-type': 'application/json' } : {}), ...headers } };
      if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
      const response = await fetch(`${controller.httpUrl}${path}`, init);
      const reply = (await response.json()) as any;
      const label = `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)} -> ${response.status} ${JSON.stringify(reply)}`;
      expect(response.status, label).toBe(status);
      expect(typeof reply.error.message, label).toBe('string');
      if (where !== null) expect(reply.error.details.map((d: any) => d.path), label).toContain(where);
    }
    // Roles: a viewer reads but changes nothing; the budget and gate skips are for admins.
    expect((await viewer.get('/api/v1/rollouts')).status).toBe(200);
    expect((await viewer.get('/api/v1/rollout-budget')).status).toBe(200);
    expect((await viewer.post('/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: plan() })).status).toBe(403);
    expect((await viewer.put('/api/v1/rollout-budget', { maxNodes: 1, maxPercent: null })).status).toBe(403);
    expect((await apiClient(controller.httpUrl, null).get('/api/v1/rollouts')).status).toBe(401);
    // Nothing above created a rollout.
    expect((await api.get('/api/v1/rollouts')).body.rollouts).toEqual([]);
  });

  it('promotes a good version through a judged canary to every node, and audits every transition', async () => {
    const sse = collectSse(controller.httpUrl, 'rollout');
    const created = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan: plan() });
    expect(created.status).toBe(201);
    const id = created.body.rollout.id as string;
    expect(created.headers.get('etag')).toBe('"rev-1"');
    // One active rollout per policy.
    const second = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 3, plan: plan() });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain(id);

    const d = await finished(id);
    expect(d.rollout.phase).toBe('completed');
    expect(nodes.every((n) => n.running === 2)).toBe(true);
    // The canary covered both kernels; the judgment compared it with a baseline on version 1.
    expect(d.steps[0].cohort.length).toBeGreaterThanOrEqual(2);
    expect(d.steps[0].strata.uncovered).toEqual([]);
    expect(d.steps[0].strata.covered).toEqual(['kernel=6.1', 'kernel=6.6']);
    const passed = d.judgments.filter((j: any) => j.step === 0 && j.verdict === 'pass');
    expect(passed).toHaveLength(1);
    expect(passed[0].nCanary).toBeGreaterThanOrEqual(10);
    expect(passed[0].nBaseline).toBeGreaterThanOrEqual(10);
    expect(passed[0].details.baselineNodes.length).toBe(6);
    expect(d.nodes).toHaveLength(8);
    expect(d.nodes.every((n: any) => n.previous.policy === 'zgc-only' && n.previous.version === 1)).toBe(true);
    const kinds = d.events.map((e: any) => e.data.kind);
    expect(kinds).toEqual(expect.arrayContaining(['created', 'started', 'cohort_chosen', 'nodes_assigned', 'step_acked', 'bake_started', 'judgment_requested', 'verdict', 'step_passed', 'completed']));
    const audit = (await api.get(`/api/v1/audit?targetType=rollout&targetId=${id}&limit=1000`)).body;
    const actions = audit.entries.map((e: any) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['rollout.create', 'rollout.start', 'rollout.cohort_chosen', 'rollout.admit', 'rollout.step_acked', 'rollout.judge_verdict']));
    // Every transition exactly once: the audited revisions run 2, 3, ... without gap or repeat.
    const revisions = audit.entries
      .filter((e: any) => e.action !== 'rollout.create')
      .map((e: any) => e.after.revision as number)
      .sort((a: number, b: number) => a - b);
    expect(revisions).toEqual(Array.from({ length: revisions.length }, (_, i) => i + 2));
    expect(revisions.at(-1)).toBe(d.rollout.revision);
    // The blast-radius budget (3 nodes) held: no batch larger, and the fleet step took several.
    const batches = d.events.filter((e: any) => e.data.kind === 'nodes_assigned').map((e: any) => (e.data.nodes as string[]).length);
    expect(Math.max(...batches)).toBeLessThanOrEqual(3);
    expect(batches.length).toBeGreaterThanOrEqual(3);
    // SSE subscribers saw the rollout move, through to completed.
    const seen = await eventually(() => (sse.events.some((e) => e.data.id === id && e.data.phase === 'completed') ? sse.events : undefined), 5_000, 'SSE rollout events');
    sse.close();
    expect(seen.filter((e) => e.data.id === id).map((e) => e.data.phase)).toEqual(expect.arrayContaining(['progressing', 'baking', 'judging', 'completed']));
  });

  it('fails a bad version at the canary and rolls every touched node back, with the verdict in the audit log', async () => {
    for (const n of nodes) n.behaviour = { level: (v) => (v === 3 ? 25 : 10), nacks: new Set() };
    const created = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 3, plan: plan() });
    expect(created.status).toBe(201);
    const id = created.body.rollout.id as string;
    const d = await finished(id);
    expect(d.rollout.phase).toBe('rolled_back');
    expect(d.rollout.reason).toMatch(/canary failed its gates/);
    const touched: string[] = d.rollout.touched;
    expect(touched.length).toBeGreaterThanOrEqual(2);
    expect(touched.length).toBeLessThan(8);
    await eventually(() => nodes.every((n) => n.running === 2), 10_000, 'every node back on v2');
    const failed = d.judgments.find((j: any) => j.verdict === 'fail');
    expect(failed.effect).toBeGreaterThan(0.5);
    expect(failed.threshold).toBe(0.2);
    const audit = (await api.get(`/api/v1/audit?targetType=rollout&targetId=${id}&action=rollout.judge_verdict`)).body;
    const entries = audit.entries;
    const verdict = entries.map((e: any) => e.after?.verdict).find((v: any) => v?.verdict === 'fail');
    expect(verdict.metrics[0]).toMatchObject({ metric: 'psi_memory_some_avg10', verdict: 'fail', tolerance: 0.2 });
    expect(typeof verdict.metrics[0].statistic).toBe('number');
    expect(verdict.metrics[0].nCanary).toBeGreaterThanOrEqual(10);
    for (const n of nodes) n.behaviour = V2_IS_BAD;
  });

  it('halts on a NACK, rolls back, and never sends the version to that node again', async () => {
    for (const n of nodes) n.behaviour = { level: () => 10, nacks: new Set([3]) };
    const before = new Map(nodes.map((n) => [n.id, n.sentVersions.filter((v) => v === 3).length]));
    const created = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 3, plan: plan() });
    const id = created.body.rollout.id as string;
    const d = await finished(id);
    expect(d.rollout.phase).toBe('rolled_back');
    expect(d.rollout.nacked.length).toBeGreaterThanOrEqual(1);
    expect(d.rollout.reason).toMatch(/rejected version 3/);
    await eventually(() => nodes.every((n) => n.running === 2), 10_000, 'every node back on v2');
    // A later rollout of the same version excludes the nodes that NACKed it, with the reason.
    for (const n of nodes) n.behaviour = FLAT;
    const again = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 3, plan: plan({ judging: { interval: '200ms', timeout: '20s', lookback: '30s', onInconclusive: 'rollback' } }) });
    const d2 = await finished(again.body.rollout.id);
    const excluded = d2.steps[0].excluded.map((e: any) => e.node);
    for (const nacked of d.rollout.nacked) {
      expect(excluded).toContain(nacked);
      const node = nodes.find((n) => n.id === nacked)!;
      expect(node.sentVersions.filter((v) => v === 3).length - (before.get(nacked) ?? 0)).toBe(1);
    }
    // Leave the fleet on v2 for the next tests.
    if (d2.rollout.phase === 'completed') {
      const back = await api.post('/api/v1/policies/zgc-only/rollback', { version: 2, skipGates: { reason: 'reset for the next test' } });
      expect(back.status).toBe(201);
      expect((await finished(back.body.rollout.id)).rollout.phase).toBe('completed');
    }
    await eventually(() => nodes.filter((n) => !d.rollout.nacked.includes(n.id)).every((n) => n.running === 2), 10_000, 'every node on v2');
  });

  it('pauses, resumes, promotes and aborts by hand, conditionally on the revision', async () => {
    const created = await api.post('/api/v1/rollouts', { policy: 'zgc-only', version: 1, plan: plan({ steps: [{ name: 'canary', select: { count: 2 }, bake: '1h' }, { select: { percent: 100 } }] }) });
    const id = created.body.rollout.id as string;
    const baking = await eventually(async () => ((await detail(id)).rollout.phase === 'baking' ? detail(id) : undefined), 15_000, 'baking');
    const stale = await api.post(`/api/v1/rollouts/${id}/pause`, { reason: 'look' }, { 'if-match': `"rev-${baking.rollout.revision - 1}"` });
    expect(stale.status).toBe(409);
    const paused = await api.post(`/api/v1/rollouts/${id}/pause`, { reason: 'look at the dashboards' }, { 'if-match': `"rev-${baking.rollout.revision}"` });
    expect(paused.status).toBe(200);
    expect(paused.body.rollout.phase).toBe('paused');
    expect((await api.post(`/api/v1/rollouts/${id}/pause`, { reason: 'again' })).status).toBe(409);
    expect((await api.post(`/api/v1/rollouts/${id}/resume`)).body.rollout.phase).toBe('baking');
    const promoted = await api.post(`/api/v1/rollouts/${id}/promote`, {});
    expect(promoted.status).toBe(200);
    await eventually(async () => ['judging', 'progressing', 'baking'].includes((await detail(id)).rollout.phase) && (await detail(id)).rollout.step >= 0, 5_000, 'promoted');
    const aborted = await api.post(`/api/v1/rollouts/${id}/abort`, { reason: 'changed my mind' });
    expect(aborted.status).toBe(200);
    const d = await finished(id);
    expect(d.rollout.phase).toBe('aborted');
    await eventually(() => nodes.every((n) => n.running === 2), 10_000, 'every node back on v2');
    const audit = (await api.get(`/api/v1/audit?targetType=rollout&targetId=${id}&limit=1000`)).body;
    const entries = audit.entries;
    const pauses = entries.filter((e: any) => e.action === 'rollout.pause');
    expect(pauses).toHaveLength(1);
    expect(pauses[0].actor).toMatch(/^token:/);
  });

  it('sets the blast-radius budget over the API (admin, audited, conditional on its revision)', async () => {
    const before = await api.get('/api/v1/rollout-budget');
    expect(before.status).toBe(200);
    expect(before.body).toEqual({ budget: { maxNodes: 3, maxPercent: null, source: 'environment', revision: 0, updatedAt: null, updatedBy: null }, fleetSize: 8, limitNodes: 3 });
    expect(before.headers.get('etag')).toBe('"rev-0"');
    const set = await api.put('/api/v1/rollout-budget', { maxNodes: null, maxPercent: 25 }, { 'if-match': '"rev-0"' });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({ budget: { maxNodes: null, maxPercent: 25, source: 'api', revision: 1 }, fleetSize: 8, limitNodes: 2 });
    expect((await api.put('/api/v1/rollout-budget', { maxNodes: 5, maxPercent: null }, { 'if-match': '"rev-0"' })).status).toBe(409);
    const audit = (await api.get('/api/v1/audit?action=rollout.budget.set')).body.entries;
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ actor: expect.stringMatching(/^token:/), before: { maxNodes: 3, maxPercent: null, source: 'environment' }, after: { maxNodes: null, maxPercent: 25, source: 'api', revision: 1 } });
  });

  it('rolls a policy back to an earlier version on the fast path (admin, reason audited)', async () => {
    const r = await api.post('/api/v1/policies/zgc-only/rollback', { version: 1, skipGates: { reason: 'INC-42: v2 pages the on-call' } });
    expect(r.status).toBe(201);
    expect(r.body.rollout.kind).toBe('rollback');
    const d = await finished(r.body.rollout.id);
    expect(d.rollout.phase).toBe('completed');
    expect(d.judgments).toEqual([]);
    // The budget set over the API (25 % of 8 nodes = 2) held the whole-fleet step to batches of 2.
    const batches = d.events.filter((e: any) => e.data.kind === 'nodes_assigned').map((e: any) => (e.data.nodes as string[]).length);
    expect(Math.max(...batches)).toBeLessThanOrEqual(2);
    expect(batches.reduce((a: number, b: number) => a + b, 0)).toBe(8);
    await eventually(() => nodes.every((n) => n.running === 1), 10_000, 'every node on v1');
    const audit = (await api.get(`/api/v1/audit?targetType=rollout&targetId=${r.body.rollout.id}&action=rollout.rollback`)).body;
    const entries = audit.entries;
    expect(entries[0].after.gateSkip.reason).toBe('INC-42: v2 pages the on-call');
  });
});
