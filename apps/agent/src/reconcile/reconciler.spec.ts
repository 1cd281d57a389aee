/**
 * The executor over a real simulated node (libs/mm-sim through the sim backend): applies,
 * live updates, every Nack stage the sim can produce with the previous policy still deciding,
 * single-flight, revoke, and the simulated node's THP following the policy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { standardWorkloadMix } from '@thp-fleet/mm-sim';
import { DECISION_DENY, TvaType, VmaAdvice } from '@thp-fleet/policy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SimBackend } from '../backends/sim.backend.js';
import { memoryLogger } from '../log/logger.js';
import { StateStore } from '../state/state.store.js';
import { Reconciler, type Outcome } from './reconciler.js';
import { allowPolicy, desiredFromYaml, withSpec } from './reconcile.test-util.js';

const GIB = 2 ** 30;

function simBackend(seed = 1): SimBackend {
  return new SimBackend({
    nodeId: 'sim-test',
    abi: 'v12',
    memoryBytes: 2 * GIB,
    workloads: standardWorkloadMix(2 * GIB),
    sysfs: { enabled: 'always', shmem_enabled: 'advise', defrag: 'madvise' },
    seed,
    tickMs: 1000,
  });
}

describe('Reconciler over a simulated node', () => {
  let stateDir: string;
  let backend: SimBackend;
  let reconciler: Reconciler;
  let outcomes: Outcome[];

  beforeEach(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'thp-reconcile-'));
    backend = simBackend();
    outcomes = [];
    reconciler = new Reconciler({ backend, store: new StateStore(stateDir), log: memoryLogger(), onOutcome: (o) => outcomes.push(o) });
    expect(await reconciler.start()).toBe('nothing');
  });
  afterEach(() => {
    reconciler.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const zgcChain = () => backend.node.cgroupChain('zgc-jvm');
  const kvChain = () => backend.node.cgroupChain('kv-store');
  const pmd = (chain: number[]) => ({ cgroupChain: chain, tva: TvaType.Pagefault, advice: VmaAdvice.Hugepage, requestedOrders: (1 << 9) | (1 << 4), pressure: 0 });
  const apply = async (d: Parameters<Reconciler['submit']>[0]): Promise<Outcome> => {
    reconciler.submit(d);
    await reconciler.idle();
    return outcomes.at(-1)!;
  };

  it('applies a policy: load, verify against the reference evaluator, attach, persist, Ack', async () => {
    const outcome = await apply(desiredFromYaml(allowPolicy('zgc-only', '/workloads.slice/zgc-*'), 1, 'n-1'));
    expect(outcome).toMatchObject({ kind: 'applied', actions: ['validate', 'compile', 'load', 'verify', 'attach', 'persist', 'ack'] });
    expect(outcome.record).toMatchObject({ policy: 'zgc-only', version: 1, source: 'controller', backend: 'sim' });
    expect(backend.observe()).toMatchObject({ loaded: true, attached: true });
    expect(reconciler.enforcement()).toBe('full');
    expect(await backend.decide(pmd(zgcChain()))).toBe(9);
    expect(await backend.decide(pmd(kvChain()))).toBe(DECISION_DENY);
    expect(new StateStore(stateDir).load()).toMatchObject({ policy: 'zgc-only', version: 1 });
  });

  it('a new version is a live update of the tables the attached hook reads', async () => {
    await apply(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1'));
    const outcome = await apply(desiredFromYaml(allowPolicy('p', '/workloads.slice/kv-*'), 2, 'n-2'));
    expect(outcome).toMatchObject({ kind: 'applied', actions: ['validate', 'compile', 'update', 'verify', 'persist', 'ack'] });
    expect(await backend.decide(pmd(zgcChain()))).toBe(DECISION_DENY);
    expect(await backend.decide(pmd(kvChain()))).toBe(9);
  });

  it('Nack at validate (every issue with its path) and the previous policy keeps deciding', async () => {
    const good = desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1');
    await apply(good);
    const tablesBefore = reconciler.tables();
    const badSpec = good.spec.replace('"orders":[4,9]', '"orders":[4,12]').replace('"cgroups":["/workloads.slice/zgc-*"]', '"cgroups":["workloads"]');
    expect(badSpec).not.toBe(good.spec);
    const outcome = await apply(withSpec({ ...good, version: 2, nonce: 'n-2' }, badSpec));
    expect(outcome).toMatchObject({ kind: 'rejected', stage: 'validate' });
    if (outcome.kind !== 'rejected') return;
    expect(outcome.detail).toMatch(/spec\.rules\[0\]\.allow\.orders\[1\]/);
    expect(outcome.detail).toMatch(/spec\.rules\[0\]\.match\.cgroups\[0\]/);
    expect(outcome.record).toMatchObject({ version: 1 });
    expect(reconciler.tables()).toBe(tablesBefore);
    expect(await backend.decide(pmd(zgcChain()))).toBe(9);
  });

  it('Nack when the spec does not hash to the assignment spec_hash', async () => {
    const d = desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1');
    const outcome = await apply({ ...d, specHash: 'f'.repeat(64) });
    expect(outcome).toMatchObject({ kind: 'rejected', stage: 'validate', message: expect.stringMatching(/spec hash mismatch/) as unknown });
    expect(backend.observe().loaded).toBe(false);
  });

  it('a policy with node THP settings is refused without node mode, and nothing changes', async () => {
    await apply(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1'));
    const yaml = `${allowPolicy('p', '/workloads.slice/kv-*')}  node: { enabled: always, defrag: defer }\n`;
    const outcome = await apply(desiredFromYaml(yaml, 2, 'n-2'));
    expect(outcome).toMatchObject({ kind: 'rejected', stage: 'attach' });
    if (outcome.kind === 'rejected') expect(outcome.message).toMatch(/node THP settings.*enabled, defrag|defrag, enabled/);
    expect(await backend.decide(pmd(zgcChain()))).toBe(9);
    expect(await backend.decide(pmd(kvChain()))).toBe(DECISION_DENY);
    expect(reconciler.applied()?.version).toBe(1);
  });

  it('single-flight: while one applies, only the latest waiting desired state is applied', async () => {
    reconciler.submit(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1'));
    reconciler.submit(desiredFromYaml(allowPolicy('p', '/workloads.slice/kv-*'), 2, 'n-2'));
    reconciler.submit(desiredFromYaml(allowPolicy('p', '/workloads.slice/tlb-*'), 3, 'n-3'));
    await reconciler.idle();
    expect(outcomes.map((o) => (o.desired.kind === 'policy' ? o.desired.nonce : ''))).toEqual(['n-1', 'n-3']);
    expect(reconciler.applied()?.version).toBe(3);
  });

  it('the same assignment again only acks; a new version of the same spec is recorded without a map write', async () => {
    const d = desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1');
    await apply(d);
    const tables = reconciler.tables();
    expect((await apply({ ...d, nonce: 'n-1b' })).actions).toEqual(['ack']);
    expect((await apply({ ...d, version: 2, nonce: 'n-2' })).actions).toEqual(['validate', 'persist', 'ack']);
    expect(reconciler.tables()).toBe(tables);
    expect(reconciler.applied()?.version).toBe(2);
  });

  it('revoke detaches and forgets; the node is back to its own sysfs behaviour', async () => {
    await apply(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 1, 'n-1'));
    const outcome = await apply({ kind: 'none', nonce: 'r-1', policy: 'p' });
    expect(outcome).toMatchObject({ kind: 'applied', actions: ['detach', 'unload', 'forget', 'ack'], record: undefined });
    expect(backend.observe()).toMatchObject({ loaded: false, attached: false, mapContentHash: '' });
    expect(backend.node.metrics().hook.attached).toBe(false);
    expect(new StateStore(stateDir).load()).toBeUndefined();
  });

  it('a restarted agent re-applies the recorded policy to its new simulated node, without a push', async () => {
    await apply(desiredFromYaml(allowPolicy('p', '/workloads.slice/zgc-*'), 4, 'n-4'));
    reconciler.close();
    backend = simBackend();
    reconciler = new Reconciler({ backend, store: new StateStore(stateDir), log: memoryLogger(), onOutcome: (o) => outcomes.push(o) });
    expect(await reconciler.start()).toBe('reapplied');
    expect(reconciler.applied()).toMatchObject({ policy: 'p', version: 4 });
    expect(backend.observe()).toMatchObject({ loaded: true, attached: true });
    expect(await backend.decide(pmd(zgcChain()))).toBe(9);
  });
});

describe('simulated THP follows the policy', () => {
  it('THP allowed for the ZGC cgroup gives it anon_thp > 0 and better throughput; denied gives it none', async () => {
    const run = async (glob: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'thp-follow-'));
      const backend = simBackend(7);
      const reconciler = new Reconciler({ backend, store: new StateStore(dir), log: memoryLogger() });
      await reconciler.start();
      reconciler.submit(desiredFromYaml(allowPolicy('follow', glob), 1, 'n'));
      await reconciler.idle();
      backend.advance(10 * 60_000);
      const sample = backend.sample();
      reconciler.close();
      rmSync(dir, { recursive: true, force: true });
      const zgc = sample.cgroups.find((c) => c.path.endsWith('/zgc-jvm'))!;
      const get = (name: string) => zgc.metrics.find((m) => m.name === name)?.value;
      const others = sample.cgroups.filter((c) => c !== zgc).map((c) => c.metrics.find((m) => m.name === 'anon_thp')?.value);
      return { anonThp: get('anon_thp'), shmemThp: get('shmem_thp'), throughput: get('workload_throughput'), others };
    };
    const allowed = await run('/workloads.slice/zgc-*');
    const denied = await run('/nothing-matches');
    expect(allowed.anonThp).toBeGreaterThan(0);
    expect(allowed.shmemThp).toBeGreaterThan(0);
    expect(denied.anonThp).toBe(0);
    expect(denied.shmemThp).toBe(0);
    expect(allowed.throughput).toBeGreaterThan(denied.throughput!);
    // Nobody else gets THP under either policy (default deny).
    expect(allowed.others.every((v) => v === 0)).toBe(true);
  });
});
