/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- REST bodies are untyped JSON checked with expect() */
/**
 * Issue 7, "Must be shown" 1, 2 and 4, end to end: the real controller process on the real
 * Postgres, one real agent process hosting a simulated fleet of a dozen mixed nodes (libs/mm-sim
 * at 60 simulated seconds per wall second), the example policies, and only REST to drive it.
 * Whether a policy is good or bad is decided by the simulator's mechanics and the canary judge:
 * nothing here tells either what to find.
 */
import { createTestDatabase, type TestDatabase } from '@thp-fleet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE_POLICY,
  Rest,
  STANDARD_GATES,
  TERMINAL,
  collectEvents,
  freePort,
  judgmentLines,
  newSecrets,
  startController,
  startSimFleet,
  waitFor,
  type AgentFleet,
  type ControllerProcess,
  type Secrets,
} from './rollout.harness.js';

const FLEET_SIZE = 12;
const TIME_SCALE = 60;

/**
 * Canary first (one node asked for; the strata add the rest), then the whole fleet. Each series
 * is judged relative to its own level over the 10 s (10 simulated minutes) before the canary
 * was assigned: well after the fleet's workloads loaded their data (the warm-up below is 20 s),
 * so the pre-window holds steady state only.
 */
const plan = {
  steps: [
    { name: 'canary', select: { count: 1 }, bake: '5s' },
    { name: 'fleet', select: { percent: 100 }, bake: '2s' },
  ],
  gates: STANDARD_GATES,
  judging: { interval: '2s', timeout: '90s', onInconclusive: 'pause', lookback: '10s' },
};

