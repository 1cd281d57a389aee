/**
 * Node: what the node is (labels, kernel, capabilities: the hook ABI or why it is absent, the
 * THP sysfs modes), what policy it should run and does run (desired, sent, acknowledged,
 * observed), rejected versions, and live charts of its metric samples
 * (`GET /api/v1/nodes/{id}/metrics`), refreshed every few seconds.
 */
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import type { MetricSampleView } from '../api/types.js';
import { useLiveReload, useSession } from '../app/context.js';
import { useNow, useResource } from '../app/hooks.js';
import { Ago, ErrorBox, Facts, Loading, StateBadge } from '../app/ui.js';
import { TimeChart } from '../charts/TimeChart.js';
import { refText } from '../fleet/fleet.model.js';
import { links } from '../router.js';
import { NODE_CHARTS, backendText, chartData, chartMetricNames, hookText, policyStages, sysfsRows, type ChartSpec } from './node.model.js';

const RANGES = [
  { label: '15 min', since: '15m' },
  { label: '1 h', since: '1h' },
  { label: '6 h', since: '6h' },
] as const;

/** How often the charts refetch (metrics arrive every report interval; no event announces them). */
const CHART_REFRESH_MS = 5_000;

export function NodePage(props: { id: string }): ReactNode {
  const { api } = useSession();
  const now = useNow();
  const node = useResource((signal) => api.node(props.id, signal), [api, props.id]);
  const quarantine = useResource((signal) => api.quarantine(props.id, signal), [api, props.id]);
  useLiveReload(['node', 'assignment'], node.reload, {
    delayMs: 500,
    accept: (event) => {
      const ids = event.data['nodeIds'];
      return !Array.isArray(ids) || ids.includes(props.id);
    },
  });

  if (node.data === undefined) return node.error ? <ErrorBox error={node.error} /> : <Loading what={`node ${props.id}`} />;
  const n = node.data;
  const c = n.capabilities;
  return (
    <section>
      <p className="crumbs">
        <a href={links.fleet()}>Fleet</a> / {n.id}
      </p>
      <h1>
        {n.id} <StateBadge state={n.state} />
      </h1>
      {node.error ? <ErrorBox error={node.error} title="Could not refresh the node" /> : null}
      {n.incompatibility ? <p className="problem">Incompatible: {n.incompatibility}</p> : null}
      {n.drift.length > 0 ? (
        <div className="problem">
          Drift:
          <ul>
            {n.drift.map((d) => (
              <li key={d}>{d}</li>
            ))}
          </ul>
        </div>
      ) : null}
      {n.lastNack ? (
        <p className={n.state === 'nacked' ? 'problem' : 'muted'}>
          Last NACK: {n.lastNack.policy}@{n.lastNack.version} rejected at {n.lastNack.stage}: {n.lastNack.message} {n.lastNack.detail ? <span className="muted">({n.lastNack.detail})</span> : null} <Ago at={n.lastNack.at} now={now} />
        </p>
      ) : null}

      <div className="columns">
        <div>
          <h2>Node</h2>
          <Facts
            rows={[
              ['connected', n.connected ? 'yes' : 'no'],
              ['last seen', <Ago key="seen" at={n.lastSeen} now={now} />],
              ['stale', n.stale ? `yes, since ${n.staleSince ? new Date(n.staleSince).toLocaleString() : '?'}` : 'no'],
              ['kernel', n.kernelRelease || '–'],
              ['agent', n.agentVersion || '–'],
              [
                'labels',
                <span key="labels" className="labels">
                  {Object.entries(n.labels).map(([k, v]) => (
                    <a key={k} className="label" href={links.fleet({ labels: `${k}=${v}` })}>
                      {k}={v}
                    </a>
                  ))}
                </span>,
              ],
            ]}
          />
          <h2>Capabilities</h2>
          <Facts
            rows={[
              ['kernel hook', <span key="hook" data-testid="hook">{hookText(c)}</span>],
              ['backend', backendText(c)],
              ['mTHP sizes enabled', (c.enabledMthpSizesKb ?? []).length > 0 ? (c.enabledMthpSizesKb ?? []).map((kb) => (kb >= 1024 ? `${kb / 1024}M` : `${kb}K`)).join(', ') : 'none'],
            ]}
          />
          <h3>THP modes (sysfs)</h3>
          <table className="grid compact">
            <thead>
              <tr>
                <th>setting</th>
                <th>at registration</th>
                <th>observed now</th>
              </tr>
            </thead>
            <tbody>
              {sysfsRows(c.sysfs, n.observed?.sysfs).map((r) => (
                <tr key={r.setting}>
                  <td>
                    <code>{r.setting}</code>
                  </td>
                  <td>{r.reported}</td>
                  <td className={r.observed !== '–' && r.reported !== '–' && r.observed !== r.reported ? 'changed' : ''}>{r.observed}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h2>Policy</h2>
          <table className="grid compact" data-testid="policy-stages">
            <thead>
              <tr>
                <th>stage</th>
                <th>policy</th>
                <th>when</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {policyStages(n).map((s) => (
                <tr key={s.stage} title={s.meaning}>
                  <th>{s.stage}</th>
                  <td>{s.ref && s.ref.policy !== null ? <a href={links.policy(s.ref.policy, s.ref.version)}>{refText(s.ref)}</a> : 'none'}</td>
                  <td>{s.at ? <Ago at={s.at} now={now} /> : '–'}</td>
                  <td className="small muted">{s.extra}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {n.desired?.rolloutId ? (
            <p>
              Set by rollout <a href={links.rollout(n.desired.rolloutId)}>{n.desired.rolloutId}</a>.
            </p>
          ) : null}
          <h3>Rejected versions</h3>
          {quarantine.data === undefined ? (
            quarantine.error ? <ErrorBox error={quarantine.error} /> : <Loading what="rejections" />
          ) : quarantine.data.length === 0 ? (
            <p className="muted">None: the node accepted every version it was sent.</p>
          ) : (
            <ul>
              {quarantine.data.map((q) => (
                <li key={`${q.policy}@${q.version}`}>
                  {q.policy}@{q.version} at {q.stage}: {q.message} <Ago at={q.at} now={now} />
                </li>
              ))}
            </ul>
          )}
        </div>
      </div>
      <NodeCharts id={n.id} />
    </section>
  );
}

function NodeCharts(props: { id: string }): ReactNode {
  const { api } = useSession();
  const [range, setRange] = useState<(typeof RANGES)[number]['since']>('15m');
  const names = useMemo(() => chartMetricNames(), []);
  const samples = useResource(
    async (signal) => {
      const results = await Promise.all(names.map((name) => api.nodeMetrics(props.id, { name, since: range, limit: 20_000 }, signal)));
      return new Map<string, readonly MetricSampleView[]>(names.map((name, i) => [name, results[i]?.samples ?? []]));
    },
    [api, props.id, range, names],
  );
  useEffect(() => {
    const timer = setInterval(samples.reload, CHART_REFRESH_MS);
    return () => clearInterval(timer);
  }, [samples.reload]);
  const loaded = samples.data;
  return (
    <>
      <h2>
        Metrics{' '}
        <span className="range">
          {RANGES.map((r) => (
            <button key={r.since} type="button" className={range === r.since ? 'selected' : ''} onClick={() => setRange(r.since)}>
              {r.label}
            </button>
          ))}
        </span>
      </h2>
      <p className="muted">Counters are shown per second (the agents report them as increases per report); gauges as reported. Refreshed every {CHART_REFRESH_MS / 1000} s.</p>
      {samples.error ? <ErrorBox error={samples.error} title="Could not load the metric samples" /> : null}
      {loaded === undefined ? (
        <Loading what="metric samples" />
      ) : (
        <div className="charts" data-testid="node-charts">
          {NODE_CHARTS.map((spec) => (
            <NodeChart key={spec.id} spec={spec} samples={loaded} />
          ))}
        </div>
      )}
    </>
  );
}

function NodeChart(props: { spec: ChartSpec; samples: ReadonlyMap<string, readonly MetricSampleView[]> }): ReactNode {
  const data = useMemo(() => chartData(props.spec, props.samples), [props.spec, props.samples]);
  const empty = data.xs.length === 0 || data.series.length === 0;
  return (
    <figure className="chart-box" data-chart={props.spec.id}>
      <figcaption>{props.spec.title}</figcaption>
      {empty ? (
        <p className="muted empty-chart">
          No samples of {props.spec.lines.map((l) => l.metric).join(', ')} in this range{props.spec.perCgroup ? ' (reported per cgroup the applied policy maps)' : ''}.
        </p>
      ) : (
        <TimeChart xs={data.xs} series={data.series} format={props.spec.format} testId={`chart-${props.spec.id}`} />
      )}
      {data.hiddenCgroups > 0 ? <p className="muted small">{data.hiddenCgroups} smaller cgroups not shown.</p> : null}
    </figure>
  );
}
