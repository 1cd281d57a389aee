/**
 * A crash injected after every single point of each sequence (every sysfs write, port call and
 * journal write), and in the middle of every two-phase port call: the node must be safe right
 * after the crash, and a restarted sequencer's `resume()` must reach the right end state.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { PortOp } from './enforcement-port.js';
import type { ImitationTreeOptions } from './imitation-tree.js';
import {
  SimulatedCrash,
  enforcingVerified,
  expectedValues,
  makeTarget,
  makeTestNode,
  type ModelHook,
  type ModelHookOptions,
  type TestNode,
} from './node-mode.test-util.js';
import type { NodeModeOutcome, NodeModeSequencer, SequencePoint } from './sequencer.js';
import type { NodeSettings } from './settings.js';

// tmpfs keeps the many fsyncs cheap; durability across a real process death is in sequencer.kill.spec.ts.
const BASE = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

const NODE_A: NodeSettings = { enabled: 'always', defrag: 'defer+madvise', hugepages: { '64kB': 'madvise' }, khugepaged: { pagesToScan: 2048 } };
const NODE_B: NodeSettings = { enabled: 'madvise', shmemEnabled: 'advise', hugepages: { '2048kB': 'always', '16kB': 'madvise' } };
const A = makeTarget('p', 1, NODE_A);
const B = makeTarget('p', 2, NODE_B);
const NL = makeTarget('tuned', 1, { ...NODE_A, withoutHook: 'node-level' });

interface Scenario {
  readonly name: string;
  readonly tree?: ImitationTreeOptions;
  readonly hookPresent: boolean;
  readonly failOn?: ModelHookOptions['failOn'];
  /** Done before the sequence under test, without crashes. */
  readonly setup: (seq: NodeModeSequencer) => Promise<void>;
  readonly run: (seq: NodeModeSequencer) => Promise<NodeModeOutcome>;
  /** The state every crash point must end in after resume. */
  readonly end: (n: TestNode, seq: NodeModeSequencer) => Promise<void>;
}

async function expectApplied(n: TestNode, seq: NodeModeSequencer, node: NodeSettings, version: number, full: boolean): Promise<void> {
  expect(seq.status().pending).toBeNull();
  expect(seq.status().applied?.target.version).toBe(version);
  expect(seq.status().enforcement).toBe(full ? 'full' : 'node-level-only');
  expect(await n.values()).toEqual(expectedValues(n.original, node));
  const hook = n.hookState();
  if (full) {
    expect(enforcingVerified(hook)).toBe(true);
    expect(hook.tables).toMatchObject({ kind: 'policy', version });
  } else {
    expect(hook).toEqual({ attached: false, tables: null, verified: false });
  }
}

async function expectPristine(n: TestNode, seq: NodeModeSequencer): Promise<void> {
  expect(seq.status()).toEqual({ enforcement: 'none', applied: null, baseline: null, pending: null });
  expect(await n.files()).toEqual(n.originalFiles);
  expect(n.hookState()).toEqual({ attached: false, tables: null, verified: false });
}

const ok = async (p: Promise<NodeModeOutcome>): Promise<void> => {
  const o = await p;
  if (!o.ok) throw new Error(`setup failed: ${o.error.message}`);
};

const SCENARIOS: Scenario[] = [
  {
    name: 'fresh apply',
    hookPresent: true,
    setup: () => Promise.resolve(),
    run: (seq) => seq.apply(A),
    end: (n, seq) => expectApplied(n, seq, NODE_A, 1, true),
  },
  {
    name: 'fresh apply over a THP-on baseline',
    tree: { enabled: 'always', perSizeEnabled: { 'hugepages-64kB': 'always', 'hugepages-32kB': 'madvise' } },
    hookPresent: true,
    setup: () => Promise.resolve(),
    run: (seq) => seq.apply(B),
    end: (n, seq) => expectApplied(n, seq, NODE_B, 2, true),
  },
  {
    name: 'switch A -> B',
    hookPresent: true,
    setup: (seq) => ok(seq.apply(A)),
    run: (seq) => seq.apply(B),
    end: (n, seq) => expectApplied(n, seq, NODE_B, 2, true),
  },
  {
    name: 'remove after A and B',
    hookPresent: true,
    setup: async (seq) => {
      await ok(seq.apply(A));
      await ok(seq.apply(B));
    },
    run: (seq) => seq.remove(),
    end: expectPristine,
  },
  {
    name: 'failed switch reverted to A',
    hookPresent: true,
    failOn: (op, p) => (op === 'verifyPolicy' && p?.version === 2 ? 'tables do not read back' : undefined),
    setup: (seq) => ok(seq.apply(A)),
    run: (seq) => seq.apply(B),
    end: (n, seq) => expectApplied(n, seq, NODE_A, 1, true),
  },
  {
    name: 'failed fresh apply rolled back',
    hookPresent: true,
    failOn: (op) => (op === 'applyPolicy' ? 'map update failed: E2BIG' : undefined),
    setup: () => Promise.resolve(),
    run: (seq) => seq.apply(A),
    end: expectPristine,
  },
  {
    name: 'node-level apply without the hook',
    hookPresent: false,
    setup: () => Promise.resolve(),
    run: (seq) => seq.apply(NL),
    end: (n, seq) => expectApplied(n, seq, NODE_A, 1, false),
  },
  {
    name: 'node-level remove without the hook',
    hookPresent: false,
    setup: (seq) => ok(seq.apply(NL)),
    run: (seq) => seq.remove(),
    end: expectPristine,
  },
];

