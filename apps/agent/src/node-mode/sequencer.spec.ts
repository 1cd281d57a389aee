import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NackStage } from '@thp-fleet/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { createImitationThpTree } from './imitation-tree.js';
import { JOURNAL_FILE, JOURNAL_FORMAT, JournalError, type Journal } from './journal.js';
import { toNackErrorFields } from './nack.js';
import {
  TEST_BOOT_ID,
  expectedValues,
  makeTarget,
  makeTestNode,
  type TestNode,
} from './node-mode.test-util.js';
import type { NodeModeOutcome, SequencePoint } from './sequencer.js';
import type { NodeSettings } from './settings.js';
import { ThpSysfsTree } from './sysfs.js';

const nodes: TestNode[] = [];
async function node(...args: Parameters<typeof makeTestNode>): Promise<TestNode> {
  const n = await makeTestNode(...args);
  nodes.push(n);
  return n;
}
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.cleanup()));
});

function fmt(p: SequencePoint): string {
  switch (p.kind) {
    case 'sysfs-write':
      return `write ${p.path}=${p.value}`;
    case 'port':
      return `port ${p.op}`;
    case 'journal':
      return `journal ${p.operation}:${p.step}`;
  }
}

/** Records every point and checks the safety invariant at each one. */
function tracer(n: TestNode, hookPresent = true): { trace: string[]; violations: string[]; onPoint: (p: SequencePoint) => Promise<void> } {
  const trace: string[] = [];
  const violations: string[] = [];
  return {
    trace,
    violations,
    onPoint: async (p) => {
      trace.push(fmt(p));
      const v = await n.violation(hookPresent);
      if (v !== null) violations.push(`after ${fmt(p)}: ${v}`);
    },
  };
}

function expectOk(o: NodeModeOutcome): asserts o is Extract<NodeModeOutcome, { ok: true }> {
  if (!o.ok) throw new Error(`expected ok, got ${JSON.stringify(o.error)}`);
}
function expectErr(o: NodeModeOutcome): asserts o is Extract<NodeModeOutcome, { ok: false }> {
  if (o.ok) throw new Error('expected a failure outcome');
}

const NODE_A: NodeSettings = {
  enabled: 'always',
  defrag: 'defer+madvise',
  hugepages: { '64kB': 'madvise' },
  khugepaged: { maxPtesNone: 64, pagesToScan: 1024 },
};
const NODE_B: NodeSettings = { enabled: 'madvise', shmemEnabled: 'advise', hugepages: { '2048kB': 'always' } };
const A = makeTarget('zgc-thp', 1, NODE_A);
const B = makeTarget('zgc-thp', 2, NODE_B);

