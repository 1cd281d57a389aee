import { describe, expect, it } from 'vitest';
import { links, parseRoute, routeHref, type Route } from './router.js';

describe('hash routes', () => {
  const routes: Route[] = [
    { page: 'fleet', labels: 'zone=a', state: 'stale,nacked', strata: 'kernel=6.6', nodeLevelOnly: true, search: 'sim-0' },
    { page: 'fleet', labels: '', state: '', strata: '', nodeLevelOnly: false, search: '' },
    { page: 'node', id: 'node/with spaces' },
    { page: 'policies' },
    { page: 'policy', name: 'zgc-only', version: 3, compare: 1 },
    { page: 'policy', name: 'zgc-only', version: null, compare: null },
    { page: 'policy-edit', name: 'zgc-only' },
    { page: 'policy-edit', name: null },
    { page: 'rollouts' },
    { page: 'rollout', id: 'ro-abc-123' },
    { page: 'rollout-new', policy: 'zgc-only', version: 2 },
    { page: 'audit', actor: 'token:alice#tok_1', action: 'rollout.create', targetType: 'rollout', targetId: 'ro-1' },
  ];

  it('parses every href it makes back into the same route', () => {
    for (const route of routes) expect(parseRoute(routeHref(route))).toEqual(route);
  });

  it('treats an empty hash as the fleet and rejects junk versions and unknown paths', () => {
    expect(parseRoute('').page).toBe('fleet');
    expect(parseRoute('#/')).toEqual(parseRoute('#/fleet'));
    expect(parseRoute('#/policies/p?v=0&compare=x')).toEqual({ page: 'policy', name: 'p', version: null, compare: null });
    expect(parseRoute('#/nowhere/at/all')).toEqual({ page: 'not-found', path: '/nowhere/at/all' });
    expect(parseRoute('#/nodes/%E0%A4%A')).toEqual({ page: 'node', id: '%E0%A4%A' });
  });

  it('builds links with only the filters given', () => {
    expect(links.fleet()).toBe('#/fleet');
    expect(links.fleet({ labels: 'zone=a' })).toBe('#/fleet?labels=zone%3Da');
    expect(links.newRollout('p', 2)).toBe('#/rollouts/new?policy=p&version=2');
    expect(links.audit({ targetType: 'node' })).toBe('#/audit?targetType=node');
  });
});
