import type { AuditEvent, Json } from '../api';
import { formatTime, shortId } from '../format';
import { Link } from '../router';

// The few details worth a glance; the rest (never an input's value) is in the row's title.
function summary(event: AuditEvent): string {
  const d = event.details;
  const parts: string[] = [];
  const text = (value: Json | undefined) => (value === undefined || value === null ? null : String(value));
  if (text(d.from) && text(d.to)) parts.push(`${text(d.from)!.toLowerCase()} → ${text(d.to)!.toLowerCase()}`);
  for (const name of ['key', 'sender', 'bytes', 'flow', 'deployment', 'user', 'role', 'method', 'reason']) {
    const value = text(d[name]);
    if (value !== null) parts.push(`${name} ${value}`);
  }
  if (Array.isArray(d.errors)) {
    const fields = d.errors.map((e) => {
      const loc = e && typeof e === 'object' && !Array.isArray(e) && Array.isArray(e.loc) ? e.loc.slice(1) : [];
      return loc.join('.') || '(input)';
    });
    parts.push(`invalid: ${fields.join(', ')}`);
  }
  const message = text(d.message);
  if (message) parts.push(message);
  return parts.join('; ');
}

export function EventTable({ events, showRun = true }: { events: AuditEvent[]; showRun?: boolean }) {
  return (
    <table className="table" data-testid="events-table">
      <thead>
        <tr>
          <th scope="col">Time</th>
          <th scope="col">Event</th>
          <th scope="col">Actor</th>
          {showRun && <th scope="col">Run</th>}
          <th scope="col">Detail</th>
        </tr>
      </thead>
      <tbody>
        {events.map((event) => (
          <tr key={event.id} data-event-kind={event.kind} title={event.remote ? `from ${event.remote}` : undefined}>
            <td>{formatTime(event.occurred)}</td>
            <td>
              <code>{event.kind}</code>
            </td>
            <td data-testid="event-actor">{event.actor ?? <span className="muted">—</span>}</td>
            {showRun && (
              <td>
                {event.flow_run_id ? (
                  <Link href={`/runs/${event.flow_run_id}`}>{event.flow_run_name ?? shortId(event.flow_run_id)}</Link>
                ) : (
                  <span className="muted">—</span>
                )}
              </td>
            )}
            <td className="first-line">{summary(event)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
