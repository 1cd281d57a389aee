import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialState, isTerminal, stateProblems, transition, VERDICTS, type Effect, type MachineContext, type RolloutEvent, type RolloutState, type TransitionResult } from './rollout.machine.js';
import { parsePlan, type RolloutPlan } from './rollout.plan.js';

const gate = { name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.1, critical: true } as const;

function planOf(input: unknown): RolloutPlan {
  const result = parsePlan(input);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return result.plan;
}

/** canary (2 nodes, 1 min bake, gated) -> half (gated, no bake) -> fleet (30 s bake). */
const PLAN = planOf({
  steps: [
    { name: 'canary', select: { count: 2 }, bake: '1m' },
    { name: 'half', select: { percent: 50 } },
    { name: 'fleet', select: { percent: 100 }, bake: '30s' },
  ],
  gates: [gate],
  judging: { interval: '10s', timeout: '1m', onInconclusive: 'pause' },
});
const CTX: MachineContext = { plan: PLAN, targetVersion: 3 };

/** Apply events in order, failing on a rejection; returns the final state and every effect. */
function run(context: MachineContext, events: readonly (readonly [RolloutEvent, number])[], from: RolloutState = initialState(0)): { state: RolloutState; effects: Effect[] } {
  let state = from;
  const effects: Effect[] = [];
  for (const [event, now] of events) {
    const result = transition(context, state, event, now);
    if (result.outcome === 'rejected') throw new Error(`${event.type} rejected in ${state.phase}: ${result.reason}`);
    if (result.outcome === 'applied') {
      expect(result.state.version).toBe(state.version + 1);
      expect(stateProblems(context, result.state)).toEqual([]);
      state = result.state;
      effects.push(...result.effects);
    }
  }
  return { state, effects };
}

const applied = (r: TransitionResult): { state: RolloutState; effects: readonly Effect[] } => {
  if (r.outcome !== 'applied') throw new Error(`expected applied, got ${JSON.stringify(r)}`);
  return r;
};
const kinds = (effects: readonly Effect[]): string[] => effects.map((e) => (e.type === 'record_event' ? `event:${e.kind}` : e.type));

/** Through the canary's ack, into its bake (at t=1000). */
const TO_CANARY_BAKE: (readonly [RolloutEvent, number])[] = [
  [{ type: 'start' }, 0],
  [{ type: 'cohort_chosen', step: 0, nodes: ['n1', 'n2'] }, 10],
  [{ type: 'admit', step: 0, nodes: ['n1'] }, 20],
  [{ type: 'admit', step: 0, nodes: ['n2'] }, 30],
  [{ type: 'step_acked', step: 0 }, 1000],
];

