/**
 * One rollout, live: its phase in words, progress by step and cohort (assigned and
 * acknowledged nodes, the bake), and for every gated metric of a judged step the canary and
 * baseline over time with the verdict and its statistics explained. The commands that apply
 * in this phase are shown to the roles allowed to use them, each behind a confirmation.
 */
import { useMemo, useState, type ReactNode } from 'react';
import type { GateView, JudgmentView, MetricSampleView, RolloutDetail, RolloutView, StepView } from '../api/types.js';
import { useLiveReload, useSession } from '../app/context.js';
import { useNow, useResource } from '../app/hooks.js';
import { Ago, ConfirmDialog, ErrorBox, Loading, PhaseBadge, VerdictBadge, type ConfirmRequest } from '../app/ui.js';
import { PALETTE, TimeChart } from '../charts/TimeChart.js';
import { links } from '../router.js';
import { RollbackDialog } from './RollbackDialog.js';
import {
  availableActions,
  canaryBaselineSeries,
  explainJudgment,
  gateMetric,
  isTerminal,
  latestJudgments,
  phaseText,
  readJudgmentDetails,
  stepProgress,
  stepVerdict,
  type ActionOffer,
  type StepProgress,
} from './rollout.model.js';

/** Nodes per side whose samples the canary chart fetches (the judge used all of them). */
const CHART_NODES_PER_SIDE = 12;

export function RolloutPage(props: { id: string }): ReactNode {
  const { api, who } = useSession();
  const now = useNow();
  const detail = useResource((signal) => api.rollout(props.id, signal), [api, props.id]);
  const nodes = useResource((signal) => api.nodes({}, signal), [api]);
  const policy = detail.data?.rollout.policy;
  const others = useResource((signal) => (policy ? api.rollouts({ policy, active: true }, signal) : Promise.resolve([])), [api, policy]);
  useLiveReload(['rollout'], detail.reload, { delayMs: 200, accept: (e) => e.data['id'] === props.id });
  useLiveReload(['rollout'], others.reload, { delayMs: 500, accept: (e) => e.data['policy'] === policy });
  useLiveReload(['node', 'assignment'], nodes.reload, { delayMs: 1_500 });
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);
  const [rollingBack, setRollingBack] = useState(false);
  const versions = useResource((signal) => (policy && rollingBack ? api.policy(policy, signal) : Promise.resolve(null)), [api, policy, rollingBack]);

  if (detail.data === undefined) return detail.error ? <ErrorBox error={detail.error} /> : <Loading what={`rollout ${props.id}`} />;
  const d = detail.data;
  const r = d.rollout;
  const otherActive = (others.data ?? []).some((o) => o.id !== r.id);
  const actions = availableActions(r, who.role, { otherActive });
  const progress = stepProgress(r, d.steps, nodes.data ?? [], now);
  const judged = latestJudgments(d.judgments);
  const currentStep = progress[r.step];

  const act = (offer: ActionOffer): void => {
    if (offer.action === 'rollback') {
      setRollingBack(true);
      return;
    }
    setConfirm({
      title: `${offer.label}: ${r.policy}@${r.toVersion}`,
      question: offer.confirm,
      confirmLabel: offer.label,
      danger: offer.danger,
      ...(offer.input === 'reason' ? { reason: { label: 'Reason (written to the audit log)', placeholder: 'why' } } : {}),
      run: async (reason) => {
        const command = offer.action === 'promote-skip-gate' ? 'promote' : offer.action;
        if (command === 'rollback') return;
        await api.rolloutCommand(r.id, command, {
          revision: r.revision,
          ...(offer.action === 'promote-skip-gate' ? { skipGateReason: reason } : {}),
          ...(command === 'pause' || command === 'abort' ? { reason } : {}),
        });
        detail.reload();
      },
    });
  };

  return (
    <section data-testid="rollout" data-phase={r.phase} data-step={r.step}>
      <p className="crumbs">
        <a href={links.rollouts()}>Rollouts</a> / {r.id}
      </p>
      <h1>
        {r.kind === 'rollback' ? 'Rollback' : 'Rollout'} of <a href={links.policy(r.policy, r.toVersion)}>{r.policy}</a> {r.fromVersion === null ? 'none' : `v${r.fromVersion}`} → v{r.toVersion} <PhaseBadge phase={r.phase} />
      </h1>
      <p className="phase-text" data-testid="phase-text">
        {phaseText(r, currentStep?.name ?? '', now)}
      </p>
      <p className="muted">
        {r.id}, started by {r.createdBy} <Ago at={r.createdAt} now={now} />
        {r.finishedAt ? (
          <>
            , finished <Ago at={r.finishedAt} now={now} />
          </>
        ) : null}
        . {r.touched.length} node{r.touched.length === 1 ? '' : 's'} touched{r.nacked.length > 0 ? `, NACKed by ${r.nacked.join(', ')}` : ''}.
        {r.gateSkipReason ? ` Gates skipped: ${r.gateSkipReason}.` : ''}
      </p>
      {detail.error ? <ErrorBox error={detail.error} title="Could not refresh the rollout" /> : null}
      {actions.length > 0 ? (
        <p className="actions" data-testid="actions">
          {actions.map((a) => (
            <button key={a.action} type="button" className={a.danger ? 'danger' : ''} onClick={() => act(a)} data-mutating={a.action} data-testid={`action-${a.action}`}>
              {a.label}
            </button>
          ))}
        </p>
      ) : null}
      {confirm ? <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} /> : null}
      {rollingBack ? (
        versions.data ? (
          <RollbackDialog
            policy={r.policy}
            versions={versions.data.versions}
            current={r.phase === 'completed' ? r.toVersion : r.fromVersion}
            defaultVersion={r.phase === 'completed' ? r.fromVersion : null}
            gates={(r.plan.steps ?? []).find((s) => s.gates.length > 0)?.gates ?? []}
            onClose={() => setRollingBack(false)}
          />
        ) : versions.error ? (
          <ErrorBox error={versions.error} />
        ) : null
      ) : null}

      <h2>Progress</h2>
      <StepsTable progress={progress} steps={d.steps} judged={judged} />

      {[...judged.keys()]
        .sort((a, b) => b - a)
        .map((step) => (
          <StepJudgments key={step} rollout={r} step={d.steps[step]} judgments={judged.get(step) ?? []} allJudgments={d.judgments} />
        ))}

      <Cohorts detail={d} />
      <Events detail={d} now={now} />
    </section>
  );
}

