/**
 * The addon's struct_ops path against a real kernel. No released kernel has bpf_thp_ops,
 * so the mechanics (BPF_F_LINK map, attach, link pin, bpf_link__update_map, detach) run
 * here on tcp_congestion_ops, which every 6.x kernel has; the bpf_thp_ops objects are
 * checked as far as a kernel without the hook allows (ELF, BTF, libbpf's refusal).
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { announceSkip, kernelSkipReason, makePinRoot, testAddon, type PinRoot } from './kernel.test-util.js';
import { objectPath } from './paths.js';

const BPF_F_LINK = 1 << 13;
const CA_NAME = 'thpf_test_ca';
const available = (): string => readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8');

const skip = announceSkip(
  'struct_ops attach/update/detach',
  kernelSkipReason(['test-struct-ops', 'v7', 'v8', 'v12']) ??
    (existsSync('/proc/sys/net/ipv4/tcp_available_congestion_control') ? null : 'no /proc/sys/net/ipv4 (network namespace without IPv4)'),
);

describe.skipIf(skip)('struct_ops through the addon (tcp_congestion_ops fixture)', () => {
  let root: PinRoot;
  beforeAll(() => {
    root = makePinRoot('struct-ops');
    mkdirSync(root.pinRoot, { recursive: true });
  });
  afterAll(() => root.cleanup());

  it('attaches as a link, survives as a pin, swaps maps atomically, detaches', () => {
    const addon = testAddon();
    const obj = new addon.BpfObject(objectPath('test-struct-ops'), null);
    try {
      obj.setMapFlags('thpf_ca_a', BPF_F_LINK);
      obj.setMapFlags('thpf_ca_b', BPF_F_LINK);
      obj.load();
      const mapA = addon.mapInfo(obj.mapFd('thpf_ca_a')).id;
      const mapB = addon.mapInfo(obj.mapFd('thpf_ca_b')).id;
      expect(available()).not.toContain(CA_NAME);

      const linkFd = obj.attachStructOps('thpf_ca_a');
      const linkPin = join(root.pinRoot, 'ca_link');
      addon.objPin(linkFd, linkPin);
      addon.closeFd(linkFd); // only the pin holds the link now
      expect(available()).toContain(CA_NAME);

      const reopened = addon.objGet(linkPin);
      expect(addon.linkInfo(reopened)).toMatchObject({ structOpsMapId: mapA });
      obj.updateStructOpsLink(linkPin, 'thpf_ca_b');
      expect(addon.linkInfo(reopened)).toMatchObject({ structOpsMapId: mapB });
      expect(available()).toContain(CA_NAME);

      addon.linkDetach(reopened);
      addon.closeFd(reopened);
      expect(available()).not.toContain(CA_NAME);
    } finally {
      obj.close();
    }
  });

  it('refuses a struct_ops map loaded without BPF_F_LINK', () => {
    const addon = testAddon();
    const obj = new addon.BpfObject(objectPath('test-struct-ops'), null);
    try {
      obj.load();
      expect(() => obj.attachStructOps('thpf_ca_a')).toThrow(/was not loaded with BPF_F_LINK/);
    } finally {
      obj.close();
    }
  });

  it('builds each bpf_thp_ops object with the ABI layout of its series revision', () => {
    const addon = testAddon();
    const arity = { v7: 4, v8: 3, v12: 3 } as const;
    for (const abi of ['v7', 'v8', 'v12'] as const) {
      const btf = new addon.Btf(objectPath(abi));
      const ops = btf.describeStruct('bpf_thp_ops');
      btf.close();
      const callback = ops?.members.find((m) => m.name === 'thp_get_order');
      expect({ abi, params: callback?.type.funcParams?.length, pid: ops?.members[0]?.name === 'pid' }).toEqual({
        abi,
        params: arity[abi],
        pid: abi === 'v12',
      });
      const obj = new addon.BpfObject(objectPath(abi), null);
      try {
        const programs = obj.programs();
        expect(programs.map((p) => [p.name, p.section, p.type])).toEqual([['thp_get_order', 'struct_ops/thp_get_order', 'struct_ops']]);
        expect(obj.maps().find((m) => m.name === 'thp_fleet_ops')?.type).toBe('struct_ops');
      } finally {
        obj.close();
      }
    }
  });

  it('cannot load a bpf_thp_ops object on a kernel without the hook (libbpf says why)', () => {
    const addon = testAddon();
    const btf = new addon.Btf(null);
    const kernelHasHook = btf.findType('bpf_thp_ops', 'struct') >= 0;
    btf.close();
    if (kernelHasHook) return; // on a hooked kernel kernel-policy.spec attaches for real
    for (const abi of ['v7', 'v8', 'v12'] as const) {
      const obj = new addon.BpfObject(objectPath(abi), null);
      try {
        obj.setMapFlags('thp_fleet_ops', BPF_F_LINK);
        let error: unknown;
        try {
          obj.load();
        } catch (e) {
          error = e;
        }
        expect(error).toMatchObject({ log: expect.stringContaining('struct bpf_thp_ops is not found in kernel BTF') as unknown });
      } finally {
        obj.close();
      }
    }
  });
});
