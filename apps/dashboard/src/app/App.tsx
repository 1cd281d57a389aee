/**
 * The application: sign-in with an API token (kept in sessionStorage for this tab only), then
 * the header with the pages and the live-stream status, and the page of the current hash route.
 */
import { Suspense, lazy, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiClient, ApiError } from '../api/client.js';
import type { WhoAmI } from '../api/types.js';
import { clearToken, loadToken, normalizeToken, saveToken } from '../auth/session.js';
import { FleetPage } from '../fleet/FleetPage.js';
import { links, type Route } from '../router.js';
import { LiveHub, SessionProvider, useLiveStatus, useSession, type Session } from './context.js';
import { useRoute } from './hooks.js';
import { ErrorBox, Loading } from './ui.js';

// The fleet page is in the first bundle; the others load on first visit (the policy parser and
// the chart library are not needed to see the fleet).
const NodePage = lazy(() => import('../node/NodePage.js').then((m) => ({ default: m.NodePage })));
const PoliciesPage = lazy(() => import('../policies/PoliciesPage.js').then((m) => ({ default: m.PoliciesPage })));
const PolicyPage = lazy(() => import('../policies/PolicyPage.js').then((m) => ({ default: m.PolicyPage })));
const PolicyEditPage = lazy(() => import('../policies/PolicyEditPage.js').then((m) => ({ default: m.PolicyEditPage })));
const RolloutsPage = lazy(() => import('../rollouts/RolloutsPage.js').then((m) => ({ default: m.RolloutsPage })));
const RolloutPage = lazy(() => import('../rollouts/RolloutPage.js').then((m) => ({ default: m.RolloutPage })));
const NewRolloutPage = lazy(() => import('../rollouts/NewRolloutPage.js').then((m) => ({ default: m.NewRolloutPage })));
const AuditPage = lazy(() => import('../audit/AuditPage.js').then((m) => ({ default: m.AuditPage })));

type Auth = { readonly kind: 'checking' } | { readonly kind: 'signed-out'; readonly problem?: string } | { readonly kind: 'signed-in'; readonly token: string; readonly who: WhoAmI };

export function App(): ReactNode {
  const [auth, setAuth] = useState<Auth>(() => (loadToken(sessionStorage) === null ? { kind: 'signed-out' } : { kind: 'checking' }));

  useEffect(() => {
    if (auth.kind !== 'checking') return;
    const token = loadToken(sessionStorage);
    if (token === null) {
      setAuth({ kind: 'signed-out' });
      return;
    }
    const controller = new AbortController();
    new ApiClient('', token).whoami(controller.signal).then(
      (who) => setAuth({ kind: 'signed-in', token, who }),
      (error: unknown) => {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) {
          clearToken(sessionStorage);
          setAuth({ kind: 'signed-out', problem: 'The saved token is no longer accepted (revoked or expired). Sign in again.' });
        } else {
          setAuth({ kind: 'signed-out', problem: error instanceof Error ? error.message : String(error) });
        }
      },
    );
    return () => controller.abort();
  }, [auth.kind]);

  if (auth.kind === 'checking') return <Loading what="your session" />;
  if (auth.kind === 'signed-out') return <SignIn problem={auth.problem} onSignedIn={(token, who) => setAuth({ kind: 'signed-in', token, who })} />;
  return (
    <SignedIn
      token={auth.token}
      who={auth.who}
      onSignOut={() => {
        clearToken(sessionStorage);
        setAuth({ kind: 'signed-out' });
      }}
    />
  );
}