describe('rollout machine: the good path', () => {
  it('walks every step to completed, judging the gated ones', () => {
    const { state, effects } = run(CTX, [
      ...TO_CANARY_BAKE,
      [{ type: 'tick' }, 60_999],
      [{ type: 'tick' }, 61_000],
      [{ type: 'judge_verdict', step: 0, attempt: 1, verdict: 'pass', summary: 'all gates pass' }, 62_000],
      [{ type: 'cohort_chosen', step: 1, nodes: ['n3', 'n4', 'n5'] }, 62_100],
      [{ type: 'admit', step: 1, nodes: ['n3', 'n4', 'n5'] }, 62_200],
      [{ type: 'step_acked', step: 1 }, 63_000],
      [{ type: 'judge_verdict', step: 1, attempt: 1, verdict: 'pass', summary: 'ok' }, 64_000],
      [{ type: 'cohort_chosen', step: 2, nodes: ['n6', 'n7', 'n8', 'n9', 'n10'] }, 64_100],
      [{ type: 'admit', step: 2, nodes: ['n6', 'n7', 'n8', 'n9', 'n10'] }, 64_200],
      [{ type: 'step_acked', step: 2 }, 65_000],
      [{ type: 'tick' }, 95_000],
    ]);
    expect(state.phase).toBe('completed');
    expect(state.touched).toHaveLength(10);
    expect(state.step).toBe(2);
    expect(kinds(effects)).toEqual([
      'event:started',
      'choose_cohort',
      'event:cohort_chosen',
      'assign',
      'event:nodes_assigned',
      'assign',
      'event:nodes_assigned',
      'event:step_acked',
      'event:bake_started',
      'event:bake_ended',
      'request_judgment',
      'event:judgment_requested',
      'event:verdict',
      'event:step_passed',
      'choose_cohort',
      'event:cohort_chosen',
      'assign',
      'event:nodes_assigned',
      'event:step_acked',
      'request_judgment',
      'event:judgment_requested',
      'event:verdict',
      'event:step_passed',
      'choose_cohort',
      'event:cohort_chosen',
      'assign',
      'event:nodes_assigned',
      'event:step_acked',
      'event:bake_started',
      'event:bake_ended',
      'event:step_passed',
      'event:completed',
    ]);
    const assigns = effects.filter((e) => e.type === 'assign');
    expect(assigns.every((e) => e.version === 3)).toBe(true);
    const judgment = effects.find((e) => e.type === 'request_judgment');
    expect(judgment).toEqual({ type: 'request_judgment', step: 0, attempt: 1, gates: [gate] });
  });

  it('does not finish the bake before its time and ignores repeated level events', () => {
    const { state } = run(CTX, TO_CANARY_BAKE);
    expect(state.phase).toBe('baking');
    expect(state.bakeUntil).toBe(61_000);
    expect(transition(CTX, state, { type: 'tick' }, 60_999).outcome).toBe('noop');
    expect(transition(CTX, state, { type: 'step_acked', step: 0 }, 2000).outcome).toBe('noop');
    expect(transition(CTX, state, { type: 'cohort_chosen', step: 0, nodes: ['x'] }, 2000).outcome).toBe('rejected');
  });

  it('will not pass a step whose cohort is not fully admitted', () => {
    const { state } = run(CTX, TO_CANARY_BAKE.slice(0, 3));
    const r = transition(CTX, state, { type: 'step_acked', step: 0 }, 100);
    expect(r).toMatchObject({ outcome: 'rejected', reason: '1 node(s) of the step are not admitted yet' });
  });

  it('passes an empty cohort (everything already covered) straight into its bake', () => {
    const { state } = run(CTX, [
      [{ type: 'start' }, 0],
      [{ type: 'cohort_chosen', step: 0, nodes: [] }, 1],
      [{ type: 'step_acked', step: 0 }, 2],
    ]);
    expect(state.phase).toBe('baking');
  });

  it('only admits cohort nodes, once', () => {
    const { state } = run(CTX, TO_CANARY_BAKE.slice(0, 3));
    expect(transition(CTX, state, { type: 'admit', step: 0, nodes: ['n1', 'n9'] }, 40).outcome).toBe('noop');
    const r = applied(transition(CTX, state, { type: 'admit', step: 0, nodes: ['n2', 'n9', 'n2'] }, 40));
    expect(r.state.admitted).toEqual(['n1', 'n2']);
    expect(r.effects[0]).toEqual({ type: 'assign', step: 0, nodes: ['n2'], version: 3 });
  });
});

