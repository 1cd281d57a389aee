/**
 * Fleet: every node by state, filterable by labels, strata and state, with the chain of
 * desired -> sent -> acknowledged -> observed policy per node (where it breaks is marked).
 * The whole node list is loaded once (paged by the client) and filtered in the browser, so
 * filters answer at once; node events reload the changed nodes, or everything after a burst.
 */
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { NodeState, NodeView } from '../api/types.js';
import { useLiveReload, useSession } from '../app/context.js';
import { replaceHash, useNow, useResource } from '../app/hooks.js';
import { Ago, ErrorBox, Loading, StateBadge } from '../app/ui.js';
import { hookShort, hookText } from '../node/node.model.js';
import { links, type Route } from '../router.js';
import {
  STATE_LABEL,
  STATE_MEANING,
  STATE_ORDER,
  STRATA_KEYS,
  countByState,
  filterNodes,
  firstMismatch,
  mergeNodes,
  nodeLevelOnly,
  parseLabelSelector,
  parseStateFilter,
  parseStrataFilter,
  refText,
  strataFilterText,
  strataOf,
  toggleStratum,
} from './fleet.model.js';

/** Rows rendered before "show more" (a 10,000-node fleet stays responsive). */
const PAGE_ROWS = 1_000;
/** The whole list is refetched this often (last-seen times change without events). */
const FULL_REFRESH_MS = 15_000;
/** Up to this many changed nodes are fetched one by one; more, and the whole list is reloaded. */
const SINGLE_FETCH_LIMIT = 20;

