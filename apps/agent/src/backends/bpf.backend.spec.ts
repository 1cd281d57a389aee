/**
 * The bpf backend on this machine's real kernel, as root: the reconciler compiles a policy
 * against the real cgroup v2 tree, libs/bpf loads and pins the tables on a private bpffs, the
 * kernel's decision program answers as the policy says, cgroups created and removed under a
 * test cgroup show up in the pinned map, a restarted agent re-adopts the pins without
 * reloading, and the hook is reported absent (this kernel has no bpf_thp_ops).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectKernel, loadAddon, open as openPins } from '@thp-fleet/bpf';
import { DECISION_DENY, canonicalize, parsePolicy, policyHash, TvaType, VmaAdvice } from '@thp-fleet/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectCgroupRoot } from '../cgroups/cgroup.resolver.js';
import { memoryLogger } from '../log/logger.js';
import type { DesiredPolicy } from '../reconcile/plan.js';
import { Reconciler, type Outcome } from '../reconcile/reconciler.js';
import { tablesContentHash } from '../reconcile/tables-hash.js';
import { StateStore } from '../state/state.store.js';
import { BpfBackend, bpfUnavailableReason } from './bpf.backend.js';

const cgroupRoot = detectCgroupRoot();
const support = detectKernel();
const skipReason =
  process.getuid?.() !== 0 ? 'not root: loading BPF programs and creating cgroups need root' : !cgroupRoot.ok ? cgroupRoot.reason : bpfUnavailableReason(support);
if (skipReason) process.stderr.write(`[bpf backend] skipped: ${skipReason}\n`);

function desired(yaml: string, version: number, nonce: string): DesiredPolicy {
  const parsed = parsePolicy(yaml);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return { kind: 'policy', source: 'controller', policy: parsed.policy.metadata.name, version, specHash: policyHash(parsed.policy), spec: canonicalize(parsed.policy), nonce };
}

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(skipReason !== undefined)('bpf backend on the real kernel (root)', () => {
  const root = cgroupRoot.ok ? cgroupRoot.root : '';
  const testName = `thp-agent-bpf-${process.pid}`;
  const testDir = join(root, testName);
  let mount: string;
  let pinRoot: string;
  let stateDir: string;
  const outcomes: Outcome[] = [];
  let backend: BpfBackend;
  let reconciler: Reconciler;
  const log = memoryLogger();

  const policyYaml = (allow: string) => `
apiVersion: thp.fleet/v1
kind: ThpPolicy
metadata: { name: bpf-test }
spec:
  default: { action: deny }
  rules:
    - name: zgc
      match: { cgroups: ["/${testName}/zgc-*"] }
      allow: { orders: [${allow}] }
`;
  const makeBackend = () =>
    new BpfBackend({ pinRoot, cgroupRoot: root, cgroupRescanMs: 60_000, procRoot: '/proc', sysfsRoot: '/sys/kernel/mm/transparent_hugepage', sysfs: undefined, pressureIntervalMs: 1000, metricsCgroups: () => [], log, support });
  const makeReconciler = (b: BpfBackend) => new Reconciler({ backend: b, store: new StateStore(stateDir), log, onOutcome: (o) => outcomes.push(o) });
  const chainOf = (...dirs: string[]): number[] => dirs.map((d) => statSync(d).ino);
  const pmdFault = (chain: number[]) => ({ cgroupChain: chain, tva: TvaType.Pagefault, advice: VmaAdvice.None, requestedOrders: (1 << 9) | (1 << 4), pressure: 0 });

  beforeAll(() => {
    mount = mkdtempSync(join(tmpdir(), 'thp-agent-bpffs-'));
    const addon = loadAddon();
    if (!addon.available) throw new Error(addon.reason);
    addon.addon.mountBpffs(mount);
    pinRoot = join(mount, 'thp-fleet');
    stateDir = mkdtempSync(join(tmpdir(), 'thp-agent-state-'));
    mkdirSync(testDir);
    mkdirSync(join(testDir, 'zgc-a'));
    mkdirSync(join(testDir, 'redis'));
    backend = makeBackend();
    reconciler = makeReconciler(backend);
  });

  afterAll(async () => {
    reconciler?.close();
    await backend?.unload().catch(() => undefined);
    await backend?.close();
    for (const child of ['zgc-a', 'zgc-b', 'redis']) if (existsSync(join(testDir, child))) rmdirSync(join(testDir, child));
    if (existsSync(testDir)) rmdirSync(testDir);
    const addon = loadAddon();
    if (addon.available && mount) {
      rmSync(pinRoot, { recursive: true, force: true });
      addon.addon.unmount(mount);
      rmdirSync(mount);
    }
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it('reports the hook as absent: a capability, not an error', () => {
    expect(backend.hook).toBe('absent');
    expect(backend.hookDetail).toMatch(/bpf_thp_ops/);
  });

  it('loads and pins the compiled tables; the kernel decides as the policy says; Ack without attach', async () => {
    expect(await reconciler.start()).toBe('nothing');
    reconciler.submit(desired(policyYaml('9'), 1, 'n-1'));
    await reconciler.idle();
    const outcome = outcomes.at(-1)!;
    expect(outcome.kind).toBe('applied');
    expect(outcome.actions).toEqual(['validate', 'compile', 'load', 'verify', 'persist', 'ack']);
    expect(readdirSync(pinRoot)).toEqual(expect.arrayContaining(['thp_slots', 'thp_cgroups', 'thp_active', 'thp_decide_ctx']));
    expect(backend.observe()).toMatchObject({ loaded: true, attached: false });
    expect(backend.observe().programIds.length).toBeGreaterThan(0);
    expect(reconciler.enforcement()).toBe('none');
    const rootDir = root;
    expect(await backend.decide(pmdFault(chainOf(join(testDir, 'zgc-a'), testDir, rootDir)))).toBe(9);
    expect(await backend.decide(pmdFault(chainOf(join(testDir, 'redis'), testDir, rootDir)))).toBe(DECISION_DENY);
    await expect(backend.attach()).rejects.toThrow(/no bpf_thp_ops hook/);
  });

  it('keeps the pinned cgroup map current as cgroups are created and removed', async () => {
    const idA = statSync(join(testDir, 'zgc-a')).ino;
    mkdirSync(join(testDir, 'zgc-b'));
    const idB = statSync(join(testDir, 'zgc-b')).ino;
    // The kernel's own map, read back through a second handle on the pins.
    const pinned = () => {
      const p = openPins({ pinRoot });
      try {
        return p.tables();
      } finally {
        p.close();
      }
    };
    await waitFor('zgc-b in the pinned map', () => pinned().cgroupRules.has(idB));
    expect(await backend.decide(pmdFault(chainOf(join(testDir, 'zgc-b'), testDir, root)))).toBe(9);
    rmdirSync(join(testDir, 'zgc-a'));
    await waitFor('zgc-a gone from the pinned map', () => !pinned().cgroupRules.has(idA));
    expect(pinned().cgroupRules.has(idB)).toBe(true);
    expect(backend.observe().mapContentHash).toBe(tablesContentHash(reconciler.tables()!));
  });

  it('an invalid policy is refused at validate and the previous one keeps deciding', async () => {
    const good = desired(policyYaml('9'), 2, 'n-2');
    const spec = good.spec.replace('"orders":[9]', '"orders":[12]');
    expect(spec).not.toBe(good.spec);
    reconciler.submit({ ...good, spec, specHash: createHash('sha256').update(spec).digest('hex') });
    await reconciler.idle();
    const outcome = outcomes.at(-1)!;
    expect(outcome).toMatchObject({ kind: 'rejected', stage: 'validate' });
    if (outcome.kind === 'rejected') expect(outcome.detail).toMatch(/spec\.rules\[0\]\.allow\.orders\[0\]/);
    expect(reconciler.applied()?.version).toBe(1);
    expect(await backend.decide(pmdFault(chainOf(join(testDir, 'zgc-b'), testDir, root)))).toBe(9);
  });

  it('a new version is a live map update (no reload)', async () => {
    reconciler.submit(desired(policyYaml('4'), 3, 'n-3'));
    await reconciler.idle();
    expect(outcomes.at(-1)).toMatchObject({ kind: 'applied', actions: ['validate', 'compile', 'update', 'verify', 'persist', 'ack'] });
    expect(await backend.decide(pmdFault(chainOf(join(testDir, 'zgc-b'), testDir, root)))).toBe(4);
  });

  it('after an agent restart the pins are re-adopted without re-applying', async () => {
    const generation = reconciler.tables()!.generation;
    reconciler.close();
    await backend.close(); // pins stay
    backend = makeBackend();
    reconciler = makeReconciler(backend);
    expect(await reconciler.start()).toBe('adopted');
    expect(reconciler.applied()).toMatchObject({ policy: 'bpf-test', version: 3 });
    // Same tables in the kernel: the generation did not move (no load, no update).
    expect(reconciler.tables()!.generation).toBe(generation);
    expect(await backend.decide(pmdFault(chainOf(join(testDir, 'zgc-b'), testDir, root)))).toBe(4);
  });

  it('a revoke unpins everything', async () => {
    reconciler.submit({ kind: 'none', nonce: 'r-1', policy: 'bpf-test' });
    await reconciler.idle();
    expect(outcomes.at(-1)).toMatchObject({ kind: 'applied', actions: ['unload', 'forget', 'ack'] });
    expect(existsSync(pinRoot) ? readdirSync(pinRoot) : []).toEqual([]);
    expect(reconciler.applied()).toBeUndefined();
  });
});
