/** Policies: every policy with its latest version; operators can write a new one. */
import type { ReactNode } from 'react';
import { useLiveReload, useSession } from '../app/context.js';
import { useNow, useResource } from '../app/hooks.js';
import { Ago, ErrorBox, Loading } from '../app/ui.js';
import { hasRole } from '../auth/session.js';
import { links } from '../router.js';

export function PoliciesPage(): ReactNode {
  const { api, who } = useSession();
  const now = useNow(10_000);
  const policies = useResource((signal) => api.policies(signal), [api]);
  useLiveReload(['policy'], policies.reload);
  return (
    <section>
      <h1>Policies</h1>
      {hasRole(who.role, 'operator') ? (
        <p>
          <a className="button primary" href={links.editPolicy(null)} data-mutating="new-policy">
            New policy
          </a>
        </p>
      ) : null}
      {policies.error ? <ErrorBox error={policies.error} /> : null}
      {policies.data === undefined ? (
        <Loading what="policies" />
      ) : policies.data.length === 0 ? (
        <p className="muted">No policies yet.</p>
      ) : (
        <table className="grid" data-testid="policies">
          <thead>
            <tr>
              <th>Policy</th>
              <th>Description</th>
              <th>Latest</th>
              <th>Updated</th>
              <th>Created by</th>
            </tr>
          </thead>
          <tbody>
            {policies.data.map((p) => (
              <tr key={p.name} data-policy={p.name}>
                <td>
                  <a href={links.policy(p.name)}>{p.name}</a>
                </td>
                <td>{p.description}</td>
                <td>v{p.latestVersion}</td>
                <td>
                  <Ago at={p.updatedAt} now={now} />
                </td>
                <td>{p.createdBy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