export function FleetPage(props: { route: Extract<Route, { page: 'fleet' }> }): ReactNode {
  const { api } = useSession();
  const route = props.route;
  const nodes = useResource(
    (signal) =>
      api.nodes({}, signal).then((list) => {
        performance.mark('fleet-nodes-loaded');
        return list;
      }),
    [api],
  );
  // Nodes refetched one by one since the last full load (dropped when the list is reloaded).
  const [updates, setUpdates] = useState<{ base: readonly NodeView[] | undefined; nodes: readonly NodeView[] }>({ base: undefined, nodes: [] });
  const base = useRef(nodes.data);
  base.current = nodes.data;
  const current = useMemo(() => (nodes.data && updates.base === nodes.data && updates.nodes.length > 0 ? mergeNodes(nodes.data, updates.nodes) : nodes.data), [nodes.data, updates]);

  // Heartbeats (last seen) are not announced as events: refresh the whole list now and then.
  useEffect(() => {
    const timer = setInterval(nodes.reload, FULL_REFRESH_MS);
    return () => clearInterval(timer);
  }, [nodes.reload]);

  // Live: node events name the nodes whose status changed; assignments name nodes too.
  const pending = useRef(new Set<string>());
  const full = useRef(false);
  useLiveReload(
    ['node', 'assignment'],
    () => {
      const ids = [...pending.current];
      const everything = full.current || ids.length > SINGLE_FETCH_LIMIT;
      pending.current.clear();
      full.current = false;
      if (everything) {
        nodes.reload();
        return;
      }
      Promise.all(ids.map((id) => api.node(id).catch(() => null))).then(
        (fetched) => {
          const fresh = fetched.filter((n): n is NodeView => n !== null);
          setUpdates((u) => (u.base === base.current ? { base: u.base, nodes: [...u.nodes, ...fresh] } : { base: base.current, nodes: fresh }));
        },
        () => nodes.reload(),
      );
    },
    {
      delayMs: 1_000,
      accept: (event) => {
        const ids = event.data['nodeIds'];
        if (Array.isArray(ids)) {
          for (const id of ids) if (typeof id === 'string') pending.current.add(id);
        } else {
          // Too many ids for one notification (the controller sent a count instead): reload all.
          full.current = true;
        }
        return true;
      },
    },
  );

  const [labelsText, setLabelsText] = useState(route.labels);
  const [searchText, setSearchText] = useState(route.search);
  const selector = useMemo(() => parseLabelSelector(labelsText), [labelsText]);
  const states = useMemo(() => parseStateFilter(route.state), [route.state]);
  const strata = useMemo(() => parseStrataFilter(route.strata), [route.strata]);
  const navigate = (change: Partial<Extract<Route, { page: 'fleet' }>>): void => replaceHash(links.fleet({ ...route, ...change }));

  // Typing updates the URL (debounced); a URL changed from outside (a link) resets the boxes.
  const written = useRef({ labels: route.labels, search: route.search });
  useEffect(() => {
    if (route.labels !== written.current.labels || route.search !== written.current.search) {
      written.current = { labels: route.labels, search: route.search };
      setLabelsText(route.labels);
      setSearchText(route.search);
    }
  }, [route.labels, route.search]);
  useEffect(() => {
    const labels = selector.ok ? labelsText : route.labels;
    if (labels === route.labels && searchText === route.search) return;
    const timer = setTimeout(() => {
      written.current = { labels, search: searchText };
      navigate({ labels, search: searchText });
    }, 250);
    return () => clearTimeout(timer);
  });

  const all = useMemo(() => current ?? [], [current]);
  const counts = useMemo(() => countByState(all), [all]);
  const nodeLevel = useMemo(() => all.filter(nodeLevelOnly).length, [all]);
  const strataValues = useMemo(() => strataOf(all, STRATA_KEYS), [all]);
  const shown = useMemo(
    () => filterNodes(all, { terms: selector.ok ? selector.terms : [], strata, states, nodeLevelOnly: route.nodeLevelOnly, search: searchText }),
    [all, selector, strata, states, route.nodeLevelOnly, searchText],
  );
  const [limit, setLimit] = useState(PAGE_ROWS);

  const toggleState = (state: NodeState): void => {
    const set = new Set(states);
    if (set.has(state)) set.delete(state);
    else set.add(state);
    navigate({ state: STATE_ORDER.filter((s) => set.has(s)).join(',') });
  };

  if (current === undefined) return nodes.error ? <ErrorBox error={nodes.error} /> : <Loading what="the fleet" />;
  return (
    <section>
      <h1>
        Fleet <span className="muted">{all.length} nodes</span>
      </h1>
      {nodes.error ? <ErrorBox error={nodes.error} title="Could not refresh the fleet" /> : null}
      <div className="state-cards" data-testid="state-cards">
        {STATE_ORDER.map((state) => (
          <button
            key={state}
            type="button"
            className={`state-card state-${state} ${states.includes(state) ? 'selected' : ''} ${counts[state] === 0 ? 'zero' : ''}`}
            title={STATE_MEANING[state]}
            onClick={() => toggleState(state)}
            data-testid={`count-${state}`}
            data-count={counts[state]}
          >
            <span className="n">{counts[state]}</span>
            <span className="l">{STATE_LABEL[state]}</span>
          </button>
        ))}
        <button
          type="button"
          className={`state-card node-level ${route.nodeLevelOnly ? 'selected' : ''} ${nodeLevel === 0 ? 'zero' : ''}`}
          title="Nodes without the kernel hook that enforce only the node-wide sysfs settings (spec.node.withoutHook: node-level)"
          onClick={() => navigate({ nodeLevelOnly: !route.nodeLevelOnly })}
          data-testid="count-node-level-only"
          data-count={nodeLevel}
        >
          <span className="n">{nodeLevel}</span>
          <span className="l">node-level only</span>
        </button>
      </div>

      <div className="filters">
        <label className="field inline">
          Labels
          <input value={labelsText} onChange={(e) => setLabelsText(e.target.value)} placeholder="zone=a, kernel!=6.1, gpu, !spot" className={selector.ok ? '' : 'invalid'} data-testid="labels-filter" />
        </label>
        <label className="field inline">
          Node
          <input value={searchText} onChange={(e) => setSearchText(e.target.value)} placeholder="id contains…" />
        </label>
        {route.labels || route.state || route.strata || route.nodeLevelOnly || route.search ? (
          <button
            type="button"
            onClick={() => {
              setLabelsText('');
              setSearchText('');
              replaceHash(links.fleet());
            }}
          >
            Clear filters
          </button>
        ) : null}
        {!selector.ok ? (
          <ul className="problem">
            {selector.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        ) : null}
      </div>

      {strataValues.length > 0 ? (
        <div className="strata" data-testid="strata">
          {strataValues.map(({ key, values }) => (
            <div key={key} className="stratum-row">
              <span className="stratum-key">{key}</span>
              {values.map(({ value, count }) => (
                <button
                  key={value}
                  type="button"
                  className={`chip ${strata.get(key)?.has(value) ? 'selected' : ''}`}
                  onClick={() => navigate({ strata: strataFilterText(toggleStratum(strata, key, value)) })}
                  data-testid={`stratum-${key}-${value}`}
                >
                  {value} <span className="muted">{count}</span>
                </button>
              ))}
            </div>
          ))}
        </div>
      ) : null}

      <p className="muted">
        {shown.length === all.length ? `All ${all.length} nodes` : `${shown.length} of ${all.length} nodes match`}, worst state first. Desired is what an operator or a rollout wants; sent, what the
        controller last pushed; acknowledged, what the node accepted; observed, what it reports it runs. <span className="mismatch-legend">Marked</span> is where that chain breaks.
      </p>
      <FleetTable nodes={shown} limit={limit} />
      {shown.length > limit ? (
        <button type="button" onClick={() => setLimit((l) => l + PAGE_ROWS)}>
          Show {Math.min(PAGE_ROWS, shown.length - limit)} more of {shown.length - limit}
        </button>
      ) : null}
    </section>
  );
}

function FleetTable(props: { nodes: readonly NodeView[]; limit: number }): ReactNode {
  const now = useNow(10_000);
  const rows = props.nodes.slice(0, props.limit);
  useLayoutEffect(() => {
    if (rows.length > 0) performance.mark('fleet-table-rendered');
  }, [rows.length > 0]);
  return (
    <table className="grid fleet" id="fleet-table" data-testid="fleet-table" data-rows={rows.length}>
      <colgroup>
        <col className="c-node" />
        <col className="c-state" />
        <col className="c-ref" />
        <col className="c-ref" />
        <col className="c-ref" />
        <col className="c-ref" />
        <col className="c-enf" />
        <col className="c-hook" />
        <col className="c-seen" />
        <col />
      </colgroup>
      <thead>
        <tr>
          <th>Node</th>
          <th>State</th>
          <th>Desired</th>
          <th>Sent</th>
          <th>Acknowledged</th>
          <th>Observed</th>
          <th>Enforcement</th>
          <th>Kernel hook</th>
          <th>Last seen</th>
          <th>Labels</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((n) => (
          <FleetRow key={n.id} node={n} now={now} />
        ))}
      </tbody>
    </table>
  );
}

