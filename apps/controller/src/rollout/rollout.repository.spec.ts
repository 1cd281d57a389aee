/**
 * Every statement of RolloutRepository on both kinds of database (the real Postgres and embedded
 * PGlite), on the schema the migrations build: rollouts with their machine state and the
 * revision guard, the one-active-per-policy index over the phases the machine persists, steps,
 * events, rollout nodes (first write wins), judgments (once per attempt and metric), the fleet
 * view, the NACK quarantine, samples and the blast-radius budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type StoreKind } from '../testing.test-util.js';
import type { Store } from '../store/database.js';
import { sqlState } from '../store/db-errors.js';
import { PolicyRepository } from '../policy/policy.repository.js';
import { NodeRepository, type StatusWrite } from '../node/node.repository.js';
import { AssignmentRepository } from '../assignment/assignment.repository.js';
import { MetricSampleRepository } from '../metrics/metric-sample.repository.js';
import { ACTIVE_PHASES, PHASES, TERMINAL_PHASES, initialState, type Phase, type RolloutState } from './rollout.machine.js';
import { RolloutRepository, type NewJudgment } from './rollout.repository.js';

const HASH1 = '1'.repeat(64);
const HASH2 = '2'.repeat(64);
const t0 = new Date('2026-11-25T10:00:00.000Z');
const at = (ms: number): Date => new Date(t0.getTime() + ms);

function acked(nodeId: string, version: number | null): StatusWrite {
  return { nodeId, kind: 'acked', policy: version === null ? null : 'pol', version, specHash: version === null ? null : version === 1 ? HASH1 : HASH2, nonce: 'n', rolloutId: null, mapContentHash: null, sysfs: null, enforcement: null, programIds: null, at: t0 };
}

function judgment(attempt: number, metric: string, verdict: NewJudgment['verdict']): NewJudgment {
  return { step: 0, attempt, metric, method: 'sequential/mixture-sprt', verdict, statistic: 2.5, effect: 0.31, ciLow: 0.1, ciHigh: 0.5, threshold: 0.2, nCanary: 40, nBaseline: 80, details: { judge: { note: 'x' } } };
}

describe.each(['postgres', 'pglite'] as const)('rollout repository on %s', (kind: StoreKind) => {
  let ctx: Awaited<ReturnType<typeof openTestStore>>;
  let store: Store;
  const repo = new RolloutRepository();
  const policies = new PolicyRepository();
  const nodes = new NodeRepository();
  const assignments = new AssignmentRepository();
  const samples = new MetricSampleRepository();

  const newRollout = (id: string, state: RolloutState = initialState(t0.getTime()), when = t0) =>
    store.db.transaction().execute((tx) =>
      repo.insert(tx, { id, policy: 'pol', fromVersion: 1, toVersion: 2, kind: 'rollout', plan: { steps: [] }, machine: state, gateSkipReason: null, createdBy: 'test', at: when }),
    );
  const move = (id: string, revision: number, state: RolloutState, when: Date) =>
    store.db.transaction().execute((tx) => repo.writeState(tx, id, revision, state, when, TERMINAL_PHASES.includes(state.phase)));

  beforeAll(async () => {
    ctx = await openTestStore(kind, `rollout_repo_${kind}`);
    store = ctx.store;
    await store.db.transaction().execute(async (tx) => {
      await policies.insertPolicy(tx, { name: 'pol', description: '', createdBy: 'test', at: t0 });
      await policies.insertPolicy(tx, { name: 'other', description: '', createdBy: 'test', at: t0 });
      for (const [version, hash] of [[1, HASH1], [2, HASH2]] as const) {
        await policies.insertVersion(tx, { policy: 'pol', version, specHash: hash, canonical: `{"v":${version}}`, source: 's', sourceFormat: 'yaml', message: '', author: 'test', at: t0 });
      }
      await policies.insertVersion(tx, { policy: 'other', version: 1, specHash: HASH1, canonical: '{}', source: 's', sourceFormat: 'yaml', message: '', author: 'test', at: t0 });
    });
    const reg = (id: string, kernel: string) => ({ id, labels: { kernel }, kernelRelease: kernel, agentVersion: '1', capabilities: { activeBackend: 'BACKEND_SIM' }, replicaId: 'r1', sessionId: `s-${id}`, at: t0 });
    await nodes.register(store.db, [reg('n1', '6.1'), reg('n2', '6.6'), reg('n3', '6.6')]);
  });
  afterAll(async () => {
    await ctx?.close();
  });

  it('inserts a rollout with its steps and reads it back; lists filter by policy, state and activity', async () => {
    const record = await newRollout('ro-a');
    expect(record).toMatchObject({ id: 'ro-a', policy: 'pol', fromVersion: 1, toVersion: 2, kind: 'rollout', phase: 'pending', currentStep: 0, revision: 1, reason: '', gateSkipReason: null, finishedAt: null });
    expect(record.machine).toEqual(initialState(t0.getTime()));
    await store.db.transaction().execute((tx) =>
      repo.insertSteps(tx, 'ro-a', [
        { selector: { name: 'canary', count: 2 }, bakeMs: 300, gates: [{ name: 'psi' }] },
        { selector: { name: 'fleet', percent: 100 }, bakeMs: 5_000_000_000, gates: [] },
      ]),
    );
    const steps = await repo.steps(store.db, 'ro-a');
    expect(steps.map((s) => [s.index, s.selector, s.bakeMs, s.gates, s.state, s.nodeIds, s.strata, s.baseline])).toEqual([
      [0, { name: 'canary', count: 2 }, 300, [{ name: 'psi' }], 'pending', [], null, null],
      [1, { name: 'fleet', percent: 100 }, 5_000_000_000, [], 'pending', [], null, null],
    ]);
    expect(await repo.get(store.db, 'ro-a')).toEqual(record);
    expect(await repo.get(store.db, 'nope')).toBeUndefined();
    expect((await repo.list(store.db, { policy: 'pol', limit: 10 })).map((r) => r.id)).toEqual(['ro-a']);
    expect(await repo.list(store.db, { state: 'completed', limit: 10 })).toEqual([]);
    expect((await repo.list(store.db, { active: true, limit: 10 })).map((r) => r.id)).toEqual(['ro-a']);
    expect((await repo.activeFor(store.db, 'pol'))?.id).toBe('ro-a');
    expect(await repo.activeFor(store.db, 'other')).toBeUndefined();
  });

  it('one active rollout per policy: a second one in any active phase is a unique violation; a finished one is not', async () => {
    const error = await newRollout('ro-b').catch((e: unknown) => e);
    expect(sqlState(error)).toBe('23505');
    // Every phase the machine persists as active holds the policy; every terminal phase frees it.
    expect([...ACTIVE_PHASES, ...TERMINAL_PHASES].sort()).toEqual([...PHASES].sort());
    for (const phase of ACTIVE_PHASES.filter((p) => p !== 'pending')) {
      const state = { ...initialState(t0.getTime()), phase, step: 0 } as RolloutState;
      const other = await store.db
        .transaction()
        .execute((tx) => repo.insert(tx, { id: `ro-${phase}`, policy: 'other', fromVersion: null, toVersion: 1, kind: 'rollback', plan: {}, machine: state, gateSkipReason: 'why', createdBy: 't', at: t0 }));
      expect(other.phase).toBe(phase);
      const clash = await store.db
        .transaction()
        .execute((tx) => repo.insert(tx, { id: `ro-${phase}-2`, policy: 'other', fromVersion: null, toVersion: 1, kind: 'rollout', plan: {}, machine: initialState(t0.getTime()), gateSkipReason: null, createdBy: 't', at: t0 }))
        .catch((e: unknown) => e);
      expect(sqlState(clash), phase).toBe('23505');
      const done = { ...state, phase: 'aborted' as Phase, version: 1, reason: 'test' };
      expect(await move(`ro-${phase}`, 1, done, at(1))).toBe(true);
    }
    const finished = await repo.get(store.db, 'ro-paused');
    expect(finished).toMatchObject({ phase: 'aborted', kind: 'rollback', gateSkipReason: 'why', revision: 2, reason: 'test', finishedAt: at(1) });
  });

  it('writes a transition only at the expected revision, and keeps state, step, revision and finished_at consistent', async () => {
    const s1: RolloutState = { ...initialState(t0.getTime()), version: 1, phase: 'progressing', step: 1, cohort: ['n1'], since: at(1).getTime() };
    expect(await move('ro-a', 2, s1, at(1))).toBe(false);
    expect(await move('ro-a', 1, s1, at(1))).toBe(true);
    expect(await move('ro-a', 1, s1, at(1))).toBe(false);
    const r = await repo.get(store.db, 'ro-a');
    expect(r).toMatchObject({ phase: 'progressing', currentStep: 1, revision: 2, finishedAt: null, updatedAt: at(1) });
    expect(r?.machine).toEqual(s1);
    // The schema refuses a terminal row without finished_at (and any row whose columns disagree with its machine state).
    const inconsistent = await store.db
      .transaction()
      .execute((tx) => repo.writeState(tx, 'ro-a', 2, { ...s1, version: 2, phase: 'completed' }, at(3), false))
      .catch((e: unknown) => sqlState(e));
    expect(inconsistent).toBe('23514');
  });

  it('updates steps piecewise: started_at keeps the first start, cohort, exclusions, strata and baseline', async () => {
    await store.db.transaction().execute(async (tx) => {
      await repo.updateStep(tx, 'ro-a', 0, { state: 'progressing', startedAt: at(1), nodeIds: ['n1', 'n2'], excluded: [{ node: 'n3', reasons: [{ code: 'stale' }] }], strata: { covered: ['kernel=6.1'] } });
      await repo.updateStep(tx, 'ro-a', 0, { state: 'baking', startedAt: at(9), bakeUntil: at(5) });
      await repo.updateStep(tx, 'ro-a', 0, { baseline: { nodes: ['n3'] } });
      await repo.updateStep(tx, 'ro-a', 0, {});
    });
    let step = (await repo.steps(store.db, 'ro-a'))[0]!;
    expect(step).toMatchObject({ state: 'baking', nodeIds: ['n1', 'n2'], excluded: [{ node: 'n3', reasons: [{ code: 'stale' }] }], strata: { covered: ['kernel=6.1'] }, baseline: { nodes: ['n3'] }, startedAt: at(1), bakeUntil: at(5), completedAt: null });
    await store.db.transaction().execute((tx) => repo.updateStep(tx, 'ro-a', 0, { state: 'passed', bakeUntil: null, completedAt: at(7) }));
    step = (await repo.steps(store.db, 'ro-a'))[0]!;
    expect(step).toMatchObject({ state: 'passed', bakeUntil: null, completedAt: at(7) });
  });

  it('appends events in order and finds the last of a kind per step', async () => {
    await store.db.transaction().execute(async (tx) => {
      await repo.insertEvents(tx, 'ro-a', at(1), [
        { fromState: 'pending', toState: 'progressing', step: null, actor: 'a', message: 'started', data: { kind: 'started' } },
        { fromState: 'progressing', toState: 'baking', step: 0, actor: 'a', message: 'acked', data: { kind: 'step_acked', nodes: 2 } },
      ]);
      await repo.insertEvents(tx, 'ro-a', at(2), [{ fromState: 'baking', toState: 'baking', step: 1, actor: 'b', message: 'acked 1', data: { kind: 'step_acked' } }]);
      await repo.insertEvents(tx, 'ro-a', at(3), []);
    });
    const events = await repo.events(store.db, 'ro-a', 10);
    expect(events.map((e) => [e.fromState, e.toState, e.step, e.actor, e.message, e.data['kind']])).toEqual([
      ['pending', 'progressing', null, 'a', 'started', 'started'],
      ['progressing', 'baking', 0, 'a', 'acked', 'step_acked'],
      ['baking', 'baking', 1, 'b', 'acked 1', 'step_acked'],
    ]);
    expect((await repo.events(store.db, 'ro-a', 1)).map((e) => e.message)).toEqual(['acked 1']);
    expect(await repo.lastEventAt(store.db, 'ro-a', 'step_acked', 0)).toEqual(at(1));
    expect(await repo.lastEventAt(store.db, 'ro-a', 'step_acked', null)).toEqual(at(2));
    expect(await repo.lastEventAt(store.db, 'ro-a', 'completed', null)).toBeNull();
  });

  it('remembers what each node ran before (first write wins), and locks assignments', async () => {
    await store.db.transaction().execute((tx) => assignments.upsert(tx, ['n1'], { policy: 'pol', version: 1 }, null, 'test', t0));
    await store.db.transaction().execute(async (tx) => {
      const locked = await repo.lockAssignments(tx, ['n1', 'n2', 'n9']);
      expect([...locked]).toEqual([['n1', { desired: { policy: 'pol', version: 1 }, rolloutId: null }]]);
      expect(await repo.lockAssignments(tx, [])).toEqual(new Map());
      await repo.insertNodes(tx, 'ro-a', 0, [{ nodeId: 'n1', previous: { policy: 'pol', version: 1 } }, { nodeId: 'n2', previous: null }], at(1));
      await repo.insertNodes(tx, 'ro-a', 1, [{ nodeId: 'n1', previous: { policy: 'pol', version: 2 } }, { nodeId: 'n3', previous: null }], at(2));
      await repo.insertNodes(tx, 'ro-a', 1, [], at(2));
    });
    expect(await repo.nodes(store.db, 'ro-a')).toEqual([
      { nodeId: 'n1', step: 0, previous: { policy: 'pol', version: 1 }, assignedAt: at(1) },
      { nodeId: 'n2', step: 0, previous: null, assignedAt: at(1) },
      { nodeId: 'n3', step: 1, previous: null, assignedAt: at(2) },
    ]);
  });

  it('stores judgments once per (step, attempt, metric), with their statistics', async () => {
    await store.db.transaction().execute((tx) => repo.insertJudgments(tx, 'ro-a', at(4), [judgment(1, 'psi', 'inconclusive'), judgment(1, 'rss', 'pass')]));
    await store.db.transaction().execute((tx) => repo.insertJudgments(tx, 'ro-a', at(5), [judgment(2, 'psi', 'fail')]));
    const again = await store.db
      .transaction()
      .execute((tx) => repo.insertJudgments(tx, 'ro-a', at(6), [judgment(2, 'psi', 'fail')]))
      .catch((e: unknown) => sqlState(e));
    expect(again).toBe('23505');
    const rows = await repo.judgments(store.db, 'ro-a');
    expect(rows.map((j) => [j.step, j.attempt, j.metric, j.verdict])).toEqual([
      [0, 1, 'psi', 'inconclusive'],
      [0, 1, 'rss', 'pass'],
      [0, 2, 'psi', 'fail'],
    ]);
    expect(rows[2]).toMatchObject({ method: 'sequential/mixture-sprt', statistic: 2.5, effect: 0.31, ciLow: 0.1, ciHigh: 0.5, threshold: 0.2, nCanary: 40, nBaseline: 80, details: { judge: { note: 'x' } }, judgedAt: at(5) });
  });

  it('reads the fleet (labels, staleness, acknowledged and desired state), the NACK quarantine and samples', async () => {
    await nodes.writeStatuses(store.db, [acked('n1', 1), acked('n2', null)]);
    const fleet = await repo.fleet(store.db);
    expect(fleet.map((n) => [n.id, n.labels, n.stale, n.acked, n.desired, n.desiredRollout])).toEqual([
      ['n1', { kernel: '6.1' }, false, { policy: 'pol', version: 1 }, { policy: 'pol', version: 1 }, null],
      ['n2', { kernel: '6.6' }, false, null, null, null],
      ['n3', { kernel: '6.6' }, false, null, null, null],
    ]);
    expect(fleet[0]?.capabilities).toEqual({ activeBackend: 'BACKEND_SIM' });
    await nodes.quarantine(store.db, [{ nodeId: 'n2', policy: 'pol', version: 2, specHash: HASH2, nonce: 'x', stage: 'validate', message: 'no 64kB', detail: '', at: at(3) }]);
    const target = { policy: 'pol', version: 2 };
    expect([...(await repo.quarantined(store.db, ['n1', 'n2'], target))]).toEqual([['n2', 'validate: no 64kB']]);
    expect(await repo.quarantined(store.db, ['n1', 'n2'], target, at(4))).toEqual(new Map());
    expect(await repo.quarantined(store.db, ['n1', 'n2'], { policy: 'pol', version: 1 })).toEqual(new Map());
    expect(await repo.quarantined(store.db, [], target)).toEqual(new Map());

    await samples.insert(store.db, [
      { nodeId: 'n1', ts: at(1_000), name: 'psi', cgroup: '', kind: 2, value: 1.5 },
      { nodeId: 'n1', ts: at(2_000), name: 'psi', cgroup: '/w/a', kind: 2, value: 2 },
      { nodeId: 'n2', ts: at(3_000), name: 'psi', cgroup: '', kind: 2, value: 3 },
      { nodeId: 'n3', ts: at(2_000), name: 'psi', cgroup: '', kind: 2, value: 9 },
      { nodeId: 'n1', ts: at(2_500), name: 'rss', cgroup: '', kind: 2, value: 7 },
    ]);
    expect(await repo.samples(store.db, ['n1', 'n2'], 'psi', at(1_000), at(2_000))).toEqual([
      { nodeId: 'n1', ts: at(1_000).getTime(), cgroup: '', value: 1.5 },
      { nodeId: 'n1', ts: at(2_000).getTime(), cgroup: '/w/a', value: 2 },
    ]);
    expect(await repo.samples(store.db, [], 'psi', at(0), at(9_000))).toEqual([]);
    expect(await repo.fleetSize(store.db)).toBe(3);
  });

  it('the blast-radius budget: none until set, then guarded by its revision', async () => {
    expect(await repo.budget(store.db)).toBeNull();
    const set = (maxNodes: number | null, maxPercent: number | null, expectedRevision: number | undefined) =>
      store.db.transaction().execute((tx) => repo.setBudget(tx, { maxNodes, maxPercent, expectedRevision, at: at(1), by: 'admin' }));
    expect(await set(3, null, 1)).toBeNull();
    expect(await set(3, null, 0)).toEqual({ maxNodes: 3, maxPercent: null, revision: 1, updatedAt: at(1), updatedBy: 'admin' });
    expect(await set(4, null, 0)).toBeNull();
    expect(await set(null, 12.5, 1)).toMatchObject({ maxNodes: null, maxPercent: 12.5, revision: 2 });
    expect(await set(5, 50, undefined)).toMatchObject({ maxNodes: 5, maxPercent: 50, revision: 3 });
    const refused = await set(0, null, undefined).catch((e: unknown) => sqlState(e));
    expect(refused).toBe('23514');
    expect(await repo.budget(store.db)).toMatchObject({ maxNodes: 5, maxPercent: 50, revision: 3 });
  });
});
