/**
 * The executor with node mode wired (as every agent runs it) over a real simulated node: the
 * node-mode sequencer drives the simulator's THP sysfs (backends/sim-sysfs.ts) and the
 * executor's own table steps (its enforcement port) in the recipe's order, a revoke restores
 * every control exactly, and the start-up rules around the journal hold.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { standardWorkloadMix, type SysfsPatch, type ThpSysfs } from '@thp-fleet/mm-sim';
import { DECISION_DENY, TvaType, VmaAdvice } from '@thp-fleet/policy';
import { afterEach, describe, expect, it } from 'vitest';
import { SimBackend } from '../backends/sim.backend.js';
import { memoryLogger } from '../log/logger.js';
import { readJournal } from '../node-mode/journal.js';
import { SimInvariant } from '../backends/sim-invariant.test-util.js';
import { StateStore } from '../state/state.store.js';
import { sequencerNodeMode } from './node-mode.adapter.js';
import { allowPolicy, desiredFromYaml } from './reconcile.test-util.js';
import { Reconciler, type Outcome } from './reconciler.js';
import type { Desired } from './plan.js';

const GIB = 2 ** 30;
/** What the simulated fleet boots with by default: THP off. */
const BOOT: SysfsPatch = { enabled: 'never' };
const NODE_SECTION = '  node: { enabled: always, defrag: defer, hugepages: { 64kB: madvise }, khugepaged: { maxPtesNone: 128 } }\n';
const withNode = (name: string, glob: string, node = NODE_SECTION) => `${allowPolicy(name, glob, '9')}${node}`;

function simBackend(): SimBackend {
  return new SimBackend({ nodeId: 'sim-nm', abi: 'v12', memoryBytes: 2 * GIB, workloads: standardWorkloadMix(2 * GIB), sysfs: BOOT, seed: 5, tickMs: 1000 });
}

interface Harness {
  readonly backend: SimBackend;
  readonly reconciler: Reconciler;
  readonly outcomes: Outcome[];
  readonly trace: string[];
  readonly violations: string[];
  readonly log: ReturnType<typeof memoryLogger>;
  apply(d: Desired): Promise<Outcome>;
}

