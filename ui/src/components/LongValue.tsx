// Values on the run page (parameters, inputs, state details, log lines) can be megabytes. A
// long one shows a preview and a button; one too big for the DOM is only added on request,
// and can be downloaded instead.
import { useMemo, useState } from 'react';
import type { Json } from '../api';
import { formatBytes } from '../format';

const PREVIEW_CHARS = 2000;
const PREVIEW_LINES = 50;
/** Past this many bytes the whole value is not put on the page unless asked ("Show anyway"). */
const DOM_LIMIT_BYTES = 1024 * 1024;

/** The first `lines` lines, at most `chars` characters; null when that is all of it. */
function previewOf(text: string, chars: number, lines: number): string | null {
  let end = Math.min(text.length, chars);
  let newline = -1;
  for (let line = 0; line < lines; line++) {
    newline = text.indexOf('\n', newline + 1);
    if (newline < 0 || newline >= end) break;
    if (line === lines - 1) end = newline;
  }
  return end < text.length ? text.slice(0, end) : null;
}

function download(text: string, filename: string, type: string) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoking at once can cancel a download the browser has not started reading yet.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

interface LongTextProps {
  text: string;
  /** Class of the element holding the text (`json` for JSON, a log line's class for logs). */
  className: string;
  /** The download's file name. */
  filename: string;
  type?: string;
  /** Render the text in a <pre> (JSON) or a <span> (a log message). */
  as?: 'pre' | 'span';
  /** A preview's size: longer texts are collapsed to it. */
  previewChars?: number;
  previewLines?: number;
}

export function LongText({
  text,
  className,
  filename,
  type = 'text/plain',
  as = 'pre',
  previewChars = PREVIEW_CHARS,
  previewLines = PREVIEW_LINES,
}: LongTextProps) {
  const [expanded, setExpanded] = useState(false);
  const preview = useMemo(() => previewOf(text, previewChars, previewLines), [text, previewChars, previewLines]);
  const bytes = useMemo(() => (preview === null ? 0 : new Blob([text]).size), [text, preview]);
  const Tag = as;
  if (preview === null) return <Tag className={className}>{text}</Tag>;

  const size = formatBytes(bytes);
  const huge = bytes > DOM_LIMIT_BYTES;
  return (
    <div className="long-value" data-testid="long-value" data-bytes={bytes}>
      <Tag className={className}>{expanded ? text : `${preview}…`}</Tag>
      <div className="long-value-tools">
        {expanded ? (
          <button type="button" className="btn btn-small" onClick={() => setExpanded(false)}>
            Show less
          </button>
        ) : huge ? (
          <>
            <span className="muted">
              {size}: too large to show here.
            </span>
            <button type="button" className="btn btn-small" onClick={() => download(text, filename, type)}>
              Download ({size})
            </button>
            <button type="button" className="btn btn-small btn-link" onClick={() => setExpanded(true)}>
              Show anyway
            </button>
          </>
        ) : (
          <button type="button" className="btn btn-small" onClick={() => setExpanded(true)}>
            Show all ({size})
          </button>
        )}
      </div>
    </div>
  );
}

export function JsonView({ value, name = 'value' }: { value: Json | undefined; name?: string }) {
  const text = useMemo(() => JSON.stringify(value ?? null, null, 2), [value]);
  return <LongText text={text} className="json" filename={`${name}.json`} type="application/json" />;
}