describe('apply, switch, remove on an imitation tree', () => {
  it('applies in the recipe order: THP off, deny-all attached and verified, policy verified, enabled last', async () => {
    const n = await node();
    const t = tracer(n);
    const { seq, hook } = await n.open({ onPoint: t.onPoint });
    const out = await seq.apply(A);
    expectOk(out);
    expect(out.changed).toBe(true);
    expect(out.status.enforcement).toBe('full');
    expect(t.trace).toEqual([
      'journal apply:begun',
      'write enabled=never',
      'journal apply:thp-off',
      'port loadDenyAll',
      'journal apply:deny-all-loaded',
      'port verifyDenyAll',
      'journal apply:deny-all-verified',
      'port applyPolicy',
      'journal apply:policy-loaded',
      'port verifyPolicy',
      'journal apply:policy-verified',
      'write khugepaged/max_ptes_none=64',
      'write khugepaged/pages_to_scan=1024',
      'write defrag=defer+madvise',
      'write hugepages-64kB/enabled=madvise',
      'write enabled=always',
      'journal apply:node-written',
      'journal none:committed',
    ]);
    expect(t.violations).toEqual([]);
    expect(await n.values()).toEqual(expectedValues(n.original, NODE_A));
    expect(await readFile(join(n.root, 'enabled'), 'utf8')).toBe('[always] madvise never\n');
    expect(hook.state()).toEqual({ attached: true, verified: true, tables: { kind: 'policy', policy: 'zgc-thp', version: 1, specHash: A.specHash } });
    expect(out.status.applied?.target.specHash).toBe(A.specHash);
    expect(out.status.baseline).toEqual(n.original);
  });

  it('switches A -> B with THP off during the swap, keeping the first baseline', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const t = tracer(n);
    const { seq, hook } = await n.open({ onPoint: t.onPoint });
    const out = await seq.apply(B);
    expectOk(out);
    expect(t.violations).toEqual([]);
    expect(hook.calls).toEqual([
      { op: 'applyPolicy', policy: 'zgc-thp@2' },
      { op: 'verifyPolicy', policy: 'zgc-thp@2' },
    ]);
    // THP goes off before the tables change and comes back only after B is verified.
    expect(t.trace.slice(0, 4)).toEqual(['journal apply:begun', 'write hugepages-64kB/enabled=never', 'write enabled=never', 'journal apply:thp-off']);
    expect(t.trace.at(-3)).toBe('write enabled=madvise');
    // Controls A set and B does not go back to the node's own values, not to A's.
    expect(await n.values()).toEqual(expectedValues(n.original, NODE_B));
    const journal = JSON.parse(await readFile(join(n.stateDir, JOURNAL_FILE), 'utf8')) as Journal;
    expect(journal.baseline).toEqual(n.original);
    expect(journal.applied?.target.version).toBe(2);
  });

  it('removes: every file back byte for byte first, then detach and unpin, then the journal goes', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    expectOk(await (await n.open()).seq.apply(B));
    expect(await n.files()).not.toEqual(n.originalFiles);
    const t = tracer(n);
    const { seq } = await n.open({ onPoint: t.onPoint });
    const out = await seq.remove();
    expectOk(out);
    expect(out.status).toEqual({ enforcement: 'none', applied: null, baseline: null, pending: null });
    expect(t.violations).toEqual([]);
    // Live values are B's; only what differs from the recorded baseline is written, enabled last.
    expect(t.trace).toEqual([
      'journal remove:begun',
      'write shmem_enabled=never',
      'write hugepages-2048kB/enabled=inherit',
      'journal remove:sysfs-restored',
      'port detachAndUnpin',
      'journal remove:detached',
      'journal none:cleared',
    ]);
    expect(await n.files()).toEqual(n.originalFiles);
    expect(n.hookState()).toEqual({ attached: false, tables: null, verified: false });
    expect(await readdir(n.stateDir)).toEqual([]);
    // Nothing managed: a second remove is a no-op.
    const again = await seq.remove();
    expectOk(again);
    expect(again.changed).toBe(false);
  });

  it('restores a baseline that had THP on (enabled always, 64kB always, 2048kB madvise) exactly', async () => {
    const n = await node({ enabled: 'always', perSizeEnabled: { 'hugepages-64kB': 'always', 'hugepages-2048kB': 'madvise' }, shmemEnabled: 'within_size' });
    const t = tracer(n);
    const { seq } = await n.open({ onPoint: t.onPoint });
    expectOk(await seq.apply(makeTarget('p', 1, { enabled: 'madvise', hugepages: { '16kB': 'always' } })));
    // Per-size sizes that allow THP on their own are switched off with the top level.
    expect(t.trace.slice(1, 5)).toEqual([
      'write hugepages-64kB/enabled=never',
      'write hugepages-2048kB/enabled=never',
      'write enabled=never',
      'journal apply:thp-off',
    ]);
    // ... and come back to their own values under the verified policy.
    expect(await n.values()).toEqual(expectedValues(n.original, { enabled: 'madvise', hugepages: { '16kB': 'always' } }));
    expectOk(await seq.remove());
    expect(t.violations).toEqual([]);
    expect(await n.files()).toEqual(n.originalFiles);
  });

  it('changes nothing when the same target is applied again', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const t = tracer(n);
    const { seq, hook } = await n.open({ onPoint: t.onPoint });
    const out = await seq.apply(makeTarget('zgc-thp', 1, { ...NODE_A }));
    expectOk(out);
    expect(out.changed).toBe(false);
    expect(t.trace).toEqual([]);
    expect(hook.calls).toEqual([]);
  });

  it('relabels a new version of the identical spec without touching sysfs or the program', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const t = tracer(n);
    const { seq, hook } = await n.open({ onPoint: t.onPoint });
    const out = await seq.apply({ ...A, policy: 'zgc-thp-renamed', version: 9 });
    expectOk(out);
    expect(out.changed).toBe(false);
    expect(t.trace).toEqual(['journal none:committed']);
    expect(hook.calls).toEqual([]);
    expect(seq.status().applied?.target).toMatchObject({ policy: 'zgc-thp-renamed', version: 9, specHash: A.specHash });
    expect(await n.values()).toEqual(expectedValues(n.original, NODE_A));
    // A different node section under the same spec hash is not a relabel (it cannot come from one spec).
    const other = await seq.apply({ ...A, version: 10, node: { ...NODE_A, defrag: 'never' } });
    expectOk(other);
    expect(other.changed).toBe(true);
    expect(hook.calls.map((c) => c.op)).toEqual(['applyPolicy', 'verifyPolicy']);
  });

  it('reports drift of a control away from what the policy set', async () => {
    const n = await node();
    const { seq, sysfs } = await n.open();
    expectOk(await seq.apply(A));
    expect(await seq.drift()).toEqual([]);
    await sysfs.write('defrag', 'never');
    expect(await seq.drift()).toEqual([{ path: 'defrag', expected: 'defer+madvise', actual: 'never' }]);
  });
});

