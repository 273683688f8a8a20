// Live data without reloading: long-polls that the server answers the moment
// something changes, looped while the component is mounted.
import { useEffect, useRef, useState } from 'react';
import { api, ApiError, type FlowRun, type LogLine } from './api';

const RETRY_MS = 2000;

function sleep(ms: number, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * Resolve once the page is visible. Hidden tabs stop long-polling: browsers allow only six
 * connections per host, and every open run page holds two.
 */
function whenVisible(signal: AbortSignal) {
  if (!document.hidden) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      if (document.hidden && !signal.aborted) return;
      document.removeEventListener('visibilitychange', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    document.addEventListener('visibilitychange', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function isAbort(error: unknown) {
  return error instanceof DOMException && error.name === 'AbortError';
}

export interface Loaded<T> {
  data: T | null;
  error: ApiError | Error | null;
}

/** The run, kept current through `GET /flow_runs/{id}/wait?after_seq=N`. */
export function useLiveRun(id: string): Loaded<FlowRun> & { setRun: (run: FlowRun) => void } {
  const [data, setData] = useState<FlowRun | null>(null);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const seq = useRef(-1);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    seq.current = -1;
    setData(null);
    setError(null);
    (async () => {
      while (!signal.aborted) {
        await whenVisible(signal);
        if (signal.aborted) return;
        try {
          const run = seq.current < 0 ? await api.run(id, signal) : await api.waitRun(id, seq.current, signal);
          if (signal.aborted) return;
          if (run.state_seq !== seq.current) {
            seq.current = run.state_seq;
            setData(run);
          }
          setError(null);
        } catch (err) {
          if (signal.aborted || isAbort(err)) return;
          setError(err as Error);
          if (err instanceof ApiError && err.status === 404) return;
          await sleep(RETRY_MS, signal);
        }
      }
    })();
    return () => controller.abort();
  }, [id]);

  const setRun = (run: FlowRun) => {
    if (run.state_seq >= seq.current) {
      seq.current = run.state_seq;
      setData(run);
    }
  };
  return { data, error, setRun };
}

const MAX_LINES = 5000;

/** Every log line of a run, appended as the server long-poll delivers them. */
export function useLiveLogs(id: string): Loaded<LogLine[]> {
  const [data, setData] = useState<LogLine[] | null>(null);
  const [error, setError] = useState<Error | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    let afterId = 0;
    setData(null);
    (async () => {
      let first = true;
      while (!signal.aborted) {
        await whenVisible(signal);
        if (signal.aborted) return;
        try {
          const lines = await api.logs(id, afterId, first ? 0 : 25, signal);
          if (signal.aborted) return;
          first = false;
          setError(null);
          if (lines.length) afterId = lines[lines.length - 1].id;
          setData((previous) => {
            const next = previous ? previous.concat(lines) : lines;
            return next.length > MAX_LINES ? next.slice(-MAX_LINES) : next;
          });
        } catch (err) {
          if (signal.aborted || isAbort(err)) return;
          setError(err as Error);
          if (err instanceof ApiError && err.status === 404) return;
          await sleep(RETRY_MS, signal);
        }
      }
    })();
    return () => controller.abort();
  }, [id]);

  return { data, error };
}

/** Re-fetch `load` every `intervalMs` (and whenever `key` changes). */
export function usePolled<T>(
  load: (signal: AbortSignal) => Promise<T>,
  key: string,
  intervalMs: number,
  { keepOnKeyChange = false } = {},
): Loaded<T> & { reload: () => void } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  const loader = useRef(load);
  loader.current = load;

  useEffect(() => {
    if (!keepOnKeyChange) setData(null);
  }, [key, keepOnKeyChange]);

  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    (async () => {
      while (!signal.aborted) {
        try {
          const value = await loader.current(signal);
          if (signal.aborted) return;
          setData(value);
          setError(null);
        } catch (err) {
          if (signal.aborted || isAbort(err)) return;
          setError(err as Error);
        }
        if (intervalMs <= 0) return;
        await sleep(intervalMs, signal);
      }
    })();
    return () => controller.abort();
  }, [key, intervalMs, tick]);

  return { data, error, reload: () => setTick((n) => n + 1) };
}

/** The current time, refreshed every `intervalMs` (for "waiting 5m"). */
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

/** Pages announce changes (a resume, a new run) so the inbox count refreshes at once. */
export const CHANGED = 'inloop:changed';
export function announceChange() {
  window.dispatchEvent(new Event(CHANGED));
}
