// One place for HTTP: every request goes through `request`, which adds the API
// key (when the server asked for one) and turns error bodies into ApiError.

import type { components } from './api.gen';

// The server's models, generated from its OpenAPI document (ui/openapi.json -> api.gen.ts by
// `npm run gen:api`, which `npm run build` runs first). Refresh both after changing the API:
// `python scripts/openapi.py && (cd ui && npm run gen:api)`.
type Schemas = components['schemas'];

/** A model as the server sends it: every field, defaults included (OpenAPI marks those
 * optional), and JSON wherever the server declares any value (`unknown` in api.gen.ts). */
export type Sent<T> = unknown extends T
  ? Json
  : T extends (infer Item)[]
    ? Sent<Item>[]
    : T extends object
      ? { [Field in keyof T]-?: Sent<T[Field]> }
      : T;

export type StateType = Schemas['StateType'];

export const FINAL_STATE_TYPES: StateType[] = ['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED'];

export const STATE_TYPES: StateType[] = [
  'SCHEDULED',
  'PENDING',
  'RUNNING',
  'PAUSED',
  'SUSPENDED',
  'COMPLETED',
  'FAILED',
  'CRASHED',
  'CANCELLED',
];

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type State = Sent<Schemas['State']>;
export type Pause = Sent<Schemas['PauseDetails']>;
export type OnTimeout = Pause['on_timeout'];
export type FlowRun = Sent<Schemas['FlowRun']>;
export type LogLine = Sent<Schemas['LogRecord']>;
export type RunInputRow = Sent<Schemas['FlowRunInput']>;
export type InboxItem = Sent<Schemas['InboxItem']>;
export type Deployment = Sent<Schemas['Deployment']>;
export type AuditEvent = Sent<Schemas['Event']>;
export type AutomationSpec = Sent<Schemas['AutomationSpec']>;
/** The server declares `spec` a plain object; it is the AutomationSpec as applied. */
export type Automation = Omit<Sent<Schemas['Automation']>, 'spec'> & { spec: AutomationSpec };
export type DeliveryAttempt = Sent<Schemas['Attempt']>;
export type Delivery = Sent<Schemas['Delivery']>;
type LinkView = Sent<Schemas['LinkView']>;
/** A signed resume link as its page shows it (GET /api/links/<token>). The server declares the
 * run's state and the pause's schema plain JSON. */
export type ResumeLink = Omit<LinkView, 'run' | 'pause'> & {
  run: Omit<LinkView['run'], 'state'> & { state: { type: StateType; name: string } };
  pause: (Omit<NonNullable<LinkView['pause']>, 'schema'> & { schema: JsonObject | null }) | null;
};
/** One entry of a 422 answer's `detail`. */
export type ValidationIssue = Schemas['FieldError'];
export type SessionInfo = Sent<Schemas['Session']>;

/** What a waiting run asks for (GET /flow_runs/<id>/pause), with whether the caller may answer
 * it. The server declares the schema plain JSON. */
export type PauseView = Omit<Sent<Schemas['PauseView']>, 'schema'> & { schema: JsonObject | null };

export interface EventFilters {
  kind?: string;
  actor?: string;
  flow_run_id?: string;
  has_actor?: string;
  before_id?: number;
  limit: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: unknown,
    /** The whole answer, for errors that carry more than `detail` (a closed resume link). */
    readonly body: unknown = null,
  ) {
    super(typeof detail === 'string' ? detail : `request failed with status ${status}`);
  }

  get issues(): ValidationIssue[] {
    return Array.isArray(this.detail) ? (this.detail as ValidationIssue[]) : [];
  }
}

// --- the API key -----------------------------------------------------------

const KEY_STORAGE = 'inloop.apiKey';

type KeyListener = (state: KeyPrompt | null) => void;
export interface KeyPrompt {
  rejected: boolean; // a key was sent and refused
}

let apiKey: string | null = readStoredKey();
let prompt: KeyPrompt | null = null;
let waiters: (() => void)[] = [];
const keyListeners = new Set<KeyListener>();

function readStoredKey(): string | null {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

export function onKeyPrompt(listener: KeyListener): () => void {
  keyListeners.add(listener);
  listener(prompt);
  return () => keyListeners.delete(listener);
}

function setPrompt(next: KeyPrompt | null) {
  prompt = next;
  keyListeners.forEach((listener) => listener(prompt));
}

export function submitApiKey(key: string) {
  apiKey = key;
  try {
    localStorage.setItem(KEY_STORAGE, key);
  } catch {
    // private mode: keep the key for this page only
  }
  setPrompt(null);
  const ready = waiters;
  waiters = [];
  ready.forEach((wake) => wake());
}

export function forgetApiKey() {
  apiKey = null;
  try {
    localStorage.removeItem(KEY_STORAGE);
  } catch {
    // nothing stored
  }
}

// --- the UI sign-in (users mode) --------------------------------------------

/** Where the browser goes to sign in with SSO; it comes back to `next` signed in. */
export function ssoSignInUrl(next: string): string {
  return `/api/session/sso?${new URLSearchParams({ next }).toString()}`;
}

export const SESSION_CHANGED = 'inloop:session-changed';

/** Which mode the server is in and who this browser is signed in as (never prompts). */
export async function readSession(): Promise<SessionInfo | null> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const response = await fetch('/api/session', { headers, cache: 'no-store' });
  return response.ok ? ((await response.json()) as SessionInfo) : null;
}

