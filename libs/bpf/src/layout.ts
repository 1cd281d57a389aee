/**
 * The bytes of every BPF map value and of the syscall program's context, mirrored from
 * bpf/thp_layout.h (layout.spec.ts checks each struct against the compiled object's BTF),
 * plus the pure parts of table handling: validation, encoding, decoding, and the plan of
 * map writes that turns the tables in the kernel into new ones.
 *
 * Nothing here touches the kernel; kernel-policy.ts executes what this module plans.
 */
import {
  DefaultAction,
  MAX_CGROUP_DEPTH,
  MAX_RULES,
  type CompiledRule,
  type HookAbi,
  type HookInput,
  type KernelTables,
} from '@thp-fleet/policy';

/** thp_layout.h THP_LAYOUT_VERSION: stored in thp_active; a mismatch refuses to open pins. */
export const LAYOUT_VERSION = 1;
export const SLOTS = 2;
/** cgroup ids per slot (thp_layout.h THP_MAX_CGROUPS). */
export const MAX_CGROUPS = 65536;
/** Chain entries the syscall context carries: twice the walk bound, so the bound is the program's. */
export const CTX_CHAIN_CAPACITY = 32;
/** ctx.flags: resolve the chain from the calling task instead of reading it. */
export const CTX_CURRENT_TASK = 1;

/** Hook ABI numbers in the context (thp_layout.h THP_ABI_*). */
export const ABI_NUMBER: Readonly<Record<HookAbi, number>> = { v7: 7, v8: 8, v12: 12 };

/** Byte offsets of each struct, as in thp_layout.h. */
export const LAYOUT = {
  thp_active: { size: 24, fields: { slot: 0, layout_version: 4, seq: 8, abi: 16, reserved: 20 } },
  thp_rule: {
    size: 20,
    fields: { ctx_mask: 0, advice_mask: 4, allow_orders: 8, pressure_threshold: 12, pressure_orders: 16 },
  },
  thp_slot: {
    size: 24 + MAX_RULES * 20,
    fields: { generation: 0, default_action: 8, default_orders: 12, rule_count: 16, reserved: 20, rules: 24 },
  },
  thp_cgroup_key: { size: 16, fields: { cgroup_id: 0, slot: 8, reserved: 12 } },
  thp_pressure: { size: 16, fields: { some_avg10: 0, reserved: 4, updated_ns: 8 } },
  thp_decide_ctx: {
    size: 296,
    fields: {
      chain: 0,
      depth: 256,
      tva: 260,
      advice: 264,
      requested: 268,
      pressure: 272,
      abi: 276,
      flags: 280,
      out_decision: 284,
      out_return: 288,
      out_attempts: 292,
    },
  },
  thp_memo: {
    size: 32 + MAX_CGROUP_DEPTH * 8,
    fields: { gen: 0, seq: 8, slot: 16, depth: 20, rule_set: 24, reserved: 28, chain: 32 },
  },
  thp_probe_entry: {
    size: 24 + MAX_CGROUP_DEPTH * 8,
    fields: { calls: 0, last_decision: 8, last_return: 12, last_pressure: 16, depth: 20, chain: 24 },
  },
} as const;

/** thp_layout.h THP_CTR_*: per-CPU counters the hook programs keep. */
export const COUNTER = { orderBase: 0, deny: 19, unchanged: 20, noCgroup: 21, retry: 22, calls: 23, count: 24 } as const;

const U32_MAX = 0xffffffff;
const TWO_32 = 0x1_0000_0000;

/** A problem with a value given to this package: `path` says where, `message` what. */
export interface LayoutIssue {
  readonly path: string;
  readonly message: string;
}

