/**
 * Shared by the kernel tests: why they cannot run here (if so), private pin roots, and a
 * seeded generator of random tables and inputs for the differential tests.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  DefaultAction,
  MAX_RULES,
  NO_PRESSURE_GATE,
  type CompiledRule,
  type HookInput,
  type KernelTables,
  type TvaType,
  type VmaAdvice,
} from '@thp-fleet/policy';

import { loadAddon, type ThpBpfAddon } from './addon.js';
import { bpffsStatus } from './detect.js';
import { DEFAULT_BPFFS, objectPath, type ObjectVariant } from './paths.js';

/** Why kernel tests cannot run on this machine, or null when they can. */
export function kernelSkipReason(objects: readonly ObjectVariant[] = ['syscall']): string | null {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return `not root (uid ${String(process.getuid?.())}): loading BPF programs needs CAP_BPF and CAP_SYS_ADMIN`;
  const addon = loadAddon();
  if (!addon.available) return `libbpf addon unavailable: ${addon.reason}`;
  const missing = objects.map((v) => objectPath(v)).filter((p) => !existsSync(p));
  if (missing.length > 0) return `BPF objects not built (clang or libbpf-dev missing?): ${missing.join(', ')}`;
  return null;
}

/** Prints the reason a suite is skipped, so the output says it (STYLE.md: a skip says why). */
export function announceSkip(suite: string, reason: string | null): boolean {
  if (reason !== null) console.warn(`[libs/bpf] SKIPPED ${suite}: ${reason}`);
  return reason !== null;
}

export function testAddon(): ThpBpfAddon {
  const load = loadAddon();
  if (!load.available) throw new Error(load.reason);
  return load.addon;
}

export interface PinRoot {
  readonly pinRoot: string;
  cleanup(): void;
}

/**
 * A pin root of the test's own: under /sys/fs/bpf when a bpffs is mounted there, otherwise
 * on a private bpffs mounted in a temporary directory (unmounted by cleanup()).
 */
export function makePinRoot(name: string): PinRoot {
  const addon = testAddon();
  if (bpffsStatus(DEFAULT_BPFFS).mounted && existsSync(DEFAULT_BPFFS)) {
    const pinRoot = join(DEFAULT_BPFFS, 'thp-fleet-test', `${name}-${process.pid}`);
    return {
      pinRoot,
      cleanup: () => {
        rmSync(pinRoot, { recursive: true, force: true });
        const parent = join(DEFAULT_BPFFS, 'thp-fleet-test');
        if (existsSync(parent) && readdirSync(parent).length === 0) rmdirSync(parent);
      },
    };
  }
  const mount = mkdtempSync(join(tmpdir(), `thpf-bpffs-${name}-`));
  addon.mountBpffs(mount);
  return {
    pinRoot: join(mount, 'thp-fleet'),
    cleanup: () => {
      rmSync(join(mount, 'thp-fleet'), { recursive: true, force: true });
      addon.unmount(mount);
      rmdirSync(mount);
    },
  };
}

// ---------------------------------------------------------------- seeded generator

/** mulberry32: small, fast, seedable; failures print the seed to replay them. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor((this.u32() / 0x1_0000_0000) * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

/** Masks over THP orders the kernel really requests (kernel-interface.md 2.7) plus noise. */
const REQUESTS = [1 << 9, (1 << 9) - 1, 1 << 18, 0x3fc, 0x7fffc, 0x3fffc] as const;

function randomMask(rng: Rng, bits: number): number {
  let m = 0;
  for (let b = 0; b < bits; b++) if (rng.chance(0.4)) m |= 1 << b;
  return m >>> 0;
}

function ordersMask(rng: Rng): number {
  if (rng.chance(0.05)) return rng.u32(); // full u32, bit 31 included
  if (rng.chance(0.1)) return 0; // []: deny
  return randomMask(rng, 19);
}

/** A cgroup forest: parent of each id (0 = a root), ids random, some above 2^32. */
export interface CgroupForest {
  readonly ids: readonly number[];
  readonly parent: ReadonlyMap<number, number>;
}

