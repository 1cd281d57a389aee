/**
 * Write a policy version. The text is validated as you type by libs/policy in the browser (the
 * parser and validator the controller runs), every issue listed with its path and marked on its
 * line in the gutter; a click on an issue moves the caret there. The version is created against
 * the version the editor started from (If-Match: "v<n>"): if someone added one meanwhile, the
 * controller answers 409 and the text stays here.
 */
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { PolicyIssue } from '@thp-fleet/policy';
import { ApiError } from '../api/client.js';
import { useSession } from '../app/context.js';
import { useDebounced, useResource } from '../app/hooks.js';
import { ErrorBox, Loading } from '../app/ui.js';
import { hasRole } from '../auth/session.js';
import { links } from '../router.js';
import { NEW_POLICY_TEMPLATE, checkPolicyText, issueWhere, issuesByLine, nameIssue, offsetOf, serverIssues } from './policy.model.js';

export function PolicyEditPage(props: { name: string | null }): ReactNode {
  const { api, who } = useSession();
  const name = props.name;
  const base = useResource(
    async (signal) => {
      if (name === null) return null;
      const p = await api.policy(name, signal);
      const latest = await api.policyVersion(name, p.policy.latestVersion, signal);
      return { latestVersion: p.policy.latestVersion, source: latest.source };
    },
    [api, name],
  );
  if (!hasRole(who.role, 'operator')) return <ErrorBox error={new Error(`Writing policies needs the operator role; this token is ${who.role}.`)} title="Not allowed" />;
  if (name !== null && base.data === undefined) return base.error ? <ErrorBox error={base.error} /> : <Loading what={`policy ${name}`} />;
  return <Editor name={name} initial={base.data?.source ?? NEW_POLICY_TEMPLATE} expectedVersion={base.data?.latestVersion ?? null} />;
}

