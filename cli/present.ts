/**
 * Text for a job as the API shows it (functions/lib/present.ts: ISO times, target header values
 * already redacted). The CLI never sees a job in any other shape.
 */
import type { ApiJob } from '../functions/lib/present.js';
import type { Body, scheduleResponse } from '../functions/lib/schemas.js';

/** A schedule as the API answers it (ISO times, `nextRunAt`/`lastRunAt` null when none). */
export type ApiSchedule = Body<typeof scheduleResponse>;

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

/** `every 2s`, `every 1h30m`, or the cron expression. */
export function cadence(sc: ApiSchedule, age: (ms: number) => string): string {
  if (sc.cron !== undefined) return sc.cron;
  return sc.everyMs !== undefined ? `every ${age(sc.everyMs)}` : '-';
}

/** Why a schedule has no next run: paused, ended (past its endAt), or not known. */
export function noNextRun(sc: ApiSchedule): string {
  if (sc.paused) return 'paused';
  if (sc.endAt !== undefined) return 'ended';
  return '-';
}

/** What a schedule's job runs: `POST https://...`, `handler echo`. */
function scheduleTarget(sc: ApiSchedule): string {
  if (sc.job.target) return `${sc.job.target.method ?? 'POST'} ${sc.job.target.url}`;
  if (sc.job.handler) return `handler ${sc.job.handler}`;
  return '-';
}

/** `spool schedule get`: the definition and its record (times ISO, as the API answers them). */
export function describeSchedule(sc: ApiSchedule, age: (ms: number) => string): string {
  const lines = [
    field('id', sc.id),
    field('queue', sc.queue),
    field(
      sc.cron !== undefined ? 'cron' : 'every',
      sc.cron ?? (sc.everyMs !== undefined ? `${sc.everyMs} ms (${age(sc.everyMs)})` : '-'),
    ),
    field('timezone', sc.timezone),
    field('paused', sc.paused ? 'yes' : 'no'),
  ];
  if (sc.startAt !== undefined) lines.push(field('start at', sc.startAt));
  if (sc.endAt !== undefined) lines.push(field('end at', sc.endAt));
  lines.push(
    field('next run', sc.nextRunAt ?? `- (${noNextRun(sc)})`),
    field('last run', sc.lastRunAt ?? '- (never fired)'),
  );
  if (sc.lastJobId !== undefined) lines.push(field('last job', sc.lastJobId));
  lines.push(field('fires', sc.fires), field('missed', sc.missed));
  if (sc.lastError) lines.push(field('last error', `${sc.lastError.message} (at ${sc.lastError.at})`));
  lines.push(field('target', scheduleTarget(sc)));
  const headers = Object.entries(sc.job.target?.headers ?? {});
  if (headers.length) lines.push(field('headers', headers.map(([k, v]) => `${k}: ${v}`).join(', ')));
  lines.push(field('job', JSON.stringify(sc.job)));
  lines.push(field('created', sc.createdAt), field('updated', sc.updatedAt));
  return lines.join('\n');
}

/**
 * One row of `spool schedules`: id, queue, cron or interval, timezone, next run, last run, fires,
 * missed, paused. `when` words an ISO time relative to now ("in 5s", "3m02s ago").
 */
export function scheduleRow(sc: ApiSchedule, age: (ms: number) => string, when: (iso: string) => string): string[] {
  return [
    sc.id,
    sc.queue,
    cadence(sc, age),
    sc.timezone,
    sc.nextRunAt ? when(sc.nextRunAt) : noNextRun(sc),
    sc.lastRunAt ? when(sc.lastRunAt) : '-',
    String(sc.fires),
    String(sc.missed),
    sc.paused ? 'yes' : 'no',
  ];
}
