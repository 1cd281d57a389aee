import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { BtfStructDescription } from './addon.js';
import { ensureBpffs } from './bpffs.js';
import { bpffsStatus, classifyThpOps, detectKernel } from './detect.js';
import { announceSkip, kernelSkipReason, makePinRoot, testAddon } from './kernel.test-util.js';
import { VMLINUX_BTF, objectPath } from './paths.js';

function ops(members: { name: string; params?: number }[]): BtfStructDescription {
  return {
    id: 1,
    size: 8 * members.length,
    members: members.map((m, i) => ({
      name: m.name,
      bitOffset: 64 * i,
      type:
        m.params === undefined
          ? { kind: 'int', name: 'int' }
          : { kind: 'ptr', name: '', funcParams: Array.from({ length: m.params }, (_, j) => ({ name: `p${j}`, kind: 'int', typeName: 'int' })) },
    })),
  };
}

describe('classifyThpOps (kernel-interface.md 0.2, 7.1)', () => {
  it('names the missing kernel support when the struct is absent', () => {
    expect(classifyThpOps(null, '/sys/kernel/btf/vmlinux')).toEqual({
      hook: 'absent',
      detail: 'kernel lacks bpf_thp_ops (no struct bpf_thp_ops in /sys/kernel/btf/vmlinux)',
    });
  });

  it('maps the callback arity and the pid member to an ABI profile', () => {
    expect(classifyThpOps(ops([{ name: 'thp_get_order', params: 4 }]), 'x').hook).toBe('v7');
    expect(classifyThpOps(ops([{ name: 'thp_get_order', params: 3 }]), 'x').hook).toBe('v8');
    expect(classifyThpOps(ops([{ name: 'pid' }, { name: 'thp_get_order', params: 3 }]), 'x').hook).toBe('v12');
  });

  it('refuses layouts no revision of the series had', () => {
    expect(classifyThpOps(ops([{ name: 'thp_get_order', params: 2 }]), 'x')).toMatchObject({ hook: 'absent' });
    expect(classifyThpOps(ops([{ name: 'pid' }, { name: 'thp_get_order', params: 4 }]), 'x').detail).toMatch(/unknown revision/);
    expect(classifyThpOps(ops([{ name: 'get_order', params: 3 }]), 'x').detail).toMatch(/no thp_get_order callback/);
  });
});

describe('bpffsStatus', () => {
  it('says why a plain directory is not a bpf filesystem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'thpf-notbpf-'));
    try {
      const status = bpffsStatus(join(dir, 'thp-fleet', 'deeper'));
      expect(status.mounted).toBe(false);
      expect(status.detail).toContain(`${dir} is not a bpf filesystem`);
      expect(status.detail).toContain('mount -t bpf bpf /sys/fs/bpf');
    } finally {
      rmdirSync(dir);
    }
  });
});

const skip = announceSkip('kernel detection', kernelSkipReason(['v7', 'v8', 'v12']));

describe.skipIf(skip)('detectKernel on this machine', () => {
  it('reports the hook the running kernel has, in words', () => {
    const support = detectKernel();
    const btf = new (testAddon().Btf)(null);
    const hasOps = btf.findType('bpf_thp_ops', 'struct') >= 0;
    btf.close();
    expect(support.root).toBe(true);
    expect(support.btf).toEqual({ path: VMLINUX_BTF, present: true });
    expect(support.addon).toMatchObject({ available: true, libbpf: expect.stringMatching(/^\d+\.\d+$/) as unknown });
    if (!hasOps) {
      expect(support.hook).toBe('absent');
      expect(support.detail).toBe('kernel lacks bpf_thp_ops (no struct bpf_thp_ops in /sys/kernel/btf/vmlinux)');
    } else {
      expect(support.hook).not.toBe('absent');
    }
    expect(support.capabilities.bpf || support.capabilities.sysAdmin).toBe(true);
  });

  it('detects each ABI from the BTF of the struct_ops object built for it', () => {
    for (const abi of ['v7', 'v8', 'v12'] as const) {
      const support = detectKernel({ btfPath: objectPath(abi) });
      expect({ abi, hook: support.hook }).toEqual({ abi, hook: abi });
    }
    expect(detectKernel({ btfPath: objectPath('syscall') }).detail).toBe(`kernel lacks bpf_thp_ops (no struct bpf_thp_ops in ${objectPath('syscall')})`);
  });

  it('says so when the BTF file does not exist', () => {
    const support = detectKernel({ btfPath: '/nonexistent/vmlinux' });
    expect(support).toMatchObject({ hook: 'absent', btf: { present: false } });
    expect(support.detail).toContain('CONFIG_DEBUG_INFO_BTF');
  });

  it('mounts a bpf filesystem where there is none, and only once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'thpf-ensure-'));
    try {
      expect(ensureBpffs(dir)).toEqual({ mounted: true });
      expect(bpffsStatus(dir).mounted).toBe(true);
      expect(ensureBpffs(dir)).toEqual({ mounted: false });
    } finally {
      testAddon().unmount(dir);
      rmdirSync(dir);
    }
  });

  it('recognises a mounted bpf filesystem', () => {
    const root = makePinRoot('detect');
    try {
      expect(detectKernel({ bpffsPath: root.pinRoot }).bpffs).toMatchObject({ mounted: true });
    } finally {
      root.cleanup();
    }
  });
});
