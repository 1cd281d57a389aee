import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialState, isTerminal, stateProblems, transition, type MachineContext, type RolloutEvent, type RolloutState } from './rollout.machine.js';
import { nextWork, notRolledBack, type NodeView, type PolicyRef, type WorldView } from './rollout.decide.js';
import { parsePlan, type RolloutPlan } from './rollout.plan.js';

function planOf(input: unknown): RolloutPlan {
  const result = parsePlan(input);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.plan;
}

const TARGET: PolicyRef = { policy: 'zgc-only', version: 2 };
const OLD: PolicyRef = { policy: 'zgc-only', version: 1 };
const gate = { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.1, critical: true } as const;
const PLAN = planOf({ steps: [{ select: { count: 2 }, bake: 1000 }, { select: { percent: 100 } }], gates: [gate], judging: { interval: 100, timeout: 1000 } });
const CTX: MachineContext = { plan: PLAN, targetVersion: 2 };

function view(nodes: Record<string, Partial<NodeView>>, extra: Partial<WorldView> = {}): WorldView {
  return {
    target: TARGET,
    nodes: new Map(Object.entries(nodes).map(([id, n]) => [id, { stale: false, acked: OLD, ...n }])),
    nackedTarget: new Map(),
    previous: new Map(Object.keys(nodes).map((id) => [id, OLD])),
    nackedPrevious: new Map(),
    ackTimeoutMs: 5000,
    ...extra,
  };
}

function apply(state: RolloutState, e: RolloutEvent, now: number): RolloutState {
  const r = transition(CTX, state, e, now);
  if (r.outcome !== 'applied') throw new Error(`${e.type}: ${JSON.stringify(r)}`);
  return r.state;
}

describe('nextWork', () => {
  const started = apply(initialState(0), { type: 'start' }, 0);
  const chosen = apply(started, { type: 'cohort_chosen', step: 0, nodes: ['a', 'b'] }, 1);
  const admitted = apply(chosen, { type: 'admit', step: 0, nodes: ['a', 'b'] }, 2);

  it('starts, asks for a cohort, then for admission', () => {
    expect(nextWork(initialState(0), view({}), 0)).toEqual({ kind: 'event', event: { type: 'start' } });
    expect(nextWork(started, view({}), 0)).toEqual({ kind: 'choose_cohort', step: 0 });
    expect(nextWork(chosen, view({ a: {}, b: {} }), 1)).toEqual({ kind: 'admit', step: 0, remaining: ['a', 'b'] });
  });

  it('waits for every admitted node to acknowledge, then reports the step acked', () => {
    expect(nextWork(admitted, view({ a: { acked: TARGET }, b: {} }), 100)).toEqual({ kind: 'idle', until: 5002 });
    expect(nextWork(admitted, view({ a: { acked: TARGET }, b: { acked: TARGET } }), 100)).toEqual({ kind: 'event', event: { type: 'step_acked', step: 0 } });
  });

  it('pauses when admitted nodes do not acknowledge in time, naming them', () => {
    const work = nextWork(admitted, view({ a: { acked: TARGET }, b: { stale: true } }), 5002);
    expect(work).toEqual({ kind: 'event', event: { type: 'pause', by: 'system', reason: '1 node(s) did not acknowledge version 2 within 5000 ms: b (1 stale)' } });
  });

  it('reports a NACK from a touched node before anything else, once', () => {
    const v = view({ a: {}, b: {} }, { nackedTarget: new Map([['b', 'compile: order 10 exceeds PMD order']]) });
    expect(nextWork(admitted, v, 10)).toEqual({ kind: 'event', event: { type: 'nack', node: 'b', message: 'compile: order 10 exceeds PMD order' } });
    const back = apply(admitted, { type: 'nack', node: 'b', message: 'x' }, 10);
    expect(back.phase).toBe('rolling_back');
    // Rolling back: the NACK is not reported again; it waits for a (still on the target) to go back.
    const waiting = view({ a: { acked: TARGET }, b: {} }, { nackedTarget: v.nackedTarget });
    expect(nextWork(back, waiting, 11)).toEqual({ kind: 'idle', until: null });
  });

  it('finishes a rollback when every live touched node is back on its previous version', () => {
    const back = apply(admitted, { type: 'abort', reason: 'x' }, 10);
    expect(nextWork(back, view({ a: { acked: TARGET }, b: { acked: OLD } }), 11)).toEqual({ kind: 'idle', until: null });
    const v = view({ a: { acked: TARGET, stale: true }, b: { acked: OLD } });
    expect(notRolledBack(back, v)).toEqual({ waiting: [], stale: ['a'] });
    expect(nextWork(back, v, 11)).toEqual({ kind: 'event', event: { type: 'rollback_done' } });
    // A node that had no policy is back when it acknowledges nothing.
    const none = view({ a: { acked: null }, b: { acked: OLD } }, { previous: new Map([['a', null], ['b', OLD]]) });
    expect(nextWork(back, none, 11)).toEqual({ kind: 'event', event: { type: 'rollback_done' } });
    const refused = view({ a: {}, b: {} }, { nackedPrevious: new Map([['a', 'disk full']]) });
    expect(nextWork(back, refused, 11)).toEqual({ kind: 'event', event: { type: 'rollback_nack', node: 'a', message: 'disk full' } });
  });

  it('ticks a bake and a judgment when they are due, and asks for judgments', () => {
    const baking = apply(admitted, { type: 'step_acked', step: 0 }, 100);
    expect(nextWork(baking, view({ a: { acked: TARGET }, b: { acked: TARGET } }), 500)).toEqual({ kind: 'idle', until: 1100 });
    expect(nextWork(baking, view({ a: { acked: TARGET }, b: { acked: TARGET } }), 1100)).toEqual({ kind: 'event', event: { type: 'tick' } });
    const judging = apply(baking, { type: 'tick' }, 1100);
    expect(nextWork(judging, view({}), 1100)).toEqual({ kind: 'judge', step: 0, attempt: 1 });
    const waitingNext = apply(judging, { type: 'judge_verdict', step: 0, attempt: 1, verdict: 'inconclusive', summary: '' }, 1150);
    expect(nextWork(waitingNext, view({}), 1200)).toEqual({ kind: 'idle', until: 1250 });
    expect(nextWork(waitingNext, view({}), 1250)).toEqual({ kind: 'event', event: { type: 'tick' } });
  });
});

