import { useEffect, useState } from 'react';
import { api, ApiError, readSession, SESSION_CHANGED, type Automation, type AutomationSpec, type Delivery } from '../api';
import { ErrorMessage, Loading } from '../components/common';
import { formatTime, shortId } from '../format';
import { usePolled } from '../live';
import { Link, useTitle } from '../router';

const PAGE_SIZE = 50;

function duration(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** "flow-run.paused of flow approve-* after 1h, every 30m, 3 times" */
export function triggerSummary(trigger: AutomationSpec['trigger']): string {
  let text = trigger.kinds.join(', ');
  if (trigger.flow) text += ` of flow ${trigger.flow}`;
  if (trigger.deployment) text += ` of deployment ${trigger.deployment}`;
  if (trigger.after) text += ` after ${duration(trigger.after)}`;
  if (trigger.repeat) text += `, every ${duration(trigger.repeat.every)}, ${trigger.repeat.times} times`;
  return text;
}

function actionsSummary(spec: AutomationSpec): string {
  const now = spec.actions.map((action) => action.type).join(', ');
  const later = (spec.escalate ?? []).map((action) => action.type).join(', ');
  return later ? `${now} → ${later}` : now;
}

function stageName(stage: number): string {
  if (stage < 0) return 'escalation';
  return stage === 0 ? 'first' : `reminder ${stage}`;
}

// Delivery statuses borrow the state colours: delivered reads as done, failed as failed.
const STATUS_CLASS: Record<Delivery['status'], string> = {
  pending: 'state-running',
  delivered: 'state-completed',
  failed: 'state-failed',
  skipped: 'state-cancelled',
};

/** Only admins may switch automations on and off; others see the state as text. */
function useIsAdmin(): boolean {
  const [admin, setAdmin] = useState(false);
  useEffect(() => {
    let live = true;
    const load = () => {
      readSession()
        .then((found) => live && setAdmin(found?.role === 'admin'))
        .catch(() => undefined);
    };
    load();
    window.addEventListener(SESSION_CHANGED, load);
    return () => {
      live = false;
      window.removeEventListener(SESSION_CHANGED, load);
    };
  }, []);
  return admin;
}

function EnabledSwitch({ automation, onChanged }: { automation: Automation; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const flip = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.setAutomationEnabled(automation.name, !automation.enabled);
      onChanged();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        role="switch"
        aria-checked={automation.enabled}
        aria-label={`${automation.name} enabled`}
        className={`btn btn-small switch${automation.enabled ? ' switch-on' : ''}`}
        disabled={busy}
        onClick={flip}
      >
        {automation.enabled ? 'On' : 'Off'}
      </button>
      {error instanceof ApiError && <ErrorMessage error={error} />}
    </>
  );
}

function EnabledText({ enabled }: { enabled: boolean }) {
  return <span className={enabled ? '' : 'muted'}>{enabled ? 'enabled' : 'disabled'}</span>;
}

export function Automations() {
  useTitle('Automations');
  const admin = useIsAdmin();
  const { data, error, reload } = usePolled((signal) => api.automations(signal), 'automations', 10000);
  return (
    <div className="page">
      <h1>Automations</h1>
      <p className="muted">
        What happens when runs wait, fail or finish. Add or change them with{' '}
        <code>inloop automation apply -f automations.yaml</code>.
      </p>
      <ErrorMessage error={error} />
      {!data ? (
        !error && <Loading what="Loading automations" />
      ) : data.length === 0 ? (
        <p className="empty" data-testid="automations-empty">No automations yet.</p>
      ) : (
        <table className="table" data-testid="automations-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Trigger</th>
              <th scope="col">Actions</th>
              <th scope="col">Enabled</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {data.map((automation) => (
              <tr key={automation.id} data-automation={automation.name}>
                <td>
                  <Link href={`/automations/${encodeURIComponent(automation.name)}`}>{automation.name}</Link>
                  {automation.spec.description && <div className="muted">{automation.spec.description}</div>}
                </td>
                <td>{triggerSummary(automation.spec.trigger)}</td>
                <td>{actionsSummary(automation.spec)}</td>
                <td>
                  {admin ? <EnabledSwitch automation={automation} onChanged={reload} /> : <EnabledText enabled={automation.enabled} />}
                </td>
                <td>{formatTime(automation.updated)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function DeliveryRow({ delivery }: { delivery: Delivery }) {
  const failures = delivery.attempts.filter((attempt) => attempt.error);
  return (
    <tr data-delivery={delivery.id} data-status={delivery.status}>
      <td>{formatTime(delivery.created)}</td>
      <td>
        <code>{delivery.event_kind}</code>
      </td>
      <td>
        {delivery.flow_run_id ? (
          <Link href={`/runs/${delivery.flow_run_id}`}>{delivery.flow_run_name ?? shortId(delivery.flow_run_id)}</Link>
        ) : (
          <span className="muted">—</span>
        )}
      </td>
      <td>{stageName(delivery.stage)}</td>
      <td>{delivery.action ?? <span className="muted">—</span>}</td>
      <td>
        <span className={`state ${STATUS_CLASS[delivery.status] ?? ''}`}>{delivery.status}</span>
        {delivery.status === 'pending' && <div className="muted">due {formatTime(delivery.due)}</div>}
      </td>
      <td
        data-testid="delivery-attempts"
        title={failures.map((attempt) => `${formatTime(attempt.started)}: ${attempt.error}`).join('\n') || undefined}
      >
        {delivery.attempt_count}
      </td>
      <td data-testid="delivery-error">{delivery.last_error ?? <span className="muted">—</span>}</td>
    </tr>
  );
}

export function AutomationLog({ name, search }: { name: string; search: URLSearchParams }) {
  useTitle(name);
  const admin = useIsAdmin();
  const before = search.get('before') ?? undefined;
  const base = `/automations/${encodeURIComponent(name)}`;
  const automation = usePolled((signal) => api.automation(name, signal), name, 10000);
  const log = usePolled(
    (signal) => api.deliveries(name, { before, limit: PAGE_SIZE + 1 }, signal),
    `${name}?${before ?? ''}`,
    before ? 0 : 5000,
  );
  const rows = log.data?.slice(0, PAGE_SIZE);
  const older = (log.data?.length ?? 0) > PAGE_SIZE && rows ? rows[rows.length - 1].id : null;
  const found = automation.data;
  return (
    <div className="page">
      <p>
        <Link href="/automations">← Automations</Link>
      </p>
      <h1>{name}</h1>
      <ErrorMessage error={automation.error} />
      {found && (
        <dl className="facts" data-testid="automation-facts">
          <dt>Trigger</dt>
          <dd>{triggerSummary(found.spec.trigger)}</dd>
          <dt>Actions</dt>
          <dd>{actionsSummary(found.spec)}</dd>
          <dt>Enabled</dt>
          <dd>{admin ? <EnabledSwitch automation={found} onChanged={automation.reload} /> : <EnabledText enabled={found.enabled} />}</dd>
          {found.spec.description && (
            <>
              <dt>Description</dt>
              <dd>{found.spec.description}</dd>
            </>
          )}
        </dl>
      )}
      <h2>Delivery log</h2>
      <ErrorMessage error={log.error} />
      {!rows ? (
        !log.error && <Loading what="Loading deliveries" />
      ) : rows.length === 0 ? (
        <p className="empty" data-testid="deliveries-empty">No deliveries yet.</p>
      ) : (
        <table className="table" data-testid="deliveries-table">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Event</th>
              <th scope="col">Run</th>
              <th scope="col">Stage</th>
              <th scope="col">Action</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((delivery) => (
              <DeliveryRow key={delivery.id} delivery={delivery} />
            ))}
          </tbody>
        </table>
      )}
      <nav className="pager" aria-label="Pages">
        {before && (
          <Link className="btn" href={base}>
            ← Newest
          </Link>
        )}
        {older !== null && (
          <Link className="btn" href={`${base}?before=${encodeURIComponent(older)}`} rel="next">
            Older →
          </Link>
        )}
      </nav>
    </div>
  );
}