describe('rollout machine: failures and rollback', () => {
  it('rolls every touched node back on a failed gate and ends rolled_back', () => {
    const { state, effects } = run(CTX, [
      ...TO_CANARY_BAKE,
      [{ type: 'tick' }, 61_000],
      [{ type: 'judge_verdict', step: 0, attempt: 1, verdict: 'fail', summary: 'psi_memory_some_avg10 +240% (tolerance 10%)' }, 62_000],
    ]);
    expect(state.phase).toBe('rolling_back');
    expect(state.reason).toMatch(/canary failed its gates: psi_memory_some_avg10 \+240%/);
    expect(effects.filter((e) => e.type === 'assign_previous')).toEqual([{ type: 'assign_previous', nodes: ['n1', 'n2'] }]);
    const done = applied(transition(CTX, state, { type: 'rollback_done' }, 70_000));
    expect(done.state.phase).toBe('rolled_back');
    expect(done.state.reason).toBe(state.reason);
  });

  it('ends failed without rollback when autoRollback is off', () => {
    const ctx = { ...CTX, plan: { ...PLAN, autoRollback: false } };
    const { state, effects } = run(ctx, [...TO_CANARY_BAKE, [{ type: 'tick' }, 61_000], [{ type: 'judge_verdict', step: 0, attempt: 1, verdict: 'fail', summary: 'bad' }, 62_000]]);
    expect(state.phase).toBe('failed');
    expect(effects.some((e) => e.type === 'assign_previous')).toBe(false);
  });

  it('rolls back on a NACK from a canary, in any running phase, and never re-sends the version', () => {
    for (const prefix of [TO_CANARY_BAKE.slice(0, 3), TO_CANARY_BAKE, [...TO_CANARY_BAKE, [{ type: 'tick' }, 61_000] as const]]) {
      const { state } = run(CTX, prefix);
      const r = applied(transition(CTX, state, { type: 'nack', node: 'n1', message: 'verifier rejected the program' }, 70_000));
      expect(r.state.phase).toBe('rolling_back');
      expect(r.state.nacked).toEqual(['n1']);
      expect(r.effects).toContainEqual({ type: 'assign_previous', nodes: state.touched });
      expect(r.effects.some((e) => e.type === 'assign')).toBe(false);
      // The rollout never moves forward again.
      expect(transition(CTX, r.state, { type: 'resume' }, 71_000).outcome).toBe('rejected');
      expect(transition(CTX, r.state, { type: 'admit', step: 0, nodes: ['n2'] }, 71_000).outcome).toBe('rejected');
    }
  });

  it('ignores a NACK from a node it never assigned', () => {
    const { state } = run(CTX, TO_CANARY_BAKE);
    expect(transition(CTX, state, { type: 'nack', node: 'n7', message: 'x' }, 2000).outcome).toBe('rejected');
  });

  it('ends failed when a node refuses its previous version during the rollback', () => {
    const { state } = run(CTX, [...TO_CANARY_BAKE, [{ type: 'abort', reason: 'wrong version' }, 2000], [{ type: 'rollback_nack', node: 'n2', message: 'disk full' }, 3000]]);
    expect(state.phase).toBe('failed');
    expect(state.reason).toMatch(/aborted: wrong version; node n2 rejected its previous version/);
  });

  it('aborts a pending rollout at once and a running one through a rollback', () => {
    expect(run(CTX, [[{ type: 'abort', reason: 'not today' }, 5]]).state.phase).toBe('aborted');
    const { state } = run(CTX, [...TO_CANARY_BAKE, [{ type: 'abort', reason: 'not today' }, 2000]]);
    expect(state.phase).toBe('rolling_back');
    expect(state.rollbackOutcome).toBe('aborted');
    expect(applied(transition(CTX, state, { type: 'rollback_done' }, 3000)).state.phase).toBe('aborted');
  });

  it('a fail event with nothing touched ends failed at once', () => {
    const { state } = run(CTX, [[{ type: 'start' }, 0], [{ type: 'fail', reason: 'no eligible node in the targeted fleet' }, 1]]);
    expect(state.phase).toBe('failed');
  });
});

