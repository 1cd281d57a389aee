/**
 * @thp-fleet/bpf: the kernel path. BPF programs built from bpf/thp_policy.bpf.c, the
 * libbpf N-API addon, and the loader that keeps policy tables in pinned maps.
 * docs/kernel.md explains the maps, the ABI profiles and what runs where.
 */
export { detectKernel, classifyThpOps, type KernelSupport, type HookDetection, type DetectOptions } from './detect.js';
export {
  KernelPolicy,
  load,
  open,
  tablesContentHash,
  POLICY_MAPS,
  PINS,
  type KernelPolicyOptions,
  type KernelDecision,
  type KernelStats,
  type ProgramStats,
  type UpdateOptions,
  type UpdateResult,
} from './kernel-policy.js';
export { BpfBackendError, type BpfErrorCode, type BpfErrorDetails } from './errors.js';
export { loadAddon, type ThpBpfAddon, type AddonLoad } from './addon.js';
export { ensureBpffs } from './bpffs.js';
export {
  LAYOUT,
  LAYOUT_VERSION,
  MAX_CGROUPS,
  planUpdate,
  validateTables,
  validateInput,
  type KernelState,
  type MapWrite,
  type UpdatePlan,
  type ProbeEntry,
} from './layout.js';
export { DEFAULT_PIN_ROOT, VMLINUX_BTF, objectPath, type ObjectVariant } from './paths.js';
