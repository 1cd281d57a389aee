import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import {
  DECISION_UNCHANGED,
  DefaultAction,
  NO_PRESSURE_GATE,
  TvaType,
  VmaAdvice,
  decide,
  toHookReturn,
  type HookInput,
  type KernelTables,
} from '@thp-fleet/policy';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { ThpBpfAddon } from './addon.js';
import { BpfBackendError } from './errors.js';
import { KernelPolicy, POLICY_MAPS, PINS, load, open, tablesContentHash } from './kernel-policy.js';
import {
  Rng,
  announceSkip,
  kernelSkipReason,
  makePinRoot,
  randomForest,
  randomInput,
  randomTables,
  testAddon,
  type PinRoot,
} from './kernel.test-util.js';
import { LAYOUT, encodeActive } from './layout.js';
import { PACKAGE_ROOT, objectPath } from './paths.js';

const zgc: KernelTables = {
  generation: 1,
  defaultAction: DefaultAction.Deny,
  defaultOrders: 0,
  rules: [
    { ctxMask: 0b10110, adviceMask: 0b011, allowOrders: 1 << 9, pressureThreshold: 2000, pressureOrders: 0 },
    { ctxMask: 0b11111, adviceMask: 0b111, allowOrders: 0x3fc, pressureThreshold: NO_PRESSURE_GATE, pressureOrders: 0 },
  ],
  cgroupRules: new Map([
    [1000, 0b01],
    [2000, 0b10],
    [3000, 0b11],
  ]),
};

const fault = (chain: number[], pressure = 0): HookInput => ({
  cgroupChain: chain,
  tva: TvaType.Pagefault,
  advice: VmaAdvice.None,
  requestedOrders: 1 << 9,
  pressure,
});

/** Records every addon call that goes through it; forwards to the real addon. */
function recordingAddon(addon: ThpBpfAddon, calls: string[]): ThpBpfAddon {
  return new Proxy(addon, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return new Proxy(value as (...args: unknown[]) => unknown, {
        apply(fn, self, args) {
          calls.push(String(prop));
          return Reflect.apply(fn, self === receiver ? target : self, args);
        },
        construct(ctor, args) {
          calls.push(`new ${String(prop)}`);
          return Reflect.construct(ctor, args) as object;
        },
      });
    },
  });
}

const skip = announceSkip('kernel policy (load, update, attach, restart)', kernelSkipReason(['syscall', 'v7', 'v8', 'v12']));