describe('Reconciler with node mode over a simulated node', () => {
  const dirs: string[] = [];
  const reconcilers: Reconciler[] = [];
  afterEach(() => {
    for (const r of reconcilers.splice(0)) r.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  /**
   * A reconciler with node mode. At every sequence point the simulated node is checked: THP on
   * beyond what the node booted with only while the hook is attached and holds tables that
   * were verified (deny-all or the policy), never with unverified or no tables.
   */
  async function harness(o: { backend?: SimBackend; stateDir?: string; storeDir?: string } = {}): Promise<Harness> {
    const backend = o.backend ?? simBackend();
    const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), 'thp-nm-'));
    dirs.push(stateDir);
    const invariant = await SimInvariant.of(backend);
    const { trace, violations } = invariant;
    const outcomes: Outcome[] = [];
    const log = memoryLogger();
    const onPoint = (p: Parameters<SimInvariant['check']>[0]) => invariant.check(p);
    const reconciler = new Reconciler({
      backend,
      store: new StateStore(o.storeDir ?? stateDir),
      log,
      nodeMode: sequencerNodeMode({ stateDir, sysfs: backend.sysfs, bootId: () => backend.bootId(), log, onPoint }),
      onOutcome: (x) => outcomes.push(x),
    });
    reconcilers.push(reconciler);
    return {
      backend,
      reconciler,
      outcomes,
      trace,
      violations,
      log,
      async apply(d) {
        reconciler.submit(d);
        await reconciler.idle();
        return outcomes.at(-1)!;
      },
    };
  }

  const pmd = (b: SimBackend, workload: string) => ({ cgroupChain: b.node.cgroupChain(workload), tva: TvaType.Pagefault, advice: VmaAdvice.Hugepage, requestedOrders: 1 << 9, pressure: 0 });
  const sysfsOf = (b: SimBackend): ThpSysfs => structuredClone(b.node.sysfs());

  it('applies in the recipe order through the real table steps, and a revoke puts every control back exactly', async () => {
    const h = await harness();
    expect(await h.reconciler.start()).toBe('nothing');
    const before = sysfsOf(h.backend);
    const out = await h.apply(desiredFromYaml(withNode('nm', '/workloads.slice/zgc-*'), 1, 'n-1'));
    expect(out).toMatchObject({ kind: 'applied', actions: ['validate', 'compile', 'node-mode-apply', 'persist', 'ack'] });
    expect(h.trace).toEqual([
      'journal apply:begun',
      'journal apply:thp-off', // THP was already off: nothing to write
      'port loadDenyAll',
      'journal apply:deny-all-loaded',
      'port verifyDenyAll',
      'journal apply:deny-all-verified',
      'port applyPolicy',
      'journal apply:policy-loaded',
      'port verifyPolicy',
      'journal apply:policy-verified',
      'write khugepaged/max_ptes_none=128',
      'write defrag=defer',
      'write hugepages-64kB/enabled=madvise',
      'write enabled=always',
      'journal apply:node-written',
      'journal none:committed',
    ]);
    expect(h.violations).toEqual([]);
    const s = h.backend.node.sysfs();
    expect(s).toMatchObject({ enabled: 'always', defrag: 'defer', khugepaged: { max_ptes_none: 128 } });
    expect(s.hugepages['hugepages-64kB']?.enabled).toBe('madvise');
    expect(h.reconciler.enforcement()).toBe('full');
    expect(await h.backend.decide(pmd(h.backend, 'zgc-jvm'))).toBe(9);
    expect(await h.backend.decide(pmd(h.backend, 'kv-store'))).toBe(DECISION_DENY);
    expect(h.backend.observe()).toMatchObject({ loaded: true, attached: true });

    h.trace.length = 0;
    const revoked = await h.apply({ kind: 'none', nonce: 'r-1', policy: 'nm' });
    expect(revoked).toMatchObject({ kind: 'applied', actions: ['node-mode-remove', 'forget', 'ack'], record: undefined });
    // sysfs back first (enabled first, as the switch-off), then detach and unpin, then the journal goes.
    expect(h.trace).toEqual([
      'journal remove:begun',
      'write khugepaged/max_ptes_none=511',
      'write defrag=madvise',
      'write hugepages-64kB/enabled=never',
      'write enabled=never',
      'journal remove:sysfs-restored',
      'port detachAndUnpin',
      'journal remove:detached',
      'journal none:cleared',
    ]);
    expect(h.violations).toEqual([]);
    expect(h.backend.node.sysfs()).toEqual(before);
    expect(h.backend.observe()).toMatchObject({ loaded: false, attached: false, mapContentHash: '' });
    expect(h.backend.node.metrics().hook.attached).toBe(false);
    expect(h.reconciler.enforcement()).toBe('none');
    expect(await readJournal(dirs[0]!)).toBeNull();
  });

  it('a policy without a node section keeps the node at its own values; switching to one with a section goes through THP off', async () => {
    const h = await harness({ backend: new SimBackend({ nodeId: 'sim-on', abi: 'v8', memoryBytes: 2 * GIB, workloads: standardWorkloadMix(2 * GIB), sysfs: { enabled: 'always' }, seed: 5, tickMs: 1000 }) });
    await h.reconciler.start();
    const before = sysfsOf(h.backend);
    await h.apply(desiredFromYaml(allowPolicy('plain', '/workloads.slice/zgc-*', '9'), 1, 'n-1'));
    expect(h.backend.node.sysfs()).toEqual(before);
    // This node booted with THP on: the fresh apply switches it off until the program is verified.
    expect(h.trace.slice(0, 3)).toEqual(['journal apply:begun', 'write enabled=never', 'journal apply:thp-off']);
    h.trace.length = 0;
    const out = await h.apply(desiredFromYaml(withNode('plain', '/workloads.slice/kv-*', '  node: { enabled: madvise, shmemEnabled: advise }\n'), 2, 'n-2'));
    expect(out).toMatchObject({ kind: 'applied', actions: ['validate', 'compile', 'node-mode-apply', 'persist', 'ack'] });
    expect(h.trace).toEqual([
      'journal apply:begun',
      'write enabled=never',
      'journal apply:thp-off',
      'port applyPolicy',
      'journal apply:policy-loaded',
      'port verifyPolicy',
      'journal apply:policy-verified',
      'write shmem_enabled=advise',
      'write enabled=madvise',
      'journal apply:node-written',
      'journal none:committed',
    ]);
    expect(h.violations).toEqual([]);
    expect(await h.backend.decide(pmd(h.backend, 'kv-store'))).toBe(9);
    await h.apply({ kind: 'none', nonce: 'r', policy: '' });
    expect(h.backend.node.sysfs()).toEqual(before);
  });

  it('a new version of the same spec is relabelled: no sysfs write, no table write', async () => {
    const h = await harness();
    await h.reconciler.start();
    const v1 = desiredFromYaml(withNode('same', '/workloads.slice/zgc-*'), 1, 'n-1');
    await h.apply(v1);
    const tables = h.reconciler.tables();
    h.trace.length = 0;
    const out = await h.apply({ ...v1, version: 2, nonce: 'n-2' });
    expect(out).toMatchObject({ kind: 'applied', actions: ['validate', 'node-mode-apply', 'persist', 'ack'] });
    expect(h.trace).toEqual(['journal none:committed']);
    expect(h.reconciler.tables()).toBe(tables);
    expect((await readJournal(dirs[0]!))?.applied?.target.version).toBe(2);
    expect((await h.apply({ ...v1, version: 2, nonce: 'n-3' })).actions).toEqual(['ack']);
  });

  it('a program removed behind the agent is noticed: sysfs back to the node values first, then applied afresh', async () => {
    const h = await harness();
    await h.reconciler.start();
    const d = desiredFromYaml(withNode('vanish', '/workloads.slice/zgc-*'), 1, 'n-1');
    await h.apply(d);
    await h.backend.unload(); // pins gone: THP is on and nothing enforces
    expect(h.reconciler.enforcement()).toBe('none');
    h.trace.length = 0;
    const out = await h.apply({ ...d, nonce: 'n-1b' });
    expect(out).toMatchObject({ kind: 'applied', actions: ['validate', 'compile', 'node-mode-remove', 'node-mode-apply', 'persist', 'ack'] });
    const firstPort = h.trace.findIndex((t) => t.startsWith('port '));
    expect(h.trace.slice(0, firstPort)).toContain('write enabled=never');
    expect(h.trace.indexOf('journal remove:sysfs-restored')).toBeLessThan(firstPort);
    expect(h.reconciler.enforcement()).toBe('full');
    expect(await h.backend.decide(pmd(h.backend, 'zgc-jvm'))).toBe(9);
    expect(h.backend.node.sysfs().enabled).toBe('always');
  });

  it('a restarted agent has a new simulated node (another boot): the old journal is dropped and the recorded policy applied again', async () => {
    const first = await harness();
    await first.reconciler.start();
    await first.apply(desiredFromYaml(withNode('again', '/workloads.slice/zgc-*'), 3, 'n-3'));
    first.reconciler.close();
    const second = await harness({ stateDir: dirs[0]! });
    expect(await second.reconciler.start()).toBe('reapplied');
    expect(second.log.lines.some((l) => l.includes('journal was from an earlier boot'))).toBe(true);
    expect(second.trace[0]).toBe('journal none:discarded-after-reboot');
    expect(second.reconciler.applied()).toMatchObject({ policy: 'again', version: 3 });
    expect(second.reconciler.enforcement()).toBe('full');
    expect(second.backend.node.sysfs()).toMatchObject({ enabled: 'always', defrag: 'defer' });
    expect(second.violations).toEqual([]);
  });

  it('a journal ahead of the state record (died before recording) is recorded as what the node runs, not undone', async () => {
    const backend = simBackend();
    const first = await harness({ backend });
    await first.reconciler.start();
    const v1 = desiredFromYaml(withNode('older', '/workloads.slice/kv-*'), 1, 'n-1');
    await first.apply(v1);
    const v2 = desiredFromYaml(withNode('unrecorded', '/workloads.slice/zgc-*'), 4, 'n-2');
    await first.apply(v2);
    // Put the record back to v1 as if the agent had died between v2's sequence and its record.
    new StateStore(dirs[0]!).save({ policy: 'older', version: 1, specHash: v1.specHash, spec: v1.spec, source: 'controller', appliedAt: new Date().toISOString(), backend: 'sim' });
    first.reconciler.close();
    const second = await harness({ backend, stateDir: dirs[0]! });
    await second.reconciler.start();
    expect(second.log.lines.some((l) => l.includes('the agent stopped before recording it); recording it') && l.includes('journal="unrecorded v4"') && l.includes('record="older v1"'))).toBe(true);
    expect(second.reconciler.applied()).toMatchObject({ policy: 'unrecorded', version: 4, specHash: v2.specHash, source: 'controller' });
    expect(new StateStore(dirs[0]!).load()).toMatchObject({ policy: 'unrecorded', version: 4 });
    // v1 was not put back in between: no switch to its tables happened.
    expect(second.trace.filter((t) => t === 'port applyPolicy').length).toBeLessThanOrEqual(1);
    expect(await backend.decide(pmd(backend, 'zgc-jvm'))).toBe(9);
    expect(await backend.decide(pmd(backend, 'kv-store'))).toBe(DECISION_DENY);
  });

  it('the same journal and record after a restart on the same node: re-adopted, nothing re-applied', async () => {
    const backend = simBackend();
    const first = await harness({ backend });
    await first.reconciler.start();
    await first.apply(desiredFromYaml(withNode('kept', '/workloads.slice/zgc-*'), 1, 'n-1'));
    first.reconciler.close();
    // Same simulated node (same boot): what the journal describes still exists, as with bpf pins.
    const second = await harness({ backend, stateDir: dirs[0]! });
    const adopted = second.reconciler;
    // The sim backend does not re-adopt tables (a real restart gets a new node), so the program
    // this process did not install is not trusted as intact: it is replaced through the sequence.
    expect(await adopted.start()).toBe('reapplied');
    expect(second.trace).toContain('journal remove:sysfs-restored');
    expect(second.violations).toEqual([]);
    expect(adopted.enforcement()).toBe('full');
  });

  it('a journal it cannot use (it manages another THP tree) stops node mode: every apply is refused, nothing touched, the record kept', async () => {
    const first = await harness();
    await first.reconciler.start();
    const v1 = desiredFromYaml(withNode('elsewhere', '/workloads.slice/zgc-*'), 1, 'n-1');
    await first.apply(v1);
    first.reconciler.close();
    const other = new SimBackend({ nodeId: 'sim-other', abi: 'v12', memoryBytes: 2 * GIB, workloads: standardWorkloadMix(2 * GIB), sysfs: BOOT, seed: 5, tickMs: 1000 });
    const before = sysfsOf(other);
    const second = await harness({ backend: other, stateDir: dirs[0]! });
    expect(await second.reconciler.start()).toBe('reapply-failed');
    expect(second.log.lines.some((l) => l.includes('node mode cannot start') && l.includes('manages the THP tree at sim://sim-nm/sys/kernel/mm/transparent_hugepage'))).toBe(true);
    const out = await second.apply({ ...v1, version: 2, nonce: 'n-2' });
    expect(out).toMatchObject({ kind: 'rejected', stage: 'other', message: expect.stringMatching(/^node mode cannot start: node-mode journal in .* manages the THP tree at sim:\/\/sim-nm/) as unknown });
    expect(other.node.sysfs()).toEqual(before);
    expect(other.observe().loaded).toBe(false);
    expect(new StateStore(dirs[0]!).load()).toMatchObject({ policy: 'elsewhere', version: 1 });
    expect(second.trace).toEqual([]);
  });

  it('when recording fails after the sequence, the node is put back through the sequencer, not around it', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'thp-nm-store-'));
    dirs.push(stateDir);
    // applied.json's temporary file cannot be created: persist fails after node-mode-apply succeeded.
    mkdirSync(join(stateDir, `applied.json.tmp-${process.pid}`));
    const h = await harness({ stateDir });
    await h.reconciler.start();
    const before = sysfsOf(h.backend);
    const out = await h.apply(desiredFromYaml(withNode('unrecordable', '/workloads.slice/zgc-*'), 1, 'n-1'));
    expect(out).toMatchObject({ kind: 'rejected', stage: 'other', actions: ['validate', 'compile', 'node-mode-apply', 'persist', 'ack'] });
    if (out.kind === 'rejected') expect(out.detail).not.toMatch(/rollback incomplete/);
    expect(h.trace.at(-1)).toBe('journal none:cleared');
    expect(h.backend.node.sysfs()).toEqual(before);
    expect(h.backend.observe()).toMatchObject({ loaded: false, attached: false });
    expect(h.violations).toEqual([]);
  });
});
