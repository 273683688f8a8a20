import { useState, type FormEvent } from 'react';
import { api, STATE_TYPES, type StateType } from '../api';
import { ErrorMessage, Loading, StateBadge } from '../components/common';
import { formatTime, runDuration, shortId } from '../format';
import { useNow, usePolled } from '../live';
import { Link, navigate, useTitle } from '../router';

const PAGE_SIZE = 25;

function href(states: string[], flow: string, page: number) {
  const search = new URLSearchParams();
  states.forEach((state) => search.append('state', state));
  if (flow) search.set('flow', flow);
  if (page > 1) search.set('page', String(page));
  const text = search.toString();
  return text ? `/runs?${text}` : '/runs';
}

export default function Runs({ search }: { search: URLSearchParams }) {
  useTitle('Runs');
  const states = search.getAll('state').filter((s): s is StateType => STATE_TYPES.includes(s as StateType));
  const flow = search.get('flow') ?? '';
  const page = Math.max(1, Number(search.get('page')) || 1);
  const [flowDraft, setFlowDraft] = useState(flow);
  const now = useNow();

  const key = href(states, flow, page);
  const { data, error } = usePolled(
    (signal) =>
      api.runs({ state: states, flow_name: flow || undefined, limit: PAGE_SIZE + 1, offset: (page - 1) * PAGE_SIZE }, signal),
    key,
    4000,
  );
  const runs = data?.slice(0, PAGE_SIZE);
  const hasNext = (data?.length ?? 0) > PAGE_SIZE;

  const toggle = (state: StateType) => {
    const next = states.includes(state) ? states.filter((s) => s !== state) : [...states, state];
    navigate(href(next, flow, 1), { replace: true });
  };
  const applyFlow = (event: FormEvent) => {
    event.preventDefault();
    navigate(href(states, flowDraft.trim(), 1), { replace: true });
  };

  return (
    <div className="page">
      <h1>Flow runs</h1>
      <form className="filters" onSubmit={applyFlow} aria-label="Filter runs">
        <fieldset className="state-filter">
          <legend>State</legend>
          {STATE_TYPES.map((state) => (
            <label key={state} className={`chip${states.includes(state) ? ' chip-on' : ''}`}>
              <input type="checkbox" checked={states.includes(state)} onChange={() => toggle(state)} />
              <span className={`swatch state-${state.toLowerCase()}`} aria-hidden="true" />
              {state.toLowerCase()}
            </label>
          ))}
        </fieldset>
        <div className="flow-filter">
          <label htmlFor="flow-filter">Flow name</label>
          <input
            id="flow-filter"
            type="search"
            value={flowDraft}
            placeholder="any flow"
            onChange={(event) => setFlowDraft(event.target.value)}
          />
          <button type="submit" className="btn">
            Filter
          </button>
          {(states.length > 0 || flow) && (
            <Link className="btn btn-link" href="/runs" onClick={() => setFlowDraft('')}>
              Clear
            </Link>
          )}
        </div>
      </form>
      <ErrorMessage error={error} />
      {!runs ? (
        !error && <Loading what="Loading runs" />
      ) : runs.length === 0 ? (
        <p className="empty">No flow runs{states.length || flow ? ' match these filters' : ' yet'}.</p>
      ) : (
        <table className="table" data-testid="runs-table">
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Flow</th>
              <th scope="col">State</th>
              <th scope="col">Duration</th>
              <th scope="col">Created</th>
              <th scope="col">Deployment</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.id} data-run-id={run.id}>
                <td>
                  <Link href={`/runs/${run.id}`}>{run.name}</Link> <span className="muted mono">{shortId(run.id)}</span>
                </td>
                <td>{run.flow_name}</td>
                <td>
                  <StateBadge type={run.state.type} name={run.state.name} />
                  {run.pause && (
                    <>
                      {' '}
                      <Link className="btn btn-small" href={`/runs/${run.id}/resume`}>
                        Resume
                      </Link>
                    </>
                  )}
                </td>
                <td className="duration" title={run.start_time ? `started ${formatTime(run.start_time)}` : undefined}>
                  {runDuration(run, now) ?? <span className="muted">—</span>}
                </td>
                <td>{formatTime(run.created)}</td>
                <td>{run.deployment_name ?? <span className="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav className="pager" aria-label="Pages">
        {page > 1 && (
          <Link className="btn" href={href(states, flow, page - 1)} rel="prev">
            ← Newer
          </Link>
        )}
        <span className="muted">Page {page}</span>
        {hasNext && (
          <Link className="btn" href={href(states, flow, page + 1)} rel="next">
            Older →
          </Link>
        )}
      </nav>
    </div>
  );
}