function isU32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= U32_MAX;
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Every reason the tables cannot be written to the maps (empty when they can). */
export function validateTables(tables: KernelTables): LayoutIssue[] {
  const issues: LayoutIssue[] = [];
  const u32 = (path: string, value: unknown): void => {
    if (!isU32(value)) issues.push({ path, message: `must be an integer in 0..${U32_MAX}, got ${String(value)}` });
  };
  if (!isId(tables.generation))
    issues.push({ path: 'generation', message: `must be a non-negative safe integer, got ${String(tables.generation)}` });
  if (!Object.values(DefaultAction).includes(tables.defaultAction))
    issues.push({ path: 'defaultAction', message: `must be 0 (deny), 1 (allow) or 2 (unchanged), got ${String(tables.defaultAction)}` });
  u32('defaultOrders', tables.defaultOrders);
  if (tables.rules.length > MAX_RULES)
    issues.push({ path: 'rules', message: `has ${tables.rules.length} rules; at most ${MAX_RULES} fit a rule set` });
  tables.rules.forEach((rule, i) => {
    u32(`rules[${i}].ctxMask`, rule.ctxMask);
    u32(`rules[${i}].adviceMask`, rule.adviceMask);
    u32(`rules[${i}].allowOrders`, rule.allowOrders);
    u32(`rules[${i}].pressureThreshold`, rule.pressureThreshold);
    u32(`rules[${i}].pressureOrders`, rule.pressureOrders);
  });
  if (tables.cgroupRules.size > MAX_CGROUPS)
    issues.push({ path: 'cgroupRules', message: `has ${tables.cgroupRules.size} cgroups; the map holds ${MAX_CGROUPS} per slot` });
  for (const [id, ruleSet] of tables.cgroupRules) {
    if (!isId(id)) issues.push({ path: `cgroupRules[${String(id)}]`, message: 'cgroup id must be a non-negative safe integer' });
    u32(`cgroupRules[${String(id)}]`, ruleSet);
  }
  return issues;
}

/** Every reason the input cannot be put in the syscall context (empty when it can). */
export function validateInput(input: HookInput): LayoutIssue[] {
  if (inputIsValid(input)) return [];
  const issues: LayoutIssue[] = [];
  const u32 = (path: string, value: unknown): void => {
    if (!isU32(value)) issues.push({ path, message: `must be an integer in 0..${U32_MAX}, got ${String(value)}` });
  };
  const chain = input.cgroupChain;
  const n = Math.min(chain.length, CTX_CHAIN_CAPACITY);
  for (let i = 0; i < n; i++) {
    if (!isId(chain[i])) issues.push({ path: `cgroupChain[${i}]`, message: `must be a non-negative safe integer, got ${String(chain[i])}` });
  }
  u32('tva', input.tva);
  u32('advice', input.advice);
  u32('requestedOrders', input.requestedOrders);
  u32('pressure', input.pressure);
  return issues;
}

/** The allocation-free check decide() runs on every call; validateInput explains a failure. */
export function inputIsValid(input: HookInput): boolean {
  const chain = input.cgroupChain;
  const n = chain.length < CTX_CHAIN_CAPACITY ? chain.length : CTX_CHAIN_CAPACITY;
  for (let i = 0; i < n; i++) if (!isId(chain[i])) return false;
  return isU32(input.tva) && isU32(input.advice) && isU32(input.requestedOrders) && isU32(input.pressure);
}

function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}

function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * TWO_32;
}

/** thp_slot value of a generation of tables (rules past rule_count are zero). */
export function encodeSlot(tables: KernelTables): Buffer {
  const { fields } = LAYOUT.thp_slot;
  const buf = Buffer.alloc(LAYOUT.thp_slot.size);
  writeU64(buf, fields.generation, tables.generation);
  buf.writeUInt32LE(tables.defaultAction, fields.default_action);
  buf.writeUInt32LE(tables.defaultOrders, fields.default_orders);
  buf.writeUInt32LE(tables.rules.length, fields.rule_count);
  const r = LAYOUT.thp_rule.fields;
  tables.rules.forEach((rule, i) => {
    const at = fields.rules + i * LAYOUT.thp_rule.size;
    buf.writeUInt32LE(rule.ctxMask, at + r.ctx_mask);
    buf.writeUInt32LE(rule.adviceMask, at + r.advice_mask);
    buf.writeUInt32LE(rule.allowOrders, at + r.allow_orders);
    buf.writeUInt32LE(rule.pressureThreshold, at + r.pressure_threshold);
    buf.writeUInt32LE(rule.pressureOrders, at + r.pressure_orders);
  });
  return buf;
}

