/**
 * Where things live: build outputs of this package (scripts/build.mjs writes them) and
 * the kernel's well-known paths. src/ and dist/ are both one level below the package root.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUILD_DIR = join(PACKAGE_ROOT, 'build');
export const ADDON_PATH = join(BUILD_DIR, 'Release', 'thp_bpf.node');
export const OBJECT_DIR = join(BUILD_DIR, 'bpf');

/** Pinned maps, programs and links of the policy (DESIGN.md section 4). */
export const DEFAULT_PIN_ROOT = '/sys/fs/bpf/thp-fleet';
export const DEFAULT_BPFFS = '/sys/fs/bpf';
export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';
/** statfs f_type of a bpf filesystem (include/uapi/linux/magic.h BPF_FS_MAGIC). */
export const BPF_FS_MAGIC = 0xcafe4a11;

/** Objects built from bpf/thp_policy.bpf.c, plus the struct_ops test fixture. */
export type ObjectVariant = 'syscall' | 'v7' | 'v8' | 'v12' | 'probe' | 'test-struct-ops';

const OBJECT_FILES: Readonly<Record<ObjectVariant, string>> = {
  syscall: 'thp_policy.bpf.o',
  v7: 'thp_policy.v7.bpf.o',
  v8: 'thp_policy.v8.bpf.o',
  v12: 'thp_policy.v12.bpf.o',
  probe: 'thp_policy.probe.bpf.o',
  'test-struct-ops': 'test_struct_ops.bpf.o',
};

export function objectPath(variant: ObjectVariant, dir: string = OBJECT_DIR): string {
  return join(dir, OBJECT_FILES[variant]);
}