function StepsTable(props: { progress: readonly StepProgress[]; steps: readonly StepView[]; judged: ReadonlyMap<number, JudgmentView[]> }): ReactNode {
  return (
    <table className="grid steps" data-testid="steps">
      <thead>
        <tr>
          <th>#</th>
          <th>Step</th>
          <th>Selects</th>
          <th>State</th>
          <th>Cohort: assigned / acknowledged</th>
          <th>Bake</th>
          <th>Gates</th>
          <th>Verdict</th>
        </tr>
      </thead>
      <tbody>
        {props.progress.map((p) => {
          const verdict = stepVerdict(props.judged.get(p.index) ?? [], p.gates);
          return (
            <tr key={p.index} className={p.current ? 'current' : ''} data-step={p.index} data-state={p.state}>
              <td>{p.index + 1}</td>
              <td>{p.name}</td>
              <td>{p.selects}</td>
              <td>
                <span className={`badge step-${p.state}`}>{p.state.replace('_', ' ')}</span>
              </td>
              <td>
                {p.cohort === 0 ? (
                  <span className="muted">not chosen yet</span>
                ) : (
                  <>
                    <Bar parts={[p.acknowledged, p.assigned - p.acknowledged]} total={p.cohort} />
                    <span className="small" data-testid={`cohort-${p.index}`}>
                      {p.assigned}/{p.cohort} assigned, {p.acknowledged} acknowledged{p.excluded > 0 ? `, ${p.excluded} excluded` : ''}
                    </span>
                  </>
                )}
              </td>
              <td>
                {p.bakeDone !== null ? <Bar parts={[p.bakeDone * 100]} total={100} /> : null}
                <span className="small">{p.bakeMs === 0 ? 'none' : `${Math.round(p.bakeMs / 1000)} s`}</span>
              </td>
              <td className="small">{p.gates.length === 0 ? <span className="muted">not judged</span> : p.gates.map((g) => g.name).join(', ')}</td>
              <td>{p.gates.length === 0 ? null : <VerdictBadge verdict={verdict} />}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function Bar(props: { parts: readonly number[]; total: number }): ReactNode {
  return (
    <span className="bar" aria-hidden="true">
      {props.parts.map((v, i) => (
        <span key={i} className={`bar-part part-${i}`} style={{ width: `${props.total > 0 ? Math.max(0, Math.min(100, (v / props.total) * 100)) : 0}%` }} />
      ))}
    </span>
  );
}

function StepJudgments(props: { rollout: RolloutView; step: StepView | undefined; judgments: readonly JudgmentView[]; allJudgments: readonly JudgmentView[] }): ReactNode {
  const gates: readonly GateView[] = props.step?.gates ?? props.rollout.plan.steps?.[props.judgments[0]?.step ?? 0]?.gates ?? [];
  const first = props.judgments[0];
  if (!first) return null;
  const attempts = new Set(props.allJudgments.filter((j) => j.step === first.step).map((j) => j.attempt)).size;
  const verdict = stepVerdict(props.judgments, gates);
  return (
    <div className="judgments" data-testid={`judgments-${first.step}`} data-verdict={verdict ?? ''}>
      <h2>
        Canary verdict, step {first.step + 1} ({props.step?.selector?.name ?? ''}) <VerdictBadge verdict={verdict} />
      </h2>
      <p className="muted">
        Attempt {first.attempt} of {attempts} judged, <time dateTime={first.judgedAt}>{new Date(first.judgedAt).toLocaleTimeString()}</time>. The step passes when every gate passes; any
        fail fails it; a critical gate without data, or any inconclusive gate, keeps it being judged.
      </p>
      <div className="metric-cards">
        {props.judgments.map((j) => (
          <MetricCard key={j.id} judgment={j} gate={gates.find((g) => g.name === j.metric)} />
        ))}
      </div>
    </div>
  );
}

function MetricCard(props: { judgment: JudgmentView; gate: GateView | undefined }): ReactNode {
  const j = props.judgment;
  const explanation = explainJudgment(j, props.gate);
  const details = readJudgmentDetails(j.details);
  return (
    <article className={`metric-card verdict-${j.verdict}`} data-metric={j.metric} data-verdict={j.verdict}>
      <h3>
        <code>{j.metric}</code> <VerdictBadge verdict={j.verdict} />
        {props.gate ? <span className="muted small"> {props.gate.critical ? 'critical' : 'not critical'}</span> : null}
      </h3>
      <p className="headline" data-testid="verdict-headline">
        {explanation.headline}
      </p>
      <CanaryChart judgment={j} gate={props.gate} />
      <div className="explanation" data-testid="verdict-explanation">
        {explanation.sentences.map((s, i) => (
          <p key={i}>{s}</p>
        ))}
      </div>
      {details.judge?.explanation ? (
        <details>
          <summary>The judge's own words</summary>
          <p className="small">{details.judge.explanation}</p>
        </details>
      ) : null}
    </article>
  );
}

function CanaryChart(props: { judgment: JudgmentView; gate: GateView | undefined }): ReactNode {
  const { api } = useSession();
  const j = props.judgment;
  const details = useMemo(() => readJudgmentDetails(j.details), [j.details]);
  const canaryNodes = details.canaryNodes.slice(0, CHART_NODES_PER_SIDE);
  const baselineNodes = details.baselineNodes.slice(0, CHART_NODES_PER_SIDE);
  const since = details.preWindow?.from ?? details.window?.from;
  const samples = useResource(
    async (signal) => {
      if (since === undefined) return new Map<string, readonly MetricSampleView[]>();
      const { metric } = gateMetric(j.metric);
      const ids = [...new Set([...canaryNodes, ...baselineNodes])];
      const results = await Promise.all(ids.map((id) => api.nodeMetrics(id, { name: metric, since, limit: 50_000 }, signal)));
      const until = details.window ? Date.parse(details.window.to) : Infinity;
      return new Map(ids.map((id, i) => [id, (results[i]?.samples ?? []).filter((s) => Date.parse(s.ts) <= until)]));
    },
    [api, j.id],
  );
  const series = useMemo(
    () =>
      samples.data
        ? canaryBaselineSeries({ gateName: j.metric, samplesByNode: samples.data, canaryNodes, baselineNodes, normalized: details.normalization === 'per-series', preWindow: details.preWindow, window: details.window })
        : null,
    [samples.data],
  );
  if (samples.error) return <ErrorBox error={samples.error} title="Could not load the samples for the chart" />;
  if (series === null) return <Loading what="samples" />;
  if (series.xs.length === 0) return <p className="muted">No samples of this metric on the canary or baseline nodes to draw.</p>;
  const tol = props.gate?.tolerance ?? j.threshold ?? 0;
  const sign = (props.gate?.direction ?? 'increase-is-bad') === 'increase-is-bad' ? 1 : -1;
  const limit = series.baseline.map((v) => (v === null ? null : v * (1 + sign * tol)));
  const markers = [
    ...(details.preWindow ? [{ at: Date.parse(details.preWindow.to) / 1000, label: 'rollout began' }] : []),
    ...(series.windowStart !== null ? [{ at: series.windowStart, label: 'judged from here' }] : []),
  ];
  return (
    <>
      <TimeChart
        xs={series.xs}
        series={[
          { label: 'canary', values: series.canary, color: PALETTE[1], width: 2 },
          { label: 'baseline', values: series.baseline, color: PALETTE[0], width: 2 },
          { label: `baseline ${sign > 0 ? '+' : '−'}${Math.round(tol * 100)} % (tolerance)`, values: limit, color: '#999', dash: [5, 5], width: 1, points: false },
        ]}
        format={series.normalized ? 'ratio' : 'number'}
        height={200}
        markers={markers}
        testId="canary-chart"
      />
      <p className="muted small">
        Mean over {series.seriesCount.canary} canary and {series.seriesCount.baseline} baseline series
        {series.normalized ? ', each relative to its own level before the rollout (1 = unchanged)' : ', raw values'}
        {series.seriesCount.leftOut > 0 ? `; ${series.seriesCount.leftOut} series without a pre-rollout level left out, as the judge did` : ''}
        {details.canaryNodes.length > CHART_NODES_PER_SIDE || details.baselineNodes.length > CHART_NODES_PER_SIDE ? `; drawn from the first ${CHART_NODES_PER_SIDE} nodes of each side` : ''}.
      </p>
    </>
  );
}

function Cohorts(props: { detail: RolloutDetail }): ReactNode {
  const { steps, nodes } = props.detail;
  const previous = new Map(nodes.map((n) => [n.nodeId, n]));
  return (
    <details className="cohorts">
      <summary>Cohorts, exclusions and strata</summary>
      {steps.map((s) => (
        <div key={s.index}>
          <h3>
            Step {s.index + 1} {s.selector?.name ? `(${s.selector.name})` : ''}
          </h3>
          {s.cohort.length === 0 ? (
            <p className="muted">Cohort not chosen yet.</p>
          ) : (
            <p>
              Cohort:{' '}
              {s.cohort.map((id, i) => {
                const prev = previous.get(id)?.previous as { policy?: string | null; version?: number | null } | null | undefined;
                return (
                  <span key={id}>
                    {i > 0 ? ', ' : ''}
                    <a href={links.node(id)} title={prev ? `ran ${prev.policy ?? 'none'}${prev.version ? `@${prev.version}` : ''} before` : ''}>
                      {id}
                    </a>
                  </span>
                );
              })}
            </p>
          )}
          {s.strata ? (
            <p className="small">
              Strata: {s.strata.covered.length} of {s.strata.present.length} covered ({s.strata.labelKeys.join(', ')}, {s.strata.mode})
              {s.strata.addedForCoverage > 0 ? `; ${s.strata.addedForCoverage} node(s) added to cover them` : ''}
              {s.strata.uncovered.length > 0 ? `; uncovered: ${s.strata.uncovered.map((u) => `${u.stratum} (${u.why})`).join('; ')}` : ''}
            </p>
          ) : null}
          {s.excluded && s.excluded.length > 0 ? (
            <ul className="small">
              {s.excluded.map((e) => (
                <li key={e.node}>
                  <a href={links.node(e.node)}>{e.node}</a> excluded: {e.reasons.map((x) => `${x.code} (${x.message})`).join('; ')}
                </li>
              ))}
            </ul>
          ) : null}
          {s.baseline && s.baseline.nodes.length > 0 ? <p className="small">Baseline: {s.baseline.nodes.join(', ')}</p> : null}
        </div>
      ))}
    </details>
  );
}

function Events(props: { detail: RolloutDetail; now: number }): ReactNode {
  const events = [...props.detail.events].sort((a, b) => b.id - a.id);
  return (
    <>
      <h2>Events</h2>
      <ol className="events" data-testid="events">
        {events.map((e) => (
          <li key={e.id}>
            <Ago at={e.at} now={props.now} /> <span className="muted">{e.actor}</span> {e.from !== e.to && e.from ? `${e.from} → ${e.to}: ` : ''}
            {e.message}
          </li>
        ))}
      </ol>
      {isTerminal(props.detail.rollout.phase) ? null : <p className="muted small">Updates live as the controller moves the rollout on.</p>}
    </>
  );
}