describe.skipIf(skip)('KernelPolicy on the running kernel', () => {
  let root: PinRoot;
  beforeEach(() => {
    root = makePinRoot('policy');
  });
  afterEach(() => root.cleanup());

  it('passes the verifier, pins maps and program, and decides like the evaluator', () => {
    const policy = load(zgc, 'v12', { pinRoot: root.pinRoot });
    try {
      expect(readdirSync(root.pinRoot).sort()).toEqual([...POLICY_MAPS, PINS.decideProgram].sort());
      const info = testAddon().progInfo(testAddon().objGet(join(root.pinRoot, PINS.decideProgram)));
      expect(info.type).toBe('syscall');
      expect(info.verifiedInsns).toBeGreaterThan(0);
      for (const input of [fault([1000]), fault([1000], 2000), fault([1000], 2001), fault([5, 3000, 1]), fault([7, 8]), fault([])]) {
        const expected = decide(zgc, input);
        expect(policy.decide(input)).toEqual({ decision: expected, hookReturn: toHookReturn(expected, input.requestedOrders, 'v12'), attempts: 1 });
      }
      expect(policy.decide(fault([1000], 2001)).decision).toBe(-2); // gated: pressure 20.01 % > 20 %
      expect(policy.decide(fault([1000], 2000)).decision).toBe(9); // at the threshold: not above
    } finally {
      policy.close();
    }
  });

  it('reads back exactly the tables it wrote; stats hash them slot-independently', () => {
    const policy = load(zgc, 'v8', { pinRoot: root.pinRoot });
    try {
      const back = policy.tables();
      expect({ ...back, cgroupRules: [...back.cgroupRules].sort() }).toEqual({ ...zgc, cgroupRules: [...zgc.cgroupRules].sort() });
      const before = policy.stats();
      expect(before).toMatchObject({ abi: 'v8', activeSlot: 0, seq: 1, generation: 1, rules: 2, cgroupEntries: 3, contentHash: tablesContentHash(zgc) });
      const next = { ...zgc, generation: 2, rules: [...zgc.rules].reverse() };
      expect(policy.update(next)).toMatchObject({ mode: 'switch', slot: 1, seq: 2 });
      expect(policy.update(zgc)).toMatchObject({ mode: 'switch', slot: 0, seq: 3 });
      expect(policy.stats().contentHash).toBe(before.contentHash);
      expect(policy.stats().hook).toEqual({ kernel: policy.kernelHook.hook, attached: false, linkId: null, structOpsMapId: null });
    } finally {
      policy.close();
    }
  });

  it('writes a single cgroup change in place, several through a slot switch, and cleans the old slot', () => {
    const policy = load(zgc, 'v12', { pinRoot: root.pinRoot });
    const addon = testAddon();
    const cgroupsFd = addon.objGet(join(root.pinRoot, 'thp_cgroups'));
    const entries = (): number => {
      let n = 0;
      const key = Buffer.alloc(LAYOUT.thp_cgroup_key.size);
      let prev: Buffer | null = null;
      while (addon.mapGetNextKey(cgroupsFd, prev, key)) {
        n++;
        prev = Buffer.from(key);
      }
      return n;
    };
    try {
      const added = { ...zgc, cgroupRules: new Map([...zgc.cgroupRules, [4000, 0b10]]) };
      expect(policy.update(added)).toEqual({ mode: 'in-place', writes: 2, slot: 0, seq: 2 });
      expect(policy.decide(fault([4000])).decision).toBe(decide(added, fault([4000])));
      expect(entries()).toBe(4);
      const moved = { ...added, generation: 5, cgroupRules: new Map([[4000, 0b01], [5000, 0b10]]) };
      expect(policy.update(moved)).toMatchObject({ mode: 'switch', slot: 1, seq: 3 });
      expect(entries()).toBe(2); // the old slot's four entries are gone
      expect(policy.update(moved)).toEqual({ mode: 'noop', writes: 0, slot: 1, seq: 3 });
      for (const chain of [[1000], [4000], [5000], [9, 5000]]) expect(policy.decide(fault(chain)).decision).toBe(decide(moved, fault(chain)));
    } finally {
      addon.closeFd(cgroupsFd);
      policy.close();
    }
  });

  it('decides on empty tables by the default action alone', () => {
    for (const defaultAction of [DefaultAction.Deny, DefaultAction.Allow, DefaultAction.Unchanged]) {
      const empty: KernelTables = { generation: 1, defaultAction, defaultOrders: 0x3fc, rules: [], cgroupRules: new Map() };
      const policy = load(empty, 'v7', { pinRoot: root.pinRoot });
      try {
        for (const input of [fault([1, 2, 3]), { ...fault([]), requestedOrders: 0x1ff }, { ...fault([9]), requestedOrders: 0 }]) {
          expect(policy.decide(input).decision).toBe(decide(empty, input));
        }
      } finally {
        policy.close();
      }
    }
  });

  it('leaves THP unchanged before any tables were written (seq 0)', () => {
    const addon = testAddon();
    const obj = new addon.BpfObject(objectPath('syscall'), root.pinRoot);
    obj.load();
    obj.pinProgram(PINS.decideProgram, join(root.pinRoot, PINS.decideProgram));
    obj.close();
    const policy = open({ pinRoot: root.pinRoot });
    try {
      expect(policy.stats().seq).toBe(0);
      expect(policy.decide(fault([1000]), 'v7')).toMatchObject({ decision: DECISION_UNCHANGED, hookReturn: -1 });
      expect(policy.decide(fault([1000]), 'v8')).toMatchObject({ decision: DECISION_UNCHANGED, hookReturn: 9 });
      policy.update(zgc);
      expect(policy.decide(fault([1000])).decision).toBe(9);
    } finally {
      policy.close();
    }
  });

  it('refuses to attach or detach the hook before any syscall where the kernel lacks bpf_thp_ops', () => {
    const policy = load(zgc, 'v12', { pinRoot: root.pinRoot });
    policy.close();
    const calls: string[] = [];
    const watched = open({ pinRoot: root.pinRoot, addon: recordingAddon(testAddon(), calls) });
    try {
      if (watched.kernelHook.hook !== 'absent') return; // a hooked kernel attaches in the next test
      calls.length = 0;
      let error: unknown;
      try {
        watched.attach();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BpfBackendError);
      expect(error).toMatchObject({ code: 'HOOK_ABSENT' });
      expect((error as Error).message).toContain('kernel lacks bpf_thp_ops (no struct bpf_thp_ops in /sys/kernel/btf/vmlinux)');
      expect(() => watched.detach()).toThrow(/kernel lacks bpf_thp_ops/);
      expect(calls).toEqual([]); // not one addon (libbpf or bpf()) call was made
      expect(existsSync(join(root.pinRoot, PINS.hookLink))).toBe(false);
    } finally {
      watched.close();
    }
  });

  it('attaches, replaces and detaches the hook where the kernel has it', () => {
    const policy = load(zgc, 'v12', { pinRoot: root.pinRoot });
    try {
      const hook = policy.kernelHook.hook;
      if (hook === 'absent') {
        expect(policy.kernelHook.detail).toMatch(/^kernel lacks bpf_thp_ops/);
        return; // not verifiable here: see struct-ops.spec for the mechanics on tcp_congestion_ops
      }
      policy.update({ ...zgc, generation: 2 });
      const reloaded = load(zgc, hook, { pinRoot: root.pinRoot });
      const first = reloaded.attach();
      expect(first.replaced).toBe(false);
      expect(reloaded.attach().replaced).toBe(true);
      expect(reloaded.stats().hook.attached).toBe(true);
      expect(reloaded.detach()).toBe(true);
      reloaded.close();
    } finally {
      policy.close();
    }
  });

  it('survives a restart: drop every handle, re-open from the pins, same decisions', () => {
    const rng = new Rng(0x5eed);
    const forest = randomForest(rng, 300, 24);
    const tables = randomTables(rng, forest, 42);
    const inputs = Array.from({ length: 2000 }, () => randomInput(rng, forest, tables));
    const first = load(tables, 'v8', { pinRoot: root.pinRoot });
    const before = inputs.map((input) => first.decide(input));
    const hash = first.stats().contentHash;
    first.close(); // every fd of this process is closed; only the pins hold the state

    const again = open({ pinRoot: root.pinRoot });
    try {
      expect(again.abi).toBe('v8');
      expect(inputs.map((input) => again.decide(input))).toEqual(before);
      expect(before.map((d) => d.decision)).toEqual(inputs.map((input) => decide(tables, input)));
      expect(again.stats().contentHash).toBe(hash);
      expect(again.update(tables).mode).toBe('noop'); // it knows what the kernel holds
    } finally {
      again.close();
    }
  });

  it('survives a real process restart: a fresh process opens the pins and decides the same', () => {
    const rng = new Rng(77);
    const forest = randomForest(rng, 200, 20);
    const tables = randomTables(rng, forest, 3);
    const inputs = Array.from({ length: 500 }, () => randomInput(rng, forest, tables));
    load(tables, 'v7', { pinRoot: root.pinRoot }).close();
    const child = spawnSync(
      process.execPath,
      ['--conditions=@thp-fleet/source', '--import', 'tsx', join(PACKAGE_ROOT, 'src', 'restart-child.test-util.ts'), root.pinRoot],
      { input: JSON.stringify(inputs), encoding: 'utf8', cwd: PACKAGE_ROOT, timeout: 60_000 },
    );
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const decided = JSON.parse(child.stdout) as { abi: string; decisions: number[]; returns: number[] };
    expect(decided.abi).toBe('v7');
    expect(decided.decisions).toEqual(inputs.map((input) => decide(tables, input)));
    expect(decided.returns).toEqual(inputs.map((input) => toHookReturn(decide(tables, input), input.requestedOrders, 'v7')));
  });

  it('explains bad tables, bad input, missing pins and foreign layouts', () => {
    expect(() => load({ ...zgc, defaultOrders: -1 }, 'v7', { pinRoot: root.pinRoot })).toThrow(/defaultOrders: must be an integer in 0..4294967295/);
    expect(() => open({ pinRoot: root.pinRoot })).toThrow(/no loaded policy under .*missing pins thp_active/);
    const policy = load(zgc, 'v7', { pinRoot: root.pinRoot });
    try {
      expect(() => policy.decide({ ...fault([1]), pressure: -3 })).toThrow(/pressure: must be an integer/);
      expect(() => policy.setPressure(1.5)).toThrow(BpfBackendError);
      const addon = testAddon();
      const activeFd = addon.objGet(join(root.pinRoot, 'thp_active'));
      addon.mapUpdate(activeFd, Buffer.alloc(4), encodeActive({ slot: 0, layoutVersion: 99, seq: 5, abi: 7 }));
      addon.closeFd(activeFd);
      expect(() => open({ pinRoot: root.pinRoot })).toThrow(expect.objectContaining({ code: 'LAYOUT_MISMATCH' }) as Error);
    } finally {
      policy.close();
    }
    policy.close();
    expect(() => policy.decide(fault([1]))).toThrow(expect.objectContaining({ code: 'CLOSED' }) as Error);
  });

  it('refuses to reuse pinned maps of another layout', () => {
    const addon = testAddon();
    const elsewhere = join(root.pinRoot, 'elsewhere');
    mkdirSync(elsewhere, { recursive: true });
    const obj = new addon.BpfObject(objectPath('syscall'), elsewhere);
    try {
      obj.load();
      // An array with 4-byte values pinned where thp_active (24-byte values) belongs.
      addon.objPin(obj.mapFd('thp_rcu_token'), join(root.pinRoot, 'thp_active'));
    } finally {
      obj.close();
    }
    let error: unknown;
    try {
      load(zgc, 'v7', { pinRoot: root.pinRoot }).close();
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'LAYOUT_MISMATCH' });
    expect((error as Error).message).toContain(`maps pinned under ${root.pinRoot} do not match`);
  });

  it('writes the pressure cell the hook reads', () => {
    const policy = load(zgc, 'v12', { pinRoot: root.pinRoot });
    try {
      policy.setPressure(2345);
      const addon = testAddon();
      const fd = addon.objGet(join(root.pinRoot, 'thp_pressure'));
      const value = Buffer.alloc(LAYOUT.thp_pressure.size);
      addon.mapLookup(fd, Buffer.alloc(4), value);
      addon.closeFd(fd);
      expect(value.readUInt32LE(LAYOUT.thp_pressure.fields.some_avg10)).toBe(2345);
      expect(value.readBigUInt64LE(LAYOUT.thp_pressure.fields.updated_ns)).toBeGreaterThan(0n);
    } finally {
      policy.close();
    }
  });

  it('pins and unpins maps and programs through libbpf', () => {
    const addon = testAddon();
    const obj = new addon.BpfObject(objectPath('syscall'), root.pinRoot);
    try {
      obj.load(); // LIBBPF_PIN_BY_NAME: pinned under the pin root while loading
      expect(POLICY_MAPS.every((name) => existsSync(join(root.pinRoot, name)))).toBe(true);
      obj.unpinMaps(null);
      expect(POLICY_MAPS.some((name) => existsSync(join(root.pinRoot, name)))).toBe(false);
      obj.pinMaps(join(root.pinRoot));
      expect(POLICY_MAPS.every((name) => existsSync(join(root.pinRoot, name)))).toBe(true);
      const pin = join(root.pinRoot, 'calibrate');
      obj.pinProgram('thp_calibrate', pin);
      expect(existsSync(pin)).toBe(true);
      obj.unpinProgram('thp_calibrate', pin);
      expect(existsSync(pin)).toBe(false);
    } finally {
      obj.close();
    }
  });

  it('unpins everything it pinned; destroy() on a fresh load leaves no trace', () => {
    const policy = load(zgc, 'v12', { pinRoot: root.pinRoot });
    policy.destroy();
    expect(existsSync(root.pinRoot)).toBe(false);
    expect(() => KernelPolicy.open({ pinRoot: root.pinRoot })).toThrow(expect.objectContaining({ code: 'PINS_MISSING' }) as Error);
  });
});
