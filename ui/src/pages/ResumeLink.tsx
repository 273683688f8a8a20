import { lazy, Suspense, useEffect, useState } from 'react';
import { api, ApiError, type FlowRun, type Json, type ResumeLink } from '../api';
import { ErrorMessage, Loading, Markdown, StateBadge } from '../components/common';
import { formatTime } from '../format';
import { useTitle } from '../router';
import { PlainResume } from './Resume';

const SchemaForm = lazy(() => import('../components/SchemaForm'));

const CLOSED_TITLES: Record<Exclude<ResumeLink['status'], 'open'>, string> = {
  used: 'This link was already used',
  expired: 'This link has expired',
  superseded: 'This question no longer needs an answer',
};

/** Why a link no longer works, and since when: used at, expired at, or settled another way. */
function Closed({ link }: { link: ResumeLink }) {
  const status = link.status === 'open' ? 'superseded' : link.status;
  const when =
    status === 'used' ? `Used ${formatTime(link.used_at)}` : status === 'expired' ? `Expired ${formatTime(link.expires_at)}` : `Since ${formatTime(link.at)}`;
  return (
    <section className="card" data-testid="link-closed" data-status={status}>
      <h2>{CLOSED_TITLES[status]}</h2>
      <p data-testid="link-closed-when">
        <strong>{when}</strong>
      </p>
      {/* Used and expired say it all above; superseded has several reasons, the server's says which. */}
      {status === 'superseded' && <p>{link.message}</p>}
      <p className="muted">
        Sent to {link.recipient} for run <strong>{link.run.name}</strong> (flow {link.run.flow_name}), which is now{' '}
        <StateBadge type={link.run.state.type} name={link.run.state.name} />. If you still need to answer, ask the
        sender for a new link.
      </p>
    </section>
  );
}

/**
 * The page a signed resume link opens (/r/<token>): the pause's question and form, for a
 * person who may have no account. Opening it changes nothing; only submitting the form does.
 */
export default function ResumeLinkPage({ token }: { token: string }) {
  const [link, setLink] = useState<ResumeLink | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [resumed, setResumed] = useState<FlowRun | null>(null);
  useTitle(link ? `Answer ${link.run.name}` : 'Resume link');

  useEffect(() => {
    const controller = new AbortController();
    api
      .link(token, controller.signal)
      .then(setLink)
      .catch((err) => {
        if (!controller.signal.aborted) setError(err);
      });
    return () => controller.abort();
  }, [token]);

  const answer = async (data: Json) => {
    try {
      setResumed(await api.answerLink(token, data));
    } catch (err) {
      // Used (or settled) meanwhile, perhaps in another tab: show why, not a bare error.
      const closed = err instanceof ApiError && err.status === 409 ? (err.body as { link?: ResumeLink } | null)?.link : undefined;
      if (closed) setLink(closed);
      else throw err;
    }
  };

  if (error) {
    const invalid = error instanceof ApiError && error.status === 404;
    return (
      <div className="page link-page">
        <h1>{invalid ? 'This link is not valid' : 'The link could not be opened'}</h1>
        <div data-testid="link-invalid">
          <ErrorMessage error={error} />
        </div>
      </div>
    );
  }
  if (!link) {
    return (
      <div className="page link-page">
        <Loading what="Opening the link" />
      </div>
    );
  }

  const pause = link.status === 'open' ? link.pause : null;
  return (
    <div className="page link-page">
      <div className="title-row">
        <h1>Answer {link.run.name}</h1>
        <StateBadge type={(resumed ?? link.run).state.type} name={(resumed ?? link.run).state.name} />
      </div>
      <p className="muted">
        Flow <strong>{link.run.flow_name}</strong> · for {link.recipient}
      </p>
      {resumed ? (
        <p className="alert alert-success" role="status" data-testid="link-done">
          Thank you: your answer was recorded and the run is continuing. This link has now been used and will not work
          again.
        </p>
      ) : pause ? (
        <section className="card resume-card" data-testid="resume-form" data-pause-key={pause.key}>
          {pause.description && <Markdown source={pause.description} />}
          <p className="muted pause-meta">
            This link works once, until {formatTime(link.expires_at)}
            {pause.deadline && <> · the run waits until {formatTime(pause.deadline)}</>}
            {pause.deadline && pause.on_timeout === 'defaults' && <>, then takes its defaults</>}
          </p>
          <Suspense fallback={<Loading what="Loading form" />}>
            {pause.schema ? (
              <SchemaForm schema={pause.schema} submitText="Submit" locPrefix="run_input" requirePrefilled onSubmit={answer} />
            ) : (
              <PlainResume onSubmit={answer} />
            )}
          </Suspense>
        </section>
      ) : (
        <Closed link={link} />
      )}
    </div>
  );
}