describe('without the hook', () => {
  it('applies only the node section when the policy allows node-level, and reports node-level-only', async () => {
    const n = await node();
    const t = tracer(n, false);
    const { seq, hook } = await n.open({ hook: { hookPresent: false }, onPoint: t.onPoint });
    const settings: NodeSettings = { ...NODE_A, withoutHook: 'node-level' };
    const out = await seq.apply(makeTarget('tuned-like', 1, settings));
    expectOk(out);
    expect(out.status.enforcement).toBe('node-level-only');
    expect(hook.calls).toEqual([]);
    expect(t.trace[0]).toBe('journal apply:begun');
    expect(t.trace.at(-3)).toBe('write enabled=always');
    expect(t.trace.slice(-2)).toEqual(['journal apply:node-written', 'journal none:committed']);
    expect(await n.values()).toEqual(expectedValues(n.original, NODE_A));
    expectOk(await seq.remove());
    expect(hook.calls).toEqual([]);
    expect(await n.files()).toEqual(n.originalFiles);
    expect(t.violations).toEqual([]);
  });

  it('reports the policy incompatible (Nack stage attach) and changes nothing otherwise', async () => {
    const n = await node();
    const { seq, hook } = await n.open({ hook: { hookPresent: false } });
    for (const target of [A, makeTarget('p', 1, { ...NODE_A, withoutHook: 'deny' }), makeTarget('p', 1)]) {
      const out = await seq.apply(target);
      expectErr(out);
      expect(out.recovery).toBe('unchanged');
      expect(out.error.code).toBe('incompatible');
      expect(out.error.message).toMatch(/needs the bpf_thp_ops hook, which this kernel does not have; set spec\.node\.withoutHook: node-level/);
      expect(toNackErrorFields(out.error)).toMatchObject({ stage: NackStage.ATTACH, message: out.error.message });
      expect(out.status.enforcement).toBe('none');
    }
    expect(hook.calls).toEqual([]);
    expect(await n.files()).toEqual(n.originalFiles);
    expect(await readdir(n.dir)).not.toContain('state');
  });
});