function SignIn(props: { problem: string | undefined; onSignedIn: (token: string, who: WhoAmI) => void }): ReactNode {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | undefined>(props.problem);
  const [busy, setBusy] = useState(false);
  const submit = (): void => {
    const normalized = normalizeToken(text);
    if ('problem' in normalized) {
      setProblem(normalized.problem);
      return;
    }
    setBusy(true);
    new ApiClient('', normalized.token).whoami().then(
      (who) => {
        saveToken(sessionStorage, normalized.token);
        props.onSignedIn(normalized.token, who);
      },
      (error: unknown) => {
        setBusy(false);
        setProblem(error instanceof ApiError && error.status === 401 ? 'The controller does not accept this token (unknown, revoked or expired).' : error instanceof Error ? error.message : String(error));
      },
    );
  };
  return (
    <main className="sign-in">
      <h1>thp-fleet</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <label className="field">
          API token
          <input type="password" autoComplete="off" autoFocus value={text} onChange={(e) => setText(e.target.value)} placeholder="thp_…" data-testid="token-input" />
        </label>
        <p className="muted">The token stays in this browser tab (sessionStorage) and is sent only to this controller. Its role decides what you can change.</p>
        {problem ? (
          <p className="problem" role="alert">
            {problem}
          </p>
        ) : null}
        <button type="submit" className="primary" disabled={busy} data-testid="sign-in">
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function SignedIn(props: { token: string; who: WhoAmI; onSignOut: () => void }): ReactNode {
  const session = useMemo<Session>(() => ({ api: new ApiClient('', props.token), who: props.who, live: new LiveHub() }), [props.token, props.who]);
  useEffect(() => {
    session.live.start('', props.token);
    return () => session.live.stop();
  }, [session, props.token]);
  return (
    <SessionProvider session={session}>
      <Shell onSignOut={props.onSignOut} />
    </SessionProvider>
  );
}

const NAV: readonly { readonly label: string; readonly href: string; readonly pages: readonly Route['page'][] }[] = [
  { label: 'Fleet', href: links.fleet(), pages: ['fleet', 'node'] },
  { label: 'Policies', href: links.policies(), pages: ['policies', 'policy', 'policy-edit'] },
  { label: 'Rollouts', href: links.rollouts(), pages: ['rollouts', 'rollout', 'rollout-new'] },
  { label: 'Audit', href: links.audit(), pages: ['audit'] },
];

function Shell(props: { onSignOut: () => void }): ReactNode {
  const route = useRoute();
  const { who } = useSession();
  const live = useLiveStatus();
  return (
    <>
      <header className="top">
        <span className="brand">thp-fleet</span>
        <nav>
          {NAV.map((n) => (
            <a key={n.label} href={n.href} className={n.pages.includes(route.page) ? 'active' : ''}>
              {n.label}
            </a>
          ))}
        </nav>
        <span className={`live live-${live.status}`} title={live.error ?? ''} data-testid="live-status">
          {live.status === 'open' ? '● live' : live.status === 'unauthorized' ? 'events refused' : `○ ${live.status}`}
        </span>
        <span className="who" data-testid="who" data-role={who.role}>
          {who.name} <span className="badge muted">{who.role}</span>
        </span>
        <button type="button" onClick={props.onSignOut} data-testid="sign-out">
          Sign out
        </button>
      </header>
      <main className="page">
        <Suspense fallback={<Loading what="the page" />}>
          <Page route={route} />
        </Suspense>
      </main>
    </>
  );
}

function Page(props: { route: Route }): ReactNode {
  const route = props.route;
  switch (route.page) {
    case 'fleet':
      return <FleetPage route={route} />;
    case 'node':
      return <NodePage key={route.id} id={route.id} />;
    case 'policies':
      return <PoliciesPage />;
    case 'policy':
      return <PolicyPage key={route.name} route={route} />;
    case 'policy-edit':
      return <PolicyEditPage key={route.name ?? '(new)'} name={route.name} />;
    case 'rollouts':
      return <RolloutsPage />;
    case 'rollout':
      return <RolloutPage key={route.id} id={route.id} />;
    case 'rollout-new':
      return <NewRolloutPage route={route} />;
    case 'audit':
      return <AuditPage route={route} />;
    case 'not-found':
      return <ErrorBox error={new Error(`There is no page at #${route.path}.`)} title="Not found" />;
  }
}