/** How a case crashes: after the k-th point, or in the middle of the c-th port call. */
type Crash = { readonly after: number; readonly label: string } | { readonly insidePortCall: number; readonly label: string };

const TWO_PHASE: readonly PortOp[] = ['loadDenyAll', 'applyPolicy', 'detachAndUnpin'];

function label(p: SequencePoint): string {
  return p.kind === 'sysfs-write' ? `write ${p.path}=${p.value}` : p.kind === 'port' ? `port ${p.op}` : `journal ${p.operation}:${p.step}`;
}

/** Dry run of a scenario: every point and every port call it makes. */
async function enumerate(s: Scenario): Promise<Crash[]> {
  const n = await makeTestNode(s.tree, BASE);
  try {
    await s.setup((await n.open({ hook: { hookPresent: s.hookPresent } })).seq);
    const points: string[] = [];
    const { seq, hook } = await n.open({
      hook: { hookPresent: s.hookPresent, ...(s.failOn === undefined ? {} : { failOn: s.failOn }) },
      onPoint: (p) => void points.push(label(p)),
    });
    await s.run(seq);
    const crashes: Crash[] = points.map((l, after) => ({ after, label: `after #${after} ${l}` }));
    hook.calls.forEach((c, i) => {
      if (TWO_PHASE.includes(c.op) && c.failed !== true) crashes.push({ insidePortCall: i, label: `inside port call #${i} ${c.op}` });
    });
    return crashes;
  } finally {
    await n.cleanup();
  }
}

const CASES = await Promise.all(SCENARIOS.map(async (s) => ({ s, crashes: await enumerate(s) })));

describe.each(CASES)('crash during $s.name', ({ s, crashes }) => {
  it('has crash points to test', () => {
    expect(crashes.length).toBeGreaterThan(s.hookPresent ? 8 : 4);
  });

  it.each(crashes.map((c) => [c.label, c] as const))('%s: safe after the crash, finished by resume', async (_label, crash) => {
    const n = await makeTestNode(s.tree, BASE);
    try {
      await s.setup((await n.open({ hook: { hookPresent: s.hookPresent } })).seq);
      let index = 0;
      const failOn = s.failOn === undefined ? {} : { failOn: s.failOn };
      // The hook exists only once open() returns; the onPoint closure reads it through this box.
      const box: { hook?: ModelHook } = {};
      const { seq, hook } = await n.open({
        hook: {
          hookPresent: s.hookPresent,
          ...failOn,
          ...('insidePortCall' in crash ? { crashInside: (_op: PortOp, i: number) => i === crash.insidePortCall } : {}),
        },
        onPoint: (p) => {
          if (box.hook?.crashPending !== undefined) throw new SimulatedCrash(box.hook.crashPending);
          if ('after' in crash && index++ === crash.after) throw new SimulatedCrash(`after ${label(p)}`);
        },
      });
      box.hook = hook;
      await expect(s.run(seq)).rejects.toThrow(SimulatedCrash);
      expect(await n.violation(s.hookPresent)).toBeNull();

      // Restart: a new sequencer over the same journal, tree and "kernel"; safe at every step of the resume.
      const violations: string[] = [];
      const restarted = await n.open({
        hook: { hookPresent: s.hookPresent, ...failOn },
        onPoint: async (p) => {
          const v = await n.violation(s.hookPresent);
          if (v !== null) violations.push(`${label(p)}: ${v}`);
        },
      });
      await restarted.seq.resume();
      expect(violations).toEqual([]);
      await s.end(n, restarted.seq);
      expect(restarted.seq.status().pending).toBeNull();
    } finally {
      await n.cleanup();
    }
  });
});
