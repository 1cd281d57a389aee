import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Backend, HookAbi, MetricKind, NackStage } from '@thp-fleet/proto';
import { ackMessage, helloMessage, metricsMessage, nackMessage, observedMessage } from './messages.js';
import { mintNodeToken, nodeToken } from './node-token.js';

describe('wire messages', () => {
  it('Hello carries identity, capabilities and what is applied', () => {
    const hello = helloMessage({
      nodeId: 'sim-001',
      labels: { zone: 'a' },
      kernelRelease: '6.18.44',
      agentVersion: '0.1.0',
      capabilities: {
        backends: ['bpf', 'sim'],
        active: 'sim',
        hook: 'absent',
        hookDetail: 'no struct bpf_thp_ops in vmlinux BTF',
        sysfs: { enabled: 'madvise', defrag: 'madvise', shmemEnabled: 'never', perSizeEnabled: { 'hugepages-2048kB': 'inherit' }, khugepagedMaxPtesNone: 511, khugepagedPagesToScan: 4096, khugepagedScanSleepMillisecs: 10000, khugepagedAllocSleepMillisecs: 60000, shrinkUnderused: true },
        enabledMthpSizesKb: [2048],
      },
      applied: { policy: 'zgc-only', version: 2, specHash: 'd'.repeat(64) },
    });
    expect(hello.capabilities?.backends).toEqual([Backend.BPF, Backend.SIM]);
    expect(hello.capabilities?.activeBackend).toBe(Backend.SIM);
    expect(hello.capabilities?.hookAbi).toBe(HookAbi.ABSENT);
    expect(hello.capabilities?.sysfs?.perSizeEnabled).toEqual({ 'hugepages-2048kB': 'inherit' });
    expect(hello.applied).toMatchObject({ policy: 'zgc-only', version: 2 });
    const bare = helloMessage({ nodeId: 'n', labels: {}, kernelRelease: '', agentVersion: '', capabilities: { backends: ['sim'], active: 'sim', hook: 'v8', hookDetail: '', sysfs: undefined, enabledMthpSizesKb: [] }, applied: undefined });
    expect(bare.applied).toBeUndefined();
    expect(bare.capabilities?.hookAbi).toBe(HookAbi.V8);
  });

  it('Ack and Nack carry nonce, version and the structured reason', () => {
    expect(ackMessage('n-1', { policy: 'p', version: 4, specHash: 'e'.repeat(64) }).kind).toMatchObject({ case: 'ack', value: { nonce: 'n-1', version: 4 } });
    const nack = nackMessage('n-2', 'p', 5, 'verify', 'verifier rejected', 'R1 invalid mem access');
    expect(nack.kind).toMatchObject({ case: 'nack', value: { nonce: 'n-2', version: 5, error: { stage: NackStage.VERIFY, message: 'verifier rejected', detail: 'R1 invalid mem access' } } });
    expect(nackMessage('n', 'p', 1, 'validate', '', '').kind).toMatchObject({ value: { error: { stage: NackStage.VALIDATE } } });
    expect(nackMessage('n', 'p', 1, 'attach', '', '').kind).toMatchObject({ value: { error: { stage: NackStage.ATTACH } } });
  });

  it('metrics: kinds per the proto, cgroup ids as u64, timestamps from the interval', () => {
    const m = metricsMessage({
      start: 1_700_000_000_000,
      end: 1_700_000_010_500,
      node: [
        { name: 'thp_fault_alloc', kind: 'counter', value: 3 },
        { name: 'psi_memory_some_avg10', kind: 'gauge', value: 0.5 },
      ],
      cgroups: [{ id: 4242, path: '/zgc', metrics: [{ name: 'anon_thp', kind: 'gauge', value: 2097152 }] }],
      histograms: [{ name: 'fault_latency_us', cgroupPath: '/zgc', upperBounds: [1, 10], counts: [1, 3], count: 4, sum: 25 }],
    });
    if (m.kind.case !== 'metrics') throw new Error('not metrics');
    const r = m.kind.value;
    expect(Number(r.end!.seconds)).toBe(1_700_000_010);
    expect(r.end!.nanos).toBe(500_000_000);
    expect(r.node.map((p) => p.kind)).toEqual([MetricKind.COUNTER, MetricKind.GAUGE]);
    expect(r.cgroups[0]!.cgroupId).toBe(4242n);
    expect(r.histograms[0]!.counts).toEqual([1n, 3n]);
  });

  it('ObservedState', () => {
    const o = observedMessage({ applied: undefined, programIds: [12, 13], mapContentHash: 'f'.repeat(64), sysfs: undefined, enforcement: 'none' });
    expect(o.kind).toMatchObject({ case: 'observed', value: { programIds: [12, 13], enforcement: 'none' } });
  });
});

describe('node tokens', () => {
  it('are <nodeId>.<base64url HMAC-SHA256(secret, nodeId)>', () => {
    const token = mintNodeToken('s3cret-s3cret-s3cret', 'sim-007');
    const expected = createHmac('sha256', 's3cret-s3cret-s3cret').update('sim-007').digest('base64url');
    expect(token).toBe(`sim-007.${expected}`);
    expect(token).not.toMatch(/[+/=]/);
    expect(nodeToken({ kind: 'secret', secret: 's3cret-s3cret-s3cret' }, 'sim-007')).toBe(token);
    expect(nodeToken({ kind: 'token', token: 'x.y' }, 'ignored')).toBe('x.y');
  });
});
