export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

export function since(iso: string, now: number): string {
  return formatDuration(now - new Date(iso).getTime());
}

/** "in 5m" or "5m ago" */
export function relative(iso: string, now: number): string {
  const delta = new Date(iso).getTime() - now;
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** Bytes for people: "812 B", "4.2 KiB", "15.0 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** How long a run has run: start to end, or start to now while it is live; null before it starts. */
export function runDuration(run: { start_time: string | null; end_time: string | null }, now: number): string | null {
  if (!run.start_time) return null;
  const start = new Date(run.start_time).getTime();
  const end = run.end_time ? new Date(run.end_time).getTime() : now;
  return formatDuration(end - start);
}
