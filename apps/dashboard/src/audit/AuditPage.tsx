/**
 * Audit: the hash-chained log, newest first, filterable by actor, action and target; each entry
 * opens to its before and after side by side; the chain's verification status on top
 * (`GET /api/v1/audit/verify` recomputes every hash).
 */
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { AuditEntry } from '../api/types.js';
import { useLiveReload, useSession } from '../app/context.js';
import { replaceHash, useNow, useResource } from '../app/hooks.js';
import { Ago, ErrorBox, Loading } from '../app/ui.js';
import { links, type Route } from '../router.js';
import { changedFields, fieldRows, verificationText } from './audit.model.js';

const PAGE = 100;
type Filter = { actor: string; action: string; targetType: string; targetId: string };

export function AuditPage(props: { route: Extract<Route, { page: 'audit' }> }): ReactNode {
  const { api } = useSession();
  const now = useNow(10_000);
  const route = props.route;
  const filter: Filter = { actor: route.actor, action: route.action, targetType: route.targetType, targetId: route.targetId };
  const key = JSON.stringify(filter);
  const [form, setForm] = useState<Filter>(filter);
  const written = useRef(key);
  useEffect(() => {
    if (key !== written.current) {
      written.current = key;
      setForm(JSON.parse(key) as Filter);
    }
  }, [key]);
  useEffect(() => {
    const next = JSON.stringify(form);
    if (next === key) return;
    const timer = setTimeout(() => {
      written.current = next;
      replaceHash(links.audit(form));
    }, 300);
    return () => clearTimeout(timer);
  });

  const [older, setOlder] = useState<{ key: string; entries: AuditEntry[]; next: number | null } | null>(null);
  const first = useResource((signal) => api.audit({ ...clean(filter), limit: PAGE }, signal), [api, key]);
  const verify = useResource((signal) => api.verifyAudit(signal), [api]);
  useLiveReload(['audit'], () => {
    first.reload();
    verify.reload();
  }, { delayMs: 1_000 });

  const extra = older?.key === key ? older : null;
  const entries = [...(first.data?.entries ?? []), ...(extra?.entries ?? [])];
  const next = extra ? extra.next : (first.data?.next ?? null);
  const loadOlder = (): void => {
    if (next === null) return;
    api.audit({ ...clean(filter), limit: PAGE, before: next }).then(
      (page) => setOlder({ key, entries: [...(extra?.entries ?? []), ...page.entries], next: page.next }),
      () => undefined,
    );
  };
  const v = verify.data ? verificationText(verify.data) : null;

  return (
    <section>
      <h1>Audit log</h1>
      <div className={`chain ${v === null ? '' : v.ok ? 'chain-ok' : 'chain-broken'}`} data-testid="chain" data-ok={v === null ? '' : String(v.ok)}>
        {verify.error ? <ErrorBox error={verify.error} title="Could not verify the chain" /> : v === null ? 'Verifying the chain…' : v.text}{' '}
        <button type="button" onClick={verify.reload}>
          Verify again
        </button>
      </div>
      <div className="filters">
        {(['actor', 'action', 'targetType', 'targetId'] as const).map((field) => (
          <label key={field} className="field inline">
            {field === 'targetType' ? 'target type' : field === 'targetId' ? 'target id' : field}
            <input value={form[field]} onChange={(e) => setForm({ ...form, [field]: e.target.value })} placeholder={PLACEHOLDER[field]} data-testid={`audit-${field}`} />
          </label>
        ))}
      </div>
      {first.error ? <ErrorBox error={first.error} /> : null}
      {first.data === undefined ? (
        <Loading what="the audit log" />
      ) : entries.length === 0 ? (
        <p className="muted">No entries match.</p>
      ) : (
        <table className="grid audit" data-testid="audit">
          <thead>
            <tr>
              <th>#</th>
              <th>When</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Target</th>
              <th>Changed</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <AuditRow key={e.seq} entry={e} now={now} />
            ))}
          </tbody>
        </table>
      )}
      {next !== null && entries.length > 0 ? (
        <button type="button" onClick={loadOlder}>
          Older entries
        </button>
      ) : null}
    </section>
  );
}

const PLACEHOLDER: Filter = { actor: 'token:alice#tok_…', action: 'policy.version.create', targetType: 'policy, rollout, node…', targetId: 'zgc-only' };

function clean(filter: Filter): Partial<Filter> {
  return Object.fromEntries(Object.entries(filter).filter(([, v]) => v.trim() !== ''));
}

function AuditRow(props: { entry: AuditEntry; now: number }): ReactNode {
  const e = props.entry;
  const [open, setOpen] = useState(false);
  const fields = changedFields(e);
  return (
    <>
      <tr className={open ? 'open' : ''} data-seq={e.seq} data-action={e.action}>
        <td>
          <button type="button" className="link" onClick={() => setOpen(!open)} aria-expanded={open}>
            {open ? '▾' : '▸'} {e.seq}
          </button>
        </td>
        <td>
          <Ago at={e.at} now={props.now} />
        </td>
        <td>{e.actor}</td>
        <td>
          <code>{e.action}</code>
        </td>
        <td>
          {e.targetType === 'node' ? <a href={links.node(e.targetId)}>{e.targetId}</a> : e.targetType === 'rollout' ? <a href={links.rollout(e.targetId)}>{e.targetId}</a> : e.targetType === 'policy' ? <a href={links.policy(e.targetId)}>{e.targetId}</a> : e.targetId}{' '}
          <span className="muted">({e.targetType})</span>
        </td>
        <td className="small">{fields.slice(0, 6).join(', ')}{fields.length > 6 ? ', …' : ''}</td>
      </tr>
      {open ? (
        <tr className="detail">
          <td colSpan={6}>
            <BeforeAfter entry={e} />
            <p className="muted small">
              hash <code>{e.hash}</code>, previous <code>{e.prevHash}</code>
            </p>
          </td>
        </tr>
      ) : null}
    </>
  );
}

function BeforeAfter(props: { entry: AuditEntry }): ReactNode {
  const rows = fieldRows(props.entry);
  if (rows.length === 0) return <p className="muted">No before or after recorded.</p>;
  return (
    <table className="before-after" data-testid="before-after">
      <thead>
        <tr>
          <th>field</th>
          <th>before</th>
          <th>after</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.field} className={r.changed ? 'changed' : ''} data-field={r.field}>
            <th>{r.field || '(value)'}</th>
            <td>{r.before === null ? <span className="muted">–</span> : <pre>{r.before}</pre>}</td>
            <td>{r.after === null ? <span className="muted">–</span> : <pre>{r.after}</pre>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
