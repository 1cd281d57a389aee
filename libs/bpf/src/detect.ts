/**
 * What this machine can do with the kernel backend: privileges, bpffs, BTF, the THP hook
 * and its ABI (from the kernel's BTF, read through the addon), the addon, clang and the
 * compiled objects. Every "no" comes with the reason in words.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';

import type { HookAbi } from '@thp-fleet/policy';

import { loadAddon, type BtfStructDescription, type ThpBpfAddon } from './addon.js';
import { BPF_FS_MAGIC, DEFAULT_BPFFS, OBJECT_DIR, VMLINUX_BTF, objectPath } from './paths.js';

export type HookDetection = HookAbi | 'absent';

export interface KernelSupport {
  /** Effective uid 0. */
  readonly root: boolean;
  /** From /proc/self/status CapEff: CAP_BPF (39), CAP_PERFMON (38), CAP_SYS_ADMIN (21). */
  readonly capabilities: { readonly bpf: boolean; readonly perfmon: boolean; readonly sysAdmin: boolean };
  readonly bpffs: { readonly path: string; readonly mounted: boolean; readonly detail: string };
  readonly btf: { readonly path: string; readonly present: boolean };
  /** ABI profile of struct bpf_thp_ops in the kernel's BTF, or 'absent'. */
  readonly hook: HookDetection;
  /** Why `hook` is what it is, in words. */
  readonly detail: string;
  readonly addon:
    | { readonly available: true; readonly path: string; readonly libbpf: string }
    | { readonly available: false; readonly reason: string };
  readonly clang: { readonly available: true; readonly version: string } | { readonly available: false; readonly reason: string };
  readonly objects: { readonly available: true; readonly dir: string } | { readonly available: false; readonly reason: string };
}

export interface DetectOptions {
  /** BTF to inspect; default /sys/kernel/btf/vmlinux. Any BTF or ELF-with-BTF file works. */
  readonly btfPath?: string;
  /** Where bpffs should be mounted; default /sys/fs/bpf. */
  readonly bpffsPath?: string;
  /** The addon port; default the built addon. */
  readonly addon?: ThpBpfAddon;
}

/**
 * ABI profile from the layout of `struct bpf_thp_ops` (kernel-interface.md 0.2, 7.1):
 * thp_get_order with 4 parameters is v7; 3 parameters is v8 (v8, v9), or v12 when the
 * struct also has a `pid` member (v10..v12: their BTF is identical, see docs/kernel.md).
 */
export function classifyThpOps(ops: BtfStructDescription | null, btfPath: string): { hook: HookDetection; detail: string } {
  if (ops === null) return { hook: 'absent', detail: `kernel lacks bpf_thp_ops (no struct bpf_thp_ops in ${btfPath})` };
  const callback = ops.members.find((m) => m.name === 'thp_get_order');
  const params = callback?.type.funcParams;
  if (params === undefined)
    return { hook: 'absent', detail: `struct bpf_thp_ops in ${btfPath} has no thp_get_order callback: unknown revision of the series` };
  const hasPid = ops.members.some((m) => m.name === 'pid');
  if (params.length === 4 && !hasPid)
    return { hook: 'v7', detail: `bpf_thp_ops v7: thp_get_order(vma, vma_type, tva_type, orders) in ${btfPath}` };
  if (params.length === 3 && hasPid)
    return { hook: 'v12', detail: `bpf_thp_ops v12: thp_get_order(vma, type, orders) with a pid member in ${btfPath}` };
  if (params.length === 3)
    return { hook: 'v8', detail: `bpf_thp_ops v8: thp_get_order(vma, type, orders) in ${btfPath}` };
  return {
    hook: 'absent',
    detail: `struct bpf_thp_ops in ${btfPath} has thp_get_order with ${params.length} parameters${hasPid ? ' and a pid member' : ''}: unknown revision of the series`,
  };
}

/** Hook ABI from a BTF file through the addon. */
export function detectHook(addon: ThpBpfAddon, btfPath: string): { hook: HookDetection; detail: string } {
  let btf;
  try {
    btf = new addon.Btf(btfPath === VMLINUX_BTF ? null : btfPath);
  } catch (error) {
    return { hook: 'absent', detail: `cannot read BTF ${btfPath}: ${error instanceof Error ? error.message : String(error)}` };
  }
  try {
    return classifyThpOps(btf.describeStruct('bpf_thp_ops'), btfPath);
  } finally {
    btf.close();
  }
}

function effectiveCapabilities(): KernelSupport['capabilities'] {
  try {
    const line = readFileSync('/proc/self/status', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('CapEff:'));
    const caps = BigInt(`0x${line?.split(/\s+/)[1] ?? '0'}`);
    const has = (bit: number): boolean => ((caps >> BigInt(bit)) & 1n) === 1n;
    return { bpf: has(39), perfmon: has(38), sysAdmin: has(21) };
  } catch {
    return { bpf: false, perfmon: false, sysAdmin: false };
  }
}

/** Is `path` (or, if it does not exist yet, its nearest existing ancestor) on a bpf filesystem? */
export function bpffsStatus(path: string): { mounted: boolean; detail: string } {
  let probe = path;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    const type = statfsSync(probe).type;
    if (type === BPF_FS_MAGIC) return { mounted: true, detail: `${probe} is a bpf filesystem` };
    return {
      mounted: false,
      detail: `${probe} is not a bpf filesystem (statfs type 0x${type.toString(16)}); mount one: mount -t bpf bpf ${DEFAULT_BPFFS}`,
    };
  } catch (error) {
    return { mounted: false, detail: `cannot statfs ${probe}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function detectClang(): KernelSupport['clang'] {
  const result = spawnSync(process.env.CLANG ?? 'clang', ['--version'], { encoding: 'utf8' });
  if (result.status === 0) return { available: true, version: result.stdout.split('\n')[0] ?? '' };
  return { available: false, reason: 'clang not found on PATH (needed only to build the BPF objects)' };
}

function detectObjects(): KernelSupport['objects'] {
  const missing = (['syscall', 'v7', 'v8', 'v12'] as const).map((v) => objectPath(v)).filter((p) => !existsSync(p));
  if (missing.length === 0) return { available: true, dir: OBJECT_DIR };
  return { available: false, reason: `BPF objects not built: ${missing.join(', ')} (needs clang and libbpf-dev)` };
}

export function detectKernel(options: DetectOptions = {}): KernelSupport {
  const btfPath = options.btfPath ?? VMLINUX_BTF;
  const bpffsPath = options.bpffsPath ?? DEFAULT_BPFFS;
  const load = options.addon !== undefined ? ({ available: true, addon: options.addon, path: '(injected)' } as const) : loadAddon();
  const btfPresent = existsSync(btfPath);

  let hook: { hook: HookDetection; detail: string };
  if (!btfPresent) hook = { hook: 'absent', detail: `no BTF at ${btfPath}: the kernel was built without CONFIG_DEBUG_INFO_BTF` };
  else if (!load.available) hook = { hook: 'absent', detail: `cannot inspect ${btfPath}: ${load.reason}` };
  else hook = detectHook(load.addon, btfPath);

  return {
    root: process.getuid?.() === 0,
    capabilities: effectiveCapabilities(),
    bpffs: { path: bpffsPath, ...bpffsStatus(bpffsPath) },
    btf: { path: btfPath, present: btfPresent },
    hook: hook.hook,
    detail: hook.detail,
    addon: load.available
      ? { available: true, path: load.path, libbpf: load.addon.libbpfVersion }
      : { available: false, reason: load.reason },
    clang: detectClang(),
    objects: detectObjects(),
  };
}
