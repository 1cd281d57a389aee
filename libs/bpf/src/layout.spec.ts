import { DefaultAction, MAX_CGROUP_DEPTH, MAX_RULES, NO_PRESSURE_GATE, type KernelTables } from '@thp-fleet/policy';
import { describe, expect, it } from 'vitest';

import { kernelSkipReason, announceSkip, testAddon } from './kernel.test-util.js';
import {
  ABI_NUMBER,
  CTX_CHAIN_CAPACITY,
  LAYOUT,
  MAX_CGROUPS,
  SLOTS,
  decodeActive,
  decodeCgroupKey,
  decodeContextChain,
  decodeSlot,
  encodeActive,
  encodeCgroupBatch,
  encodeContext,
  encodeSlot,
  planUpdate,
  validateInput,
  validateTables,
  type KernelState,
} from './layout.js';
import { objectPath } from './paths.js';

const rule = (allowOrders: number) => ({
  ctxMask: 0b11111,
  adviceMask: 0b111,
  allowOrders,
  pressureThreshold: NO_PRESSURE_GATE,
  pressureOrders: 0,
});

const tablesA: KernelTables = {
  generation: 7,
  defaultAction: DefaultAction.Deny,
  defaultOrders: 0,
  rules: [rule(1 << 9), rule(0x3fc)],
  cgroupRules: new Map([
    [100, 0b01],
    [200, 0b10],
    [2 ** 40 + 3, 0b11],
  ]),
};

function state(tables: KernelTables, over: Partial<KernelState> = {}): KernelState {
  return { tables, slot: 0, seq: 3, abi: ABI_NUMBER.v12, staleInactive: [], ...over };
}

describe('map value encoding', () => {
  it('round-trips a slot: header, every rule, zeros after rule_count', () => {
    const buf = encodeSlot(tablesA);
    expect(buf.length).toBe(LAYOUT.thp_slot.size);
    const back = decodeSlot(buf);
    expect(back).toEqual({ generation: 7, defaultAction: 0, defaultOrders: 0, rules: tablesA.rules });
    const afterRules = LAYOUT.thp_slot.fields.rules + tablesA.rules.length * LAYOUT.thp_rule.size;
    expect(buf.subarray(afterRules).every((b) => b === 0)).toBe(true);
  });

  it('keeps u64 cgroup ids and generations above 2^32 exact', () => {
    const { keys, values } = encodeCgroupBatch([[2 ** 40 + 3, 0xffffffff]], 1);
    expect(decodeCgroupKey(keys, 0)).toEqual({ cgroupId: 2 ** 40 + 3, slot: 1 });
    expect(values.readUInt32LE(0)).toBe(0xffffffff);
    expect(decodeSlot(encodeSlot({ ...tablesA, generation: 2 ** 50 + 1 })).generation).toBe(2 ** 50 + 1);
    expect(decodeActive(encodeActive({ slot: 1, layoutVersion: 1, seq: 2 ** 33 + 5, abi: 8 }))).toEqual({
      slot: 1,
      layoutVersion: 1,
      seq: 2 ** 33 + 5,
      abi: 8,
    });
  });

  it('puts at most CTX_CHAIN_CAPACITY chain entries in the context, with depth', () => {
    const ctx = Buffer.alloc(LAYOUT.thp_decide_ctx.size, 0xff);
    const chain = Array.from({ length: 40 }, (_, i) => i + 1);
    encodeContext(ctx, { cgroupChain: chain, tva: 1, advice: 2, requestedOrders: 0x200, pressure: 2000 }, 'v8');
    expect(decodeContextChain(ctx)).toEqual(chain.slice(0, CTX_CHAIN_CAPACITY));
    const f = LAYOUT.thp_decide_ctx.fields;
    expect([ctx.readUInt32LE(f.tva), ctx.readUInt32LE(f.advice), ctx.readUInt32LE(f.requested)]).toEqual([1, 2, 0x200]);
    expect([ctx.readUInt32LE(f.pressure), ctx.readUInt32LE(f.abi), ctx.readInt32LE(f.out_decision)]).toEqual([2000, 8, 0]);
  });
});