describe('rollout machine: judging', () => {
  const judging = [...TO_CANARY_BAKE, [{ type: 'tick' }, 61_000] as const];

  it('re-judges an inconclusive step every interval, and pauses at the timeout', () => {
    const { state } = run(CTX, [
      ...judging,
      [{ type: 'judge_verdict', step: 0, attempt: 1, verdict: 'inconclusive', summary: 'n=4' }, 61_500],
      [{ type: 'tick' }, 71_499],
    ]);
    expect(state.judging).toMatchObject({ attempt: 1, awaiting: false, nextAt: 71_500, deadline: 121_000 });
    const again = run(CTX, [[{ type: 'tick' }, 71_500]], state).state;
    expect(again.judging).toMatchObject({ attempt: 2, awaiting: true });
    // A verdict for the old attempt is stale.
    expect(transition(CTX, again, { type: 'judge_verdict', step: 0, attempt: 1, verdict: 'pass', summary: '' }, 72_000).outcome).toBe('rejected');
    const timedOut = run(CTX, [[{ type: 'judge_verdict', step: 0, attempt: 2, verdict: 'no-data', summary: 'no samples' }, 121_000]], again).state;
    expect(timedOut.phase).toBe('paused');
    expect(timedOut.paused).toMatchObject({ from: 'judging', by: 'system', remainingMs: 60_000 });
    // Resume: a fresh judgment with a fresh timeout.
    const resumed = run(CTX, [[{ type: 'resume' }, 200_000]], timedOut).state;
    expect(resumed.phase).toBe('judging');
    expect(resumed.judging).toMatchObject({ attempt: 3, awaiting: true, deadline: 260_000 });
  });

  it('applies onInconclusive rollback and proceed', () => {
    for (const [onInconclusive, phase] of [
      ['rollback', 'rolling_back'],
      ['proceed', 'progressing'],
    ] as const) {
      const ctx = { ...CTX, plan: { ...PLAN, judging: { ...PLAN.judging, onInconclusive } } };
      const { state } = run(ctx, [...judging, [{ type: 'judge_verdict', step: 0, attempt: 1, verdict: 'inconclusive', summary: '' }, 121_000]]);
      expect(state.phase).toBe(phase);
    }
  });

  it('needs an admin gate skip to promote a step being judged', () => {
    const { state } = run(CTX, judging);
    expect(transition(CTX, state, { type: 'promote', skipGate: false }, 62_000)).toMatchObject({ outcome: 'rejected' });
    const r = applied(transition(CTX, state, { type: 'promote', skipGate: true }, 62_000));
    expect(r.state.phase).toBe('progressing');
    expect(r.state.step).toBe(1);
    expect(kinds(r.effects)).toContain('event:gate_skipped');
  });

  it('skips every judgment on the fast path and records it', () => {
    const ctx = { ...CTX, plan: { ...PLAN, gateSkip: { reason: 'INC-7 rollback' } } };
    const { state, effects } = run(ctx, [...TO_CANARY_BAKE, [{ type: 'tick' }, 61_000]]);
    expect(state.phase).toBe('progressing');
    expect(effects.some((e) => e.type === 'request_judgment')).toBe(false);
    expect(effects).toContainEqual(expect.objectContaining({ type: 'record_event', kind: 'gate_skipped' }));
  });
});

describe('rollout machine: pause, resume, promote, versions', () => {
  it('freezes the bake while paused and restores the remaining time on resume', () => {
    const { state } = run(CTX, [...TO_CANARY_BAKE, [{ type: 'pause', reason: 'looking at a graph', by: 'operator' }, 21_000]]);
    expect(state.paused).toEqual({ from: 'baking', remainingMs: 40_000, reason: 'looking at a graph', by: 'operator' });
    expect(transition(CTX, state, { type: 'tick' }, 1_000_000).outcome).toBe('noop');
    expect(transition(CTX, state, { type: 'pause', reason: 'again', by: 'operator' }, 1_000_000).outcome).toBe('rejected');
    const resumed = applied(transition(CTX, state, { type: 'resume' }, 500_000)).state;
    expect(resumed.phase).toBe('baking');
    expect(resumed.bakeUntil).toBe(540_000);
  });

  it('promote ends the bake early (also from a pause) and rejects while nodes are being assigned', () => {
    const { state } = run(CTX, TO_CANARY_BAKE);
    const r = applied(transition(CTX, state, { type: 'promote', skipGate: false }, 2000));
    expect(r.state.phase).toBe('judging');
    expect(kinds(r.effects)).toEqual(['event:promoted', 'request_judgment', 'event:judgment_requested']);
    const paused = applied(transition(CTX, state, { type: 'pause', reason: 'x', by: 'operator' }, 2000)).state;
    expect(applied(transition(CTX, paused, { type: 'promote', skipGate: false }, 3000)).state.phase).toBe('judging');
    const early = run(CTX, TO_CANARY_BAKE.slice(0, 2)).state;
    expect(transition(CTX, early, { type: 'promote', skipGate: true }, 100)).toMatchObject({ outcome: 'rejected' });
  });

  it('rejects a command made against an older version', () => {
    const { state } = run(CTX, TO_CANARY_BAKE);
    expect(transition(CTX, state, { type: 'pause', reason: 'x', by: 'operator', expectedVersion: state.version - 1 }, 2000)).toMatchObject({ outcome: 'rejected', conflict: true });
    expect(transition(CTX, state, { type: 'pause', reason: 'x', by: 'operator', expectedVersion: state.version }, 2000).outcome).toBe('applied');
  });
});

