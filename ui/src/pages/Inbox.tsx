import { useEffect, useLayoutEffect, useState } from 'react';
import { api, type InboxItem } from '../api';
import { Assignees, useSession } from '../components/Assignees';
import { ErrorMessage, Loading, StateBadge } from '../components/common';
import { formatTime, relative, since } from '../format';
import { CHANGED, useNow, usePolled } from '../live';
import { markdownToText } from '../plaintext';
import { Link, useTitle } from '../router';

const PAGE_SIZE = 50;
const INBOX_MARK = 'inloop:inbox-rendered';

let preloaded: Promise<InboxItem[]> | null = null;

/** Start fetching the first page before React mounts (main.tsx calls this on /inbox). */
export function preloadInbox() {
  preloaded = api.inbox(PAGE_SIZE + 1, 0);
  preloaded.catch(() => undefined); // handled by whoever consumes it
}

function loadPage(page: number, all: boolean, signal: AbortSignal): Promise<InboxItem[]> {
  const early = preloaded;
  preloaded = null;
  if (page === 1 && early && !all) return early;
  return api.inbox(PAGE_SIZE + 1, (page - 1) * PAGE_SIZE, signal, all);
}

// Roles the server lets list every waiting run (`all=true`), also those they may not answer.
const SEE_ALL = ['operator', 'admin'];

export default function Inbox() {
  useTitle('Inbox');
  const [page, setPage] = useState(1);
  const [all, setAll] = useState(false);
  const session = useSession();
  const people = session?.mode === 'users';
  const mayShowAll = people && SEE_ALL.includes(session?.role ?? '');
  const now = useNow();
  const { data, error, reload } = usePolled(
    (signal) => loadPage(page, all, signal),
    `inbox:${page}:${all}`,
    3000,
    { keepOnKeyChange: true },
  );
  useEffect(() => {
    window.addEventListener(CHANGED, reload);
    return () => window.removeEventListener(CHANGED, reload);
  });
  const items = data?.slice(0, PAGE_SIZE);
  const hasNext = (data?.length ?? 0) > PAGE_SIZE;
  useLayoutEffect(() => {
    // User Timing for bench/ui.py: when the first page of the inbox is on screen.
    if (items && !performance.getEntriesByName(INBOX_MARK).length) performance.mark(INBOX_MARK);
  }, [items]);

  return (
    <div className="page">
      <h1>Inbox</h1>
      <p className="muted">
        {people && !all ? 'What waits for you' : 'Every run waiting for a person'}, oldest first.
      </p>
      {mayShowAll && (
        <label className="inbox-all">
          <input
            type="checkbox"
            checked={all}
            onChange={(event) => {
              setAll(event.target.checked);
              setPage(1);
            }}
          />{' '}
          Show every waiting run, also those you may not answer
        </label>
      )}
      <ErrorMessage error={error} />
      {!items ? (
        !error && <Loading what="Loading the inbox" />
      ) : items.length === 0 ? (
        <p className="empty" data-testid="inbox-empty">
          Nothing is waiting for input.
        </p>
      ) : (
        <table className="table" data-testid="inbox-table">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Asks</th>
              <th scope="col">Assigned to</th>
              <th scope="col">Waiting</th>
              <th scope="col">Deadline</th>
              <th scope="col">
                <span className="visually-hidden">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => {
              const run = item.flow_run;
              return (
                <tr key={run.id} data-run-id={run.id}>
                  <td>
                    <Link href={`/runs/${run.id}`}>{run.name}</Link>
                    <div className="muted">
                      {run.flow_name} <StateBadge type={run.state.type} name={run.state.name} />
                    </div>
                  </td>
                  <td className="first-line">
                    {item.description_first_line ? markdownToText(item.description_first_line) : <span className="muted">—</span>}
                  </td>
                  <td data-testid="assigned-to">
                    <Assignees assignees={run.pause?.assignees ?? []} session={session} />
                  </td>
                  <td title={`since ${formatTime(item.waiting_since)}`} data-testid="waiting-for">
                    waiting for {since(item.waiting_since, now)}
                  </td>
                  <td className={item.deadline && new Date(item.deadline).getTime() < now ? 'overdue' : undefined}>
                    {item.deadline ? (
                      <span title={formatTime(item.deadline)}>
                        {relative(item.deadline, now)}
                        {run.pause?.on_timeout === 'defaults' && <span className="muted">, then defaults</span>}
                      </span>
                    ) : (
                      <span className="muted">none</span>
                    )}
                  </td>
                  <td>
                    {item.can_answer ? (
                      <Link className="btn btn-primary btn-small" href={`/runs/${run.id}/resume`}>
                        Respond
                      </Link>
                    ) : (
                      <span className="muted" data-testid="not-yours">
                        not yours to answer
                      </span>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {(page > 1 || hasNext) && (
        <nav className="pager" aria-label="Pages">
          {page > 1 && (
            <button type="button" className="btn" onClick={() => setPage(page - 1)}>
              ← Previous
            </button>
          )}
          <span className="muted">Page {page}</span>
          {hasNext && (
            <button type="button" className="btn" onClick={() => setPage(page + 1)}>
              Next →
            </button>
          )}
        </nav>
      )}
    </div>
  );
}