function Editor(props: { name: string | null; initial: string; expectedVersion: number | null }): ReactNode {
  const { api } = useSession();
  const [text, setText] = useState(props.initial);
  const [message, setMessage] = useState('');
  const [expected, setExpected] = useState(props.expectedVersion);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ kind: 'error'; error: unknown } | { kind: 'conflict'; message: string } | { kind: 'unchanged'; version: number } | null>(null);
  const [server, setServer] = useState<PolicyIssue[]>([]);
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLDivElement>(null);

  // Validate as you type: libs/policy is fast (well under a millisecond for real policies), the
  // short debounce only keeps the list from flickering while a word is typed.
  const settled = useDebounced(text, 120);
  const check = useMemo(() => checkPolicyText(settled), [settled]);
  const wrongName = props.name === null ? null : nameIssue(settled, check.name, props.name);
  const errors = useMemo(() => [...(wrongName ? [wrongName] : []), ...check.errors, ...server], [wrongName, check.errors, server]);
  const warnings = check.warnings;
  const byLine = useMemo(() => issuesByLine([...errors, ...warnings]), [errors, warnings]);
  useEffect(() => setServer([]), [settled]);

  const lineCount = text.split('\n').length;
  const syncScroll = (): void => {
    if (gutter.current && area.current) gutter.current.scrollTop = area.current.scrollTop;
  };
  const goTo = (issue: PolicyIssue): void => {
    const el = area.current;
    if (!el || issue.line === undefined) return;
    const start = offsetOf(text, issue.line, issue.column ?? 1);
    const lineEnd = text.indexOf('\n', start);
    el.focus();
    el.setSelectionRange(start, lineEnd < 0 ? text.length : lineEnd);
    const lineHeight = parseFloat(getComputedStyle(el).lineHeight) || 18;
    el.scrollTop = Math.max(0, (issue.line - 4) * lineHeight);
    syncScroll();
  };

  const target = props.name ?? check.name;
  const submit = (): void => {
    setBusy(true);
    setOutcome(null);
    const write = props.name === null || expected === null ? api.createPolicy(text, message) : api.addPolicyVersion(props.name, text, expected, message);
    write.then(
      (written) => {
        setBusy(false);
        if (written.created === false) {
          setOutcome({ kind: 'unchanged', version: written.version.version });
          return;
        }
        window.location.hash = links.policy(written.version.policy, written.version.version);
      },
      (error: unknown) => {
        setBusy(false);
        if (error instanceof ApiError && error.status === 409 && props.name !== null) {
          setOutcome({ kind: 'conflict', message: error.message });
        } else {
          if (error instanceof ApiError && error.details.some((d) => d.line !== undefined)) setServer(serverIssues(error.details));
          setOutcome({ kind: 'error', error });
        }
      },
    );
  };
  const rebase = (): void => {
    if (props.name === null) return;
    api.policy(props.name).then(
      (p) => {
        setExpected(p.policy.latestVersion);
        setOutcome(null);
      },
      (error: unknown) => setOutcome({ kind: 'error', error }),
    );
  };

  return (
    <section>
      <p className="crumbs">
        <a href={links.policies()}>Policies</a> / {props.name ? <a href={links.policy(props.name)}>{props.name}</a> : 'new'} / edit
      </p>
      <h1>{props.name === null ? 'New policy' : `New version of ${props.name}`}</h1>
      <p className="muted">
        {props.name === null
          ? 'The policy is named by metadata.name. '
          : `Starts from v${expected ?? '?'}; it becomes v${(expected ?? 0) + 1} unless someone adds a version first (you would be told, and keep your text). `}
        YAML or JSON; docs/policy.md describes every field.
      </p>
      <div className="editor" data-testid="editor">
        <div className="gutter" ref={gutter} data-testid="gutter" aria-hidden="true">
          {Array.from({ length: lineCount }, (_, i) => {
            const issues = byLine.get(i + 1);
            const severity = issues?.some((x) => x.severity === 'error') ? 'error' : issues ? 'warning' : '';
            return (
              <div key={i} className={`ln ${severity}`} data-line={i + 1} title={issues?.map((x) => `${x.path || '(document)'}: ${x.message}`).join('\n')}>
                {i + 1}
              </div>
            );
          })}
        </div>
        <textarea
          ref={area}
          value={text}
          onChange={(e) => setText(e.target.value)}
          onScroll={syncScroll}
          spellCheck={false}
          wrap="off"
          rows={Math.min(40, Math.max(16, lineCount + 1))}
          aria-label="policy document"
          data-testid="policy-text"
        />
      </div>
      <div className="validation" data-testid="validation" data-ok={errors.length === 0 ? 'true' : 'false'}>
        {errors.length === 0 ? (
          <p className="ok">
            Valid{target ? `: policy ${target}` : ''}
            {warnings.length > 0 ? `, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : ''}.
          </p>
        ) : (
          <p className="problem">
            {errors.length} error{errors.length === 1 ? '' : 's'}:
          </p>
        )}
        <ul className="issues" data-testid="editor-issues">
          {[...errors, ...warnings].map((issue, i) => (
            <li key={i} className={issue.severity} data-line={issue.line ?? ''} data-path={issue.path}>
              <button type="button" className="link" onClick={() => goTo(issue)}>
                {issueWhere(issue)}
              </button>{' '}
              <code>{issue.path || '(document)'}</code>: {issue.message}
            </li>
          ))}
        </ul>
      </div>
      <label className="field">
        Message (why this version; shown in the version list and the audit log)
        <input value={message} onChange={(e) => setMessage(e.target.value)} maxLength={2000} data-testid="version-message" />
      </label>
      {outcome?.kind === 'error' ? <ErrorBox error={outcome.error} title="The controller did not accept it" /> : null}
      {outcome?.kind === 'conflict' ? (
        <div className="error-box" role="alert">
          <strong>Someone added a version since you started</strong>
          <div>{outcome.message}</div>
          <p>
            Your text is still here. Look at the <a href={links.policy(props.name ?? '')}>latest version</a>, then{' '}
            <button type="button" onClick={rebase}>
              base this on the latest
            </button>{' '}
            and create it again.
          </p>
        </div>
      ) : null}
      {outcome?.kind === 'unchanged' ? <p className="notice">Nothing written: v{outcome.version} already has exactly this meaning.</p> : null}
      <div className="buttons">
        <a className="button" href={props.name ? links.policy(props.name) : links.policies()}>
          Cancel
        </a>
        <button type="button" className="primary" disabled={busy || errors.length > 0 || settled !== text} onClick={submit} data-mutating="create-version" data-testid="create-version">
          {busy ? 'Creating…' : props.name === null ? 'Create policy' : `Create v${(expected ?? 0) + 1}`}
        </button>
      </div>
    </section>
  );
}
