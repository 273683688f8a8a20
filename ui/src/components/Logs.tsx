import { useEffect, useRef } from 'react';
import { ErrorMessage, Loading } from './common';
import { LongText } from './LongValue';
import { useLiveLogs } from '../live';

// A log is read line by line: a long message shows a few lines until asked for all of it.
const LOG_PREVIEW_CHARS = 600;
const LOG_PREVIEW_LINES = 12;

function clock(iso: string) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(date.getMilliseconds()).padStart(3, '0');
}

/** The run's log, following new lines as they are written. */
export function Logs({ runId }: { runId: string }) {
  const { data, error } = useLiveLogs(runId);
  const box = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  useEffect(() => {
    const element = box.current;
    if (element && pinned.current) element.scrollTop = element.scrollHeight;
  }, [data]);

  return (
    <>
      <ErrorMessage error={error} />
      {!data ? (
        !error && <Loading what="Loading logs" />
      ) : data.length === 0 ? (
        <p className="empty">No logs yet.</p>
      ) : (
        <div
          className="logs"
          ref={box}
          role="log"
          aria-live="polite"
          aria-label="Run logs"
          tabIndex={0}
          data-testid="logs"
          onScroll={(event) => {
            const el = event.currentTarget;
            pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          }}
        >
          {data.map((line) => (
            <div key={line.id} className={`log-line level-${line.level_name.toLowerCase()}`}>
              <span className="log-time">{clock(line.timestamp)}</span>
              <span className="log-level">{line.level_name}</span>
              <span className="log-logger">{line.logger}</span>
              <LongText
                as="span"
                text={line.message}
                className="log-message"
                filename={`log-${line.id}.txt`}
                previewChars={LOG_PREVIEW_CHARS}
                previewLines={LOG_PREVIEW_LINES}
              />
            </div>
          ))}
        </div>
      )}
    </>
  );
}
