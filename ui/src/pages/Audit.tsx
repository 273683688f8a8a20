import { useState, type FormEvent } from 'react';
import { api } from '../api';
import { ErrorMessage, Loading } from '../components/common';
import { EventTable } from '../components/EventTable';
import { usePolled } from '../live';
import { Link, navigate, useTitle } from '../router';

const PAGE_SIZE = 50;
const FILTERS = ['kind', 'actor', 'run'] as const;
type Filter = (typeof FILTERS)[number];

function href(values: Record<Filter, string>, before?: string) {
  const search = new URLSearchParams();
  for (const name of FILTERS) if (values[name]) search.set(name, values[name]);
  if (before) search.set('before', before);
  const text = search.toString();
  return text ? `/audit?${text}` : '/audit';
}

// Newest first. "Older" continues before the last id shown (keyset paging, so new events
// arriving meanwhile never shift a page); "Newest" goes back to the top.
export default function Audit({ search }: { search: URLSearchParams }) {
  useTitle('Audit');
  const values = { kind: search.get('kind') ?? '', actor: search.get('actor') ?? '', run: search.get('run') ?? '' };
  const before = Number(search.get('before')) || undefined;
  const [draft, setDraft] = useState(values);

  const key = href(values, before ? String(before) : undefined);
  const { data, error } = usePolled(
    (signal) =>
      api.events(
        {
          kind: values.kind || undefined,
          actor: values.actor || undefined,
          flow_run_id: values.run || undefined,
          // The audit view: what a person or a credential did.
          has_actor: 'true',
          before_id: before,
          limit: PAGE_SIZE + 1,
        },
        signal,
      ),
    key,
    before ? 0 : 5000,
  );
  const rows = data?.slice(0, PAGE_SIZE);
  const older = (data?.length ?? 0) > PAGE_SIZE && rows ? rows[rows.length - 1].id : null;

  const apply = (event: FormEvent) => {
    event.preventDefault();
    navigate(href({ kind: draft.kind.trim(), actor: draft.actor.trim(), run: draft.run.trim() }), { replace: true });
  };
  const filtered = FILTERS.some((name) => values[name]);

  return (
    <div className="page">
      <h1>Audit</h1>
      <p className="muted">Who did what, newest first: resumes, inputs, cancellations, state changes.</p>
      <form className="filters" onSubmit={apply} aria-label="Filter events">
        <div className="flow-filter">
          <label htmlFor="audit-kind">Event</label>
          <input id="audit-kind" type="search" value={draft.kind} placeholder="flow-run.resumed"
            onChange={(e) => setDraft({ ...draft, kind: e.target.value })} />
          <label htmlFor="audit-actor">Actor</label>
          <input id="audit-actor" type="search" value={draft.actor} placeholder="anyone"
            onChange={(e) => setDraft({ ...draft, actor: e.target.value })} />
          <label htmlFor="audit-run">Run id</label>
          <input id="audit-run" type="search" value={draft.run} placeholder="any run"
            onChange={(e) => setDraft({ ...draft, run: e.target.value })} />
          <button type="submit" className="btn">Filter</button>
          {filtered && (
            <Link className="btn btn-link" href="/audit" onClick={() => setDraft({ kind: '', actor: '', run: '' })}>
              Clear
            </Link>
          )}
        </div>
      </form>
      <ErrorMessage error={error} />
      {!rows ? (
        !error && <Loading what="Loading events" />
      ) : rows.length === 0 ? (
        <p className="empty" data-testid="audit-empty">No events{filtered ? ' match these filters' : ' yet'}.</p>
      ) : (
        <EventTable events={rows} />
      )}
      <nav className="pager" aria-label="Pages">
        {before && (
          <Link className="btn" href={href(values)}>
            ← Newest
          </Link>
        )}
        {older !== null && (
          <Link className="btn" href={href(values, String(older))} rel="next">
            Older →
          </Link>
        )}
      </nav>
    </div>
  );
}
