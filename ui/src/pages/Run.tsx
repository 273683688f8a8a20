import { useState } from 'react';
import { api, type FlowRun, type JsonObject, type RunInputRow } from '../api';
import { CancelRun } from '../components/CancelRun';
import { EventTable } from '../components/EventTable';
import { ErrorMessage, JsonView, Loading, Markdown, Section, StateBadge } from '../components/common';
import { Logs } from '../components/Logs';
import { formatTime, relative, runDuration } from '../format';
import { useLiveRun, useNow, usePolled } from '../live';
import { Link, useTitle } from '../router';

const PAUSE_SUFFIXES = ['-schema', '-description'];

export function isWaiting(run: FlowRun) {
  return run.state.type === 'PAUSED' || run.state.type === 'SUSPENDED';
}

export function PausePanel({ run, now }: { run: FlowRun; now: number }) {
  const pause = run.pause;
  return (
    <div className="pause-panel" data-testid="pause-panel">
      <div className="pause-head">
        <div>
          <strong>{run.state.type === 'SUSPENDED' ? 'Suspended' : 'Paused'}: waiting for input</strong>
          {pause && (
            <span className="muted">
              {' '}
              · key <code>{pause.key}</code>
              {pause.deadline && <> · deadline {formatTime(pause.deadline)} ({relative(pause.deadline, now)})</>}
              {pause.deadline && pause.on_timeout === 'defaults' && <>, then resumed with its defaults</>}
            </span>
          )}
        </div>
        <Link className="btn btn-primary" href={`/runs/${run.id}/resume`}>
          Resume
        </Link>
      </div>
      {pause?.description && <Markdown source={pause.description} />}
    </div>
  );
}

function Inputs({ rows }: { rows: RunInputRow[] }) {
  const shown = rows.filter((row) => !PAUSE_SUFFIXES.some((suffix) => row.key.endsWith(suffix)));
  if (shown.length === 0) return <p className="empty">No inputs received.</p>;
  return (
    <table className="table" data-testid="inputs-table">
      <thead>
        <tr>
          <th scope="col">Key</th>
          <th scope="col">Value</th>
          <th scope="col">Sender</th>
          <th scope="col">Received</th>
        </tr>
      </thead>
      <tbody>
        {shown.map((row) => (
          <tr key={row.seq}>
            <td>
              <code>{row.key}</code>
              {row.key.endsWith('-response') && <span className="muted"> (answer)</span>}
            </td>
            <td>
              <JsonView value={row.value} name={row.key} />
            </td>
            <td>{row.sender ?? <span className="muted">—</span>}</td>
            <td>{formatTime(row.created)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A state's details (who cancelled, which runner, ...), shown when asked: they can be large. */
function StateDetails({ details, name }: { details: JsonObject; name: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="btn btn-small btn-link" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? 'Hide details' : 'Details'}
      </button>
      {open && (
        <div className="state-details">
          <JsonView value={details} name={name} />
        </div>
      )}
    </>
  );
}

export default function Run({ id }: { id: string }) {
  const { data: run, error, setRun } = useLiveRun(id);
  const now = useNow();
  useTitle(run ? run.name : 'Run');
  const seq = run?.state_seq ?? -1;
  const states = usePolled((signal) => api.states(id, signal), `${id}:${seq}`, 0, { keepOnKeyChange: true });
  const inputs = usePolled((signal) => api.inputs(id, signal), `${id}:${seq}`, 5000, { keepOnKeyChange: true });
  // Oldest first below; fetched newest first so a long history shows its latest 200.
  const runEvents = usePolled(
    (signal) => api.events({ flow_run_id: id, limit: 200 }, signal),
    `${id}:${seq}`,
    5000,
    { keepOnKeyChange: true },
  );

  if (!run) {
    return (
      <div className="page">
        <ErrorMessage error={error} />
        {!error && <Loading what="Loading run" />}
      </div>
    );
  }

  return (
    <div className="page">
      <p className="crumbs">
        <Link href="/runs">Runs</Link> / {run.flow_name}
      </p>
      <div className="title-row">
        <h1>{run.name}</h1>
        <StateBadge type={run.state.type} name={run.state.name} />
        <CancelRun run={run} onCancelled={setRun} />
      </div>
      <ErrorMessage error={error} />
      {run.state.message && <p className="state-message">{run.state.message}</p>}
      {isWaiting(run) && <PausePanel run={run} now={now} />}

      <dl className="facts">
        <dt>Flow</dt>
        <dd>{run.flow_name}</dd>
        <dt>Deployment</dt>
        <dd>{run.deployment_name ?? '—'}</dd>
        <dt>Run id</dt>
        <dd className="mono">{run.id}</dd>
        {run.parent_flow_run_id && (
          <>
            <dt>Parent run</dt>
            <dd>
              <Link href={`/runs/${run.parent_flow_run_id}`}>{run.parent_flow_run_id}</Link>
            </dd>
          </>
        )}
        <dt>Created</dt>
        <dd>{formatTime(run.created)}</dd>
        <dt>Started</dt>
        <dd>{formatTime(run.start_time)}</dd>
        <dt>Ended</dt>
        <dd>{formatTime(run.end_time)}</dd>
        <dt>Duration</dt>
        <dd data-testid="run-duration">
          {runDuration(run, now) ?? <span className="muted">not started</span>}
          {run.start_time && !run.end_time && <span className="muted"> (still going)</span>}
        </dd>
      </dl>

      <Section title="Parameters">
        {Object.keys(run.parameters ?? {}).length ? <JsonView value={run.parameters} name={`${run.name}-parameters`} /> : <p className="empty">None.</p>}
      </Section>

      <Section title="Logs">
        <Logs runId={run.id} />
      </Section>

      <Section title="State history">
        <ErrorMessage error={states.error} />
        {!states.data ? (
          <Loading />
        ) : (
          <ol className="timeline" data-testid="state-history">
            {states.data.map((state, index) => {
              const resumedBy = state.details?.resumed_by;
              return (
                <li key={index}>
                  <StateBadge type={state.type} name={state.name} />
                  <time dateTime={state.timestamp ?? undefined}>{formatTime(state.timestamp)}</time>
                  {typeof resumedBy === 'string' && <span className="resumed-by">resumed by {resumedBy}</span>}
                  {state.message && <span className="muted">{state.message}</span>}
                  {state.details && Object.keys(state.details).length > 0 && (
                    <StateDetails details={state.details} name={`${run.name}-state-${index + 1}`} />
                  )}
                </li>
              );
            })}
          </ol>
        )}
      </Section>

      <Section title="Inputs received">
        <ErrorMessage error={inputs.error} />
        {!inputs.data ? <Loading /> : <Inputs rows={inputs.data} />}
      </Section>

      <Section title="Events">
        <ErrorMessage error={runEvents.error} />
        {!runEvents.data ? <Loading /> : <EventTable events={[...runEvents.data].reverse()} showRun={false} />}
      </Section>
    </div>
  );
}