// ---------------------------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------------------------

const POOL = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'];

const planArb = fc
  .record({
    steps: fc.array(fc.record({ count: fc.integer({ min: 1, max: 6 }), bake: fc.constantFrom(0, 1000, 5000), gated: fc.boolean() }), { maxLength: 3 }),
    finalBake: fc.constantFrom(0, 2000),
    onInconclusive: fc.constantFrom('pause', 'rollback', 'proceed'),
    autoRollback: fc.boolean(),
    skip: fc.boolean(),
  })
  .map((p) =>
    planOf({
      steps: [...p.steps.map((s) => ({ select: { count: s.count }, bake: s.bake, gates: s.gated ? [gate] : [] })), { select: { percent: 100 }, bake: p.finalBake }],
      judging: { interval: 1000, timeout: 4000, onInconclusive: p.onInconclusive },
      autoRollback: p.autoRollback,
      ...(p.skip ? { skipGates: { reason: 'fast path' } } : {}),
    }),
  );

/** One random choice, turned into an event against the current state (usually plausible, sometimes not). */
const choiceArb = fc.record({
  // Weighted so that walks get deep: the events that end a rollout early are rare.
  kind: fc.constantFrom(0, 1, 1, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 6, 7, 7, 7, 7, 8, 9, 9, 10, 12, 12, 15, 15, 11, 13, 14),
  rare: fc.integer({ min: 0, max: 3 }),
  guided: fc.integer({ min: 0, max: 9 }),
  pick: fc.integer({ min: 0, max: 4095 }),
  flag: fc.boolean(),
  dt: fc.constantFrom(0, 1, 500, 1000, 3000, 10_000),
  verdict: fc.constantFrom(...VERDICTS),
});
type Choice = { kind: number; rare: number; guided: number; pick: number; flag: boolean; dt: number; verdict: (typeof VERDICTS)[number] };

function subsetOf(list: readonly string[], bits: number): string[] {
  return list.filter((_, i) => ((bits >>> i) & 1) === 1);
}

/** What a working orchestrator would send next (so that random walks reach every phase). */
function plausible(state: RolloutState, c: Choice): RolloutEvent {
  switch (state.phase) {
    case 'pending':
      return { type: 'start' };
    case 'progressing':
      if (state.cohort === null) return { type: 'cohort_chosen', step: state.step, nodes: subsetOf(POOL.filter((n) => !state.touched.includes(n)), c.pick) };
      if (state.admitted.length < state.cohort.length) return { type: 'admit', step: state.step, nodes: state.cohort.filter((n) => !state.admitted.includes(n)).slice(0, 1 + (c.pick % 3)) };
      return { type: 'step_acked', step: state.step };
    case 'judging':
      return state.judging?.awaiting === true ? { type: 'judge_verdict', step: state.step, attempt: state.judging.attempt, verdict: c.verdict, summary: 's' } : { type: 'tick' };
    case 'paused':
      return c.flag ? { type: 'resume' } : { type: 'promote', skipGate: c.pick % 2 === 0 };
    case 'rolling_back':
      return { type: 'rollback_done' };
    default:
      return { type: 'tick' };
  }
}

