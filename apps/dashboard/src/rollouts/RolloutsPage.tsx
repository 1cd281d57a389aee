/** Rollouts: active ones first, then the history, newest first. */
import { useState, type ReactNode } from 'react';
import { useLiveReload, useSession } from '../app/context.js';
import { useNow, useResource } from '../app/hooks.js';
import { Ago, ErrorBox, Loading, PhaseBadge } from '../app/ui.js';
import { hasRole } from '../auth/session.js';
import { links } from '../router.js';
import { isTerminal } from './rollout.model.js';

export function RolloutsPage(): ReactNode {
  const { api, who } = useSession();
  const now = useNow(5_000);
  const [limit, setLimit] = useState(50);
  const rollouts = useResource((signal) => api.rollouts({ limit }, signal), [api, limit]);
  useLiveReload(['rollout'], rollouts.reload, { delayMs: 300 });
  const list = rollouts.data ?? [];
  const active = list.filter((r) => !isTerminal(r.phase));
  return (
    <section>
      <h1>Rollouts</h1>
      {hasRole(who.role, 'operator') ? (
        <p>
          <a className="button primary" href={links.newRollout()} data-mutating="new-rollout" data-testid="new-rollout">
            Start a rollout
          </a>
        </p>
      ) : null}
      {rollouts.error ? <ErrorBox error={rollouts.error} /> : null}
      {rollouts.data === undefined ? (
        <Loading what="rollouts" />
      ) : list.length === 0 ? (
        <p className="muted">No rollouts yet.</p>
      ) : (
        <>
          <p className="muted">{active.length === 0 ? 'Nothing is rolling out now.' : `${active.length} active.`}</p>
          <table className="grid" data-testid="rollouts">
            <thead>
              <tr>
                <th>Rollout</th>
                <th>Policy</th>
                <th>Kind</th>
                <th>Versions</th>
                <th>Phase</th>
                <th>Step</th>
                <th>Started by</th>
                <th>Started</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id} data-rollout={r.id} className={isTerminal(r.phase) ? '' : 'active-row'}>
                  <td>
                    <a href={links.rollout(r.id)}>{r.id}</a>
                  </td>
                  <td>
                    <a href={links.policy(r.policy)}>{r.policy}</a>
                  </td>
                  <td>{r.kind}</td>
                  <td>
                    {r.fromVersion === null ? 'none' : `v${r.fromVersion}`} → v{r.toVersion}
                  </td>
                  <td>
                    <PhaseBadge phase={r.phase} />
                  </td>
                  <td>
                    {r.step < 0 ? '–' : r.step + 1}/{r.plan.steps?.length ?? '?'}
                  </td>
                  <td>{r.createdBy}</td>
                  <td>
                    <Ago at={r.createdAt} now={now} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.length === limit ? (
            <button type="button" onClick={() => setLimit((l) => l + 50)}>
              Show older
            </button>
          ) : null}
        </>
      )}
    </section>
  );
}