describe('validation', () => {
  it('lists every problem of bad tables with its path', () => {
    const bad = {
      generation: -1,
      defaultAction: 5,
      defaultOrders: 2 ** 32,
      rules: Array.from({ length: MAX_RULES + 1 }, () => rule(1)).map((r, i) => (i === 3 ? { ...r, ctxMask: 1.5 } : r)),
      cgroupRules: new Map([[-4, 1], [9, -1]]),
    } as unknown as KernelTables;
    const paths = validateTables(bad).map((i) => i.path);
    expect(paths).toEqual(['generation', 'defaultAction', 'defaultOrders', 'rules', 'rules[3].ctxMask', 'cgroupRules[-4]', 'cgroupRules[9]']);
  });

  it('accepts valid tables and rejects bad input fields by name', () => {
    expect(validateTables(tablesA)).toEqual([]);
    const issues = validateInput({ cgroupChain: [1, -2], tva: 0, advice: 0.5, requestedOrders: -1, pressure: 2 ** 32 } as never);
    expect(issues.map((i) => i.path)).toEqual(['cgroupChain[1]', 'advice', 'requestedOrders', 'pressure']);
  });
});

describe('planUpdate', () => {
  const kinds = (plan: ReturnType<typeof planUpdate>) => plan.writes.map((w) => w.kind);

  it('writes the first tables as a switch to slot 0 (nothing is read before seq 1)', () => {
    const fresh = state({ ...tablesA, rules: [], cgroupRules: new Map() }, { slot: 1, seq: 0, abi: 0 });
    const plan = planUpdate(fresh, tablesA, 'v12');
    expect(plan.mode).toBe('switch');
    expect(kinds(plan)).toEqual(['slot', 'cgroups', 'flip', 'rcu-sync', 'slot-clear']);
    expect(plan.writes[2]).toEqual({ kind: 'flip', slot: 0, seq: 1, abi: 12 });
  });

  it('does nothing when nothing differs', () => {
    expect(planUpdate(state(tablesA), tablesA, 'v12')).toEqual({ mode: 'noop', writes: [] });
  });

  it('writes a single cgroup add, change or removal in place, then bumps seq on the same slot', () => {
    const add = planUpdate(state(tablesA), { ...tablesA, cgroupRules: new Map([...tablesA.cgroupRules, [300, 1]]) }, 'v12');
    expect(add).toEqual({
      mode: 'in-place',
      writes: [
        { kind: 'cgroups', slot: 0, entries: [[300, 1]] },
        { kind: 'flip', slot: 0, seq: 4, abi: 12 },
      ],
    });
    const removed = new Map(tablesA.cgroupRules);
    removed.delete(200);
    const del = planUpdate(state(tablesA, { slot: 1 }), { ...tablesA, cgroupRules: removed }, 'v12');
    expect(del).toEqual({
      mode: 'in-place',
      writes: [
        { kind: 'cgroups-delete', slot: 1, ids: [200] },
        { kind: 'flip', slot: 1, seq: 4, abi: 12 },
      ],
    });
    const changed = planUpdate(state(tablesA), { ...tablesA, generation: 8, cgroupRules: new Map([...tablesA.cgroupRules, [100, 0b11]]) }, 'v12');
    expect(kinds(changed)).toEqual(['cgroups', 'slot', 'flip']);
  });

  it('switches slots for two cgroup changes, any rule change, a new ABI or stale entries', () => {
    const two = new Map([...tablesA.cgroupRules, [300, 1], [400, 2]]);
    expect(planUpdate(state(tablesA), { ...tablesA, cgroupRules: two }, 'v12').mode).toBe('switch');
    expect(planUpdate(state(tablesA), { ...tablesA, rules: [rule(1 << 9)] }, 'v12').mode).toBe('switch');
    expect(planUpdate(state(tablesA), { ...tablesA, defaultAction: DefaultAction.Allow }, 'v12').mode).toBe('switch');
    expect(planUpdate(state(tablesA), tablesA, 'v8').mode).toBe('switch');
    const stale = planUpdate(state(tablesA, { staleInactive: [5, 6] }), tablesA, 'v12');
    expect(stale.mode).toBe('switch');
    expect(stale.writes[0]).toEqual({ kind: 'cgroups-delete', slot: 1, ids: [5, 6] });
  });

  it('orders a switch: new slot complete before the flip, old slot cleaned after readers are gone', () => {
    const next = { ...tablesA, generation: 8, rules: [rule(1 << 9)] };
    const plan = planUpdate(state(tablesA, { slot: 1, seq: 9 }), next, 'v7');
    expect(plan.writes).toEqual([
      { kind: 'slot', slot: 0, tables: next },
      { kind: 'cgroups', slot: 0, entries: [...next.cgroupRules] },
      { kind: 'flip', slot: 0, seq: 10, abi: 7 },
      { kind: 'rcu-sync' },
      { kind: 'cgroups-delete', slot: 1, ids: [...tablesA.cgroupRules.keys()] },
      { kind: 'slot-clear', slot: 1 },
    ]);
  });
});