function eventFor(state: RolloutState, c: Choice): RolloutEvent {
  if (c.guided < 6) return plausible(state, c);
  const node = (list: readonly string[]): string => list[c.pick % Math.max(1, list.length)] ?? POOL[c.pick % POOL.length]!;
  // Mostly the current step (plausible events reach deep states), sometimes the next (stale/wrong).
  const step = c.pick % 8 !== 0 || state.step < 0 ? state.step : state.step + 1;
  switch (c.kind >= 11 && c.kind <= 14 && c.rare !== 0 ? 1 : c.kind) {
    case 0:
      return { type: 'start' };
    case 1:
    case 2:
      return { type: 'tick' };
    case 3:
      return { type: 'cohort_chosen', step, nodes: subsetOf(POOL, c.pick >>> 3) };
    case 4: {
      const rest = (state.cohort ?? POOL).filter((n) => !state.admitted.includes(n));
      return { type: 'admit', step, nodes: c.flag ? rest : rest.slice(0, 1 + (c.pick % 3)) };
    }
    case 5:
      return { type: 'step_acked', step };
    case 6:
      return { type: 'nack', node: c.flag ? node(state.touched) : node(POOL), message: 'rejected' };
    case 7:
      return { type: 'judge_verdict', step: state.step, attempt: (state.judging?.attempt ?? 1) - (c.flag ? 0 : c.pick % 2), verdict: c.verdict, summary: 's' };
    case 8:
      return { type: 'pause', reason: 'p', by: c.flag ? 'operator' : 'system' };
    case 9:
      return { type: 'resume' };
    case 10:
      return { type: 'promote', skipGate: c.flag };
    case 11:
      return { type: 'abort', reason: 'a' };
    case 12:
      return { type: 'rollback_done' };
    case 13:
      return { type: 'rollback_nack', node: node(state.touched), message: 'm' };
    case 14:
      return { type: 'fail', reason: 'f' };
    default:
      return { type: 'judge_verdict', step: state.step, attempt: state.judging?.attempt ?? 1, verdict: c.verdict, summary: 's', ...(c.flag ? { expectedVersion: state.version + (c.pick % 2) } : {}) };
  }
}

const RUNNING = ['progressing', 'baking', 'judging', 'paused'];