/** The header and rules of a slot value; cgroupRules come from the hash map. */
export interface SlotContent {
  readonly generation: number;
  readonly defaultAction: DefaultAction;
  readonly defaultOrders: number;
  readonly rules: readonly CompiledRule[];
}

export function decodeSlot(buf: Buffer): SlotContent {
  const { fields } = LAYOUT.thp_slot;
  const ruleCount = Math.min(buf.readUInt32LE(fields.rule_count), MAX_RULES);
  const r = LAYOUT.thp_rule.fields;
  const rules: CompiledRule[] = [];
  for (let i = 0; i < ruleCount; i++) {
    const at = fields.rules + i * LAYOUT.thp_rule.size;
    rules.push({
      ctxMask: buf.readUInt32LE(at + r.ctx_mask),
      adviceMask: buf.readUInt32LE(at + r.advice_mask),
      allowOrders: buf.readUInt32LE(at + r.allow_orders),
      pressureThreshold: buf.readUInt32LE(at + r.pressure_threshold),
      pressureOrders: buf.readUInt32LE(at + r.pressure_orders),
    });
  }
  return {
    generation: readU64(buf, fields.generation),
    defaultAction: buf.readUInt32LE(fields.default_action) as DefaultAction,
    defaultOrders: buf.readUInt32LE(fields.default_orders),
    rules,
  };
}

export function encodeCgroupKey(buf: Buffer, offset: number, cgroupId: number, slot: number): void {
  writeU64(buf, offset + LAYOUT.thp_cgroup_key.fields.cgroup_id, cgroupId);
  buf.writeUInt32LE(slot, offset + LAYOUT.thp_cgroup_key.fields.slot);
  buf.writeUInt32LE(0, offset + LAYOUT.thp_cgroup_key.fields.reserved);
}

export function decodeCgroupKey(buf: Buffer, offset: number): { cgroupId: number; slot: number } {
  return {
    cgroupId: readU64(buf, offset + LAYOUT.thp_cgroup_key.fields.cgroup_id),
    slot: buf.readUInt32LE(offset + LAYOUT.thp_cgroup_key.fields.slot),
  };
}

/** Keys and values for a batch write of cgroup entries into one slot. */
export function encodeCgroupBatch(entries: readonly (readonly [number, number])[], slot: number): { keys: Buffer; values: Buffer } {
  const keys = Buffer.alloc(entries.length * LAYOUT.thp_cgroup_key.size);
  const values = Buffer.alloc(entries.length * 4);
  entries.forEach(([id, ruleSet], i) => {
    encodeCgroupKey(keys, i * LAYOUT.thp_cgroup_key.size, id, slot);
    values.writeUInt32LE(ruleSet, i * 4);
  });
  return { keys, values };
}

export interface ActiveCell {
  readonly slot: number;
  readonly layoutVersion: number;
  readonly seq: number;
  /** ABI number (ABI_NUMBER) the loader targets; 0 before the first write. */
  readonly abi: number;
}

export function encodeActive(cell: ActiveCell): Buffer {
  const buf = Buffer.alloc(LAYOUT.thp_active.size);
  buf.writeUInt32LE(cell.slot, LAYOUT.thp_active.fields.slot);
  buf.writeUInt32LE(cell.layoutVersion, LAYOUT.thp_active.fields.layout_version);
  writeU64(buf, LAYOUT.thp_active.fields.seq, cell.seq);
  buf.writeUInt32LE(cell.abi, LAYOUT.thp_active.fields.abi);
  return buf;
}

export function decodeActive(buf: Buffer): ActiveCell {
  return {
    slot: buf.readUInt32LE(LAYOUT.thp_active.fields.slot),
    layoutVersion: buf.readUInt32LE(LAYOUT.thp_active.fields.layout_version),
    seq: readU64(buf, LAYOUT.thp_active.fields.seq),
    abi: buf.readUInt32LE(LAYOUT.thp_active.fields.abi),
  };
}

export function encodePressure(someAvg10: number, updatedNs: bigint): Buffer {
  const buf = Buffer.alloc(LAYOUT.thp_pressure.size);
  buf.writeUInt32LE(someAvg10, LAYOUT.thp_pressure.fields.some_avg10);
  buf.writeBigUInt64LE(updatedNs, LAYOUT.thp_pressure.fields.updated_ns);
  return buf;
}

