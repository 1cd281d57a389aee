/**
 * A tiny hash router: `#/fleet?labels=zone%3Da`, `#/nodes/sim-0001`, `#/policies/zgc-only?v=3`.
 * Hash URLs need no server support beyond serving index.html at `/`, and every view is a link
 * an operator can paste. `parseRoute` and `routeHref` are pure and inverse to each other.
 */

export type Route =
  | { readonly page: 'fleet'; readonly labels: string; readonly state: string; readonly strata: string; readonly nodeLevelOnly: boolean; readonly search: string }
  | { readonly page: 'node'; readonly id: string }
  | { readonly page: 'policies' }
  | { readonly page: 'policy'; readonly name: string; readonly version: number | null; readonly compare: number | null }
  | { readonly page: 'policy-edit'; readonly name: string | null }
  | { readonly page: 'rollouts' }
  | { readonly page: 'rollout'; readonly id: string }
  | { readonly page: 'rollout-new'; readonly policy: string; readonly version: number | null }
  | { readonly page: 'audit'; readonly actor: string; readonly action: string; readonly targetType: string; readonly targetId: string }
  | { readonly page: 'not-found'; readonly path: string };

function positiveInt(text: string | null): number | null {
  if (text === null || !/^[1-9]\d{0,9}$/.test(text)) return null;
  return Number(text);
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#/, '');
  const q = text.indexOf('?');
  const path = q < 0 ? text : text.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : text.slice(q + 1));
  const parts = path.split('/').filter((p) => p !== '').map(decode);
  const get = (key: string): string => params.get(key) ?? '';
  const [first, second, third] = parts;
  if (parts.length === 0 || (first === 'fleet' && parts.length === 1)) return { page: 'fleet', labels: get('labels'), state: get('state'), strata: get('strata'), nodeLevelOnly: get('nodeLevelOnly') === '1', search: get('q') };
  if (first === 'nodes' && second !== undefined && parts.length === 2) return { page: 'node', id: second };
  if (first === 'policies') {
    if (parts.length === 1) return { page: 'policies' };
    if (second === 'new' && parts.length === 2) return { page: 'policy-edit', name: null };
    if (second !== undefined && parts.length === 2) return { page: 'policy', name: second, version: positiveInt(params.get('v')), compare: positiveInt(params.get('compare')) };
    if (second !== undefined && third === 'edit' && parts.length === 3) return { page: 'policy-edit', name: second };
  }
  if (first === 'rollouts') {
    if (parts.length === 1) return { page: 'rollouts' };
    if (second === 'new' && parts.length === 2) return { page: 'rollout-new', policy: get('policy'), version: positiveInt(params.get('version')) };
    if (second !== undefined && parts.length === 2) return { page: 'rollout', id: second };
  }
  if (first === 'audit' && parts.length === 1) return { page: 'audit', actor: get('actor'), action: get('action'), targetType: get('targetType'), targetId: get('targetId') };
  return { page: 'not-found', path };
}

function withQuery(path: string, params: Readonly<Record<string, string | number | null>>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return `#${path}${text === '' ? '' : `?${text}`}`;
}

const enc = encodeURIComponent;

export function routeHref(route: Route): string {
  switch (route.page) {
    case 'fleet':
      return withQuery('/fleet', { labels: route.labels, state: route.state, strata: route.strata, nodeLevelOnly: route.nodeLevelOnly ? '1' : '', q: route.search });
    case 'node':
      return `#/nodes/${enc(route.id)}`;
    case 'policies':
      return '#/policies';
    case 'policy':
      return withQuery(`/policies/${enc(route.name)}`, { v: route.version, compare: route.compare });
    case 'policy-edit':
      return route.name === null ? '#/policies/new' : `#/policies/${enc(route.name)}/edit`;
    case 'rollouts':
      return '#/rollouts';
    case 'rollout':
      return `#/rollouts/${enc(route.id)}`;
    case 'rollout-new':
      return withQuery('/rollouts/new', { policy: route.policy, version: route.version });
    case 'audit':
      return withQuery('/audit', { actor: route.actor, action: route.action, targetType: route.targetType, targetId: route.targetId });
    case 'not-found':
      return `#${route.path}`;
  }
}

/** Shorthands for links. */
export const links = {
  fleet: (filter: { labels?: string; state?: string; strata?: string; nodeLevelOnly?: boolean; search?: string } = {}): string =>
    routeHref({ page: 'fleet', labels: filter.labels ?? '', state: filter.state ?? '', strata: filter.strata ?? '', nodeLevelOnly: filter.nodeLevelOnly ?? false, search: filter.search ?? '' }),
  node: (id: string): string => routeHref({ page: 'node', id }),
  policies: (): string => '#/policies',
  policy: (name: string, version: number | null = null, compare: number | null = null): string => routeHref({ page: 'policy', name, version, compare }),
  editPolicy: (name: string | null): string => routeHref({ page: 'policy-edit', name }),
  rollouts: (): string => '#/rollouts',
  rollout: (id: string): string => routeHref({ page: 'rollout', id }),
  newRollout: (policy = '', version: number | null = null): string => routeHref({ page: 'rollout-new', policy, version }),
  audit: (filter: { actor?: string; action?: string; targetType?: string; targetId?: string } = {}): string =>
    routeHref({ page: 'audit', actor: filter.actor ?? '', action: filter.action ?? '', targetType: filter.targetType ?? '', targetId: filter.targetId ?? '' }),
};