describe('rollout machine properties', () => {
  it('no event sequence reaches an invalid state; versions count transitions; terminal states absorb; NACKs roll back; NACKed nodes are never re-sent', () => {
    const visited = new Map<string, number>();
    fc.assert(
      fc.property(planArb, fc.boolean(), fc.array(choiceArb, { minLength: 5, maxLength: 120 }), (plan, started, choices) => {
        const ctx: MachineContext = { plan, targetVersion: 2 };
        let state = initialState(0);
        if (started) state = applied(transition(ctx, state, { type: 'start' }, 0)).state;
        let now = 0;
        const everNacked = new Set<string>();
        const lastAttempt = new Map<number, number>();
        for (const c of choices) {
          now += c.dt;
          const event = eventFor(state, c);
          const result = transition(ctx, state, event, now);
          if (isTerminal(state.phase)) {
            expect(result.outcome).not.toBe('applied');
          }
          if (result.outcome !== 'applied') continue;
          const next = result.state;
          expect(stateProblems(ctx, next)).toEqual([]);
          expect(next.version).toBe(state.version + 1);
          expect(result.effects.some((e) => e.type === 'record_event')).toBe(true);
          for (const e of result.effects) {
            if (e.type === 'assign') {
              expect(e.version).toBe(2);
              for (const n of e.nodes) expect(everNacked.has(n)).toBe(false);
            }
            if (e.type === 'assign_previous') expect([...e.nodes].sort()).toEqual([...next.touched].sort());
            if (e.type === 'request_judgment') {
              expect(plan.gateSkip).toBeNull();
              expect(e.gates.length).toBeGreaterThan(0);
              // Attempts of one step strictly increase, so a late verdict can never be taken for a new one.
              expect(e.attempt).toBeGreaterThan(lastAttempt.get(e.step) ?? 0);
              lastAttempt.set(e.step, e.attempt);
            }
          }
          if (event.type === 'nack' && RUNNING.includes(state.phase) && state.touched.includes(event.node) && !state.nacked.includes(event.node)) {
            expect(next.phase).toBe('rolling_back');
          }
          for (const n of next.nacked) everNacked.add(n);
          const label = next.phase === 'paused' ? `paused(${next.paused?.from})` : next.phase;
          visited.set(label, (visited.get(label) ?? 0) + 1);
          // Touched only grows, and only through assign effects.
          expect(state.touched.every((n) => next.touched.includes(n))).toBe(true);
          state = next;
        }
      }),
      { numRuns: 400 },
    );
    // The random walks must actually reach every phase (else the property says little).
    expect([...visited.keys()].sort()).toEqual(['aborted', 'baking', 'completed', 'failed', 'judging', 'paused(baking)', 'paused(judging)', 'paused(progressing)', 'progressing', 'rolled_back', 'rolling_back']);
  });

  it('an orchestrator that follows the effects always reaches a terminal state, and a completed rollout touched every node it chose', () => {
    fc.assert(
      fc.property(planArb, fc.array(fc.constantFrom(...VERDICTS), { maxLength: 12 }), fc.array(fc.boolean(), { maxLength: 40 }), fc.nat(), (plan, verdicts, nackDice, seed) => {
        const ctx: MachineContext = { plan, targetVersion: 5 };
        let state = initialState(0);
        let now = 0;
        const chosen = new Set<string>();
        let v = 0;
        let d = 0;
        for (let i = 0; i < 500 && !isTerminal(state.phase); i++) {
          now += 100;
          let event: RolloutEvent;
          switch (state.phase) {
            case 'pending':
              event = { type: 'start' };
              break;
            case 'progressing':
              if (state.cohort === null) {
                const nodes = POOL.filter((n) => !state.touched.includes(n)).slice(0, 1 + ((seed + i) % 3));
                for (const n of nodes) chosen.add(n);
                event = { type: 'cohort_chosen', step: state.step, nodes };
              } else if (state.admitted.length < state.cohort.length) {
                event = { type: 'admit', step: state.step, nodes: state.cohort.filter((n) => !state.admitted.includes(n)).slice(0, 1) };
              } else if (nackDice[d++ % Math.max(1, nackDice.length)] === true && state.admitted.length > 0 && d < 3) {
                event = { type: 'nack', node: state.admitted[0]!, message: 'no' };
              } else {
                event = { type: 'step_acked', step: state.step };
              }
              break;
            case 'baking':
              now = Math.max(now, state.bakeUntil ?? now);
              event = { type: 'tick' };
              break;
            case 'judging':
              if (state.judging?.awaiting === true) {
                event = { type: 'judge_verdict', step: state.step, attempt: state.judging.attempt, verdict: verdicts[v++] ?? 'pass', summary: '' };
              } else {
                now = Math.max(now, state.judging?.nextAt ?? now);
                event = { type: 'tick' };
              }
              break;
            case 'paused':
              event = { type: 'resume' };
              break;
            case 'rolling_back':
              event = { type: 'rollback_done' };
              break;
            default:
              throw new Error('unreachable');
          }
          const result = transition(ctx, state, event, now);
          expect(result.outcome).toBe('applied');
          if (result.outcome === 'applied') state = result.state;
        }
        expect(isTerminal(state.phase)).toBe(true);
        if (state.phase === 'completed') expect([...state.touched].sort()).toEqual([...chosen].sort());
      }),
      { numRuns: 300 },
    );
  });
});
