/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-return -- REST bodies are untyped JSON checked with expect() */
/**
 * Issue 7, "Must be shown" 3: a policy the canary NACKs halts the rollout, every touched node
 * goes back, and the version is never sent to the node that rejected it again.
 *
 * The NACK is a real one. The fleet is eleven simulated nodes plus one agent process on this
 * machine's own kernel (`--backend bpf`: a stock kernel, no bpf_thp_ops hook) whose THP sysfs is
 * an imitation tree without a 64 kB mTHP size, as on kernels and hardware that do not offer it
 * (the tree is given with `--sysfs-root`, so the machine's real THP settings are never touched).
 * The policy turns on 64 kB mTHP in its node section; the simulated nodes have that size and
 * ACK, the stock node cannot hold it and NACKs (stage validate). Its kernel is a stratum of its
 * own, so the stratified canary must include it.
 *
 * Needs root (the bpf backend and a private bpffs mount) and a cgroup v2 mount; says so and
 * skips otherwise.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, type TestDatabase } from '@thp-fleet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rest, TERMINAL, freePort, newSecrets, startController, startSimFleet, waitFor, type AgentFleet, type ControllerProcess, type Secrets } from './rollout.harness.js';

const AGENT_MAIN = fileURLToPath(new URL('../../apps/agent/src/main.ts', import.meta.url));
const STOCK_NODE = 'stock-1';

/** The cgroup v2 mount, from /proc/self/mounts. */
function cgroup2Mount(): string | undefined {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .find((f) => f[2] === 'cgroup2')?.[1];
  } catch {
    return undefined;
  }
}

const skipReason = process.getuid?.() !== 0 ? 'not root (the bpf backend and a bpffs mount need root)' : cgroup2Mount() === undefined ? 'no cgroup v2 mount' : undefined;
if (skipReason) process.stderr.write(`[rollout e2e] the NACK scenario is skipped: ${skipReason}\n`);

/** A kernel THP file: the options with the selected one in brackets (kernel-interface.md 5.2). */
const selection = (options: readonly string[], selected: string): string => `${options.map((o) => (o === selected ? `[${o}]` : o)).join(' ')}\n`;

/**
 * An imitation of /sys/kernel/mm/transparent_hugepage as a stock kernel without 64 kB mTHP has
 * it: THP never, per-size controls for 16, 32, 128 .. 2048 kB only; kernel defaults otherwise
 * (kernel-interface.md 5.2, 5.4).
 */
function imitationThpTree(dir: string): void {
  const files: Record<string, string> = {
    enabled: selection(['always', 'madvise', 'never'], 'never'),
    defrag: selection(['always', 'defer', 'defer+madvise', 'madvise', 'never'], 'madvise'),
    shmem_enabled: selection(['always', 'within_size', 'advise', 'never', 'deny', 'force'], 'never'),
    use_zero_page: '1\n',
    shrink_underused: '1\n',
    hpage_pmd_size: '2097152\n',
    'khugepaged/defrag': '1\n',
    'khugepaged/pages_to_scan': '4096\n',
    'khugepaged/scan_sleep_millisecs': '10000\n',
    'khugepaged/alloc_sleep_millisecs': '60000\n',
    'khugepaged/max_ptes_none': '511\n',
    'khugepaged/max_ptes_swap': '64\n',
    'khugepaged/max_ptes_shared': '256\n',
    'khugepaged/pages_collapsed': '0\n',
    'khugepaged/full_scans': '0\n',
  };
  for (const kb of [16, 32, 128, 256, 512, 1024, 2048]) {
    files[`hugepages-${kb}kB/enabled`] = selection(['always', 'inherit', 'madvise', 'never'], kb === 2048 ? 'inherit' : 'never');
    files[`hugepages-${kb}kB/shmem_enabled`] = selection(['always', 'inherit', 'within_size', 'advise', 'never'], kb === 2048 ? 'inherit' : 'never');
  }
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}

/** THP in 64 kB and 2 MB pages for the ZGC services; the node section turns on the 64 kB size. */
const MTHP_64K = `apiVersion: thp.fleet/v1
kind: ThpPolicy
metadata:
  name: mthp-64k
  description: 64 kB mTHP and 2 MB THP for ZGC services
spec:
  default: { action: deny }
  rules:
    - name: zgc
      match:
        cgroups: ["/workloads.slice/zgc-*"]
        advice: [hugepage]
      allow: { sizes: ["64K", "2M"] }
  node:
    enabled: madvise
    hugepages: { 64kB: madvise, 2048kB: inherit }
    withoutHook: node-level
`;