const MISMATCH_RANK = { intended: 1, acknowledged: 2, observed: 3 } as const;

/** A row re-renders only when its node or the clock changes. */
const FleetRow = memo(function FleetRow(props: { node: NodeView; now: number }): ReactNode {
  const n = props.node;
  const broken = firstMismatch(n);
  const rank = broken === null ? 99 : MISMATCH_RANK[broken];
  const mark = (stage: number): string => (stage >= rank ? 'mismatch' : '');
  const why = n.lastNack && n.state === 'nacked' ? `NACK (${n.lastNack.stage}): ${n.lastNack.message}` : n.incompatibility ?? (n.drift.length > 0 ? n.drift.join('; ') : '');
  return (
    <tr data-node={n.id} data-state={n.state}>
      <td className="nowrap">
        <a href={links.node(n.id)}>{n.id}</a>
      </td>
      <td>
        <StateBadge state={n.state} />
        {why ? <div className="why">{why}</div> : null}
      </td>
      <td className="nowrap">{refText(n.desired)}</td>
      <td className={`nowrap ${mark(1)}`}>{n.intent ? refText(n.intent) : <span className="muted">–</span>}</td>
      <td className={`nowrap ${mark(2)}`}>{refText(n.acked)}</td>
      <td className={`nowrap ${mark(3)}`}>{n.observed ? refText(n.observed) : <span className="muted">not reported</span>}</td>
      <td>{n.observed?.enforcement ?? <span className="muted">–</span>}</td>
      <td className="nowrap" title={hookText(n.capabilities)}>
        {hookShort(n.capabilities)}
      </td>
      <td>
        <Ago at={n.lastSeen} now={props.now} />
        {n.connected ? '' : <span className="muted"> (disconnected)</span>}
      </td>
      <td className="labels">
        {Object.entries(n.labels).map(([k, v]) => (
          <span key={k} className="label">
            {k}={v}
          </span>
        ))}
      </td>
    </tr>
  );
});
