/**
 * Real process deaths: a child process runs the sequence and SIGKILLs itself after point k, for
 * every k. Only what reached the disk (journal written with fsync + rename, the imitation tree,
 * the modelled hook's state file) survives; the parent checks the node is safe and that
 * resume() in a fresh sequencer finishes the job.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { enforcingVerified, expectedValues, makeTarget, makeTestNode, type TestNode } from './node-mode.test-util.js';
import type { NodeSettings } from './settings.js';

const PROJECT = resolve(import.meta.dirname, '../..');
const CHILD = join(import.meta.dirname, 'kill-child.test-util.ts');
const NODE: NodeSettings = { enabled: 'always', defrag: 'defer', hugepages: { '64kB': 'always' }, khugepaged: { maxPtesNone: 128 } };
const TARGET = makeTarget('kill-test', 7, NODE);

function child(n: TestNode, killAfter: number, operation: 'apply' | 'remove'): Promise<{ signal: NodeJS.Signals | null; stdout: string }> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      ['--conditions=@thp-fleet/source', '--import', 'tsx', CHILD, n.root, n.stateDir, n.hookFile, String(killAfter), operation, JSON.stringify(TARGET)],
      { cwd: PROJECT },
      (err, stdout, stderr) => {
        if (err === null) return done({ signal: null, stdout });
        if (err.signal === 'SIGKILL') return done({ signal: 'SIGKILL', stdout });
        fail(new Error(`child failed: ${err.message}\n${stderr}`));
      },
    );
  });
}

/** Points the operation passes through, counted in-process (same code path as the child). */
async function countPoints(operation: 'apply' | 'remove'): Promise<number> {
  const n = await makeTestNode();
  try {
    if (operation === 'remove') await (await n.open()).seq.apply(TARGET);
    let points = 0;
    const { seq } = await n.open({ onPoint: () => void points++ });
    const out = operation === 'apply' ? await seq.apply(TARGET) : await seq.remove();
    if (!out.ok) throw new Error(out.error.message);
    return points;
  } finally {
    await n.cleanup();
  }
}

const APPLY_POINTS = await countPoints('apply');
const REMOVE_POINTS = await countPoints('remove');

describe('SIGKILL of the agent process', () => {
  it('the child runs the whole apply when not killed', async () => {
    const n = await makeTestNode();
    try {
      const { signal, stdout } = await child(n, -1, 'apply');
      expect(signal).toBeNull();
      expect(JSON.parse(stdout)).toEqual({ ok: true, points: APPLY_POINTS });
      expect(await n.values()).toEqual(expectedValues(n.original, NODE));
    } finally {
      await n.cleanup();
    }
  });

  it.each([...Array(APPLY_POINTS).keys()])('killed after apply point %i: safe, and resume finishes the apply', async (k) => {
    const n = await makeTestNode();
    try {
      expect((await child(n, k, 'apply')).signal).toBe('SIGKILL');
      expect(await n.violation(true)).toBeNull();
      const { seq } = await n.open();
      const out = await seq.resume();
      expect(out.ok).toBe(true);
      expect(seq.status().applied?.target.specHash).toBe(TARGET.specHash);
      expect(await n.values()).toEqual(expectedValues(n.original, NODE));
      expect(enforcingVerified(n.hookState())).toBe(true);
    } finally {
      await n.cleanup();
    }
  });

  it.each([...Array(REMOVE_POINTS).keys()])('killed after remove point %i: safe, and resume finishes the removal', async (k) => {
    const n = await makeTestNode();
    try {
      expect((await (await n.open()).seq.apply(TARGET)).ok).toBe(true);
      expect((await child(n, k, 'remove')).signal).toBe('SIGKILL');
      expect(await n.violation(true)).toBeNull();
      const { seq } = await n.open();
      expect((await seq.resume()).ok).toBe(true);
      expect(await n.files()).toEqual(n.originalFiles);
      expect(n.hookState()).toEqual({ attached: false, tables: null, verified: false });
      expect(seq.status().baseline).toBeNull();
    } finally {
      await n.cleanup();
    }
  });
});