describe('bad input and failures', () => {
  it('rejects a node section that does not fit this node, listing every problem with its path, changing nothing', async () => {
    const n = await node({ options: { defrag: ['always', 'defer', 'madvise', 'never'] } });
    const { seq, hook } = await n.open();
    const bad = {
      enabled: 'sometimes',
      defrag: 'defer+madvise',
      hugepages: { '8kB': 'always', '64kB': 'madvise', '2M': 'always', '4096kB': 'never' },
      khugepaged: { maxPtesNone: 512, pagesToScan: 0, scanSleep: 5 },
      withoutHook: 'maybe',
      colour: 'blue',
    } as unknown as NodeSettings;
    const out = await seq.apply(makeTarget('bad', 3, bad));
    expectErr(out);
    expect(out.recovery).toBe('unchanged');
    expect(out.error).toMatchObject({ code: 'invalid-settings', stage: 'validate' });
    expect(out.error.message).toBe('policy "bad" v3: the node section does not fit this node (10 problems)');
    expect(out.error.detail.split('\n').sort()).toEqual(
      [
        'spec.node.colour: unknown field',
        'spec.node.enabled: "sometimes" is not one of always, madvise, never',
        "spec.node.defrag: this node's defrag does not offer \"defer+madvise\" (it lists: always defer madvise never)",
        'spec.node.hugepages["8kB"]: this node has no hugepages-8kB/enabled',
        'spec.node.hugepages["2M"]: "2M" is not a size in the kernel\'s spelling, e.g. "2048kB"',
        'spec.node.hugepages["4096kB"]: this node has no hugepages-4096kB/enabled',
        'spec.node.khugepaged.maxPtesNone: 512 is not an integer in 0..511 (HPAGE_PMD_NR - 1 = 511 on this node)',
        'spec.node.khugepaged.pagesToScan: 0 is not an integer in 1..4294967295 (the kernel rejects 0)',
        'spec.node.khugepaged.scanSleep: unknown field',
        'spec.node.withoutHook: "maybe" is not one of deny, node-level',
      ].sort(),
    );
    expect(toNackErrorFields(out.error).stage).toBe(NackStage.VALIDATE);
    expect(hook.calls).toEqual([]);
    expect(await n.files()).toEqual(n.originalFiles);
  });

  it('rolls a failed first apply back to the node\'s own values (verify failed: Nack stage verify)', async () => {
    const n = await node();
    const t = tracer(n);
    const { seq } = await n.open({ onPoint: t.onPoint, hook: { failOn: (op) => (op === 'verifyPolicy' ? 'map content hash differs' : undefined) } });
    const out = await seq.apply(A);
    expectErr(out);
    expect(out.recovery).toBe('rolled-back-to-baseline');
    expect(out.error).toMatchObject({ code: 'enforcement-failed', stage: 'verify' });
    expect(out.error.message).toBe('policy "zgc-thp" v1: verifyPolicy failed: map content hash differs');
    expect(out.status.enforcement).toBe('none');
    expect(t.violations).toEqual([]);
    expect(await n.files()).toEqual(n.originalFiles);
    expect(n.hookState().attached).toBe(false);
    expect(await readdir(n.stateDir)).toEqual([]);
  });

  it('takes the Nack stage from a port error that names one (compile)', async () => {
    const n = await node();
    const compileError = Object.assign(new Error('spec does not compile: rule 3 matches no cgroup syntax'), { stage: 'compile' });
    const { seq } = await n.open({ hook: { failOn: (op) => (op === 'applyPolicy' ? compileError : undefined) } });
    const out = await seq.apply(A);
    expectErr(out);
    expect(out.error.stage).toBe('compile');
    expect(toNackErrorFields(out.error).stage).toBe(NackStage.COMPILE);
    expect(out.recovery).toBe('rolled-back-to-baseline');
    expect(await n.files()).toEqual(n.originalFiles);
  });

  it('puts the previous policy back when a switch fails', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const t = tracer(n);
    const { seq, hook } = await n.open({
      onPoint: t.onPoint,
      hook: { failOn: (op, p) => (op === 'applyPolicy' && p?.version === 2 ? 'verifier rejected the program: R1 invalid mem access' : undefined) },
    });
    const out = await seq.apply(B);
    expectErr(out);
    expect(out.recovery).toBe('reverted-to-previous');
    expect(out.error).toMatchObject({ code: 'enforcement-failed', stage: 'attach' });
    expect(out.error.detail).toMatch(/^step policy-loaded: Error: verifier rejected the program/);
    expect(out.status.applied?.target.version).toBe(1);
    expect(hook.calls.map((c) => `${c.op} ${c.policy}`)).toEqual(['applyPolicy zgc-thp@2', 'applyPolicy zgc-thp@1', 'verifyPolicy zgc-thp@1']);
    expect(await n.values()).toEqual(expectedValues(n.original, NODE_A));
    expect(n.hookState()).toMatchObject({ attached: true, verified: true, tables: { version: 1 } });
    expect(t.violations).toEqual([]);
  });

  it('rolls back to the node\'s own values when putting the previous policy back fails too', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const { seq } = await n.open({
      hook: { failOn: (op, p) => (op === 'verifyPolicy' ? `tables of v${p?.version} do not read back` : undefined) },
    });
    const out = await seq.apply(B);
    expectErr(out);
    expect(out.recovery).toBe('rolled-back-to-baseline');
    expect(out.error.message).toBe('policy "zgc-thp" v2: verifyPolicy failed: tables of v2 do not read back');
    expect(out.error.detail).toMatch(/putting back policy "zgc-thp" v1 failed too: policy "zgc-thp" v1: verifyPolicy failed: tables of v1 do not read back/);
    expect(await n.files()).toEqual(n.originalFiles);
    expect(n.hookState().attached).toBe(false);
  });

  it('reports a removal whose detach fails as incomplete and finishes it on resume', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const first = await n.open({ hook: { failOn: (op) => (op === 'detachAndUnpin' ? 'EBUSY' : undefined) } });
    const out = await first.seq.remove();
    expectErr(out);
    expect(out.recovery).toBe('incomplete');
    expect(out.error).toMatchObject({ code: 'enforcement-failed', stage: 'attach', message: 'node-mode removal: detachAndUnpin failed: EBUSY' });
    expect(out.status.pending).toEqual({ kind: 'remove', done: 'sysfs-restored' });
    // sysfs is already back; the program still enforces.
    expect(await n.files()).toEqual(n.originalFiles);
    expect(n.hookState().attached).toBe(true);
    const later = await n.open();
    const resumed = await later.seq.resume();
    expectOk(resumed);
    expect(resumed.changed).toBe(true);
    expect(n.hookState().attached).toBe(false);
    expect(await readdir(n.stateDir)).toEqual([]);
  });
});