/** Fills a syscall-program context in place (the same buffer is reused call after call). */
export function encodeContext(ctx: Buffer, input: HookInput, abi: HookAbi, flags = 0): void {
  encodeContextWords(new Uint32Array(ctx.buffer, ctx.byteOffset, LAYOUT.thp_decide_ctx.size / 4), input, abi, flags);
}

/** encodeContext on a u32 view of the context (4-byte aligned): the per-decision fast path. */
export function encodeContextWords(words: Uint32Array, input: HookInput, abi: HookAbi, flags = 0): void {
  const f = LAYOUT.thp_decide_ctx.fields;
  const chain = input.cgroupChain;
  const depth = chain.length < CTX_CHAIN_CAPACITY ? chain.length : CTX_CHAIN_CAPACITY;
  let i = 0;
  for (; i < depth; i++) {
    const id = chain[i] ?? 0;
    words[2 * i] = id >>> 0; // low half (ToUint32 takes the value modulo 2^32)
    words[2 * i + 1] = Math.floor(id / TWO_32);
  }
  for (; i < CTX_CHAIN_CAPACITY; i++) {
    words[2 * i] = 0;
    words[2 * i + 1] = 0;
  }
  words[f.depth / 4] = depth;
  words[f.tva / 4] = input.tva;
  words[f.advice / 4] = input.advice;
  words[f.requested / 4] = input.requestedOrders;
  words[f.pressure / 4] = input.pressure;
  words[f.abi / 4] = ABI_NUMBER[abi];
  words[f.flags / 4] = flags;
  words[f.out_decision / 4] = 0;
  words[f.out_return / 4] = 0;
  words[f.out_attempts / 4] = 0;
}

export function decodeContextChain(ctx: Buffer): number[] {
  const f = LAYOUT.thp_decide_ctx.fields;
  const depth = Math.min(ctx.readUInt32LE(f.depth), CTX_CHAIN_CAPACITY);
  const chain: number[] = [];
  for (let i = 0; i < depth; i++) chain.push(readU64(ctx, f.chain + i * 8));
  return chain;
}

export interface ProbeEntry {
  readonly calls: number;
  readonly decision: number;
  readonly hookReturn: number;
  readonly pressure: number;
  readonly chain: readonly number[];
}

export function decodeProbeEntry(buf: Buffer): ProbeEntry {
  const f = LAYOUT.thp_probe_entry.fields;
  const depth = Math.min(buf.readUInt32LE(f.depth), MAX_CGROUP_DEPTH);
  const chain: number[] = [];
  for (let i = 0; i < depth; i++) chain.push(readU64(buf, f.chain + i * 8));
  return {
    calls: readU64(buf, f.calls),
    decision: buf.readInt32LE(f.last_decision),
    hookReturn: buf.readInt32LE(f.last_return),
    pressure: buf.readUInt32LE(f.last_pressure),
    chain,
  };
}

export function encodeU64Key(value: number): Buffer {
  const buf = Buffer.alloc(8);
  writeU64(buf, 0, value);
  return buf;
}

// ---------------------------------------------------------------- update planning

/**
 * What is in the maps now: the active slot's tables and the flip counter. Before the first
 * flip (seq 0) `slot` is 1, so that the first switch writes slot 0, and everything found in
 * slot 0 is stale.
 */
export interface KernelState {
  readonly tables: KernelTables;
  readonly slot: number;
  readonly seq: number;
  /** ABI number in the active cell. */
  readonly abi: number;
  /** cgroup ids left in the inactive slot (an update interrupted before its cleanup). */
  readonly staleInactive: readonly number[];
}

/** One map write; an update is a list of them, executed in order. */
export type MapWrite =
  | { readonly kind: 'slot'; readonly slot: number; readonly tables: KernelTables }
  | { readonly kind: 'cgroups'; readonly slot: number; readonly entries: readonly (readonly [number, number])[] }
  | { readonly kind: 'cgroups-delete'; readonly slot: number; readonly ids: readonly number[] }
  | { readonly kind: 'flip'; readonly slot: number; readonly seq: number; readonly abi: number }
  | { readonly kind: 'rcu-sync' }
  | { readonly kind: 'slot-clear'; readonly slot: number };

