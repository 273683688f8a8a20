import { lazy, Suspense, useEffect, useState, type FormEvent } from 'react';
import { api, ApiError, FINAL_STATE_TYPES, type Json, type PauseView } from '../api';
import { Assignees, useSession } from '../components/Assignees';
import { ErrorMessage, Loading, Markdown, Section, StateBadge } from '../components/common';
import { Logs } from '../components/Logs';
import { formatTime, relative } from '../format';
import { announceChange, useLiveRun, useNow } from '../live';
import { Link, useTitle } from '../router';
import { isWaiting } from './Run';

const SchemaForm = lazy(() => import('../components/SchemaForm'));

/** A pause without an input type: resuming needs only a click. */
export function PlainResume({ onSubmit }: { onSubmit: (data: Json) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    try {
      await onSubmit(null);
    } catch (error) {
      setFailure(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit}>
      {failure && (
        <p className="alert alert-error" role="alert">
          {failure}
        </p>
      )}
      <p>This pause asks for no input.</p>
      <button type="submit" className="btn btn-primary" disabled={busy}>
        Resume
      </button>
    </form>
  );
}

export default function Resume({ id }: { id: string }) {
  const { data: run, error, setRun } = useLiveRun(id);
  const now = useNow();
  const [pause, setPause] = useState<{ details: PauseView; seq: number } | null>(null);
  const [pauseError, setPauseError] = useState<Error | null>(null);
  const [resumedSeq, setResumedSeq] = useState<number | null>(null);
  const session = useSession();
  useTitle(run ? `Resume ${run.name}` : 'Resume');

  const waiting = run ? isWaiting(run) : false;
  const seq = run?.state_seq ?? -1;

  useEffect(() => {
    if (!waiting || (pause && pause.seq === seq)) return;
    const controller = new AbortController();
    api
      .pause(id, controller.signal)
      .then((details) => {
        setPause({ details, seq });
        setPauseError(null);
      })
      .catch((err) => {
        if (!controller.signal.aborted && !(err instanceof ApiError && err.status === 409)) setPauseError(err);
      });
    return () => controller.abort();
  }, [id, waiting, seq, pause]);

  const resume = async (data: Json) => {
    const resumed = await api.resume(id, data);
    setResumedSeq(resumed.state_seq);
    setRun(resumed);
    announceChange();
  };

  if (!run) {
    return (
      <div className="page">
        <ErrorMessage error={error} />
        {!error && <Loading what="Loading run" />}
      </div>
    );
  }

  const current = waiting && pause && pause.seq === seq ? pause.details : null;
  const askedAgain = current !== null && resumedSeq !== null && seq > resumedSeq;

  return (
    <div className="page">
      <p className="crumbs">
        <Link href="/runs">Runs</Link> / <Link href={`/runs/${run.id}`}>{run.name}</Link> / resume
      </p>
      <div className="title-row">
        <h1>Resume {run.name}</h1>
        <StateBadge type={run.state.type} name={run.state.name} />
      </div>
      <p className="muted">
        Flow <strong>{run.flow_name}</strong>
        {run.deployment_name && <> · deployment {run.deployment_name}</>}
      </p>
      <ErrorMessage error={error || pauseError} />

      {current ? (
        <section className="card resume-card" data-testid="resume-form" data-pause-key={current.key}>
          {askedAgain && (
            <p className="alert alert-info" role="status" data-testid="asked-again">
              The run paused again and is waiting for new input (key <code>{current.key}</code>). The flow may have
              rejected the previous answer: see its logs below.
            </p>
          )}
          {current.description && <Markdown source={current.description} />}
          <p className="muted pause-meta" data-testid="pause-rules">
            Assigned to <Assignees assignees={current.assignees ?? []} session={session} />
            {current.allow_self_approval === false && (
              <> · not answerable by whoever started the run{current.created_by && <> ({current.created_by})</>}</>
            )}
          </p>
          <p className="muted pause-meta">
            Pause <code>{current.key}</code>
            {current.reschedule && ' · suspended (the flow re-runs when resumed)'}
            {current.deadline && (
              <>
                {' '}
                · deadline {formatTime(current.deadline)} ({relative(current.deadline, now)})
                {current.on_timeout === 'defaults' && <>, then resumed with its defaults</>}
              </>
            )}
          </p>
          {current.can_answer === false ? (
            <p className="alert alert-error" role="alert" data-testid="cannot-answer">
              You cannot answer this pause: {current.cannot_answer_because}
            </p>
          ) : (
            <Suspense fallback={<Loading what="Loading form" />}>
              {current.schema ? (
                <SchemaForm
                  key={`${current.key}:${seq}`}
                  schema={current.schema}
                  submitText="Resume"
                  locPrefix="run_input"
                  requirePrefilled
                  onSubmit={resume}
                />
              ) : (
                <PlainResume key={`${current.key}:${seq}`} onSubmit={resume} />
              )}
            </Suspense>
          )}
        </section>
      ) : waiting ? (
        <Loading what="Loading the pause" />
      ) : resumedSeq !== null ? (
        <p className="alert alert-success" role="status" data-testid="resumed">
          {FINAL_STATE_TYPES.includes(run.state.type) ? 'Resumed. The run has finished: ' : 'Resumed. The run is continuing: '}
          <StateBadge type={run.state.type} name={run.state.name} />{' '}
          <Link href={`/runs/${run.id}`}>Open the run</Link>
        </p>
      ) : (
        <p className="alert alert-info" role="status" data-testid="not-waiting">
          This run is not waiting for input (state: {run.state.name}). Only paused or suspended runs can be resumed.{' '}
          <Link href={`/runs/${run.id}`}>Open the run</Link>
        </p>
      )}

      {resumedSeq !== null && (
        <Section title="Logs">
          <Logs runId={run.id} />
        </Section>
      )}
    </div>
  );
}
