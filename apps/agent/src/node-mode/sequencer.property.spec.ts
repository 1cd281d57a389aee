/**
 * Property: any sequence of apply / switch / remove / restart, with crashes at any point and
 * port failures injected anywhere, over any starting sysfs values, keeps the invariant "never
 * THP turned on while no verified policy or deny-all enforces, unless node-level-only was
 * chosen" at every single point, leaves consistent state after each action, and a final
 * resume + remove puts every file back byte for byte.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PortOp } from './enforcement-port.js';
import type { ImitationTreeOptions } from './imitation-tree.js';
import { readJournal } from './journal.js';
import {
  SimulatedCrash,
  enforcingVerified,
  makeTarget,
  makeTestNode,
  type ModelHook,
  type TestNode,
} from './node-mode.test-util.js';
import type { NodeModeOutcome, NodeModeSequencer } from './sequencer.js';
import {
  PER_SIZE_ENABLED_VALUES,
  SHMEM_ENABLED_VALUES,
  THP_DEFRAG_VALUES,
  THP_ENABLED_VALUES,
  WITHOUT_HOOK_VALUES,
  type NodeSettings,
} from './settings.js';

const BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
const SIZES = [16, 64, 2048] as const;
const PORT_OPS: readonly PortOp[] = ['loadDenyAll', 'verifyDenyAll', 'applyPolicy', 'verifyPolicy', 'detachAndUnpin'];

const treeArb: fc.Arbitrary<ImitationTreeOptions> = fc.record({
  enabled: fc.constantFrom(...THP_ENABLED_VALUES),
  defrag: fc.constantFrom(...THP_DEFRAG_VALUES),
  shmemEnabled: fc.constantFrom(...SHMEM_ENABLED_VALUES),
  anonSizesKb: fc.constant([...SIZES]),
  perSizeEnabled: fc.record(Object.fromEntries(SIZES.map((kb) => [`hugepages-${kb}kB`, fc.constantFrom(...PER_SIZE_ENABLED_VALUES)]))),
  khugepaged: fc.record({ maxPtesNone: fc.integer({ min: 0, max: 511 }), pagesToScan: fc.integer({ min: 1, max: 100000 }) }),
});

const nodeArb: fc.Arbitrary<NodeSettings> = fc.record(
  {
    enabled: fc.constantFrom(...THP_ENABLED_VALUES),
    defrag: fc.constantFrom(...THP_DEFRAG_VALUES),
    shmemEnabled: fc.constantFrom(...SHMEM_ENABLED_VALUES),
    hugepages: fc.dictionary(fc.constantFrom(...SIZES.map((kb) => `${kb}kB`)), fc.constantFrom(...PER_SIZE_ENABLED_VALUES), { maxKeys: 3 }),
    khugepaged: fc.record({ maxPtesNone: fc.integer({ min: 0, max: 511 }), pagesToScan: fc.integer({ min: 1, max: 100000 }) }, { requiredKeys: [] }),
    withoutHook: fc.constantFrom(...WITHOUT_HOOK_VALUES),
  },
  { requiredKeys: [] },
);

type Crash = { readonly after: number } | { readonly inside: number };
const crashArb: fc.Arbitrary<Crash | undefined> = fc.option(
  fc.oneof(fc.record({ after: fc.nat({ max: 30 }) }), fc.record({ inside: fc.nat({ max: 4 }) })),
  { nil: undefined, freq: 2 },
);
const failArb = fc.option(fc.constantFrom(...PORT_OPS), { nil: undefined, freq: 3 });

type Action =
  | { readonly kind: 'apply'; readonly policy: number; readonly fail: PortOp | undefined; readonly crash: Crash | undefined }
  | { readonly kind: 'remove'; readonly fail: PortOp | undefined; readonly crash: Crash | undefined }
  | { readonly kind: 'restart'; readonly fail: PortOp | undefined; readonly crash: Crash | undefined };

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('apply' as const), policy: fc.nat({ max: 2 }), fail: failArb, crash: crashArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), fail: failArb, crash: crashArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), fail: failArb, crash: crashArb }) },
);

async function runScenario(tree: ImitationTreeOptions, hookPresent: boolean, policies: NodeSettings[], actions: Action[]): Promise<void> {
  const n: TestNode = await makeTestNode(tree, BASE);
  const targets = policies.map((node, i) => makeTarget(`p${i}`, i + 1, node));
  const violations: string[] = [];
  const check = async (where: string): Promise<void> => {
    const v = await n.violation(hookPresent);
    if (v !== null) violations.push(`${where}: ${v}`);
  };
  try {
    for (const [step, action] of actions.entries()) {
      let index = 0;
      const box: { hook?: ModelHook } = {};
      const crash = action.crash;
      const opened = await n.open({
        hook: {
          hookPresent,
          ...(action.fail === undefined ? {} : { failOn: (op: PortOp) => (op === action.fail ? `injected ${op} failure` : undefined) }),
          ...(crash !== undefined && 'inside' in crash ? { crashInside: (_op: PortOp, i: number) => i === crash.inside } : {}),
        },
        onPoint: async (p) => {
          await check(`action ${step} ${action.kind}, point ${index} (${p.kind})`);
          if (box.hook?.crashPending !== undefined) throw new SimulatedCrash(box.hook.crashPending);
          if (crash !== undefined && 'after' in crash && index === crash.after) throw new SimulatedCrash(`after point ${index}`);
          index++;
        },
      });
      box.hook = opened.hook;
      const seq: NodeModeSequencer = opened.seq;
      const filesBefore = await n.files();
      // apply() and remove() first finish a sequence a crash left pending.
      const pendingBefore = (await readJournal(n.stateDir))?.operation ?? null;
      let outcome: NodeModeOutcome;
      try {
        outcome =
          action.kind === 'apply' ? await seq.apply(targets[action.policy]!) : action.kind === 'remove' ? await seq.remove() : await seq.resume();
      } catch (err) {
        if (!(err instanceof SimulatedCrash)) throw err;
        await check(`action ${step} ${action.kind} right after the crash`);
        continue;
      }
      await check(`action ${step} ${action.kind} done`);
      const status = seq.status();
      if (!outcome.ok && outcome.recovery === 'unchanged' && pendingBefore === null) {
        expect(await n.files()).toEqual(filesBefore);
      }
      if (status.pending === null && status.applied !== null) {
        // Whatever is recorded as applied is what the node holds and what the hook enforces.
        expect(await n.values()).toEqual(status.applied.values);
        if (hookPresent) {
          expect(enforcingVerified(n.hookState())).toBe(true);
          expect(n.hookState().tables).toMatchObject({ kind: 'policy', specHash: status.applied.target.specHash });
        }
      }
      if (status.pending === null && status.applied === null) {
        expect(await n.files()).toEqual(n.originalFiles);
        expect(n.hookState()).toEqual({ attached: false, tables: null, verified: false });
      }
    }
    // The end: a clean restart and a removal leave the node exactly as it was.
    const { seq } = await n.open({ hook: { hookPresent }, onPoint: () => check('final resume/remove') });
    const resumed = await seq.resume();
    expect(resumed.ok || resumed.recovery !== 'incomplete').toBe(true);
    const removed = await seq.remove();
    expect(removed.ok).toBe(true);
    expect(await n.files()).toEqual(n.originalFiles);
    expect(n.hookState()).toEqual({ attached: false, tables: null, verified: false });
    expect(seq.status()).toEqual({ enforcement: 'none', applied: null, baseline: null, pending: null });
    expect(violations).toEqual([]);
  } finally {
    await n.cleanup();
  }
}

describe('node-mode sequence under arbitrary operations, crashes and failures', () => {
  it('keeps the safety invariant at every point and restores the node exactly', async () => {
    await fc.assert(
      fc.asyncProperty(
        treeArb,
        // Mostly a kernel with the hook; sometimes without (node-level or incompatible).
        fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        fc.array(nodeArb, { minLength: 3, maxLength: 3 }),
        fc.array(actionArb, { minLength: 1, maxLength: 8 }),
        (tree, hookPresent, policies, actions) => runScenario(tree, hookPresent, policies, actions),
      ),
      { numRuns: 100 },
    );
  });
});