/** Sign in with a name and password; the server answers with an HttpOnly session cookie. */
export async function signIn(name: string, password: string): Promise<SessionInfo> {
  const response = await fetch('/api/session', {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, password }),
    cache: 'no-store',
  });
  const payload = (await response.json().catch(() => null)) as { detail?: unknown } | null;
  if (!response.ok) throw new ApiError(response.status, payload?.detail ?? response.statusText);
  // The cookie speaks for this browser now: a stored key would be sent first and refused.
  forgetApiKey();
  setPrompt(null);
  const ready = waiters;
  waiters = [];
  ready.forEach((wake) => wake());
  window.dispatchEvent(new Event(SESSION_CHANGED));
  return payload as unknown as SessionInfo;
}

export async function signOut(): Promise<void> {
  await fetch('/api/session', { method: 'DELETE', headers: { Accept: 'application/json' }, cache: 'no-store' });
  window.dispatchEvent(new Event(SESSION_CHANGED));
}

/** Ask the person for a key once, however many requests are waiting for it. */
function waitForKey(sentKey: string | null, signal?: AbortSignal): Promise<void> {
  if (apiKey !== sentKey) return Promise.resolve(); // someone entered a new key meanwhile
  if (!prompt) setPrompt({ rejected: sentKey !== null });
  return new Promise((resolve, reject) => {
    waiters.push(resolve);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

// --- requests --------------------------------------------------------------

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  for (;;) {
    const sentKey = apiKey;
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (sentKey) headers.Authorization = `Bearer ${sentKey}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(`/api${path}`, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
      cache: 'no-store',
    });
    if (response.status === 401) {
      await waitForKey(sentKey, options.signal);
      continue;
    }
    const text = await response.text();
    let payload: unknown = null;
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
    }
    if (!response.ok) {
      const detail =
        payload && typeof payload === 'object' && 'detail' in payload
          ? (payload as { detail: unknown }).detail
          : payload || response.statusText;
      throw new ApiError(response.status, detail, payload);
    }
    return payload as T;
  }
}

export function query(params: Record<string, string | number | (string | number)[] | undefined>) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === '') continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const api = {
  runs: (params: { state?: string[]; flow_name?: string; limit: number; offset: number }, signal?: AbortSignal) =>
    request<FlowRun[]>(`/flow_runs${query(params)}`, { signal }),
  run: (id: string, signal?: AbortSignal) => request<FlowRun>(`/flow_runs/${id}`, { signal }),
  waitRun: (id: string, afterSeq: number, signal?: AbortSignal, timeout = 25) =>
    request<FlowRun>(`/flow_runs/${id}/wait${query({ after_seq: afterSeq, timeout })}`, { signal }),
  states: (id: string, signal?: AbortSignal) => request<State[]>(`/flow_runs/${id}/states`, { signal }),
  logs: (id: string, afterId: number, wait: number, signal?: AbortSignal) =>
    request<LogLine[]>(`/flow_runs/${id}/logs${query({ after_id: afterId, limit: 500, wait })}`, { signal }),
  inputs: (id: string, signal?: AbortSignal) => request<RunInputRow[]>(`/flow_runs/${id}/inputs`, { signal }),
  pause: (id: string, signal?: AbortSignal) => request<PauseView>(`/flow_runs/${id}/pause`, { signal }),
  resume: (id: string, runInput: Json | null) =>
    request<FlowRun>(`/flow_runs/${id}/resume`, { method: 'POST', body: { run_input: runInput } }),
  cancel: (id: string) => request<FlowRun>(`/flow_runs/${id}/cancel`, { method: 'POST' }),
  inbox: (limit: number, offset: number, signal?: AbortSignal, all = false) =>
    request<InboxItem[]>(`/inbox${query({ limit, offset, all: all ? 'true' : undefined })}`, { signal }),
  inboxCount: (signal?: AbortSignal) => request<{ count: number }>('/inbox/count', { signal }),
  events: (filters: EventFilters, signal?: AbortSignal) =>
    request<AuditEvent[]>(`/events${query({ ...filters, order: 'desc' })}`, { signal }),
  // The token is the credential: these two need no key and no sign-in.
  link: (token: string, signal?: AbortSignal) => request<ResumeLink>(`/links/${encodeURIComponent(token)}`, { signal }),
  answerLink: (token: string, runInput: Json | null) =>
    request<FlowRun>(`/links/${encodeURIComponent(token)}`, { method: 'POST', body: { run_input: runInput } }),
  deployments: (signal?: AbortSignal) => request<Deployment[]>('/deployments', { signal }),
  runDeployment: (fullName: string, parameters: JsonObject) => {
    const [flow, ...rest] = fullName.split('/');
    const path = `/deployments/name/${encodeURIComponent(flow)}/${encodeURIComponent(rest.join('/'))}/run`;
    return request<FlowRun>(path, { method: 'POST', body: { parameters } });
  },
  automations: (signal?: AbortSignal) => request<Automation[]>('/automations', { signal }),
  automation: (name: string, signal?: AbortSignal) =>
    request<Automation>(`/automations/${encodeURIComponent(name)}`, { signal }),
  setAutomationEnabled: (name: string, enabled: boolean) =>
    request<Automation>(`/automations/${encodeURIComponent(name)}`, { method: 'PATCH', body: { enabled } }),
  deliveries: (name: string, params: { before?: string; limit: number }, signal?: AbortSignal) =>
    request<Delivery[]>(`/automations/${encodeURIComponent(name)}/deliveries${query(params)}`, { signal }),
};
