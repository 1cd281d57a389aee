/** Small shared pieces of UI: badges, errors, the confirmation dialog, code with line numbers. */
import { useState, type ReactNode } from 'react';
import { ApiError } from '../api/client.js';
import type { NodeState, RolloutPhase, Verdict } from '../api/types.js';
import { STATE_LABEL, STATE_MEANING, ago } from '../fleet/fleet.model.js';

export function StateBadge(props: { state: NodeState }): ReactNode {
  return (
    <span className={`badge state-${props.state}`} title={STATE_MEANING[props.state]} data-state={props.state}>
      {STATE_LABEL[props.state]}
    </span>
  );
}

export function VerdictBadge(props: { verdict: Verdict | null }): ReactNode {
  if (props.verdict === null) return <span className="badge muted">not judged</span>;
  return (
    <span className={`badge verdict-${props.verdict}`} data-verdict={props.verdict}>
      {props.verdict}
    </span>
  );
}

export function PhaseBadge(props: { phase: RolloutPhase }): ReactNode {
  return (
    <span className={`badge phase-${props.phase}`} data-phase={props.phase}>
      {props.phase.replace('_', ' ')}
    </span>
  );
}

export function Ago(props: { at: string | null | undefined; now: number }): ReactNode {
  if (!props.at) return <span className="muted">never</span>;
  return <time dateTime={props.at} title={new Date(props.at).toLocaleString()}>{ago(props.at, props.now)}</time>;
}

/** An error in words, with the controller's details (path, line) when it sent them. */
export function ErrorBox(props: { error: unknown; title?: string }): ReactNode {
  const error = props.error;
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
  const details = error instanceof ApiError ? error.details : [];
  return (
    <div className="error-box" role="alert">
      <strong>{props.title ?? (error instanceof ApiError && error.unreachable ? 'The controller did not answer' : 'Error')}</strong>
      {error instanceof ApiError && !error.unreachable ? <span className="muted"> ({error.status} {error.code})</span> : null}
      <div>{message}</div>
      {details.length > 0 ? (
        <ul>
          {details.map((d, i) => (
            <li key={i}>
              <code>{d.path || '(document)'}</code>
              {d.line !== undefined ? ` line ${d.line}` : ''}: {d.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

export function Loading(props: { what: string }): ReactNode {
  return <p className="muted loading">Loading {props.what}…</p>;
}

export interface ConfirmRequest {
  readonly title: string;
  readonly question: string;
  /** Ask for a reason (written to the audit log). */
  readonly reason?: { readonly label: string; readonly placeholder?: string };
  readonly confirmLabel: string;
  readonly danger?: boolean;
  /** Extra form content (e.g. a version select). */
  readonly body?: ReactNode;
  run(reason: string): Promise<void>;
}

/**
 * A modal confirmation: the question, an optional reason (required when asked for), and the
 * action's own error shown in place when it fails (the dialog stays open so nothing is lost).
 */
export function ConfirmDialog(props: { request: ConfirmRequest; onClose: () => void }): ReactNode {
  const { request } = props;
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const needsReason = request.reason !== undefined;
  const submit = (): void => {
    if (needsReason && reason.trim() === '') {
      setError(new Error(`${request.reason?.label ?? 'A reason'} is required: it goes to the audit log.`));
      return;
    }
    setBusy(true);
    setError(undefined);
    request.run(reason.trim()).then(
      () => props.onClose(),
      (e: unknown) => {
        setBusy(false);
        setError(e);
      },
    );
  };
  return (
    <div className="modal-backdrop" onKeyDown={(e) => e.key === 'Escape' && !busy && props.onClose()}>
      <div className="modal" role="dialog" aria-modal="true" aria-labelledby="confirm-title" data-testid="confirm-dialog">
        <h2 id="confirm-title">{request.title}</h2>
        <p>{request.question}</p>
        {request.body}
        {needsReason ? (
          <label className="field">
            {request.reason?.label}
            <textarea autoFocus rows={2} value={reason} placeholder={request.reason?.placeholder} onChange={(e) => setReason(e.target.value)} data-testid="confirm-reason" />
          </label>
        ) : null}
        <ErrorBox error={error} title="It did not work" />
        <div className="buttons">
          <button type="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button type="button" autoFocus={!needsReason} className={request.danger ? 'danger' : 'primary'} onClick={submit} disabled={busy} data-testid="confirm-ok">
            {busy ? 'Working…' : request.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Source text with line numbers (YAML view, JSON of audit entries). */
export function CodeView(props: { text: string; className?: string; testId?: string }): ReactNode {
  const lines = props.text.replace(/\n$/, '').split('\n');
  return (
    <pre className={`code ${props.className ?? ''}`} data-testid={props.testId}>
      {lines.map((line, i) => (
        <div key={i} className="code-line">
          <span className="ln">{i + 1}</span>
          <span className="tx">{line === '' ? ' ' : line}</span>
        </div>
      ))}
    </pre>
  );
}

/** A labelled key/value table. */
export function Facts(props: { rows: readonly (readonly [string, ReactNode])[] }): ReactNode {
  return (
    <table className="facts">
      <tbody>
        {props.rows.map(([k, v]) => (
          <tr key={k}>
            <th>{k}</th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
