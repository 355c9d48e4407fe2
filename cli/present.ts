/**
 * Text for a job as the API shows it (functions/lib/present.ts: ISO times, target header values
 * already redacted). The CLI never sees a job in any other shape.
 */
import type { ApiJob } from '../functions/lib/present.js';

const field = (label: string, value: unknown) => `${`${label}:`.padEnd(13)}${value}`;

function target(j: ApiJob): string | undefined {
  if (j.target) return `${j.target.method} ${j.target.url}`;
  if (j.handler) return `handler ${j.handler}`;
  return undefined;
}

export function describeJob(j: ApiJob): string {
  const lines = [
    field('id', j.id),
    field('queue', j.queue),
    field('state', j.state),
    field('attempts', `${j.attempts}/${j.maxAttempts}`),
    field('priority', j.priority),
    field('created', j.createdAt),
    field('updated', j.updatedAt),
  ];
  if (j.target) {
    lines.push(field('target', target(j)));
    const headers = Object.entries((j.target.headers ?? {}) as Record<string, string>);
    if (headers.length) lines.push(field('headers', headers.map(([k, v]) => `${k}: ${v}`).join(', ')));
  }
  if (j.handler) lines.push(field('handler', j.handler));
  if (j.runAt !== undefined) lines.push(field('run at', j.runAt));
  if (j.leaseUntil !== undefined) lines.push(field('lease until', j.leaseUntil));
  if (j.completedAt !== undefined) lines.push(field('completed', j.completedAt));
  if (j.diedAt !== undefined) lines.push(field('died', j.diedAt));
  if (j.replays !== undefined) lines.push(field('replays', j.replays));
  const e = j.lastError;
  if (e) {
    lines.push(field('last error', `${e.class}: ${e.message}`));
    lines.push(
      `${''.padEnd(13)}attempt ${e.attempt}, ${e.retryable ? 'retryable' : 'permanent'}, fingerprint ${e.fingerprint}, at ${e.at}`,
    );
  }
  lines.push(field('payload', JSON.stringify(j.payload)));
  if (j.response)
    lines.push(
      field('response', `HTTP ${j.response.status}${j.response.truncated ? ' (first 1 KB)' : ''}: ${j.response.body}`),
    );
  const history = j.history ?? [];
  if (history.length) {
    lines.push(`history:     last ${history.length} of ${j.attempts} attempt(s), oldest first`);
    for (const a of history)
      lines.push(
        `  #${a.attempt}  ${a.startedAt}  ${a.durationMs} ms  ${a.outcome} -> ${a.state}${a.status ? `  HTTP ${a.status}` : ''}${a.errorClass ? `  ${a.errorClass}: ${a.message ?? ''}` : ''}${a.requestId ? `  (${a.requestId})` : ''}`,
      );
  }
  return lines.join('\n');
}

/** One row of `spool jobs ls`: id, attempts, priority, updated (ago), target, last error. */
export function jobRow(j: ApiJob, ago: (iso: unknown) => string): string[] {
  return [
    j.id,
    `${j.attempts}/${j.maxAttempts}`,
    String(j.priority),
    ago(j.updatedAt),
    target(j) ?? '-',
    j.lastError ? `${j.lastError.class}: ${String(j.lastError.message).slice(0, 60)}` : '-',
  ];
}