const skip = announceSkip('layout vs compiled BTF', kernelSkipReason(['syscall', 'probe']));

describe.skipIf(skip)('layout vs the compiled objects (BTF of build/bpf)', () => {
  function structs(object: string): Map<string, { size: number; offsets: Record<string, number> }> {
    const btf = new (testAddon().Btf)(object);
    try {
      const out = new Map<string, { size: number; offsets: Record<string, number> }>();
      for (const name of Object.keys(LAYOUT)) {
        const d = btf.describeStruct(name);
        if (d === null) continue;
        out.set(name, { size: d.size, offsets: Object.fromEntries(d.members.map((m) => [m.name, m.bitOffset / 8])) });
      }
      return out;
    } finally {
      btf.close();
    }
  }

  it('matches every struct of thp_layout.h byte for byte', () => {
    const found = new Map([...structs(objectPath('syscall')), ...structs(objectPath('probe'))]);
    expect([...found.keys()].sort()).toEqual(Object.keys(LAYOUT).sort());
    for (const [name, layout] of Object.entries(LAYOUT)) {
      expect({ name, size: found.get(name)?.size, offsets: found.get(name)?.offsets }).toEqual({ name, size: layout.size, offsets: layout.fields });
    }
  });

  it('declares the maps with the sizes the loader writes', () => {
    const obj = new (testAddon().BpfObject)(objectPath('syscall'), null);
    try {
      const maps = Object.fromEntries(obj.maps().map((m) => [m.name, m]));
      expect(maps.thp_active).toMatchObject({ type: 'array', keySize: 4, valueSize: LAYOUT.thp_active.size, maxEntries: 1 });
      expect(maps.thp_slots).toMatchObject({ type: 'array', keySize: 4, valueSize: LAYOUT.thp_slot.size, maxEntries: SLOTS });
      expect(maps.thp_cgroups).toMatchObject({ type: 'hash', keySize: LAYOUT.thp_cgroup_key.size, valueSize: 4, maxEntries: SLOTS * MAX_CGROUPS });
      expect(maps.thp_pressure).toMatchObject({ type: 'array', valueSize: LAYOUT.thp_pressure.size, maxEntries: 1 });
      expect(maps.thp_rcu_sync).toMatchObject({ type: 'array_of_maps', maxEntries: 1 });
      expect(LAYOUT.thp_probe_entry.size).toBe(24 + MAX_CGROUP_DEPTH * 8);
    } finally {
      obj.close();
    }
  });
});
