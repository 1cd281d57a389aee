import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plan, type Desired, type DesiredPolicy, type Observed } from './plan.js';

const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

function policy(overrides: Partial<DesiredPolicy> = {}): DesiredPolicy {
  return { kind: 'policy', source: 'controller', policy: 'zgc-only', version: 3, specHash: H1, spec: '{}', nonce: 'n-1', ...overrides };
}
const nothing: Observed = { applied: undefined, loaded: false, attached: false, hookPresent: true, nodeMode: false };
const enforcing = (o: Partial<Observed> = {}): Observed => ({
  applied: { policy: 'zgc-only', version: 3, specHash: H1, source: 'controller' },
  loaded: true,
  attached: true,
  hookPresent: true,
  nodeMode: false,
  ...o,
});
const kinds = (d: Desired, o: Observed) => plan(d, o).map((a) => a.kind);

describe('plan', () => {
  it('first policy on a node with the hook: validate, compile, load, verify, attach, persist, ack', () => {
    expect(kinds(policy(), nothing)).toEqual(['validate', 'compile', 'load', 'verify', 'attach', 'persist', 'ack']);
  });

  it('first policy without the hook: no attach (hook absent is a capability, not an error)', () => {
    expect(kinds(policy(), { ...nothing, hookPresent: false })).toEqual(['validate', 'compile', 'load', 'verify', 'persist', 'ack']);
  });

  it('a new version with a different spec is a live map update, no reload, no re-attach', () => {
    expect(kinds(policy({ version: 4, specHash: H2 }), enforcing())).toEqual(['validate', 'compile', 'update', 'verify', 'persist', 'ack']);
  });

  it('the same assignment again (a replay after reconnect) only acks', () => {
    expect(kinds(policy(), enforcing())).toEqual(['ack']);
  });

  it('a new version with an identical spec is validated and recorded, not re-applied', () => {
    expect(kinds(policy({ version: 5 }), enforcing())).toEqual(['validate', 'persist', 'ack']);
  });

  it('a local decision (lease, restart) has no nonce and so no ack', () => {
    expect(kinds(policy({ nonce: '', source: 'lease-baseline', version: 0, specHash: H2 }), enforcing())).toEqual(['validate', 'compile', 'update', 'verify', 'persist']);
  });

  it('drift: recorded as applied but the pinned program is gone -> back to the desired state', () => {
    expect(kinds(policy(), enforcing({ loaded: false, attached: false }))).toEqual(['validate', 'compile', 'load', 'verify', 'attach', 'persist', 'ack']);
    expect(kinds(policy(), enforcing({ attached: false }))).toEqual(['validate', 'compile', 'update', 'verify', 'attach', 'persist', 'ack']);
  });

  it('node mode: the sequencer takes over between compile and persist', () => {
    const inForce = enforcing({ nodeMode: true, nodeModeApplied: { specHash: H1, intact: true } });
    expect(kinds(policy(), { ...nothing, nodeMode: true })).toEqual(['validate', 'compile', 'node-mode-apply', 'persist', 'ack']);
    expect(kinds(policy({ version: 4, specHash: H2 }), inForce)).toEqual(['validate', 'compile', 'node-mode-apply', 'persist', 'ack']);
    expect(kinds(policy(), inForce)).toEqual(['ack']);
    // Node-level only (no hook, nothing loaded): what the journal says is in force counts.
    expect(kinds(policy(), enforcing({ nodeMode: true, hookPresent: false, loaded: false, attached: false, nodeModeApplied: { specHash: H1, intact: true } }))).toEqual(['ack']);
  });

  it('node mode: a new version of the same spec is relabelled by the sequencer, nothing compiled or switched', () => {
    expect(kinds(policy({ version: 5 }), enforcing({ nodeMode: true, nodeModeApplied: { specHash: H1, intact: true } }))).toEqual(['validate', 'node-mode-apply', 'persist', 'ack']);
  });

  it('node mode: the journal policy lost its program -> sysfs restored and the program detached first, then applied afresh', () => {
    expect(kinds(policy(), enforcing({ nodeMode: true, loaded: false, attached: false, nodeModeApplied: { specHash: H1, intact: false } }))).toEqual([
      'validate',
      'compile',
      'node-mode-remove',
      'node-mode-apply',
      'persist',
      'ack',
    ]);
  });

  it('node mode: a record without the journal (e.g. after a reboot) is applied through the sequencer again', () => {
    expect(kinds(policy(), enforcing({ nodeMode: true, loaded: false, attached: false }))).toEqual(['validate', 'compile', 'node-mode-apply', 'persist', 'ack']);
  });

  it('revoke: detach, unpin, forget; with node mode the sequencer restores sysfs first and then detaches', () => {
    const revoke: Desired = { kind: 'none', nonce: 'r-1', policy: 'zgc-only' };
    expect(kinds(revoke, enforcing())).toEqual(['detach', 'unload', 'forget', 'ack']);
    expect(kinds(revoke, enforcing({ nodeMode: true, nodeModeApplied: { specHash: H1, intact: true } }))).toEqual(['node-mode-remove', 'forget', 'ack']);
    // A journal with no record (the agent died before recording the apply): removed all the same.
    expect(kinds({ kind: 'none', nonce: '', policy: '' }, { ...nothing, nodeMode: true, nodeModeApplied: { specHash: H1, intact: true } })).toEqual(['node-mode-remove']);
    expect(kinds(revoke, { ...nothing, nodeMode: true })).toEqual(['ack']);
    expect(kinds(revoke, enforcing({ hookPresent: false, attached: false }))).toEqual(['unload', 'forget', 'ack']);
    expect(kinds(revoke, nothing)).toEqual(['ack']);
  });

  it('a revoke naming another policy changes nothing', () => {
    expect(kinds({ kind: 'none', nonce: 'r-2', policy: 'other' }, enforcing())).toEqual(['ack']);
  });

  it('properties: ack last iff there is a nonce; attach only with the hook; node mode owns every kernel step; every map write is verified', () => {
    const observed = fc.record({
      applied: fc.option(fc.record({ policy: fc.constantFrom('a', 'b'), version: fc.nat(5), specHash: fc.constantFrom(H1, H2), source: fc.constantFrom('controller' as const, 'lease-baseline' as const) }), { nil: undefined }),
      loaded: fc.boolean(),
      attached: fc.boolean(),
      hookPresent: fc.boolean(),
      nodeMode: fc.boolean(),
      nodeModeApplied: fc.option(fc.record({ specHash: fc.constantFrom(H1, H2), intact: fc.boolean() }), { nil: undefined }),
    }).map((o) => ({ ...o, attached: o.attached && o.hookPresent && o.loaded, nodeModeApplied: o.nodeMode ? o.nodeModeApplied : undefined }));
    const desired: fc.Arbitrary<Desired> = fc.oneof(
      fc.record({ kind: fc.constant('policy' as const), source: fc.constantFrom('controller' as const, 'lease-baseline' as const), policy: fc.constantFrom('a', 'b'), version: fc.nat(5), specHash: fc.constantFrom(H1, H2), spec: fc.constant('{}'), nonce: fc.constantFrom('', 'n') }),
      fc.record({ kind: fc.constant('none' as const), nonce: fc.constantFrom('', 'r'), policy: fc.constantFrom('', 'a', 'b') }),
    );
    fc.assert(
      fc.property(desired, observed, (d, o) => {
        const steps = plan(d, o).map((a) => a.kind);
        expect(steps.includes('ack')).toBe(d.nonce !== '');
        if (d.nonce !== '') expect(steps[steps.length - 1]).toBe('ack');
        if (!o.hookPresent) expect(steps).not.toContain('attach');
        if (o.attached) expect(steps).not.toContain('attach');
        if (steps.includes('node-mode-apply') || steps.includes('node-mode-remove')) {
          // With node mode every kernel step goes through the sequencer, never around it.
          expect(o.nodeMode).toBe(true);
          for (const k of ['load', 'update', 'attach', 'detach', 'unload'] as const) expect(steps).not.toContain(k);
        }
        if (o.nodeMode) expect(steps.filter((k) => ['load', 'update', 'verify', 'attach', 'detach', 'unload'].includes(k))).toEqual([]);
        // With node mode a policy whose program is gone is never left in place: removed first, or replaced.
        if (o.nodeMode && d.kind === 'policy' && o.nodeModeApplied && !o.nodeModeApplied.intact) {
          expect(steps.indexOf('node-mode-remove')).toBeGreaterThanOrEqual(0);
          expect(steps.indexOf('node-mode-remove')).toBeLessThan(steps.indexOf('node-mode-apply'));
        }
        // With node mode, a changed spec always goes through the sequencer.
        if (o.nodeMode && d.kind === 'policy' && o.nodeModeApplied?.specHash !== d.specHash) expect(steps).toContain('node-mode-apply');
        if (d.kind === 'policy') {
          expect(steps).not.toContain('detach');
          expect(steps).not.toContain('unload');
          // Anything that touches the maps is followed by a verify.
          const lastWrite = Math.max(steps.lastIndexOf('load'), steps.lastIndexOf('update'));
          if (lastWrite >= 0) expect(steps.indexOf('verify', lastWrite)).toBeGreaterThan(lastWrite);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