describe('journal', () => {
  it('is one JSON file written by rename, with the recorded baseline and step', async () => {
    const n = await node();
    let seen: Journal | undefined;
    const { seq } = await n.open({
      onPoint: async (p) => {
        if (p.kind === 'journal' && p.step === 'deny-all-verified') {
          seen = JSON.parse(await readFile(join(n.stateDir, JOURNAL_FILE), 'utf8')) as Journal;
          expect(await readdir(n.stateDir)).toEqual([JOURNAL_FILE]);
        }
      },
    });
    expectOk(await seq.apply(A));
    expect(seen).toMatchObject({
      format: JOURNAL_FORMAT,
      bootId: TEST_BOOT_ID,
      sysfsRoot: n.root,
      baseline: n.original,
      applied: null,
      operation: { kind: 'apply', path: 'fresh', done: 'deny-all-verified', target: { policy: 'zgc-thp', version: 1, specHash: A.specHash, node: NODE_A } },
    });
    expect(seen?.seq).toBe(4);
    expect(await readdir(n.stateDir)).toEqual([JOURNAL_FILE]);
  });

  it('refuses a damaged journal, naming the file and the field', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const file = join(n.stateDir, JOURNAL_FILE);
    const j = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...j, operation: { kind: 'apply', path: 'switch', done: 'deny-all-loaded' } }));
    await expect(n.open()).rejects.toThrow(JournalError);
    await expect(n.open()).rejects.toThrow(`node-mode journal ${file}: operation.done: expected one of begun, thp-off, policy-loaded, policy-verified, node-written, got "deny-all-loaded"`);
    await writeFile(file, '{"format":');
    await expect(n.open()).rejects.toThrow(/: \(file\): not JSON/);
  });

  it('refuses a journal that manages another THP tree', async () => {
    const n = await node();
    expectOk(await (await n.open()).seq.apply(A));
    const other = await node();
    const { NodeModeSequencer } = await import('./sequencer.js');
    const { ModelHook } = await import('./node-mode.test-util.js');
    await expect(
      NodeModeSequencer.open({ stateDir: n.stateDir, sysfs: await ThpSysfsTree.open({ root: other.root }), port: new ModelHook(n.hookFile) }),
    ).rejects.toThrow(/manages the THP tree at .*, but the agent is configured for /);
  });

  it('forgets a journal from an earlier boot (sysfs and pins did not survive it)', async () => {
    const n = await node();
    expectOk(await (await n.open({ bootId: 'boot-1' })).seq.apply(A));
    const { seq, hook } = await n.open({ bootId: 'boot-2' });
    expect(seq.status().enforcement).toBe('full');
    const out = await seq.resume();
    expectOk(out);
    expect(out.rebooted).toBe(true);
    expect(out.status.enforcement).toBe('none');
    expect(hook.calls).toEqual([{ op: 'detachAndUnpin' }]);
    expect(await readdir(n.stateDir)).toEqual([]);
  });

  it('after a reboot, apply starts afresh from the boot values (the old journal is dropped first)', async () => {
    const n = await node();
    expectOk(await (await n.open({ bootId: 'boot-1' })).seq.apply(A));
    // The reboot: sysfs back at its boot values, bpffs pins gone.
    await createImitationThpTree(n.root);
    await rm(n.hookFile);
    const { seq, hook } = await n.open({ bootId: 'boot-2' });
    const out = await seq.apply(B);
    expectOk(out);
    expect(out.rebooted).toBe(true);
    expect(hook.calls.map((c) => c.op)).toEqual(['detachAndUnpin', 'loadDenyAll', 'verifyDenyAll', 'applyPolicy', 'verifyPolicy']);
    expect(await n.values()).toEqual(expectedValues(n.original, NODE_B));
    expect(out.status.baseline).toEqual(n.original);
  });
});
