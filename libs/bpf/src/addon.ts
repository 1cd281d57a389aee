/**
 * Types of the N-API addon (native/addon.cc) and its loader. The addon is a thin layer
 * over libbpf: fds are plain numbers, keys and values are Buffers, failures are Errors
 * with errno/op/log (see errors.ts kernelError).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

import { BpfBackendError } from './errors.js';
import { ADDON_PATH } from './paths.js';

export interface MapDescription {
  readonly name: string;
  readonly type: string;
  readonly fd: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly pinPath: string | null;
  readonly pinned: boolean;
}

export interface ProgramDescription {
  readonly name: string;
  readonly section: string;
  readonly type: string;
  readonly fd: number;
}

/** An opened (and, after load(), loaded) libbpf bpf_object. */
export interface BpfObjectHandle {
  load(): void;
  setMapFlags(mapName: string, flags: number): void;
  maps(): MapDescription[];
  programs(): ProgramDescription[];
  mapFd(mapName: string): number;
  programFd(programName: string): number;
  pinProgram(programName: string, path: string): void;
  unpinProgram(programName: string, path: string): void;
  /** bpf_object__pin_maps: under dir/<map name>, or (null) at each map's pin path. */
  pinMaps(dir: string | null): void;
  /** bpf_object__unpin_maps, the same paths. */
  unpinMaps(dir: string | null): void;
  /** Registers a BPF_F_LINK struct_ops map; returns the link fd (caller owns it). */
  attachStructOps(mapName: string): number;
  /** bpf_link__update_map: points the pinned struct_ops link at this object's map. */
  updateStructOpsLink(linkPinPath: string, mapName: string): void;
  /** bpf_program__attach by section; returns the link fd (caller owns it). */
  attachProgram(programName: string): number;
  close(): void;
}

export interface BtfTypeRef {
  readonly kind: string;
  readonly name: string;
  readonly size?: number;
  readonly length?: number;
  readonly element?: BtfTypeRef;
  readonly targetKind?: string;
  readonly targetName?: string;
  /** For a pointer to a function prototype: its parameters. */
  readonly funcParams?: readonly { readonly name: string; readonly kind: string; readonly typeName: string }[];
}

export interface BtfStructDescription {
  readonly id: number;
  readonly size: number;
  readonly members: readonly { readonly name: string; readonly bitOffset: number; readonly type: BtfTypeRef }[];
}

export interface BtfHandle {
  /** Type id, or -1 when absent. kind: struct, enum, func, typedef, ... */
  findType(name: string, kind: string): number;
  describeStruct(name: string): BtfStructDescription | null;
  enumValues(name: string): { readonly name: string; readonly value: number }[] | null;
  typeCount(): number;
  close(): void;
}

export interface ProgInfo {
  readonly id: number;
  readonly type: string;
  readonly name: string;
  readonly tag: string;
  readonly runTimeNs: bigint;
  readonly runCnt: bigint;
  readonly recursionMisses: bigint;
  readonly verifiedInsns: number;
  readonly xlatedLen: number;
  readonly jitedLen: number;
  readonly loadTime: bigint;
  readonly btfId: number;
}

export interface MapInfo {
  readonly id: number;
  readonly type: string;
  readonly name: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly btfVmlinuxValueTypeId: number;
}

export interface LinkInfo {
  readonly id: number;
  readonly type: number;
  readonly progId: number;
  readonly structOpsMapId: number;
}

export interface ThpBpfAddon {
  readonly libbpfVersion: string;
  readonly BpfObject: new (path: string, pinRoot: string | null) => BpfObjectHandle;
  /** null: the running kernel's BTF (btf__load_vmlinux_btf); else a BTF or ELF file. */
  readonly Btf: new (path: string | null) => BtfHandle;
  objGet(path: string): number;
  objPin(fd: number, path: string): void;
  closeFd(fd: number): void;
  mapLookup(fd: number, key: Buffer, valueOut: Buffer): boolean;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags?: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  mapGetNextKey(fd: number, key: Buffer | null, nextOut: Buffer): boolean;
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number, flags?: number): number;
  mapDeleteBatch(fd: number, keys: Buffer, count: number): number;
  mapLookupBatch(
    fd: number,
    keysOut: Buffer,
    valuesOut: Buffer,
    tokenIn: Buffer | null,
    tokenOut: Buffer,
    count: number,
  ): { count: number; done: boolean };
  /** BPF_PROG_TEST_RUN; the ctx buffer is updated in place; returns the program's retval. */
  progTestRun(fd: number, ctx: Buffer): number;
  progInfo(fd: number): ProgInfo;
  mapInfo(fd: number): MapInfo;
  linkInfo(fd: number): LinkInfo;
  progGetFdById(id: number): number;
  mapGetFdById(id: number): number;
  linkUpdateMap(linkFd: number, newMapFd: number, oldMapFd?: number): void;
  linkDetach(linkFd: number): void;
  mountBpffs(path: string): void;
  unmount(path: string): void;
  enableStats(): number;
  numPossibleCpus(): number;
  objectIds(kind: 'prog' | 'map' | 'link'): number[];
}

export type AddonLoad =
  | { readonly available: true; readonly addon: ThpBpfAddon; readonly path: string }
  | { readonly available: false; readonly reason: string };

let cached: AddonLoad | undefined;

/** Loads build/Release/thp_bpf.node once; says why when it cannot. */
export function loadAddon(): AddonLoad {
  if (cached !== undefined) return cached;
  if (!existsSync(ADDON_PATH)) {
    cached = {
      available: false,
      reason: `addon not built (${ADDON_PATH} missing; it builds where libbpf headers exist: apt install libbpf-dev, then node libs/bpf/scripts/build.mjs)`,
    };
    return cached;
  }
  try {
    const require = createRequire(import.meta.url);
    cached = { available: true, addon: require(ADDON_PATH) as ThpBpfAddon, path: ADDON_PATH };
  } catch (error) {
    cached = {
      available: false,
      reason: `addon at ${ADDON_PATH} failed to load: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  return cached;
}

/** The injected addon, or the built one; ADDON_UNAVAILABLE (with the reason) when neither. */
export function requireAddonPort(addon: ThpBpfAddon | undefined): ThpBpfAddon {
  if (addon !== undefined) return addon;
  const load = loadAddon();
  if (!load.available) throw new BpfBackendError('ADDON_UNAVAILABLE', `kernel backend unavailable: ${load.reason}`);
  return load.addon;
}
