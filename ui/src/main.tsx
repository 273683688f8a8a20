import { StrictMode, useEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { api } from './api';
import { KeyPrompt } from './components/KeyPrompt';
import { Account } from './components/SignIn';
import { CHANGED, usePolled } from './live';
import Audit from './pages/Audit';
import { AutomationLog, Automations } from './pages/Automations';
import Deployments from './pages/Deployments';
import Inbox, { preloadInbox } from './pages/Inbox';
import Resume from './pages/Resume';
import ResumeLinkPage from './pages/ResumeLink';
import Run from './pages/Run';
import Runs from './pages/Runs';
import { Link, useLocation, useTitle } from './router';
import './styles.css';

function InboxCount() {
  const { data, reload } = usePolled((signal) => api.inboxCount(signal), 'count', 3000);
  useEffect(() => {
    window.addEventListener(CHANGED, reload);
    return () => window.removeEventListener(CHANGED, reload);
  });
  const count = data?.count ?? 0;
  return (
    <span className={`badge${count ? ' badge-active' : ''}`} data-testid="inbox-count" aria-label={`${count} waiting`}>
      {count}
    </span>
  );
}

function Nav({ path }: { path: string }) {
  const current = (prefix: string) =>
    (prefix === '/runs' ? path === '/' || path.startsWith('/runs') : path.startsWith(prefix)) ? 'page' : undefined;
  return (
    <nav className="nav" aria-label="Main">
      <Link href="/" className="brand">
        <img src="/favicon.svg" alt="" width="22" height="22" />
        inloop
      </Link>
      <Link href="/runs" aria-current={current('/runs')}>
        Runs
      </Link>
      <Link href="/inbox" aria-current={current('/inbox')}>
        Inbox <InboxCount />
      </Link>
      <Link href="/deployments" aria-current={current('/deployments')}>
        Deployments
      </Link>
      <Link href="/automations" aria-current={current('/automations')}>
        Automations
      </Link>
      <Link href="/audit" aria-current={current('/audit')}>
        Audit
      </Link>
      <Account />
    </nav>
  );
}

function NotFound() {
  useTitle('Not found');
  return (
    <div className="page">
      <h1>Not found</h1>
      <p>
        There is no page here. Go to the <Link href="/runs">runs</Link>.
      </p>
    </div>
  );
}

function Routes({ url }: { url: URL }) {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  let match: RegExpMatchArray | null;
  if (path === '/' || path === '/runs') return <Runs search={url.searchParams} />;
  if ((match = path.match(/^\/runs\/([^/]+)\/resume$/))) return <Resume key={match[1]} id={decodeURIComponent(match[1])} />;
  if ((match = path.match(/^\/runs\/([^/]+)$/))) return <Run key={match[1]} id={decodeURIComponent(match[1])} />;
  if (path === '/inbox') return <Inbox />;
  if (path === '/deployments') return <Deployments />;
  if (path === '/audit') return <Audit search={url.searchParams} />;
  if (path === '/automations') return <Automations />;
  if ((match = path.match(/^\/automations\/([^/]+)$/)))
    return <AutomationLog key={match[1]} name={decodeURIComponent(match[1])} search={url.searchParams} />;
  return <NotFound />;
}

/** A signed resume link's path: its page stands alone (the recipient may have no account). */
const LINK_PATH = /^\/r\/([^/]+)\/?$/;

function App() {
  const url = useLocation();
  const link = url.pathname.match(LINK_PATH);
  if (link) {
    return (
      <main id="main">
        <ResumeLinkPage token={decodeURIComponent(link[1])} />
      </main>
    );
  }
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Nav path={url.pathname} />
      <main id="main">
        <Routes url={url} />
      </main>
      <KeyPrompt />
    </>
  );
}

if (window.location.pathname.replace(/\/+$/, '') === '/inbox') preloadInbox();

createRoot(document.getElementById('app')!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