describe('rollouts end to end: controller and agent processes, a simulated fleet of a dozen nodes', () => {
  let db: TestDatabase;
  let secrets: Secrets;
  let grpcPort: number;
  let controller: ControllerProcess;
  let fleet: AgentFleet;
  let rest: Rest;

  const start = async (): Promise<void> => {
    controller = await startController({ db, secrets, grpcPort });
    rest = new Rest(controller.httpUrl, secrets.adminToken);
  };

  const finished = (id: string, ms = 180_000): Promise<any> =>
    waitFor(`rollout ${id} to end`, async () => {
      const d = await rest.rollout(id);
      if (d.rollout.phase === 'paused') throw new Error(`rollout paused: ${d.rollout.reason}`);
      return TERMINAL.includes(d.rollout.phase) ? d : undefined;
    }, ms, 500);

  /**
   * Let the fleet settle after the previous rollout: the judge's pre-window (lookback 10 s) must
   * hold steady state, not the last switch of policies. (The tests run in the order 1, 4, 2: the
   * bad policy last, so no canary is judged against nodes still recovering from it.)
   */
  const quiet = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 12_000));

  /** Every node's acknowledged policy, by node id. */
  const acked = async (): Promise<Map<string, string>> => new Map((await rest.nodes()).map((n) => [n.id as string, n.acked?.version == null ? 'none' : `${n.acked.policy}@${n.acked.version}`]));

  beforeAll(async () => {
    db = await createTestDatabase('rollout-e2e');
    secrets = newSecrets();
    grpcPort = await freePort();
    await start();
    fleet = startSimFleet({ grpcAddress: controller.grpcAddress, secrets, nodes: FLEET_SIZE, timeScale: TIME_SCALE });
    await waitFor('the simulated fleet to connect', async () => (await rest.nodes()).filter((n) => n.connected).length === FLEET_SIZE, 90_000);
    await rest.createPolicy(EXAMPLE_POLICY('zgc-only'));
    await rest.createPolicy(EXAMPLE_POLICY('thp-everywhere'));
    // Twenty simulated minutes with no policy: the workloads reach their working sets and every
    // series has a level before the rollouts (the judge's pre-window).
    await new Promise((resolve) => setTimeout(resolve, 20_000));
  }, 240_000);

  afterAll(async () => {
    await fleet?.stop('SIGTERM');
    await controller?.stop('SIGTERM');
    await db?.drop();
  });

  it('1. a good policy (zgc-only) passes the canary and is promoted to the whole fleet; every node ACKs it', async () => {
    const sse = collectEvents(controller.httpUrl, secrets.adminToken, 'rollout');
    const created = await rest.post('/api/v1/rollouts', { policy: 'zgc-only', version: 1, plan });
    expect(created.status).toBe(201);
    const id = created.body.rollout.id;
    const d = await finished(id);
    process.stderr.write(`${judgmentLines('good policy zgc-only@1', d).join('\n')}\n`);
    expect(d.rollout.phase, d.rollout.reason).toBe('completed');
    // Its progress reached SSE subscribers, phase by phase, through to completed.
    const phases = await waitFor('SSE rollout events through completed', () => {
      const seen = sse.events.filter((e) => e.data['id'] === id).map((e) => e.data['phase']);
      return seen.includes('completed') ? seen : undefined;
    }, 10_000);
    sse.close();
    expect(phases).toEqual(expect.arrayContaining(['progressing', 'baking', 'judging', 'completed']));

    // The canary held a node of every kernel, hardware class and workload mix of the fleet.
    const canary = d.steps[0];
    expect(canary.strata.uncovered).toEqual([]);
    expect(canary.strata.present.length).toBeGreaterThanOrEqual(6);
    expect(canary.cohort.length).toBeGreaterThanOrEqual(3);
    expect(canary.cohort.length).toBeLessThan(FLEET_SIZE);
    // It was judged against nodes still without the policy, and passed on every gate.
    const verdicts = d.judgments.filter((j: any) => j.step === 0);
    const last = Math.max(...verdicts.map((j: any) => j.attempt));
    const final = verdicts.filter((j: any) => j.attempt === last);
    expect(final.map((j: any) => j.metric).sort()).toEqual(STANDARD_GATES.map((g) => g.name).sort());
    expect(final.every((j: any) => j.verdict === 'pass')).toBe(true);
    for (const j of final) {
      expect(j.nCanary).toBeGreaterThanOrEqual(10);
      expect(j.nBaseline).toBeGreaterThanOrEqual(10);
      expect(j.details.baselineNodes.length).toBeGreaterThan(0);
    }
    // Every node acknowledged the version.
    const versions = await waitFor('every node to ACK zgc-only@1', async () => {
      const a = await acked();
      return [...a.values()].every((v) => v === 'zgc-only@1') ? a : undefined;
    }, 30_000);
    expect(versions.size).toBe(FLEET_SIZE);
  }, 300_000);

  it('4. killing the controller (SIGKILL) mid-rollout and restarting it finishes the rollout, no transition lost or repeated', async () => {
    await quiet();
    // A second version of the good policy: khugepaged collapses less eagerly.
    const v2 = EXAMPLE_POLICY('zgc-only').replace('maxPtesNone: 64', 'maxPtesNone: 32');
    const added = await rest.call('POST', '/api/v1/policies/zgc-only/versions', { yaml: v2 }, { 'if-match': '"v1"' });
    expect(added.status).toBe(201);
    const created = await rest.post('/api/v1/rollouts', { policy: 'zgc-only', version: 2, plan });
    expect(created.status).toBe(201);
    const id = created.body.rollout.id;

    // Kill it twice: once as soon as the canary has been assigned, once while it is being judged.
    for (const moment of ['assigned', 'judging']) {
      const at = await waitFor(`rollout ${id} to reach ${moment}`, async () => {
        const d = await rest.rollout(id);
        const kinds = d.events.map((e: any) => e.data.kind);
        const reached = moment === 'assigned' ? kinds.includes('nodes_assigned') : kinds.includes('judgment_requested') || TERMINAL.includes(d.rollout.phase);
        return reached ? { phase: d.rollout.phase as string, step: d.rollout.step as number, revision: d.rollout.revision as number } : undefined;
      }, 120_000, 100);
      await controller.stop('SIGKILL');
      process.stderr.write(`[rollout e2e] SIGKILL of the controller (pid ${controller.pid}) with the rollout ${at.phase} at step ${at.step}, revision ${at.revision}\n`);
      // Mid-rollout: not yet finished when killed.
      expect(TERMINAL).not.toContain(at.phase);
      await start();
    }

    const d = await finished(id);
    process.stderr.write(`${judgmentLines('zgc-only@2 across two SIGKILLs', d).join('\n')}\n`);
    expect(d.rollout.phase, d.rollout.reason).toBe('completed');
    await waitFor('every node to ACK zgc-only@2', async () => [...(await acked()).values()].every((v) => v === 'zgc-only@2'), 60_000);

    // Every transition exactly once: audited revisions 2..N without gap or repeat, and each
    // one-time event once.
    const entries = await rest.audit(`targetType=rollout&targetId=${id}`);
    const revisions = entries
      .filter((e) => e.action !== 'rollout.create')
      .map((e) => e.after.revision as number)
      .sort((a, b) => a - b);
    expect(revisions).toEqual(Array.from({ length: revisions.length }, (_, i) => i + 2));
    expect(revisions.at(-1)).toBe(d.rollout.revision);
    const kinds = d.events.map((e: any) => `${e.data.kind}:${e.step}`);
    for (const once of ['started:0', 'cohort_chosen:0', 'step_acked:0', 'cohort_chosen:1', 'step_acked:1', 'completed:1']) {
      expect(kinds.filter((k: string) => k === once), once).toHaveLength(1);
    }
    // Each node was assigned once by the rollout.
    expect(new Set(d.nodes.map((n: any) => n.nodeId)).size).toBe(d.nodes.length);
    expect(d.nodes).toHaveLength(FLEET_SIZE);
  }, 400_000);

  it('2. a bad policy (thp-everywhere) fails the canary and is rolled back automatically, the verdict and its statistics in the audit log', async () => {
    await quiet();
    const created = await rest.post('/api/v1/rollouts', { policy: 'thp-everywhere', version: 1, plan });
    expect(created.status).toBe(201);
    const id = created.body.rollout.id;
    const d = await finished(id);
    process.stderr.write(`${judgmentLines('bad policy thp-everywhere@1', d).join('\n')}\n`);
    expect(d.rollout.phase, d.rollout.reason).toBe('rolled_back');
    expect(d.rollout.reason).toMatch(/canary failed its gates/);
    // It never went past the canary.
    expect(d.rollout.step).toBe(0);
    expect(d.rollout.touched.length).toBeLessThan(FLEET_SIZE);
    const failed = d.judgments.filter((j: any) => j.verdict === 'fail');
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const j of failed) {
      expect(j.effect).toBeGreaterThan(j.threshold);
      expect(j.interval.low).toBeGreaterThan(0);
    }
    // Every touched node went back to what it ran before (zgc-only@2, from test 4).
    expect(d.nodes.every((n: any) => n.previous?.policy === 'zgc-only' && n.previous?.version === 2)).toBe(true);
    await waitFor('every node back on zgc-only@2', async () => [...(await acked()).values()].every((v) => v === 'zgc-only@2'), 30_000);

    // The audit log holds the verdict with its statistics, and the automatic rollback.
    const entries = await rest.audit(`targetType=rollout&targetId=${id}`);
    const verdict = entries.find((e) => e.action === 'rollout.judge_verdict' && e.after.verdict?.verdict === 'fail');
    expect(verdict.actor).toBe('controller:rollout-orchestrator');
    expect(verdict.after.phase).toBe('rolling_back');
    const metric = verdict.after.verdict.metrics.find((m: any) => m.verdict === 'fail');
    expect(typeof metric.statistic).toBe('number');
    expect(metric.relativeChange).toBeGreaterThan(metric.tolerance);
    expect(metric.interval.lower).toBeGreaterThan(0);
    expect(metric.nCanary).toBeGreaterThanOrEqual(10);
    expect(metric.nBaseline).toBeGreaterThanOrEqual(10);
    expect(entries.some((e) => e.action === 'rollout.rollback_done' && e.after.phase === 'rolled_back')).toBe(true);
    const assignments = await rest.audit('action=assignment.set');
    expect(assignments.some((e) => e.after.rolloutId === id && e.after.policy === 'zgc-only' && e.after.version === 2)).toBe(true);
  }, 300_000);
});
