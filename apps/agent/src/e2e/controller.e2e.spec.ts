/**
 * Issue 6 and issue 9 "Must be shown", against the real controller (a separate process) and a
 * real Postgres (createTestDatabase: DATABASE_URL or 127.0.0.1:5432; PGlite only as the
 * labelled fallback). The simulated agents run in this process as `thp-agent --sim-nodes`
 * would run them (same config parser, same fleet start), so the test can look inside them;
 * the crash test runs the agent as its own process.
 *
 * Simulated nodes boot with THP `never` (the default `--sim-thp`): a policy's node section is
 * what switches THP on, through node mode, after its program is attached and verified.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectKernel, loadAddon } from '@thp-fleet/bpf';
import { DECISION_DENY, TvaType, VmaAdvice } from '@thp-fleet/policy';
import { createTestDatabase, type TestDatabase } from '@thp-fleet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ThpSysfs } from '@thp-fleet/mm-sim';
import { parseAgentConfig, type AgentConfig } from '../config/agent.config.js';
import { bpfUnavailableReason } from '../backends/bpf.backend.js';
import { SimInvariant } from '../backends/sim-invariant.test-util.js';
import { detectCgroupRoot } from '../cgroups/cgroup.resolver.js';
import { startSimFleet, type SimFleet } from '../fleet/sim.fleet.js';
import { startAgents } from '../run.js';
import { memoryLogger } from '../log/logger.js';
import { createImitationThpTree, readTreeFiles } from '../node-mode/imitation-tree.js';
import { readJournal } from '../node-mode/journal.js';
import { controlValues, ThpSysfsTree } from '../node-mode/sysfs.js';
import { allowPolicy } from '../reconcile/reconcile.test-util.js';
import { startAgentProcess, startCrashingAgentProcess } from './agent-process.test-util.js';
import { Rest, startControllerProcess, waitFor, type ControllerProcess } from './controller-process.test-util.js';

function agentConfig(grpcAddress: string, secret: string, stateDir: string, extra: string[]): AgentConfig {
  const parsed = parseAgentConfig(
    ['--controller', grpcAddress, '--time-scale', '60', '--state-dir', stateDir, '--backoff-initial', '200ms', '--backoff-max', '3s', '--backoff-jitter', '0.2', '--keepalive', '2s', '--keepalive-timeout', '1s', ...extra],
    { THP_AGENT_SECRET: secret },
    { hostname: () => 'e2e', readFile: () => Buffer.alloc(0) },
  );
  if (parsed.ok !== true) throw new Error(JSON.stringify(parsed));
  return parsed.config;
}

const pmd = (chain: number[]) => ({ cgroupChain: chain, tva: TvaType.Pagefault, advice: VmaAdvice.Hugepage, requestedOrders: (1 << 9) | (1 << 4), pressure: 0 });

/** THP on for the policy's cgroups: the node's THP mode (off at boot) switched on by the policy. */
const THP_ON = '  node: { enabled: always, shmemEnabled: advise }\n';
const withThpOn = (name: string, glob: string) => `${allowPolicy(name, glob, '9')}${THP_ON}`;
const example = (name: string) => readFileSync(new URL(`../../../../libs/policy/examples/${name}.yaml`, import.meta.url), 'utf8');

