/**
 * The pin root needs a mounted bpf filesystem. Agents mount it themselves where the
 * distribution does not (as Cilium and bpfman do); this machine, for one, has none.
 */
import { mkdirSync } from 'node:fs';

import { requireAddonPort, type ThpBpfAddon } from './addon.js';
import { bpffsStatus } from './detect.js';
import { kernelError } from './errors.js';
import { DEFAULT_BPFFS } from './paths.js';

/**
 * Mounts a bpf filesystem at `path` unless one is already there. Returns whether this call
 * mounted it. Needs root (CAP_SYS_ADMIN).
 */
export function ensureBpffs(path: string = DEFAULT_BPFFS, options: { readonly addon?: ThpBpfAddon } = {}): { readonly mounted: boolean } {
  if (bpffsStatus(path).mounted) return { mounted: false };
  const addon = requireAddonPort(options.addon);
  mkdirSync(path, { recursive: true });
  try {
    addon.mountBpffs(path);
  } catch (error) {
    throw kernelError(`mounting a bpf filesystem at ${path}`, error);
  }
  return { mounted: true };
}
