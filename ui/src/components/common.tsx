import { lazy, Suspense, type ReactNode } from 'react';
import { ApiError, type StateType } from '../api';

const LazyMarkdown = lazy(() => import('./Markdown'));

export function Markdown({ source }: { source: string }) {
  return (
    <Suspense fallback={<div className="markdown muted">…</div>}>
      <LazyMarkdown source={source} />
    </Suspense>
  );
}

/** A state's name on its own colour (every state type has one; the text says it too). */
export function StateBadge({ type, name }: { type: StateType; name?: string }) {
  const label = type.toLowerCase();
  return (
    <span className={`state state-${label}`} data-state={type} title={name && name.toLowerCase() !== label ? label : undefined}>
      {name || label}
    </span>
  );
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof ApiError && error.status >= 500) text = `server error (${error.status}): ${text}`;
  if (error instanceof TypeError) text = `cannot reach the server (${text}); retrying…`;
  return (
    <p className="alert alert-error" role="alert">
      {text}
    </p>
  );
}

export function Loading({ what = 'Loading' }: { what?: string }) {
  return (
    <p className="muted" aria-busy="true">
      {what}…
    </p>
  );
}

export { JsonView } from './LongValue';

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <header className="card-header">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}