export function randomForest(rng: Rng, size: number, maxDepth: number): CgroupForest {
  const ids: number[] = [];
  const parent = new Map<number, number>();
  const depth = new Map<number, number>();
  const used = new Set<number>();
  while (ids.length < size) {
    const id = rng.chance(0.1) ? rng.int(2 ** 32, 2 ** 40) : rng.int(1, 5_000_000);
    if (used.has(id)) continue;
    used.add(id);
    // Mostly extend a deep branch, so chains longer than MAX_CGROUP_DEPTH appear.
    const candidates = ids.filter((i) => (depth.get(i) ?? 0) < maxDepth - 1);
    const p = ids.length === 0 || rng.chance(0.05) || candidates.length === 0 ? 0 : rng.chance(0.6) ? (candidates[candidates.length - 1] ?? 0) : rng.pick(candidates);
    parent.set(id, p);
    depth.set(id, p === 0 ? 0 : (depth.get(p) ?? 0) + 1);
    ids.push(id);
  }
  return { ids, parent };
}

export function chainOf(forest: CgroupForest, leaf: number): number[] {
  const chain: number[] = [];
  for (let id = leaf; id !== 0; id = forest.parent.get(id) ?? 0) chain.push(id);
  return chain;
}

function randomRule(rng: Rng, thresholds: readonly number[]): CompiledRule {
  const gated = rng.chance(0.5);
  return {
    ctxMask: rng.chance(0.1) ? rng.u32() : randomMask(rng, 5) || 0b10,
    adviceMask: rng.chance(0.1) ? rng.u32() : randomMask(rng, 3) || 0b1,
    allowOrders: ordersMask(rng),
    pressureThreshold: gated ? rng.pick(thresholds) : NO_PRESSURE_GATE,
    pressureOrders: ordersMask(rng),
  };
}

/** Pressure thresholds tried: exact values inputs will hit, and the extremes. */
const THRESHOLDS = [0, 1, 500, 2000, 2001, 9999, 0x7fffffff, 0xfffffffe] as const;

export function randomTables(rng: Rng, forest: CgroupForest, generation: number): KernelTables {
  const ruleCount = rng.chance(0.05) ? 0 : rng.chance(0.1) ? MAX_RULES : rng.int(1, 8);
  const rules = Array.from({ length: ruleCount }, () => randomRule(rng, THRESHOLDS));
  const cgroupRules = new Map<number, number>();
  if (!rng.chance(0.05)) {
    for (const id of forest.ids) {
      if (!rng.chance(0.3)) continue;
      // Rule sets sometimes name rules that do not exist (bits at and above rule_count).
      cgroupRules.set(id, rng.chance(0.1) ? rng.u32() : randomMask(rng, Math.max(ruleCount, 1)));
    }
  }
  return {
    generation,
    defaultAction: rng.pick([DefaultAction.Deny, DefaultAction.Allow, DefaultAction.Unchanged]),
    defaultOrders: ordersMask(rng),
    rules,
    cgroupRules,
  };
}

export function randomInput(rng: Rng, forest: CgroupForest, tables: KernelTables): HookInput {
  let chain: number[];
  const roll = rng.int(0, 19);
  if (roll === 0) chain = [];
  else if (roll === 1) chain = Array.from({ length: rng.int(1, 20) }, () => rng.int(5_000_001, 9_000_000)); // unmapped ids
  else chain = chainOf(forest, rng.pick(forest.ids));

  const ruleThresholds = tables.rules.map((r) => r.pressureThreshold).filter((t) => t !== NO_PRESSURE_GATE);
  let pressure: number;
  const p = rng.int(0, 9);
  if (p < 4 && ruleThresholds.length > 0) pressure = rng.pick(ruleThresholds); // exactly at a threshold
  else if (p < 6 && ruleThresholds.length > 0) pressure = Math.min(rng.pick(ruleThresholds) + 1, 0xffffffff);
  else if (p === 6) pressure = rng.pick([0, 0xffffffff]);
  else pressure = rng.int(0, 10_000);

  return {
    cgroupChain: chain,
    tva: (rng.chance(0.05) ? rng.int(5, 40) : rng.int(0, 4)) as TvaType,
    advice: (rng.chance(0.05) ? rng.int(3, 40) : rng.int(0, 2)) as VmaAdvice,
    requestedOrders: rng.chance(0.7) ? rng.pick(REQUESTS) : ordersMask(rng),
    pressure,
  };
}