describe.skipIf(skipReason !== undefined)('a policy the canary NACKs (controller and agent processes, a stock-kernel node among simulated ones)', () => {
  let db: TestDatabase;
  let secrets: Secrets;
  let controller: ControllerProcess;
  let fleet: AgentFleet;
  let rest: Rest;
  let work: string;
  let bpffs: string;
  let stock: ReturnType<typeof spawn> | undefined;
  const stockOutput: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('rollout-nack-e2e');
    secrets = newSecrets();
    controller = await startController({ db, secrets, grpcPort: await freePort() });
    rest = new Rest(controller.httpUrl, secrets.adminToken);
    fleet = startSimFleet({ grpcAddress: controller.grpcAddress, secrets, nodes: 11, timeScale: 60, seed: 7 });

    work = mkdtempSync(join(tmpdir(), 'thp-rollout-nack-'));
    const tree = join(work, 'transparent_hugepage');
    imitationThpTree(tree);
    bpffs = join(work, 'bpffs');
    mkdirSync(bpffs);
    execFileSync('mount', ['-t', 'bpf', 'bpf', bpffs]);
    stock = spawn(
      process.execPath,
      [
        '--conditions=@thp-fleet/source',
        '--import',
        'tsx',
        AGENT_MAIN,
        '--controller',
        controller.grpcAddress,
        '--backend',
        'bpf',
        '--node-id',
        STOCK_NODE,
        '--label',
        `kernel=stock-${release().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 50)}`,
        '--label',
        'hardware-class=general-8g',
        '--label',
        'workload-mix=standard',
        '--pin-root',
        join(bpffs, 'thp-fleet'),
        '--cgroup-root',
        cgroup2Mount()!,
        '--sysfs-root',
        tree,
        '--state-dir',
        join(work, 'state'),
        '--log-level',
        'warn',
      ],
      { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), THP_AGENT_SECRET: secrets.agentSecret }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    stock.stdout?.on('data', (c: Buffer) => stockOutput.push(c.toString()));
    stock.stderr?.on('data', (c: Buffer) => stockOutput.push(c.toString()));
    await waitFor('12 nodes connected', async () => (await rest.nodes()).filter((n) => n.connected).length === 12, 90_000).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\nstock agent output:\n${stockOutput.join('')}`);
    });
    await rest.createPolicy(MTHP_64K);
  }, 240_000);

  afterAll(async () => {
    if (stock && stock.exitCode === null) {
      const exited = new Promise((resolve) => stock!.once('exit', resolve));
      stock.kill('SIGTERM');
      await exited;
    }
    await fleet?.stop('SIGTERM');
    await controller?.stop('SIGTERM');
    if (bpffs) execFileSync('umount', [bpffs]);
    if (work) rmSync(work, { recursive: true, force: true });
    await db?.drop();
  });

  const plan = {
    steps: [
      { name: 'canary', select: { count: 1 }, bake: '3s' },
      { name: 'fleet', select: { percent: 100 }, bake: '1s' },
    ],
  };

  const finished = (id: string): Promise<any> =>
    waitFor(`rollout ${id} to end`, async () => {
      const d = await rest.rollout(id);
      return TERMINAL.includes(d.rollout.phase) ? d : undefined;
    }, 120_000, 300);

  it('3. the canary NACKs: the rollout halts, rolls back, and the version is never sent to that node again', async () => {
    const first = await rest.post('/api/v1/rollouts', { policy: 'mthp-64k', version: 1, plan });
    expect(first.status).toBe(201);
    const d = await finished(first.body.rollout.id);
    expect(d.rollout.phase, d.rollout.reason).toBe('rolled_back');
    expect(d.rollout.nacked).toEqual([STOCK_NODE]);
    expect(d.rollout.reason).toMatch(/node stock-1 rejected version 1: validate: .*does not fit this node/);
    // It halted at the canary: the stock node's stratum put it there, the rest never got the version.
    expect(d.steps[0].cohort).toContain(STOCK_NODE);
    expect(d.rollout.step).toBe(0);
    expect(d.rollout.touched.length).toBeLessThan(12);
    // Every touched node is back where it was (no policy).
    await waitFor('every node back on no policy', async () => (await rest.nodes()).every((n) => n.acked === null || n.acked.version === null), 30_000);
    const node = (await rest.get(`/api/v1/nodes/${STOCK_NODE}`)).body;
    expect(node.lastNack).toMatchObject({ policy: 'mthp-64k', version: 1, stage: 'validate' });
    expect(node.lastNack.detail).toMatch(/hugepages\["64kB"\]: this node has no hugepages-64kB\/enabled/);

    // The same version again: the node that rejected it is excluded with the reason, the
    // stratum it alone made up is reported uncovered, and everyone else gets the version.
    const second = await rest.post('/api/v1/rollouts', { policy: 'mthp-64k', version: 1, plan });
    expect(second.status).toBe(201);
    const d2 = await finished(second.body.rollout.id);
    expect(d2.rollout.phase, d2.rollout.reason).toBe('completed');
    const excluded = d2.steps[0].excluded.find((e: any) => e.node === STOCK_NODE);
    expect(excluded.reasons.map((r: any) => r.code)).toContain('nacked');
    expect(d2.steps[0].strata.uncovered).toEqual([{ stratum: expect.stringMatching(/^kernel=stock-/), why: 'no eligible node: 1 node(s) in the stratum (1 nacked)' }]);
    expect(d2.rollout.touched).not.toContain(STOCK_NODE);
    await waitFor('the eleven simulated nodes on mthp-64k@1', async () => (await rest.nodes()).filter((n) => n.acked?.policy === 'mthp-64k' && n.acked?.version === 1).length === 11, 30_000);

    // Never re-sent: one assignment of mthp-64k@1 ever named the stock node, and it still runs nothing.
    const sets = await rest.audit('action=assignment.set');
    const toStock = sets.filter((e) => e.after.policy === 'mthp-64k' && e.after.version === 1 && (e.after.nodes as string[]).includes(STOCK_NODE));
    expect(toStock).toHaveLength(1);
    expect(toStock[0].after.rolloutId).toBe(first.body.rollout.id);
    const after = (await rest.get(`/api/v1/nodes/${STOCK_NODE}`)).body;
    expect(after.acked === null || after.acked.version === null).toBe(true);
  }, 300_000);
});
