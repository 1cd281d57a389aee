/**
 * The hook's cgroup walk on a stock kernel. The struct_ops program cannot load here, but
 * the same code (task->cgroups->dfl_cgrp, then css.parent, ids from kn->id) runs in the
 * syscall program for the calling task and in the tp_btf probe for mm->owner. Processes
 * are started inside a 20-level test cgroup, so the MAX_CGROUP_DEPTH bound matters.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DefaultAction, MAX_CGROUP_DEPTH, NO_PRESSURE_GATE, TvaType, VmaAdvice, decide, type KernelTables } from '@thp-fleet/policy';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { PINS, load, type KernelPolicy } from './kernel-policy.js';
import { announceSkip, kernelSkipReason, makePinRoot, type PinRoot } from './kernel.test-util.js';
import { CTX_CURRENT_TASK, LAYOUT, decodeContextChain, encodeContext } from './layout.js';
import { ADDON_PATH } from './paths.js';

/** The cgroup v2 mount, when it shows the whole hierarchy (root "/"). */
function cgroup2Mount(): string | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    const fields = left?.split(' ') ?? [];
    if (right?.startsWith('cgroup2 ') && fields[3] === '/' && fields[4] !== undefined) return fields[4];
  }
  return null;
}

const mount = cgroup2Mount();
const skip = announceSkip(
  'cgroup walk (current task, probe)',
  kernelSkipReason(['syscall', 'probe']) ?? (mount === null ? 'no cgroup v2 mount showing the root hierarchy' : null),
);

/** cgroup id as the kernel reports it: the kernfs inode number of the cgroup directory. */
const cgroupId = (dir: string): number => statSync(dir).ino;

/** sh puts itself into `cgroup`, then execs the command. */
function runIn(cgroup: string, command: string[]): { stdout: string; stderr: string; status: number | null } {
  const quoted = command.map((c) => `'${c.replaceAll("'", "'\\''")}'`).join(' ');
  const result = spawnSync('/bin/sh', ['-c', `echo $$ > '${join(cgroup, 'cgroup.procs')}' && exec ${quoted}`], { encoding: 'utf8', timeout: 30_000 });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

describe.skipIf(skip)('cgroup chain resolution in the kernel', () => {
  const levels = 20;
  const dirs: string[] = []; // top first
  let root: PinRoot;
  let policy: KernelPolicy;
  let chainOfLeaf: number[]; // leaf first, up to and including the root cgroup
  let tables: KernelTables;

  beforeAll(() => {
    const base = mount ?? '';
    let dir = join(base, `thpf-test-${process.pid}`);
    for (let i = 0; i < levels; i++) {
      mkdirSync(dir);
      dirs.push(dir);
      dir = join(dir, `l${i + 1}`);
    }
    chainOfLeaf = [...dirs].reverse().map(cgroupId);
    chainOfLeaf.push(cgroupId(base));
    // Rule 0 (order 9) on the 11th id from the leaf; rule 1 (order 4) on the 18th: beyond the bound.
    tables = {
      generation: 1,
      defaultAction: DefaultAction.Unchanged,
      defaultOrders: 0,
      rules: [
        { ctxMask: 0b11111, adviceMask: 0b111, allowOrders: 1 << 9, pressureThreshold: 5000, pressureOrders: 1 << 4 },
        { ctxMask: 0b11111, adviceMask: 0b111, allowOrders: 1 << 4, pressureThreshold: NO_PRESSURE_GATE, pressureOrders: 0 },
      ],
      cgroupRules: new Map([
        [chainOfLeaf[10] ?? 0, 0b01],
        [chainOfLeaf[17] ?? 0, 0b10],
      ]),
    };
    root = makePinRoot('cgroup');
    policy = load(tables, 'v12', { pinRoot: root.pinRoot });
  });

  afterAll(() => {
    try {
      policy.detachProbe();
      policy.close();
      root.cleanup();
    } finally {
      for (const dir of [...dirs].reverse()) if (existsSync(dir)) rmdirSync(dir);
    }
  });

  it('resolves the calling task chain like /proc/self/cgroup says', () => {
    const path = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3) ?? '/';
    const expected: number[] = [];
    for (let p = path; ; p = p.slice(0, Math.max(p.lastIndexOf('/'), 0)) || '/') {
      expected.push(cgroupId(join(mount ?? '', p)));
      if (p === '/') break;
    }
    const result = policy.decideForCurrentTask({ tva: TvaType.Pagefault, advice: VmaAdvice.None, requestedOrders: 1 << 9, pressure: 0 });
    expect(result.chain).toEqual(expected.slice(0, MAX_CGROUP_DEPTH));
  });

  it('walks 16 of the 21 ancestors of a task in a 20-level cgroup and decides on them', () => {
    const leaf = dirs[dirs.length - 1] ?? '';
    for (const pressure of [0, 5000, 5001]) {
      const ctx = Buffer.alloc(LAYOUT.thp_decide_ctx.size);
      encodeContext(ctx, { cgroupChain: [], tva: TvaType.Khugepaged, advice: VmaAdvice.Hugepage, requestedOrders: (1 << 9) | (1 << 4), pressure }, 'v12', CTX_CURRENT_TASK);
      const child = runIn(leaf, [process.execPath, fileURLToPath(new URL('./current-task-child.mjs', import.meta.url)), ADDON_PATH, join(root.pinRoot, PINS.decideProgram), ctx.toString('hex')]);
      expect(child.stderr).toBe('');
      const out = JSON.parse(child.stdout) as { retval: number; ctx: string };
      const back = Buffer.from(out.ctx, 'hex');
      const chain = decodeContextChain(back);
      expect(chain).toEqual(chainOfLeaf.slice(0, MAX_CGROUP_DEPTH));
      const expected = decide(tables, { cgroupChain: chainOfLeaf, tva: TvaType.Khugepaged, advice: VmaAdvice.Hugepage, requestedOrders: (1 << 9) | (1 << 4), pressure });
      expect({ pressure, decision: back.readInt32LE(LAYOUT.thp_decide_ctx.fields.out_decision) }).toEqual({ pressure, decision: expected });
      expect(expected).toBe(pressure > 5000 ? 4 : 9);
    }
  });

  it('the probe resolves vma owners (mm->owner) the same way, per leaf cgroup, live', () => {
    policy.setPressure(6000);
    policy.attachProbe();
    const leaf = dirs[dirs.length - 1] ?? '';
    const mid = dirs[3] ?? '';
    for (const dir of [leaf, mid]) expect(runIn(dir, ['/bin/true']).status).toBe(0);
    const seen = policy.probeEntries();
    for (const [dir, chain] of [
      [leaf, chainOfLeaf],
      [mid, chainOfLeaf.slice(levels - 4)],
    ] as const) {
      const entry = seen.get(cgroupId(dir));
      expect(entry?.chain).toEqual(chain.slice(0, MAX_CGROUP_DEPTH));
      const input = { cgroupChain: chain, tva: TvaType.Pagefault, advice: VmaAdvice.None, requestedOrders: 1 << 9, pressure: 6000 };
      expect({ decision: entry?.decision, pressure: entry?.pressure }).toEqual({ decision: decide(tables, input), pressure: 6000 });
      expect(entry?.calls).toBeGreaterThan(0);
    }
    const counters = policy.stats().counters;
    expect(counters.calls).toBeGreaterThan(0);
    expect(policy.detachProbe()).toBe(true);
  });
});
