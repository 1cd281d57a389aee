/**
 * Roll a policy back to an earlier version (`POST /api/v1/policies/{name}/rollback`): a
 * rollout of the nodes that run the policy now. Three ways, each confirmed here: a judged
 * canary first (with gates, e.g. those of the rollout being undone), every node at once without
 * judging, or (admins) the audited fast path that skips the gates with a reason.
 */
import { useState, type ReactNode } from 'react';
import type { GateView, PolicyVersionSummary } from '../api/types.js';
import { useSession } from '../app/context.js';
import { ErrorBox } from '../app/ui.js';
import { hasRole } from '../auth/session.js';
import { links } from '../router.js';

type Mode = 'canary' | 'direct' | 'skip';

export function RollbackDialog(props: {
  readonly policy: string;
  readonly versions: readonly PolicyVersionSummary[];
  /** The version the nodes run now (not offered). */
  readonly current: number | null;
  readonly defaultVersion: number | null;
  /** Gates for a judged rollback canary (the undone rollout's), if any. */
  readonly gates: readonly GateView[];
  readonly onClose: () => void;
}): ReactNode {
  const { api, who } = useSession();
  const choices = props.versions.filter((v) => v.version !== props.current).sort((a, b) => b.version - a.version);
  const [version, setVersion] = useState<number | null>(props.defaultVersion ?? choices[0]?.version ?? null);
  const [mode, setMode] = useState<Mode>(props.gates.length > 0 ? 'canary' : 'direct');
  const [bake, setBake] = useState('5m');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const admin = hasRole(who.role, 'admin');

  const submit = (): void => {
    if (version === null) {
      setError(new Error('Choose the version to roll back to.'));
      return;
    }
    if (mode === 'skip' && reason.trim() === '') {
      setError(new Error('Skipping the gates needs a reason: it goes to the audit log.'));
      return;
    }
    setBusy(true);
    setError(undefined);
    const options = mode === 'canary' ? { gates: props.gates, canaryBake: bake.trim() } : mode === 'skip' ? { skipGatesReason: reason.trim() } : {};
    api.rollback(props.policy, version, options).then(
      (rollout) => {
        props.onClose();
        window.location.hash = links.rollout(rollout.id);
      },
      (e: unknown) => {
        setBusy(false);
        setError(e);
      },
    );
  };

  return (
    <div className="modal-backdrop" onKeyDown={(e) => e.key === 'Escape' && !busy && props.onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="rollback-title" data-testid="rollback-dialog">
        <h2 id="rollback-title">Roll back {props.policy}</h2>
        <p>
          Every node that runs {props.policy}
          {props.current !== null ? ` (v${props.current})` : ''} is moved to the version you choose, as a rollout you can watch, pause or abort.
        </p>
        <label className="field">
          Back to version
          <select value={version ?? ''} onChange={(e) => setVersion(e.target.value === '' ? null : Number(e.target.value))} data-testid="rollback-version">
            {choices.map((v) => (
              <option key={v.version} value={v.version}>
                v{v.version} — {v.message || 'no message'} ({v.author})
              </option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>How</legend>
          <label className="radio">
            <input type="radio" name="mode" checked={mode === 'canary'} disabled={props.gates.length === 0} onChange={() => setMode('canary')} />
            A judged canary first, then the rest{props.gates.length > 0 ? ` (gates: ${props.gates.map((g) => g.name).join(', ')})` : ' (no gates known for this policy)'}; canary bake{' '}
            <input className="short" value={bake} onChange={(e) => setBake(e.target.value)} disabled={mode !== 'canary'} aria-label="canary bake" />
          </label>
          <label className="radio">
            <input type="radio" name="mode" checked={mode === 'direct'} onChange={() => setMode('direct')} data-testid="rollback-direct" />
            Every node at once, not judged (a NACK still stops it)
          </label>
          {admin ? (
            <label className="radio">
              <input type="radio" name="mode" checked={mode === 'skip'} onChange={() => setMode('skip')} />
              Fast path, gates skipped (admins; the reason is audited)
            </label>
          ) : null}
          {mode === 'skip' ? (
            <label className="field">
              Reason
              <textarea rows={2} value={reason} onChange={(e) => setReason(e.target.value)} />
            </label>
          ) : null}
        </fieldset>
        <ErrorBox error={error} title="The rollback was not started" />
        <div className="buttons">
          <button type="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button type="button" className="danger" onClick={submit} disabled={busy || version === null} data-testid="rollback-confirm">
            {busy ? 'Starting…' : `Roll back to v${version ?? '?'}`}
          </button>
        </div>
      </div>
    </div>
  );
}