// ---------------------------------------------------------------------------------------------
// A simulated fleet driven only by nextWork: the rollout always ends, NACKed nodes are never
// re-sent, and the end state of the fleet matches the outcome.
// ---------------------------------------------------------------------------------------------

describe('nextWork with a simulated fleet', () => {
  it('always ends; completed = every node on the target, rolled back = every touched node back', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.constantFrom<'pass' | 'fail' | 'inconclusive' | 'no-data'>('pass', 'fail', 'inconclusive', 'no-data'), { maxLength: 8 }),
        fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
        fc.integer({ min: 1, max: 4 }),
        (fleetSize, verdicts, nacker, budget) => {
          const ids = Array.from({ length: fleetSize }, (_, i) => `n${i}`);
          const desired = new Map<string, PolicyRef | null>(ids.map((id) => [id, OLD]));
          const acked = new Map<string, PolicyRef | null>(ids.map((id) => [id, OLD]));
          const previous = new Map<string, PolicyRef | null>();
          const nackedTarget = new Map<string, string>();
          const everNacked = new Set<string>();
          let state = initialState(0);
          let now = 0;
          let v = 0;
          for (let round = 0; round < 2000 && !isTerminal(state.phase); round++) {
            now += 50;
            // The fleet: each node acknowledges its desired state, except the NACKer refusing the target.
            for (const id of ids) {
              const want = desired.get(id) ?? null;
              if (want !== null && want.version === TARGET.version && nacker !== undefined && id === `n${nacker}`) {
                nackedTarget.set(id, 'refused');
                everNacked.add(id);
              } else acked.set(id, want);
            }
            const world: WorldView = {
              target: TARGET,
              nodes: new Map(ids.map((id) => [id, { stale: false, acked: acked.get(id) ?? null }])),
              nackedTarget,
              previous,
              nackedPrevious: new Map(),
              ackTimeoutMs: 10_000,
            };
            const work = nextWork(state, world, now);
            let e: RolloutEvent | undefined;
            switch (work.kind) {
              case 'event':
                e = work.event;
                break;
              case 'choose_cohort': {
                const free = ids.filter((id) => !state.touched.includes(id));
                e = { type: 'cohort_chosen', step: work.step, nodes: work.step === PLAN.steps.length - 1 ? free : free.slice(0, 2) };
                break;
              }
              case 'admit':
                e = { type: 'admit', step: work.step, nodes: work.remaining.slice(0, budget) };
                break;
              case 'judge':
                e = { type: 'judge_verdict', step: work.step, attempt: work.attempt, verdict: verdicts[v++] ?? 'pass', summary: '' };
                break;
              case 'idle':
                if (state.phase === 'paused') e = { type: 'resume' };
                else now = Math.max(now, work.until ?? now);
                break;
            }
            if (e === undefined) continue;
            const r = transition(CTX, state, e, now);
            expect(r.outcome).toBe('applied');
            if (r.outcome !== 'applied') break;
            expect(stateProblems(CTX, r.state)).toEqual([]);
            for (const effect of r.effects) {
              if (effect.type === 'assign') {
                for (const id of effect.nodes) {
                  expect(everNacked.has(id)).toBe(false);
                  if (!previous.has(id)) previous.set(id, desired.get(id) ?? null);
                  desired.set(id, TARGET);
                }
              }
              if (effect.type === 'assign_previous') for (const id of effect.nodes) desired.set(id, previous.get(id) ?? null);
            }
            state = r.state;
          }
          expect(isTerminal(state.phase)).toBe(true);
          if (state.phase === 'completed') for (const id of ids) expect(acked.get(id)).toEqual(TARGET);
          if (state.phase === 'rolled_back') for (const id of ids) expect(acked.get(id)).toEqual(OLD);
          if (nacker !== undefined && nacker < fleetSize && state.touched.includes(`n${nacker}`)) expect(state.phase).toBe('rolled_back');
        },
      ),
      { numRuns: 300 },
    );
  });
});