export interface UpdatePlan {
  /**
   * noop: nothing differs. in-place: at most one cgroup entry differs (one atomic hash
   * write; the header rewrite, if the generation changed, rewrites identical rule bytes),
   * then the active cell is rewritten with the same slot and the next seq.
   * switch: write the inactive slot, flip, wait out readers, clean the old slot.
   */
  readonly mode: 'noop' | 'in-place' | 'switch';
  readonly writes: readonly MapWrite[];
}

function sameRules(a: readonly CompiledRule[], b: readonly CompiledRule[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((r, i) => {
    const s = b[i];
    return (
      s !== undefined &&
      r.ctxMask === s.ctxMask &&
      r.adviceMask === s.adviceMask &&
      r.allowOrders === s.allowOrders &&
      r.pressureThreshold === s.pressureThreshold &&
      r.pressureOrders === s.pressureOrders
    );
  });
}

/**
 * The map writes that take the kernel from `current` to `next`.
 *
 * Several cgroup changes are never written in place: a chain can contain two of them
 * (a parent removed, a child added) and a reader between the writes would see neither
 * policy. So anything beyond one cgroup entry goes through a slot switch. Before the first
 * flip (seq 0) the programs read nothing, so the first write is always a switch.
 */
export function planUpdate(current: KernelState, next: KernelTables, abi: HookAbi): UpdatePlan {
  const cur = current.tables;
  const headerSame =
    cur.defaultAction === next.defaultAction && cur.defaultOrders === next.defaultOrders && sameRules(cur.rules, next.rules);
  if (current.seq > 0 && current.abi === ABI_NUMBER[abi] && headerSame && current.staleInactive.length === 0) {
    const changed: [number, number | undefined][] = [];
    for (const [id, ruleSet] of next.cgroupRules) if (cur.cgroupRules.get(id) !== ruleSet) changed.push([id, ruleSet]);
    for (const id of cur.cgroupRules.keys()) if (!next.cgroupRules.has(id)) changed.push([id, undefined]);
    const generationSame = cur.generation === next.generation;
    if (changed.length === 0 && generationSame) return { mode: 'noop', writes: [] };
    if (changed.length <= 1) {
      const writes: MapWrite[] = [];
      const change = changed[0];
      if (change !== undefined) {
        const [id, ruleSet] = change;
        writes.push(
          ruleSet === undefined
            ? { kind: 'cgroups-delete', slot: current.slot, ids: [id] }
            : { kind: 'cgroups', slot: current.slot, entries: [[id, ruleSet]] },
        );
      }
      if (!generationSame) writes.push({ kind: 'slot', slot: current.slot, tables: next });
      // Same slot, next seq: invalidates the programs' per-CPU walk memo (and makes a
      // reader that overlapped the write decide again).
      writes.push({ kind: 'flip', slot: current.slot, seq: current.seq + 1, abi: ABI_NUMBER[abi] });
      return { mode: 'in-place', writes };
    }
  }

  const oldSlot = current.slot;
  const newSlot = 1 - oldSlot;
  const writes: MapWrite[] = [];
  if (current.staleInactive.length > 0) writes.push({ kind: 'cgroups-delete', slot: newSlot, ids: current.staleInactive });
  writes.push({ kind: 'slot', slot: newSlot, tables: next });
  if (next.cgroupRules.size > 0) writes.push({ kind: 'cgroups', slot: newSlot, entries: [...next.cgroupRules] });
  writes.push({ kind: 'flip', slot: newSlot, seq: current.seq + 1, abi: ABI_NUMBER[abi] });
  writes.push({ kind: 'rcu-sync' });
  if (cur.cgroupRules.size > 0) writes.push({ kind: 'cgroups-delete', slot: oldSlot, ids: [...cur.cgroupRules.keys()] });
  writes.push({ kind: 'slot-clear', slot: oldSlot });
  return { mode: 'switch', writes };
}
