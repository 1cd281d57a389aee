/**
 * Live update: kernel decisions while the tables change from policy A to policy B must
 * each be A's answer or B's, never a mix. Tables are built so that every mix a reader
 * could see (A's rule sets with B's rules, a half-cleaned slot, a missing cgroup) gives
 * a third answer, so a mix cannot hide.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { DefaultAction, NO_PRESSURE_GATE, TvaType, VmaAdvice, decide, type HookInput, type KernelTables } from '@thp-fleet/policy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ADDON_PATH } from './paths.js';
import { PINS, load } from './kernel-policy.js';
import { announceSkip, kernelSkipReason, makePinRoot, type PinRoot } from './kernel.test-util.js';
import { LAYOUT, encodeContext } from './layout.js';

const rule = (allowOrders: number) => ({ ctxMask: 0b11111, adviceMask: 0b111, allowOrders, pressureThreshold: NO_PRESSURE_GATE, pressureOrders: 0 });
const REQUESTED = (1 << 9) | (1 << 4) | (1 << 2);

/** cgroups 1..n in chains of 4 (leaf, parent, grandparent, root 1); leaves mapped. */
function policies(cgroups: number): { a: KernelTables; b: KernelTables; inputs: HookInput[] } {
  const leaves = Array.from({ length: cgroups }, (_, i) => 1_000 + i);
  const a: KernelTables = {
    generation: 1,
    defaultAction: DefaultAction.Unchanged,
    defaultOrders: 0,
    rules: [rule(1 << 9)], // A: order 9
    cgroupRules: new Map(leaves.map((id) => [id, 0b01])),
  };
  const b: KernelTables = {
    generation: 2,
    defaultAction: DefaultAction.Unchanged,
    defaultOrders: 0,
    rules: [rule(1 << 2), rule(1 << 4)], // B: order 4 via rule 1; A's set with B's rules gives 2
    cgroupRules: new Map(leaves.map((id) => [id, 0b10])), // B's set with A's rules gives -1
  };
  const inputs = leaves
    .filter((_, i) => i % Math.max(1, Math.floor(cgroups / 200)) === 0)
    .map((leaf) => ({ cgroupChain: [leaf, 500, 2, 1], tva: TvaType.Pagefault, advice: VmaAdvice.None, requestedOrders: REQUESTED, pressure: 0 }));
  return { a, b, inputs };
}

const skip = announceSkip('live update', kernelSkipReason(['syscall']));

describe.skipIf(skip)('live update A -> B through the kernel', () => {
  let root: PinRoot;
  beforeEach(() => {
    root = makePinRoot('live');
  });
  afterEach(() => root.cleanup());

  it('answers A before the flip and B from the flip on, after every single map write', () => {
    const { a, b, inputs } = policies(10_000);
    const answersA = inputs.map((input) => decide(a, input));
    const answersB = inputs.map((input) => decide(b, input));
    expect(new Set([...answersA, ...answersB])).toEqual(new Set([9, 4]));
    const policy = load(a, 'v12', { pinRoot: root.pinRoot });
    try {
      for (const [from, to, fromAnswers, toAnswers] of [
        [a, b, answersA, answersB],
        [b, a, answersB, answersA],
      ] as const) {
        expect(inputs.map((input) => policy.decide(input).decision)).toEqual(fromAnswers);
        const seen: string[] = [];
        let flipped = false;
        policy.update(to, {
          onWrite: (write) => {
            if (write.kind === 'flip') flipped = true;
            seen.push(write.kind);
            const decisions = inputs.map((input) => policy.decide(input).decision);
            expect({ after: write.kind, decisions }).toEqual({ after: write.kind, decisions: flipped ? toAnswers : fromAnswers });
          },
        });
        expect(seen).toEqual(['slot', 'cgroups', 'flip', 'rcu-sync', 'cgroups-delete', 'slot-clear']);
        expect(policy.tables().cgroupRules.size).toBe(from.cgroupRules.size);
      }
    } finally {
      policy.close();
    }
  });

  it('never mixes A and B while another thread decides during 60 table switches', async () => {
    const { a, b, inputs } = policies(2_000);
    const ctxSize = LAYOUT.thp_decide_ctx.size;
    const contexts = new SharedArrayBuffer(ctxSize * inputs.length);
    inputs.forEach((input, i) => encodeContext(Buffer.from(contexts, i * ctxSize, ctxSize), input, 'v12'));
    const answerA = new SharedArrayBuffer(4 * inputs.length);
    const answerB = new SharedArrayBuffer(4 * inputs.length);
    inputs.forEach((input, i) => {
      new Int32Array(answerA)[i] = decide(a, input);
      new Int32Array(answerB)[i] = decide(b, input);
    });
    const control = new SharedArrayBuffer(8);
    const policy = load(a, 'v12', { pinRoot: root.pinRoot });
    const worker = new Worker(new URL('./decide-loop.worker.mjs', import.meta.url), {
      workerData: {
        addonPath: ADDON_PATH,
        programPin: join(root.pinRoot, PINS.decideProgram),
        ctxSize,
        count: inputs.length,
        offsets: LAYOUT.thp_decide_ctx.fields,
        contexts,
        answerA,
        answerB,
        control,
      },
    });
    const done = new Promise<{ runs: number; violations: number; sawA: number; sawB: number; retries: number; firstViolation: unknown }>(
      (resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      },
    );
    try {
      const flag = new Int32Array(control);
      while (Atomics.load(flag, 1) === 0) await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 30; i++) {
        expect(policy.update(b).mode).toBe('switch');
        await new Promise((r) => setTimeout(r, 2));
        expect(policy.update(a).mode).toBe('switch');
        await new Promise((r) => setTimeout(r, 2));
      }
      Atomics.store(flag, 0, 1);
      const result = await done;
      console.log(`[libs/bpf] live update: ${result.runs} concurrent kernel decisions, ${result.retries} re-read after a flip, 0 expected mixes`);
      expect({ violations: result.violations, first: result.firstViolation }).toEqual({ violations: 0, first: null });
      expect(result.sawA).toBeGreaterThan(0);
      expect(result.sawB).toBeGreaterThan(0);
    } finally {
      Atomics.store(new Int32Array(control), 0, 1);
      await worker.terminate();
      policy.close();
    }
  });
});
