/**
 * Start a rollout: a policy version and a plan (steps, gates, judging; docs/rollouts.md). The
 * plan starts from the standard canary-then-fleet plan; the controller validates it and lists
 * every problem with its path. Starting asks for confirmation.
 */
import { useMemo, useState, type ReactNode } from 'react';
import { useSession } from '../app/context.js';
import { useResource } from '../app/hooks.js';
import { ConfirmDialog, ErrorBox, Loading, type ConfirmRequest } from '../app/ui.js';
import { hasRole } from '../auth/session.js';
import { links, type Route } from '../router.js';
import { defaultPlan, parsePlanText } from './rollout.model.js';

export function NewRolloutPage(props: { route: Extract<Route, { page: 'rollout-new' }> }): ReactNode {
  const { api, who } = useSession();
  const policies = useResource((signal) => api.policies(signal), [api]);
  const [policy, setPolicy] = useState(props.route.policy);
  const chosen = policy || policies.data?.[0]?.name || '';
  const versions = useResource((signal) => (chosen === '' ? Promise.resolve(null) : api.policy(chosen, signal)), [api, chosen]);
  const [version, setVersion] = useState<number | null>(props.route.version);
  const latest = versions.data?.policy.latestVersion ?? null;
  const chosenVersion = version !== null && versions.data?.versions.some((v) => v.version === version) ? version : latest;
  const [planText, setPlanText] = useState(defaultPlan);
  const plan = useMemo(() => parsePlanText(planText), [planText]);
  const [confirm, setConfirm] = useState<ConfirmRequest | null>(null);

  if (!hasRole(who.role, 'operator')) return <ErrorBox error={new Error(`Starting rollouts needs the operator role; this token is ${who.role}.`)} title="Not allowed" />;
  if (policies.data === undefined) return policies.error ? <ErrorBox error={policies.error} /> : <Loading what="policies" />;

  const start = (): void => {
    if (!plan.ok || chosenVersion === null) return;
    setConfirm({
      title: 'Start the rollout',
      question: `Roll ${chosen} v${chosenVersion} out with this plan? Nodes get the version step by step; a failed gate or a NACK rolls the touched nodes back.`,
      confirmLabel: 'Start',
      run: async () => {
        const rollout = await api.startRollout(chosen, chosenVersion, plan.plan);
        window.location.hash = links.rollout(rollout.id);
      },
    });
  };

  return (
    <section>
      <p className="crumbs">
        <a href={links.rollouts()}>Rollouts</a> / new
      </p>
      <h1>Start a rollout</h1>
      <div className="filters">
        <label className="field inline">
          Policy
          <select
            value={chosen}
            onChange={(e) => {
              setPolicy(e.target.value);
              setVersion(null);
            }}
            data-testid="rollout-policy"
          >
            {policies.data.map((p) => (
              <option key={p.name} value={p.name}>
                {p.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field inline">
          Version
          <select value={chosenVersion ?? ''} onChange={(e) => setVersion(Number(e.target.value))} data-testid="rollout-version">
            {[...(versions.data?.versions ?? [])]
              .sort((a, b) => b.version - a.version)
              .map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version} — {v.message || 'no message'}
                </option>
              ))}
          </select>
        </label>
      </div>
      {versions.error ? <ErrorBox error={versions.error} /> : null}
      <label className="field">
        Plan (JSON): steps select nodes by count, percent or labels and bake; gates name metrics with a direction and a relative tolerance.
        <textarea className="code-input" rows={24} value={planText} onChange={(e) => setPlanText(e.target.value)} spellCheck={false} data-testid="rollout-plan" />
      </label>
      {plan.ok ? null : <p className="problem">The plan is not valid JSON: {plan.problem}</p>}
      <div className="buttons">
        <button type="button" className="primary" disabled={!plan.ok || chosenVersion === null} onClick={start} data-mutating="start" data-testid="start">
          Start…
        </button>
      </div>
      {confirm ? <ConfirmDialog request={confirm} onClose={() => setConfirm(null)} /> : null}
    </section>
  );
}
