/**
 * One policy: its versions (author, message, hash), the YAML of the version chosen, and a
 * side-by-side diff of any two versions (the source lines, and the changes in meaning from the
 * controller's structural diff). Operators get "new version", "start a rollout" and "roll back".
 */
import { useState, type ReactNode } from 'react';
import type { PolicyVersionDetail } from '../api/types.js';
import { useLiveReload, useSession } from '../app/context.js';
import { replaceHash, useNow, useResource } from '../app/hooks.js';
import { DiffTable } from '../app/DiffTable.js';
import { Ago, CodeView, ErrorBox, Loading } from '../app/ui.js';
import { hasRole } from '../auth/session.js';
import { links, type Route } from '../router.js';
import { RollbackDialog } from '../rollouts/RollbackDialog.js';
import { describeChange, lineDiff } from './policy.model.js';

export function PolicyPage(props: { route: Extract<Route, { page: 'policy' }> }): ReactNode {
  const { api, who } = useSession();
  const now = useNow(10_000);
  const { name } = props.route;
  const policy = useResource((signal) => api.policy(name, signal), [api, name]);
  const rollouts = useResource((signal) => api.rollouts({ policy: name, limit: 20 }, signal), [api, name]);
  useLiveReload(['policy'], policy.reload, { accept: (e) => e.data['policy'] === name });
  useLiveReload(['rollout'], rollouts.reload, { accept: (e) => e.data['policy'] === name });
  const [rollingBack, setRollingBack] = useState(false);

  if (policy.data === undefined) return policy.error ? <ErrorBox error={policy.error} /> : <Loading what={`policy ${name}`} />;
  const { policy: p, versions } = policy.data;
  const selected = props.route.version ?? p.latestVersion;
  const compare = props.route.compare;
  const active = rollouts.data?.find((r) => !['completed', 'failed', 'rolled_back', 'aborted'].includes(r.phase));
  const deployed = rollouts.data?.find((r) => r.phase === 'completed');
  const lastGated = rollouts.data?.find((r) => (r.plan.steps ?? []).some((s) => s.gates.length > 0));
  const operator = hasRole(who.role, 'operator');
  const go = (version: number | null, other: number | null): void => replaceHash(links.policy(name, version, other));

  return (
    <section>
      <p className="crumbs">
        <a href={links.policies()}>Policies</a> / {name}
      </p>
      <h1>
        {name} <span className="muted">v{p.latestVersion}</span>
      </h1>
      <p>{p.description}</p>
      {active ? (
        <p className="notice">
          Rollout in progress: <a href={links.rollout(active.id)}>{active.id}</a> ({active.kind} to v{active.toVersion}, {active.phase}).
        </p>
      ) : null}
      {operator ? (
        <p className="actions">
          <a className="button primary" href={links.editPolicy(name)} data-mutating="new-version" data-testid="new-version">
            New version
          </a>
          <a className="button" href={links.newRollout(name, selected)} data-mutating="start-rollout" data-testid="start-rollout">
            Start a rollout of v{selected}
          </a>
          {versions.length > 1 && !active ? (
            <button type="button" className="danger" onClick={() => setRollingBack(true)} data-mutating="rollback" data-testid="rollback">
              Roll back…
            </button>
          ) : null}
        </p>
      ) : null}
      {rollingBack ? (
        <RollbackDialog
          policy={name}
          versions={versions}
          current={deployed?.toVersion ?? null}
          defaultVersion={deployed?.fromVersion ?? null}
          gates={lastGated?.plan.steps?.find((s) => s.gates.length > 0)?.gates ?? []}
          onClose={() => setRollingBack(false)}
        />
      ) : null}

      <h2>Versions</h2>
      <table className="grid" data-testid="versions">
        <thead>
          <tr>
            <th>Version</th>
            <th>Message</th>
            <th>Author</th>
            <th>Created</th>
            <th>Spec hash</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {[...versions]
            .sort((a, b) => b.version - a.version)
            .map((v) => (
              <tr key={v.version} className={v.version === selected ? 'selected' : ''} data-version={v.version}>
                <td>
                  <a href={links.policy(name, v.version, compare)}>v{v.version}</a>
                </td>
                <td className="message">{v.message || <span className="muted">no message</span>}</td>
                <td className="author">{v.author}</td>
                <td>
                  <Ago at={v.createdAt} now={now} />
                </td>
                <td>
                  <code title={v.specHash}>{v.specHash.slice(0, 12)}</code>
                </td>
                <td>
                  {v.version !== selected ? (
                    <button type="button" onClick={() => go(selected, v.version)} data-testid={`compare-${v.version}`}>
                      diff with v{selected}
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
        </tbody>
      </table>

      {compare !== null && compare !== selected ? (
        <VersionDiff name={name} from={Math.min(compare, selected)} to={Math.max(compare, selected)} versions={versions.map((v) => v.version)} onChange={(a, b) => go(b, a)} />
      ) : (
        <VersionSource name={name} version={selected} />
      )}
    </section>
  );
}

function VersionSource(props: { name: string; version: number }): ReactNode {
  const { api } = useSession();
  const detail = useResource((signal) => api.policyVersion(props.name, props.version, signal), [api, props.name, props.version]);
  return (
    <>
      <h2>
        v{props.version} as written <span className="muted">({detail.data?.sourceFormat ?? '…'})</span>
      </h2>
      {detail.error ? <ErrorBox error={detail.error} /> : null}
      {detail.data ? <CodeView text={detail.data.source} testId="policy-source" /> : <Loading what="the version" />}
    </>
  );
}

function VersionDiff(props: { name: string; from: number; to: number; versions: readonly number[]; onChange: (from: number, to: number) => void }): ReactNode {
  const { api } = useSession();
  const { name, from, to } = props;
  const both = useResource(
    (signal) => Promise.all([api.policyVersion(name, from, signal), api.policyVersion(name, to, signal), api.policyDiff(name, from, to, signal)]),
    [api, name, from, to],
  );
  const options = [...props.versions].sort((a, b) => a - b);
  return (
    <>
      <h2>
        Diff{' '}
        <select value={from} onChange={(e) => props.onChange(Number(e.target.value), to)} aria-label="from version">
          {options.map((v) => (
            <option key={v} value={v}>
              v{v}
            </option>
          ))}
        </select>{' '}
        →{' '}
        <select value={to} onChange={(e) => props.onChange(from, Number(e.target.value))} aria-label="to version">
          {options.map((v) => (
            <option key={v} value={v}>
              v{v}
            </option>
          ))}
        </select>
      </h2>
      {both.error ? <ErrorBox error={both.error} /> : null}
      {both.data === undefined ? (
        <Loading what="the diff" />
      ) : (
        <>
          <h3>What changes in meaning</h3>
          {both.data[2].length === 0 ? (
            <p className="muted">Nothing: both versions mean the same (only formatting or comments differ).</p>
          ) : (
            <ul className="changes" data-testid="semantic-diff">
              {both.data[2].map((c) => (
                <li key={`${c.kind}:${c.path}`} className={`change-${c.kind}`}>
                  {describeChange(c)}
                </li>
              ))}
            </ul>
          )}
          <h3>Source, side by side</h3>
          <SideBySide before={both.data[0]} after={both.data[1]} />
        </>
      )}
    </>
  );
}

function SideBySide(props: { before: PolicyVersionDetail; after: PolicyVersionDetail }): ReactNode {
  return <DiffTable rows={lineDiff(props.before.source, props.after.source)} left={`v${props.before.version}`} right={`v${props.after.version}`} testId="side-by-side" />;
}