describe('agent against the real controller and Postgres', () => {
  let db: TestDatabase;
  let ctl: ControllerProcess;
  let rest: Rest;
  let stateDir: string;
  let fleet: SimFleet;
  let log: ReturnType<typeof memoryLogger>;
  let config: AgentConfig;

  beforeAll(async () => {
    db = await createTestDatabase('agent-e2e');
    ctl = await startControllerProcess({ db });
    rest = new Rest(ctl.httpUrl, ctl.adminToken);
    stateDir = mkdtempSync(join(tmpdir(), 'thp-agent-e2e-'));
    config = agentConfig(ctl.grpcAddress, ctl.agentSecret, stateDir, ['--sim-nodes', '2']);
    log = memoryLogger();
    fleet = await startSimFleet(config, undefined, log, false);
  });

  afterAll(async () => {
    await fleet?.close();
    await ctl?.stop('SIGTERM');
    await db?.drop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const agent = () => fleet.agents[0]!;
  const backend = () => fleet.backends[0]!;
  const chain = (workload: string) => backend().node.cgroupChain(workload);

  it('assign -> Ack -> metrics flow; the node section switches THP on; a new version -> Ack; revoke -> back to the boot values', async () => {
    await waitFor('both nodes registered and connected', async () => (await rest.node('sim-001')).connected && (await rest.node('sim-002')).connected);
    const registered = await rest.node('sim-001');
    expect(registered.capabilities.sysfs).toMatchObject({ enabled: 'never', shmemEnabled: 'never', defrag: 'madvise' });
    const boot = structuredClone(backend().node.sysfs());
    const v1 = await rest.createPolicy(withThpOn('e2e-zgc', '/workloads.slice/zgc-*'));
    await rest.assign('sim-001', v1.name, v1.version);
    const inSync = await waitFor('v1 acked', async () => {
      const n = await rest.node('sim-001');
      return n.acked?.version === 1 && n.state === 'in-sync' ? n : undefined;
    });
    expect(inSync.observed).toMatchObject({ policy: 'e2e-zgc', version: 1, enforcement: 'full' });
    expect(inSync.observed?.mapContentHash).toMatch(/^[0-9a-f]{64}$/);
    // Node mode switched the node's THP on (after the program was verified); the controller sees it.
    expect(backend().node.sysfs()).toMatchObject({ enabled: 'always', shmem_enabled: 'advise' });
    await waitFor('observed sysfs', async () => (await rest.node('sim-001')).observed?.sysfs?.enabled === 'always');
    expect(agent().reconciler.applied()).toMatchObject({ policy: 'e2e-zgc', version: 1 });

    // Metrics reach the controller: per-workload series on the cgroup and vmstat counters on the node.
    const throughput = await waitFor('zgc throughput samples', async () => {
      const s = await rest.metrics('sim-001', 'workload_throughput', '/workloads.slice/zgc-jvm');
      return s.length >= 2 ? s : undefined;
    });
    expect(throughput.at(-1)!.value).toBeGreaterThan(0);
    expect(throughput.at(-1)!.kind).toBe('gauge');
    const faults = await rest.metrics('sim-001', 'thp_fault_alloc', '');
    expect(faults.length).toBeGreaterThan(0);
    expect(faults[0]!.kind).toBe('counter');

    const v2 = await rest.addVersion('e2e-zgc', withThpOn('e2e-zgc', '/workloads.slice/{zgc,tlb}-*'), 1);
    await rest.assign('sim-001', 'e2e-zgc', v2);
    await waitFor('v2 acked', async () => (await rest.node('sim-001')).acked?.version === 2);
    expect(agent().reconciler.applied()).toMatchObject({ version: 2 });
    expect(await backend().decide(pmd(chain('tlb-analytics')))).toBe(9);

    expect(await backend().decide(pmd(chain('kv-store')))).toBe(DECISION_DENY);

    // The second node: a policy with a node section, then a revoke: its THP tree is exactly as it booted.
    const other = fleet.backends[1]!;
    const otherBoot = structuredClone(other.node.sysfs());
    const tuned = await rest.createPolicy(`${allowPolicy('kv-tuned', '/workloads.slice/kv-*', '9')}  node: { enabled: madvise, defrag: defer, hugepages: { 64kB: madvise }, khugepaged: { maxPtesNone: 32 } }\n`);
    await rest.assign('sim-002', tuned.name, tuned.version);
    await waitFor('kv-tuned acked', async () => (await rest.node('sim-002')).acked?.policy === 'kv-tuned');
    expect(other.node.sysfs()).toMatchObject({ enabled: 'madvise', defrag: 'defer', khugepaged: { max_ptes_none: 32 } });
    await rest.unassign('sim-002');
    await waitFor('sim-002 unassigned', async () => {
      const n = await rest.node('sim-002');
      return n.state === 'unassigned' && fleet.agents[1]!.reconciler.applied() === undefined;
    });
    expect(other.node.sysfs()).toEqual(otherBoot);
    expect(other.observe()).toMatchObject({ loaded: false, attached: false });
    expect(boot.enabled).toBe('never');
  }, 120_000);

  it('kill the controller: the agent keeps enforcing and reconnects with backoff when it returns', async () => {
    const assignmentsBefore = log.lines.filter((l) => l.includes(' assignment ') && l.includes('node=sim-001')).length;
    await ctl.stop('SIGKILL');
    await waitFor('agent notices', () => !agent().isConnected(), 15_000);
    await new Promise((r) => setTimeout(r, 4_000));
    // Still enforcing, and the simulated node keeps running under the policy.
    expect(agent().reconciler.applied()).toMatchObject({ policy: 'e2e-zgc', version: 2 });
    expect(backend().observe()).toMatchObject({ loaded: true, attached: true });
    expect(agent().reconciler.enforcement()).toBe('full');
    const zgc = backend().sample().cgroups.find((c) => c.path === '/workloads.slice/zgc-jvm')!;
    expect(zgc.metrics.find((m) => m.name === 'shmem_thp')!.value).toBeGreaterThan(0);
    // Reconnect attempts back off: 200 ms x 1.6^n (+-20 %), capped at 3 s.
    const delays = log.lines
      .filter((l) => l.includes('node=sim-001') && l.includes('reconnecting'))
      .map((l) => Number(/retryInMs=(\d+)/.exec(l)?.[1]))
      .filter((n) => Number.isFinite(n));
    expect(delays.length).toBeGreaterThanOrEqual(3);
    expect(delays[0]!).toBeLessThanOrEqual(240);
    expect(Math.max(...delays)).toBeGreaterThan(delays[0]! * 2);
    expect(Math.max(...delays)).toBeLessThanOrEqual(3_600);

    ctl = await startControllerProcess({ db, grpcPort: ctl.grpcPort, adminToken: ctl.adminToken, agentSecret: ctl.agentSecret });
    rest = new Rest(ctl.httpUrl, ctl.adminToken);
    await waitFor('agent reconnected', () => agent().isConnected(), 30_000);
    const node = await waitFor('in sync after reconnect', async () => {
      const n = await rest.node('sim-001');
      return n.connected && n.state === 'in-sync' ? n : undefined;
    });
    expect(node.acked).toMatchObject({ policy: 'e2e-zgc', version: 2 });
    // Hello said v2 is applied, which is what is desired: no new push.
    expect(log.lines.filter((l) => l.includes(' assignment ') && l.includes('node=sim-001')).length).toBe(assignmentsBefore);
  }, 120_000);

  it('restart the agent: it re-adopts what it applied without a new push', async () => {
    await fleet.close();
    log = memoryLogger();
    fleet = await startSimFleet(config, undefined, log, false);
    // Before any stream: restored from the state directory onto the new simulated node.
    expect(agent().reconciler.applied()).toMatchObject({ policy: 'e2e-zgc', version: 2, source: 'controller' });
    expect(backend().observe()).toMatchObject({ loaded: true, attached: true });
    expect(log.lines.some((l) => l.includes('node=sim-001') && l.includes('restored=reapplied'))).toBe(true);
    await waitFor('reconnected and in sync', async () => {
      const n = await rest.node('sim-001');
      return agent().isConnected() && n.connected && n.state === 'in-sync' && n.acked?.version === 2;
    });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(log.lines.filter((l) => l.includes(' assignment ') && l.includes('node=sim-001'))).toEqual([]);
    expect(await backend().decide(pmd(chain('zgc-jvm')))).toBe(9);
  }, 120_000);

  it('simulated metrics follow the policy: THP allowed for ZGC gives it anon_thp > 0 and more throughput, denied gives zero', async () => {
    // Two identical simulated nodes (same seed, same hardware and mix) that differ only in policy.
    const twinsDir = mkdtempSync(join(tmpdir(), 'thp-agent-twins-'));
    const startTwins = () =>
      Promise.all(
        ['twin-allow', 'twin-deny'].map((id) =>
          startSimFleet(agentConfig(ctl.grpcAddress, ctl.agentSecret, join(twinsDir, id), ['--backend', 'sim', '--node-id', id, '--sim-seed', '42']), undefined, memoryLogger(), false),
        ),
      );
    let twins = await startTwins();
    try {
      // The same node section (THP on), different rules: only the hook's decisions differ.
      const allow = await rest.createPolicy(withThpOn('twin-allow-zgc', '/workloads.slice/zgc-*'));
      const deny = await rest.createPolicy(withThpOn('twin-deny-all', '/nothing'));
      await waitFor('twins connected', async () => (await rest.node('twin-allow')).connected && (await rest.node('twin-deny')).connected);
      await rest.assign('twin-allow', allow.name, allow.version);
      await rest.assign('twin-deny', deny.name, deny.version);
      await waitFor('both acked', async () => (await rest.node('twin-allow')).acked?.version === 1 && (await rest.node('twin-deny')).acked?.version === 1);
      // THP the nodes got before their policy arrived stays mapped (the hook decides new faults
      // only), so restart both: each new simulated node runs its recorded policy from its first tick.
      for (const t of twins) await t.close();
      const restartAt = Date.now();
      twins = await startTwins();
      // Ten simulated minutes under the policy (10 s at --time-scale 60), then read what reached the controller.
      await new Promise((r) => setTimeout(r, 12_000));
      const latest = async (node: string, name: string) => {
        const s = await rest.metrics(node, name, '/workloads.slice/zgc-jvm');
        return s.filter((x) => Date.parse(x.ts) > restartAt + 1_000).map((x) => x.value);
      };
      const anonAllow = await latest('twin-allow', 'anon_thp');
      const anonDeny = await latest('twin-deny', 'anon_thp');
      expect(anonAllow.length).toBeGreaterThan(3);
      expect(anonDeny.length).toBeGreaterThan(3);
      expect(Math.max(...anonAllow)).toBeGreaterThan(0);
      expect(anonDeny.every((v) => v === 0)).toBe(true);
      const mean = (xs: number[]) => xs.slice(-3).reduce((a, b) => a + b, 0) / Math.min(3, xs.length);
      expect(mean(await latest('twin-allow', 'workload_throughput'))).toBeGreaterThan(mean(await latest('twin-deny', 'workload_throughput')));
    } finally {
      for (const t of twins) await t.close();
      rmSync(twinsDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a policy with enabled: always rolled out through a canary and rolled back: every node is left exactly as it was', async () => {
    // Four simulated nodes of their own, booted with THP never. Every sequence point on every
    // node is checked against the safety invariant (THP never on without verified enforcement).
    const canaryDir = mkdtempSync(join(tmpdir(), 'thp-agent-canary-'));
    const invariants = new Map<string, SimInvariant>();
    let canary: SimFleet | undefined;
    try {
      canary = await startSimFleet(agentConfig(ctl.grpcAddress, ctl.agentSecret, canaryDir, ['--sim-nodes', '4', '--node-id', 'canary']), undefined, memoryLogger(), false, {
        nodeModePoint: (node, point) => invariants.get(node)?.check(point),
      });
      const f = canary;
      const ids = f.agents.map((a) => a.nodeId);
      for (const [i, id] of ids.entries()) invariants.set(id, await SimInvariant.of(f.backends[i]!));
      const snapshot = (): ThpSysfs[] => f.backends.map((b) => structuredClone(b.node.sysfs()));
      const boot = snapshot();
      const allOn = async (policy: string | null, nodes = ids) =>
        waitFor(`${nodes.join(',')} acked ${policy ?? 'nothing'}`, async () => {
          for (const id of nodes) {
            const n = await rest.node(id);
            if (policy === null ? n.state !== 'unassigned' : !(n.acked?.policy === policy && n.state === 'in-sync')) return false;
          }
          return true;
        }, 60_000);
      await waitFor('canary fleet connected', async () => (await Promise.all(ids.map((id) => rest.node(id)))).every((n) => n.connected));

      // Where the fleet stands before the rollout: the sample zgc-only policy (THP madvise for ZGC).
      const zgc = await rest.createPolicy(example('zgc-only'));
      await rest.assignMany(ids, zgc.name, zgc.version);
      await allOn('zgc-only');
      const before = snapshot();
      for (const s of before) expect(s).toMatchObject({ enabled: 'madvise', shmem_enabled: 'advise', defrag: 'defer+madvise', khugepaged: { max_ptes_none: 64 } });
      const observedBefore = await Promise.all(ids.map(async (id) => (await rest.node(id)).observed?.sysfs));
      expect(observedBefore.every((s) => s?.enabled === 'madvise' && s.khugepagedMaxPtesNone === 64)).toBe(true);

      // The canary: one node gets thp-everywhere (enabled always, defrag always, max_ptes_none 511).
      const everywhere = await rest.createPolicy(example('thp-everywhere'));
      const [first, ...rest3] = ids as [string, ...string[]];
      await rest.assign(first, everywhere.name, everywhere.version);
      await allOn('thp-everywhere', [first]);
      expect(f.backends[0]!.node.sysfs()).toMatchObject({ enabled: 'always', defrag: 'always', khugepaged: { max_ptes_none: 511 } });
      expect(snapshot().slice(1)).toEqual(before.slice(1));
      await waitFor('canary observed always', async () => (await rest.node(first)).observed?.sysfs?.enabled === 'always');
      // Then the rest.
      await rest.assignMany(rest3, everywhere.name, everywhere.version);
      await allOn('thp-everywhere');
      for (const s of snapshot()) expect(s).toMatchObject({ enabled: 'always', defrag: 'always' });

      // Roll back to the previous policy: every control exactly as it was under it.
      await rest.assignMany(ids, zgc.name, zgc.version);
      await allOn('zgc-only');
      expect(snapshot()).toEqual(before);
      await waitFor('observed madvise again', async () => (await Promise.all(ids.map((id) => rest.node(id)))).every((n) => n.observed?.sysfs?.enabled === 'madvise' && n.drift.length === 0));

      // And off entirely (Revoke): every node exactly as it booted, nothing attached, no journal.
      await rest.assignMany(ids, null);
      await allOn(null);
      await waitFor('agents forgot the policy', () => f.agents.every((a) => a.reconciler.applied() === undefined));
      expect(snapshot()).toEqual(boot);
      for (const b of f.backends) expect(b.node.metrics().hook.attached).toBe(false);
      for (const id of ids) expect(await readJournal(join(canaryDir, id))).toBeNull();
      for (const [id, inv] of invariants) {
        expect(inv.violations, id).toEqual([]);
        // Each node went through the whole recipe: deny-all verified before THP was switched on.
        expect(inv.trace.indexOf('port verifyDenyAll'), id).toBeGreaterThanOrEqual(0);
        expect(inv.trace.indexOf('port verifyDenyAll'), id).toBeLessThan(inv.trace.indexOf('write enabled=madvise'));
      }
    } finally {
      await canary?.close();
      rmSync(canaryDir, { recursive: true, force: true });
    }
  }, 180_000);

  const cgroupRoot = detectCgroupRoot();
  const bpfSkip = process.getuid?.() !== 0 ? 'not root' : !cgroupRoot.ok ? cgroupRoot.reason : bpfUnavailableReason(detectKernel());
  if (bpfSkip) process.stderr.write(`[agent e2e] bpf agent scenarios skipped: ${bpfSkip}\n`);

  /** A private bpffs, an imitation THP tree (never the real one) and a state directory for a bpf agent. */
  async function bpfNode(name: string): Promise<{ work: string; tree: string; stateDir: string; pinRoot: string; flags: string[]; cleanup: () => void }> {
    const work = mkdtempSync(join(tmpdir(), `thp-agent-e2e-${name}-`));
    // A cautious node: THP never. No hugepages-64kB directory, so a policy asking for it cannot fit.
    const tree = await createImitationThpTree(join(work, 'transparent_hugepage'), { enabled: 'never', shmemEnabled: 'within_size', anonSizesKb: [16, 32, 128, 256, 512, 1024, 2048] });
    const mount = join(work, 'bpffs');
    mkdirSync(mount);
    const addon = loadAddon();
    if (!addon.available) throw new Error(addon.reason);
    addon.addon.mountBpffs(mount);
    const pinRoot = join(mount, 'thp-fleet');
    const stateDir = join(work, 'state');
    const root = cgroupRoot.ok ? cgroupRoot.root : '';
    return {
      work,
      tree,
      stateDir,
      pinRoot,
      flags: ['--backend', 'bpf', '--node-id', name, '--pin-root', pinRoot, '--cgroup-root', root, '--sysfs-root', tree, '--state-dir', stateDir],
      cleanup: () => {
        rmSync(pinRoot, { recursive: true, force: true });
        addon.addon.unmount(mount);
        rmSync(work, { recursive: true, force: true });
      },
    };
  }
  const realThpValues = async () => controlValues(await (await ThpSysfsTree.open()).readSnapshot());
  const treeValues = async (tree: string) => controlValues(await (await ThpSysfsTree.open({ root: tree })).readSnapshot());

  it.skipIf(bpfSkip !== undefined)('a bpf agent on this machine (root, no hook), THP tree from --sysfs-root: node-level fallback, Nacks that say why, drift, restart, revoke', async () => {
    const realBefore = await realThpValues();
    const n = await bpfNode('bpf-node');
    const original = await readTreeFiles(n.tree);
    const log = memoryLogger();
    const config = agentConfig(ctl.grpcAddress, ctl.agentSecret, n.stateDir, n.flags);
    let running = await startAgents(config, undefined, log);
    try {
      const registered = await waitFor('bpf node registered', async () => {
        const r = await rest.node('bpf-node');
        return r.connected ? r : undefined;
      });
      expect(registered.capabilities).toMatchObject({ hookAbi: 'HOOK_ABI_ABSENT', activeBackend: 'BACKEND_BPF' });
      expect(registered.capabilities.hookDetail).toMatch(/bpf_thp_ops/);
      // The imitation tree, not this machine's: THP never, shmem within_size.
      expect(registered.capabilities.sysfs).toMatchObject({ enabled: 'never', shmemEnabled: 'within_size' });

      // withoutHook: deny (the default) on a kernel without the hook: incompatible, nothing changes.
      const denied = await rest.createPolicy(withThpOn('bpf-per-cgroup', '/workloads.slice/zgc-*'));
      await rest.assign('bpf-node', denied.name, denied.version);
      const nacked = await waitFor('nack', async () => {
        const r = await rest.node('bpf-node');
        return r.lastNack?.policy === 'bpf-per-cgroup' ? r : undefined;
      });
      expect(nacked.lastNack).toMatchObject({ version: 1, stage: 'attach' });
      expect(nacked.lastNack!.message).toMatch(/^incompatible: policy "bpf-per-cgroup" v1 needs the bpf_thp_ops hook, which this kernel does not have; set spec\.node\.withoutHook: node-level/);
      expect(nacked.quarantined).toBe(true);
      expect(await readTreeFiles(n.tree)).toEqual(original);

      // withoutHook: node-level: only the node section is applied (global knobs, as TuneD does).
      const tuned = await rest.createPolicy(`${allowPolicy('bpf-tuned', '/workloads.slice/zgc-*', '9')}  node: { enabled: always, defrag: defer+madvise, khugepaged: { maxPtesNone: 64 }, withoutHook: node-level }\n`);
      await rest.assign('bpf-node', tuned.name, tuned.version);
      const applied = await waitFor('node-level-only acked and observed', async () => {
        const r = await rest.node('bpf-node');
        return r.acked?.policy === 'bpf-tuned' && r.observed?.enforcement === 'node-level-only' && r.observed.sysfs?.enabled === 'always' ? r : undefined;
      });
      expect(applied.observed?.sysfs).toMatchObject({ enabled: 'always', defrag: 'defer+madvise', khugepagedMaxPtesNone: 64, shmemEnabled: 'within_size' });
      expect(applied.state).toBe('in-sync');
      const files = await readTreeFiles(n.tree);
      expect(files.get('enabled')).toBe('[always] madvise never\n');
      expect(files.get('defrag')).toBe('always defer [defer+madvise] madvise never\n');
      expect(files.get('khugepaged/max_ptes_none')).toBe('64\n');
      // Nothing loaded or pinned: without the hook the tables would decide nothing.
      expect(existsSync(n.pinRoot) ? readdirSync(n.pinRoot) : []).toEqual([]);

      // A node section this node cannot hold (it has no 64kB size): Nack at validate, naming the path.
      const unfit = await rest.createPolicy(`${allowPolicy('bpf-64k', '/workloads.slice/zgc-*', '9')}  node: { hugepages: { 64kB: always }, withoutHook: node-level }\n`);
      await rest.assign('bpf-node', unfit.name, unfit.version);
      const unfitNack = await waitFor('unfit nack', async () => {
        const r = await rest.node('bpf-node');
        return r.lastNack?.policy === 'bpf-64k' ? r : undefined;
      });
      expect(unfitNack.lastNack).toMatchObject({ stage: 'validate' });
      expect(unfitNack.lastNack!.message).toMatch(/does not fit this node/);
      expect(unfitNack.lastNack!.detail).toMatch(/spec\.node\.hugepages\["64kB"\]: this node has no hugepages-64kB\/enabled/);
      expect(await readTreeFiles(n.tree)).toEqual(files);
      await rest.assign('bpf-node', tuned.name, tuned.version);
      await waitFor('back in sync', async () => (await rest.node('bpf-node')).state === 'in-sync');

      // Someone changes a control behind the agent: the observed values show it as drift.
      await (await ThpSysfsTree.open({ root: n.tree })).write('defrag', 'never');
      const drifted = await waitFor('drift shown', async () => {
        const r = await rest.node('bpf-node');
        return r.drift.some((d) => d.includes('defrag')) ? r : undefined;
      });
      expect(drifted.state).toBe('drifted');
      expect(drifted.drift).toContain('sysfs defrag is "never", the policy sets "defer+madvise"');
      await waitFor('drift logged', () => log.lines.some((l) => l.includes('THP sysfs drifted') && l.includes('defrag=never (policy: defer+madvise)')));

      // Restart: the journal and record agree and node-level needs no program: re-adopted as is;
      // Hello says node-level-only in the hook detail.
      await running.close();
      const restartLog = memoryLogger();
      running = await startAgents(config, undefined, restartLog);
      expect(restartLog.lines.some((l) => l.includes('re-adopted the node-mode policy') && l.includes('enforcement=node-level-only'))).toBe(true);
      await waitFor('hello with node-level-only', async () => /enforcement node-level-only \(policy "bpf-tuned" v1/.test((await rest.node('bpf-node')).capabilities.hookDetail ?? ''));

      // Revoke: every file back byte for byte (the drifted one too), journal gone.
      await rest.unassign('bpf-node');
      await waitFor('revoked', async () => (await rest.node('bpf-node')).state === 'unassigned' && (await readJournal(n.stateDir)) === null);
      expect(await readTreeFiles(n.tree)).toEqual(original);
    } finally {
      await running.close();
      n.cleanup();
    }
    // This machine's own THP settings were never touched.
    expect(await realThpValues()).toEqual(realBefore);
  }, 120_000);

  it.skipIf(bpfSkip !== undefined)('the agent process killed mid-sequence (SIGKILL after a sysfs write): safe on disk; the restarted thp-agent finishes it from its journal', async () => {
    const n = await bpfNode('bpf-crash');
    const original = await readTreeFiles(n.tree);
    const env = { THP_AGENT_SECRET: ctl.agentSecret };
    const flags = ['--controller', ctl.grpcAddress, '--metrics-interval', '1s', '--backoff-initial', '200ms', '--backoff-max', '1s', ...n.flags];
    const settings = { enabled: 'always', defrag: 'defer+madvise', 'khugepaged/max_ptes_none': '64', 'khugepaged/pages_to_scan': '1024' };
    const policy = await rest.createPolicy(
      `${allowPolicy('crash-tuned', '/workloads.slice/zgc-*', '9')}  node: { enabled: always, defrag: defer+madvise, khugepaged: { maxPtesNone: 64, pagesToScan: 1024 }, withoutHook: node-level }\n`,
    );
    const crashing = startCrashingAgentProcess('sysfs-write:defrag', flags, env);
    let restarted: ReturnType<typeof startAgentProcess> | undefined;
    try {
      await waitFor('crashing agent connected', async () => (await rest.node('bpf-crash')).connected, 60_000);
      await rest.assign('bpf-crash', policy.name, policy.version);
      const exit = await crashing.exited;
      expect(exit.signal).toBe('SIGKILL');
      expect(crashing.output).toContain('point sysfs-write:defrag');
      // On disk: the journal says the node-level apply has begun; the khugepaged tunables and
      // defrag are written, the top-level enabled (written last) is not.
      const journal = await readJournal(n.stateDir);
      expect(journal?.operation).toMatchObject({ kind: 'apply', path: 'node-level', done: 'begun', target: { policy: 'crash-tuned', version: 1 } });
      expect(journal?.applied).toBeNull();
      expect(journal?.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
      const midway = await treeValues(n.tree);
      expect(midway).toMatchObject({ 'khugepaged/max_ptes_none': '64', 'khugepaged/pages_to_scan': '1024', defrag: 'defer+madvise', enabled: 'never' });
      expect(existsSync(join(n.stateDir, 'applied.json'))).toBe(false);

      // The real thp-agent starts on the same state directory and tree.
      restarted = startAgentProcess(flags, env);
      const node = await waitFor(
        'restarted agent connected with the policy in force',
        async () => {
          const r = await rest.node('bpf-crash');
          return r.connected && r.acked?.policy === 'crash-tuned' && r.observed?.enforcement === 'node-level-only' ? r : undefined;
        },
        60_000,
      );
      expect(node.state).toBe('in-sync');
      expect(await treeValues(n.tree)).toMatchObject(settings);
      const after = await readJournal(n.stateDir);
      expect(after).toMatchObject({ operation: null, applied: { enforcement: 'node-level-only', target: { policy: 'crash-tuned', version: 1 } } });
      const out = restarted.output.join('\n');
      expect(out).toMatch(/finished a sequence a crash had interrupted/);
      expect(out).toMatch(/the agent stopped before recording it\); recording it/);
      // Hello said the policy is applied, which is what the controller wants: no second push.
      await new Promise((r) => setTimeout(r, 1_500));
      expect(restarted.output.filter((l) => / assignment /.test(l))).toEqual([]);

      await rest.unassign('bpf-crash');
      await waitFor('revoked', async () => (await rest.node('bpf-crash')).state === 'unassigned' && (await readJournal(n.stateDir)) === null);
      expect(await readTreeFiles(n.tree)).toEqual(original);
    } finally {
      await crashing.stop('SIGKILL');
      await restarted?.stop('SIGTERM');
      n.cleanup();
    }
  }, 180_000);
});
