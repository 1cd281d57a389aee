/**
 * Kernel decision cost (issue 4 "Speed"): with kernel.bpf_stats_enabled=1 the kernel
 * accounts run_time_ns and run_cnt per program; run_time_ns / run_cnt of thp_decide_ctx
 * is the cost of one decision inside the kernel, with 10,000 cgroups in the map. Also
 * reported: wall time per BPF_PROG_TEST_RUN call from Node (syscall and addon included),
 * and the reference evaluator on the same inputs. bpf_stats_enabled is restored.
 *
 *   npx nx run bpf:bench      (or: cd libs/bpf && node scripts/build.mjs && npm run bench)
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { DefaultAction, NO_PRESSURE_GATE, TvaType, VmaAdvice, decide, type HookInput, type KernelTables } from '@thp-fleet/policy';

import { load } from './kernel-policy.js';
import { Rng, kernelSkipReason, makePinRoot, testAddon } from './kernel.test-util.js';
import { objectPath } from './paths.js';

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';
const CGROUPS = 10_000;
const RUNS = 200_000;

function buildTables(rng: Rng): { tables: KernelTables; leaves: number[]; parent: Map<number, number> } {
  // A kubepods-like tree: root 1 -> 20 slices -> 500 pods each (10,000 mapped pod cgroups),
  // each pod with one unmapped container below it.
  const parent = new Map<number, number>();
  const cgroupRules = new Map<number, number>();
  const leaves: number[] = [];
  let next = 100;
  for (let s = 0; s < 20; s++) {
    const slice = next++;
    parent.set(slice, 1);
    for (let p = 0; p < CGROUPS / 20; p++) {
      const pod = next++;
      parent.set(pod, slice);
      cgroupRules.set(pod, rng.u32() & 0xffff);
      const container = next++;
      parent.set(container, pod);
      leaves.push(container);
    }
  }
  const rules = Array.from({ length: 16 }, (_, r) => ({
    ctxMask: r % 4 === 0 ? 0b00010 : 0b11111,
    adviceMask: 0b111,
    allowOrders: r % 3 === 0 ? 1 << 9 : 0x3fc,
    pressureThreshold: r % 2 === 0 ? 2000 : NO_PRESSURE_GATE,
    pressureOrders: 0,
  }));
  return { tables: { generation: 1, defaultAction: DefaultAction.Deny, defaultOrders: 0, rules, cgroupRules }, leaves, parent };
}

function chainOf(parent: Map<number, number>, leaf: number): number[] {
  const chain = [leaf];
  for (let id = parent.get(leaf); id !== undefined; id = parent.get(id)) chain.push(id);
  if (chain[chain.length - 1] !== 1) chain.push(1);
  return chain;
}

function main(): void {
  const reason = kernelSkipReason(['syscall']);
  if (reason !== null) {
    console.log(`kernel benchmark skipped: ${reason}`);
    return;
  }
  const rng = new Rng(4242);
  const { tables, leaves, parent } = buildTables(rng);
  const pod = (): HookInput => ({
    cgroupChain: chainOf(parent, rng.pick(leaves)),
    tva: rng.pick([TvaType.Pagefault, TvaType.Khugepaged, TvaType.Smaps]),
    advice: rng.pick([VmaAdvice.None, VmaAdvice.Hugepage]),
    requestedOrders: rng.pick([1 << 9, 0x3fc]),
    pressure: rng.int(0, 4000),
  });
  const podInputs = Array.from({ length: 1000 }, pod);
  const unmapped = Array.from({ length: 1000 }, () => ({ ...pod(), cgroupChain: Array.from({ length: 16 }, () => rng.int(10_000_000, 20_000_000)) }));
  const empty = Array.from({ length: 1000 }, () => ({ ...pod(), cgroupChain: [] }));
  // "same cgroup": one task faulting again and again (the hook's usual pattern, caches warm);
  // "1000 cgroups round robin": every call in another pod (caches and TLB cold on this VM).
  const scenarios: { name: string; inputs: HookInput[] }[] = [
    { name: 'container -> pod, same cgroup', inputs: podInputs.slice(0, 1) },
    { name: 'container -> pod, 10 cgroups round robin', inputs: podInputs.slice(0, 10) },
    { name: 'container -> pod, 1000 cgroups round robin', inputs: podInputs },
    { name: '16 unmapped ids (longest walk), same chain', inputs: unmapped.slice(0, 1) },
    { name: '16 unmapped ids, 1000 chains round robin', inputs: unmapped },
    { name: 'empty chain (default action)', inputs: empty },
  ];

  const root = makePinRoot('bench');
  const policy = load(tables, 'v12', { pinRoot: root.pinRoot });
  const addon = testAddon();
  const calibration = new addon.BpfObject(objectPath('syscall'), root.pinRoot);
  calibration.load();
  const previous = readFileSync(STATS_SYSCTL, 'utf8').trim();
  try {
    writeFileSync(STATS_SYSCTL, '1');
    const noopFd = calibration.programFd('thp_calibrate');
    const noopCtx = Buffer.alloc(8);
    for (let i = 0; i < 20_000; i++) addon.progTestRun(noopFd, noopCtx);
    const n0 = addon.progInfo(noopFd);
    for (let i = 0; i < RUNS; i++) addon.progTestRun(noopFd, noopCtx);
    const n1 = addon.progInfo(noopFd);
    const floorNs = Number(n1.runTimeNs - n0.runTimeNs) / Number(n1.runCnt - n0.runCnt);

    console.log(`kernel decision cost, ${tables.cgroupRules.size} cgroups mapped, ${tables.rules.length} rules, ${RUNS} runs per scenario`);
    console.log(`measurement floor: an empty syscall program reads ${floorNs.toFixed(1)} ns (sched_clock and call, counted in run_time_ns)`);
    console.log('| scenario | run_time_ns/run_cnt | minus floor | wall us/test-run call | evaluator ns/decision |');
    console.log('|---|---|---|---|---|');
    for (const { name, inputs } of scenarios) {
      for (let i = 0; i < 20_000; i++) policy.decide(inputs[i % inputs.length] as HookInput); // warm up
      const before = policy.stats().programs[0];
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < RUNS; i++) policy.decide(inputs[i % inputs.length] as HookInput);
      const wallNs = Number(process.hrtime.bigint() - t0);
      const after = policy.stats().programs[0];
      if (before === undefined || after === undefined) throw new Error('no program stats');
      const runs = after.runCnt - before.runCnt;
      const kernelNs = (after.runTimeNs - before.runTimeNs) / runs;

      let sink = 0;
      const e0 = process.hrtime.bigint();
      for (let i = 0; i < RUNS * 10; i++) sink += decide(tables, inputs[i % inputs.length] as HookInput);
      const evalNs = Number(process.hrtime.bigint() - e0) / (RUNS * 10);
      if (sink === 0.5) console.log(sink);
      console.log(
        `| ${name} | ${kernelNs.toFixed(1)} | ${(kernelNs - floorNs).toFixed(1)} | ${(wallNs / RUNS / 1000).toFixed(2)} | ${evalNs.toFixed(1)} |`,
      );
    }
  } finally {
    writeFileSync(STATS_SYSCTL, previous);
    calibration.close();
    policy.close();
    root.cleanup();
  }
  console.log(`kernel.bpf_stats_enabled restored to ${readFileSync(STATS_SYSCTL, 'utf8').trim()}`);
}

main();
